//! The signed-in user's own account: `GET`/`PUT /api/v1/users/profile`,
//! `PUT /api/v1/users/password`.

use crate::catalog::Success;
use crate::domain::accounts;
use crate::domain::input::{PasswordForm, Patch, ProfileChange, ProfileForm};
use crate::domain::limits::Action;
use crate::domain::sessions;
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::openapi::{EmptyEnvelope, ErrorEnvelope, SessionsEnvelope, UserEnvelope, errors};
use crate::secret::SecretString;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

/// With `#[serde(default)]`: absent → `Absent`, `null` → `Null`, a value → `Value`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Value(value),
            None => Patch::Null,
        })
    }
}

/// Profile update body: any subset of the fields; `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileRequest {
    /// A new username (same rules as at registration).
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false)]
    username: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    nickname: Patch<String>,
    /// An http or https URL.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    avatar_url: Patch<String>,
    /// A `change` code sent to the new email: stored verified (required when
    /// `HUFU_REQUIRE_VERIFIED` lists `email`); without it a new email is unverified.
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[0-9]{6}$")]
    email_code: Option<String>,
    /// A `change` code sent to the new phone.
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[0-9]{6}$")]
    phone_code: Option<String>,
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/api/v1/users/profile",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's user object", body = UserEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn get_profile(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    let json = accounts::profile_json(&state.core, caller.user_id()).await?;
    Ok(Reply::ok_json(json))
}

/// Updates the caller's profile.
#[utoipa::path(
    put,
    path = "/api/v1/users/profile",
    tag = "users",
    security(("bearer" = [])),
    request_body = ProfileRequest,
    responses(
        (status = 200, description = "The updated user", body = UserEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = "`REAUTH_REQUIRED`: the session proved no credential within `HUFU_REAUTH_WINDOW`; `POST /auth/reauth` first", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 409, description = "`USERNAME_TAKEN`, `EMAIL_TAKEN` or `PHONE_TAKEN`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn put_profile(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<ProfileRequest>,
) -> ApiResult<Reply> {
    let form = ProfileForm {
        username: body.username,
        email: body.email,
        phone: body.phone,
        nickname: body.nickname,
        avatar_url: body.avatar_url,
        email_code: body.email_code,
        phone_code: body.phone_code,
    };
    let change = ProfileChange::parse(form, state.core.policy.require_phone)?;
    // Where codes go and how the account is found: a stolen token must not move them.
    if change
        .fields()
        .iter()
        .any(|f| matches!(*f, "username" | "email" | "phone"))
    {
        caller.require_recent_proof(&state)?;
    }
    let user = accounts::update_profile(&state.core, caller.user_id(), change, &client).await?;
    Ok(Reply::new(StatusCode::OK, Success::ProfileUpdated, &user))
}

/// Password change body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// The current password; omitted by a WeChat-only user setting a first password.
    #[schema(value_type = Option<String>, nullable = false, format = Password)]
    old_password: Option<SecretString>,
    /// The new password (same rules as at registration).
    #[schema(value_type = String, format = Password)]
    new_password: Option<SecretString>,
}

/// Changes the caller's password and signs out their other sessions.
#[utoipa::path(
    put,
    path = "/api/v1/users/password",
    tag = "users",
    security(("bearer" = [])),
    request_body = PasswordRequest,
    responses(
        (status = 200, description = "Changed; every other session is revoked", body = EmptyEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = "A token failure (see `TOKEN_*`), or `INVALID_CREDENTIALS` for a wrong \
            `old_password`", body = ErrorEnvelope),
        (status = 403, description = "`REAUTH_REQUIRED`: the session proved no credential within `HUFU_REAUTH_WINDOW`; `POST /auth/reauth` first", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 423, description = "`ACCOUNT_LOCKED`: too many wrong passwords or codes for this account; `Retry-After`", body = ErrorEnvelope),
        (status = 429, description = errors::RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn put_password(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<PasswordRequest>,
) -> ApiResult<Reply> {
    // Each request may cost an argon2 verification: counted per IP before anything else.
    state.core.limits.rate(Action::Verify, client.ip.as_deref()).await?;
    let session = caller.session_id()?;
    // Setting a first password (no old one to prove anything with) is a sensitive change;
    // with the right old password the request carries its own proof.
    if body.old_password.is_none() {
        caller.require_recent_proof(&state)?;
    }
    let form = PasswordForm {
        old_password: body.old_password,
        new_password: body.new_password,
    };
    accounts::change_password(&state.core, caller.user_id(), session, form, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::PasswordChanged,
        &serde_json::Value::Null,
    ))
}

/// The caller's live sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/users/sessions",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The live sessions; `current` marks the caller's", body = SessionsEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn list_sessions(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    let list = sessions::list(&state.core, caller.user_id(), caller.session_id()?).await?;
    Ok(Reply::ok(&list))
}

/// Revokes one of the caller's sessions.
#[utoipa::path(
    delete,
    path = "/api/v1/users/sessions/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A session `id` from `GET /api/v1/users/sessions`")),
    responses(
        (status = 200, description = "Revoked", body = EmptyEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such session of the caller's", body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn delete_session(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Reply> {
    sessions::revoke_one(&state.core, caller.user_id(), &id, &client).await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::SessionRevoked,
        &serde_json::Value::Null,
    ))
}
