//! The TOTP second factor on every store: setup and enable, sign-in through `/auth/mfa`,
//! replay, recovery codes, single-use and expiring `mfa_token`s, lockout, disabling, and the
//! secret sealed at rest. Codes come from the test's own RFC 6238 code, not hufu's.

use crate::harness::paths::{self, LOGIN, MFA, PROFILE, TOTP_DISABLE, TOTP_ENABLE, TOTP_SETUP};
// The password `login_as` and `admin` register and sign in with.
use crate::harness::DEFAULT_PASSWORD as PASSWORD;
use crate::harness::{Answer, Backend, CacheMode, Signed, TestApp};
use crate::{on_every_cache, on_every_store};
use hmac::{Hmac, KeyInit, Mac};
use hufu::clock::Clock;
use hufu::store::AuditFilter;
use serde_json::{Value, json};
use std::time::Duration;

on_every_store!(
    totp_setup_enable_and_sign_in_work_end_to_end,
    enabling_with_a_wrong_code_leaves_totp_off,
    a_code_is_accepted_only_once,
    a_recovery_code_works_once,
    an_mfa_token_works_once_and_expires,
    wrong_codes_count_toward_the_lockout,
    alternating_identifiers_does_not_multiply_guesses,
    disabling_needs_the_password_or_a_code,
    the_secret_is_sealed_at_rest,
    racing_completions_have_one_winner,
    a_password_change_ends_pending_challenges,
);

on_every_cache!(the_mfa_lockout_holds_in_process_and_in_redis);

/// RFC 4648 base32 (upper case, no padding) to bytes.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base32 character") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 TOTP (SHA-1, 30 s) with `digits` digits at Unix time `t`.
fn totp(secret: &[u8], t: i64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&((t / 30) as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[h.len() - 1] & 0x0f) as usize;
    let v = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 10u32.pow(digits);
    format!("{v:0width$}", width = digits as usize)
}

#[test]
fn the_test_totp_matches_rfc_6238() {
    let secret = b"12345678901234567890";
    assert_eq!(totp(secret, 59, 8), "94287082");
    assert_eq!(totp(secret, 59, 6), "287082");
    assert_eq!(totp(secret, 1_111_111_109, 8), "07081804");
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQ"), b"1234567890");
}

/// A six-digit code that is not `code`.
pub(crate) fn other_code(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

/// The code of the test clock's current step.
pub(crate) fn code_now(app: &TestApp, secret: &[u8]) -> String {
    totp(secret, app.clock.unix_seconds(), 6)
}

/// Moves the test clock to the next 30-second step, so a fresh code exists.
pub(crate) fn next_step(app: &TestApp) {
    app.clock.advance(time::Duration::seconds(30));
}

/// A signed-in user with TOTP enabled.
pub(crate) struct MfaUser {
    pub(crate) signed: Signed,
    pub(crate) secret: Vec<u8>,
    pub(crate) recovery_codes: Vec<String>,
}

pub(crate) async fn setup(signed: &Signed) -> (Vec<u8>, Value) {
    let answer = signed.post_empty(TOTP_SETUP).await;
    let data = answer.expect_ok(200).clone();
    let secret = data["secret"].as_str().expect("secret").to_owned();
    (base32_decode(&secret), data)
}

/// Registers `name`, signs in, sets up and enables TOTP.
pub(crate) async fn mfa_user(app: &TestApp, name: &str) -> MfaUser {
    let signed = app.login_as(name).await;
    let (secret, _) = setup(&signed).await;
    let answer = signed.post(TOTP_ENABLE, json!({"code": code_now(app, &secret)})).await;
    let codes = answer.expect_ok(200)["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    MfaUser {
        signed,
        secret,
        recovery_codes: codes,
    }
}

pub(crate) async fn password_login(app: &TestApp, identifier: &str) -> Answer {
    app.post(LOGIN, json!({"username": identifier, "password": PASSWORD}))
        .await
}

/// Signs in with the password and returns the `mfa_token`.
pub(crate) async fn mfa_token(app: &TestApp, identifier: &str) -> String {
    let answer = password_login(app, identifier).await;
    let data = answer.expect_ok(200);
    assert_eq!(data["mfa_required"], true, "{}", answer.text);
    assert!(data.get("token").is_none() && data.get("refresh_token").is_none());
    data["mfa_token"].as_str().expect("mfa_token").to_owned()
}

pub(crate) async fn complete(app: &TestApp, mfa_token: &str, code: &str) -> Answer {
    app.post(MFA, json!({"mfa_token": mfa_token, "code": code})).await
}

async fn audit_count(app: &TestApp, user_id: i64, event: &str) -> i64 {
    let filter = AuditFilter {
        user_id: Some(user_id),
        event: Some(event.to_owned()),
    };
    app.state.core.store.audit_page(&filter, 0, 100).await.expect("audit").1
}

async fn totp_setup_enable_and_sign_in_work_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = app.login_as("mfaflow").await;
    let id = me.id;
    let (secret, data) = setup(&me).await;
    assert_eq!(secret.len(), 20, "160-bit secret");
    let secret_text = data["secret"].as_str().unwrap();
    assert_eq!(
        data["otpauth_uri"],
        format!("otpauth://totp/hufu:mfaflow?secret={secret_text}&issuer=hufu&algorithm=SHA1&digits=6&period=30")
    );

    let enabled = me.post(TOTP_ENABLE, json!({"code": code_now(&app, &secret)})).await;
    let codes = enabled.expect_ok(200)["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    for code in &codes {
        let code = code.as_str().unwrap();
        assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "xxxxx-xxxxx: {code}");
    }
    assert_eq!(audit_count(&app, id, "mfa_enabled").await, 1);

    let profile = me.get(PROFILE).await;
    assert_eq!(profile.expect_ok(200)["mfa_enabled"], true);
    assert!(!profile.text.contains(secret_text), "the secret is shown by setup only");
    // Setting up again would silently replace the secret the user's app holds.
    me.post_empty(TOTP_SETUP).await.expect_error(400, "VALIDATION_FAILED");

    let mfa = mfa_token(&app, "mfaflow").await;
    assert_eq!(
        password_login(&app, "mfaflow").await.body["data"]["methods"],
        json!(["totp", "recovery_code"])
    );
    next_step(&app);
    let signed_in = complete(&app, &mfa, &code_now(&app, &secret)).await;
    let data = signed_in.expect_ok(200);
    assert_eq!(signed_in.header("cache-control"), Some("no-store"));
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["user"]["username"], "mfaflow");
    assert!(data["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    let access = data["token"].as_str().unwrap();
    app.get(PROFILE, Some(access)).await.expect_ok(200);
}

async fn enabling_with_a_wrong_code_leaves_totp_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = app.login_as("mfawrong").await;
    let (secret, _) = setup(&me).await;
    let wrong = other_code(&code_now(&app, &secret));
    for code in [wrong.as_str(), "abc", ""] {
        me.post(TOTP_ENABLE, json!({"code": code}))
            .await
            .expect_error(401, "MFA_INVALID");
    }
    me.post(TOTP_ENABLE, json!({}))
        .await
        .expect_error(400, "VALIDATION_FAILED");
    let profile = me.get(PROFILE).await;
    assert_eq!(profile.expect_ok(200)["mfa_enabled"], false);
    let login = app.login("mfawrong", PASSWORD).await;
    assert!(login["token"].is_string(), "no second factor while TOTP is off");
    // A new setup replaces the unconfirmed one: the old secret's codes no longer enable.
    let (fresh, _) = setup(&me).await;
    assert_ne!(fresh, secret);
    if code_now(&app, &secret) != code_now(&app, &fresh) {
        me.post(TOTP_ENABLE, json!({"code": code_now(&app, &secret)}))
            .await
            .expect_error(401, "MFA_INVALID");
    }
}

async fn a_code_is_accepted_only_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = mfa_user(&app, "mfareplay").await;
    // The code that enabled TOTP was used: it does not sign in within the same step.
    let enabling_code = code_now(&app, &user.secret);
    let first = mfa_token(&app, "mfareplay").await;
    complete(&app, &first, &enabling_code)
        .await
        .expect_error(401, "MFA_INVALID");
    next_step(&app);
    let code = code_now(&app, &user.secret);
    complete(&app, &first, &code).await.expect_ok(200);
    let second = mfa_token(&app, "mfareplay").await;
    complete(&app, &second, &code).await.expect_error(401, "MFA_INVALID");
    // An earlier step's code, still inside the ±1 window, is older than the last accepted one.
    let previous = totp(&user.secret, app.clock.unix_seconds() - 30, 6);
    complete(&app, &second, &previous)
        .await
        .expect_error(401, "MFA_INVALID");
    next_step(&app);
    complete(&app, &second, &code_now(&app, &user.secret))
        .await
        .expect_ok(200);
    let failures = audit_count(&app, user.signed.id, "login_failed").await;
    assert_eq!(failures, 3, "one login_failed entry per refused code");
    let filter = AuditFilter {
        user_id: Some(user.signed.id),
        event: Some("login_failed".into()),
    };
    let (rows, _) = app.state.core.store.audit_page(&filter, 0, 10).await.unwrap();
    for row in rows {
        let detail = row.detail.unwrap_or_default();
        assert!(detail.contains("mfa_invalid"), "{detail}");
        assert!(!detail.contains(&code), "never the code itself: {detail}");
    }
}

async fn a_recovery_code_works_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = mfa_user(&app, "mfarecover").await;
    // Accepted without the dash and in upper case.
    let typed = user.recovery_codes[0].replace('-', "").to_uppercase();
    let token = mfa_token(&app, "mfarecover").await;
    complete(&app, &token, &typed).await.expect_ok(200);
    let token = mfa_token(&app, "mfarecover").await;
    complete(&app, &token, &user.recovery_codes[0])
        .await
        .expect_error(401, "MFA_INVALID");
    complete(&app, &token, "abcde-abcde")
        .await
        .expect_error(401, "MFA_INVALID");
    complete(&app, &token, &user.recovery_codes[1]).await.expect_ok(200);
}

async fn an_mfa_token_works_once_and_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = mfa_user(&app, "mfatoken").await;
    let token = mfa_token(&app, "mfatoken").await;
    next_step(&app);
    complete(&app, &token, &code_now(&app, &user.secret))
        .await
        .expect_ok(200);
    next_step(&app);
    complete(&app, &token, &code_now(&app, &user.secret))
        .await
        .expect_error(401, "MFA_INVALID");
    complete(&app, "not-a-token", &code_now(&app, &user.secret))
        .await
        .expect_error(401, "MFA_INVALID");
    app.post(MFA, json!({"mfa_token": token}))
        .await
        .expect_error(400, "VALIDATION_FAILED");

    let expiring = mfa_token(&app, "mfatoken").await;
    app.clock.advance(time::Duration::seconds(5 * 60 + 1));
    complete(&app, &expiring, &code_now(&app, &user.secret))
        .await
        .expect_error(401, "MFA_INVALID");
    // The code was not used up by the refused attempt.
    let fresh = mfa_token(&app, "mfatoken").await;
    complete(&app, &fresh, &code_now(&app, &user.secret))
        .await
        .expect_ok(200);
}

async fn wrong_codes_count_toward_the_lockout(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.limits.lockout_threshold = 3;
        s.limits.lockout_duration = Duration::from_secs(600);
    })
    .await;
    let user = mfa_user(&app, "mfalock").await;
    let token = mfa_token(&app, "mfalock").await;
    next_step(&app);
    let wrong = other_code(&code_now(&app, &user.secret));
    for _ in 0..3 {
        complete(&app, &token, &wrong).await.expect_error(401, "MFA_INVALID");
    }
    let locked = complete(&app, &token, &code_now(&app, &user.secret)).await;
    locked.expect_error(423, "ACCOUNT_LOCKED");
    assert!(locked.header("retry-after").is_some());
    password_login(&app, "mfalock")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}

async fn alternating_identifiers_does_not_multiply_guesses(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.lockout_threshold = 3).await;
    let user = mfa_user(&app, "mfaswap").await;
    next_step(&app);
    let wrong = other_code(&code_now(&app, &user.secret));
    // Each password sign-in resets its identifier's count; the account's count goes on, and
    // once it is past the threshold the account refuses even the right password.
    for identifier in ["mfaswap", "mfaswap@example.com", "MFASWAP"] {
        let token = mfa_token(&app, identifier).await;
        complete(&app, &token, &wrong).await.expect_error(401, "MFA_INVALID");
    }
    password_login(&app, "mfaswap@example.com")
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
}

async fn disabling_needs_the_password_or_a_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = mfa_user(&app, "mfaoff").await;
    let disable = |body: Value| user.signed.post(TOTP_DISABLE, body);
    disable(json!({"password": "not the password"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    next_step(&app);
    disable(json!({"code": other_code(&code_now(&app, &user.secret))}))
        .await
        .expect_error(401, "MFA_INVALID");
    disable(json!({})).await.expect_error(400, "VALIDATION_FAILED");
    // A pending challenge dies with TOTP.
    let pending = mfa_token(&app, "mfaoff").await;
    disable(json!({"password": PASSWORD})).await.expect_ok(200);
    assert_eq!(audit_count(&app, user.signed.id, "mfa_disabled").await, 1);
    complete(&app, &pending, &code_now(&app, &user.secret))
        .await
        .expect_error(401, "MFA_INVALID");
    let profile = user.signed.get(PROFILE).await;
    assert_eq!(profile.expect_ok(200)["mfa_enabled"], false);
    assert!(app.login("mfaoff", PASSWORD).await["token"].is_string());

    // Again, this time switched off with a code.
    let (secret, _) = setup(&user.signed).await;
    user.signed
        .post(TOTP_ENABLE, json!({"code": code_now(&app, &secret)}))
        .await
        .expect_ok(200);
    let _ = mfa_token(&app, "mfaoff").await;
    next_step(&app);
    disable(json!({"code": code_now(&app, &secret)})).await.expect_ok(200);
    assert!(app.login("mfaoff", PASSWORD).await["token"].is_string());
    assert_eq!(audit_count(&app, user.signed.id, "mfa_disabled").await, 2);
}

async fn the_secret_is_sealed_at_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = app.login_as("mfasealed").await;
    let id = me.id;
    let (_, data) = setup(&me).await;
    let secret = data["secret"].as_str().unwrap();
    let row = app
        .state
        .core
        .store
        .totp_of_user(id)
        .await
        .expect("read")
        .expect("pending row");
    assert!(row.enabled_at.is_none(), "not enabled before a code confirms it");
    assert!(
        !row.secret.contains(secret) && !row.secret.to_uppercase().contains(secret),
        "stored sealed: {}",
        row.secret
    );
    assert!(row.secret.starts_with("v1."), "crate::crypto's sealed form");
    if backend == Backend::Sqlite {
        // Straight from the file, not through the store.
        let url = &app.settings.database.url;
        let pool = sqlx::SqlitePool::connect(url).await.expect("open the SQLite file");
        let (stored,): (String,) = sqlx::query_as("SELECT secret FROM mfa_totp WHERE user_id = ?")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row");
        assert_eq!(stored, row.secret);
        pool.close().await;
    }
}

async fn racing_completions_have_one_winner(backend: Backend) {
    // Attempts are counted before they are checked, so six at once could pass a low
    // threshold; the lockout is not what this test is about.
    let app = TestApp::spawn_with(backend, |s| s.limits.lockout_threshold = 100).await;
    let user = mfa_user(&app, "mfarace").await;
    // One token, several different valid recovery codes at once: the token is used once.
    let token = mfa_token(&app, "mfarace").await;
    let answers =
        futures_util::future::join_all(user.recovery_codes[..6].iter().map(|code| complete(&app, &token, code))).await;
    let won = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(won, 1, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.expect_error(401, "MFA_INVALID");
    }
    // One TOTP code on several tokens at once: the code is accepted once.
    next_step(&app);
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(mfa_token(&app, "mfarace").await);
    }
    let code = code_now(&app, &user.secret);
    let answers = futures_util::future::join_all(tokens.iter().map(|t| complete(&app, t, &code))).await;
    let won = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(won, 1, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.expect_error(401, "MFA_INVALID");
    }
}

async fn a_password_change_ends_pending_challenges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = mfa_user(&app, "mfapass").await;
    let pending = mfa_token(&app, "mfapass").await;
    user.signed
        .put(
            paths::PASSWORD,
            json!({"old_password": PASSWORD, "new_password": "a brand new password"}),
        )
        .await
        .expect_ok(200);
    next_step(&app);
    complete(&app, &pending, &code_now(&app, &user.secret))
        .await
        .expect_error(401, "MFA_INVALID");
}

async fn the_mfa_lockout_holds_in_process_and_in_redis(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |s| s.limits.lockout_threshold = 2).await;
    let user = mfa_user(&app, "mfalockcache").await;
    next_step(&app);
    let wrong = other_code(&code_now(&app, &user.secret));
    for identifier in ["mfalockcache", "mfalockcache@example.com"] {
        let token = mfa_token(&app, identifier).await;
        complete(&app, &token, &wrong).await.expect_error(401, "MFA_INVALID");
    }
    // The account's lock: even the right password is refused now.
    let locked = password_login(&app, "mfalockcache").await;
    locked.expect_error(423, "ACCOUNT_LOCKED");
    assert!(locked.header("retry-after").is_some());
}
