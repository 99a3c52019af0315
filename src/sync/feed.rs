//! The database feed: every node polls the database for sessions revoked and profiles changed
//! elsewhere. It is the truth that holds with or without Redis (Redis events only make it
//! faster), and it is what a node loads at start so a restart forgets no revocation.

use super::Node;
use crate::store::StoreError;
use std::collections::HashMap;
use std::time::Duration;

/// How often a node asks the database for revocations made elsewhere.
const POLL: Duration = Duration::from_millis(250);
/// How far back each poll looks: overlapping windows make a late commit or a few seconds of
/// clock difference between nodes harmless (entries are idempotent).
const WINDOW_MS: i64 = 15_000;
/// How often remembered revocations whose tokens have all expired are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(20);

/// Loads every revocation that can still matter from the database (start-up, or after the
/// database was unreachable at start-up).
pub async fn load_revocations(node: Node<'_>) -> Result<(), StoreError> {
    let now_ms = node.clock.unix_millis();
    let ids = node
        .store
        .revoked_since(now_ms - node.revocations.lookback_ms())
        .await?;
    node.revocations.revoke(&ids, now_ms);
    node.revocations.mark_synced();
    node.revocations.feed_succeeded();
    Ok(())
}

/// Polls the database for revocations and profile changes made on other nodes, for as long as
/// the node runs.
pub async fn run(node: Node<'_>) {
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune = tokio::time::Instant::now();
    let mut database_ok = true;
    // Profile changes already acted on: (user id → updated_at), so a change is applied once.
    let mut seen_changes: HashMap<i64, i64> = HashMap::new();
    // Start of the last poll that succeeded: after an outage the next poll reaches back to it,
    // so nothing revoked or changed meanwhile is skipped.
    let mut last_ok_ms = node.clock.unix_millis();
    loop {
        poll.tick().await;
        let now_ms = node.clock.unix_millis();
        let since = last_ok_ms.min(now_ms) - WINDOW_MS;
        let polled = async {
            if node.revocations.is_synced() {
                let ids = node.store.revoked_since(since).await?;
                node.revocations.revoke(&ids, now_ms);
            } else {
                load_revocations(node).await?;
            }
            for (user_id, updated_at) in node.store.updated_since(since).await? {
                if seen_changes.insert(user_id, updated_at) != Some(updated_at) {
                    // Also in Redis: the writer may not have reached Redis to delete it.
                    node.cache.invalidate_shared(user_id).await;
                }
            }
            seen_changes.retain(|_, updated_at| *updated_at > since);
            Ok::<_, StoreError>(())
        };
        let outcome = polled.await;
        if outcome.is_ok() {
            last_ok_ms = now_ms;
            node.revocations.feed_succeeded();
        }
        match outcome {
            Ok(()) if !database_ok => {
                tracing::info!("database feed is back");
                database_ok = true;
            }
            Ok(()) => {}
            Err(error) if database_ok => {
                tracing::warn!(error = %error, "cannot read the database feed; will keep trying");
                database_ok = false;
            }
            Err(_) => {}
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            node.revocations.prune(now_ms);
        }
    }
}
