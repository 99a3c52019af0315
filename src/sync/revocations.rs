//! Revoked sessions, known in memory so that checking an access token needs no database
//! round trip.
//!
//! The database is the source of truth (`sessions.revoked_at`). A node adds what it revokes
//! itself at once, and learns what other nodes revoked by polling the recent revocations
//! every quarter second (see `super::feed`), so a logout anywhere is honoured everywhere
//! within a second, and a restart reloads everything still relevant. An entry is forgotten
//! once no access token of that session can still be valid: tokens are issued only while the
//! session is live, so all of them expire within one access-token lifetime of the revocation.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use std::time::Instant;

/// Extra time an entry is kept beyond the access-token lifetime, covering clock skew between
/// nodes and the polling delay.
const RETENTION_MARGIN_MS: i64 = 60_000;

/// The set of revoked session ids.
#[derive(Debug)]
pub struct Revocations {
    /// Session id → when the entry may be forgotten (Unix ms).
    entries: RwLock<HashMap<i64, i64>>,
    retention_ms: i64,
    /// Whether every revocation that still matters has been loaded from the database. Until
    /// then the node cannot tell a revoked token from a good one, and refuses to guess.
    synced: AtomicBool,
    /// Monotonic reference for `feed_ok_ms` (real time even under a test clock).
    started: Instant,
    /// When the database feed last answered, in ms since `started`. An atomic, because every
    /// authenticated request reads it.
    feed_ok_ms: AtomicU64,
}

impl Revocations {
    /// An empty set for tokens living `access_ttl`.
    pub fn new(access_ttl: Duration) -> Self {
        let ttl_ms = i64::try_from(access_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        Self {
            entries: RwLock::new(HashMap::new()),
            retention_ms: ttl_ms.saturating_add(RETENTION_MARGIN_MS),
            synced: AtomicBool::new(false),
            started: Instant::now(),
            feed_ok_ms: AtomicU64::new(0),
        }
    }

    /// Records that the database feed answered just now.
    pub fn feed_succeeded(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.feed_ok_ms.fetch_max(now, Ordering::Release);
    }

    /// How long since the database feed last answered.
    pub fn feed_silent_for(&self) -> std::time::Duration {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        std::time::Duration::from_millis(now.saturating_sub(self.feed_ok_ms.load(Ordering::Acquire)))
    }

    /// Whether the full history that matters has been loaded.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Records that the full history that matters has been loaded.
    pub fn mark_synced(&self) {
        self.synced.store(true, Ordering::Release);
    }

    /// How far back a node must look for revocations that still matter (on start-up).
    pub fn lookback_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Whether `session_id` is revoked.
    pub fn is_revoked(&self, session_id: i64) -> bool {
        // A poisoned lock only means a writer panicked mid-insert; the map is still usable.
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.contains_key(&session_id)
    }

    /// Records revocations made (or learnt of) at `now_ms`.
    pub fn revoke(&self, session_ids: &[i64], now_ms: i64) {
        if session_ids.is_empty() {
            return;
        }
        let forget_at = now_ms.saturating_add(self.retention_ms);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for id in session_ids {
            entries.entry(*id).or_insert(forget_at);
        }
    }

    /// Forgets entries whose tokens have all expired.
    pub fn prune(&self, now_ms: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, forget_at| *forget_at > now_ms);
    }

    /// Number of remembered revocations.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_sessions_are_remembered_until_their_tokens_have_expired() {
        let revocations = Revocations::new(Duration::from_secs(900));
        revocations.revoke(&[7, 8], 1_000);
        assert!(revocations.is_revoked(7) && revocations.is_revoked(8) && !revocations.is_revoked(9));
        revocations.prune(1_000 + 900_000);
        assert!(revocations.is_revoked(7), "kept through the token lifetime plus margin");
        revocations.prune(1_000 + 900_000 + RETENTION_MARGIN_MS);
        assert!(revocations.is_empty());
    }

    #[test]
    fn learning_of_a_revocation_again_does_not_extend_it() {
        let revocations = Revocations::new(Duration::from_secs(60));
        revocations.revoke(&[1], 0);
        revocations.revoke(&[1], 50_000);
        revocations.prune(60_000 + RETENTION_MARGIN_MS);
        assert!(!revocations.is_revoked(1));
    }
}
