//! Operations endpoints: `/healthz` (the process runs) and `/readyz` (its dependencies answer).

use crate::app::AppState;
use crate::http::envelope::Reply;
use crate::http::error::{ApiError, ApiResult};
use axum::extract::State;
use serde_json::json;
use std::time::Duration;

/// How long `/readyz` waits for the database before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 while the process runs; touches nothing else.
pub async fn healthz() -> Reply {
    Reply::ok(&json!({ "status": "ok" }))
}

/// 200 when the database answers; 503 naming what does not.
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Reply> {
    let store = &state.core.store;
    let database_up = matches!(
        tokio::time::timeout(READY_TIMEOUT, store.ping()).await,
        Ok(Ok(()))
    );
    if !database_up {
        return Err(ApiError::NotReady(vec!["database"]));
    }
    Ok(Reply::ok(
        &json!({ "database": store.dialect().name(), "status": "ready" }),
    ))
}
