//! Why a token was refused, mapped to hufu's error codes and rendered as hufu's JSON error
//! envelope; and why a [`crate::Verifier`] could not be built.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Why a token was refused. Each variant maps to one of hufu's `error_code`s via [`Self::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    Missing,
    /// Not `Bearer <token>`, or not three base64url parts with a JSON header.
    #[error("Authorization header must be 'Bearer <token>' with a JWT")]
    Malformed,
    /// Well formed, but refused: algorithm, type, key, signature or claims.
    #[error("invalid token")]
    Invalid,
    /// Authentic, but `now >= exp`.
    #[error("token has expired")]
    Expired,
    /// hufu's JWKS could not be fetched and the token's key is not cached.
    #[error("the token issuer's keys could not be fetched, retry shortly")]
    Unavailable,
}

impl VerifyError {
    /// hufu's `error_code` for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "TOKEN_MISSING",
            Self::Malformed => "TOKEN_MALFORMED",
            Self::Invalid => "TOKEN_INVALID",
            Self::Expired => "TOKEN_EXPIRED",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The HTTP status hufu answers with: 503 for [`Self::Unavailable`], 401 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// hufu's error envelope, less the `request_id` that only hufu can assign.
#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    error: &'a str,
    error_code: &'a str,
    timestamp: &'a str,
}

/// Renders an error envelope with the given status; shared with the extractor's rejection.
pub(crate) fn envelope(status: StatusCode, error: &str, error_code: &str) -> Response {
    let timestamp = rfc3339_seconds(time::OffsetDateTime::now_utc());
    let body = ErrorBody {
        code: status.as_u16(),
        message: status.canonical_reason().unwrap_or("Error"),
        error,
        error_code,
        timestamp: &timestamp,
    };
    // Serialising a struct of strings and a number cannot fail; the fallback keeps the
    // answer JSON if it ever did.
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl IntoResponse for VerifyError {
    fn into_response(self) -> Response {
        let mut response = envelope(self.status(), &self.to_string(), self.code());
        let headers = response.headers_mut();
        // The same challenges hufu sends: a bare one when no credentials came, the
        // RFC 6750 `invalid_token` one when they came and were refused.
        match self {
            Self::Missing => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Malformed | Self::Invalid | Self::Expired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            // Not the token's fault: no challenge, and a hint to retry like hufu's own 503s.
            Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
        }
        response
    }
}

/// Formats `at` as `2026-01-01T12:00:00Z`: hufu's one timestamp format.
fn rfc3339_seconds(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// Why a [`crate::Verifier`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The JWKS URL does not parse.
    #[error("invalid JWKS URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be created (e.g. no usable TLS roots).
    #[error("cannot create the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_whole_seconds_and_a_z_suffix() {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_767_268_800_987_000_000).unwrap();
        assert_eq!(rfc3339_seconds(at), "2026-01-01T12:00:00Z");
    }

    #[test]
    fn every_refusal_has_hufus_code_and_status() {
        let cases = [
            (VerifyError::Missing, "TOKEN_MISSING", 401),
            (VerifyError::Malformed, "TOKEN_MALFORMED", 401),
            (VerifyError::Invalid, "TOKEN_INVALID", 401),
            (VerifyError::Expired, "TOKEN_EXPIRED", 401),
            (VerifyError::Unavailable, "SERVICE_UNAVAILABLE", 503),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.status().as_u16(), status);
        }
    }
}
