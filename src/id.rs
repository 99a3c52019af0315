//! Time-ordered 53-bit ids made in process, without asking the database.
//!
//! Layout (most significant first): 41 bits of milliseconds since 2025-01-01 UTC (good until
//! 2094), 6 bits of node id, 6 bits of sequence within the millisecond. The result always fits
//! in 2^53 - 1, so JavaScript clients can hold it in a `number`. Several nodes can generate ids
//! at once: each has its own node id (`HUFU_NODE_ID`, or a random one at start), and a rare
//! collision between two nodes that drew the same random node id is caught by the primary key
//! and retried by the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 2025-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_MS: u64 = 1_735_689_600_000;
const NODE_BITS: u32 = 6;
const SEQUENCE_BITS: u32 = 6;
const SEQUENCE_MASK: u64 = (1 << SEQUENCE_BITS) - 1;
/// Largest node id that fits in the layout.
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;

/// Generates ids; cheap to share (one atomic word).
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    /// `(milliseconds since EPOCH_MS) << SEQUENCE_BITS | sequence` of the last id handed out.
    /// Kept in one word so a compare-and-swap hands out each value once without a lock.
    last: AtomicU64,
}

impl IdGenerator {
    /// A generator for `node` (0..=63).
    pub fn new(node: u16) -> Self {
        Self {
            node: u64::from(node & MAX_NODE_ID),
            last: AtomicU64::new(0),
        }
    }

    /// A generator with a random node id, for a single node or tests.
    pub fn random_node() -> Self {
        Self::new(rand::random::<u16>() & MAX_NODE_ID)
    }

    /// The next id: strictly greater than every id this generator made before.
    ///
    /// When more than 64 ids are asked for within one millisecond, or the wall clock steps
    /// back, the logical time runs ahead of the wall clock instead of waiting; it falls back in
    /// step once the wall clock catches up.
    pub fn next_id(&self) -> i64 {
        let now = now_ms() << SEQUENCE_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = if now > last { now } else { last + 1 };
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return self.compose(next),
                Err(seen) => last = seen,
            }
        }
    }

    fn compose(&self, time_and_sequence: u64) -> i64 {
        let millis = time_and_sequence >> SEQUENCE_BITS;
        let sequence = time_and_sequence & SEQUENCE_MASK;
        let id = (millis << (NODE_BITS + SEQUENCE_BITS)) | (self.node << SEQUENCE_BITS) | sequence;
        // 41 + 12 bits: below 2^53 until 2094, far beyond any realistic lifetime.
        (id & ((1u64 << 53) - 1)) as i64
    }
}

fn now_ms() -> u64 {
    let since_unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (since_unix.as_millis() as u64).saturating_sub(EPOCH_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_increasing_positive_and_javascript_safe() {
        let ids = IdGenerator::new(5);
        let mut previous = 0;
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert!(id > previous, "{id} not above {previous}");
            assert!(id < (1i64 << 53));
            previous = id;
        }
    }

    #[test]
    fn ids_carry_the_node_id_and_differ_between_nodes() {
        let a = IdGenerator::new(1);
        let b = IdGenerator::new(2);
        let id_a = a.next_id();
        let id_b = b.next_id();
        assert_eq!((id_a >> 6) & 63, 1);
        assert_eq!((id_b >> 6) & 63, 2);
        assert_ne!(id_a, id_b);
    }

    #[test]
    fn threads_racing_for_ids_never_get_the_same_one() {
        let ids = std::sync::Arc::new(IdGenerator::new(7));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || (0..5_000).map(|_| ids.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for id in handle.join().unwrap() {
                assert!(seen.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(seen.len(), 20_000);
    }

    #[test]
    fn ids_are_time_ordered_against_the_wall_clock() {
        let id = IdGenerator::new(0).next_id() as u64;
        let millis = (id >> 12) + EPOCH_MS;
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert!(wall.abs_diff(millis) < 5_000);
    }
}
