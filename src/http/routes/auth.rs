//! `POST /api/v1/auth/register` and `POST /api/v1/auth/login`.

use crate::app::AppState;
use crate::domain::accounts::{self, LoginOutcome, Registration, SignedIn};
use crate::domain::limits::Action;
use crate::domain::sessions;
use crate::domain::user::User;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::i18n::Success;
use crate::http::observe;
use crate::metrics::{LoginMethod, LoginResult};
use crate::secret::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// Registration body; every field optional here so a missing one is a 400 with details.
#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    username: Option<String>,
    email: Option<String>,
    password: Option<SecretString>,
    phone: Option<String>,
}

/// Creates an account.
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Register, client.ip.as_deref()).await?;
    let input = Registration {
        username: body.username,
        email: body.email,
        password: body.password,
        phone: body.phone,
    };
    let user = accounts::register(&state.core, input, &client).await?;
    Ok(Reply::new(StatusCode::CREATED, Success::Registered, &user))
}

/// Login body: `username` may be a username, an email or a phone.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    username: Option<String>,
    password: Option<SecretString>,
}

/// The login response of contract section 3.
#[derive(Debug, Serialize)]
pub struct LoginResponse<'a> {
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
    refresh_expires_in: u64,
    user: &'a User,
}

impl<'a> LoginResponse<'a> {
    /// The response for a completed sign-in.
    pub fn from_signed_in(signed_in: &'a SignedIn) -> Self {
        Self {
            token: &signed_in.access.token,
            token_type: "Bearer",
            expires_in: signed_in.access.expires_in,
            refresh_token: signed_in.refresh_token.expose(),
            refresh_expires_in: signed_in.refresh_expires_in,
            user: &signed_in.user,
        }
    }
}

/// Signs in with a password.
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Reply> {
    let outcome = async {
        state.core.limits.rate(Action::Login, client.ip.as_deref()).await?;
        Ok::<_, crate::http::error::ApiError>(
            accounts::login(&state.core, body.username, body.password, &client).await?,
        )
    }
    .await;
    let metric = match &outcome {
        Ok(LoginOutcome::SignedIn(_)) => LoginResult::Success,
        Ok(LoginOutcome::MfaRequired(_)) => LoginResult::MfaRequired,
        Err(error) => observe::login_failure(error),
    };
    state.metrics.login(LoginMethod::Password, metric);
    match outcome? {
        LoginOutcome::SignedIn(signed_in) => Ok(Reply::new(
            StatusCode::OK,
            Success::LoggedIn,
            &LoginResponse::from_signed_in(&signed_in),
        )),
        // Not signed in yet, so not "Logged in": the plain status message.
        LoginOutcome::MfaRequired(challenge) => {
            Ok(Reply::ok(&super::mfa::MfaRequiredResponse::from_challenge(&challenge)))
        }
    }
}

/// Refresh body.
#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    refresh_token: Option<SecretString>,
}

/// Rotates a refresh token into a new pair for the same session.
pub async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Refresh, client.ip.as_deref()).await?;
    let signed_in = sessions::refresh(&state.core, body.refresh_token, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::Refreshed,
        &LoginResponse::from_signed_in(&signed_in),
    ))
}

/// Logout body; empty means this session only.
#[derive(Debug, Deserialize)]
pub struct LogoutRequest {
    #[serde(default)]
    all: bool,
}

/// What logout revoked.
#[derive(Debug, Serialize)]
struct LogoutResponse {
    revoked_sessions: usize,
}

/// Revokes this session, or all of the caller's sessions.
pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<LogoutRequest>,
) -> ApiResult<Reply> {
    let revoked = sessions::logout(&state.core, caller.user_id(), caller.session_id()?, body.all, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::LoggedOut,
        &LogoutResponse {
            revoked_sessions: revoked,
        },
    ))
}
