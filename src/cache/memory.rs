//! In-process counters for rate limits and lockouts: used when no Redis is configured, and as
//! the per-node fallback while Redis is unreachable. Same fixed-window semantics as the Redis
//! scripts, timed by the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;

/// Windows of counts, and locks, by key.
#[derive(Debug, Default)]
pub struct Counters {
    /// key → (count, window end in Unix ms).
    windows: Mutex<HashMap<String, (u64, i64)>>,
    /// key → lock end in Unix ms.
    locks: Mutex<HashMap<String, i64>>,
}

impl Counters {
    /// Counts one hit at `key` in a window of `window_ms` starting at its first hit; returns
    /// the count and the milliseconds left in the window.
    pub fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> (u64, u64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let entry = windows.entry(key.to_owned()).or_insert((0, now_ms + window_ms));
        if entry.1 <= now_ms {
            *entry = (0, now_ms + window_ms);
        }
        entry.0 += 1;
        (entry.0, u64::try_from(entry.1 - now_ms).unwrap_or(0))
    }

    /// One sign-in attempt under a lockout, atomically (the in-process twin of the Redis
    /// script): the lock when locked already or by this attempt, else `None` after counting it.
    pub fn attempt(
        &self,
        fails: &str,
        lock: &str,
        threshold: u32,
        window_ms: i64,
        lock_ms: i64,
        now_ms: i64,
    ) -> Option<super::Lock> {
        // Both maps are held for the whole step, so no attempt can slip between a check and
        // the lock another attempt is setting.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = locks.get(lock).filter(|until| **until > now_ms) {
            return Some(super::Lock {
                remaining_ms: u64::try_from(until - now_ms).unwrap_or(0),
                set_by_this_attempt: false,
            });
        }
        let entry = windows.entry(fails.to_owned()).or_insert((0, now_ms + window_ms));
        if entry.1 <= now_ms {
            *entry = (0, now_ms + window_ms);
        }
        entry.0 += 1;
        if entry.0 > u64::from(threshold) {
            windows.remove(fails);
            locks.insert(lock.to_owned(), now_ms.saturating_add(lock_ms));
            return Some(super::Lock {
                remaining_ms: u64::try_from(lock_ms).unwrap_or(0),
                set_by_this_attempt: true,
            });
        }
        None
    }

    /// Takes one hit back from the window at `key`.
    pub fn decrement(&self, key: &str) {
        if let Some(entry) = self.windows.lock().unwrap_or_else(|e| e.into_inner()).get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Forgets the window at `key`.
    pub fn reset(&self, key: &str) {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Lifts the lock of `key`.
    pub fn unlock(&self, key: &str) {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Locks `key` until `until_ms`.
    pub fn lock(&self, key: &str, until_ms: i64) {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), until_ms);
    }

    /// Milliseconds left on the lock at `key`, if locked.
    pub fn locked_for(&self, key: &str, now_ms: i64) -> Option<u64> {
        let locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks
            .get(key)
            .filter(|until| **until > now_ms)
            .map(|until| u64::try_from(until - now_ms).unwrap_or(0))
    }

    /// Drops expired windows and locks (called from the background task).
    pub fn prune(&self, now_ms: i64) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, end)| *end > now_ms);
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_from_its_first_hit_and_then_starts_over() {
        let counters = Counters::default();
        assert_eq!(counters.hit("k", 60_000, 0), (1, 60_000));
        assert_eq!(counters.hit("k", 60_000, 59_000), (2, 1_000));
        assert_eq!(counters.hit("k", 60_000, 60_000), (1, 60_000));
        counters.lock("l", 5_000);
        assert_eq!(counters.locked_for("l", 1_000), Some(4_000));
        assert_eq!(counters.locked_for("l", 5_000), None);
        counters.prune(200_000);
        assert_eq!(counters.hit("k", 60_000, 200_000), (1, 60_000));
    }
}
