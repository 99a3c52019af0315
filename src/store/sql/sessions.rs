//! Sessions and refresh tokens: creation, rotation with reuse detection, revocation, and the
//! recent-revocations feed that every node polls.

use super::queries::POSTGRES_PASSWORD_SESSION;
use super::{Db, SessionRow, SqlStore, begin_write, map_error};
use crate::domain::user::STATUS_ACTIVE;
use crate::store::{AuditRecord, NewSession, RotateRequest, Rotation, SessionCreation, StoreError};

/// `(session_id, expires_at, used_at, user_id, revoked_at)` of a refresh token and its session.
type RefreshRow = (
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    i64,
    String,
    i64,
    Option<String>,
    i64,
);

/// A fresh proof for a session (`POST /auth/reauth`).
#[derive(Debug, Clone, Copy)]
pub struct Reproof<'a> {
    /// The session.
    pub session_id: i64,
    /// Its owner (the caller).
    pub user_id: i64,
    /// How it proved (comma-joined `amr` values).
    pub amr: &'a str,
    /// SHA-256 (hex) of the session's new refresh token.
    pub new_hash: &'a str,
    /// Now (Unix ms): the new `auth_time`.
    pub now_ms: i64,
    /// When the new refresh token expires (Unix ms).
    pub new_expires_at_ms: i64,
}

impl SqlStore {
    /// Creates a session and its first refresh token, with the sign-in's audit entry, in one
    /// transaction. With a checked password hash, the user's row is read first under a shared
    /// lock (`BEGIN IMMEDIATE` on SQLite) and nothing is written unless it still holds that
    /// hash and is active; on PostgreSQL that case is one statement, for its round trips.
    pub async fn create_session(
        &self,
        session: &NewSession,
        audit: Option<&AuditRecord>,
    ) -> Result<SessionCreation, StoreError> {
        if let (Db::Postgres(pool), Some(checked)) = (&self.db, &session.checked_password_hash) {
            return Self::create_password_session_postgres(pool, session, checked, audit).await;
        }
        dispatch!(&self.db, pool => async {
            // Only the guarded case reads before it writes.
            let mut tx = if session.checked_password_hash.is_some() {
                begin_write(pool).await?
            } else {
                pool.begin().await?
            };
            if let Some(checked) = &session.checked_password_hash {
                let row: Option<(Option<String>, i16)> =
                    sqlx::query_as(self.sql.session_guard).bind(session.user_id).fetch_optional(&mut *tx).await?;
                match row {
                    Some((Some(hash), status)) if hash == *checked => {
                        if status != STATUS_ACTIVE {
                            return Ok(SessionCreation::UserDisabled);
                        }
                    }
                    _ => return Ok(SessionCreation::PasswordChanged),
                }
            }
            sqlx::query(self.sql.insert_session)
                .bind(session.id)
                .bind(session.user_id)
                .bind(&session.ip)
                .bind(&session.user_agent)
                .bind(session.now_ms)
                .bind(session.now_ms)
                .bind(session.expires_at_ms)
                .bind(session.now_ms)
                .bind(&session.amr)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.insert_refresh_token)
                .bind(&session.refresh_token_hash)
                .bind(session.id)
                .bind(session.now_ms)
                .bind(session.expires_at_ms)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await?;
            Ok(SessionCreation::Created)
        }.await)
        .map_err(map_error)
    }

    /// [`SqlStore::create_session`] for a password sign-in on PostgreSQL, in one statement
    /// ([`POSTGRES_PASSWORD_SESSION`]): the same guard, the same writes, one round trip.
    async fn create_password_session_postgres(
        pool: &sqlx::PgPool,
        session: &NewSession,
        checked_password_hash: &str,
        audit: Option<&AuditRecord>,
    ) -> Result<SessionCreation, StoreError> {
        let row: Option<(i16, i64)> = sqlx::query_as(POSTGRES_PASSWORD_SESSION)
            .bind(session.id)
            .bind(session.user_id)
            .bind(&session.ip)
            .bind(&session.user_agent)
            .bind(session.now_ms)
            .bind(session.expires_at_ms)
            .bind(&session.refresh_token_hash)
            .bind(checked_password_hash)
            .bind(STATUS_ACTIVE)
            // No record: `$10` is null and the audit part inserts nothing.
            .bind(audit.map(|r| r.id))
            .bind(audit.and_then(|r| r.user_id))
            .bind(audit.and_then(|r| r.actor_id))
            .bind(audit.map(|r| r.event))
            .bind(audit.and_then(|r| r.ip.as_deref()))
            .bind(audit.and_then(|r| r.user_agent.as_deref()))
            .bind(audit.map(|r| r.at_ms))
            .bind(audit.and_then(|r| r.detail.as_deref()))
            .bind(&session.amr)
            .fetch_optional(pool)
            .await
            .map_err(map_error)?;
        Ok(match row {
            None => SessionCreation::PasswordChanged,
            Some((status, _)) if status != STATUS_ACTIVE => SessionCreation::UserDisabled,
            Some((_, 1)) => SessionCreation::Created,
            Some((_, created)) => {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "a password session insert for an active user stored {created} rows"
                )));
            }
        })
    }

    /// Rotates a refresh token in one transaction: retires the presented token, stores its
    /// replacement and extends the session. A retired token presented again revokes its
    /// session (committed before answering). Concurrent rotations of one token are serialised
    /// (row lock on MySQL/PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so exactly one wins.
    pub async fn rotate_refresh_token(&self, request: &RotateRequest<'_>) -> Result<Rotation, StoreError> {
        let r = request;
        dispatch!(&self.db, pool => async {
            let mut tx = begin_write(pool).await?;
            let row: Option<RefreshRow> =
                sqlx::query_as(self.sql.refresh_lookup).bind(r.old_hash).fetch_optional(&mut *tx).await?;
            let Some((session_id, expires_at, used_at, user_id, revoked_at, auth_time_ms, amr, created_at, successor, session_expires_at)) =
                row
            else {
                return Ok(Rotation::Unknown);
            };
            if revoked_at.is_some() {
                return Ok(Rotation::Unknown);
            }
            if let Some(used_at) = used_at {
                // The same rotation asked again within the grace: the same successor.
                if r.now_ms - used_at < r.reuse_grace_ms
                    && let Some(sealed_successor) = successor
                {
                    return Ok(Rotation::Duplicate {
                        session_id,
                        user_id,
                        auth_time_ms,
                        amr,
                        sealed_successor,
                        expires_at_ms: session_expires_at,
                    });
                }
                sqlx::query(self.sql.revoke_session).bind(r.now_ms).bind(session_id).execute(&mut *tx).await?;
                audit_in_tx!(self.sql, tx, r.on_reused.map(|a| a.about(user_id)).as_ref());
                tx.commit().await?;
                return Ok(Rotation::Reused { session_id });
            }
            // The session's absolute end (`HUFU_SESSION_MAX_AGE`): refreshing never passes it.
            let session_end = created_at.saturating_add(r.max_age_ms);
            if expires_at <= r.now_ms || session_end <= r.now_ms {
                return Ok(Rotation::Expired);
            }
            let new_expires_at_ms = r.new_expires_at_ms.min(session_end);
            let marked = sqlx::query(self.sql.mark_refresh_used)
                .bind(r.now_ms)
                .bind((r.reuse_grace_ms > 0).then_some(r.sealed_successor))
                .bind(r.old_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if marked != 1 {
                return Ok(Rotation::LostRace);
            }
            sqlx::query(self.sql.insert_refresh_token)
                .bind(r.new_hash)
                .bind(session_id)
                .bind(r.now_ms)
                .bind(new_expires_at_ms)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.extend_session)
                .bind(r.now_ms)
                .bind(new_expires_at_ms)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, r.on_rotated.map(|a| a.about(user_id)).as_ref());
            // Successors past their grace are forgotten now and then (each rotation has a
            // small chance), so a database dump holds only the last few seconds' worth.
            if rand::random::<u8>() < 8 {
                sqlx::query(self.sql.forget_successors)
                    .bind(r.now_ms - r.reuse_grace_ms)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Rotation::Rotated { session_id, user_id, auth_time_ms, amr, expires_at_ms: new_expires_at_ms })
        }.await)
        .map_err(map_error)
    }

    /// Records a fresh proof for a live session of `user_id` (`POST /auth/reauth`): its
    /// `auth_time` and `amr`, every refresh token it has retired as by a refresh, and
    /// `new_hash` stored as its refresh token, in one transaction. False when the session is
    /// no longer live (nothing written).
    pub async fn reauth_session(&self, proof: &Reproof<'_>, audit: Option<&AuditRecord>) -> Result<bool, StoreError> {
        let Reproof {
            session_id,
            user_id,
            amr,
            new_hash,
            now_ms,
            new_expires_at_ms,
        } = *proof;
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let renewed = sqlx::query(self.sql.reauth_session)
                .bind(now_ms)
                .bind(amr)
                .bind(now_ms)
                .bind(new_expires_at_ms)
                .bind(session_id)
                .bind(user_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if renewed == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(self.sql.retire_session_refresh_tokens)
                .bind(now_ms)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.insert_refresh_token)
                .bind(new_hash)
                .bind(session_id)
                .bind(now_ms)
                .bind(new_expires_at_ms)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)
        .map_err(map_error)
    }

    /// The user's sessions that are neither revoked nor expired at `now_ms`, newest first.
    pub async fn live_sessions(&self, user_id: i64, now_ms: i64) -> Result<Vec<SessionRow>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.live_sessions)
            .bind(user_id)
            .bind(now_ms)
            .fetch_all(pool)
            .await)
        .map_err(map_error)
    }

    /// Revokes one live session of `user_id`, with its audit entry in the same transaction;
    /// false (and nothing written) when there is no such live session.
    pub async fn revoke_session_of_user(
        &self,
        session_id: i64,
        user_id: i64,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(self.sql.revoke_session_of_user)
                .bind(now_ms)
                .bind(session_id)
                .bind(user_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if affected == 0 {
                return Ok(false);
            }
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)
        .map_err(map_error)
    }

    /// Revokes every unrevoked session of a user, except `keep` when given; returns the ids
    /// revoked. A session created while this runs may be revoked without being listed; the
    /// revocation feed that every node polls still reports it.
    pub async fn revoke_user_sessions(
        &self,
        user_id: i64,
        keep: Option<i64>,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<Vec<i64>, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let ids: Vec<(i64,)> =
                sqlx::query_as(self.sql.unrevoked_session_ids).bind(user_id).fetch_all(&mut *tx).await?;
            match keep {
                Some(keep) => sqlx::query(self.sql.revoke_user_sessions_except)
                    .bind(now_ms)
                    .bind(user_id)
                    .bind(keep)
                    .execute(&mut *tx)
                    .await?,
                None => sqlx::query(self.sql.revoke_user_sessions).bind(now_ms).bind(user_id).execute(&mut *tx).await?,
            };
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids.into_iter().map(|(id,)| id).filter(|id| Some(*id) != keep).collect())
        }.await)
        .map_err(map_error)
    }

    /// Ids of sessions revoked after `since_ms`: the feed that tells every node about
    /// revocations made elsewhere.
    pub async fn revoked_since(&self, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> =
            dispatch!(&self.db, pool => sqlx::query_as(self.sql.revoked_since).bind(since_ms).fetch_all(pool).await)
                .map_err(map_error)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
