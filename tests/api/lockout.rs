//! Contract sections 5 and 11 against the attacks a security review found (issue 21): limiter
//! keys no typed identifier can reach, the account's own lock shared by every identifier and
//! every endpoint that checks its password or codes, the per-IP limit on signed-in checks, and
//! the password change in one transaction. Each test is named for the attack it stops.

use crate::harness::paths::{LOGIN, PASSWORD, PROFILE, TOTP_DISABLE};
use crate::harness::{Backend, Signed};
use crate::harness::{CacheMode, TestApp};
use crate::mfa::{code_now, complete, mfa_token, mfa_user, next_step};
use crate::{on_every_cache, on_every_store};
use serde_json::json;

on_every_cache!(
    logins_as_a_users_mfa_key_do_not_lock_their_second_factor,
    a_signed_in_caller_cannot_run_password_checks_unthrottled,
    a_rename_does_not_reset_the_lock_on_password_checks,
    three_identifiers_do_not_give_three_times_the_guesses,
);

on_every_store!(a_password_change_that_fails_part_way_leaves_no_thief_session_behind_a_new_password);

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

async fn a_rename_does_not_reset_the_lock_on_password_checks(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| {
        s.limits.lockout_threshold = 3;
        s.limits.lockout_duration = std::time::Duration::from_secs(600);
    })
    .await;
    let thief = app.login_as("renamed").await;
    let change = |old: &str| {
        thief.put(
            PASSWORD,
            json!({"old_password": old, "new_password": "the thief's password"}),
        )
    };
    change("guess 1").await.expect_error(401, "INVALID_CREDENTIALS");
    change("guess 2").await.expect_error(401, "INVALID_CREDENTIALS");
    thief
        .post(TOTP_DISABLE, json!({"password": "guess 3"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    // Once a rename reset the count (it was keyed on the username): no longer.
    thief.put(PROFILE, json!({"username": "renamed2"})).await.expect_ok(200);
    let locked = change(crate::harness::DEFAULT_PASSWORD).await;
    locked.expect_error(423, "ACCOUNT_LOCKED");
    assert!((590..=600).contains(&retry_after(&locked)));
    let disable = thief
        .post(TOTP_DISABLE, json!({"password": crate::harness::DEFAULT_PASSWORD}))
        .await;
    disable.expect_error(423, "ACCOUNT_LOCKED");
    assert!(disable.header("retry-after").is_some());
    // Every sign-in of the account obeys the same lock, by its new name or its old email.
    for identifier in ["renamed2", "renamed@example.com"] {
        let answer = app
            .post(
                LOGIN,
                json!({"username": identifier, "password": crate::harness::DEFAULT_PASSWORD}),
            )
            .await;
        answer.expect_error(423, "ACCOUNT_LOCKED");
        assert!(answer.header("retry-after").is_some());
    }
}

async fn three_identifiers_do_not_give_three_times_the_guesses(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 3).await;
    let user = app.register("manynames", crate::harness::DEFAULT_PASSWORD).await;
    let phone = user["phone"].as_str().expect("phone").to_owned();
    for identifier in ["manynames", "manynames@example.com", phone.as_str()] {
        app.post(LOGIN, json!({"username": identifier, "password": "a guess"}))
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    // Each identifier has had one failure, but the account three: it is locked, for the right
    // password too, by whichever identifier.
    for identifier in ["manynames", "MANYNAMES@example.com", phone.as_str()] {
        let answer = app
            .post(
                LOGIN,
                json!({"username": identifier, "password": crate::harness::DEFAULT_PASSWORD}),
            )
            .await;
        answer.expect_error(423, "ACCOUNT_LOCKED");
        assert!(answer.header("retry-after").is_some());
    }
    // An identifier that names no account keeps only its own count.
    app.post(LOGIN, json!({"username": "nobody-here", "password": "a guess"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
}

/// Runs `statements` on the app's database, outside hufu (each a statement of its own).
async fn run_sql(app: &TestApp, statements: &[&str]) {
    use sqlx::Connection;
    let url = app.settings.database.url.as_str();
    for statement in statements {
        let statement = sqlx::AssertSqlSafe(statement.to_string());
        match app.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open SQLite");
                sqlx::query(statement).execute(&mut conn).await.expect("SQL");
            }
            Backend::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(url).await.expect("open MySQL");
                sqlx::raw_sql(statement).execute(&mut conn).await.expect("SQL");
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.expect("open PostgreSQL");
                sqlx::raw_sql(statement).execute(&mut conn).await.expect("SQL");
            }
        }
    }
}

/// Makes every revocation of a session fail, as a busy or broken database would at the
/// password change's last write.
async fn refuse_session_revocations(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            run_sql(
                app,
                &[
                    "CREATE TRIGGER refuse_revocation BEFORE UPDATE OF revoked_at ON sessions \
                   BEGIN SELECT RAISE(ABORT, 'revocation refused by the test'); END",
                ],
            )
            .await
        }
        Backend::MySql => {
            run_sql(
                app,
                &[
                    "CREATE TRIGGER refuse_revocation BEFORE UPDATE ON sessions FOR EACH ROW \
                   BEGIN IF NEW.revoked_at IS NOT NULL THEN \
                   SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'revocation refused by the test'; \
                   END IF; END",
                ],
            )
            .await
        }
        Backend::Postgres => {
            run_sql(
                app,
                &[
                    "CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN IF NEW.revoked_at IS NOT NULL THEN \
                     RAISE EXCEPTION 'revocation refused by the test'; END IF; RETURN NEW; END $$",
                    "CREATE TRIGGER refuse_revocation BEFORE UPDATE ON sessions FOR EACH ROW \
                     EXECUTE FUNCTION refuse_revocation()",
                ],
            )
            .await
        }
    }
}

async fn allow_session_revocations(app: &TestApp) {
    let statement = match app.backend {
        Backend::Postgres => "DROP TRIGGER refuse_revocation ON sessions",
        _ => "DROP TRIGGER refuse_revocation",
    };
    run_sql(app, &[statement]).await;
}

async fn a_password_change_that_fails_part_way_leaves_no_thief_session_behind_a_new_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.login_as("halfchanged").await;
    let thief: Signed = app.sign_in("halfchanged", crate::harness::DEFAULT_PASSWORD).await;
    let change = || {
        owner.put(
            PASSWORD,
            json!({"old_password": crate::harness::DEFAULT_PASSWORD, "new_password": "the owner's new one"}),
        )
    };
    refuse_session_revocations(&app).await;
    let failed = change().await;
    assert_eq!(failed.status, 500, "{}", failed.text);
    // Nothing changed: had the new hash stayed, the owner would think the thief locked out
    // while the thief's session lived on.
    app.post(
        LOGIN,
        json!({"username": "halfchanged", "password": "the owner's new one"}),
    )
    .await
    .expect_error(401, "INVALID_CREDENTIALS");
    app.sign_in("halfchanged", crate::harness::DEFAULT_PASSWORD).await;

    // Retried once the database works: all of it happens, the thief's session included.
    allow_session_revocations(&app).await;
    change().await.expect_ok(200);
    thief.get(PROFILE).await.expect_error(401, "TOKEN_REVOKED");
    let refreshed = app
        .post(
            crate::harness::paths::REFRESH,
            json!({"refresh_token": thief.refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.text);
    owner.get(PROFILE).await.expect_ok(200);
    app.sign_in("halfchanged", "the owner's new one").await;
}
