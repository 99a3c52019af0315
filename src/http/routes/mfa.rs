//! The TOTP second factor over HTTP: `POST /api/v1/users/mfa/totp/{setup,enable,disable}`
//! (Bearer) and `POST /api/v1/auth/mfa` (completing a password sign-in), plus the
//! `mfa_required` answer that login gives instead of tokens.

use super::auth::LoginResponse;
use crate::catalog::Success;
use crate::domain::limits::Action;
use crate::domain::mfa::{self, MfaChallenge};
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::openapi::{EmptyEnvelope, EnableEnvelope, ErrorEnvelope, LoginEnvelope, SetupEnvelope, errors};
use crate::secret::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Login's answer when the account has TOTP on (contract section 4).
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredResponse<'a> {
    /// Always `true`.
    mfa_required: bool,
    /// Pass to `POST /api/v1/auth/mfa` with the code.
    mfa_token: &'a str,
    /// `totp` and `recovery_code`.
    #[schema(value_type = Vec<String>)]
    methods: [&'static str; 2],
}

impl<'a> MfaRequiredResponse<'a> {
    /// The answer for a challenge.
    pub fn from_challenge(challenge: &'a MfaChallenge) -> Self {
        Self {
            mfa_required: true,
            mfa_token: challenge.mfa_token.expose(),
            methods: mfa::METHODS,
        }
    }
}

/// What an authenticator app needs; the only response that ever holds the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupResponse<'a> {
    /// The base32 TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s).
    secret: &'a str,
    /// The `otpauth://totp/…` URI for a QR code.
    otpauth_uri: &'a str,
}

/// Starts TOTP setup for the caller (replacing an unconfirmed one).
#[utoipa::path(
    post,
    path = "/api/v1/users/mfa/totp/setup",
    tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new secret; confirm it with `/enable`", body = SetupEnvelope),
        (status = 400, description = "`VALIDATION_FAILED`: TOTP is already enabled", body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = "`REAUTH_REQUIRED`: the session proved no credential within `HUFU_REAUTH_WINDOW`; `POST /auth/reauth` first", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn setup(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    caller.require_recent_proof(&state)?;
    let setup = mfa::setup(&state.core, caller.user_id()).await?;
    Ok(Reply::ok(&SetupResponse {
        secret: setup.secret.expose(),
        otpauth_uri: setup.otpauth_uri.expose(),
    }))
}

/// `{code}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TotpCodeRequest)]
pub struct CodeRequest {
    /// A current TOTP code.
    #[schema(value_type = String)]
    code: Option<SecretString>,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnableResponse {
    /// Ten single-use recovery codes.
    recovery_codes: Vec<String>,
}

/// Enables TOTP with a code from the pending setup.
#[utoipa::path(
    post,
    path = "/api/v1/users/mfa/totp/enable",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is on", body = EnableEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "A token failure (see `TOKEN_*`), or `MFA_INVALID` for a wrong code", body = ErrorEnvelope),
        (status = 403, description = "`REAUTH_REQUIRED`: the session proved no credential within `HUFU_REAUTH_WINDOW`; `POST /auth/reauth` first", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn enable(
    State(state): State<AppState>,
    caller: Authenticated,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    caller.require_recent_proof(&state)?;
    let recovery_codes = mfa::enable(&state.core, caller.user_id(), body.code, &client).await?;
    Ok(Reply::ok(&EnableResponse { recovery_codes }))
}

/// `{code}` or `{password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DisableRequest {
    /// A current TOTP code (or a recovery code)…
    #[schema(value_type = Option<String>, nullable = false)]
    code: Option<SecretString>,
    /// …or the account password.
    #[schema(value_type = Option<String>, nullable = false, format = Password)]
    password: Option<SecretString>,
}

/// Switches TOTP off.
#[utoipa::path(
    post,
    path = "/api/v1/users/mfa/totp/disable",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = DisableRequest,
    responses(
        (status = 200, description = "TOTP is off", body = EmptyEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "A token failure (see `TOKEN_*`), `MFA_INVALID` or `INVALID_CREDENTIALS`", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 423, description = "`ACCOUNT_LOCKED`: too many wrong passwords or codes for this account; `Retry-After`", body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn disable(
    State(state): State<AppState>,
    caller: Authenticated,
    Client(client): Client,
    JsonBody(body): JsonBody<DisableRequest>,
) -> ApiResult<Reply> {
    // Each request checks a password (argon2) or guesses a code: counted per IP first.
    state.core.limits.rate(Action::Verify, client.ip.as_deref()).await?;
    mfa::disable(&state.core, caller.user_id(), body.code, body.password, &client).await?;
    Ok(Reply::new(StatusCode::OK, Success::Ok, &serde_json::Value::Null))
}

/// `{mfa_token, code}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteRequest {
    /// The `mfa_token` from login.
    #[schema(value_type = String)]
    mfa_token: Option<SecretString>,
    /// A TOTP code or a recovery code (a recovery code works once).
    #[schema(value_type = String)]
    code: Option<SecretString>,
}

/// Completes a password sign-in with the second factor. Counted under the login rate limit:
/// it is the other half of a login.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa",
    tag = "auth",
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "`MFA_INVALID`: wrong or expired code or `mfa_token`", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 423, description = "`ACCOUNT_LOCKED`: too many wrong codes; `Retry-After`", body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn complete(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<CompleteRequest>,
) -> ApiResult<Reply> {
    let outcome = async {
        state.core.limits.rate(Action::Login, client.ip.as_deref()).await?;
        Ok::<_, crate::http::error::ApiError>(mfa::complete(&state.core, body.mfa_token, body.code, &client).await?)
    }
    .await;
    crate::http::observe::count_login(&state.metrics, crate::metrics::LoginMethod::Mfa, &outcome);
    let signed_in = outcome?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::LoggedIn,
        &LoginResponse::from_signed_in(&signed_in),
    ))
}
