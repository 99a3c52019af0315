//! One-time codes end to end (contract section 10) on every store: code sign-in with sign-up,
//! wrong, reused, expired, other-purpose and exhausted codes, the resend interval and the daily
//! cap, password reset (sessions end, lockouts lift), verified identifiers (verify, a verified
//! change, "a verified identifier wins"), `HUFU_REQUIRE_VERIFIED`, and what a failing provider
//! does. Codes are read from the fake SMS provider and the test SMTP server, as a person reads
//! their phone or mailbox.

use crate::harness::paths::{LOGIN, PROFILE, REGISTER};
use crate::harness::{Backend, DEFAULT_PASSWORD, TestApp, registration};
use crate::inbox::Inbox;
use crate::on_every_store;
use hufu::store::AuditFilter;
use serde_json::{Value, json};
use std::time::Duration;

pub const AUTH_CODES: &str = "/api/v1/auth/codes";
pub const LOGIN_CODE: &str = "/api/v1/auth/login/code";
pub const RESET: &str = "/api/v1/auth/password/reset";
pub const USER_CODES: &str = "/api/v1/users/codes";
pub const VERIFY: &str = "/api/v1/users/verify";

on_every_store!(
    a_phone_signs_up_with_its_first_code_and_signs_in_with_the_next,
    wrong_reused_expired_and_other_purpose_codes_are_refused,
    the_sixth_try_fails_even_with_the_right_code,
    a_newer_code_replaces_the_older_one,
    the_resend_interval_and_the_daily_cap_answer_429,
    a_password_reset_ends_every_session_and_lifts_the_lockout,
    a_reset_for_an_unknown_target_answers_alike_and_sends_nothing,
    verify_marks_the_own_phone_and_email_verified,
    a_verified_change_verifies_and_an_unproved_one_does_not,
    a_verified_identifier_wins_over_an_unverified_holder,
    a_code_sign_in_into_an_unproved_account_ends_its_sessions,
    require_verified_asks_registration_for_its_codes,
    a_failed_delivery_is_a_503_and_does_not_count,
    racing_uses_of_one_code_have_one_winner,
    no_code_or_credential_reaches_a_log_line,
    a_reset_send_takes_as_long_for_an_unknown_target,
);

/// An app whose SMS go to the fake provider and whose email goes to the test SMTP server.
async fn app_with(backend: Backend, inbox: &Inbox, adjust: impl FnOnce(&mut hufu::config::Settings)) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        inbox.configure(s);
        adjust(s);
    })
    .await
}

/// A fresh mainland mobile number no other test uses.
fn new_phone() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("186{:04}{:04}", std::process::id() % 10_000, n % 10_000)
}

async fn send(app: &TestApp, channel: &str, target: &str, purpose: &str) -> Value {
    app.post(
        AUTH_CODES,
        json!({"channel": channel, "target": target, "purpose": purpose}),
    )
    .await
    .expect_ok(200)
    .clone()
}

async fn code_login(app: &TestApp, channel: &str, target: &str, code: &str) -> crate::harness::Answer {
    app.post(LOGIN_CODE, json!({"channel": channel, "target": target, "code": code}))
        .await
}

/// A code that is not `code` (six digits).
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn events(app: &TestApp, user_id: i64, event: &str) -> Vec<Value> {
    let filter = AuditFilter {
        user_id: Some(user_id),
        event: Some(event.to_owned()),
    };
    let (rows, _) = app.state.core.store.audit_page(&filter, 0, 100).await.unwrap();
    rows.into_iter()
        .map(|row| {
            row.detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(Value::Null)
        })
        .collect()
}

async fn a_phone_signs_up_with_its_first_code_and_signs_in_with_the_next(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let phone = new_phone();
    let sent = send(&app, "sms", &phone, "login").await;
    assert_eq!(sent, json!({"expires_in": 300, "resend_after": 60}));
    let code = inbox.code("sms", &phone).await;

    let first = code_login(&app, "sms", &phone, &code).await;
    let data = first.expect_ok(200);
    assert_eq!(data["is_new_user"], true);
    let user = &data["user"];
    let username = user["username"].as_str().unwrap();
    assert!(username.starts_with("u_") && username.len() == 12, "{username}");
    assert!(
        username[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(user["phone"], phone.as_str());
    assert_eq!(user["phone_verified"], true);
    assert_eq!(user["email_verified"], false);
    let token = data["token"].as_str().unwrap().to_owned();
    let profile = app.get(PROFILE, Some(&token)).await;
    assert_eq!(profile.expect_ok(200)["id"], user["id"]);

    // The next sign-in finds the account it made.
    app.clock.advance(time::Duration::seconds(61));
    send(&app, "sms", &phone, "login").await;
    let second_code = inbox.code("sms", &phone).await;
    let second = code_login(&app, "sms", &phone, &second_code).await;
    let second = second.expect_ok(200);
    assert_eq!(second["is_new_user"], false);
    assert_eq!(second["user"]["id"], user["id"]);
    let id = user["id"].as_i64().unwrap();
    assert_eq!(events(&app, id, "code_login").await.len(), 2);
    // A password sign-in with the phone knows no password.
    app.post(LOGIN, json!({"username": phone, "password": "anything-at-all"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
}

async fn wrong_reused_expired_and_other_purpose_codes_are_refused(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |s| s.codes.resend_interval = Duration::ZERO).await;
    let phone = new_phone();

    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    code_login(&app, "sms", &phone, &other_than(&code))
        .await
        .expect_error(400, "CODE_INVALID");
    // Sent to another target: refused for this one.
    code_login(&app, "sms", &new_phone(), &code)
        .await
        .expect_error(400, "CODE_INVALID");
    code_login(&app, "sms", &phone, &code).await.expect_ok(200);
    code_login(&app, "sms", &phone, &code)
        .await
        .expect_error(400, "CODE_INVALID");

    // A `register` code does not sign in.
    send(&app, "sms", &phone, "register").await;
    let register_code = inbox.code("sms", &phone).await;
    code_login(&app, "sms", &phone, &register_code)
        .await
        .expect_error(400, "CODE_INVALID");

    // Expired: past HUFU_CODE_TTL.
    send(&app, "sms", &phone, "login").await;
    let late = inbox.code("sms", &phone).await;
    app.clock.advance(time::Duration::seconds(301));
    code_login(&app, "sms", &phone, &late)
        .await
        .expect_error(400, "CODE_INVALID");

    // Malformed input is a validation failure that names the field.
    let bad = app
        .post(
            AUTH_CODES,
            json!({"channel": "sms", "target": "12345", "purpose": "login"}),
        )
        .await;
    assert_eq!(
        bad.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "target"
    );
    let bad = app
        .post(
            AUTH_CODES,
            json!({"channel": "fax", "target": phone, "purpose": "login"}),
        )
        .await;
    assert_eq!(
        bad.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "channel"
    );
    let bad = app
        .post(
            AUTH_CODES,
            json!({"channel": "sms", "target": phone, "purpose": "verify"}),
        )
        .await;
    assert_eq!(
        bad.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "purpose"
    );
    let bad = code_login(&app, "sms", &phone, "12ab56").await;
    assert_eq!(
        bad.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "code"
    );

    // A channel with no delivery configured.
    let bare = TestApp::spawn(backend).await;
    bare.post(
        AUTH_CODES,
        json!({"channel": "sms", "target": phone, "purpose": "login"}),
    )
    .await
    .expect_error(501, "CODE_CHANNEL_NOT_CONFIGURED");
}

async fn the_sixth_try_fails_even_with_the_right_code(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let phone = new_phone();
    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    for _ in 0..5 {
        code_login(&app, "sms", &phone, &other_than(&code))
            .await
            .expect_error(400, "CODE_INVALID");
    }
    code_login(&app, "sms", &phone, &code)
        .await
        .expect_error(400, "CODE_INVALID");
    // Wrong codes lock nothing: a password sign-in is not locked by them.
    app.post(LOGIN, json!({"username": phone, "password": "whatever-it-is"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
}

async fn a_newer_code_replaces_the_older_one(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |s| s.codes.resend_interval = Duration::ZERO).await;
    let phone = new_phone();
    send(&app, "sms", &phone, "login").await;
    let old = inbox.code("sms", &phone).await;
    send(&app, "sms", &phone, "login").await;
    let new = inbox.code("sms", &phone).await;
    if old != new {
        code_login(&app, "sms", &phone, &old)
            .await
            .expect_error(400, "CODE_INVALID");
    }
    code_login(&app, "sms", &phone, &new).await.expect_ok(200);
}

async fn the_resend_interval_and_the_daily_cap_answer_429(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |s| s.codes.daily_limit = 3).await;
    let phone = new_phone();
    send(&app, "sms", &phone, "login").await;
    // Any purpose counts toward the same target's interval.
    let again = app
        .post(
            AUTH_CODES,
            json!({"channel": "sms", "target": phone, "purpose": "reset_password"}),
        )
        .await;
    again.expect_error(429, "RATE_LIMITED");
    let wait: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Unknown and known targets are limited alike (the first send to an unknown one counted).
    let stranger = new_phone();
    send(&app, "sms", &stranger, "reset_password").await;
    app.post(
        AUTH_CODES,
        json!({"channel": "sms", "target": stranger, "purpose": "reset_password"}),
    )
    .await
    .expect_error(429, "RATE_LIMITED");

    for _ in 0..2 {
        app.clock.advance(time::Duration::seconds(61));
        send(&app, "sms", &phone, "login").await;
    }
    app.clock.advance(time::Duration::seconds(61));
    let capped = app
        .post(
            AUTH_CODES,
            json!({"channel": "sms", "target": phone, "purpose": "login"}),
        )
        .await;
    capped.expect_error(429, "RATE_LIMITED");
    let wait: u64 = capped.header("retry-after").unwrap().parse().unwrap();
    // Until the oldest of the three leaves the 24 h window: 24 h less the 3 × 61 s passed.
    assert!((86_400 - 200..=86_400 - 180).contains(&wait), "{wait}");
    app.clock.advance(time::Duration::seconds(wait as i64));
    send(&app, "sms", &phone, "login").await;
}

async fn a_password_reset_ends_every_session_and_lifts_the_lockout(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let alice = app.login_as("alice").await;
    let email = "alice@example.com";
    // Locked by wrong passwords.
    for _ in 0..6 {
        app.post(LOGIN, json!({"username": "alice", "password": "wrong-password"}))
            .await;
    }
    app.post(LOGIN, json!({"username": "alice", "password": DEFAULT_PASSWORD}))
        .await
        .expect_error(423, "ACCOUNT_LOCKED");

    let zh = app.in_lang("zh-CN");
    zh.post(
        AUTH_CODES,
        json!({"channel": "email", "target": email, "purpose": "reset_password"}),
    )
    .await
    .expect_ok(200);
    let code = inbox.code("email", email).await;
    let subject = inbox.last_subject(email).await;
    assert!(
        subject.contains("密码"),
        "a Chinese subject naming the purpose: {subject}"
    );

    let weak = app
        .post(
            RESET,
            json!({"channel": "email", "target": email, "code": code, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        weak.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "new_password"
    );
    let reset = app
        .post(
            RESET,
            json!({"channel": "email", "target": "ALICE@example.com", "code": code,
            "new_password": "a brand new password"}),
        )
        .await;
    reset.expect_ok(200);
    app.get(PROFILE, Some(&alice.token))
        .await
        .expect_error(401, "TOKEN_REVOKED");
    app.post(LOGIN, json!({"username": "alice", "password": DEFAULT_PASSWORD}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    app.post(LOGIN, json!({"username": "alice", "password": "a brand new password"}))
        .await
        .expect_ok(200);
    // The code was used.
    app.post(
        RESET,
        json!({"channel": "email", "target": email, "code": code, "new_password": "another new one"}),
    )
    .await
    .expect_error(400, "CODE_INVALID");
    assert_eq!(
        events(&app, alice.id, "password_reset").await,
        vec![json!({"channel": "email"})]
    );
}

async fn a_reset_for_an_unknown_target_answers_alike_and_sends_nothing(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    app.login_as("known").await;
    let known = app
        .post(
            AUTH_CODES,
            json!({"channel": "email", "target": "known@example.com", "purpose": "reset_password"}),
        )
        .await;
    let unknown = app
        .post(
            AUTH_CODES,
            json!({"channel": "email", "target": "nobody@example.com", "purpose": "reset_password"}),
        )
        .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    inbox.code("email", "known@example.com").await;
    // Give a queued delivery time to happen, then check none did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(inbox.count("email", "nobody@example.com"), 0);
    app.post(
        RESET,
        json!({"channel": "email", "target": "nobody@example.com", "code": "123456",
        "new_password": "whatever password"}),
    )
    .await
    .expect_error(400, "CODE_INVALID");
    // Email sign-in only for accounts: nothing is sent to an unknown address either.
    send(&app, "email", "stranger@example.com", "login").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(inbox.count("email", "stranger@example.com"), 0);
}

async fn verify_marks_the_own_phone_and_email_verified(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let bob = app.login_as("bob").await;
    assert_eq!(bob.user["phone_verified"], false);
    assert_eq!(bob.user["email_verified"], false);
    let phone = bob.user["phone"].as_str().unwrap().to_owned();

    bob.post(USER_CODES, json!({"channel": "sms", "purpose": "verify"}))
        .await
        .expect_ok(200);
    let code = inbox.code("sms", &phone).await;
    // Someone else's token cannot use bob's code.
    let eve = app.login_as("eve").await;
    eve.post(VERIFY, json!({"channel": "sms", "code": code}))
        .await
        .expect_error(400, "CODE_INVALID");
    // A target is not taken for `verify`: the code goes only to the account's own phone.
    let aimed = bob
        .post(
            USER_CODES,
            json!({"channel": "sms", "purpose": "verify", "target": new_phone()}),
        )
        .await;
    assert_eq!(
        aimed.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "target"
    );

    let verified = bob.post(VERIFY, json!({"channel": "sms", "code": code})).await;
    assert_eq!(verified.expect_ok(200)["phone_verified"], true);
    assert_eq!(bob.get(PROFILE).await.expect_ok(200)["phone_verified"], true);

    bob.post(USER_CODES, json!({"channel": "email", "purpose": "verify"}))
        .await
        .expect_ok(200);
    let code = inbox.code("email", "bob@example.com").await;
    let verified = bob.post(VERIFY, json!({"channel": "email", "code": code})).await;
    assert_eq!(verified.expect_ok(200)["email_verified"], true);
    assert_eq!(events(&app, bob.id, "identifier_verified").await.len(), 2);
}

async fn a_verified_change_verifies_and_an_unproved_one_does_not(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let carol = app.login_as("carol").await;
    let new_email = "carol.new@example.com";
    carol
        .post(
            USER_CODES,
            json!({"channel": "email", "purpose": "change", "target": new_email}),
        )
        .await
        .expect_ok(200);
    let code = inbox.code("email", new_email).await;
    // The code is for that address only.
    carol
        .put(PROFILE, json!({"email": "carol.other@example.com", "email_code": code}))
        .await
        .expect_error(400, "CODE_INVALID");
    carol
        .post(
            USER_CODES,
            json!({"channel": "email", "purpose": "change", "target": new_email}),
        )
        .await;
    app.clock.advance(time::Duration::seconds(61));
    carol
        .post(
            USER_CODES,
            json!({"channel": "email", "purpose": "change", "target": new_email}),
        )
        .await
        .expect_ok(200);
    let code = inbox.code("email", new_email).await;
    let changed = carol
        .put(PROFILE, json!({"email": new_email, "email_code": code}))
        .await;
    let changed = changed.expect_ok(200);
    assert_eq!(
        (changed["email"].as_str(), changed["email_verified"].as_bool()),
        (Some(new_email), Some(true))
    );

    // Without a code the new value is stored unverified.
    let plain = carol.put(PROFILE, json!({"email": "carol.plain@example.com"})).await;
    assert_eq!(plain.expect_ok(200)["email_verified"], false);
}

async fn a_verified_identifier_wins_over_an_unverified_holder(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    // Mallory registers with dave's phone; dave proves it is his.
    let phone = new_phone();
    let mut body = registration("mallory", DEFAULT_PASSWORD);
    body["phone"] = json!(phone);
    let mallory = app.post(REGISTER, body).await.expect_ok(201).clone();
    let dave = app.login_as("dave").await;
    dave.put(PROFILE, json!({"phone": phone}))
        .await
        .expect_error(409, "PHONE_TAKEN");
    dave.post(
        USER_CODES,
        json!({"channel": "sms", "purpose": "change", "target": phone}),
    )
    .await
    .expect_ok(200);
    let code = inbox.code("sms", &phone).await;
    let changed = dave.put(PROFILE, json!({"phone": phone, "phone_code": code})).await;
    let changed = changed.expect_ok(200);
    assert_eq!(
        (changed["phone"].as_str(), changed["phone_verified"].as_bool()),
        (Some(phone.as_str()), Some(true))
    );
    let mallory_id = mallory["id"].as_i64().unwrap();
    let account = app.state.core.store.user_by_id(mallory_id).await.unwrap().unwrap();
    assert_eq!(account.user.phone, None);
    assert_eq!(events(&app, dave.id, "identifier_reclaimed").await.len(), 1);
    assert_eq!(events(&app, mallory_id, "identifier_reclaimed").await.len(), 1);
    // Now that dave holds it verified, nobody can ask a change code for it.
    let erin = app.login_as("erin").await;
    app.clock.advance(time::Duration::seconds(61));
    erin.post(
        USER_CODES,
        json!({"channel": "sms", "purpose": "change", "target": phone}),
    )
    .await
    .expect_error(409, "PHONE_TAKEN");
}

async fn a_code_sign_in_into_an_unproved_account_ends_its_sessions(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let frank = app.login_as("frank").await;
    let phone = frank.user["phone"].as_str().unwrap().to_owned();
    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    let signed = code_login(&app, "sms", &phone, &code).await;
    let signed = signed.expect_ok(200);
    assert_eq!(signed["is_new_user"], false);
    assert_eq!(signed["user"]["id"].as_i64(), Some(frank.id));
    assert_eq!(signed["user"]["phone_verified"], true);
    // The session made with the password before the phone was proved is gone.
    app.get(PROFILE, Some(&frank.token))
        .await
        .expect_error(401, "TOKEN_REVOKED");
    let token = signed["token"].as_str().unwrap();
    app.get(PROFILE, Some(token)).await.expect_ok(200);

    // A disabled account is told so only after a right code.
    let admin = app.admin().await;
    admin
        .patch(&crate::harness::paths::admin_user(frank.id), json!({"status": 0}))
        .await
        .expect_ok(200);
    app.clock.advance(time::Duration::seconds(61));
    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    code_login(&app, "sms", &phone, &other_than(&code))
        .await
        .expect_error(400, "CODE_INVALID");
    code_login(&app, "sms", &phone, &code)
        .await
        .expect_error(403, "ACCOUNT_DISABLED");
}

async fn require_verified_asks_registration_for_its_codes(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |s| {
        s.codes.require_verified = hufu::domain::codes::RequireVerified {
            email: true,
            phone: false,
        };
    })
    .await;
    let refused = app.post(REGISTER, registration("gina", DEFAULT_PASSWORD)).await;
    assert_eq!(
        refused.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "email_code"
    );
    send(&app, "email", "gina@example.com", "register").await;
    let code = inbox.code("email", "gina@example.com").await;
    let mut body = registration("gina", DEFAULT_PASSWORD);
    body["email_code"] = json!(code);
    let user = app.post(REGISTER, body).await.expect_ok(201).clone();
    assert_eq!(
        (user["email_verified"].as_bool(), user["phone_verified"].as_bool()),
        (Some(true), Some(false))
    );
    // An unproved email on another account (made before the rule) no longer signs in by email.
    app.post(
        LOGIN,
        json!({"username": "gina@example.com", "password": DEFAULT_PASSWORD}),
    )
    .await
    .expect_ok(200);
}

async fn a_failed_delivery_is_a_503_and_does_not_count(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let hank = app.login_as("hank").await;
    let phone = hank.user["phone"].as_str().unwrap().to_owned();
    inbox.fail_next_sms();
    hank.post(USER_CODES, json!({"channel": "sms", "purpose": "verify"}))
        .await
        .expect_error(503, "CODE_DELIVERY_FAILED");
    // Not counted toward the interval: the retry goes out at once.
    hank.post(USER_CODES, json!({"channel": "sms", "purpose": "verify"}))
        .await
        .expect_ok(200);
    let code = inbox.code("sms", &phone).await;
    hank.post(VERIFY, json!({"channel": "sms", "code": code}))
        .await
        .expect_ok(200);

    // An unauthenticated send answers 200 whatever the provider does; the failure is undone.
    let other = new_phone();
    inbox.fail_next_sms();
    send(&app, "sms", &other, "login").await;
    let mut resent = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again = app
            .post(
                AUTH_CODES,
                json!({"channel": "sms", "target": other, "purpose": "login"}),
            )
            .await;
        if again.status == 200 {
            resent = true;
            break;
        }
    }
    assert!(resent, "a failed delivery must not hold the resend interval");
    let code = inbox.code("sms", &other).await;
    code_login(&app, "sms", &other, &code).await.expect_ok(200);
    // The refusal is logged with the provider's code, and nothing secret with it.
    let log = crate::harness::server_log();
    assert!(
        log.contains("isv.BUSINESS_LIMIT_CONTROL"),
        "the provider's error code is logged"
    );
    crate::inbox::assert_no_secret_in_logs();
}

/// Every flow once (codes by SMS and email, sign-in, reset, verify), then the whole suite's
/// server log so far is searched for every code any test read and every provider credential.
async fn no_code_or_credential_reaches_a_log_line(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    let ivan = app.login_as("ivan").await;
    let phone = ivan.user["phone"].as_str().unwrap().to_owned();
    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    code_login(&app, "sms", &phone, &other_than(&code))
        .await
        .expect_error(400, "CODE_INVALID");
    let signed = code_login(&app, "sms", &phone, &code).await;
    let ivan = app.signed(signed.expect_ok(200));
    ivan.post(USER_CODES, json!({"channel": "email", "purpose": "verify"}))
        .await
        .expect_ok(200);
    let code = inbox.code("email", "ivan@example.com").await;
    ivan.post(VERIFY, json!({"channel": "email", "code": code}))
        .await
        .expect_ok(200);
    app.clock.advance(time::Duration::seconds(61));
    send(&app, "email", "ivan@example.com", "reset_password").await;
    let code = inbox.code("email", "ivan@example.com").await;
    app.post(
        RESET,
        json!({"channel": "email", "target": "ivan@example.com", "code": code,
        "new_password": "ivan's new password"}),
    )
    .await
    .expect_ok(200);
    // Nor in the audit trail.
    let (rows, _) = app
        .state
        .core
        .store
        .audit_page(&AuditFilter::default(), 0, 1_000)
        .await
        .unwrap();
    for row in rows {
        let detail = row.detail.unwrap_or_default();
        assert!(!detail.contains(&code), "a code in an audit entry: {detail}");
    }
    crate::inbox::assert_no_secret_in_logs();
}

async fn racing_uses_of_one_code_have_one_winner(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = std::sync::Arc::new(app_with(backend, &inbox, |_| {}).await);
    let phone = new_phone();
    send(&app, "sms", &phone, "login").await;
    let code = inbox.code("sms", &phone).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, phone, code) = (app.clone(), phone.clone(), code.clone());
            tokio::spawn(async move { code_login(&app, "sms", &phone, &code).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 400, 400, 400, 400, 400, 400, 400]);
}

/// A `reset_password` send to an address with no account takes as long as one to an account's
/// (medians of interleaved sends), so timing tells no more than the answer does.
async fn a_reset_send_takes_as_long_for_an_unknown_target(backend: Backend) {
    let inbox = Inbox::start().await;
    let app = app_with(backend, &inbox, |_| {}).await;
    const ROUNDS: usize = 25;
    for i in 0..ROUNDS {
        app.register(&format!("timed{i}"), DEFAULT_PASSWORD).await;
    }
    let time_send = |target: String| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            app.post(
                AUTH_CODES,
                json!({"channel": "email", "target": target, "purpose": "reset_password"}),
            )
            .await
            .expect_ok(200);
            started.elapsed()
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        known.push(time_send(format!("timed{i}@example.com")).await);
        unknown.push(time_send(format!("untimed{i}@example.com")).await);
    }
    let median = |samples: &mut Vec<Duration>| {
        samples.sort_unstable();
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let (low, high) = (known.min(unknown), known.max(unknown));
    assert!(
        high <= low * 2 || high - low < Duration::from_millis(5),
        "known {known:?} vs unknown {unknown:?}: the send tells whether an account exists"
    );
}
