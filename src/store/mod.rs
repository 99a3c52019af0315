//! Persistence port: what the domain asks of the database, in domain words. One concrete
//! implementation (`sql::SqlStore`) serves SQLite, MySQL/MariaDB and PostgreSQL; each
//! multi-statement write is one method so it owns its transaction, and each backend's unique
//! violations come back as [`StoreError::Duplicate`] naming the field.

pub mod sql;

pub use sql::{
    AdminChange, AdminChanged, AuditFilter, AuditRow, CodeCheck, CodeKey, CodeSend, Completion, MfaFactor,
    NewChallenge, NewIdentity, Proofs, Reclaimed, Reproof, RolesChange, SendOutcome, SessionRow, SigningKeyRow,
    SqlStore, TotpRow, UserFilter,
};

use crate::domain::error::UniqueField;

/// A user to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Generated id.
    pub id: i64,
    /// Display username (NFKC).
    pub username: String,
    /// Username key (lower case).
    pub username_key: String,
    /// Email as typed.
    pub email: Option<String>,
    /// Email key (lower case).
    pub email_key: Option<String>,
    /// Normalised phone.
    pub phone: Option<String>,
    /// PHC password hash.
    pub password_hash: Option<String>,
    /// Whether the email was proved (by a `register` code).
    pub email_verified: bool,
    /// Whether the phone was proved (by a code, or by WeChat).
    pub phone_verified: bool,
    /// Comma-joined roles.
    pub roles: String,
    /// Creation time (Unix ms).
    pub now_ms: i64,
}

/// A change to one field: keep it, or set it (possibly to null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Change<T> {
    /// Leave the stored value alone.
    #[default]
    Keep,
    /// Store this value.
    Set(T),
}

impl<T> Change<T> {
    /// Whether this is a `Set`.
    pub fn is_set(&self) -> bool {
        matches!(self, Change::Set(_))
    }
}

/// Profile fields to change.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// `(display, key)`.
    pub username: Change<(String, String)>,
    /// `(display, key)` or none.
    pub email: Change<Option<(String, String)>>,
    /// Normalised phone or none.
    pub phone: Change<Option<String>>,
    /// Nickname or none.
    pub nickname: Change<Option<String>>,
    /// Avatar URL or none.
    pub avatar_url: Change<Option<String>>,
    /// Whether a changed email and phone were proved by a `change` code: a proved one is
    /// stored verified (taken from another account that holds it unverified), any other change
    /// of it stored unverified.
    pub proofs: Proofs,
}

/// A session to create, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Generated id (the `sid` claim).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Client IP when it signed in.
    pub ip: Option<String>,
    /// Client `User-Agent` when it signed in (truncated).
    pub user_agent: Option<String>,
    /// SHA-256 (hex) of the first refresh token.
    pub refresh_token_hash: String,
    /// When the refresh token (and so the session, unless refreshed) expires (Unix ms).
    pub expires_at_ms: i64,
    /// Creation time (Unix ms), also the session's first `auth_time`.
    pub now_ms: i64,
    /// How the sign-in proved the user (RFC 8176 `amr` values, comma-joined).
    pub amr: String,
    /// For a password sign-in, the hash the password was checked against: the session is
    /// created only if the user still has that hash and is active. Checked under a shared row
    /// lock in the session's own transaction, so a password change or a disable that lands
    /// while the password was being verified either refuses this session or waits for it and
    /// then revokes it with every other.
    pub checked_password_hash: Option<String>,
}

/// What became of a session the store was asked to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCreation {
    /// The session, its refresh token and the audit entry are stored.
    Created,
    /// Nothing was stored: the checked password hash is no longer the user's (changed, or the
    /// user is gone).
    PasswordChanged,
    /// Nothing was stored: the user has been disabled.
    UserDisabled,
}

/// One audit-log entry to write, in the same transaction as the change it records.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Generated, time-ordered id.
    pub id: i64,
    /// The account the event concerns.
    pub user_id: Option<i64>,
    /// Who did it, when not the user themself (an administrator).
    pub actor_id: Option<i64>,
    /// The contract's event name (`login`, `admin_update`, …).
    pub event: &'static str,
    /// Client IP.
    pub ip: Option<String>,
    /// Client `User-Agent` (truncated).
    pub user_agent: Option<String>,
    /// When (Unix ms).
    pub at_ms: i64,
    /// A small JSON object, never anything secret.
    pub detail: Option<String>,
}

impl AuditRecord {
    /// With a small JSON object of detail (never anything secret).
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// The same entry about `user_id` (for changes whose user only the store finds out).
    pub fn about(&self, user_id: i64) -> Self {
        Self {
            user_id: Some(user_id),
            ..self.clone()
        }
    }

    /// Done by `actor` (an administrator) rather than by the user.
    pub fn by(mut self, actor: i64) -> Self {
        self.actor_id = Some(actor);
        self
    }
}

/// What a unique violation was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    /// A user-visible unique field.
    Field(UniqueField),
    /// A generated primary key collided (two nodes drew the same node id); retry with a new id.
    Id,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write.
    #[error("duplicate {0:?}")]
    Duplicate(Duplicate),
    /// The database is unreachable, timed out, or too busy.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error("database error: {0}")]
    Other(#[source] anyhow::Error),
}

impl From<StoreError> for crate::domain::error::Error {
    fn from(e: StoreError) -> Self {
        use crate::domain::error::Error;
        match e {
            StoreError::Duplicate(Duplicate::Field(field)) => Error::Taken(field),
            StoreError::Duplicate(Duplicate::Id) => Error::Internal(anyhow::anyhow!("generated id collided")),
            StoreError::Unavailable(e) => Error::Unavailable(e.into()),
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}

/// What rotating a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Rotated: the old token is retired and the new one stored.
    Rotated {
        /// The session, whose id the new access token keeps.
        session_id: i64,
        /// Its owner.
        user_id: i64,
        /// When the session last proved a credential (Unix ms): a refresh proves nothing.
        auth_time_ms: i64,
        /// How (comma-joined `amr` values).
        amr: String,
        /// When the new refresh token expires (Unix ms): the idle limit, or the session's
        /// absolute end when that comes first.
        expires_at_ms: i64,
    },
    /// No such token, or its session was logged out or revoked.
    Unknown,
    /// The token is past its lifetime.
    Expired,
    /// The token was already used a moment ago by a concurrent request that won the race;
    /// refused without revoking anything.
    LostRace,
    /// The token was rotated within the reuse grace: the same rotation asked again (a lost
    /// response, racing tabs). Answered with the same successor; nothing is written.
    Duplicate {
        /// The session.
        session_id: i64,
        /// Its owner.
        user_id: i64,
        /// When the session last proved a credential (Unix ms).
        auth_time_ms: i64,
        /// How (comma-joined `amr` values).
        amr: String,
        /// The successor refresh token, sealed under the encryption key.
        sealed_successor: String,
        /// The session's expiry (Unix ms).
        expires_at_ms: i64,
    },
    /// The token was retired earlier and presented again: the session is now revoked.
    Reused {
        /// The revoked session.
        session_id: i64,
    },
}

/// A refresh-token rotation to attempt.
#[derive(Debug, Clone)]
pub struct RotateRequest<'a> {
    /// SHA-256 (hex) of the presented token.
    pub old_hash: &'a str,
    /// SHA-256 (hex) of its replacement.
    pub new_hash: &'a str,
    /// Now (Unix ms).
    pub now_ms: i64,
    /// Expiry of the replacement, which also becomes the session's expiry (Unix ms), unless
    /// the session's absolute end comes first.
    pub new_expires_at_ms: i64,
    /// `HUFU_SESSION_MAX_AGE` (ms): a session ends that long after its sign-in.
    pub max_age_ms: i64,
    /// A token rotated less than this long ago is a duplicate of that rotation, not reuse
    /// (`HUFU_REFRESH_REUSE_GRACE`, ms; 0 turns the grace off).
    pub reuse_grace_ms: i64,
    /// The replacement token sealed under the encryption key, kept with the retired token for
    /// the grace.
    pub sealed_successor: &'a str,
    /// The `refresh` audit entry to write with a rotation (its user is filled in).
    pub on_rotated: Option<&'a AuditRecord>,
    /// The `refresh_reuse` audit entry to write with the revocation a reuse causes.
    pub on_reused: Option<&'a AuditRecord>,
}
