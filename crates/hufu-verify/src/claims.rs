//! The claims of a hufu access token, and the axum extractor that hands them to a handler
//! after [`crate::HufuAuthLayer`] has verified the token.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// The `typ` header of every hufu access token (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// How far in the future `nbf` and `iat` may be: the clock difference hufu tolerates.
pub const CLOCK_SKEW_SECONDS: i64 = 5;

/// The claims of a hufu access token; every field is required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// User id as a decimal string (always equal to `user_id`).
    pub sub: String,
    /// User id as a number.
    pub user_id: i64,
    /// Username when the token was issued.
    pub username: String,
    /// Roles when the token was issued.
    pub roles: Vec<String>,
    /// Session id as a decimal string.
    pub sid: String,
    /// Unique token id.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

impl AccessClaims {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Extracts the [`AccessClaims`] that [`crate::HufuAuthLayer`] put in the request extensions.
///
/// It does not verify anything itself: the layer already did, and answered 401/503 for any
/// request without a good token. On a route the layer does not cover it rejects with 500
/// ([`MissingLayer`]), because that is a wiring mistake, not the caller's fault. Use
/// `Option<HufuClaims>` where the claims are welcome but not required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HufuClaims(pub AccessClaims);

impl std::ops::Deref for HufuClaims {
    type Target = AccessClaims;

    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HufuClaims {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AccessClaims>()
            .cloned()
            .map(HufuClaims)
            .ok_or(MissingLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for HufuClaims {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AccessClaims>().cloned().map(HufuClaims))
    }
}

/// The rejection of [`HufuClaims`] on a route that [`crate::HufuAuthLayer`] does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("HufuAuthLayer is not applied to this route")]
pub struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        crate::error::envelope(StatusCode::INTERNAL_SERVER_ERROR, &self.to_string(), "INTERNAL_ERROR")
    }
}
