//! The OpenAPI 3.1 description served at `GET /api/v1/openapi.json`.
//!
//! This module owns what the handlers' `#[utoipa::path]` annotations share: the success and
//! error envelopes as schemas, the `error_code` enum (taken from `catalog::ErrorCode::ALL`),
//! the error-response descriptions, the bearer security scheme, the tags, and the document's
//! header. The paths themselves come from the handlers: [`super::router`] registers every
//! route through `utoipa_axum::routes!`, so a route cannot be served without its operation
//! being in the document. The document is serialised once, when the router is built, and
//! handed to [`openapi_json`] as bytes.

use crate::catalog::ErrorCode;
use crate::domain::admin::UserPage;
use crate::domain::audit::Event;
use crate::domain::sessions::SessionView;
use crate::domain::user::User;
use crate::http::routes::auth::{LoginOrMfa, LoginResponse, LogoutResponse};
use crate::http::routes::codes::{CodeLoginResponse, CodeSent};
use crate::http::routes::mfa::{EnableResponse, SetupResponse};
use crate::http::routes::ops::{Health, Ready};
use crate::http::routes::wechat::WechatLoginOrMfa;
use crate::http::routes::{admin, audit};
use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Name of the bearer security scheme, as the annotations write `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// Descriptions of error responses, named for what they cover; the annotations pair each
/// with `body = ErrorEnvelope`.
pub mod errors {
    /// 400 on a JSON-body endpoint.
    pub const BAD_REQUEST: &str = "`VALIDATION_FAILED` (one `details` entry per bad field) or `INVALID_JSON` (not JSON, or a field of the wrong type)";
    /// 400 on a query-string endpoint.
    pub const BAD_QUERY: &str = "`VALIDATION_FAILED`: a query parameter is invalid (`details` names it)";
    /// 401 on a Bearer endpoint.
    pub const TOKEN: &str = "`TOKEN_MISSING`, `TOKEN_MALFORMED`, `TOKEN_INVALID`, `TOKEN_EXPIRED` or `TOKEN_REVOKED`; \
         `WWW-Authenticate: Bearer` (with `error=\"invalid_token\"` unless the header was missing)";
    /// 403 on an admin endpoint.
    pub const FORBIDDEN: &str = "`FORBIDDEN`: the caller does not have the `admin` role";
    /// 404 for a resource.
    pub const NOT_FOUND: &str = "`NOT_FOUND`: no such resource";
    /// 413.
    pub const TOO_LARGE: &str = "`BODY_TOO_LARGE`: the body is over 64 KiB";
    /// 415.
    pub const MEDIA_TYPE: &str = "`UNSUPPORTED_MEDIA_TYPE`: a non-empty body that is not `application/json`";
    /// 429 from the per-IP limits.
    pub const RATE_LIMITED: &str = "`RATE_LIMITED`: per-client-IP limit; `Retry-After` says when to retry";
    /// 429 on WeChat endpoints.
    pub const WECHAT_RATE_LIMITED: &str = "`RATE_LIMITED` (per-IP limit) or `WECHAT_RATE_LIMITED` (WeChat's own per-minute quota, `Retry-After: 60`); both with `Retry-After`";
    /// 500.
    pub const INTERNAL: &str = "`INTERNAL_ERROR`: details are only in the server log";
    /// 503.
    pub const UNAVAILABLE: &str =
        "`SERVICE_UNAVAILABLE`: the database is unreachable, or too many sign-ins at once; `Retry-After`";
    /// 501/503/504 from WeChat endpoints, beyond the plain 503.
    pub const WECHAT_NOT_CONFIGURED: &str = "`WECHAT_NOT_CONFIGURED`: no appid/secret configured";
    /// 503 on WeChat endpoints.
    pub const WECHAT_UNAVAILABLE: &str =
        "`WECHAT_UNAVAILABLE` (WeChat answered -1 or unexpectedly) or `SERVICE_UNAVAILABLE` (database)";
    /// 504.
    pub const UPSTREAM_TIMEOUT: &str = "`UPSTREAM_TIMEOUT`: WeChat did not answer in time";
}

/// Declares a success envelope `{code, message, data, timestamp}` around a data schema.
macro_rules! envelope {
    ($($name:ident => $data:ty, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[derive(ToSchema)]
        #[allow(dead_code)] // Only described: the envelope layer writes these bytes itself.
        pub struct $name {
            /// Equals the HTTP status.
            code: u16,
            /// Short human text for the status, in the client's language.
            message: String,
            data: $data,
            /// RFC 3339, UTC, second precision.
            #[schema(format = DateTime)]
            timestamp: String,
        }
    )*};
}

envelope! {
    UserEnvelope => User, "Success envelope: `data` is the user object.";
    LoginEnvelope => LoginResponse<'static>, "Success envelope: `data` is the login response.";
    LoginOrMfaEnvelope => LoginOrMfa<'static>, "Success envelope: tokens, or a second factor is needed.";
    CodeSentEnvelope => CodeSent, "Success envelope: seconds until the code expires and until a resend.";
    CodeLoginEnvelope => CodeLoginResponse<'static>, "Success envelope: the login response with `is_new_user`, or a second factor is needed.";
    WechatLoginEnvelope => WechatLoginOrMfa<'static>, "Success envelope: the login response with `is_new_user`, or `mfa_required` for a user with TOTP on.";
    LogoutEnvelope => LogoutResponse, "Success envelope: how many sessions logout revoked.";
    SessionsEnvelope => Vec<SessionView>, "Success envelope: the caller's live sessions, newest first.";
    SetupEnvelope => SetupResponse<'static>, "Success envelope: the new TOTP secret.";
    EnableEnvelope => EnableResponse, "Success envelope: the recovery codes, shown once.";
    UserPageEnvelope => UserPage, "Success envelope: one page of users.";
    AuditPageEnvelope => audit::AuditPage, "Success envelope: one page of audit entries.";
    RevokedEnvelope => admin::RevokedResponse, "Success envelope: how many sessions were revoked.";
    HealthEnvelope => Health, "Success envelope: the process runs.";
    ReadyEnvelope => Ready, "Success envelope: the dependencies answer.";
}

/// Success envelope whose `data` is `null`.
#[derive(ToSchema)]
#[allow(dead_code)] // Only described.
pub struct EmptyEnvelope {
    /// Equals the HTTP status.
    code: u16,
    /// Short human text for the status, in the client's language.
    message: String,
    /// Always `null`.
    #[schema(schema_with = null_schema)]
    data: (),
    /// RFC 3339, UTC, second precision.
    #[schema(format = DateTime)]
    timestamp: String,
}

fn null_schema() -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

/// The error envelope every failure is rendered in (contract section 1).
#[derive(ToSchema)]
#[allow(dead_code)] // Only described: `envelope.rs` renders it.
pub struct ErrorEnvelope {
    /// Equals the HTTP status.
    code: u16,
    /// Short human text for the status, in the client's language.
    message: String,
    /// The specific reason, in the client's language.
    error: String,
    /// The stable machine-readable reason; never changes with language.
    #[schema(schema_with = error_code_schema)]
    error_code: String,
    /// The `X-Request-Id` of this response.
    request_id: String,
    /// RFC 3339, UTC, second precision.
    #[schema(format = DateTime)]
    timestamp: String,
    /// On validation errors, one entry per bad field; may be absent otherwise.
    #[schema(nullable = false)]
    details: Option<Vec<ErrorDetail>>,
}

/// One refused field.
#[derive(ToSchema)]
#[allow(dead_code)] // Only described.
pub struct ErrorDetail {
    /// The field (or query parameter, or dependency for `/readyz`).
    field: String,
    /// Machine-readable reason, e.g. `required`, `invalid`, `too_short`, `taken`.
    reason: String,
    /// Human text, in the client's language.
    message: String,
}

fn error_code_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
        .description(Some("The stable machine-readable reason (contract section 6)."))
        .into()
}

/// The `event` query parameter's schema: one of the audit events.
pub fn event_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Event::ALL.map(Event::name)))
        .into()
}

/// A JSON Web Key Set (RFC 7517); empty `keys` under HS256.
#[derive(ToSchema)]
#[allow(dead_code)] // Only described: the token service renders the JWKS.
pub struct Jwks {
    /// The public Ed25519 keys (`kty: OKP`, `crv: Ed25519`, `x`, `kid`, `alg: EdDSA`, `use: sig`).
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The document's header, tags and security scheme; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hufu",
        description = "User accounts and sign-in. Every JSON answer under `/api/v1` is in the envelope \
            `{code, message, data, timestamp}`, or on failure `{code, message, error, error_code, request_id, \
            timestamp, details?}`; `code` equals the HTTP status. Every response carries `X-Request-Id`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    components(schemas(ErrorEnvelope, ErrorDetail)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Registration and sign-in (no token needed)"),
        (name = "users", description = "The signed-in user (Bearer token)"),
        (name = "codes", description = "One-time codes by SMS and email: code sign-in, password reset, verified identifiers"),
        (name = "mfa", description = "The TOTP second factor"),
        (name = "wechat", description = "WeChat sign-in and binding"),
        (name = "admin", description = "Administration (role `admin`)"),
        (name = "operations", description = "Health, readiness, keys, metrics and this document"),
        (name = "web", description = "The web page at `/` and its files (no envelope)"),
    ),
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from login, `/auth/mfa` or `/auth/refresh`"))
                    .build(),
            ),
        );
    }
}

/// The document serialised once, at start-up.
#[derive(Clone)]
pub struct SpecJson(Bytes);

impl SpecJson {
    /// Serialises `document`.
    pub fn new(document: &Document) -> Self {
        // Our own document always serialises; an empty object keeps the route answering.
        Self(Bytes::from(
            serde_json::to_vec(document).unwrap_or_else(|_| b"{}".to_vec()),
        ))
    }
}

/// `GET /api/v1/openapi.json`: this document, as is (a standard format: no envelope).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of every endpoint (no envelope)",
         content_type = "application/json", body = Object),
    ),
)]
pub async fn openapi_json(Extension(spec): Extension<SpecJson>) -> Response {
    let mut response = spec.0.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's error codes with their statuses (section 6, and section 9's OAuth two),
    /// written out again here as a second witness: `ErrorCode` must be exactly this list.
    const CONTRACT_CODES: &[(&str, u16)] = &[
        ("VALIDATION_FAILED", 400),
        ("INVALID_JSON", 400),
        ("INVALID_CREDENTIALS", 401),
        ("TOKEN_MISSING", 401),
        ("TOKEN_MALFORMED", 401),
        ("TOKEN_INVALID", 401),
        ("TOKEN_EXPIRED", 401),
        ("TOKEN_REVOKED", 401),
        ("REFRESH_TOKEN_INVALID", 401),
        ("REFRESH_TOKEN_EXPIRED", 401),
        ("REFRESH_TOKEN_REUSED", 401),
        ("MFA_INVALID", 401),
        ("FORBIDDEN", 403),
        ("ACCOUNT_DISABLED", 403),
        ("REGISTRATION_DISABLED", 403),
        ("WECHAT_USER_BLOCKED", 403),
        ("NOT_FOUND", 404),
        ("METHOD_NOT_ALLOWED", 405),
        ("USERNAME_TAKEN", 409),
        ("EMAIL_TAKEN", 409),
        ("PHONE_TAKEN", 409),
        ("WECHAT_ALREADY_BOUND", 409),
        ("LAST_LOGIN_METHOD", 409),
        ("BODY_TOO_LARGE", 413),
        ("UNSUPPORTED_MEDIA_TYPE", 415),
        ("ACCOUNT_LOCKED", 423),
        ("RATE_LIMITED", 429),
        ("WECHAT_RATE_LIMITED", 429),
        ("WECHAT_CODE_INVALID", 400),
        ("WECHAT_DECRYPT_FAILED", 400),
        ("WECHAT_NOT_CONFIGURED", 501),
        ("WECHAT_UNAVAILABLE", 503),
        ("UPSTREAM_TIMEOUT", 504),
        ("SERVICE_UNAVAILABLE", 503),
        ("INTERNAL_ERROR", 500),
        ("REDIRECT_URI_NOT_ALLOWED", 400),
        ("CODE_INVALID", 400),
        ("CODE_CHANNEL_NOT_CONFIGURED", 501),
        ("CODE_DELIVERY_FAILED", 503),
        ("REAUTH_REQUIRED", 403),
        ("OAUTH_STATE_INVALID", 400),
    ];

    /// Every `ErrorCode` is one of the contract's, with the contract's status in the HTTP
    /// table and a text in both languages; every contract code exists; the document lists
    /// exactly them.
    #[test]
    fn every_error_code_is_the_contracts_with_its_status_and_texts() {
        for code in ErrorCode::ALL {
            let contract_status = CONTRACT_CODES
                .iter()
                .find(|(wire, _)| *wire == code.as_str())
                .map(|(_, status)| *status);
            assert_eq!(
                contract_status,
                Some(crate::http::error::status_of(*code).as_u16()),
                "{code}: not in the contract, or answered with another status than the contract's"
            );
            let (en, zh) = code.text();
            assert!(!en.is_empty(), "{code} has no English text");
            assert!(
                !zh.is_empty() && zh != en && !zh.is_ascii(),
                "{code} has no Chinese text"
            );
        }
        for (wire, _) in CONTRACT_CODES {
            assert!(
                ErrorCode::ALL.iter().any(|code| code.as_str() == *wire),
                "the contract's {wire} is not an ErrorCode"
            );
        }
        assert_eq!(ErrorCode::ALL.len(), CONTRACT_CODES.len(), "a code is listed twice");

        let schema = serde_json::to_value(error_code_schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(listed, all, "the document's error_code enum is not ErrorCode::ALL");
    }

    /// No route bypasses `routes!` (and with it the document): the router has no bare `.route(`.
    #[test]
    fn every_route_goes_through_the_document() {
        let router = include_str!("mod.rs");
        assert!(
            !router.contains(concat!(".route", "(")),
            "src/http/mod.rs adds a route with `.route(`; use `.routes(routes!(handler))` so it is in the OpenAPI document"
        );
    }
}
