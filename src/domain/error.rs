//! What can go wrong in the domain, in domain words, and what each failure means to a person:
//! its stable `error_code` ([`Error::code`]) and its texts and `details` ([`Error::problem`]),
//! worded by `catalog`. How a transport says it (HTTP status, headers) is not decided here:
//! this module must not depend on `http` or the command line.

use crate::catalog::{Detail, ErrorCode, Problem, fields, reasons};

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

impl FieldError {
    /// This refusal as a `details` entry, in both languages.
    pub fn detail(&self) -> Detail {
        let field = self.field;
        let text = match self.reason {
            Reason::Required => fields::required(field),
            Reason::TooShort(min) => fields::too_short(field, min),
            Reason::TooLong(max) => fields::too_long(field, max),
            Reason::Invalid => fields::invalid(field),
            Reason::Taken => fields::taken(field),
            Reason::SelfLockout => fields::self_lockout(field),
        };
        Detail {
            field: field.into(),
            reason: self.reason.code(),
            text,
        }
    }
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
    /// A wrong, expired, used, exhausted or other-purpose one-time code (or one for a target
    /// with no account where none may be made).
    #[error("one-time code invalid")]
    CodeInvalid,
    /// No delivery is configured for this channel.
    #[error("code channel not configured")]
    CodeChannelNotConfigured,
    /// The provider refused the message or did not answer in time.
    #[error("code delivery failed")]
    CodeDeliveryFailed,
    /// A sensitive change needs a credential proved within `HUFU_REAUTH_WINDOW`.
    #[error("reauthentication required")]
    ReauthRequired,
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

    /// The stable `error_code` this failure is reported with (contract section 6).
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Error::Validation(_) => C::ValidationFailed,
            Error::Taken(UniqueField::Username) => C::UsernameTaken,
            Error::Taken(UniqueField::Email) => C::EmailTaken,
            Error::Taken(UniqueField::Phone) => C::PhoneTaken,
            Error::InvalidCredentials => C::InvalidCredentials,
            Error::AccountDisabled => C::AccountDisabled,
            Error::RegistrationDisabled => C::RegistrationDisabled,
            Error::Token(TokenError::Missing) => C::TokenMissing,
            Error::Token(TokenError::Malformed) => C::TokenMalformed,
            // An unknown key is still unknown after a reload: to the client, a bad token.
            Error::Token(TokenError::Invalid | TokenError::UnknownKey) => C::TokenInvalid,
            Error::Token(TokenError::Expired) => C::TokenExpired,
            Error::Token(TokenError::Revoked) => C::TokenRevoked,
            Error::Refresh(RefreshError::Invalid) => C::RefreshTokenInvalid,
            Error::Refresh(RefreshError::Expired) => C::RefreshTokenExpired,
            Error::Refresh(RefreshError::Reused) => C::RefreshTokenReused,
            Error::NotFound | Error::SessionNotFound => C::NotFound,
            Error::WechatNotConfigured => C::WechatNotConfigured,
            Error::Wechat(WechatFailure::CodeInvalid) => C::WechatCodeInvalid,
            Error::Wechat(WechatFailure::RateLimited) => C::WechatRateLimited,
            Error::Wechat(WechatFailure::UserBlocked) => C::WechatUserBlocked,
            Error::Wechat(WechatFailure::Unavailable) => C::WechatUnavailable,
            Error::Wechat(WechatFailure::Timeout) => C::UpstreamTimeout,
            Error::WechatDecryptFailed => C::WechatDecryptFailed,
            Error::WechatAlreadyBound => C::WechatAlreadyBound,
            Error::LastLoginMethod => C::LastLoginMethod,
            Error::RedirectUriNotAllowed => C::RedirectUriNotAllowed,
            Error::OauthStateInvalid => C::OauthStateInvalid,
            Error::Forbidden => C::Forbidden,
            Error::MfaInvalid => C::MfaInvalid,
            Error::CodeInvalid => C::CodeInvalid,
            Error::ReauthRequired => C::ReauthRequired,
            Error::CodeChannelNotConfigured => C::CodeChannelNotConfigured,
            Error::CodeDeliveryFailed => C::CodeDeliveryFailed,
            Error::RateLimited { .. } => C::RateLimited,
            Error::Locked { .. } => C::AccountLocked,
            Error::Busy | Error::Unavailable(_) => C::ServiceUnavailable,
            Error::Internal(_) => C::InternalError,
        }
    }

    /// What a person is told: the code, its text in both languages, and per-field `details`.
    /// The cause inside `Unavailable` or `Internal` is never part of it (it is only logged).
    pub fn problem(&self) -> Problem {
        let code = self.code();
        match self {
            Error::Validation(fields) => {
                let details: Vec<Detail> = fields.iter().map(FieldError::detail).collect();
                let text = match details.as_slice() {
                    [] => reasons::VALIDATION_FAILED.into(),
                    [only] => only.text.clone(),
                    [first, rest @ ..] => reasons::first_of_many(&first.text, rest.len()),
                };
                Problem { code, text, details }
            }
            Error::Taken(field) => {
                let mut problem = Problem::of(code);
                problem.details.push(Detail {
                    field: field.field().into(),
                    reason: Reason::Taken.code(),
                    text: code.text().into(),
                });
                problem
            }
            Error::NotFound => Problem::new(code, reasons::USER_NOT_FOUND),
            Error::SessionNotFound => Problem::new(code, reasons::SESSION_NOT_FOUND),
            Error::Busy => Problem::new(code, reasons::SIGN_INS_BUSY),
            Error::Unavailable(_) => Problem::new(code, reasons::DATABASE_UNAVAILABLE),
            _ => Problem::of(code),
        }
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_list_every_field_in_both_languages() {
        let problem = Error::Validation(vec![
            FieldError {
                field: "username",
                reason: Reason::TooShort(3),
            },
            FieldError {
                field: "email",
                reason: Reason::Invalid,
            },
        ])
        .problem();
        assert_eq!(problem.details.len(), 2);
        assert_eq!(problem.details[0].reason, "too_short");
        assert!(problem.text.en().contains("at least 3") && problem.text.en().contains("and 1 more"));
        assert!(problem.text.zh().contains("用户名"));
    }
}
