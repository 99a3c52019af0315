//! The HTTP surface: routes, extractors, the envelope and the error table. Everything here
//! translates between HTTP and the domain; nothing here decides.

pub mod envelope;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod observe;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod state;

pub use state::AppState;

use crate::metrics::HttpTable;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Router};
use routes::{admin, audit, auth, codes, mfa, ops, users, web, wechat};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest accepted request body (contract section 1).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route, each registered with its OpenAPI operation (`routes!` takes the method and
/// path from the handler's `#[utoipa::path]`), so the document cannot miss a served route.
/// Handlers sharing a path go in one `routes!`.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::reauth))
        .routes(routes!(codes::send_code))
        .routes(routes!(codes::login_with_code))
        .routes(routes!(codes::reset_password))
        .routes(routes!(codes::send_user_code))
        .routes(routes!(codes::verify))
        .routes(routes!(mfa::complete))
        .routes(routes!(wechat::mini_program))
        .routes(routes!(wechat::authorize))
        .routes(routes!(wechat::callback))
        .routes(routes!(wechat::unbind))
        .routes(routes!(wechat::bind))
        .routes(routes!(wechat::phone))
        .routes(routes!(users::get_profile, users::put_profile))
        .routes(routes!(users::put_password))
        .routes(routes!(users::list_sessions))
        .routes(routes!(users::delete_session))
        .routes(routes!(audit::list))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::get_user, admin::patch_user))
        .routes(routes!(admin::delete_sessions))
        .routes(routes!(mfa::setup))
        .routes(routes!(mfa::enable))
        .routes(routes!(mfa::disable))
        .routes(routes!(ops::jwks))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(web::index))
        .routes(routes!(web::asset))
}

/// The whole router with its layers. `request_timeout` bounds every request; past it the
/// client gets an enveloped 503 instead of waiting on a stuck dependency.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let (routes, document) = api().split_for_parts();
    // The metrics table is built from the document's paths, which are the router's templates
    // (both come from the same `routes!` declarations). Labels must be `'static`; the router is
    // built once per app, so the few dozen short templates are leaked once, not per request.
    let templates: Vec<&'static str> = document
        .paths
        .paths
        .keys()
        .map(|path| &*Box::leak(path.clone().into_boxed_str()))
        .collect();
    let observer = Arc::new(observe::Observer {
        table: HttpTable::new(state.metrics.clone(), &templates),
        trusted_proxies: state.trusted_proxies.clone(),
    });
    // One composed layer, not one `Router::layer` call per layer: axum wraps each route in a
    // boxed service per `layer` call, and every level clones the boxed chain below it on each
    // request (allocations quadratic in the number of layers). Composed, a request clones one
    // box around the whole stack. `ServiceBuilder` lists the outermost layer first.
    let layers = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(envelope::envelope))
        .layer(axum::middleware::from_fn_with_state(observer, observe::observe))
        .layer(CatchPanicLayer::custom(|_| {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(openapi::SpecJson::new(&document)));
    routes.with_state(state).layer(layers)
}
