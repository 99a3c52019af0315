//! The response envelope (contract section 1) and the layer that applies it to every answer.
//!
//! Handlers return a [`Reply`] (data already serialised) or an `ApiError`; neither knows the
//! request id or the language. The [`envelope`] middleware knows both: it assigns the
//! `X-Request-Id`, runs the request inside a span carrying it, and renders whatever came back
//! into `{"code", "message", "data" | "error", …, "timestamp"}`. Bare error statuses from
//! routing or other layers (404, 405, 413, timeouts, panics) are enveloped here too, so no
//! response escapes without the envelope. Success data is spliced in as bytes: it is never
//! serialised twice.

use super::error::{PendingError, for_status};
use super::i18n::{lang_from_accept_language, status_message};
use crate::catalog::Success;
use crate::catalog::{ErrorCode, Lang};
use crate::timefmt::rfc3339_seconds;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use tracing::Instrument;

/// The request-id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A success answer whose `data` is already JSON.
#[derive(Debug, Clone)]
pub struct PendingSuccess {
    success: Success,
    data: Bytes,
}

/// A successful handler result.
pub struct Reply {
    status: StatusCode,
    pending: PendingSuccess,
}

impl Reply {
    /// A reply with `data` serialised now.
    pub fn new<T: Serialize>(status: StatusCode, success: Success, data: &T) -> Self {
        // Serialising our own response types cannot fail (no maps with non-string keys);
        // `null` is a safe fallback that keeps the envelope valid if it ever did.
        let data = serde_json::to_vec(data)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::from_static(b"null"));
        Self {
            status,
            pending: PendingSuccess { success, data },
        }
    }

    /// A 200 reply whose `data` is JSON already (a cached profile): spliced in as is.
    pub fn ok_json(data: Bytes) -> Self {
        Self {
            status: StatusCode::OK,
            pending: PendingSuccess {
                success: Success::Ok,
                data,
            },
        }
    }

    /// A 200 reply.
    pub fn ok<T: Serialize>(data: &T) -> Self {
        Self::new(StatusCode::OK, Success::Ok, data)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self.pending);
        response
    }
}

/// Whether a client-sent request id may be echoed: 1–64 of `[A-Za-z0-9._-]`.
fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    message: &'a str,
    error: &'a str,
    error_code: ErrorCode,
    request_id: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<DetailBody<'a>>,
}

#[derive(Serialize)]
struct DetailBody<'a> {
    field: &'a str,
    reason: &'a str,
    message: &'a str,
}

/// Renders a success envelope around `data` (already JSON). Public for the benchmarks.
pub fn render_success(status: StatusCode, lang: Lang, success: Success, data: Bytes) -> Vec<u8> {
    success_body(status, lang, &PendingSuccess { success, data })
}

fn success_body(status: StatusCode, lang: Lang, pending: &PendingSuccess) -> Vec<u8> {
    let message = pending.success.message(status.as_u16(), lang);
    let timestamp = rfc3339_seconds(time::OffsetDateTime::now_utc());
    let mut out = Vec::with_capacity(pending.data.len() + 96);
    out.extend_from_slice(b"{\"code\":");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b",\"message\":");
    // Messages are our own static texts; serde escapes them properly all the same.
    let _ = serde_json::to_writer(&mut out, message);
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(&pending.data);
    out.extend_from_slice(b",\"timestamp\":\"");
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

fn error_body(status: StatusCode, lang: Lang, request_id: &str, PendingError(problem): &PendingError) -> Vec<u8> {
    let timestamp = rfc3339_seconds(time::OffsetDateTime::now_utc());
    let body = ErrorBody {
        code: status.as_u16(),
        message: status_message(status, lang),
        error: problem.text.get(lang),
        error_code: problem.code,
        request_id,
        timestamp: &timestamp,
        details: problem
            .details
            .iter()
            .map(|d| DetailBody {
                field: &d.field,
                reason: d.reason,
                message: d.text.get(lang),
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The outermost layer: request id, language, the request's span, and the envelope (the
/// request log line is written by `observe`, inside this span).
pub async fn envelope(mut request: Request, next: Next) -> Response {
    let request_id = match request.headers().get(&X_REQUEST_ID) {
        Some(value) if acceptable_request_id(value) => value.clone(),
        _ => HeaderValue::from_str(&ulid::Ulid::new().to_string()).unwrap_or(HeaderValue::from_static("0")),
    };
    request.headers_mut().insert(X_REQUEST_ID.clone(), request_id.clone());
    let lang = lang_from_accept_language(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let id_text = request_id.to_str().unwrap_or_default().to_owned();
    // `user_id` is filled in by the `Authenticated` extractor once a token checks out.
    let span = tracing::info_span!("request", request_id = %id_text, user_id = tracing::field::Empty);

    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();

    let body = if let Some(pending) = response.extensions_mut().remove::<PendingSuccess>() {
        Some(success_body(status, lang, &pending))
    } else if let Some(pending) = response.extensions_mut().remove::<PendingError>() {
        Some(error_body(status, lang, &id_text, &pending))
    } else if (status.is_client_error() || status.is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"))
    {
        // A bare status, or axum's plain-text rejection, from routing or a layer (404/405, a
        // bad query string, the request timeout, a caught panic): envelope it with the
        // generic text for its status.
        Some(error_body(status, lang, &id_text, &for_status(status)))
    } else {
        None
    };
    if let Some(body) = body {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    response.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_echoed_only_when_safe() {
        assert!(acceptable_request_id(&HeaderValue::from_static("abc-123_x.y")));
        assert!(!acceptable_request_id(&HeaderValue::from_static("has space")));
        assert!(!acceptable_request_id(&HeaderValue::from_static("")));
        let long = "a".repeat(65);
        assert!(!acceptable_request_id(&HeaderValue::from_str(&long).unwrap()));
    }

    #[test]
    fn a_success_body_splices_data_into_the_envelope() {
        let pending = PendingSuccess {
            success: Success::Registered,
            data: Bytes::from_static(b"{\"id\":1}"),
        };
        let body: serde_json::Value =
            serde_json::from_slice(&success_body(StatusCode::CREATED, Lang::Zh, &pending)).unwrap();
        assert_eq!(body["code"], 201);
        assert_eq!(body["message"], "注册成功");
        assert_eq!(body["data"]["id"], 1);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
