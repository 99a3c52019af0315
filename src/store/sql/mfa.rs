//! The TOTP second factor's rows: the sealed secret and its last accepted step, the keyed
//! hashes of recovery codes, and the single-use sign-in challenges. Every "use once" rule is
//! one conditional `UPDATE` that must affect exactly one row, so it holds across nodes; the
//! multi-row changes (enable, disable, completing a challenge) are one transaction each.

use super::{SqlStore, map_error};
use crate::store::{AuditRecord, StoreError};

/// A user's `mfa_totp` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    /// The sealed secret (crate::crypto), never the secret itself.
    pub secret: String,
    /// When a code confirmed the setup (Unix ms); none while pending.
    pub enabled_at: Option<i64>,
    /// The highest 30-second step accepted so far.
    pub last_step: i64,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// SHA-256 (hex) of the `mfa_token`.
    pub token_hash: String,
    /// Whose sign-in it is.
    pub user_id: i64,
    /// The normalised identifier the password was given for.
    pub identifier: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Client `User-Agent` (truncated).
    pub user_agent: Option<String>,
    /// Now (Unix ms).
    pub now_ms: i64,
    /// When the token stops working (Unix ms).
    pub expires_at_ms: i64,
}

/// The second factor that completes a challenge, consumed in the same transaction.
#[derive(Debug, Clone)]
pub enum MfaFactor {
    /// A TOTP code of this step.
    Step(i64),
    /// The keyed hash of a recovery code.
    Recovery(String),
}

/// How completing a challenge went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Challenge used and factor consumed.
    Done,
    /// The challenge was used (by a racing request) or expired meanwhile.
    ChallengeGone,
    /// The step was not newer than the last accepted one, or the recovery code is unknown or
    /// used; nothing was changed.
    FactorRefused,
}

impl SqlStore {
    /// The user's TOTP row, pending or enabled.
    pub async fn totp_of_user(&self, user_id: i64) -> Result<Option<TotpRow>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.mfa_totp_of_user)
            .bind(user_id)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)
    }

    /// Stores a new pending setup, replacing an earlier pending one. False (and nothing
    /// changed) when the user has TOTP enabled, or a racing setup got in first.
    pub async fn put_pending_totp(&self, user_id: i64, sealed_secret: &str, now_ms: i64) -> Result<bool, StoreError> {
        let written = dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(self.sql.delete_pending_totp)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.insert_totp)
                .bind(user_id)
                .bind(sealed_secret)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await)
        .map_err(map_error);
        match written {
            Ok(()) => Ok(true),
            // The primary key: an enabled row (which the delete left alone) is in the way.
            Err(StoreError::Duplicate(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Enables the pending setup whose sealed secret is `sealed_secret`, counting `step` as
    /// used, and stores the recovery-code hashes and the audit entry, all in one transaction.
    /// False (nothing changed) when that setup is no longer pending.
    pub async fn enable_totp(
        &self,
        user_id: i64,
        sealed_secret: &str,
        step: i64,
        code_hashes: &[String],
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let enabled = sqlx::query(self.sql.enable_totp)
                .bind(audit.at_ms)
                .bind(step)
                .bind(user_id)
                .bind(sealed_secret)
                .bind(step)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if enabled != 1 {
                // Dropping the transaction rolls it back.
                return Ok(false);
            }
            sqlx::query(self.sql.delete_recovery_codes)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for hash in code_hashes {
                sqlx::query(self.sql.insert_recovery_code)
                    .bind(user_id)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(self.sql.touch_user)
                .bind(audit.at_ms)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            insert_audit!(self.sql.insert_audit, audit).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)
        .map_err(map_error)
    }

    /// Accepts a TOTP code of `step` for an enabled TOTP: true only if `step` is newer than
    /// every step accepted before (on any node).
    pub async fn accept_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let affected = dispatch!(&self.db, pool => sqlx::query(self.sql.accept_totp_step)
            .bind(step)
            .bind(user_id)
            .bind(step)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(affected == 1)
    }

    /// Marks one unused recovery code used; false when it is unknown or used already.
    pub async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let affected = dispatch!(&self.db, pool => sqlx::query(self.sql.use_recovery_code)
            .bind(now_ms)
            .bind(user_id)
            .bind(code_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(affected == 1)
    }

    /// Removes TOTP (enabled or pending), the recovery codes and pending challenges of a
    /// user; the audit entry is written, in the same transaction, only if TOTP was enabled.
    /// Returns whether it was.
    pub async fn disable_totp(&self, user_id: i64, audit: &AuditRecord) -> Result<bool, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(self.sql.delete_enabled_totp)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for sql in [
                self.sql.delete_totp,
                self.sql.delete_recovery_codes,
                self.sql.delete_user_mfa_challenges,
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
            if removed > 0 {
                sqlx::query(self.sql.touch_user)
                    .bind(audit.at_ms)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                insert_audit!(self.sql.insert_audit, audit).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(removed > 0)
        }.await)
        .map_err(map_error)
    }

    /// Stores a challenge (and now and then drops long-expired ones).
    pub async fn insert_mfa_challenge(&self, challenge: &NewChallenge) -> Result<(), StoreError> {
        let c = challenge;
        dispatch!(&self.db, pool => sqlx::query(self.sql.insert_mfa_challenge)
            .bind(&c.token_hash)
            .bind(c.user_id)
            .bind(&c.identifier)
            .bind(&c.ip)
            .bind(&c.user_agent)
            .bind(c.now_ms)
            .bind(c.expires_at_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        // Expired challenges are useless; clearing them on a sample of inserts keeps the table
        // small without a background job.
        if rand::random::<u8>() == 0 {
            let _ = dispatch!(&self.db, pool => sqlx::query(self.sql.prune_mfa_challenges)
                .bind(c.now_ms)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()));
        }
        Ok(())
    }

    /// `(user_id, identifier)` of an unused, unexpired challenge.
    pub async fn mfa_challenge(&self, token_hash: &str, now_ms: i64) -> Result<Option<(i64, String)>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.mfa_challenge)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)
    }

    /// Uses the challenge and consumes the factor of `user_id` in one transaction: both
    /// happen, or neither does (a racing completion or a replayed step changes nothing).
    pub async fn complete_mfa_challenge(
        &self,
        token_hash: &str,
        user_id: i64,
        factor: &MfaFactor,
        now_ms: i64,
    ) -> Result<Completion, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let used = sqlx::query(self.sql.use_mfa_challenge)
                .bind(now_ms)
                .bind(token_hash)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if used != 1 {
                return Ok(Completion::ChallengeGone);
            }
            let consumed = match factor {
                MfaFactor::Step(step) => sqlx::query(self.sql.accept_totp_step)
                    .bind(*step)
                    .bind(user_id)
                    .bind(*step)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                MfaFactor::Recovery(hash) => sqlx::query(self.sql.use_recovery_code)
                    .bind(now_ms)
                    .bind(user_id)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
            };
            if consumed != 1 {
                return Ok(Completion::FactorRefused);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Completion::Done)
        }.await)
        .map_err(map_error)
    }

    /// Drops a user's pending challenges (after a password change or a TOTP disable).
    pub async fn delete_mfa_challenges(&self, user_id: i64) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(self.sql.delete_user_mfa_challenges)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(())
    }

    /// Drops one challenge (made for a sign-in that turned out stale).
    pub async fn delete_mfa_challenge(&self, token_hash: &str) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(self.sql.delete_mfa_challenge)
            .bind(token_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(())
    }
}
