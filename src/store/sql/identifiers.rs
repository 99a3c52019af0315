//! Verified identifiers: proving a user's email or phone, "a verified identifier wins" (an
//! identifier proved by one account is taken from another that holds it unverified, inside the
//! proving write's transaction), and the one transaction each of a password reset and a
//! password change.

use super::{SqlStore, map_error};
use crate::domain::error::UniqueField;
use crate::store::{AuditRecord, Duplicate, StoreError};

/// Which changed identifiers of a write were proved by a code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Proofs {
    /// The email being set was proved.
    pub email: bool,
    /// The phone being set was proved.
    pub phone: bool,
}

/// An identifier taken from another account, which the caller audits and whose cached
/// profile it drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Which identifier.
    pub field: UniqueField,
    /// The account that lost it.
    pub from_user: i64,
}

/// A write refused because another account holds the identifier verified.
pub(super) struct HeldVerified(pub UniqueField);

/// Inside a transaction `$tx`: takes the email key or phone `$value` from any other account
/// than `$user` that holds it unverified; answers `Err(HeldVerified)` when one holds it
/// verified. Evaluates to `Result<Option<Reclaimed>, HeldVerified>`; `?` on the driver.
macro_rules! reclaim_in_tx {
    ($sql:expr, $tx:expr, $field:expr, $value:expr, $user:expr, $now_ms:expr) => {{
        let field: $crate::domain::error::UniqueField = $field;
        let (holder_sql, clear_sql) = match field {
            $crate::domain::error::UniqueField::Email => ($sql.email_holder, $sql.clear_email),
            _ => ($sql.phone_holder, $sql.clear_phone),
        };
        let holder: Option<(i64, i16)> = sqlx::query_as(holder_sql)
            .bind($value)
            .bind($user)
            .fetch_optional(&mut *$tx)
            .await?;
        match holder {
            Some((_, verified)) if verified != 0 => Err($crate::store::sql::identifiers::HeldVerified(field)),
            Some((other, _)) => {
                sqlx::query(clear_sql)
                    .bind($now_ms)
                    .bind(other)
                    .execute(&mut *$tx)
                    .await?;
                Ok(Some($crate::store::sql::identifiers::Reclaimed {
                    field,
                    from_user: other,
                }))
            }
            None => Ok(None),
        }
    }};
}
pub(super) use reclaim_in_tx;

/// A held-verified refusal as the store reports it: the identifier is taken.
pub(super) fn taken(held: HeldVerified) -> StoreError {
    StoreError::Duplicate(Duplicate::Field(held.0))
}

impl SqlStore {
    /// Marks the user's email (`field` Email, `value` its key) or phone as proved, only while
    /// the user still has that value; whether it was unverified until now. `Ok(None)` when
    /// the user no longer has that value.
    pub async fn prove_identifier(
        &self,
        user_id: i64,
        field: UniqueField,
        value: &str,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<bool, StoreError> {
        let sql = match field {
            UniqueField::Email => self.sql.prove_email,
            _ => self.sql.prove_phone,
        };
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(sql)
                .bind(now_ms)
                .bind(user_id)
                .bind(value)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed > 0 {
                audit_in_tx!(self.sql, tx, audit);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(changed > 0)
        }.await)
        .map_err(map_error)
    }

    /// A new password in one transaction: the hash, every session of the user revoked except
    /// `keep` (the session that changed it; none for a reset by code), every sign-in waiting
    /// for its second factor dropped (it proved the old password), and the audit entry. One
    /// transaction, so a failure part way (SQLite busy under concurrent sign-ins, say) cannot
    /// leave the new hash in place with a thief's sessions alive. Returns the revoked ids.
    pub async fn replace_password(
        &self,
        user_id: i64,
        hash: &str,
        keep: Option<i64>,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<Vec<i64>, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            // The write first: on SQLite it takes the write lock before anything is read.
            sqlx::query(self.sql.update_password_hash)
                .bind(hash)
                .bind(now_ms)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
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
            sqlx::query(self.sql.delete_user_mfa_challenges).bind(user_id).execute(&mut *tx).await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids.into_iter().map(|(id,)| id).filter(|&id| Some(id) != keep).collect())
        }.await)
        .map_err(map_error)
    }
}
