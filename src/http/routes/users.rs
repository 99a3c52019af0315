//! The signed-in user's own account: `GET`/`PUT /api/v1/users/profile`,
//! `PUT /api/v1/users/password`.

use crate::app::AppState;
use crate::domain::accounts::{self, Patch, ProfileChanges};
use crate::domain::sessions;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::i18n::Success;
use crate::secret::SecretString;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};

/// With `#[serde(default)]`: absent → `Absent`, `null` → `Null`, a value → `Value`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Value(value),
            None => Patch::Null,
        })
    }
}

/// Profile update body: any subset of the fields.
#[derive(Debug, Deserialize)]
pub struct ProfileRequest {
    #[serde(default)]
    username: Patch<String>,
    #[serde(default)]
    email: Patch<String>,
    #[serde(default)]
    phone: Patch<String>,
    #[serde(default)]
    nickname: Patch<String>,
    #[serde(default)]
    avatar_url: Patch<String>,
}

/// The caller's profile.
pub async fn get_profile(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    let json = accounts::profile_json(&state.core, caller.user_id()).await?;
    Ok(Reply::ok_json(json))
}

/// Updates the caller's profile.
pub async fn put_profile(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<ProfileRequest>,
) -> ApiResult<Reply> {
    let changes = ProfileChanges {
        username: body.username,
        email: body.email,
        phone: body.phone,
        nickname: body.nickname,
        avatar_url: body.avatar_url,
    };
    let user = accounts::update_profile(&state.core, caller.user_id(), changes, &client).await?;
    Ok(Reply::new(StatusCode::OK, Success::ProfileUpdated, &user))
}

/// Password change body.
#[derive(Debug, Deserialize)]
pub struct PasswordRequest {
    old_password: Option<SecretString>,
    new_password: Option<SecretString>,
}

/// Changes the caller's password and signs out their other sessions.
pub async fn put_password(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<PasswordRequest>,
) -> ApiResult<Reply> {
    let session = caller.session_id()?;
    accounts::change_password(
        &state.core,
        caller.user_id(),
        session,
        body.old_password,
        body.new_password,
        &client,
    )
    .await?;
    Ok(Reply::new(
        StatusCode::OK,
        Success::PasswordChanged,
        &serde_json::Value::Null,
    ))
}

/// The caller's live sessions, newest first.
pub async fn list_sessions(State(state): State<AppState>, caller: Authenticated) -> ApiResult<Reply> {
    let list = sessions::list(&state.core, caller.user_id(), caller.session_id()?).await?;
    Ok(Reply::ok(&list))
}

/// Revokes one of the caller's sessions.
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
