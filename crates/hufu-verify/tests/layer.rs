//! The axum layer and extractor on a real router, with keys from a real JWKS server.

// A test that cannot set itself up should stop loudly: unwrapping is its way of failing.
// The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use common::{JwksServer, NOW, TestKey, claims, silent_server, verifier};
use hufu_verify::{AccessClaims, HufuAuthLayer, HufuClaims, ManualClock, Verifier};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

async fn me(HufuClaims(claims): HufuClaims) -> axum::Json<AccessClaims> {
    axum::Json(claims)
}

async fn maybe(claims: Option<HufuClaims>) -> String {
    claims.map_or_else(|| "anonymous".into(), |c| c.username.clone())
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(HufuAuthLayer::new(verifier))
        // Outside the layer: wiring mistakes and optional claims.
        .route("/unguarded", get(me))
        .route("/maybe", get(maybe))
}

async fn call(app: Router, path: &str, authorization: Option<&str>) -> (Response, Value) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn challenge(response: &Response) -> Option<&str> {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap())
}

/// Checks hufu's error envelope: the fields, their values, and the timestamp's format.
fn assert_envelope(body: &Value, code: u16, message: &str, error_code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["error_code"], error_code, "{body}");
    assert!(!body["error"].as_str().unwrap().is_empty(), "{body}");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with('Z') && timestamp.len() == 20, "{timestamp}");
    time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
}

struct Setup {
    key: TestKey,
    clock: ManualClock,
    app: Router,
    _server: JwksServer,
}

async fn setup() -> Setup {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let clock = ManualClock::new(NOW);
    let app = app(verifier(&server.base, &clock, Duration::from_secs(10)));
    Setup {
        key,
        clock,
        app,
        _server: server,
    }
}

#[tokio::test]
async fn a_protected_route_answers_200_with_the_claims_inside() {
    let s = setup().await;
    let token = s.key.sign(&claims(NOW));
    let (response, body) = call(s.app, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["user_id"], 42);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["sid"], "7");
}

#[tokio::test]
async fn a_request_without_authorization_gets_401_token_missing_and_a_bare_challenge() {
    let s = setup().await;
    let (response, body) = call(s.app, "/me", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), Some("Bearer"));
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_envelope(&body, 401, "Unauthorized", "TOKEN_MISSING");
}

#[tokio::test]
async fn a_bad_authorization_header_gets_401_token_malformed() {
    let s = setup().await;
    for value in ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt"] {
        let (response, body) = call(s.app.clone(), "/me", Some(value)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(challenge(&response), Some("Bearer error=\"invalid_token\""));
        assert_envelope(&body, 401, "Unauthorized", "TOKEN_MALFORMED");
    }
}

#[tokio::test]
async fn a_forged_token_gets_401_token_invalid() {
    let s = setup().await;
    let token = TestKey::generate("k1").sign(&claims(NOW));
    let (response, body) = call(s.app, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), Some("Bearer error=\"invalid_token\""));
    assert_envelope(&body, 401, "Unauthorized", "TOKEN_INVALID");
}

#[tokio::test]
async fn an_expired_token_gets_401_token_expired() {
    let s = setup().await;
    let token = s.key.sign(&claims(NOW));
    s.clock.advance(900);
    let (response, body) = call(s.app, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), Some("Bearer error=\"invalid_token\""));
    assert_envelope(&body, 401, "Unauthorized", "TOKEN_EXPIRED");
}

#[tokio::test]
async fn unreachable_keys_get_503_service_unavailable() {
    let verifier = Verifier::builder(silent_server().await, common::ISS, common::AUD)
        .clock(Arc::new(ManualClock::new(NOW)))
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let token = TestKey::generate("k1").sign(&claims(NOW));
    let (response, body) = call(app(verifier), "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge(&response), None);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_envelope(&body, 503, "Service Unavailable", "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_wiring_error() {
    let s = setup().await;
    let token = s.key.sign(&claims(NOW));
    let (response, body) = call(s.app, "/unguarded", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_envelope(&body, 500, "Internal Server Error", "INTERNAL_ERROR");
}

#[tokio::test]
async fn optional_claims_are_none_without_the_layer() {
    let s = setup().await;
    let response = s
        .app
        .oneshot(Request::get("/maybe").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    assert_eq!(&bytes[..], b"anonymous");
}
