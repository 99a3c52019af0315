//! The TOTP second factor over HTTP: `POST /api/v1/users/mfa/totp/{setup,enable,disable}`
//! (Bearer) and `POST /api/v1/auth/mfa` (completing a password sign-in), plus the
//! `mfa_required` answer that login gives instead of tokens.

use super::auth::LoginResponse;
use crate::app::AppState;
use crate::domain::limits::Action;
use crate::domain::mfa::{self, MfaChallenge};
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::i18n::Success;
use crate::secret::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// Login's answer when the account has TOTP on (contract section 4).
#[derive(Debug, Serialize)]
pub struct MfaRequiredResponse<'a> {
    mfa_required: bool,
    mfa_token: &'a str,
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
#[derive(Debug, Serialize)]
struct SetupResponse<'a> {
    secret: &'a str,
    otpauth_uri: &'a str,
}

/// Starts TOTP setup for the caller (replacing an unconfirmed one).
pub async fn setup(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    let setup = mfa::setup(&state.core, caller.user_id()).await?;
    Ok(Reply::ok(&SetupResponse {
        secret: setup.secret.expose(),
        otpauth_uri: setup.otpauth_uri.expose(),
    }))
}

/// `{code}`.
#[derive(Debug, Deserialize)]
pub struct CodeRequest {
    code: Option<SecretString>,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize)]
struct EnableResponse {
    recovery_codes: Vec<String>,
}

/// Enables TOTP with a code from the pending setup.
pub async fn enable(
    State(state): State<AppState>,
    caller: Authenticated,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    let recovery_codes = mfa::enable(&state.core, caller.user_id(), body.code, &client).await?;
    Ok(Reply::ok(&EnableResponse { recovery_codes }))
}

/// `{code}` or `{password}`.
#[derive(Debug, Deserialize)]
pub struct DisableRequest {
    code: Option<SecretString>,
    password: Option<SecretString>,
}

/// Switches TOTP off.
pub async fn disable(
    State(state): State<AppState>,
    caller: Authenticated,
    Client(client): Client,
    JsonBody(body): JsonBody<DisableRequest>,
) -> ApiResult<Reply> {
    mfa::disable(&state.core, caller.user_id(), body.code, body.password, &client).await?;
    Ok(Reply::new(StatusCode::OK, Success::Ok, &serde_json::Value::Null))
}

/// `{mfa_token, code}`.
#[derive(Debug, Deserialize)]
pub struct CompleteRequest {
    mfa_token: Option<SecretString>,
    code: Option<SecretString>,
}

/// Completes a password sign-in with the second factor. Counted under the login rate limit:
/// it is the other half of a login.
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
