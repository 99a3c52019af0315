//! Row types shared by all three drivers. Only types every driver decodes the same way
//! (i64, i16, String, Option) appear here.

use crate::clock::from_unix_millis;
use crate::domain::user::{Account, User, parse_roles};

/// A `users` row.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    phone: Option<String>,
    nickname: Option<String>,
    avatar_url: Option<String>,
    password_hash: Option<String>,
    status: i16,
    roles: String,
    created_at: i64,
    updated_at: i64,
    email_verified: i16,
    phone_verified: i16,
    wechat_identities: i64,
    mfa_enabled: i64,
}

impl UserRow {
    /// Converts the row into the domain's account.
    pub fn into_account(self) -> Account {
        Account {
            user: User {
                id: self.id,
                username: self.username,
                email: self.email,
                phone: self.phone,
                email_verified: self.email_verified != 0,
                phone_verified: self.phone_verified != 0,
                nickname: self.nickname,
                avatar_url: self.avatar_url,
                status: self.status,
                roles: parse_roles(&self.roles),
                mfa_enabled: self.mfa_enabled > 0,
                wechat_bound: self.wechat_identities > 0,
                created_at: from_unix_millis(self.created_at),
                updated_at: from_unix_millis(self.updated_at),
            },
            password_hash: self.password_hash,
        }
    }
}

/// A `sessions` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// Session id (the `sid` claim).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Last refresh or sign-in (Unix ms).
    pub last_used_at: i64,
    /// Expiry (Unix ms).
    pub expires_at: i64,
}
