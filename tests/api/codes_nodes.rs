//! One-time codes across two real `hufu` processes on one database, without Redis: a code sent
//! through node A is used on node B exactly once, and the resend interval and the daily cap
//! hold across both (they are counted in the database). A password reset on one node ends the
//! session on the other within a second.

use crate::codes::{AUTH_CODES, LOGIN_CODE, RESET};
use crate::harness::paths::PROFILE;
use crate::harness::{Backend, assert_revoked_within, fresh_database, read, registration};
use crate::inbox::Inbox;
use crate::on_every_store;
use crate::process::Server;
use serde_json::json;
use std::time::Duration;

on_every_store!(a_code_works_once_across_nodes_and_the_limits_are_shared);

async fn a_code_works_once_across_nodes_and_the_limits_are_shared(backend: Backend) {
    let inbox = Inbox::start().await;
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let mut envs: Vec<(&str, String)> = vec![
        ("HUFU_DATABASE_URL", url),
        ("HUFU_DATA_DIR", data),
        ("HUFU_JWT_SECRET", "two-nodes-share-this-secret-0123456789".to_owned()),
        ("HUFU_CODE_DAILY_LIMIT", "3".to_owned()),
        ("HUFU_RATE_LIMIT_LOGIN", "1000".to_owned()),
        ("HUFU_RATE_LIMIT_CODE", "1000".to_owned()),
    ];
    envs.extend(inbox.envs());
    let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start(&pairs);
    let b = Server::start(&pairs);
    let client = reqwest::Client::new();
    let post = |node: &Server, path: &str, body: serde_json::Value| {
        let request = client.post(node.url(path)).json(&body);
        async move { read(request.send().await.unwrap()).await }
    };

    let phone = "13512345678";
    post(
        &a,
        AUTH_CODES,
        json!({"channel": "sms", "target": phone, "purpose": "login"}),
    )
    .await
    .expect_ok(200);
    let code = inbox.code("sms", phone).await;
    // The resend interval holds on the other node.
    post(
        &b,
        AUTH_CODES,
        json!({"channel": "sms", "target": phone, "purpose": "login"}),
    )
    .await
    .expect_error(429, "RATE_LIMITED");
    // Used on B; then neither node takes it again.
    let login = json!({"channel": "sms", "target": phone, "code": code});
    let signed = post(&b, LOGIN_CODE, login.clone()).await;
    assert_eq!(signed.expect_ok(200)["is_new_user"], true);
    post(&a, LOGIN_CODE, login.clone())
        .await
        .expect_error(400, "CODE_INVALID");
    post(&b, LOGIN_CODE, login).await.expect_error(400, "CODE_INVALID");

    // Two nodes racing with one code: exactly one wins.
    let racer = "13512345679";
    post(
        &a,
        AUTH_CODES,
        json!({"channel": "sms", "target": racer, "purpose": "login"}),
    )
    .await
    .expect_ok(200);
    let code = inbox.code("sms", racer).await;
    let body = json!({"channel": "sms", "target": racer, "code": code});
    let (on_a, on_b) = tokio::join!(post(&a, LOGIN_CODE, body.clone()), post(&b, LOGIN_CODE, body));
    let mut statuses = [on_a.status, on_b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);

    // A password reset through B ends the session made on A.
    let mut account = registration("nodes", "first password 1");
    account["email"] = json!("nodes@example.com");
    post(&a, crate::harness::paths::REGISTER, account).await.expect_ok(201);
    let token = post(
        &a,
        crate::harness::paths::LOGIN,
        json!({"username": "nodes", "password": "first password 1"}),
    )
    .await
    .expect_ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &b,
        AUTH_CODES,
        json!({"channel": "email", "target": "nodes@example.com", "purpose": "reset_password"}),
    )
    .await
    .expect_ok(200);
    let code = inbox.code("email", "nodes@example.com").await;
    post(
        &b,
        RESET,
        json!({"channel": "email", "target": "nodes@example.com", "code": code,
        "new_password": "second password 2"}),
    )
    .await
    .expect_ok(200);
    assert_revoked_within(
        &client,
        &a.url(PROFILE),
        &token,
        Duration::from_secs(1),
        "a reset on B, read on A",
    )
    .await;
    crate::inbox::assert_no_secret_in_logs();
}

/// The daily cap counted in the database holds across nodes (its own test: the resend interval
/// is off here so that only the cap is measured).
async fn the_daily_cap_holds_across_nodes(backend: Backend) {
    let inbox = Inbox::start().await;
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let mut envs: Vec<(&str, String)> = vec![
        ("HUFU_DATABASE_URL", url),
        ("HUFU_DATA_DIR", data),
        ("HUFU_CODE_DAILY_LIMIT", "3".to_owned()),
        ("HUFU_CODE_RESEND_INTERVAL", "0s".to_owned()),
        ("HUFU_RATE_LIMIT_CODE", "1000".to_owned()),
    ];
    envs.extend(inbox.envs());
    let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start(&pairs);
    let b = Server::start(&pairs);
    let client = reqwest::Client::new();
    let send = |node: &Server| {
        let request = client
            .post(node.url(AUTH_CODES))
            .json(&json!({"channel": "sms", "target": "13612345678", "purpose": "login"}));
        async move { read(request.send().await.unwrap()).await }
    };
    send(&a).await.expect_ok(200);
    send(&b).await.expect_ok(200);
    send(&a).await.expect_ok(200);
    let capped = send(&b).await;
    capped.expect_error(429, "RATE_LIMITED");
    let wait: u64 = capped.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 86_000, "until the first send leaves the day: {wait}");
    send(&a).await.expect_error(429, "RATE_LIMITED");
    assert_eq!(inbox.count("sms", "13612345678"), 3);
}

on_every_store!(the_daily_cap_holds_across_nodes);
