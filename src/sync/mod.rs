//! How a node stays current with the others: what it tells them (revoked sessions, changed
//! profiles) and how it learns what they did, through Redis events when configured and the
//! database feed always.
//!
//! - [`events`]: the wire protocol of the Redis event channel (the only place that knows it).
//! - [`Peers`]: the sending side: announcing revocations, invalidating a profile on every
//!   node and waiting for their acknowledgements.
//! - [`subscriber`]: the receiving side: one subscription per node, applying events.
//! - [`feed`]: the database feed, which delivers revocations and profile changes with or
//!   without Redis.
//! - [`watch`]: notices a silent Redis outage and replays deletes that failed meanwhile.
//! - [`revocations`]: the in-memory set of revoked sessions that every request checks.
//!
//! Depends on `cache`, `store` and `clock`; never on `domain`, `http` or `app` (the domain
//! holds a [`Peers`] and a [`Revocations`] and calls in; `app` starts the loops).

pub mod events;
pub mod feed;
pub mod revocations;
pub mod subscriber;
pub mod watch;

pub use revocations::Revocations;

use crate::cache::ProfileCache;
use crate::cache::redis::Redis;
use crate::clock::Clock;
use crate::store::SqlStore;
use events::Event;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest a write waits for the other nodes to acknowledge an invalidation.
const ACK_TIMEOUT: Duration = Duration::from_millis(250);

/// What the background loops act on: this node's shared state, borrowed from whoever owns it.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    /// The database (the feed's source).
    pub store: &'a SqlStore,
    /// The profile cache whose first level events keep coherent.
    pub cache: &'a ProfileCache,
    /// The revoked sessions every request checks.
    pub revocations: &'a Revocations,
    /// The sending side (acknowledgements arrive here).
    pub peers: &'a Peers,
    /// The time source.
    pub clock: &'a dyn Clock,
}

/// The sending side of the event channel.
pub struct Peers {
    redis: Option<Arc<Redis>>,
    /// Invalidations waiting for other nodes' acknowledgements, by nonce.
    waiting: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<()>>>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").field("redis", &self.redis.is_some()).finish()
    }
}

impl Peers {
    /// Peers reached through `redis`; without it there is no channel and the database feed
    /// alone carries changes.
    pub fn new(redis: Option<Arc<Redis>>) -> Self {
        Self {
            redis,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// The Redis connection the channel uses, if any.
    pub fn redis(&self) -> Option<&Arc<Redis>> {
        self.redis.as_ref()
    }

    /// Records revocations made here: in this node's set at once, and announced to the other
    /// nodes through Redis when configured (the database feed reaches them regardless).
    pub async fn announce_revoked(&self, revocations: &Revocations, session_ids: &[i64], now_ms: i64) {
        if session_ids.is_empty() {
            return;
        }
        revocations.revoke(session_ids, now_ms);
        if let Some(redis) = &self.redis {
            let _ = events::publish(redis, &Event::Revoked(session_ids.to_vec())).await;
        }
    }

    /// Drops a user's profile everywhere: this node, Redis, and (through the event channel)
    /// every other node's first level, waiting for their acknowledgements. Call after the
    /// database write, before answering.
    pub async fn invalidate_profile(&self, cache: &ProfileCache, user_id: i64) {
        cache.invalidate_shared(user_id).await;
        let Some(redis) = &self.redis else { return };
        let nonce = ulid::Ulid::new().to_string();
        let (tx, mut acks) = tokio::sync::mpsc::unbounded_channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nonce.clone(), tx);
        let event = Event::Invalidated {
            user_id,
            nonce: nonce.clone(),
        };
        if let Ok(receivers) = events::publish(redis, &event).await {
            let all_acknowledged = async {
                for _ in 0..receivers {
                    if acks.recv().await.is_none() {
                        break;
                    }
                }
            };
            if tokio::time::timeout(ACK_TIMEOUT, all_acknowledged).await.is_err() {
                tracing::warn!(user_id, "not every node acknowledged a cache invalidation in time");
            }
            // A node that read the old row just before the write may have put it back in Redis
            // after the first delete; every node has now seen the invalidation, so delete again.
            cache.delete_shared(user_id).await;
        }
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&nonce);
    }

    /// Counts a node's acknowledgement of invalidation `nonce`.
    fn acknowledged(&self, nonce: &str) {
        if let Some(waiter) = self.waiting.lock().unwrap_or_else(|e| e.into_inner()).get(nonce) {
            let _ = waiter.send(());
        }
    }
}
