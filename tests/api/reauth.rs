//! Step-up (contract section 11) on every store: a stolen access token older than
//! `HUFU_REAUTH_WINDOW` cannot change the username, email or phone, set a first password,
//! set up TOTP or touch WeChat (403 `REAUTH_REQUIRED`), and refreshing it does not make it
//! fresh; `POST /auth/reauth` by password, by a TOTP code or by a `reauth` code proves the
//! session again, with `auth_time`/`amr` in the new token.

use crate::codes::USER_CODES;
use crate::harness::paths::{PASSWORD, PROFILE, REFRESH, TOTP_SETUP};
use crate::harness::{Backend, DEFAULT_PASSWORD, Signed, TestApp, jwt_parts};
use crate::inbox::Inbox;
use crate::on_every_store;
use serde_json::json;

const REAUTH: &str = "/api/v1/auth/reauth";

on_every_store!(
    a_stolen_token_cannot_move_the_account_after_the_window,
    refreshing_keeps_the_proof_time_and_proves_nothing,
    reauth_by_password_counts_wrong_answers_and_renews_the_session,
    reauth_by_a_reauth_code_proves_the_session,
    a_session_ends_at_its_max_age_however_often_it_refreshes,
);

/// Past the reauthentication window (10 min), inside the access token's life (15 min).
fn age_past_window(app: &TestApp) {
    app.clock.advance(time::Duration::minutes(11));
}

async fn a_stolen_token_cannot_move_the_account_after_the_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let victim = app.login_as("victim").await;
    let (_, claims) = jwt_parts(&victim.token);
    assert!(claims["auth_time"].as_i64().unwrap() > 0);
    assert_eq!(claims["amr"], json!(["pwd"]));
    // Fresh: a sensitive change goes through.
    victim
        .put(PROFILE, json!({"nickname": "v", "email": "victim2@example.com"}))
        .await
        .expect_ok(200);

    age_past_window(&app);
    for (method, path, body) in [
        ("PUT", PROFILE, json!({"email": "thief@example.com"})),
        ("PUT", PROFILE, json!({"phone": "13700000001"})),
        ("PUT", PROFILE, json!({"username": "stolen"})),
        ("POST", TOTP_SETUP, json!({})),
        ("POST", "/api/v1/users/mfa/totp/enable", json!({"code": "123456"})),
        ("POST", "/api/v1/users/wechat/bind", json!({"code": "thief-code"})),
        ("DELETE", "/api/v1/users/wechat", json!({})),
    ] {
        let answer = victim.call(method, path, Some(body)).await;
        answer.expect_error(403, "REAUTH_REQUIRED");
    }
    // Nothing changed, and what is not sensitive still works.
    let profile = victim.get(PROFILE).await.expect_ok(200).clone();
    assert_eq!(profile["email"], "victim2@example.com");
    victim
        .put(PROFILE, json!({"nickname": "still me"}))
        .await
        .expect_ok(200);
    // A password change with the right old password carries its own proof.
    victim
        .put(
            PASSWORD,
            json!({"old_password": DEFAULT_PASSWORD, "new_password": "a new password 1"}),
        )
        .await
        .expect_ok(200);
}

async fn refreshing_keeps_the_proof_time_and_proves_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.login_as("refresher").await;
    let (_, first) = jwt_parts(&user.token);
    age_past_window(&app);
    let refreshed = app
        .post(REFRESH, json!({"refresh_token": user.refresh_token}))
        .await
        .expect_ok(200)
        .clone();
    let (_, claims) = jwt_parts(refreshed["token"].as_str().unwrap());
    assert_eq!(claims["auth_time"], first["auth_time"]);
    assert_eq!(claims["amr"], first["amr"]);
    let thief = app.signed(&refreshed);
    thief
        .put(PROFILE, json!({"email": "thief@example.com"}))
        .await
        .expect_error(403, "REAUTH_REQUIRED");
}

async fn reauth_by_password_counts_wrong_answers_and_renews_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.login_as("prover").await;
    age_past_window(&app);
    user.post(REAUTH, json!({"password": "not the password"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    user.post(REAUTH, json!({}))
        .await
        .expect_error(400, "VALIDATION_FAILED");
    let renewed = user.post(REAUTH, json!({"password": DEFAULT_PASSWORD})).await;
    let renewed = renewed.expect_ok(200).clone();
    let (_, claims) = jwt_parts(renewed["token"].as_str().unwrap());
    assert_eq!(claims["sid"], jwt_parts(&user.token).1["sid"], "the same session");
    assert!(claims["auth_time"].as_i64() > jwt_parts(&user.token).1["auth_time"].as_i64());
    let proved: Signed = app.signed(&renewed);
    proved
        .put(PROFILE, json!({"email": "prover.new@example.com"}))
        .await
        .expect_ok(200);
    // The session's old refresh token was retired: presenting it (past the two seconds a
    // racing refresh is given) is reuse, which ends the session.
    app.clock.advance(time::Duration::seconds(3));
    app.post(REFRESH, json!({"refresh_token": user.refresh_token}))
        .await
        .expect_error(401, "REFRESH_TOKEN_REUSED");
    // Wrong answers count toward the lock: the sixth is refused even when right.
    let again = app.login_as("prover2").await;
    for _ in 0..6 {
        again.post(REAUTH, json!({"password": "wrong wrong"})).await;
    }
    again
        .post(REAUTH, json!({"password": DEFAULT_PASSWORD}))
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}

async fn reauth_by_a_reauth_code_proves_the_session(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = TestApp::spawn_with(backend, |s| inbox.configure(s)).await;
    let user = app.login_as("coder").await;
    age_past_window(&app);
    let phone = user.user["phone"].as_str().unwrap().to_owned();
    user.post(USER_CODES, json!({"channel": "sms", "purpose": "reauth"}))
        .await
        .expect_ok(200);
    let code = inbox.code("sms", &phone).await;
    // Someone else's session cannot spend it.
    let other = app.login_as("other-coder").await;
    other
        .post(REAUTH, json!({"channel": "sms", "code": code}))
        .await
        .expect_error(400, "CODE_INVALID");
    let renewed = user.post(REAUTH, json!({"channel": "sms", "code": code})).await;
    let renewed = renewed.expect_ok(200).clone();
    let (_, claims) = jwt_parts(renewed["token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["sms"]));
    app.signed(&renewed)
        .put(PROFILE, json!({"username": "coder_renamed"}))
        .await
        .expect_ok(200);
}

/// `HUFU_SESSION_MAX_AGE`: refreshing keeps a session alive up to its absolute end, never past
/// it, and `refresh_expires_in` says so (a stolen refresh token is not good forever).
async fn a_session_ends_at_its_max_age_however_often_it_refreshes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.accounts.session_max_age = std::time::Duration::from_secs(3_600);
        s.accounts.refresh_ttl = std::time::Duration::from_secs(1_800);
    })
    .await;
    let user = app.login_as("aging").await;
    assert_eq!(user.data["refresh_expires_in"], 1_800);
    let mut refresh = user.refresh_token.clone();
    // Refreshed at 20, 40 and 50 minutes: from the second on, only to the hour's end.
    for (after, expected) in [(20, 1_800), (20, 1_200), (10, 600)] {
        app.clock.advance(time::Duration::minutes(after));
        let renewed = app
            .post(REFRESH, json!({"refresh_token": refresh}))
            .await
            .expect_ok(200)
            .clone();
        assert_eq!(renewed["refresh_expires_in"], expected);
        refresh = renewed["refresh_token"].as_str().unwrap().to_owned();
    }
    app.clock.advance(time::Duration::minutes(11));
    app.post(REFRESH, json!({"refresh_token": refresh}))
        .await
        .expect_error(401, "REFRESH_TOKEN_EXPIRED");
}
