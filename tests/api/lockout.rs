//! Contract sections 5 and 11 against the attacks a security review found (issue 21): limiter
//! keys no typed identifier can reach, the account's own lock shared by every identifier and
//! every endpoint that checks its password or codes, the per-IP limit on signed-in checks, and
//! the password change in one transaction. Each test is named for the attack it stops.

use crate::harness::paths::{LOGIN, PASSWORD, TOTP_DISABLE};
use crate::harness::{CacheMode, TestApp};
use crate::mfa::{code_now, complete, mfa_token, mfa_user, next_step};
use crate::on_every_cache;
use serde_json::json;

on_every_cache!(
    logins_as_a_users_mfa_key_do_not_lock_their_second_factor,
    a_signed_in_caller_cannot_run_password_checks_unthrottled,
);

/// `POST`: verify the caller's email or phone with a code (not in `paths`: only this file).
const VERIFY: &str = "/api/v1/users/verify";

fn retry_after(answer: &crate::harness::Answer) -> u64 {
    answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds")
}

async fn logins_as_a_users_mfa_key_do_not_lock_their_second_factor(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 2).await;
    let victim = mfa_user(&app, "keyvictim").await;
    // What hufu once named the per-user second-factor counter, and what it could be named
    // now: typed as login identifiers, they count only toward those identifiers' own locks.
    for spelled in [
        format!("mfa-user:{}", victim.signed.id),
        format!("acct:{}", victim.signed.id),
        format!("{}", victim.signed.id),
    ] {
        for _ in 0..3 {
            let answer = app
                .post(LOGIN, json!({"username": spelled, "password": "whatever"}))
                .await;
            assert!(
                answer.status == 401 || answer.status == 423,
                "{spelled}: {}",
                answer.text
            );
        }
    }
    next_step(&app);
    let token = mfa_token(&app, "keyvictim").await;
    complete(&app, &token, &code_now(&app, &victim.secret))
        .await
        .expect_ok(200);
    next_step(&app);
    victim
        .signed
        .post(TOTP_DISABLE, json!({"code": code_now(&app, &victim.secret)}))
        .await
        .expect_ok(200);
}

async fn a_signed_in_caller_cannot_run_password_checks_unthrottled(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| {
        s.limits.verify_per_minute = 3;
        // High enough that the account lock does not answer first.
        s.limits.lockout_threshold = 100;
    })
    .await;
    let thief = app.login_as("throttled").await;
    for i in 0..3 {
        thief
            .put(
                PASSWORD,
                json!({"old_password": format!("guess {i}"), "new_password": "whatever it is"}),
            )
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    // One bucket per IP for every signed-in check: the password change, TOTP disable by
    // password and the code verification alike.
    let limited = thief
        .put(
            PASSWORD,
            json!({"old_password": "guess 4", "new_password": "whatever it is"}),
        )
        .await;
    limited.expect_error(429, "RATE_LIMITED");
    assert!((1..=60).contains(&retry_after(&limited)));
    let disable = thief.post(TOTP_DISABLE, json!({"password": "guess 5"})).await;
    disable.expect_error(429, "RATE_LIMITED");
    assert!(disable.header("retry-after").is_some());
    let verify = thief.post(VERIFY, json!({"channel": "email", "code": "123456"})).await;
    verify.expect_error(429, "RATE_LIMITED");
    assert!(verify.header("retry-after").is_some());
    // Sign-ins have their own bucket, which the checks above did not use up.
    app.sign_in("throttled", crate::harness::DEFAULT_PASSWORD).await;

    if mode == CacheMode::Memory {
        app.clock.advance(time::Duration::seconds(61));
        thief
            .put(
                PASSWORD,
                json!({"old_password": "guess 6", "new_password": "whatever it is"}),
            )
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
}
