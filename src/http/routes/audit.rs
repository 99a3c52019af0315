//! `GET /api/v1/admin/audit`: the audit trail for administrators, filtered by user and event,
//! newest first, in pages.

use crate::domain::audit::{self, Event};
use crate::domain::error::Reason;
use crate::domain::validate::FieldErrors;
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{AdminUser, Paging};
use crate::http::openapi::{AuditPageEnvelope, ErrorEnvelope, errors};
use crate::store::AuditFilter;
use axum::extract::{Query, State};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries of this page, newest first.
    items: Vec<audit::EntryView>,
    /// How many entries match in all.
    total: i64,
    /// This page's number (from 1).
    page: u32,
    /// Page size.
    per_page: u32,
}

/// The query string of the audit listing, as documented (the handler reads it by hand to
/// report every bad parameter at once).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only described.
pub struct AuditQuery {
    /// Only this user's entries.
    #[param(minimum = 1)]
    user_id: Option<i64>,
    /// Only this event.
    #[param(schema_with = crate::http::openapi::event_schema)]
    event: Option<String>,
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// Reads the audit log. `user_id` must be a positive number and `event` one of the contract's
/// event names; anything else is 400 `VALIDATION_FAILED` naming the field.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of audit entries, newest first", body = AuditPageEnvelope),
        (status = 400, description = errors::BAD_QUERY, body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = errors::FORBIDDEN, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Reply> {
    let mut errors = FieldErrors::default();
    let user_id = match query.get("user_id").map(|v| v.parse::<i64>()) {
        None => Ok(None),
        Some(Ok(id)) if id > 0 => Ok(Some(id)),
        Some(_) => Err(errors.push("user_id", Reason::Invalid)),
    };
    let event = match query.get("event") {
        None => Ok(None),
        Some(name) => match Event::parse(name) {
            Some(event) => Ok(Some(event.name().to_owned())),
            None => Err(errors.push("event", Reason::Invalid)),
        },
    };
    let paging = Paging::check(
        &mut errors,
        query.get("page").map(String::as_str),
        query.get("per_page").map(String::as_str),
    );
    let (filter, paging) = errors.finish(|| {
        let filter = AuditFilter {
            user_id: user_id?,
            event: event?,
        };
        Ok((filter, paging?))
    })?;
    let (items, total) = audit::page(&state.core, &filter, paging.offset(), paging.limit()).await?;
    Ok(Reply::ok(&AuditPage {
        items,
        total,
        page: paging.page,
        per_page: paging.per_page,
    }))
}
