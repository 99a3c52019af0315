//! The event channel between nodes (Redis pub/sub on `<prefix>events`): `u:<id>:<nonce>` drops
//! a user's first-level cache entry and is acknowledged with `a:<nonce>`, `s:<id>,<id>…` adds
//! revoked sessions. Each node keeps one
//! subscription; while it is down the node stops trusting its first-level cache (the database
//! feed still delivers revocations within a quarter second).
//!
//! A Redis Cluster deployment gets no subscription (sharded pub/sub needs RESP3 push
//! connections): its nodes read profiles from Redis and the database only, never from a
//! first level that could miss an invalidation.

use super::events_channel;
use super::redis::Target;
use crate::domain::Core;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait before subscribing again after losing the subscription.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Applies one event to this node.
pub async fn apply(core: &Core, payload: &str) {
    if let Some(rest) = payload.strip_prefix("u:") {
        let (id, nonce) = rest.split_once(':').unwrap_or((rest, ""));
        if let Ok(user_id) = id.parse::<i64>() {
            core.cache.invalidate_local(user_id);
        }
        if let (Some(redis), false) = (&core.redis, nonce.is_empty()) {
            // Only now may the writer answer: this node will not serve the old copy again.
            let _ = redis.publish(&events_channel(redis), &format!("a:{nonce}")).await;
        }
    } else if let Some(nonce) = payload.strip_prefix("a:") {
        core.cache.acknowledged(nonce);
    } else if let Some(ids) = payload.strip_prefix("s:") {
        let ids: Vec<i64> = ids.split(',').filter_map(|id| id.parse().ok()).collect();
        core.revocations.revoke(&ids, core.clock.unix_millis());
    }
}

/// Keeps this node subscribed for as long as it runs.
pub async fn subscribe(core: Arc<Core>) {
    let Some(redis) = core.redis.clone() else { return };
    let Target::Single(url) = redis.target().clone() else {
        return;
    };
    let channel = events_channel(&redis);
    loop {
        let subscribed = async {
            let client = redis::Client::open(url.as_str())?;
            let mut pubsub = tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
                .await
                .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(mut pubsub) => {
                // Anything cached before this point may have missed an invalidation.
                core.cache.set_subscribed(true);
                tracing::info!("subscribed to cache and revocation events");
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(payload) = message.get_payload::<String>() {
                        apply(&core, &payload).await;
                    }
                }
                core.cache.set_subscribed(false);
                tracing::warn!("lost the event subscription; not trusting the first-level cache until it is back");
            }
            Err(error) => tracing::debug!(error = %error, "cannot subscribe to events yet"),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}
