//! The observation layer: counts and times every request in the node's metrics, and writes
//! one `info` log line per request.
//!
//! It runs inside the envelope layer (so inside the request's span, which carries
//! `request_id` and, once the `Authenticated` extractor has checked a token, `user_id`) and
//! outside the timeout and panic layers (so it sees their 503/500). Routes are labelled by
//! their template (`/api/v1/users/sessions/{id}`), never the raw path; requests no route
//! matched are labelled `unmatched`. The log line has no headers and no body, so no password,
//! token or secret can reach it.

use super::error::{ApiError, ApiResult};
use super::extract::client_ip_of;
use crate::domain::error::Error as DomainError;
use crate::metrics::{HttpTable, LoginMethod, LoginResult, Metrics, UNMATCHED};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::sync::Arc;
use std::time::Instant;

/// What the layer needs: the router's metric handles and the trusted proxies (client IP).
#[derive(Debug)]
pub struct Observer {
    /// Per route template, method and status.
    pub table: HttpTable,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
}

/// Times the request, counts it, and logs it.
pub async fn observe(State(observer): State<Arc<Observer>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    // The client IP is only worked out when the line will be written.
    let logging = tracing::enabled!(tracing::Level::INFO);
    let client_ip = if logging {
        client_ip_of(request.headers(), request.extensions(), &observer.trusted_proxies)
    } else {
        None
    };
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = route.as_ref().map(MatchedPath::as_str);
    observer.table.observe(&method, route, status, elapsed.as_secs_f64());
    if logging {
        tracing::info!(
            method = method.as_str(),
            route = route.unwrap_or(UNMATCHED),
            status,
            latency_ms = elapsed.as_secs_f64() * 1_000.0,
            client_ip = client_ip.map(tracing::field::display),
            "request"
        );
    }
    response
}

/// The `outcome` label of a sign-in that failed with `error`.
pub fn login_failure(error: &ApiError) -> LoginResult {
    match error {
        ApiError::Domain(error) => match error {
            DomainError::InvalidCredentials => LoginResult::InvalidCredentials,
            DomainError::MfaInvalid => LoginResult::InvalidCode,
            DomainError::Locked { .. } => LoginResult::Locked,
            DomainError::AccountDisabled => LoginResult::Disabled,
            DomainError::RateLimited { .. } => LoginResult::RateLimited,
            DomainError::Validation(_) | DomainError::RedirectUriNotAllowed | DomainError::OauthStateInvalid => {
                LoginResult::InvalidRequest
            }
            DomainError::Wechat(_) | DomainError::WechatNotConfigured | DomainError::WechatDecryptFailed => {
                LoginResult::WechatError
            }
            DomainError::Busy | DomainError::Unavailable(_) => LoginResult::Unavailable,
            _ => LoginResult::Error,
        },
        ApiError::InvalidJson { .. } | ApiError::UnsupportedMediaType | ApiError::BodyTooLarge => {
            LoginResult::InvalidRequest
        }
        _ => LoginResult::Error,
    }
}

/// Counts a finished sign-in attempt of `method`: `success` when it gave tokens.
pub fn count_login<T>(metrics: &Metrics, method: LoginMethod, result: &ApiResult<T>) {
    let outcome = match result {
        Ok(_) => LoginResult::Success,
        Err(error) => login_failure(error),
    };
    metrics.login(method, outcome);
}
