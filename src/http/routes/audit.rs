//! `GET /api/v1/admin/audit`: the audit trail for administrators, filtered by user and event,
//! newest first, in pages.

use crate::app::AppState;
use crate::domain::audit::{self, Event};
use crate::domain::error::{Error, FieldError, Reason};
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{AdminUser, Paging};
use crate::store::AuditFilter;
use axum::extract::{Query, State};
use serde::Serialize;
use std::collections::HashMap;

/// A page of entries.
#[derive(Debug, Serialize)]
struct AuditPage {
    items: Vec<audit::EntryView>,
    total: i64,
    page: u32,
    per_page: u32,
}

/// Reads the audit log. `user_id` must be a positive number and `event` one of the contract's
/// event names; anything else is 400 `VALIDATION_FAILED` naming the field.
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Reply> {
    let mut problems = Vec::new();
    let user_id = match query.get("user_id").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(id)) if id > 0 => Some(id),
        Some(_) => {
            problems.push(FieldError {
                field: "user_id",
                reason: Reason::Invalid,
            });
            None
        }
    };
    let event = match query.get("event") {
        None => None,
        Some(name) => match Event::parse(name) {
            Some(event) => Some(event.name().to_owned()),
            None => {
                problems.push(FieldError {
                    field: "event",
                    reason: Reason::Invalid,
                });
                None
            }
        },
    };
    let paging = Paging::parse(
        query.get("page").map(String::as_str),
        query.get("per_page").map(String::as_str),
    );
    if let Err(Error::Validation(more)) = &paging {
        problems.extend(more.iter().cloned());
    }
    if !problems.is_empty() {
        return Err(Error::Validation(problems).into());
    }
    let paging = paging?;
    let filter = AuditFilter { user_id, event };
    let (items, total) = audit::page(&state.core, &filter, paging.offset(), paging.limit()).await?;
    Ok(Reply::ok(&AuditPage {
        items,
        total,
        page: paging.page,
        per_page: paging.per_page,
    }))
}
