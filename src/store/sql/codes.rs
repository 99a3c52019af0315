//! One-time codes at rest: storing a code under the per-target abuse limits, forgetting a send
//! whose delivery failed, and using a code once on every node. Codes are keyed hashes here;
//! the plain code never reaches the store.

use super::{SqlStore, begin_write, map_error, retry_on_conflict};
use crate::store::StoreError;

/// Wrong tries after which a code is dead (contract section 10).
pub const MAX_TRIES: i16 = 5;
/// The daily cap's window.
const DAY_MS: i64 = 86_400_000;

/// Which code: `(channel, target, purpose)` as the contract names them, the target
/// normalised (an email key, or a phone in its stored form).
#[derive(Debug, Clone, Copy)]
pub struct CodeKey<'a> {
    /// `email` or `sms`.
    pub channel: &'a str,
    /// The normalised target.
    pub target: &'a str,
    /// `login`, `register`, …
    pub purpose: &'a str,
}

/// A send to record, with the code it stores.
#[derive(Debug, Clone)]
pub struct CodeSend<'a> {
    /// The code's key.
    pub key: CodeKey<'a>,
    /// Generated id of the send (to forget it if the delivery fails).
    pub send_id: i64,
    /// The keyed hash of the code.
    pub code_hash: &'a str,
    /// The signed-in user the code is for (verify, change, reauth), who alone may use it.
    pub user_id: Option<i64>,
    /// Now (Unix ms).
    pub now_ms: i64,
    /// When the code dies (Unix ms).
    pub expires_at_ms: i64,
    /// Shortest time between two sends to the target (ms; 0 for none).
    pub resend_interval_ms: i64,
    /// Sends per target per 24 h.
    pub daily_limit: u32,
}

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// The code is stored (replacing the previous one of its purpose) and the send counted.
    Stored,
    /// Refused by the resend interval or the daily cap; nothing was written.
    Limited {
        /// Milliseconds until a send to this target is allowed again.
        retry_after_ms: i64,
    },
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, live, and now used.
    Used,
    /// Wrong (counted as a try), or no live code at all.
    Wrong,
    /// Past its lifetime.
    Expired,
    /// Five wrong tries already: dead even with the right code.
    Exhausted,
}

impl SqlStore {
    /// Stores a code for its target and counts the send, in one transaction that holds the
    /// target's lock row, unless the resend interval or the daily cap refuses it.
    pub async fn store_code(&self, send: &CodeSend<'_>) -> Result<SendOutcome, StoreError> {
        let key = send.key;
        let outcome = retry_on_conflict(|| async {
            dispatch!(&self.db, pool => async {
                let mut tx = begin_write(pool).await?;
                sqlx::query(self.sql.lock_code_target)
                    .bind(key.channel)
                    .bind(key.target)
                    .execute(&mut *tx)
                    .await?;
                let sends: Vec<(i64,)> = sqlx::query_as(self.sql.recent_code_sends)
                    .bind(key.channel)
                    .bind(key.target)
                    .bind(send.now_ms - DAY_MS)
                    .fetch_all(&mut *tx)
                    .await?;
                let newest = sends.last().map(|(at,)| *at);
                let oldest = sends.first().map(|(at,)| *at);
                let interval_wait = newest.map_or(0, |at| at + send.resend_interval_ms - send.now_ms);
                let daily_wait = if sends.len() >= send.daily_limit as usize {
                    // The oldest send must leave the window for one more to fit.
                    oldest.map_or(0, |at| at + DAY_MS - send.now_ms)
                } else {
                    0
                };
                let wait = interval_wait.max(daily_wait);
                if wait > 0 {
                    tx.rollback().await?;
                    return Ok(SendOutcome::Limited { retry_after_ms: wait });
                }
                sqlx::query(self.sql.insert_code_send)
                    .bind(send.send_id)
                    .bind(key.channel)
                    .bind(key.target)
                    .bind(send.now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(self.sql.upsert_code)
                    .bind(key.channel)
                    .bind(key.target)
                    .bind(key.purpose)
                    .bind(send.code_hash)
                    .bind(send.user_id)
                    .bind(send.now_ms)
                    .bind(send.expires_at_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(SendOutcome::Stored)
            }.await)
        })
        .await
        .map_err(map_error)?;
        // Sends older than the window count for nothing; drop them now and then.
        if outcome == SendOutcome::Stored && rand::random::<u8>() == 0 {
            let _ = dispatch!(&self.db, pool => sqlx::query(self.sql.prune_code_sends)
                .bind(send.now_ms - DAY_MS)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()));
        }
        Ok(outcome)
    }

    /// Undoes a send whose delivery failed: it stops counting toward the limits, and its code
    /// (unless a newer send replaced it) is dropped.
    pub async fn forget_code_send(&self, send_id: i64, key: CodeKey<'_>, code_hash: &str) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(self.sql.delete_code_send).bind(send_id).execute(&mut *tx).await?;
            sqlx::query(self.sql.delete_code_if)
                .bind(key.channel)
                .bind(key.target)
                .bind(key.purpose)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await)
        .map_err(map_error)
    }

    /// Uses the code of `key` if `code_hash` is its hash (and `user_id` the user it was sent
    /// for, 0 for none); otherwise counts a wrong try. Exactly one of two racing uses wins.
    pub async fn use_code(
        &self,
        key: CodeKey<'_>,
        code_hash: &str,
        user_id: Option<i64>,
        now_ms: i64,
    ) -> Result<CodeCheck, StoreError> {
        let used = dispatch!(&self.db, pool => sqlx::query(self.sql.use_code)
            .bind(now_ms)
            .bind(key.channel)
            .bind(key.target)
            .bind(key.purpose)
            .bind(code_hash)
            .bind(user_id.unwrap_or(0))
            .bind(now_ms)
            .bind(MAX_TRIES)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        if used > 0 {
            return Ok(CodeCheck::Used);
        }
        let counted = dispatch!(&self.db, pool => sqlx::query(self.sql.count_wrong_code)
            .bind(key.channel)
            .bind(key.target)
            .bind(key.purpose)
            .bind(now_ms)
            .bind(MAX_TRIES)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        if counted > 0 {
            return Ok(CodeCheck::Wrong);
        }
        let state: Option<(i64, i16, Option<i64>)> = dispatch!(&self.db, pool => sqlx::query_as(self.sql.code_state)
            .bind(key.channel)
            .bind(key.target)
            .bind(key.purpose)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)?;
        Ok(match state {
            Some((_, _, Some(_))) | None => CodeCheck::Wrong,
            Some((_, tries, None)) if tries >= MAX_TRIES => CodeCheck::Exhausted,
            Some((expires_at, _, None)) if expires_at <= now_ms => CodeCheck::Expired,
            Some(_) => CodeCheck::Wrong,
        })
    }
}
