//! The audit trail, on every store: each event appears exactly when its action happens (one
//! entry, with the user, IP and user agent), a refused change writes none, nothing secret is
//! ever in it, and administrators read it with filters and bounded pages.

// The password `login_as` and `admin` register and sign in with.
use crate::harness::DEFAULT_PASSWORD as PASSWORD;
use crate::harness::paths::{
    self, ADMIN_AUDIT, LOGIN, LOGOUT, PROFILE, REFRESH, REGISTER, WECHAT, WECHAT_BIND, WECHAT_MINIPROGRAM, session,
};
use crate::harness::{Backend, Signed, TestApp, registration};
use crate::on_every_store;
use serde_json::{Value, json};

on_every_store!(
    each_account_action_writes_its_event_exactly_once,
    a_refused_change_writes_no_audit_entry,
    a_lock_is_recorded_once_when_it_starts,
    audit_entries_never_hold_a_password_or_token,
    the_audit_log_is_for_admins_with_filters_and_bounded_pages,
    wechat_sign_in_binding_and_unbinding_are_audited,
);

/// The administrator who reads the trail (the role granted through the domain, as the command
/// line does).
async fn auditor(app: &TestApp) -> Signed {
    app.admin_as("auditor").await
}

/// The user's audit entries, newest first.
async fn entries(admin: &Signed, user_id: i64) -> Vec<Value> {
    let answer = admin
        .get(&format!("{ADMIN_AUDIT}?user_id={user_id}&per_page=100"))
        .await;
    answer.expect_ok(200)["items"].as_array().unwrap().clone()
}

/// Event names of the user's entries, oldest first.
async fn events(admin: &Signed, user_id: i64) -> Vec<String> {
    let mut names: Vec<String> = entries(admin, user_id)
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    names.reverse();
    names
}

/// Runs `action`, then checks that exactly `expected` was appended to the user's trail.
macro_rules! appends {
    ($admin:expr, $user:expr, $expected:expr, $action:expr) => {{
        let before = events($admin, $user).await;
        let result = $action;
        let after = events($admin, $user).await;
        assert_eq!(
            &after[before.len().min(after.len())..],
            &[$expected.to_owned()],
            "after {}: {after:?}",
            $expected
        );
        result
    }};
}

async fn each_account_action_writes_its_event_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = auditor(&app).await;
    let user = app.register("alice", PASSWORD).await;
    let id = user["id"].as_i64().unwrap();
    assert_eq!(events(&admin, id).await, ["register"]);
    let first = &entries(&admin, id).await[0];
    assert_eq!(first["user_id"], id);
    assert_eq!(first["ip"], "127.0.0.1");
    assert!(first["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["detail"]["method"], "password");

    let alice = appends!(&admin, id, "login", app.sign_in("alice", PASSWORD).await);
    let refresh = alice.refresh_token.clone();
    let newest = &entries(&admin, id).await[0];
    assert_eq!(newest["detail"]["method"], "password");
    let claims = crate::harness::jwt_parts(&alice.token).1;
    assert_eq!(
        newest["detail"]["session_id"], claims["sid"],
        "the entry names the session"
    );

    appends!(&admin, id, "login_failed", {
        app.post(LOGIN, json!({"username": "alice", "password": "wrong password"}))
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    });

    let refreshed = appends!(&admin, id, "refresh", {
        app.post(REFRESH, json!({"refresh_token": refresh}))
            .await
            .expect_ok(200)
            .clone()
    });

    appends!(&admin, id, "profile_updated", {
        alice
            .put(
                PROFILE,
                json!({"nickname": "Al", "avatar_url": "https://example.com/a.png"}),
            )
            .await
            .expect_ok(200);
    });
    let fields = entries(&admin, id).await[0]["detail"]["fields"].clone();
    assert_eq!(
        fields,
        json!(["nickname", "avatar_url"]),
        "names of the fields, not values"
    );

    // A second session, revoked by its owner from the first.
    let other = app.sign_in("alice", PASSWORD).await;
    appends!(&admin, id, "sessions_revoked", {
        alice
            .delete(&session(crate::harness::sid(&other.token)))
            .await
            .expect_ok(200);
    });

    appends!(&admin, id, "password_changed", {
        alice
            .put(
                paths::PASSWORD,
                json!({"old_password": PASSWORD, "new_password": "a brand new password"}),
            )
            .await
            .expect_ok(200);
    });

    // The first refresh token was retired by the rotation above: presenting it again (past the
    // reuse grace, in which a duplicate gets the same successor) revokes the session and says so.
    app.clock.advance(time::Duration::seconds(11));
    appends!(&admin, id, "refresh_reuse", {
        app.post(REFRESH, json!({"refresh_token": refresh}))
            .await
            .expect_error(401, "REFRESH_TOKEN_REUSED");
    });
    let _ = refreshed;

    let again = app.sign_in("alice", "a brand new password").await;
    appends!(&admin, id, "logout", {
        again.post_empty(LOGOUT).await.expect_ok(200);
    });
    let logout = &entries(&admin, id).await[0];
    assert_eq!(logout["detail"]["all"], false);

    // Disabled account with the right password: a failed sign-in with its reason.
    let core = &app.state.core;
    let account = hufu::domain::admin::find_by_username(core, "alice").await.unwrap().user;
    hufu::domain::admin::set_enabled(core, &account, false).await.unwrap();
    let before = events(&admin, id).await.len();
    app.post(LOGIN, json!({"username": "alice", "password": "a brand new password"}))
        .await
        .expect_error(403, "ACCOUNT_DISABLED");
    let trail = entries(&admin, id).await;
    assert!(trail.len() > before);
    assert_eq!(trail[0]["event"], "login_failed");
    assert_eq!(trail[0]["detail"]["reason"], "account_disabled");
}

async fn a_refused_change_writes_no_audit_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = auditor(&app).await;
    app.register("bob", PASSWORD).await;
    let taken = app.register("carol", PASSWORD).await["email"].clone();
    let bob = app.sign_in("bob", PASSWORD).await;
    let id = bob.id;
    let before = events(&admin, id).await;

    // The unique index refuses the update inside the transaction that also holds its entry.
    bob.put(PROFILE, json!({"email": taken}))
        .await
        .expect_error(409, "EMAIL_TAKEN");
    // A registration refused as a duplicate leaves no entry either.
    let duplicate = app.post(REGISTER, registration("bob", PASSWORD)).await;
    duplicate.expect_error(409, "USERNAME_TAKEN");
    assert_eq!(events(&admin, id).await, before);
    let all = admin.get(&format!("{ADMIN_AUDIT}?event=register")).await;
    assert_eq!(all.expect_ok(200)["total"], 3, "auditor, bob, carol");
}

async fn a_lock_is_recorded_once_when_it_starts(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.lockout_threshold = 2).await;
    let admin = auditor(&app).await;
    app.register("dave", PASSWORD).await;
    let wrong = json!({"username": "dave", "password": "not the password"});
    for _ in 0..2 {
        app.post(LOGIN, wrong.clone())
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    let locks = || async {
        admin.get(&format!("{ADMIN_AUDIT}?event=locked")).await.expect_ok(200)["total"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(locks().await, 0);
    app.post(LOGIN, wrong.clone()).await.expect_error(423, "ACCOUNT_LOCKED");
    assert_eq!(locks().await, 1);
    // Refusals while locked are not new locks.
    app.post(LOGIN, wrong).await.expect_error(423, "ACCOUNT_LOCKED");
    assert_eq!(locks().await, 1);
    let failed = admin.get(&format!("{ADMIN_AUDIT}?event=login_failed")).await;
    assert_eq!(failed.expect_ok(200)["total"], 2);
}

async fn audit_entries_never_hold_a_password_or_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = auditor(&app).await;
    app.register("erin", "erin's secret password").await;
    let erin = app.sign_in("erin", "erin's secret password").await;
    let refresh = erin.refresh_token.as_str();
    let refreshed = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    refreshed.expect_ok(200);
    // A password typed into the username field must not land in the log either.
    app.post(
        LOGIN,
        json!({"username": "hunter2-typed-as-name", "password": "whatever password"}),
    )
    .await
    .expect_error(401, "INVALID_CREDENTIALS");
    let token = erin.token.as_str();
    erin.put(
        paths::PASSWORD,
        json!({"old_password": "erin's secret password", "new_password": "erin's next password"}),
    )
    .await
    .expect_ok(200);
    let log = admin
        .get(&format!("{ADMIN_AUDIT}?per_page=100"))
        .await
        .expect_ok(200)
        .to_string();
    for secret in [
        "erin's secret password",
        "erin's next password",
        "hunter2-typed-as-name",
        refresh,
        refreshed.body["data"]["refresh_token"].as_str().unwrap(),
        token,
        "argon2",
    ] {
        assert!(!log.contains(secret), "the audit log holds {secret:?}");
    }
}

async fn the_audit_log_is_for_admins_with_filters_and_bounded_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = auditor(&app).await;
    let plain = app.login_as("frank").await;
    plain.get(ADMIN_AUDIT).await.expect_error(403, "FORBIDDEN");
    app.get(ADMIN_AUDIT, None).await.expect_error(401, "TOKEN_MISSING");

    for name in ["gina", "hank", "ivan"] {
        app.register(name, PASSWORD).await;
    }
    // auditor, frank, gina, hank, ivan registered; auditor and frank signed in.
    let registers = admin.get(&format!("{ADMIN_AUDIT}?event=register&per_page=2")).await;
    let page1 = registers.expect_ok(200);
    assert_eq!(page1["total"], 5);
    assert_eq!((page1["page"].clone(), page1["per_page"].clone()), (json!(1), json!(2)));
    let mut seen: Vec<i64> = Vec::new();
    for page in 1..=3 {
        let answer = admin
            .get(&format!("{ADMIN_AUDIT}?event=register&per_page=2&page={page}"))
            .await;
        let items = answer.expect_ok(200)["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), if page < 3 { 2 } else { 1 });
        assert!(items.iter().all(|e| e["event"] == "register"));
        seen.extend(items.iter().map(|e| e["id"].as_i64().unwrap()));
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are disjoint and newest first");
    let beyond = admin
        .get(&format!("{ADMIN_AUDIT}?event=register&per_page=2&page=4"))
        .await;
    assert_eq!(beyond.expect_ok(200)["items"], json!([]));
    let logins = admin.get(&format!("{ADMIN_AUDIT}?event=login")).await;
    assert_eq!(logins.expect_ok(200)["total"], 2);

    for bad in [
        "per_page=101",
        "per_page=0",
        "page=0",
        "page=x",
        "event=LOGIN",
        "event=nonsense",
        "user_id=abc",
        "user_id=-3",
    ] {
        let answer = admin.get(&format!("{ADMIN_AUDIT}?{bad}")).await;
        answer.expect_error(400, "VALIDATION_FAILED");
    }
}

async fn wechat_sign_in_binding_and_unbinding_are_audited(backend: Backend) {
    let fake = crate::fake_wechat::FakeWechat::start().await;
    let app = crate::wechat::wechat_app(backend, &fake, |_| {}).await;
    let admin = auditor(&app).await;
    let code = fake.login_code("openid-audit-new", None, "tiihtNczf5v6AKRyjwEUhQ==");
    let first = app.post(WECHAT_MINIPROGRAM, json!({ "code": code })).await;
    let data = first.expect_ok(200).clone();
    let wx_id = data["user"]["id"].as_i64().unwrap();
    assert_eq!(events(&admin, wx_id).await, ["register", "wechat_login"]);
    let trail = entries(&admin, wx_id).await;
    assert_eq!(trail[1]["detail"]["method"], "wechat");
    assert_eq!(trail[0]["detail"]["method"], "miniprogram");

    let signed = app.login_as("grace").await;
    let grace = signed.get(PROFILE).await.expect_ok(200)["id"].as_i64().unwrap();
    let bind = fake.login_code("openid-audit-bind", None, "tiihtNczf5v6AKRyjwEUhQ==");
    appends!(&admin, grace, "wechat_bound", {
        signed.post(WECHAT_BIND, json!({ "code": bind })).await.expect_ok(200);
    });
    appends!(&admin, grace, "wechat_unbound", {
        signed.delete(WECHAT).await.expect_ok(200);
    });
    // Nothing bound any more: the idempotent second unbind changes nothing and says nothing.
    let before = events(&admin, grace).await;
    signed.delete(WECHAT).await.expect_ok(200);
    assert_eq!(events(&admin, grace).await, before);
}
