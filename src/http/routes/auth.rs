//! Signing up and the session's tokens: `POST /api/v1/auth/register`, `/login` (a password
//! sign-in, answering tokens or `mfa_required`), `/refresh` (rotating the token pair) and
//! `/logout` (Bearer; this session or all). Also the `LoginResponse` that the MFA step
//! (`mfa.rs`) and WeChat's sign-ins (`wechat.rs`) answer with. Each handler applies its rate
//! limit (none for logout), calls one domain function and wraps the result; login also counts
//! its outcome in the metrics. No SQL or cache here: the domain does the work.

use crate::catalog::Success;
use crate::domain::accounts::{self, LoginOutcome};
use crate::domain::input::{Credentials, RegistrationForm};
use crate::domain::limits::Action;
use crate::domain::sessions;
use crate::domain::sessions::SignedIn;
use crate::domain::user::User;
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::observe;
use crate::http::openapi::{ErrorEnvelope, LoginEnvelope, LoginOrMfaEnvelope, LogoutEnvelope, UserEnvelope, errors};
use crate::metrics::{LoginMethod, LoginResult};
use crate::secret::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Registration body; every field optional here so a missing one is a 400 with details.
/// The schema says what a valid request holds.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 letters, digits, `_`, `.`, `-`; unique case-insensitively.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    username: Option<String>,
    /// A valid address, unique case-insensitively.
    #[schema(value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
    /// At least 8 characters by default (configurable, never below 6), at most 128.
    #[schema(value_type = String, format = Password, min_length = 6, max_length = 128)]
    password: Option<SecretString>,
    /// Mainland China mobile or E.164; required unless `HUFU_REQUIRE_PHONE=false`.
    #[schema(value_type = Option<String>, nullable = false, pattern = "^(1[3-9][0-9]{9}|\\+[0-9]{8,15})$")]
    phone: Option<String>,
    /// A `register` code sent to the email: the account is created with it verified
    /// (required when `HUFU_REQUIRE_VERIFIED` lists `email`).
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[0-9]{6}$")]
    email_code: Option<String>,
    /// A `register` code sent to the phone (required when `HUFU_REQUIRE_VERIFIED` lists `phone`).
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[0-9]{6}$")]
    phone_code: Option<String>,
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; `data` is the new user", body = UserEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 403, description = "`REGISTRATION_DISABLED`", body = ErrorEnvelope),
        (status = 409, description = "`USERNAME_TAKEN`, `EMAIL_TAKEN` or `PHONE_TAKEN`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Register, client.ip.as_deref()).await?;
    let form = RegistrationForm {
        username: body.username,
        email: body.email,
        password: body.password,
        phone: body.phone,
        email_code: body.email_code,
        phone_code: body.phone_code,
    };
    // Parsed by `register`, after its check that registration is open.
    let user = accounts::register(&state.core, form, &client).await?;
    Ok(Reply::new(StatusCode::CREATED, Success::Registered, &user))
}

/// Login body: `username` may be a username, an email or a phone.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The username, the email or the phone.
    #[schema(value_type = String)]
    username: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: Option<SecretString>,
}

/// The login response of contract section 3.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse<'a> {
    /// The access token (a JWT).
    token: &'a str,
    /// Always `Bearer`.
    #[schema(value_type = String, pattern = "^Bearer$")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The opaque refresh token.
    refresh_token: &'a str,
    /// Seconds until the refresh token expires.
    refresh_expires_in: u64,
    #[schema(value_type = User)]
    user: &'a User,
}

/// What login answers: tokens, or a request for the second factor.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginOrMfa<'a> {
    /// Signed in.
    SignedIn(LoginResponse<'a>),
    /// The account has TOTP on: complete with `POST /api/v1/auth/mfa`.
    MfaRequired(super::mfa::MfaRequiredResponse<'a>),
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or (for an MFA user) `mfa_required` with an `mfa_token`",
         body = LoginOrMfaEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "`INVALID_CREDENTIALS`: wrong identifier or password", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED` (after the right password)", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 423, description = "`ACCOUNT_LOCKED`: too many failed sign-ins; `Retry-After`", body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Reply> {
    let outcome = async {
        state.core.limits.rate(Action::Login, client.ip.as_deref()).await?;
        let credentials = Credentials::parse(body.username, body.password)?;
        Ok::<_, crate::http::error::ApiError>(accounts::login(&state.core, credentials, &client).await?)
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
            &LoginOrMfa::SignedIn(LoginResponse::from_signed_in(&signed_in)),
        )),
        // Not signed in yet, so not "Logged in": the plain status message.
        LoginOutcome::MfaRequired(challenge) => Ok(Reply::ok(&LoginOrMfa::MfaRequired(
            super::mfa::MfaRequiredResponse::from_challenge(&challenge),
        ))),
    }
}

/// Refresh body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    #[schema(value_type = String)]
    refresh_token: Option<SecretString>,
}

/// Rotates a refresh token into a new pair for the same session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token is retired", body = LoginEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "`REFRESH_TOKEN_INVALID`, `REFRESH_TOKEN_EXPIRED` or `REFRESH_TOKEN_REUSED` \
            (the session is now revoked)", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
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
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// `true` revokes every session of the caller, not just this one.
    #[serde(default)]
    all: bool,
}

/// What logout revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutResponse {
    /// How many sessions were revoked.
    revoked_sessions: usize,
}

/// Revokes this session, or all of the caller's sessions.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    request_body(content = Option<LogoutRequest>, description = "Optional; empty means this session only"),
    responses(
        (status = 200, description = "Logged out", body = LogoutEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
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

/// Reauthentication body: exactly one of `password`, `code` (TOTP or recovery code), or
/// `channel` with `code` (a `reauth` code from `POST /users/codes`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReauthRequest {
    #[schema(value_type = Option<String>, nullable = false, format = Password)]
    password: Option<SecretString>,
    /// A TOTP or recovery code, or with `channel` the six digits of a `reauth` code.
    #[schema(value_type = Option<String>, nullable = false)]
    code: Option<String>,
    /// `sms` or `email`, for a `reauth` code.
    #[schema(value_type = Option<String>, nullable = false, pattern = "^(sms|email)$")]
    channel: Option<String>,
}

/// Proves a credential again for the caller's session: a fresh login response with a new
/// `auth_time`, whose refresh token replaces the session's.
#[utoipa::path(
    post,
    path = "/api/v1/auth/reauth",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ReauthRequest,
    responses(
        (status = 200, description = "Proved: new tokens for the same session", body = LoginEnvelope),
        (status = 400, description = "`CODE_INVALID`, or a malformed request", body = ErrorEnvelope),
        (status = 401, description = "`INVALID_CREDENTIALS`, `MFA_INVALID`, or the token refused", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED`", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 423, description = "`ACCOUNT_LOCKED`: too many wrong answers; `Retry-After`", body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn reauth(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<ReauthRequest>,
) -> ApiResult<Reply> {
    // An authenticated check of a credential: the verify limit, like a password change.
    state.core.limits.rate(Action::Verify, client.ip.as_deref()).await?;
    let proof = crate::domain::reauth::Proof::parse(body.password, body.code, body.channel)?;
    let session = caller.session_id()?;
    let signed_in = crate::domain::reauth::reauth(&state.core, caller.user_id(), session, proof, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::Ok,
        &LoginResponse::from_signed_in(&signed_in),
    ))
}
