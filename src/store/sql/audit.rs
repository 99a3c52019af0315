//! The audit log: entries written on their own (events that change nothing else, such as a
//! failed sign-in) and the filtered, paged read for administrators. Entries that record a
//! change are written by that change's own method, in its transaction (`insert_audit!`).

use super::{SqlStore, map_error};
use crate::store::{AuditRecord, StoreError};

/// An `audit_log` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    /// Entry id (time-ordered).
    pub id: i64,
    /// The account concerned.
    pub user_id: Option<i64>,
    /// The administrator who acted, if not the user.
    pub actor_id: Option<i64>,
    /// Event name.
    pub event: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When (Unix ms).
    pub at: i64,
    /// JSON object text.
    pub detail: Option<String>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user's entries.
    pub user_id: Option<i64>,
    /// Only this event.
    pub event: Option<String>,
}

impl SqlStore {
    /// Writes one entry on its own (for events that change nothing else).
    pub async fn record_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => insert_audit!(self.sql.insert_audit, record).execute(pool).await.map(|_| ()))
            .map_err(map_error)?;
        Ok(())
    }

    /// One page of entries, newest first, and how many match in all.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AuditRow>, i64), StoreError> {
        let f = filter;
        dispatch!(&self.db, pool => async {
            let (total,): (i64,) = sqlx::query_as(self.sql.audit_count)
                .bind(f.user_id)
                .bind(f.user_id)
                .bind(&f.event)
                .bind(&f.event)
                .fetch_one(pool)
                .await?;
            let rows: Vec<AuditRow> = sqlx::query_as(self.sql.audit_page)
                .bind(f.user_id)
                .bind(f.user_id)
                .bind(&f.event)
                .bind(&f.event)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)
        .map_err(map_error)
    }
}
