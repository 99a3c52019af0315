//! WeChat identities, the phone number WeChat vouches for, and single-use OAuth states.

use super::{SqlStore, map_error, retry_on_conflict};
use crate::store::{AuditRecord, NewUser, StoreError};

/// A WeChat identity to store.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    /// The app (Mini Program or website) the openid belongs to.
    pub appid: String,
    /// The user's id within that app.
    pub openid: String,
    /// The company-wide id, when WeChat gave one.
    pub unionid: Option<String>,
    /// The sealed `session_key` (Mini Program logins only).
    pub session_key: Option<String>,
    /// Now (Unix ms).
    pub now_ms: i64,
}

impl SqlStore {
    /// `(user_id, unionid)` of the identity `(appid, openid)`.
    pub async fn wechat_identity(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.wechat_identity)
            .bind(appid)
            .bind(openid)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)
    }

    /// The user that already has an identity with this `unionid` (in any app).
    pub async fn wechat_user_by_unionid(&self, unionid: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = dispatch!(&self.db, pool => sqlx::query_as(self.sql.wechat_user_by_unionid)
            .bind(unionid)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)?;
        Ok(row.map(|(id,)| id))
    }

    /// Creates a password-less user and its first WeChat identity in one transaction, so a
    /// failure never leaves an account without its identity.
    pub async fn create_wechat_user(
        &self,
        user: &NewUser,
        identity: &NewIdentity,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        retry_on_conflict(|| self.create_wechat_user_once(user, identity, audit))
            .await
            .map_err(map_error)
    }

    async fn create_wechat_user_once(
        &self,
        user: &NewUser,
        identity: &NewIdentity,
        audit: Option<&AuditRecord>,
    ) -> Result<(), sqlx::Error> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            insert_user!(self.sql.insert_user, user)
                .execute(&mut *tx)
                .await?;
            sqlx::query(self.sql.insert_wechat_identity)
                .bind(&identity.appid)
                .bind(&identity.openid)
                .bind(&identity.unionid)
                .bind(user.id)
                .bind(&identity.session_key)
                .bind(identity.now_ms)
                .bind(identity.now_ms)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await
        }.await)
    }

    /// Adds an identity to an existing user (binding, or a unionid seen in another app).
    /// A duplicate means the identity already belongs to someone.
    pub async fn insert_wechat_identity(
        &self,
        user_id: i64,
        identity: &NewIdentity,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(self.sql.insert_wechat_identity)
                .bind(&identity.appid)
                .bind(&identity.openid)
                .bind(&identity.unionid)
                .bind(user_id)
                .bind(&identity.session_key)
                .bind(identity.now_ms)
                .bind(identity.now_ms)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await
        }.await)
        .map_err(map_error)
    }

    /// Refreshes an identity's unionid (when newly given) and sealed session key.
    pub async fn update_wechat_identity(&self, identity: &NewIdentity) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(self.sql.update_wechat_identity)
            .bind(&identity.unionid)
            .bind(&identity.session_key)
            .bind(identity.now_ms)
            .bind(&identity.appid)
            .bind(&identity.openid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(())
    }

    /// `(openid, sealed session_key)` of the user's identity in `appid`.
    pub async fn wechat_identity_of_user(
        &self,
        user_id: i64,
        appid: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.wechat_identity_of_user)
            .bind(user_id)
            .bind(appid)
            .fetch_optional(pool)
            .await)
        .map_err(map_error)
    }

    /// Removes every WeChat identity of a user; returns how many. The audit entry is written
    /// in the same transaction, and only when something was removed.
    pub async fn delete_wechat_identities(&self, user_id: i64, audit: Option<&AuditRecord>) -> Result<u64, StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(self.sql.delete_wechat_identities)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed > 0 {
                audit_in_tx!(self.sql, tx, audit);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(removed)
        }.await)
        .map_err(map_error)
    }

    /// Sets a user's (normalised) phone; a duplicate is another account's phone.
    pub async fn set_phone(
        &self,
        user_id: i64,
        phone: &str,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(self.sql.update_phone)
                .bind(phone)
                .bind(now_ms)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            audit_in_tx!(self.sql, tx, audit);
            tx.commit().await
        }.await)
        .map_err(map_error)
    }

    /// Records an OAuth state nonce as used; false when it was used before.
    pub async fn use_oauth_state(&self, nonce: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        let inserted = dispatch!(&self.db, pool => sqlx::query(self.sql.use_oauth_state)
            .bind(nonce)
            .bind(expires_at_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        // Old nonces are useless (their states have expired); drop them now and then.
        if rand::random::<u8>() == 0 {
            let _ = dispatch!(&self.db, pool => sqlx::query(self.sql.prune_oauth_states)
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()));
        }
        match inserted.map_err(map_error) {
            Ok(_) => Ok(true),
            Err(StoreError::Duplicate(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
