//! EdDSA signing keys shared by every node.

use super::{SqlStore, map_error};
use crate::store::StoreError;

/// A `signing_keys` row. `private_key` is ciphertext (see `crate::crypto`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key id (the RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// `EdDSA`.
    pub algorithm: String,
    /// base64url of the 32-byte public key.
    pub public_key: String,
    /// The encrypted PKCS#8 private key.
    pub private_key: String,
    /// Creation time (Unix ms); the newest key signs.
    pub created_at: i64,
}

impl SqlStore {
    /// Stores a new signing key.
    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(self.sql.insert_signing_key)
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&key.public_key)
            .bind(&key.private_key)
            .bind(key.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(())
    }

    /// Every signing key, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        dispatch!(&self.db, pool => sqlx::query_as(self.sql.signing_keys).fetch_all(pool).await).map_err(map_error)
    }
}
