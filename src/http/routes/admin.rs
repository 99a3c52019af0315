//! The administration endpoints on users: `GET /api/v1/admin/users` (list and search),
//! `GET`/`PATCH /api/v1/admin/users/{id}`, `DELETE /api/v1/admin/users/{id}/sessions`.
//! Every handler takes [`AdminUser`] first, so the role check (on the user's *current* roles)
//! happens before anything else is parsed.

use crate::domain::admin::{self, UserPatch, UserQuery};
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{AdminUser, Client, JsonBody, Paging};
use crate::http::openapi::{ErrorEnvelope, RevokedEnvelope, UserEnvelope, UserPageEnvelope, errors};
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The query parameters of a listing, read by hand so a malformed query string gets the
/// envelope's 400 rather than axum's plain-text rejection. A repeated parameter: last wins.
fn query_params(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /api/v1/admin/users?q=&status=&page=&per_page=`
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, description = "Matches username, email or phone (substring)"),
        ("status" = Option<String>, Query, description = "`1` active or `0` disabled"),
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1)", minimum = 1),
        ("per_page" = Option<u32>, Query, description = "Page size, 1–100 (default 20)", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "One page of users, newest first", body = UserPageEnvelope),
        (status = 400, description = errors::BAD_QUERY, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = errors::FORBIDDEN, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id", minimum = 1)),
    responses(
        (status = 200, description = "The user", body = UserEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = errors::FORBIDDEN, body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn get_user(State(state): State<AppState>, _admin: AdminUser, Path(id): Path<String>) -> ApiResult<Reply> {
    let user = admin::user(&state.core, admin::user_id(&id)?).await?;
    Ok(Reply::ok(&user))
}

/// `PATCH` body: either field may be left out; unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchRequest {
    /// `1` active or `0` disabled; disabling revokes all the user's sessions.
    #[schema(nullable = false)]
    status: Option<i64>,
    /// The full new role list.
    #[schema(nullable = false)]
    roles: Option<Vec<String>>,
}

/// `PATCH /api/v1/admin/users/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id", minimum = 1)),
    request_body = PatchRequest,
    responses(
        (status = 200, description = "The updated user", body = UserEnvelope),
        (status = 400, description = errors::BAD_REQUEST, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = errors::FORBIDDEN, body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
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

/// How many sessions an administrator revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedResponse {
    /// The number of sessions revoked.
    revoked: usize,
}

/// `DELETE /api/v1/admin/users/{id}/sessions`: answers `{revoked: N}`.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{id}/sessions",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id", minimum = 1)),
    responses(
        (status = 200, description = "Every session of the user is revoked", body = RevokedEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = errors::FORBIDDEN, body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn delete_sessions(
    State(state): State<AppState>,
    admin_user: AdminUser,
    Path(id): Path<String>,
    Client(client): Client,
) -> ApiResult<Reply> {
    let target = admin::user_id(&id)?;
    let revoked = admin::revoke_sessions(&state.core, admin_user.user_id(), target, &client).await?;
    Ok(Reply::ok(&RevokedResponse { revoked }))
}
