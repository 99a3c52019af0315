//! The `hufu-verify` library against a real hufu: another service trusts hufu's EdDSA tokens
//! from the JWKS alone, follows a key rotation, and guards its routes with the layer.

use crate::harness::{Backend, TestApp, read};
use axum::Router;
use axum::routing::get;
use hufu::config::JwtAlgorithm;
use hufu::domain::keys;
use hufu_verify::{HufuAuthLayer, HufuClaims, Verifier, VerifyError};
use std::time::Duration;

#[tokio::test]
async fn another_service_verifies_hufu_tokens_from_the_jwks_and_follows_rotation() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.tokens.jwt_algorithm = JwtAlgorithm::EdDsa).await;
    // The verifier keeps time with hufu's test clock, which the rotation below moves on.
    let clock = hufu_verify::ManualClock::new(hufu::clock::Clock::unix_seconds(&app.clock));
    let verifier = Verifier::builder(format!("http://{}", app.addr), "hufu", "hufu")
        .min_refetch_interval(Duration::ZERO)
        .clock(std::sync::Arc::new(clock.clone()))
        .build()
        .unwrap();
    let token = app.login_as("nina").await.token;
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.username, "nina");
    assert!(claims.has_role("user"));

    let core = &app.state.core;
    keys::rotate(&core.store, core.keys.secret_box(), core.clock.unix_millis())
        .await
        .unwrap();
    app.clock.advance(time::Duration::seconds(26));
    clock.advance(26);
    keys::reload(core).await.unwrap();
    let rotated = app.login_as("nina").await.token;
    assert_eq!(
        verifier.verify(&rotated).await.unwrap().username,
        "nina",
        "unknown kid → refetch"
    );
    assert!(verifier.verify(&token).await.is_ok(), "the old key still verifies");

    // A token from another deployment (or HS256) is refused.
    let other = TestApp::spawn(Backend::Sqlite).await;
    let foreign = other.login_as("nina").await.token;
    assert!(matches!(verifier.verify(&foreign).await, Err(VerifyError::Invalid)));

    // The layer guards a route of the other service.
    async fn me(HufuClaims(claims): HufuClaims) -> String {
        format!("hello {}", claims.username)
    }
    let service = Router::new().route("/me", get(me)).layer(HufuAuthLayer::new(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{addr}/me"))
        .bearer_auth(&rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "hello nina");
    let refused = read(client.get(format!("http://{addr}/me")).send().await.unwrap()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["error_code"], "TOKEN_MISSING");
}
