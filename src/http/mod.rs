//! The HTTP surface: routes, extractors, the envelope and the error table. Everything here
//! translates between HTTP and the domain; nothing here decides.

pub mod envelope;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod observe;
pub mod routes;

use crate::app::AppState;
use crate::metrics::HttpTable;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use routes::{admin, audit, auth, mfa, ops, users, wechat};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest accepted request body (contract section 1).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole router with its layers. `request_timeout` bounds every request; past it the
/// client gets an enveloped 503 instead of waiting on a stuck dependency.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    // Every template is noted as it is added, so the metrics table knows them all.
    let mut routes = Routes::default();
    let router = Router::new()
        .route(routes.add("/api/v1/auth/register"), post(auth::register))
        .route(routes.add("/api/v1/auth/login"), post(auth::login))
        .route(routes.add("/api/v1/auth/refresh"), post(auth::refresh))
        .route(routes.add("/api/v1/auth/logout"), post(auth::logout))
        .route(routes.add("/api/v1/auth/mfa"), post(mfa::complete))
        .route(
            routes.add("/api/v1/auth/wechat/miniprogram"),
            post(wechat::mini_program),
        )
        .route(
            routes.add("/api/v1/auth/wechat/oauth/authorize"),
            get(wechat::authorize),
        )
        .route(routes.add("/api/v1/auth/wechat/oauth/callback"), get(wechat::callback))
        .route(routes.add("/api/v1/users/wechat"), delete(wechat::unbind))
        .route(routes.add("/api/v1/users/wechat/bind"), post(wechat::bind))
        .route(routes.add("/api/v1/users/wechat/phone"), post(wechat::phone))
        .route(
            routes.add("/api/v1/users/profile"),
            get(users::get_profile).put(users::put_profile),
        )
        .route(routes.add("/api/v1/users/password"), put(users::put_password))
        .route(routes.add("/api/v1/users/sessions"), get(users::list_sessions))
        .route(routes.add("/api/v1/users/sessions/{id}"), delete(users::delete_session))
        .route(routes.add("/api/v1/admin/audit"), get(audit::list))
        .route(routes.add("/api/v1/admin/users"), get(admin::list_users))
        .route(
            routes.add("/api/v1/admin/users/{id}"),
            get(admin::get_user).patch(admin::patch_user),
        )
        .route(
            routes.add("/api/v1/admin/users/{id}/sessions"),
            delete(admin::delete_sessions),
        )
        .route(routes.add("/api/v1/users/mfa/totp/setup"), post(mfa::setup))
        .route(routes.add("/api/v1/users/mfa/totp/enable"), post(mfa::enable))
        .route(routes.add("/api/v1/users/mfa/totp/disable"), post(mfa::disable))
        .route(routes.add("/.well-known/jwks.json"), get(ops::jwks))
        .route(routes.add("/healthz"), get(ops::healthz))
        .route(routes.add("/readyz"), get(ops::readyz))
        .route(routes.add("/metrics"), get(ops::metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let observer = Arc::new(observe::Observer {
        table: HttpTable::new(state.metrics.clone(), &routes.0),
        trusted_proxies: state.trusted_proxies.clone(),
    });
    router
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(observer, observe::observe))
        .layer(axum::middleware::from_fn(envelope::envelope))
}

/// The route templates of a router, in the order they were added.
#[derive(Default)]
struct Routes(Vec<&'static str>);

impl Routes {
    /// Notes `template` and hands it on to `Router::route`.
    fn add(&mut self, template: &'static str) -> &'static str {
        self.0.push(template);
        template
    }
}
