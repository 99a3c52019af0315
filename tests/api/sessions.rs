//! The token lifecycle on every store: refresh rotation, reuse detection, racing refreshes,
//! logout (one or all), listing and revoking sessions, password change, expiry.

use crate::harness::paths::{LOGIN, LOGOUT, PASSWORD, PROFILE, REFRESH, SESSIONS, session};
use crate::harness::{Answer, Backend, TestApp, read};
use crate::on_every_store;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

on_every_store!(
    a_refresh_rotates_the_pair_and_keeps_the_session,
    a_reused_refresh_token_revokes_the_whole_session,
    racing_refreshes_with_one_token_all_get_the_same_successor,
    with_no_grace_a_duplicate_is_reuse,
    logout_revokes_this_session_and_logout_all_every_session,
    sessions_are_listed_and_one_can_be_revoked,
    a_password_change_cuts_off_every_other_session_at_once,
    refresh_tokens_expire_and_access_tokens_expire_sooner,
);

fn sid(data: &Value) -> String {
    crate::harness::sid(data["token"].as_str().unwrap())
}

async fn refresh(app: &TestApp, token: &str) -> Answer {
    app.post(REFRESH, json!({ "refresh_token": token })).await
}

async fn a_refresh_rotates_the_pair_and_keeps_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("rita", "password123").await;
    let first = app.login("rita", "password123").await;
    let answer = refresh(&app, first["refresh_token"].as_str().unwrap()).await;
    let second = answer.expect_ok(200).clone();
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["token"], first["token"]);
    assert_eq!(sid(&second), sid(&first), "refresh keeps the session");
    assert_eq!(second["user"]["username"], "rita");
    assert_eq!(second["expires_in"], 900);
    app.get(PROFILE, Some(second["token"].as_str().unwrap()))
        .await
        .expect_ok(200);
    // The new refresh token works in turn.
    refresh(&app, second["refresh_token"].as_str().unwrap())
        .await
        .expect_ok(200);

    refresh(&app, "not-a-token-we-ever-issued")
        .await
        .expect_error(401, "REFRESH_TOKEN_INVALID");
    app.post(REFRESH, json!({}))
        .await
        .expect_error(400, "VALIDATION_FAILED");
}

async fn a_reused_refresh_token_revokes_the_whole_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("sam", "password123").await;
    let first = app.login("sam", "password123").await;
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(&app, &old_refresh).await.expect_ok(200).clone();
    let other_session = app.login("sam", "password123").await;

    // The stolen copy comes back after the reuse grace (10 s).
    app.clock.advance(time::Duration::seconds(11));
    let reused = refresh(&app, &old_refresh).await;
    reused.expect_error(401, "REFRESH_TOKEN_REUSED");

    // The whole family is dead: the current refresh token and every access token of it.
    refresh(&app, second["refresh_token"].as_str().unwrap())
        .await
        .expect_error(401, "REFRESH_TOKEN_INVALID");
    for token in [&first["token"], &second["token"]] {
        app.get(PROFILE, token.as_str())
            .await
            .expect_error(401, "TOKEN_REVOKED");
    }
    // Other sessions of the user are untouched.
    app.get(PROFILE, other_session["token"].as_str()).await.expect_ok(200);
}

async fn racing_refreshes_with_one_token_all_get_the_same_successor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("tess", "password123").await;
    let login = app.login("tess", "password123").await;
    let token = login["refresh_token"].as_str().unwrap().to_owned();
    let app = Arc::new(app);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { refresh(&app, &token).await })
        })
        .collect();
    let mut successors = std::collections::BTreeSet::new();
    for racer in racers {
        let answer = racer.await.unwrap();
        let data = answer.expect_ok(200);
        app.get(PROFILE, data["token"].as_str()).await.expect_ok(200);
        successors.insert(data["refresh_token"].as_str().unwrap().to_owned());
    }
    // One rotation, answered eight times: every tab holds the one working successor, and
    // nothing was revoked.
    assert_eq!(successors.len(), 1, "{successors:?}");
    let successor = successors.into_iter().next().unwrap();
    let next = refresh(&app, &successor).await.expect_ok(200).clone();
    // A duplicate within the grace after a lost response gets the same successor again…
    let again = refresh(&app, &successor).await.expect_ok(200).clone();
    assert_eq!(again["refresh_token"], next["refresh_token"]);
    // …but after the grace it is reuse: the session ends.
    app.clock.advance(time::Duration::seconds(11));
    refresh(&app, &successor)
        .await
        .expect_error(401, "REFRESH_TOKEN_REUSED");
    refresh(&app, next["refresh_token"].as_str().unwrap())
        .await
        .expect_error(401, "REFRESH_TOKEN_INVALID");
}

async fn with_no_grace_a_duplicate_is_reuse(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.refresh_reuse_grace = std::time::Duration::ZERO).await;
    app.register("ursa", "password123").await;
    let login = app.login("ursa", "password123").await;
    let token = login["refresh_token"].as_str().unwrap().to_owned();
    refresh(&app, &token).await.expect_ok(200);
    refresh(&app, &token).await.expect_error(401, "REFRESH_TOKEN_REUSED");
}

async fn logout_revokes_this_session_and_logout_all_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("uma", "password123").await;
    let a = app.login("uma", "password123").await;
    let b = app.login("uma", "password123").await;
    let c = app.login("uma", "password123").await;
    let token = |d: &Value| d["token"].as_str().unwrap().to_owned();

    // An empty body needs no Content-Type.
    let out = read(
        app.client
            .post(app.url(LOGOUT))
            .bearer_auth(token(&a))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(out.expect_ok(200)["revoked_sessions"], 1);
    assert_eq!(out.body["message"], "Logged out");
    let refused = app.get(PROFILE, Some(&token(&a))).await;
    refused.expect_error(401, "TOKEN_REVOKED");
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    refresh(&app, a["refresh_token"].as_str().unwrap())
        .await
        .expect_error(401, "REFRESH_TOKEN_INVALID");
    app.get(PROFILE, Some(&token(&b))).await.expect_ok(200);

    let all = app
        .call("POST", LOGOUT, Some(&token(&b)), Some(json!({"all": true})))
        .await;
    assert_eq!(all.expect_ok(200)["revoked_sessions"], 2);
    for data in [&b, &c] {
        app.get(PROFILE, Some(&token(data)))
            .await
            .expect_error(401, "TOKEN_REVOKED");
        refresh(&app, data["refresh_token"].as_str().unwrap())
            .await
            .expect_error(401, "REFRESH_TOKEN_INVALID");
    }
    // Signing in again still works.
    let fresh = app.login("uma", "password123").await;
    app.get(PROFILE, Some(&token(&fresh))).await.expect_ok(200);
    app.call("POST", LOGOUT, None, None)
        .await
        .expect_error(401, "TOKEN_MISSING");
}

async fn sessions_are_listed_and_one_can_be_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("vera", "password123").await;
    let phone = read(
        app.client
            .post(app.url(LOGIN))
            .header("user-agent", "VeraPhone/2.0")
            .json(&json!({"username": "vera", "password": "password123"}))
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect_ok(200)
    .clone();
    let laptop = app.login("vera", "password123").await;
    let listed = app.get(SESSIONS, laptop["token"].as_str()).await;
    let sessions = listed.expect_ok(200).as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["id"], sid(&laptop), "newest first; ids are the sid strings");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[1]["id"], sid(&phone));
    assert_eq!(sessions[1]["current"], false);
    assert_eq!(sessions[1]["user_agent"], "VeraPhone/2.0");
    assert_eq!(sessions[1]["ip"], "127.0.0.1");
    for field in ["created_at", "last_used_at"] {
        assert!(sessions[1][field].as_str().unwrap().ends_with('Z'));
    }

    let path = session(sid(&phone));
    app.call("DELETE", &path, laptop["token"].as_str(), None)
        .await
        .expect_ok(200);
    app.get(PROFILE, phone["token"].as_str())
        .await
        .expect_error(401, "TOKEN_REVOKED");
    let remaining = app.get(SESSIONS, laptop["token"].as_str()).await;
    assert_eq!(
        remaining.expect_ok(200).as_array().unwrap().len(),
        1,
        "live sessions only"
    );
    app.call("DELETE", &path, laptop["token"].as_str(), None)
        .await
        .expect_error(404, "NOT_FOUND");
    app.call("DELETE", &session("not-a-number"), laptop["token"].as_str(), None)
        .await
        .expect_error(404, "NOT_FOUND");

    // Another user cannot revoke Vera's session.
    let walt = app.login_as("walt").await;
    walt.delete(&session(sid(&laptop))).await.expect_error(404, "NOT_FOUND");
    app.get(PROFILE, laptop["token"].as_str()).await.expect_ok(200);
}

async fn a_password_change_cuts_off_every_other_session_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("xena", "first password").await;
    let other = app.login("xena", "first password").await;
    let current = app.login("xena", "first password").await;
    app.call(
        "PUT",
        PASSWORD,
        current["token"].as_str(),
        Some(json!({"old_password": "first password", "new_password": "second password"})),
    )
    .await
    .expect_ok(200);
    app.get(PROFILE, other["token"].as_str())
        .await
        .expect_error(401, "TOKEN_REVOKED");
    refresh(&app, other["refresh_token"].as_str().unwrap())
        .await
        .expect_error(401, "REFRESH_TOKEN_INVALID");
    app.get(PROFILE, current["token"].as_str()).await.expect_ok(200);
    refresh(&app, current["refresh_token"].as_str().unwrap())
        .await
        .expect_ok(200);
}

async fn refresh_tokens_expire_and_access_tokens_expire_sooner(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.tokens.access_ttl = Duration::from_secs(60);
        s.accounts.refresh_ttl = Duration::from_secs(300);
    })
    .await;
    app.register("yuki", "password123").await;
    let login = app.login("yuki", "password123").await;
    assert_eq!(
        (login["expires_in"].as_u64(), login["refresh_expires_in"].as_u64()),
        (Some(60), Some(300))
    );
    app.clock.advance(time::Duration::seconds(61));
    app.get(PROFILE, login["token"].as_str())
        .await
        .expect_error(401, "TOKEN_EXPIRED");
    // Refreshing slides the session forward by the refresh lifetime.
    let renewed = refresh(&app, login["refresh_token"].as_str().unwrap())
        .await
        .expect_ok(200)
        .clone();
    app.get(PROFILE, renewed["token"].as_str()).await.expect_ok(200);
    app.clock.advance(time::Duration::seconds(301));
    refresh(&app, renewed["refresh_token"].as_str().unwrap())
        .await
        .expect_error(401, "REFRESH_TOKEN_EXPIRED");
    let sessions = app.get(SESSIONS, None).await;
    sessions.expect_error(401, "TOKEN_MISSING");
}
