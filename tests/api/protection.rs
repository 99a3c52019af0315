//! Contract section 5 in process and in Redis: lockout per identifier, per-IP rate limits,
//! and the client IP taken from X-Forwarded-For only behind a trusted proxy.

use crate::harness::paths::{LOGIN, PASSWORD, REFRESH, REGISTER};
use crate::harness::{Answer, CacheMode, TestApp, read};
use crate::on_every_cache;
use serde_json::json;
use std::time::Duration;

on_every_cache!(
    failed_logins_lock_the_identifier_even_for_the_right_password,
    a_success_resets_the_count_and_unknown_identifiers_lock_too,
    parallel_guesses_cannot_outrun_the_lockout,
    rate_limits_answer_429_with_retry_after,
    forwarded_for_counts_only_behind_a_trusted_proxy,
);

async fn login(app: &TestApp, identifier: &str, password: &str) -> Answer {
    app.post(LOGIN, json!({"username": identifier, "password": password}))
        .await
}

fn retry_after(answer: &Answer) -> u64 {
    answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds")
}

async fn failed_logins_lock_the_identifier_even_for_the_right_password(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| {
        s.limits.lockout_threshold = 3;
        s.limits.lockout_duration = Duration::from_secs(600);
    })
    .await;
    app.register("lockme", "the right password").await;
    for _ in 0..3 {
        login(&app, "LockMe", "wrong password")
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    let locked = login(&app, "lockme", "the right password").await;
    locked.expect_error(423, "ACCOUNT_LOCKED");
    let seconds = retry_after(&locked);
    assert!((590..=600).contains(&seconds), "Retry-After {seconds}");
    let zh = app
        .in_lang("zh-CN")
        .post(LOGIN, json!({"username": "lockme", "password": "x"}))
        .await;
    assert_eq!(zh.body["message"], "账户已锁定");
    // The account is locked too (contract section 11): its email is another identifier, but
    // the same account.
    let by_email = login(&app, "lockme@example.com", "the right password").await;
    by_email.expect_error(423, "ACCOUNT_LOCKED");
    assert!(retry_after(&by_email) >= 590);

    if mode == CacheMode::Memory {
        app.clock.advance(time::Duration::seconds(601));
        login(&app, "lockme", "the right password").await.expect_ok(200);
    }

    // Wrong old passwords on a password change count toward the account's lock.
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 2).await;
    let changer = app.login_as("changer").await;
    let change = |old: &'static str| {
        changer.put(
            PASSWORD,
            json!({"old_password": old, "new_password": "new password here"}),
        )
    };
    change("nope one").await.expect_error(401, "INVALID_CREDENTIALS");
    change("nope two").await.expect_error(401, "INVALID_CREDENTIALS");
    change("correct horse battery")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
    login(&app, "changer", "correct horse battery")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}

async fn a_success_resets_the_count_and_unknown_identifiers_lock_too(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 3).await;
    app.register("resetme", "the right password").await;
    for _ in 0..2 {
        login(&app, "resetme", "wrong")
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    login(&app, "resetme", "the right password").await.expect_ok(200);
    for _ in 0..2 {
        login(&app, "resetme", "wrong")
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    login(&app, "resetme", "the right password").await.expect_ok(200);

    // An identifier with no account locks the same way, so a lock says nothing about existence.
    for _ in 0..3 {
        login(&app, "ghost@example.com", "wrong")
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    login(&app, "GHOST@example.com", "wrong")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
    // Phones lock in their normalised form.
    for _ in 0..3 {
        login(&app, "+8613700000000", "wrong")
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    login(&app, "13700000000", "wrong")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}

async fn rate_limits_answer_429_with_retry_after(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| {
        s.limits.login_per_minute = 3;
        s.limits.register_per_minute = 2;
        s.limits.refresh_per_minute = 2;
    })
    .await;
    for i in 0..3 {
        // Every request counts, successful or not (these are validation failures).
        app.post(LOGIN, json!({"username": format!("u{i}")}))
            .await
            .expect_error(400, "VALIDATION_FAILED");
    }
    let limited = app.post(LOGIN, json!({"username": "u", "password": "p"})).await;
    limited.expect_error(429, "RATE_LIMITED");
    assert!((1..=60).contains(&retry_after(&limited)));

    for _ in 0..2 {
        app.post(REGISTER, json!({}))
            .await
            .expect_error(400, "VALIDATION_FAILED");
    }
    app.post(REGISTER, json!({})).await.expect_error(429, "RATE_LIMITED");
    for _ in 0..2 {
        app.post(REFRESH, json!({"refresh_token": "x"}))
            .await
            .expect_error(401, "REFRESH_TOKEN_INVALID");
    }
    let refresh = app.post(REFRESH, json!({"refresh_token": "x"})).await;
    refresh.expect_error(429, "RATE_LIMITED");
    let zh = app.in_lang("zh").call("POST", REFRESH, None, None).await;
    assert_eq!(zh.body["message"], "请求过于频繁");

    if mode == CacheMode::Memory {
        app.clock.advance(time::Duration::seconds(61));
        app.post(LOGIN, json!({"username": "u"}))
            .await
            .expect_error(400, "VALIDATION_FAILED");
    }
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(mode: CacheMode) {
    let send = |app: &TestApp, forwarded: &str| {
        let request = app
            .client
            .post(app.url(LOGIN))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": "nobody", "password": "wrong"}));
        async move { read(request.send().await.unwrap()).await.status }
    };
    // Behind a trusted proxy (this test's own 127.0.0.1), each forwarded client has its bucket.
    let app = TestApp::spawn_cached(mode, |s| {
        s.limits.login_per_minute = 2;
        s.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(send(&app, "198.51.100.1").await, 401);
    assert_eq!(send(&app, "198.51.100.1").await, 401);
    assert_eq!(send(&app, "198.51.100.1").await, 429);
    assert_eq!(send(&app, "198.51.100.2").await, 401, "another client, another bucket");
    // A client cannot escape by prepending a fake hop: the proxy appends the real one, in the
    // same line or in a line of its own.
    assert_eq!(send(&app, "203.0.113.7, 198.51.100.1").await, 429);
    let two_lines = app
        .client
        .post(app.url(LOGIN))
        .header("x-forwarded-for", "203.0.113.8")
        .header("x-forwarded-for", "198.51.100.1")
        .json(&json!({"username": "nobody", "password": "wrong"}));
    assert_eq!(read(two_lines.send().await.unwrap()).await.status, 429);

    // Without trusted proxies the header is ignored: everyone here is 127.0.0.1.
    let app = TestApp::spawn_cached(mode, |s| s.limits.login_per_minute = 2).await;
    assert_eq!(send(&app, "198.51.100.1").await, 401);
    assert_eq!(send(&app, "198.51.100.2").await, 401);
    assert_eq!(send(&app, "198.51.100.3").await, 429);
}

async fn parallel_guesses_cannot_outrun_the_lockout(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 3).await;
    app.register("target", "the right password").await;
    let app = std::sync::Arc::new(app);
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { login(&app, "target", &format!("guess {i}")).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!(checked + locked, 20, "{statuses:?}");
    assert!(
        checked <= 3,
        "only the threshold's worth of guesses may be checked, got {checked}"
    );
    login(&app, "target", "the right password")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}
