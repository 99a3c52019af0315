//! Operations endpoints: `/healthz` (the process runs) and `/readyz` (its dependencies answer).

use crate::app::AppState;
use crate::http::envelope::Reply;
use crate::http::error::{ApiError, ApiResult};
use crate::http::openapi::{ErrorEnvelope, HealthEnvelope, Jwks, ReadyEnvelope};
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long `/readyz` waits for the database before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz` data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// `/readyz` data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// The database kind: `sqlite`, `mysql` or `postgres`.
    database: &'static str,
    /// `ready`, or `not configured`.
    redis: &'static str,
    /// Always `ready`.
    status: &'static str,
}

/// 200 while the process runs; touches nothing else.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process runs", body = HealthEnvelope)),
)]
pub async fn healthz() -> Reply {
    Reply::ok(&Health { status: "ok" })
}

/// 200 when the database and (if configured) Redis answer; 503 naming what does not.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database and (if configured) Redis answer", body = ReadyEnvelope),
        (status = 503, description = "`SERVICE_UNAVAILABLE`; `details` names each dependency that does not answer",
         body = ErrorEnvelope),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Reply> {
    let core = &state.core;
    let database = async { matches!(tokio::time::timeout(READY_TIMEOUT, core.store.ping()).await, Ok(Ok(()))) };
    let redis = async {
        match &core.redis {
            Some(redis) => Some(redis.ping().await),
            None => None,
        }
    };
    let (database_up, redis_up) = tokio::join!(database, redis);
    let mut down = Vec::new();
    if !database_up {
        down.push("database");
    }
    if redis_up == Some(false) {
        down.push("redis");
    }
    if !down.is_empty() {
        return Err(ApiError::NotReady(down));
    }
    let redis = if redis_up.is_some() { "ready" } else { "not configured" };
    Ok(Reply::ok(&Ready {
        database: core.store.dialect().name(),
        redis,
        status: "ready",
    }))
}

/// The JWKS: the EdDSA public keys other services verify hufu's tokens with (no keys under
/// HS256, whose secret is never published). Standard format, so no envelope.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    responses((status = 200, description = "The JWKS (RFC 7517; no envelope)", body = Jwks)),
)]
pub async fn jwks(State(state): State<AppState>) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut response = state.core.tokens.jwks().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Short enough that a rotated key reaches verifiers quickly; they refetch on an unknown
    // kid anyway.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}
