//! User administration on every store: the admin guard (on current roles), listing and
//! search, disabling and enabling, role changes, revoking sessions, the audit entries these
//! write, and `HUFU_DEFAULT_ROLES`.

use crate::harness::paths::{ADMIN_USERS, LOGIN, PROFILE, REFRESH, REGISTER, admin_user, admin_user_sessions};
// The password `login_as` and `admin` register and sign in with.
use crate::harness::DEFAULT_PASSWORD as PASSWORD;
use crate::harness::{Backend, CacheMode, TestApp};
use crate::{on_every_cache, on_every_store};
use hufu::store::{AuditFilter, AuditRow};
use serde_json::{Value, json};
use std::collections::BTreeSet;

on_every_store!(
    admin_endpoints_refuse_plain_users_and_missing_tokens,
    admins_list_and_search_users,
    listing_pages_are_disjoint_complete_and_checked,
    disabling_cuts_a_user_off_at_once_and_enabling_lets_them_back,
    role_changes_take_effect_at_once_even_with_an_older_token,
    administrators_cannot_lock_themselves_out,
    revoking_sessions_refuses_every_token_of_the_user,
    bad_patch_bodies_change_nothing,
    default_roles_setting_applies_to_new_registrations,
);

on_every_cache!(removing_admin_on_one_node_cuts_access_on_another);

/// Registers `name` with these email and phone; returns the user object.
async fn register_as(app: &TestApp, name: &str, email: &str, phone: &str) -> Value {
    app.post(
        REGISTER,
        json!({"username": name, "email": email, "password": PASSWORD, "phone": phone}),
    )
    .await
    .expect_ok(201)
    .clone()
}

async fn audit(app: &TestApp, user_id: i64, event: &str) -> Vec<AuditRow> {
    let filter = AuditFilter {
        user_id: Some(user_id),
        event: Some(event.to_owned()),
    };
    app.state.core.store.audit_page(&filter, 0, 100).await.unwrap().0
}

fn detail(row: &AuditRow) -> Value {
    serde_json::from_str(row.detail.as_deref().expect("detail")).expect("detail is JSON")
}

/// Usernames of a listing page.
fn names(data: &Value) -> Vec<String> {
    data["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin_endpoints_refuse_plain_users_and_missing_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let plain = app.login_as("plain").await;
    let user_path = admin_user(plain.id);
    let sessions_path = admin_user_sessions(plain.id);
    let calls: [(&str, &str, Option<Value>); 4] = [
        ("GET", ADMIN_USERS, None),
        ("GET", &user_path, None),
        ("PATCH", &user_path, Some(json!({"roles": ["admin"]}))),
        ("DELETE", &sessions_path, None),
    ];
    for (method, path, body) in &calls {
        plain
            .call(method, path, body.clone())
            .await
            .expect_error(403, "FORBIDDEN");
        let missing = app.call(method, path, None, body.clone()).await;
        missing.expect_error(401, "TOKEN_MISSING");
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    }
    // The refused PATCH changed nothing, and the refused DELETE revoked nothing.
    let user = root.get(&user_path).await.expect_ok(200).clone();
    assert_eq!(user["roles"], json!(["user"]));
    plain.get(PROFILE).await.expect_ok(200);
    assert!(audit(&app, plain.id, "admin_update").await.is_empty());
    assert!(audit(&app, plain.id, "sessions_revoked").await.is_empty());

    // An administrator gets the user object; unknown and non-numeric ids are enveloped 404s.
    assert_eq!(user["id"], plain.id);
    assert_eq!(user["username"], "plain");
    assert!(user.get("password_hash").is_none());
    for id in ["1", "abc", "-5", "99999999999999999999999"] {
        root.get(&admin_user(id)).await.expect_error(404, "NOT_FOUND");
    }
    root.patch(&admin_user(1), json!({"status": 0}))
        .await
        .expect_error(404, "NOT_FOUND");
    root.delete(&admin_user_sessions("x"))
        .await
        .expect_error(404, "NOT_FOUND");
}

async fn admins_list_and_search_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let alice = register_as(&app, "Alice.Smith", "Alice.Smith@Example.COM", "13712340001").await;
    register_as(&app, "bob", "bob@mail.test", "13712340002").await;
    register_as(&app, "a_b", "ab@mail.test", "13712340003").await;
    register_as(&app, "axb", "axb@mail.test", "13712340004").await;
    register_as(&app, "carol", "fifty%off@mail.test", "13712340005").await;
    register_as(&app, "dave", "fiftyxoff@mail.test", "13712340006").await;
    let list = |query: &str| {
        let path = format!("{ADMIN_USERS}{query}");
        let root = &root;
        async move { root.get(&path).await }
    };
    let search = |q: &str| {
        let query = format!(
            "?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let list = &list;
        async move {
            let answer = list(&query).await;
            let data = answer.expect_ok(200).clone();
            assert_eq!(data["total"].as_i64().unwrap() as usize, names(&data).len());
            names(&data)
        }
    };

    // Everyone, newest first, with the default page size.
    let all = list("").await.expect_ok(200).clone();
    assert_eq!(
        names(&all),
        vec!["dave", "carol", "axb", "a_b", "bob", "Alice.Smith", "root"]
    );
    assert_eq!(
        (all["total"].as_i64(), all["page"].as_i64(), all["per_page"].as_i64()),
        (Some(7), Some(1), Some(20))
    );
    assert_eq!(all["items"][5], alice, "items are user objects");

    assert_eq!(
        search("ICE.sm").await,
        vec!["Alice.Smith"],
        "part of a username, any case"
    );
    assert_eq!(
        search("SMITH@EXAMPLE.c").await,
        vec!["Alice.Smith"],
        "part of an email, any case"
    );
    assert_eq!(search("mail.TEST").await, vec!["dave", "carol", "axb", "a_b", "bob"]);
    assert_eq!(search("2340002").await, vec!["bob"], "part of a phone");
    assert_eq!(search("1371234000").await.len(), 6);
    // `_` and `%` are literal, not wildcards.
    assert_eq!(search("a_b").await, vec!["a_b"]);
    assert_eq!(search("y%o").await, vec!["carol"]);
    assert_eq!(search("%").await, vec!["carol"], "only the email with a % in it");
    assert!(search("_").await == vec!["a_b"]);
    assert!(
        search("!").await.is_empty(),
        "the escape character itself is literal too"
    );
    assert!(search("nobody-here").await.is_empty());
    assert_eq!(search("  ").await.len(), 7, "a blank q matches everyone");

    // The status filter, alone and with q.
    let bob_id = all["items"][4]["id"].as_i64().unwrap();
    root.patch(&admin_user(bob_id), json!({"status": 0}))
        .await
        .expect_ok(200);
    assert_eq!(names(list("?status=0").await.expect_ok(200)), vec!["bob"]);
    let active = list("?status=1").await.expect_ok(200).clone();
    assert_eq!(active["total"], 6);
    assert!(!names(&active).contains(&"bob".to_owned()));
    assert_eq!(names(list("?status=1&q=mail.test").await.expect_ok(200)).len(), 4);
    for bad in ["?status=2", "?status=x", "?status=", "?status=-1"] {
        let answer = list(bad).await;
        let body = answer.expect_error(400, "VALIDATION_FAILED");
        assert_eq!(body["details"][0]["field"], "status", "{bad}");
    }
}

async fn listing_pages_are_disjoint_complete_and_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let mut ids = BTreeSet::new();
    for n in 0..6 {
        let user = app.register(&format!("pager{n}"), PASSWORD).await;
        ids.insert(user["id"].as_i64().unwrap());
    }
    let page = |query: String| {
        let root = &root;
        async move { root.get(&format!("{ADMIN_USERS}?q=pager{query}")).await }
    };
    let mut seen = Vec::new();
    for n in 1..=3 {
        let data = page(format!("&per_page=2&page={n}")).await.expect_ok(200).clone();
        assert_eq!(
            (data["total"].as_i64(), data["page"].as_i64(), data["per_page"].as_i64()),
            (Some(6), Some(n), Some(2))
        );
        let items = data["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "page {n}");
        seen.extend(items.iter().map(|u| u["id"].as_i64().unwrap()));
    }
    let mut descending = seen.clone();
    descending.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, descending, "newest first across pages");
    assert_eq!(
        seen.iter().copied().collect::<BTreeSet<_>>(),
        ids,
        "disjoint and complete"
    );
    let beyond = page("&per_page=2&page=4".into()).await.expect_ok(200).clone();
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["total"], 6);
    let last = page("&per_page=4&page=2".into()).await.expect_ok(200).clone();
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        page("&per_page=100".into()).await.expect_ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    for (query, field) in [
        ("&per_page=101", "per_page"),
        ("&per_page=0", "per_page"),
        ("&per_page=x", "per_page"),
        ("&page=0", "page"),
        ("&page=x", "page"),
        ("&page=-1", "page"),
    ] {
        let answer = page(query.into()).await;
        let body = answer.expect_error(400, "VALIDATION_FAILED");
        assert_eq!(body["details"][0]["field"], field, "{query}");
    }
}

async fn disabling_cuts_a_user_off_at_once_and_enabling_lets_them_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let first = app.login_as("dora").await;
    let second = app.login_as("dora").await;
    let id = first.id;

    let disabled = root
        .patch(&admin_user(id), json!({"status": 0, "extra": "ignored"}))
        .await;
    let user = disabled.expect_ok(200);
    assert_eq!(user["status"], 0);
    assert_eq!(user["id"], id);
    // At once, not eventually: both sessions' tokens are refused on the next request.
    for session in [&first, &second] {
        session.get(PROFILE).await.expect_error(401, "TOKEN_REVOKED");
        app.post(REFRESH, json!({"refresh_token": session.refresh_token}))
            .await
            .expect_error(401, "REFRESH_TOKEN_INVALID");
    }
    app.post(LOGIN, json!({"username": "dora", "password": PASSWORD}))
        .await
        .expect_error(403, "ACCOUNT_DISABLED");

    // One audit entry, by the administrator, in the same transaction as the change.
    let entries = audit(&app, id, "admin_update").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_id, Some(root.id));
    let d = detail(&entries[0]);
    assert_eq!(d["status"], json!({"from": 1, "to": 0}));
    assert_eq!(d["sessions_revoked"], 2);
    assert!(d.get("roles").is_none(), "roles did not change: {d}");

    // Disabling again changes nothing and records nothing.
    root.patch(&admin_user(id), json!({"status": 0})).await.expect_ok(200);
    assert_eq!(audit(&app, id, "admin_update").await.len(), 1);

    let enabled = root.patch(&admin_user(id), json!({"status": 1})).await;
    assert_eq!(enabled.expect_ok(200)["status"], 1);
    let again = app.login_as("dora").await;
    again.get(PROFILE).await.expect_ok(200);
    let entries = audit(&app, id, "admin_update").await;
    assert_eq!(entries.len(), 2);
    assert_eq!(detail(&entries[0])["status"], json!({"from": 0, "to": 1}));
}

async fn role_changes_take_effect_at_once_even_with_an_older_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let eve = app.login_as("eve").await;
    // Warm the profile cache, so the guard would read stale roles if nothing invalidated it.
    eve.get(PROFILE).await.expect_ok(200);
    eve.get(ADMIN_USERS).await.expect_error(403, "FORBIDDEN");

    let granted = root
        .patch(&admin_user(eve.id), json!({"roles": ["user", "admin", "user"]}))
        .await;
    assert_eq!(
        granted.expect_ok(200)["roles"],
        json!(["user", "admin"]),
        "de-duplicated"
    );
    // The same token, whose `roles` claim says only "user", now reaches admin endpoints.
    assert_eq!(crate::harness::jwt_parts(&eve.token).1["roles"], json!(["user"]));
    eve.get(ADMIN_USERS).await.expect_ok(200);
    eve.get(&admin_user(root.id)).await.expect_ok(200);

    let revoked = root.patch(&admin_user(eve.id), json!({"roles": ["user"]})).await;
    assert_eq!(revoked.expect_ok(200)["roles"], json!(["user"]));
    eve.get(ADMIN_USERS).await.expect_error(403, "FORBIDDEN");
    // Only admin access went; the session itself is fine.
    eve.get(PROFILE).await.expect_ok(200);

    let entries = audit(&app, eve.id, "admin_update").await;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.actor_id == Some(root.id)));
    assert_eq!(
        detail(&entries[0])["roles"],
        json!({"from": ["user", "admin"], "to": ["user"]}),
        "newest first"
    );
    assert_eq!(
        detail(&entries[1])["roles"],
        json!({"from": ["user"], "to": ["user", "admin"]})
    );
}

async fn administrators_cannot_lock_themselves_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let me = admin_user(root.id);
    for body in [
        json!({"status": 0}),
        json!({"roles": ["user"]}),
        json!({"status": 0, "roles": ["admin"]}),
    ] {
        let answer = root.patch(&me, body.clone()).await;
        let error = answer.expect_error(400, "VALIDATION_FAILED");
        assert_eq!(error["details"][0]["reason"], "self_lockout", "{body}");
    }
    let mine = root.get(&me).await;
    let mine = mine.expect_ok(200);
    assert_eq!(
        (mine["status"].clone(), mine["roles"].clone()),
        (json!(1), json!(["user", "admin"]))
    );
    // Changing their own roles while keeping admin is allowed.
    let kept = root.patch(&me, json!({"roles": ["admin", "ops"]})).await;
    assert_eq!(kept.expect_ok(200)["roles"], json!(["admin", "ops"]));
    root.get(ADMIN_USERS).await.expect_ok(200);
    // Another administrator may do it.
    let other = app.admin_as("other").await;
    let dropped = other.patch(&me, json!({"roles": ["user"]})).await;
    assert_eq!(dropped.expect_ok(200)["roles"], json!(["user"]));
    root.get(ADMIN_USERS).await.expect_error(403, "FORBIDDEN");
}

async fn revoking_sessions_refuses_every_token_of_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let first = app.login_as("fred").await;
    let second = app.login_as("fred").await;
    let bystander = app.login_as("gina").await;
    let id = first.id;

    let answer = root.delete(&admin_user_sessions(id)).await;
    assert_eq!(answer.expect_ok(200)["revoked"], 2);
    for session in [&first, &second] {
        session.get(PROFILE).await.expect_error(401, "TOKEN_REVOKED");
        app.post(REFRESH, json!({"refresh_token": session.refresh_token}))
            .await
            .expect_error(401, "REFRESH_TOKEN_INVALID");
    }
    bystander.get(PROFILE).await.expect_ok(200);
    // Not disabled: they can sign in again.
    let again = app.login_as("fred").await;
    again.get(PROFILE).await.expect_ok(200);

    let entries = audit(&app, id, "sessions_revoked").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_id, Some(root.id));
    assert_eq!(detail(&entries[0])["revoked"], 2);
    // The admin's own session was not touched.
    root.get(ADMIN_USERS).await.expect_ok(200);
}

async fn bad_patch_bodies_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.admin().await;
    let hank = app.login_as("hank").await;
    let path = admin_user(hank.id);
    for (body, code) in [
        (json!({"status": 2}), "VALIDATION_FAILED"),
        (json!({"status": -1}), "VALIDATION_FAILED"),
        (json!({"roles": []}), "VALIDATION_FAILED"),
        (json!({"roles": ["Bad Role"]}), "VALIDATION_FAILED"),
        (json!({"roles": ["admin", ""]}), "VALIDATION_FAILED"),
        (json!({"status": 0, "roles": ["Bad Role"]}), "VALIDATION_FAILED"),
        (json!({"roles": "admin"}), "INVALID_JSON"),
        (json!({"roles": [1]}), "INVALID_JSON"),
        (json!({"status": "0"}), "INVALID_JSON"),
        (json!([{"status": 0}]), "INVALID_JSON"),
    ] {
        root.patch(&path, body).await.expect_error(400, code);
    }
    let mixed = root.patch(&path, json!({"status": 7, "roles": []})).await;
    let fields: Vec<&str> = mixed.expect_error(400, "VALIDATION_FAILED")["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["status", "roles"], "every bad field is listed");
    let user = root.get(&path).await;
    let user = user.expect_ok(200);
    assert_eq!(
        (user["status"].clone(), user["roles"].clone()),
        (json!(1), json!(["user"]))
    );
    hank.get(PROFILE).await.expect_ok(200);
    assert!(audit(&app, hank.id, "admin_update").await.is_empty());
    // An empty body changes nothing either, and is not an error.
    let empty = root.patch(&path, json!({})).await;
    assert_eq!(empty.expect_ok(200)["roles"], json!(["user"]));
    assert!(audit(&app, hank.id, "admin_update").await.is_empty());
}

async fn default_roles_setting_applies_to_new_registrations(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.accounts.default_roles = vec!["member".into(), "beta".into()];
    })
    .await;
    let user = app.register("ivy", PASSWORD).await;
    assert_eq!(user["roles"], json!(["member", "beta"]));
    let ivy = app.sign_in("ivy", PASSWORD).await;
    assert_eq!(
        crate::harness::jwt_parts(&ivy.token).1["roles"],
        json!(["member", "beta"])
    );
    // Neither default role is admin.
    ivy.get(ADMIN_USERS).await.expect_error(403, "FORBIDDEN");
}

/// A second node over the first one's database, Redis prefix, secrets and data directory.
async fn second_node(first: &TestApp) -> TestApp {
    let mut settings = first.settings.clone();
    settings.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let store = hufu::app::open_store(&settings)
        .await
        .expect("open the shared database");
    let node = TestApp::start(Backend::Sqlite, settings, store, tempfile::tempdir().unwrap()).await;
    if first.settings.redis.url.is_some() {
        node.wait_for_events().await;
    }
    node
}

async fn removing_admin_on_one_node_cuts_access_on_another(mode: CacheMode) {
    let a = TestApp::spawn_cached(mode, |_| {}).await;
    let b = second_node(&a).await;
    let root = a.admin().await;
    let jane = a.login_as("jane").await;
    let path = admin_user(jane.id);
    let jane = jane.token.as_str();
    root.patch(&path, json!({"roles": ["user", "admin"]}))
        .await
        .expect_ok(200);
    // B has jane's roles cached with admin in them now.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while b.get(ADMIN_USERS, Some(jane)).await.status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "{mode:?}: the grant never reached B"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // A later change has a later `updated_at` (the test clocks stand still otherwise).
    a.clock.advance(time::Duration::seconds(1));
    root.patch(&path, json!({"roles": ["user"]})).await.expect_ok(200);
    match mode {
        // Through Redis the change is acknowledged by every node before the PATCH answers.
        CacheMode::Redis => {
            b.get(ADMIN_USERS, Some(jane)).await.expect_error(403, "FORBIDDEN");
        }
        // Without Redis, B learns it from the database feed it polls four times a second.
        CacheMode::Memory => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            loop {
                let answer = b.get(ADMIN_USERS, Some(jane)).await;
                if answer.status == 403 {
                    answer.expect_error(403, "FORBIDDEN");
                    break;
                }
                answer.expect_ok(200);
                assert!(std::time::Instant::now() < deadline, "B still lets jane in after 1 s");
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
        }
    }
}
