//! One-time codes (contract section 10): `POST /api/v1/auth/codes` (unauthenticated sends),
//! `POST /api/v1/auth/login/code` (code sign-in, with sign-up), `POST /api/v1/auth/password/reset`,
//! and for the signed-in user `POST /api/v1/users/codes` and `POST /api/v1/users/verify`.
//! Each handler parses its body, calls one domain function and wraps the result.

use crate::catalog::Success;
use crate::domain::accounts::LoginOutcome;
use crate::domain::codes::{self, Sent};
use crate::domain::input::{
    CodeForm, CodeLogin, CodeUseForm, PasswordReset, PublicCodeRequest, UserCodeRequest, VerifyRequest,
};
use crate::domain::{code_login, identifiers};
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody, Language};
use crate::http::observe;
use crate::http::openapi::{CodeLoginEnvelope, CodeSentEnvelope, EmptyEnvelope, ErrorEnvelope, UserEnvelope, errors};
use crate::http::routes::auth::LoginResponse;
use crate::metrics::{LoginMethod, LoginResult};
use crate::secret::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A code send.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// `sms` or `email`.
    #[schema(value_type = String, pattern = "^(sms|email)$")]
    channel: Option<String>,
    /// The phone (section 2 form) or email address. `/users/codes` takes it only for `change`.
    #[schema(value_type = Option<String>)]
    target: Option<String>,
    /// `/auth/codes`: `login`, `register` or `reset_password`; `/users/codes`: `verify`,
    /// `reauth` or `change`.
    #[schema(value_type = String, pattern = "^(login|register|reset_password|verify|change|reauth)$")]
    purpose: Option<String>,
}

/// What a send answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Seconds the code stays valid.
    expires_in: u64,
    /// Seconds until another code may be sent to this target.
    resend_after: u64,
}

fn sent_reply(sent: Sent) -> Reply {
    Reply::new(
        StatusCode::OK,
        Success::CodeSent,
        &CodeSent {
            expires_in: sent.expires_in,
            resend_after: sent.resend_after,
        },
    )
}

impl CodeRequest {
    fn form(self) -> CodeForm {
        CodeForm {
            channel: self.channel,
            target: self.target,
            purpose: self.purpose,
        }
    }
}

/// Sends a code for sign-in, registration or a password reset. Answers alike whether or not
/// an account has the target; the message is delivered after the answer.
#[utoipa::path(
    post,
    path = "/api/v1/auth/codes",
    tag = "codes",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Accepted (whether or not the target has an account)", body = CodeSentEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: per IP, the resend interval or the daily cap; `Retry-After`",
         body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = "`CODE_CHANNEL_NOT_CONFIGURED`", body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn send_code(
    State(state): State<AppState>,
    Client(client): Client,
    Language(lang): Language,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    let request = PublicCodeRequest::parse(body.form())?;
    let sent = codes::send_public(&state.core, request, lang, &client).await?;
    Ok(sent_reply(sent))
}

/// Sends a code to the caller: `verify`/`reauth` to their own email or phone, `change` to a
/// new one. Delivered before the answer.
#[utoipa::path(
    post,
    path = "/api/v1/users/codes",
    tag = "codes",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Delivered", body = CodeSentEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 409, description = "`EMAIL_TAKEN` or `PHONE_TAKEN`: another account holds it verified", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = "`CODE_CHANNEL_NOT_CONFIGURED`", body = ErrorEnvelope),
        (status = 503, description = "`CODE_DELIVERY_FAILED`, or the service is unavailable", body = ErrorEnvelope),
    ),
)]
pub async fn send_user_code(
    State(state): State<AppState>,
    Client(client): Client,
    Language(lang): Language,
    caller: Authenticated,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    let request = UserCodeRequest::parse(body.form())?;
    let sent = codes::send_for_user(&state.core, caller.user_id(), request, lang, &client).await?;
    Ok(sent_reply(sent))
}

/// A code sign-in or a password reset.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeLoginRequest {
    /// `sms` or `email`.
    #[schema(value_type = String, pattern = "^(sms|email)$")]
    channel: Option<String>,
    /// The phone or email the code was sent to.
    #[schema(value_type = String)]
    target: Option<String>,
    /// The six digits received.
    #[schema(value_type = String, pattern = "^[0-9]{6}$")]
    code: Option<String>,
    /// Accepted and ignored (section 11's per-device policies read it).
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    device_type: Option<String>,
}

/// A code sign-in's answer: the login response with `is_new_user`, or `mfa_required`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CodeLoginResponse<'a> {
    /// Signed in.
    SignedIn {
        #[serde(flatten)]
        #[schema(inline)]
        login: LoginResponse<'a>,
        /// Whether this sign-in created the account.
        is_new_user: bool,
    },
    /// The account has TOTP on: complete with `POST /api/v1/auth/mfa`.
    MfaRequired(super::mfa::MfaRequiredResponse<'a>),
}

/// Signs in with a code; a phone with no account creates one (`HUFU_CODE_SIGNUP`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/login/code",
    tag = "codes",
    request_body = CodeLoginRequest,
    responses(
        (status = 200, description = "Signed in (with `is_new_user`), or `mfa_required`", body = CodeLoginEnvelope),
        (status = 400, description = "`CODE_INVALID`, or a malformed request", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED` (after a right code)", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn login_with_code(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeLoginRequest>,
) -> ApiResult<Reply> {
    let _ = body.device_type;
    let outcome = async {
        state
            .core
            .limits
            .rate(crate::domain::limits::Action::Login, client.ip.as_deref())
            .await?;
        let request = CodeLogin::parse(CodeUseForm {
            channel: body.channel,
            target: body.target,
            code: body.code,
            new_password: None,
        })?;
        Ok::<_, crate::http::error::ApiError>(code_login::login(&state.core, request, &client).await?)
    }
    .await;
    let metric = match &outcome {
        Ok(signed) if matches!(signed.outcome, LoginOutcome::SignedIn(_)) => LoginResult::Success,
        Ok(_) => LoginResult::MfaRequired,
        Err(error) => observe::login_failure(error),
    };
    state.metrics.login(LoginMethod::Code, metric);
    let signed = outcome?;
    match signed.outcome {
        LoginOutcome::SignedIn(signed_in) => Ok(Reply::new(
            StatusCode::OK,
            Success::LoggedIn,
            &CodeLoginResponse::SignedIn {
                login: LoginResponse::from_signed_in(&signed_in),
                is_new_user: signed.is_new_user,
            },
        )),
        LoginOutcome::MfaRequired(challenge) => Ok(Reply::ok(&CodeLoginResponse::MfaRequired(
            super::mfa::MfaRequiredResponse::from_challenge(&challenge),
        ))),
    }
}

/// A password reset.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    /// `sms` or `email`.
    #[schema(value_type = String, pattern = "^(sms|email)$")]
    channel: Option<String>,
    /// The phone or email the `reset_password` code was sent to.
    #[schema(value_type = String)]
    target: Option<String>,
    /// The six digits received.
    #[schema(value_type = String, pattern = "^[0-9]{6}$")]
    code: Option<String>,
    /// The new password (same rules as at registration).
    #[schema(value_type = String, format = Password, min_length = 6, max_length = 128)]
    new_password: Option<SecretString>,
}

/// Resets a forgotten password with a code; every session of the account ends.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/reset",
    tag = "codes",
    request_body = PasswordResetRequest,
    responses(
        (status = 200, description = "Reset; sign in with the new password", body = EmptyEnvelope),
        (status = 400, description = "`CODE_INVALID`, or a malformed request", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<PasswordResetRequest>,
) -> ApiResult<Reply> {
    state
        .core
        .limits
        .rate(crate::domain::limits::Action::Login, client.ip.as_deref())
        .await?;
    let form = CodeUseForm {
        channel: body.channel,
        target: body.target,
        code: body.code,
        new_password: body.new_password,
    };
    let request = PasswordReset::parse(form, state.core.policy.password_min_length)?;
    code_login::reset_password(&state.core, request, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::PasswordReset,
        &serde_json::json!({}),
    ))
}

/// A `verify` code for the caller's own email or phone.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyBody {
    /// `sms` or `email`.
    #[schema(value_type = String, pattern = "^(sms|email)$")]
    channel: Option<String>,
    /// The six digits received.
    #[schema(value_type = String, pattern = "^[0-9]{6}$")]
    code: Option<String>,
}

/// Verifies the caller's email or phone with a `verify` code.
#[utoipa::path(
    post,
    path = "/api/v1/users/verify",
    tag = "codes",
    security(("bearer" = [])),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Verified; the user object", body = UserEnvelope),
        (status = 400, description = "`CODE_INVALID`, or a malformed request", body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<VerifyBody>,
) -> ApiResult<Reply> {
    // A signed-in code guess: counted per IP like the other signed-in checks.
    state
        .core
        .limits
        .rate(crate::domain::limits::Action::Verify, client.ip.as_deref())
        .await?;
    let request = VerifyRequest::parse(body.channel, body.code)?;
    let user = identifiers::verify(&state.core, caller.user_id(), request, &client).await?;
    Ok(Reply::new(StatusCode::OK, Success::Verified, &user))
}
