//! Administration's reads and writes: the filtered, paged user list, and the changes an
//! administrator (or the command line) makes to someone else's account. Each change is one
//! transaction that also writes its audit entry, so the log can never miss a change or record
//! one that did not happen.

use super::rows::UserRow;
use super::{SqlStore, begin_write, map_error};
use crate::domain::user::{Account, STATUS_DISABLED, join_roles, parse_roles};
use crate::store::{AuditRecord, StoreError};
use serde_json::{Map, Value, json};

/// What an administrative change does to the roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolesChange {
    /// Leave them.
    Keep,
    /// Replace them with these (already validated and de-duplicated).
    Set(Vec<String>),
    /// Add this role unless the user has it.
    Add(String),
    /// Remove this role if the user has it.
    Remove(String),
}

/// An administrative change to one account. Add/remove are applied to the roles read inside
/// the transaction, so two concurrent grants cannot lose one another.
#[derive(Debug, Clone)]
pub struct AdminChange {
    /// New status, if it changes.
    pub status: Option<i16>,
    /// What happens to the roles.
    pub roles: RolesChange,
}

/// What an administrative change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminChanged {
    /// Whether anything was written (false when the account already was as asked).
    pub changed: bool,
    /// Sessions revoked because the account was disabled (to announce to every node).
    pub revoked_sessions: Vec<i64>,
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// A `LIKE` pattern, `!`-escaped, matched on the username key, email key and phone.
    pub pattern: Option<String>,
    /// Only users with this status.
    pub status: Option<i16>,
}

/// `(status, roles)` of the row being changed.
type StatusRoles = (i16, String);

/// The detail object an audit record already carries (e.g. `{"source": "cli"}`), to extend.
fn detail_of(record: &AuditRecord) -> Map<String, Value> {
    record
        .detail
        .as_deref()
        .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
        .unwrap_or_default()
}

impl SqlStore {
    /// One page of users, newest first, and how many match in all.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Account>, i64), StoreError> {
        let (p, status) = (&filter.pattern, filter.status);
        dispatch!(&self.db, pool => async {
            let (total,): (i64,) = sqlx::query_as(self.sql.admin_count_users)
                .bind(p)
                .bind(p)
                .bind(p)
                .bind(p)
                .bind(status)
                .bind(status)
                .fetch_one(pool)
                .await?;
            let rows: Vec<UserRow> = sqlx::query_as(self.sql.admin_users_page)
                .bind(p)
                .bind(p)
                .bind(p)
                .bind(p)
                .bind(status)
                .bind(status)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows.into_iter().map(UserRow::into_account).collect(), total))
        }.await)
        .map_err(map_error)
    }

    /// Applies an administrative change in one transaction: status and roles, the revocation
    /// of every session when the account becomes disabled, and `audit` (an `admin_update`
    /// record) with `status`/`roles` `{from, to}` added to its detail as read under the row
    /// lock. Nothing is written, the audit entry included, when the account already is as
    /// asked. `None` when there is no such user.
    pub async fn admin_update_user(
        &self,
        user_id: i64,
        change: &AdminChange,
        audit: &AuditRecord,
        now_ms: i64,
    ) -> Result<Option<AdminChanged>, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = begin_write(pool).await?;
            let row: Option<StatusRoles> =
                sqlx::query_as(self.sql.admin_user_for_update).bind(user_id).fetch_optional(&mut *tx).await?;
            let Some((old_status, stored_roles)) = row else {
                return Ok(None);
            };
            let old_roles = parse_roles(&stored_roles);
            let new_status = change.status.unwrap_or(old_status);
            let new_roles = match &change.roles {
                RolesChange::Keep => old_roles.clone(),
                RolesChange::Set(roles) => roles.clone(),
                RolesChange::Add(role) if old_roles.contains(role) => old_roles.clone(),
                RolesChange::Add(role) => old_roles.iter().cloned().chain([role.clone()]).collect(),
                RolesChange::Remove(role) => old_roles.iter().filter(|r| *r != role).cloned().collect(),
            };
            if new_status == old_status && new_roles == old_roles {
                return Ok(Some(AdminChanged::default()));
            }
            sqlx::query(self.sql.admin_update_user)
                .bind(new_status)
                .bind(join_roles(&new_roles))
                .bind(now_ms)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            let mut detail = detail_of(audit);
            if new_status != old_status {
                detail.insert("status".into(), json!({"from": old_status, "to": new_status}));
            }
            if new_roles != old_roles {
                detail.insert("roles".into(), json!({"from": old_roles, "to": new_roles}));
            }
            let mut revoked_sessions = Vec::new();
            if new_status == STATUS_DISABLED && old_status != STATUS_DISABLED {
                let ids: Vec<(i64,)> =
                    sqlx::query_as(self.sql.unrevoked_session_ids).bind(user_id).fetch_all(&mut *tx).await?;
                sqlx::query(self.sql.revoke_user_sessions).bind(now_ms).bind(user_id).execute(&mut *tx).await?;
                revoked_sessions = ids.into_iter().map(|(id,)| id).collect();
                detail.insert("sessions_revoked".into(), json!(revoked_sessions.len()));
            }
            let record = AuditRecord {
                detail: Some(Value::Object(detail).to_string()),
                ..audit.clone()
            };
            insert_audit!(self.sql.insert_audit, record).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(AdminChanged {
                changed: true,
                revoked_sessions,
            }))
        }.await)
        .map_err(map_error)
    }

    /// Revokes every unrevoked session of a user and writes `audit` (a `sessions_revoked`
    /// record, with `revoked: N` added to its detail) in the same transaction; returns the ids
    /// revoked. The entry is written even when there was nothing to revoke: the administrator
    /// still acted.
    pub async fn revoke_user_sessions_recorded(
        &self,
        user_id: i64,
        audit: &AuditRecord,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let ids: Vec<(i64,)> =
                sqlx::query_as(self.sql.unrevoked_session_ids).bind(user_id).fetch_all(&mut *tx).await?;
            sqlx::query(self.sql.revoke_user_sessions).bind(now_ms).bind(user_id).execute(&mut *tx).await?;
            let mut detail = detail_of(audit);
            detail.insert("revoked".into(), json!(ids.len()));
            let record = AuditRecord {
                detail: Some(Value::Object(detail).to_string()),
                ..audit.clone()
            };
            insert_audit!(self.sql.insert_audit, record).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids.into_iter().map(|(id,)| id).collect())
        }.await)
        .map_err(map_error)
    }
}
