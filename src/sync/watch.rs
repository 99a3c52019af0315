//! Watches Redis: a ping every second, so a silent outage is noticed (and the first-level
//! cache stops being trusted) even when no request touches Redis, and the Redis deletes that
//! failed during an outage are replayed once it is back.

use super::Node;
use std::time::Duration;

/// How often Redis is pinged.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Runs for as long as the node does (returns at once without Redis).
pub async fn run(node: Node<'_>) {
    let Some(redis) = node.peers.redis().cloned() else {
        return;
    };
    let mut tick = tokio::time::interval(PING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_up = redis.is_healthy();
    loop {
        tick.tick().await;
        let up = redis.ping().await;
        if up {
            node.cache.flush_pending().await;
        }
        if up != was_up {
            if up {
                tracing::info!("Redis is back");
            } else {
                tracing::warn!("Redis does not answer; falling back to the database and per-node limits");
            }
            was_up = up;
        }
    }
}
