//! How HTTP says a failure (contract section 6): the status of every `error_code` (one
//! table, [`status_of`]), the `WWW-Authenticate` and `Retry-After` headers, logging the cause
//! of a 5xx once (it is never sent), and the [`PendingError`] that the envelope layer renders
//! with the request id and the client's language. What a failure means and its words are not
//! decided here: the domain's `Error::problem` and `catalog` say those.

use crate::catalog::{Detail, ErrorCode, Problem, reasons};
use crate::domain::error::{Error as DomainError, TokenError, WechatFailure};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `Retry-After` of `WECHAT_RATE_LIMITED`: WeChat's quota behind 45011 is counted per minute.
const WECHAT_RETRY_AFTER_SECONDS: u64 = 60;

/// A failure on its way to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain failure.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// No route for the path.
    #[error("route not found")]
    RouteNotFound,
    /// The body is over the size limit.
    #[error("body too large")]
    BodyTooLarge,
    /// A non-empty body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Not JSON, or a field of the wrong type (`field` names it when known).
    #[error("invalid JSON")]
    InvalidJson {
        /// Path of the offending field, e.g. `password`.
        field: Option<String>,
    },
    /// `/readyz`: these dependencies do not answer.
    #[error("not ready")]
    NotReady(Vec<&'static str>),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Domain(DomainError::Token(e))
    }
}

/// An error response waiting for the envelope layer to render it.
#[derive(Debug, Clone)]
pub struct PendingError(pub Problem);

/// The status each `error_code` is answered with.
pub const fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::ValidationFailed => StatusCode::BAD_REQUEST,
        C::InvalidJson => StatusCode::BAD_REQUEST,
        C::InvalidCredentials => StatusCode::UNAUTHORIZED,
        C::TokenMissing => StatusCode::UNAUTHORIZED,
        C::TokenMalformed => StatusCode::UNAUTHORIZED,
        C::TokenInvalid => StatusCode::UNAUTHORIZED,
        C::TokenExpired => StatusCode::UNAUTHORIZED,
        C::TokenRevoked => StatusCode::UNAUTHORIZED,
        C::RefreshTokenInvalid => StatusCode::UNAUTHORIZED,
        C::RefreshTokenExpired => StatusCode::UNAUTHORIZED,
        C::RefreshTokenReused => StatusCode::UNAUTHORIZED,
        C::MfaInvalid => StatusCode::UNAUTHORIZED,
        C::Forbidden => StatusCode::FORBIDDEN,
        C::AccountDisabled => StatusCode::FORBIDDEN,
        C::ReauthRequired => StatusCode::FORBIDDEN,
        C::RegistrationDisabled => StatusCode::FORBIDDEN,
        C::WechatUserBlocked => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::UsernameTaken => StatusCode::CONFLICT,
        C::EmailTaken => StatusCode::CONFLICT,
        C::PhoneTaken => StatusCode::CONFLICT,
        C::WechatAlreadyBound => StatusCode::CONFLICT,
        C::LastLoginMethod => StatusCode::CONFLICT,
        C::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::AccountLocked => StatusCode::LOCKED,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::WechatRateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::WechatCodeInvalid => StatusCode::BAD_REQUEST,
        C::WechatDecryptFailed => StatusCode::BAD_REQUEST,
        C::RedirectUriNotAllowed => StatusCode::BAD_REQUEST,
        C::OauthStateInvalid => StatusCode::BAD_REQUEST,
        C::CodeInvalid => StatusCode::BAD_REQUEST,
        C::CodeChannelNotConfigured => StatusCode::NOT_IMPLEMENTED,
        C::CodeDeliveryFailed => StatusCode::SERVICE_UNAVAILABLE,
        C::WechatNotConfigured => StatusCode::NOT_IMPLEMENTED,
        C::WechatUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        C::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The pending error for a bare status (404, 405, 413, … from routing or a layer): the
/// generic text of the code that status stands for. The status itself is kept (a 408 from the
/// timeout says `SERVICE_UNAVAILABLE`, any other unexpected one `INTERNAL_ERROR`).
pub fn for_status(status: StatusCode) -> PendingError {
    let code = match status.as_u16() {
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::BodyTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        400 => ErrorCode::ValidationFailed,
        503 | 408 => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::InternalError,
    };
    PendingError(Problem::of(code))
}

impl ApiError {
    /// What the client is told, before the status is chosen.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Domain(e) => e.problem(),
            ApiError::RouteNotFound => Problem::of(ErrorCode::NotFound),
            ApiError::BodyTooLarge => Problem::of(ErrorCode::BodyTooLarge),
            ApiError::UnsupportedMediaType => Problem::of(ErrorCode::UnsupportedMediaType),
            ApiError::InvalidJson { field: None } => Problem::of(ErrorCode::InvalidJson),
            ApiError::InvalidJson { field: Some(field) } => {
                let text = reasons::wrong_type(field);
                let mut problem = Problem::new(ErrorCode::InvalidJson, text.clone());
                problem.details.push(Detail {
                    field: field.clone().into(),
                    reason: "wrong_type",
                    text,
                });
                problem
            }
            ApiError::NotReady(down) => {
                let mut problem = Problem::new(ErrorCode::ServiceUnavailable, reasons::not_ready(&down.join(", ")));
                problem.details = down
                    .iter()
                    .map(|name| Detail {
                        field: (*name).into(),
                        reason: "unreachable",
                        text: reasons::no_answer(name),
                    })
                    .collect();
                problem
            }
        }
    }

    /// Status, code and texts of this error.
    pub fn describe(&self) -> (StatusCode, PendingError) {
        let problem = self.problem();
        (status_of(problem.code), PendingError(problem))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Domain(DomainError::Internal(cause)) => {
                tracing::error!(error = ?cause, "request failed")
            }
            ApiError::Domain(DomainError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        let (status, pending) = self.describe();
        let mut response = status.into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Domain(DomainError::Token(TokenError::Missing)) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Domain(DomainError::Token(_)) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Domain(DomainError::RateLimited { retry_after } | DomainError::Locked { retry_after, .. }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            // Contract section 1: every 429 carries Retry-After. WeChat does not say when its
            // limit ends, but 45011 is its per-minute quota ("api minute-quota reach limit
            // ... retry next minute"), so a minute is the wait that is sure to be enough.
            ApiError::Domain(DomainError::Wechat(WechatFailure::RateLimited)) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(WECHAT_RETRY_AFTER_SECONDS));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response.extensions_mut().insert(pending);
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::{Reason, UniqueField};

    #[test]
    fn every_domain_error_has_its_contract_status_and_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                DomainError::field("email", Reason::Invalid).into(),
                400,
                "VALIDATION_FAILED",
            ),
            (ApiError::InvalidJson { field: None }, 400, "INVALID_JSON"),
            (DomainError::InvalidCredentials.into(), 401, "INVALID_CREDENTIALS"),
            (TokenError::Missing.into(), 401, "TOKEN_MISSING"),
            (TokenError::Malformed.into(), 401, "TOKEN_MALFORMED"),
            (TokenError::Invalid.into(), 401, "TOKEN_INVALID"),
            (TokenError::Expired.into(), 401, "TOKEN_EXPIRED"),
            (TokenError::Revoked.into(), 401, "TOKEN_REVOKED"),
            (DomainError::AccountDisabled.into(), 403, "ACCOUNT_DISABLED"),
            (DomainError::RegistrationDisabled.into(), 403, "REGISTRATION_DISABLED"),
            (DomainError::Forbidden.into(), 403, "FORBIDDEN"),
            (DomainError::MfaInvalid.into(), 401, "MFA_INVALID"),
            (DomainError::NotFound.into(), 404, "NOT_FOUND"),
            (DomainError::Taken(UniqueField::Username).into(), 409, "USERNAME_TAKEN"),
            (DomainError::Taken(UniqueField::Email).into(), 409, "EMAIL_TAKEN"),
            (DomainError::Taken(UniqueField::Phone).into(), 409, "PHONE_TAKEN"),
            (ApiError::BodyTooLarge, 413, "BODY_TOO_LARGE"),
            (ApiError::UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
            (DomainError::Busy.into(), 503, "SERVICE_UNAVAILABLE"),
            (
                DomainError::Unavailable(anyhow::anyhow!("down")).into(),
                503,
                "SERVICE_UNAVAILABLE",
            ),
            (
                DomainError::Internal(anyhow::anyhow!("secret detail")).into(),
                500,
                "INTERNAL_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            let (s, PendingError(problem)) = error.describe();
            assert_eq!((s.as_u16(), problem.code.as_str()), (status, code));
            assert!(!problem.text.en().contains("secret detail"));
        }
    }
}
