//! The Redis adapter: one connection (single server or Cluster) shared by the cache, the
//! limits and the event channel, with a short timeout on every call and a breaker, so a dead
//! Redis costs a request at most one timeout and then nothing until it is retried.
//!
//! Keys all start with the configured prefix. Multi-key scripts use a `{…}` hash tag so their
//! keys land in one Cluster slot.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult, Script};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Longest a single Redis call may take before it counts as a failure.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure before it is tried again.
const BREAK_FOR: Duration = Duration::from_secs(1);

/// Redis did not answer (or answered an error); the caller falls back.
#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisDown(pub String);

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where to connect.
#[derive(Debug, Clone)]
pub enum Target {
    /// One server (`redis://…` or `rediss://…`).
    Single(String),
    /// A Cluster, by its seed nodes.
    Cluster(Vec<String>),
}

impl Target {
    /// Reads `HUFU_REDIS_URL`: `redis://…`, `redis+cluster://[auth@]h1:p1,h2:p2`, or a
    /// comma-separated list of `redis://` URLs (a Cluster).
    pub fn parse(url: &str) -> Target {
        for (scheme, plain) in [("redis+cluster://", "redis://"), ("rediss+cluster://", "rediss://")] {
            if let Some(rest) = url.strip_prefix(scheme) {
                let (auth, hosts) = match rest.rsplit_once('@') {
                    Some((auth, hosts)) => (format!("{auth}@"), hosts),
                    None => (String::new(), rest),
                };
                let nodes = hosts.split(',').map(|h| format!("{plain}{auth}{}", h.trim())).collect();
                return Target::Cluster(nodes);
            }
        }
        if url.contains(',') {
            Target::Cluster(url.split(',').map(|u| u.trim().to_owned()).collect())
        } else {
            Target::Single(url.to_owned())
        }
    }
}

/// Counters of Redis use, for metrics and tests.
#[derive(Debug, Default)]
pub struct RedisStats {
    /// Calls that failed or timed out.
    pub failures: AtomicU64,
    /// Calls skipped because the breaker was open.
    pub skipped: AtomicU64,
}

/// The shared Redis connection.
pub struct Redis {
    target: Target,
    prefix: String,
    conn: RwLock<Option<Conn>>,
    /// Set while the breaker is open.
    broken_until: std::sync::Mutex<Option<Instant>>,
    /// Whether the last call succeeded (for `/readyz` and the L1 policy).
    healthy: AtomicBool,
    /// Use counters.
    pub stats: RedisStats,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

static RATE_WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('INCR', KEYS[1])
          if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
          local ttl = redis.call('PTTL', KEYS[1])
          if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
          return {n, ttl}",
    )
});

/// KEYS: failures, lock. ARGV: window ms, threshold, lock ms. Returns the lock's remaining
/// ms when locked already, minus the lock's length when this attempt set it, else 0 after
/// counting the attempt.
static LOCKOUT_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local locked = redis.call('PTTL', KEYS[2])
          if locked > 0 then return locked end
          local n = redis.call('INCR', KEYS[1])
          if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
          if n > tonumber(ARGV[2]) then
            redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
            redis.call('DEL', KEYS[1])
            return -tonumber(ARGV[3])
          end
          return 0",
    )
});

static DECR_IF_POSITIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
          return 0",
    )
});

static DEL_IF_EQUALS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
          return 0",
    )
});

impl Redis {
    /// Prepares a connection to `url` without connecting: hufu starts even when Redis is down,
    /// and connects (and reconnects) in the background.
    pub fn new(url: &str, prefix: &str) -> Arc<Self> {
        Arc::new(Self {
            target: Target::parse(url),
            prefix: prefix.to_owned(),
            conn: RwLock::new(None),
            broken_until: std::sync::Mutex::new(None),
            healthy: AtomicBool::new(false),
            stats: RedisStats::default(),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `prefix` + `suffix`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Whether Redis answered the last call.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// The target (for the subscriber, which needs its own connection).
    pub fn target(&self) -> &Target {
        &self.target
    }

    async fn connect(&self) -> RedisResult<Conn> {
        match &self.target {
            Target::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(1);
                Ok(Conn::Single(ConnectionManager::new_lazy_with_config(client, config)?))
            }
            Target::Cluster(nodes) => {
                let client = ClusterClient::builder(nodes.clone())
                    .connection_timeout(CALL_TIMEOUT)
                    .response_timeout(CALL_TIMEOUT)
                    .retries(1)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    async fn connection(&self) -> Result<Conn, RedisDown> {
        if let Some(conn) = self.conn.read().await.as_ref() {
            return Ok(conn.clone());
        }
        let mut slot = self.conn.write().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = tokio::time::timeout(CALL_TIMEOUT * 4, self.connect())
            .await
            .map_err(|_| RedisDown("connect timed out".into()))?
            .map_err(|e| RedisDown(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn breaker_open(&self) -> bool {
        let mut until = self.broken_until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            Some(at) if Instant::now() < at => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn record(&self, ok: bool) {
        self.healthy.store(ok, Ordering::Release);
        if !ok {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            *self.broken_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + BREAK_FOR);
        }
    }

    /// Runs `f` on the connection with the timeout and the breaker.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, RedisDown>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        if self.breaker_open() {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(RedisDown("breaker open".into()));
        }
        let result = match self.connection().await {
            Ok(conn) => match tokio::time::timeout(CALL_TIMEOUT, f(conn)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(RedisDown(e.to_string())),
                Err(_) => Err(RedisDown("timed out".into())),
            },
            Err(e) => Err(e),
        };
        self.record(result.is_ok());
        result
    }

    async fn query<T: FromRedisValue + Send + 'static>(&self, cmd: Cmd) -> Result<T, RedisDown> {
        self.call(|conn| async move {
            match conn {
                Conn::Single(mut c) => cmd.query_async(&mut c).await,
                Conn::Cluster(mut c) => cmd.query_async(&mut c).await,
            }
        })
        .await
    }

    /// Runs a Lua script with `keys` and `args` (EVALSHA, falling back to EVAL).
    async fn script<T, A>(&self, script: &'static Script, keys: &[String], args: &[A]) -> Result<T, RedisDown>
    where
        T: FromRedisValue + Send + 'static,
        A: redis::ToRedisArgs + Clone + Send + Sync + 'static,
    {
        async fn run<C: ConnectionLike + Send, T: FromRedisValue, A: redis::ToRedisArgs>(
            script: &Script,
            keys: &[String],
            args: &[A],
            conn: &mut C,
        ) -> RedisResult<T> {
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(key);
            }
            for arg in args {
                invocation.arg(arg);
            }
            invocation.invoke_async(conn).await
        }
        let (keys, args) = (keys.to_vec(), args.to_vec());
        self.call(|conn| async move {
            match conn {
                Conn::Single(mut c) => run(script, &keys, &args, &mut c).await,
                Conn::Cluster(mut c) => run(script, &keys, &args, &mut c).await,
            }
        })
        .await
    }

    /// `PING`, bypassing the breaker (for `/readyz` and recovery checks).
    pub async fn ping(&self) -> bool {
        let ok = match self.connection().await {
            Ok(conn) => {
                let ping = async move {
                    match conn {
                        Conn::Single(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await,
                        Conn::Cluster(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await,
                    }
                };
                matches!(tokio::time::timeout(CALL_TIMEOUT, ping).await, Ok(Ok(_)))
            }
            Err(_) => false,
        };
        self.record(ok);
        if ok {
            *self.broken_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        ok
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RedisDown> {
        self.query(redis::cmd("GET").arg(key).to_owned()).await
    }

    /// `SET key value PX ttl`.
    pub async fn set_px(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), RedisDown> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query::<()>(redis::cmd("SET").arg(key).arg(value).arg("PX").arg(millis).to_owned())
            .await
    }

    /// `DEL key`.
    pub async fn del(&self, key: &str) -> Result<(), RedisDown> {
        self.query::<()>(redis::cmd("DEL").arg(key).to_owned()).await
    }

    /// `PTTL key` in milliseconds, `None` when the key does not exist.
    pub async fn pttl(&self, key: &str) -> Result<Option<u64>, RedisDown> {
        let ttl: i64 = self.query(redis::cmd("PTTL").arg(key).to_owned()).await?;
        Ok(u64::try_from(ttl).ok().filter(|t| *t > 0))
    }

    /// Counts one hit in the fixed window at `key`; returns the count and the window's
    /// remaining milliseconds. Atomic across every node.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<(u64, u64), RedisDown> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (count, ttl): (u64, i64) = self.script(&RATE_WINDOW, &[key.to_owned()], &[window_ms]).await?;
        Ok((count, u64::try_from(ttl).unwrap_or(window_ms)))
    }

    /// Starts a sign-in attempt for a lockout pair of keys (same hash tag): the lock when the
    /// identifier is locked (by this attempt or already), else `None` after counting it.
    pub async fn lockout_attempt(
        &self,
        fails_key: &str,
        lock_key: &str,
        threshold: u32,
        window: Duration,
        lock_for: Duration,
    ) -> Result<Option<super::Lock>, RedisDown> {
        let to_ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let locked: i64 = self
            .script(
                &LOCKOUT_ATTEMPT,
                &[fails_key.to_owned(), lock_key.to_owned()],
                &[to_ms(window), u64::from(threshold), to_ms(lock_for)],
            )
            .await?;
        Ok((locked != 0).then(|| super::Lock {
            remaining_ms: locked.unsigned_abs(),
            set_by_this_attempt: locked < 0,
        }))
    }

    /// `SET key value NX PX ttl`; true when this call set it (a lock taken).
    pub async fn set_nx_px(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, RedisDown> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .to_owned(),
            )
            .await?;
        Ok(set.is_some())
    }

    /// Deletes `key` only while it still holds `value` (a token that was found bad, a lock
    /// still ours), atomically.
    pub async fn del_if_equals(&self, key: &str, value: &str) -> Result<(), RedisDown> {
        let _: i64 = self
            .script(&DEL_IF_EQUALS, &[key.to_owned()], &[value.to_owned()])
            .await?;
        Ok(())
    }

    /// Decrements a counter that is above zero (never creates or lowers it below zero).
    pub async fn decr_if_positive(&self, key: &str) -> Result<(), RedisDown> {
        let _: i64 = self.script(&DECR_IF_POSITIVE, &[key.to_owned()], &[0u8; 0]).await?;
        Ok(())
    }

    /// `PUBLISH channel message`; returns how many subscribers received it.
    pub async fn publish(&self, channel: &str, message: &str) -> Result<usize, RedisDown> {
        self.query::<usize>(redis::cmd("PUBLISH").arg(channel).arg(message).to_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_name_a_server_or_a_cluster() {
        assert!(
            matches!(Target::parse("redis://127.0.0.1:6379/0"), Target::Single(u) if u == "redis://127.0.0.1:6379/0")
        );
        let Target::Cluster(nodes) = Target::parse("redis+cluster://:pw@a:7000,b:7001") else {
            panic!()
        };
        assert_eq!(nodes, vec!["redis://:pw@a:7000", "redis://:pw@b:7001"]);
        let Target::Cluster(nodes) = Target::parse("redis://a:7000, redis://b:7001") else {
            panic!()
        };
        assert_eq!(nodes.len(), 2);
    }
}
