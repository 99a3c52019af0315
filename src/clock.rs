//! The source of "now" for everything that compares times (token expiry, lockout windows,
//! TOTP steps). Passed in through the application state so tests can fix or move time
//! instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// Tells the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC.
    fn now(&self) -> OffsetDateTime;

    /// The current time as whole Unix seconds.
    fn unix_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// The current time as Unix milliseconds (the storage format of every `*_at` column).
    fn unix_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    unix_millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn starting_at(start: OffsetDateTime) -> Self {
        let millis = (start.unix_timestamp_nanos() / 1_000_000) as i64;
        Self {
            unix_millis: Arc::new(AtomicI64::new(millis)),
        }
    }

    /// A clock stopped at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::starting_at(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        self.unix_millis
            .fetch_add(by.whole_milliseconds() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let millis = self.unix_millis.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Converts stored Unix milliseconds back to a time (out-of-range values clamp to the epoch).
pub fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_at(time::macros::datetime!(2026-01-01 12:00 UTC));
        assert_eq!(clock.unix_seconds(), 1_767_268_800);
        clock.advance(time::Duration::minutes(15));
        assert_eq!(clock.unix_seconds(), 1_767_268_800 + 900);
        assert_eq!(from_unix_millis(clock.unix_millis()), clock.now());
    }
}
