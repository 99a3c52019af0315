//! The Mini Program's app `access_token`, fetched once and shared.
//!
//! WeChat invalidates the previous token at every fetch, so nodes must not each fetch their
//! own. The token lives in Redis when configured (one node fetches, under a short lock, and
//! every node reads it) and in process otherwise; it is kept until five minutes before
//! `expires_in`, and dropped early when WeChat calls it invalid or expired (40001/42001).

use super::client::{WechatClient, WechatError};
use crate::cache::redis::Redis;
use crate::clock::Clock;
use crate::secret::SecretString;
use std::sync::Arc;
use std::time::Duration;

/// Renew this long before WeChat's expiry.
const RENEW_MARGIN: Duration = Duration::from_secs(300);
/// How long one node may hold the fetch lock.
const LOCK_FOR: Duration = Duration::from_secs(5);

/// The shared access token of one app.
#[derive(Debug)]
pub struct AccessTokens {
    appid: String,
    secret: SecretString,
    redis: Option<Arc<Redis>>,
    clock: Arc<dyn Clock>,
    /// This node's copy: (token, usable until Unix ms).
    local: tokio::sync::Mutex<Option<(String, i64)>>,
}

impl AccessTokens {
    /// Tokens of `appid`, shared through `redis` when given.
    pub fn new(appid: &str, secret: SecretString, redis: Option<Arc<Redis>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            appid: appid.to_owned(),
            secret,
            redis,
            clock,
            local: tokio::sync::Mutex::new(None),
        }
    }

    fn redis_key(&self, redis: &Redis) -> String {
        redis.key(&format!("wechat:access_token:{}", self.appid))
    }

    /// A usable token: this node's copy, the shared one, or a fresh fetch.
    pub async fn get(&self, client: &WechatClient) -> Result<String, WechatError> {
        // One caller per node at a time: the others wait and reuse what it found.
        let mut local = self.local.lock().await;
        let now_ms = self.clock.unix_millis();
        if let Some((token, until)) = local.as_ref()
            && *until > now_ms
        {
            return Ok(token.clone());
        }
        if let Some(redis) = &self.redis
            && let Ok(Some((token, ttl_ms))) = self.shared(redis).await
        {
            *local = Some((token.clone(), now_ms + ttl_ms));
            return Ok(token);
        }
        let (token, keep_for) = self.fetch(client).await?;
        *local = Some((
            token.clone(),
            now_ms + i64::try_from(keep_for.as_millis()).unwrap_or(i64::MAX / 2),
        ));
        Ok(token)
    }

    async fn shared(&self, redis: &Redis) -> Result<Option<(String, i64)>, crate::cache::redis::RedisDown> {
        let key = self.redis_key(redis);
        let Some(token) = redis.get(&key).await? else {
            return Ok(None);
        };
        let ttl = redis.pttl(&key).await?.unwrap_or(0);
        Ok(String::from_utf8(token)
            .ok()
            .map(|t| (t, i64::try_from(ttl).unwrap_or(0))))
    }

    /// Fetches from WeChat; with Redis, only the node holding the lock fetches, the others
    /// wait briefly for its result.
    async fn fetch(&self, client: &WechatClient) -> Result<(String, Duration), WechatError> {
        if let Some(redis) = &self.redis {
            let lock = format!("{}:lock", self.redis_key(redis));
            let holder = ulid::Ulid::new().to_string();
            match redis.set_nx_px(&lock, &holder, LOCK_FOR).await {
                Ok(true) => {
                    let fetched = self.fetch_from_wechat(client).await;
                    if let Ok((token, keep_for)) = &fetched {
                        let _ = redis.set_px(&self.redis_key(redis), token.as_bytes(), *keep_for).await;
                    }
                    let _ = redis.del_if_equals(&lock, &holder).await;
                    return fetched;
                }
                Ok(false) => {
                    for _ in 0..40 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if let Ok(Some((token, ttl_ms))) = self.shared(redis).await {
                            return Ok((token, Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0))));
                        }
                    }
                }
                // Redis is down: fetch alone rather than fail the request.
                Err(_) => {}
            }
        }
        self.fetch_from_wechat(client).await
    }

    async fn fetch_from_wechat(&self, client: &WechatClient) -> Result<(String, Duration), WechatError> {
        let fetched = client.app_token(&self.appid, self.secret.expose()).await?;
        let lifetime = Duration::from_secs(fetched.expires_in);
        let keep_for = lifetime
            .saturating_sub(RENEW_MARGIN)
            .max(Duration::from_secs(30).min(lifetime));
        Ok((fetched.access_token, keep_for))
    }

    /// Forgets `token` after WeChat called it invalid or expired, here and (if it is still the
    /// shared one) in Redis, so the next call fetches a new one.
    pub async fn forget(&self, token: &str) {
        let mut local = self.local.lock().await;
        if local.as_ref().is_some_and(|(t, _)| t == token) {
            *local = None;
        }
        if let Some(redis) = &self.redis {
            let _ = redis.del_if_equals(&self.redis_key(redis), token).await;
        }
    }
}
