//! The user as clients see it (contract section 2), and the account record the store keeps.
//! Nothing secret is part of `User`, so serialising one can never leak a hash or a key.

use serde::Serialize;
use time::OffsetDateTime;

/// Account status: 1 active, 0 disabled.
pub const STATUS_ACTIVE: i16 = 1;
/// Account status: 1 active, 0 disabled.
pub const STATUS_DISABLED: i16 = 0;
/// The role new users get when `HUFU_DEFAULT_ROLES` is not set.
pub const DEFAULT_ROLE: &str = "user";

/// The public user object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    /// Time-ordered, JavaScript-safe id.
    pub id: i64,
    /// Display form of the username (NFKC).
    pub username: String,
    /// Email as the user typed it.
    pub email: Option<String>,
    /// Normalised phone.
    pub phone: Option<String>,
    /// Whether a code proved the email belongs to this user.
    pub email_verified: bool,
    /// Whether a code (or WeChat) proved the phone belongs to this user.
    pub phone_verified: bool,
    /// Free-text display name.
    pub nickname: Option<String>,
    /// http(s) URL of the avatar.
    pub avatar_url: Option<String>,
    /// 1 active, 0 disabled.
    pub status: i16,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether TOTP is on.
    pub mfa_enabled: bool,
    /// Whether a WeChat identity is bound.
    pub wechat_bound: bool,
    /// When the account was made.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the account last changed.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl User {
    /// Whether the account may sign in.
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }
}

/// A user with the secret parts needed to sign in; never serialised.
#[derive(Clone)]
pub struct Account {
    /// The public part.
    pub user: User,
    /// PHC string of the password hash; `None` for WeChat-only users.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Splits the stored role list (`"user,admin"`).
pub fn parse_roles(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Joins roles for storage.
pub fn join_roles(roles: &[String]) -> String {
    roles.join(",")
}
