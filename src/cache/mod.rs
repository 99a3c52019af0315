//! Shared fast state: the profile cache (an in-process first level in front of Redis, or in
//! process alone), the Redis adapter (`redis`) and the in-process counters for limits
//! (`memory`). Nothing here knows about other nodes: keeping every node's first level
//! coherent is `crate::sync`'s (it calls [`ProfileCache::invalidate_local`] when another node
//! changed a profile, and [`ProfileCache::set_subscribed`] as its subscription comes and goes).
//!
//! Coherence: a write deletes the user's entry from this node's first level and from Redis,
//! then `sync` publishes the invalidation and waits (at most 250 ms) until every subscribed
//! node has dropped its first-level copy and acknowledged, before it answers: a read after
//! the write sees the change on any node. A node only serves from its first level while its
//! subscription is live (or when there is no Redis at all); it empties the level whenever the
//! subscription is (re)established, since messages may have been missed. Without Redis, nodes
//! learn of other nodes' writes from the database feed within a quarter second.
//!
//! Depends on no other part of hufu (nothing in `domain`, `sync`, `store`, `http` or `app`).

pub mod memory;
pub mod redis;

use self::redis::Redis;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A lockout in force, as the counters report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    /// Milliseconds until it ends.
    pub remaining_ms: u64,
    /// Whether the attempt that asked set it (the audit log records the moment of locking).
    pub set_by_this_attempt: bool,
}

/// Most users kept in the first level.
const L1_CAPACITY: u64 = 50_000;
/// The first level's lifetime when Redis backs it: a backstop should an invalidation be lost
/// in a way the subscription did not notice.
const L1_TTL_WITH_REDIS: Duration = Duration::from_secs(10);

/// Hits and misses by level.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Served from this node's memory.
    pub l1_hits: AtomicU64,
    /// Served from Redis.
    pub l2_hits: AtomicU64,
    /// Read from the database.
    pub misses: AtomicU64,
    /// Looked for in this node's memory and not found.
    pub l1_misses: AtomicU64,
    /// Looked for in Redis and not found (or Redis failed).
    pub l2_misses: AtomicU64,
}

/// The profile cache: serialised user JSON by user id.
pub struct ProfileCache {
    l1: moka::sync::Cache<i64, Bytes>,
    redis: Option<Arc<Redis>>,
    ttl: Duration,
    /// Whether this node's event subscription is live (always true without Redis).
    subscribed: AtomicBool,
    /// Bumped by every invalidation this node learns of, so a fill that raced with one is
    /// dropped instead of caching old data.
    generation: AtomicU64,
    /// Users whose Redis entry could not be deleted (Redis down); deleted first when it is back.
    pending: Mutex<HashSet<i64>>,
    /// Hits and misses by level.
    pub stats: CacheStats,
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache")
            .field("ttl", &self.ttl)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl ProfileCache {
    /// A cache with lifetime `ttl`, backed by `redis` when given.
    pub fn new(redis: Option<Arc<Redis>>, ttl: Duration) -> Self {
        let l1_ttl = if redis.is_some() {
            ttl.min(L1_TTL_WITH_REDIS)
        } else {
            ttl
        };
        Self {
            l1: moka::sync::Cache::builder()
                .max_capacity(L1_CAPACITY)
                .time_to_live(l1_ttl)
                .build(),
            subscribed: AtomicBool::new(redis.is_none()),
            redis,
            ttl,
            generation: AtomicU64::new(0),
            pending: Mutex::new(HashSet::new()),
            stats: CacheStats::default(),
        }
    }

    fn l2_key(redis: &Redis, user_id: i64) -> String {
        redis.key(&format!("userId:{user_id}"))
    }

    /// (memory hits, memory misses, Redis hits, Redis misses) so far, for `/metrics`.
    pub fn level_counts(&self) -> [u64; 4] {
        let s = &self.stats;
        [&s.l1_hits, &s.l1_misses, &s.l2_hits, &s.l2_misses].map(|c| c.load(Ordering::Relaxed))
    }

    /// Whether Redis backs this cache.
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    fn l1_usable(&self) -> bool {
        self.subscribed.load(Ordering::Acquire) && self.redis.as_ref().is_none_or(|r| r.is_healthy())
    }

    /// Marks the event subscription live or lost; either way the first level is emptied.
    pub fn set_subscribed(&self, live: bool) {
        self.l1.invalidate_all();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.subscribed.store(live, Ordering::Release);
    }

    /// Whether this node's event subscription is live (always true without Redis).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// The current generation, taken before reading the database for a fill.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached JSON of a user, from the first level or Redis.
    pub async fn get(&self, user_id: i64) -> Option<Bytes> {
        let l1_usable = self.l1_usable();
        if l1_usable && let Some(json) = self.l1.get(&user_id) {
            self.stats.l1_hits.fetch_add(1, Ordering::Relaxed);
            return Some(json);
        }
        if l1_usable {
            self.stats.l1_misses.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(redis) = &self.redis
            && self.pending_is_empty()
        {
            let generation = self.generation();
            if let Ok(Some(json)) = redis.get(&Self::l2_key(redis, user_id)).await {
                let json = Bytes::from(json);
                if l1_usable && self.generation() == generation {
                    self.l1.insert(user_id, json.clone());
                }
                self.stats.l2_hits.fetch_add(1, Ordering::Relaxed);
                return Some(json);
            }
            self.stats.l2_misses.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Stores a user's JSON read from the database at `generation`, unless an invalidation
    /// came in since (which would make it stale).
    pub async fn fill(&self, user_id: i64, json: Bytes, generation: u64) {
        if self.generation() != generation {
            return;
        }
        if let Some(redis) = &self.redis {
            if !self.pending_is_empty() {
                return;
            }
            let _ = redis.set_px(&Self::l2_key(redis, user_id), &json, self.ttl).await;
        }
        if self.l1_usable() && self.generation() == generation {
            self.l1.insert(user_id, json);
        }
    }

    /// Whether this node hears other nodes' events right now (a live subscription to a
    /// healthy Redis).
    pub fn events_live(&self) -> bool {
        self.redis.as_ref().is_some_and(|r| r.is_healthy()) && self.subscribed.load(Ordering::Acquire)
    }

    /// Drops a user's entry from this node's first level and from Redis, without announcing
    /// it (the database feed saw the change; every node acts on it by itself).
    pub async fn invalidate_shared(&self, user_id: i64) {
        self.invalidate_local(user_id);
        if let Some(redis) = &self.redis
            && redis.del(&Self::l2_key(redis, user_id)).await.is_err()
        {
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(user_id);
        }
    }

    /// Drops a user's entry from this node's first level only (an event from another node).
    pub fn invalidate_local(&self, user_id: i64) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.l1.invalidate(&user_id);
    }

    /// Deletes a user's Redis entry, best effort (a second delete after an invalidation was
    /// acknowledged everywhere; see `sync::Peers::invalidate_profile`).
    pub async fn delete_shared(&self, user_id: i64) {
        if let Some(redis) = &self.redis {
            let _ = redis.del(&Self::l2_key(redis, user_id)).await;
        }
    }

    fn pending_is_empty(&self) -> bool {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Deletes the Redis entries that could not be deleted while Redis was down; until this
    /// succeeds Redis entries are neither read nor written by this node.
    pub async fn flush_pending(&self) {
        let Some(redis) = &self.redis else { return };
        let pending: Vec<i64> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for user_id in pending {
            if redis.del(&Self::l2_key(redis, user_id)).await.is_ok() {
                self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&user_id);
            }
        }
    }
}
