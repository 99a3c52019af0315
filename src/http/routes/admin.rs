//! The administration endpoints on users: `GET /api/v1/admin/users` (list and search),
//! `GET`/`PATCH /api/v1/admin/users/{id}`, `DELETE /api/v1/admin/users/{id}/sessions`.
//! Every handler takes [`AdminUser`] first, so the role check (on the user's *current* roles)
//! happens before anything else is parsed.

use crate::app::AppState;
use crate::domain::admin::{self, UserPatch, UserQuery};
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{AdminUser, Client, JsonBody, Paging};
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;

/// The query parameters of a listing, read by hand so a malformed query string gets the
/// envelope's 400 rather than axum's plain-text rejection. A repeated parameter: last wins.
fn query_params(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /api/v1/admin/users?q=&status=&page=&per_page=`
pub async fn list_users(State(state): State<AppState>, _admin: AdminUser, RawQuery(raw): RawQuery) -> ApiResult<Reply> {
    let mut params = query_params(raw.as_deref());
    let paging = Paging::parse(
        params.get("page").map(String::as_str),
        params.get("per_page").map(String::as_str),
    )?;
    let query = UserQuery {
        q: params.remove("q"),
        status: params.remove("status"),
    };
    let page = admin::list_users(&state.core, &query, paging.page, paging.per_page).await?;
    Ok(Reply::ok(&page))
}

/// `GET /api/v1/admin/users/{id}`
pub async fn get_user(State(state): State<AppState>, _admin: AdminUser, Path(id): Path<String>) -> ApiResult<Reply> {
    let user = admin::user(&state.core, admin::user_id(&id)?).await?;
    Ok(Reply::ok(&user))
}

/// `PATCH` body: either field may be left out; unknown fields are ignored.
#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    status: Option<i64>,
    roles: Option<Vec<String>>,
}

/// `PATCH /api/v1/admin/users/{id}`
pub async fn patch_user(
    State(state): State<AppState>,
    admin_user: AdminUser,
    Path(id): Path<String>,
    Client(client): Client,
    JsonBody(body): JsonBody<PatchRequest>,
) -> ApiResult<Reply> {
    let target = admin::user_id(&id)?;
    let patch = UserPatch {
        status: body.status,
        roles: body.roles,
    };
    let user = admin::update_user(&state.core, admin_user.user_id(), target, &patch, &client).await?;
    Ok(Reply::ok(&user))
}

/// `DELETE /api/v1/admin/users/{id}/sessions`: answers `{revoked: N}`.
pub async fn delete_sessions(
    State(state): State<AppState>,
    admin_user: AdminUser,
    Path(id): Path<String>,
    Client(client): Client,
) -> ApiResult<Reply> {
    let target = admin::user_id(&id)?;
    let revoked = admin::revoke_sessions(&state.core, admin_user.user_id(), target, &client).await?;
    Ok(Reply::ok(&serde_json::json!({ "revoked": revoked })))
}
