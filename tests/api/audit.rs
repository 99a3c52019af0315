//! The audit trail, on every store: each event appears exactly when its action happens (one
//! entry, with the user, IP and user agent), a refused change writes none, nothing secret is
//! ever in it, and administrators read it with filters and bounded pages.

use crate::harness::{Backend, TestApp, registration};
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

const PASSWORD: &str = "correct horse battery";

/// An administrator's access token (the role granted through the domain, as the command line does).
async fn admin_token(app: &TestApp) -> String {
    app.register("auditor", PASSWORD).await;
    let core = &app.state.core;
    let user = hufu::domain::admin::find_by_username(core, "auditor")
        .await
        .unwrap()
        .user;
    hufu::domain::admin::grant_role(core, &user, "admin").await.unwrap();
    app.login("auditor", PASSWORD).await["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The user's audit entries, newest first.
async fn entries(app: &TestApp, admin: &str, user_id: i64) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/api/v1/admin/audit?user_id={user_id}&per_page=100"),
            Some(admin),
        )
        .await;
    answer.expect_ok(200)["items"].as_array().unwrap().clone()
}

/// Event names of the user's entries, oldest first.
async fn events(app: &TestApp, admin: &str, user_id: i64) -> Vec<String> {
    let mut names: Vec<String> = entries(app, admin, user_id)
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    names.reverse();
    names
}

/// Runs `action`, then checks that exactly `expected` was appended to the user's trail.
macro_rules! appends {
    ($app:expr, $admin:expr, $user:expr, $expected:expr, $action:expr) => {{
        let before = events($app, $admin, $user).await;
        let result = $action;
        let after = events($app, $admin, $user).await;
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
    let admin = admin_token(&app).await;
    let user = app.register("alice", PASSWORD).await;
    let id = user["id"].as_i64().unwrap();
    assert_eq!(events(&app, &admin, id).await, ["register"]);
    let first = &entries(&app, &admin, id).await[0];
    assert_eq!(first["user_id"], id);
    assert_eq!(first["ip"], "127.0.0.1");
    assert!(first["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["detail"]["method"], "password");

    let login = appends!(&app, &admin, id, "login", app.login("alice", PASSWORD).await);
    let token = login["token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let newest = &entries(&app, &admin, id).await[0];
    assert_eq!(newest["detail"]["method"], "password");
    let claims = crate::harness::jwt_parts(&token).1;
    assert_eq!(
        newest["detail"]["session_id"], claims["sid"],
        "the entry names the session"
    );

    appends!(&app, &admin, id, "login_failed", {
        app.post(
            "/api/v1/auth/login",
            json!({"username": "alice", "password": "wrong password"}),
        )
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    });

    let refreshed = appends!(&app, &admin, id, "refresh", {
        app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
            .await
            .expect_ok(200)
            .clone()
    });

    appends!(&app, &admin, id, "profile_updated", {
        app.call(
            "PUT",
            "/api/v1/users/profile",
            Some(&token),
            Some(json!({"nickname": "Al", "avatar_url": "https://example.com/a.png"})),
        )
        .await
        .expect_ok(200);
    });
    let fields = entries(&app, &admin, id).await[0]["detail"]["fields"].clone();
    assert_eq!(
        fields,
        json!(["nickname", "avatar_url"]),
        "names of the fields, not values"
    );

    // A second session, revoked by its owner from the first.
    let other = app.login("alice", PASSWORD).await;
    let other_sid = crate::harness::jwt_parts(other["token"].as_str().unwrap()).1["sid"].clone();
    appends!(&app, &admin, id, "sessions_revoked", {
        app.call(
            "DELETE",
            &format!("/api/v1/users/sessions/{}", other_sid.as_str().unwrap()),
            Some(&token),
            None,
        )
        .await
        .expect_ok(200);
    });

    appends!(&app, &admin, id, "password_changed", {
        app.call(
            "PUT",
            "/api/v1/users/password",
            Some(&token),
            Some(json!({"old_password": PASSWORD, "new_password": "a brand new password"})),
        )
        .await
        .expect_ok(200);
    });

    // The first refresh token was retired by the rotation above: presenting it again (past the
    // two-second grace that tells a lost race from reuse) revokes the session and says so.
    app.clock.advance(time::Duration::seconds(3));
    appends!(&app, &admin, id, "refresh_reuse", {
        app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
            .await
            .expect_error(401, "REFRESH_TOKEN_REUSED");
    });
    let _ = refreshed;

    let again = app.login("alice", "a brand new password").await;
    let again_token = again["token"].as_str().unwrap().to_owned();
    appends!(&app, &admin, id, "logout", {
        app.call("POST", "/api/v1/auth/logout", Some(&again_token), None)
            .await
            .expect_ok(200);
    });
    let logout = &entries(&app, &admin, id).await[0];
    assert_eq!(logout["detail"]["all"], false);

    // Disabled account with the right password: a failed sign-in with its reason.
    let core = &app.state.core;
    let account = hufu::domain::admin::find_by_username(core, "alice").await.unwrap().user;
    hufu::domain::admin::set_enabled(core, &account, false).await.unwrap();
    let before = events(&app, &admin, id).await.len();
    app.post(
        "/api/v1/auth/login",
        json!({"username": "alice", "password": "a brand new password"}),
    )
    .await
    .expect_error(403, "ACCOUNT_DISABLED");
    let trail = entries(&app, &admin, id).await;
    assert!(trail.len() > before);
    assert_eq!(trail[0]["event"], "login_failed");
    assert_eq!(trail[0]["detail"]["reason"], "account_disabled");
}

async fn a_refused_change_writes_no_audit_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin_token(&app).await;
    app.register("bob", PASSWORD).await;
    let taken = app.register("carol", PASSWORD).await["email"].clone();
    let data = app.login("bob", PASSWORD).await;
    let token = data["token"].as_str().unwrap();
    let id = data["user"]["id"].as_i64().unwrap();
    let before = events(&app, &admin, id).await;

    // The unique index refuses the update inside the transaction that also holds its entry.
    app.call(
        "PUT",
        "/api/v1/users/profile",
        Some(token),
        Some(json!({"email": taken})),
    )
    .await
    .expect_error(409, "EMAIL_TAKEN");
    // A registration refused as a duplicate leaves no entry either.
    let duplicate = app.post("/api/v1/auth/register", registration("bob", PASSWORD)).await;
    duplicate.expect_error(409, "USERNAME_TAKEN");
    assert_eq!(events(&app, &admin, id).await, before);
    let all = app.get("/api/v1/admin/audit?event=register", Some(&admin)).await;
    assert_eq!(all.expect_ok(200)["total"], 3, "auditor, bob, carol");
}

async fn a_lock_is_recorded_once_when_it_starts(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.lockout_threshold = 2).await;
    let admin = admin_token(&app).await;
    app.register("dave", PASSWORD).await;
    let wrong = json!({"username": "dave", "password": "not the password"});
    for _ in 0..2 {
        app.post("/api/v1/auth/login", wrong.clone())
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    let locks = || async {
        app.get("/api/v1/admin/audit?event=locked", Some(&admin))
            .await
            .expect_ok(200)["total"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(locks().await, 0);
    app.post("/api/v1/auth/login", wrong.clone())
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
    assert_eq!(locks().await, 1);
    // Refusals while locked are not new locks.
    app.post("/api/v1/auth/login", wrong)
        .await
        .expect_error(423, "ACCOUNT_LOCKED");
    assert_eq!(locks().await, 1);
    let failed = app.get("/api/v1/admin/audit?event=login_failed", Some(&admin)).await;
    assert_eq!(failed.expect_ok(200)["total"], 2);
}

async fn audit_entries_never_hold_a_password_or_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = admin_token(&app).await;
    app.register("erin", "erin's secret password").await;
    let data = app.login("erin", "erin's secret password").await;
    let refresh = data["refresh_token"].as_str().unwrap();
    let refreshed = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await;
    refreshed.expect_ok(200);
    // A password typed into the username field must not land in the log either.
    app.post(
        "/api/v1/auth/login",
        json!({"username": "hunter2-typed-as-name", "password": "whatever password"}),
    )
    .await
    .expect_error(401, "INVALID_CREDENTIALS");
    let token = data["token"].as_str().unwrap();
    app.call(
        "PUT",
        "/api/v1/users/password",
        Some(token),
        Some(json!({"old_password": "erin's secret password", "new_password": "erin's next password"})),
    )
    .await
    .expect_ok(200);
    let log = app
        .get("/api/v1/admin/audit?per_page=100", Some(&admin))
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
    let admin = admin_token(&app).await;
    let plain = app.user_with_token("frank").await;
    app.get("/api/v1/admin/audit", Some(&plain))
        .await
        .expect_error(403, "FORBIDDEN");
    app.get("/api/v1/admin/audit", None)
        .await
        .expect_error(401, "TOKEN_MISSING");

    for name in ["gina", "hank", "ivan"] {
        app.register(name, PASSWORD).await;
    }
    // auditor, frank, gina, hank, ivan registered; auditor and frank signed in.
    let registers = app
        .get("/api/v1/admin/audit?event=register&per_page=2", Some(&admin))
        .await;
    let page1 = registers.expect_ok(200);
    assert_eq!(page1["total"], 5);
    assert_eq!((page1["page"].clone(), page1["per_page"].clone()), (json!(1), json!(2)));
    let mut seen: Vec<i64> = Vec::new();
    for page in 1..=3 {
        let answer = app
            .get(
                &format!("/api/v1/admin/audit?event=register&per_page=2&page={page}"),
                Some(&admin),
            )
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
    let beyond = app
        .get("/api/v1/admin/audit?event=register&per_page=2&page=4", Some(&admin))
        .await;
    assert_eq!(beyond.expect_ok(200)["items"], json!([]));
    let logins = app.get("/api/v1/admin/audit?event=login", Some(&admin)).await;
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
        let answer = app.get(&format!("/api/v1/admin/audit?{bad}"), Some(&admin)).await;
        answer.expect_error(400, "VALIDATION_FAILED");
    }
}

async fn wechat_sign_in_binding_and_unbinding_are_audited(backend: Backend) {
    let fake = crate::fake_wechat::FakeWechat::start().await;
    let app = crate::wechat::wechat_app(backend, &fake, |_| {}).await;
    let admin = admin_token(&app).await;
    let code = fake.login_code("openid-audit-new", None, "tiihtNczf5v6AKRyjwEUhQ==");
    let first = app
        .post("/api/v1/auth/wechat/miniprogram", json!({ "code": code }))
        .await;
    let data = first.expect_ok(200).clone();
    let wx_id = data["user"]["id"].as_i64().unwrap();
    assert_eq!(events(&app, &admin, wx_id).await, ["register", "wechat_login"]);
    let trail = entries(&app, &admin, wx_id).await;
    assert_eq!(trail[1]["detail"]["method"], "wechat");
    assert_eq!(trail[0]["detail"]["method"], "miniprogram");

    let token = app.user_with_token("grace").await;
    let grace = app.get("/api/v1/users/profile", Some(&token)).await.expect_ok(200)["id"]
        .as_i64()
        .unwrap();
    let bind = fake.login_code("openid-audit-bind", None, "tiihtNczf5v6AKRyjwEUhQ==");
    appends!(&app, &admin, grace, "wechat_bound", {
        app.call(
            "POST",
            "/api/v1/users/wechat/bind",
            Some(&token),
            Some(json!({ "code": bind })),
        )
        .await
        .expect_ok(200);
    });
    appends!(&app, &admin, grace, "wechat_unbound", {
        app.call("DELETE", "/api/v1/users/wechat", Some(&token), None)
            .await
            .expect_ok(200);
    });
    // Nothing bound any more: the idempotent second unbind changes nothing and says nothing.
    let before = events(&app, &admin, grace).await;
    app.call("DELETE", "/api/v1/users/wechat", Some(&token), None)
        .await
        .expect_ok(200);
    assert_eq!(events(&app, &admin, grace).await, before);
}
