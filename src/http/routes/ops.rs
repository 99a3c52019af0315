//! Operations endpoints: `/healthz` (the process runs), `/readyz` (its dependencies answer)
//! and `/metrics` (Prometheus text, no envelope).

use crate::http::AppState;
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

/// The Prometheus text format of this node's metrics (no envelope: the format is standard).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format (no envelope)",
         content_type = "text/plain; version=0.0.4", body = String),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let core = &state.core;
    let values = crate::metrics::ScrapeValues {
        hash_queue_depth: core.hasher.in_flight(),
        cache: core.cache.level_counts(),
        has_redis: core.cache.has_redis(),
        pool: core.store.pool_connections(),
    };
    let body = state.metrics.render(values);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
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
