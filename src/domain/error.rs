//! What can go wrong in the domain, in domain words. The HTTP layer turns each variant into a
//! status, an `error_code` and a localized message in one table (`http::error`).

/// Why one field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The field is missing (or null where a value is needed).
    Required,
    /// Shorter than the minimum (in characters).
    TooShort(usize),
    /// Longer than the maximum (in characters).
    TooLong(usize),
    /// Not of the required form.
    Invalid,
    /// Another account already has this value.
    Taken,
    /// The change would lock the caller out: an administrator disabling their own account or
    /// removing their own `admin` role (possibly the last administrator).
    SelfLockout,
}

impl Reason {
    /// The machine-readable `reason` of a `details` entry.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Required => "required",
            Reason::TooShort(_) => "too_short",
            Reason::TooLong(_) => "too_long",
            Reason::Invalid => "invalid",
            Reason::Taken => "taken",
            Reason::SelfLockout => "self_lockout",
        }
    }
}

/// One refused field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The request field's name.
    pub field: &'static str,
    /// Why it was refused.
    pub reason: Reason,
}

/// A value that must be unique across accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    /// The username (compared after NFKC and lower-casing).
    Username,
    /// The email (compared lower-cased).
    Email,
    /// The phone (compared in normalised form).
    Phone,
}

impl UniqueField {
    /// The request field's name.
    pub fn field(self) -> &'static str {
        match self {
            UniqueField::Username => "username",
            UniqueField::Email => "email",
            UniqueField::Phone => "phone",
        }
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer <jwt>`.
    Malformed,
    /// Bad signature, algorithm, issuer, audience, type, or not yet valid.
    Invalid,
    /// `exp` has passed.
    Expired,
    /// The session was revoked or the user disabled.
    Revoked,
    /// An EdDSA token names a key this node has not loaded; refused as `Invalid` once the
    /// keys have been reloaded and it is still unknown.
    UnknownKey,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// Unknown, or its session was logged out or revoked.
    Invalid,
    /// Past its lifetime.
    Expired,
    /// Retired and presented again: the session is now revoked.
    Reused,
}

/// How a WeChat call failed, as the contract sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatFailure {
    /// The code was wrong, expired or already used (40029/40163/40030/42003).
    CodeInvalid,
    /// WeChat's per-minute quota (45011).
    RateLimited,
    /// WeChat says the user is high-risk (40226).
    UserBlocked,
    /// -1, another errcode, or an answer that makes no sense.
    Unavailable,
    /// No answer within the timeout.
    Timeout,
}

/// A domain failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more fields are missing or invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A unique value is taken.
    #[error("{} taken", .0.field())]
    Taken(UniqueField),
    /// Wrong identifier or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// Self-registration is off.
    #[error("registration disabled")]
    RegistrationDisabled,
    /// A bearer token was refused.
    #[error("token refused: {0:?}")]
    Token(TokenError),
    /// A refresh token was refused.
    #[error("refresh token refused: {0:?}")]
    Refresh(RefreshError),
    /// No such user (or other resource).
    #[error("not found")]
    NotFound,
    /// WeChat sign-in is not configured (no appid/secret).
    #[error("WeChat not configured")]
    WechatNotConfigured,
    /// A WeChat call failed.
    #[error("WeChat failed: {0:?}")]
    Wechat(WechatFailure),
    /// Legacy encrypted data did not decrypt or is not for this app.
    #[error("WeChat data could not be decrypted")]
    WechatDecryptFailed,
    /// That WeChat identity belongs to another account.
    #[error("WeChat identity already bound")]
    WechatAlreadyBound,
    /// Removing the WeChat identity would leave no way to sign in.
    #[error("last login method")]
    LastLoginMethod,
    /// The OAuth `redirect_uri` is not on the allow-list.
    #[error("redirect_uri not allowed")]
    RedirectUriNotAllowed,
    /// The OAuth `state` is missing, forged, expired or replayed.
    #[error("OAuth state invalid")]
    OauthStateInvalid,
    /// Authenticated, but without the role the endpoint needs.
    #[error("forbidden")]
    Forbidden,
    /// A wrong, expired or replayed TOTP or recovery code, or a bad `mfa_token`.
    #[error("MFA code invalid")]
    MfaInvalid,
    /// No such session of this user.
    #[error("session not found")]
    SessionNotFound,
    /// Too many requests from this client IP.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// Too many failed sign-ins for this identifier.
    #[error("locked")]
    Locked {
        /// Seconds until the lock ends.
        retry_after: u64,
        /// Whether this attempt set the lock (the audit log records the moment of locking).
        just_locked: bool,
    },
    /// Too much work queued (password hashing); the client should retry shortly.
    #[error("busy")]
    Busy,
    /// The database did not answer in time or is unreachable.
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else; the cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// A validation failure of one field.
    pub fn field(field: &'static str, reason: Reason) -> Self {
        Error::Validation(vec![FieldError { field, reason }])
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
