//! Administrative changes to accounts: roles and status.

use super::{SqlStore, map_error};
use crate::store::StoreError;

impl SqlStore {
    /// Replaces a user's roles (comma-joined); false when there is no such user.
    pub async fn set_roles(&self, user_id: i64, roles: &str, now_ms: i64) -> Result<bool, StoreError> {
        let affected = dispatch!(&self.db, pool => sqlx::query(self.sql.update_roles)
            .bind(roles)
            .bind(now_ms)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(affected > 0)
    }

    /// Sets a user's status (1 active, 0 disabled); false when there is no such user.
    pub async fn set_status(&self, user_id: i64, status: i16, now_ms: i64) -> Result<bool, StoreError> {
        let affected = dispatch!(&self.db, pool => sqlx::query(self.sql.update_status)
            .bind(status)
            .bind(now_ms)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(affected > 0)
    }

    /// `(id, updated_at)` of users changed after `since_ms`: tells every node which cached
    /// profiles to drop.
    pub async fn updated_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.updated_since).bind(since_ms).fetch_all(pool).await)
            .map_err(map_error)
    }
}
