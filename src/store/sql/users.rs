//! What every node needs to know about changed accounts. Administrative changes to status and
//! roles live in `admin.rs`, where each one is written together with its audit entry.

use super::{SqlStore, map_error};
use crate::store::StoreError;

impl SqlStore {
    /// `(id, updated_at)` of users changed after `since_ms`: tells every node which cached
    /// profiles to drop.
    pub async fn updated_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.updated_since).bind(since_ms).fetch_all(pool).await)
            .map_err(map_error)
    }
}
