//! Registration, sign-in, profile and password change, on every store.

use crate::harness::paths::{LOGIN, PASSWORD, PROFILE, REGISTER};
use crate::harness::{Backend, Signed, TestApp, jwt_parts, registration};
use crate::on_every_store;
use hufu::store::{AuditFilter, AuditRecord, NewSession, SessionCreation};
use serde_json::json;

on_every_store!(
    registration_returns_the_user_object_and_nothing_secret,
    registration_lists_every_bad_field,
    usernames_emails_and_phones_are_unique_in_their_normal_form,
    one_hundred_concurrent_registrations_of_one_name_give_one_201,
    registration_can_be_switched_off_and_phone_made_optional,
    login_works_by_username_email_or_phone,
    wrong_password_and_unknown_user_get_the_same_answer,
    each_login_creates_a_session,
    the_profile_can_be_read_and_updated,
    profile_updates_are_validated_and_change_nothing_when_refused,
    changing_the_password_needs_the_old_one_and_signs_out_other_sessions,
    a_password_session_is_stored_only_while_the_checked_hash_is_the_users,
    long_passwords_are_not_truncated,
    text_no_account_can_have_gets_a_clear_answer_on_every_store,
);

async fn registration_returns_the_user_object_and_nothing_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let answer = app
        .post(
            REGISTER,
            json!({"username": "JohnDoe", "email": "John@Example.com",
            "password": "password123", "phone": "+8613800138000", "extra": "ignored"}),
        )
        .await;
    let user = answer.expect_ok(201);
    assert_eq!(answer.body["message"], "Registered");
    assert!(answer.body["timestamp"].as_str().unwrap().ends_with('Z'));
    let id = user["id"].as_i64().expect("numeric id");
    assert!(id > 0 && id < (1i64 << 53), "id must be JavaScript-safe: {id}");
    assert_eq!(user["username"], "JohnDoe");
    assert_eq!(user["email"], "John@Example.com");
    assert_eq!(user["phone"], "13800138000", "mainland numbers are stored as 11 digits");
    assert_eq!(user["status"], 1);
    assert_eq!(user["roles"], json!(["user"]));
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["wechat_bound"], false);
    assert_eq!(user["nickname"], serde_json::Value::Null);
    let created = user["created_at"].as_str().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z'),
        "second precision RFC 3339: {created}"
    );
    assert!(!answer.text.contains("argon2") && !answer.text.contains("password123"));

    let second = app.register("janedoe", "password123").await;
    assert!(second["id"].as_i64().unwrap() > id, "ids are time-ordered");

    let zh = app
        .in_lang("zh-CN,zh;q=0.9,en;q=0.8")
        .post(REGISTER, registration("zhangsan", "password123"))
        .await;
    zh.expect_ok(201);
    assert_eq!(zh.body["message"], "注册成功");
}

async fn registration_lists_every_bad_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let answer = app
        .post(
            REGISTER,
            json!({"username": "ab", "email": "not-an-email", "password": "short", "phone": "12345"}),
        )
        .await;
    let body = answer.expect_error(400, "VALIDATION_FAILED");
    let details = body["details"].as_array().expect("details");
    let reasons: Vec<(String, String)> = details
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_owned(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("username".into(), "too_short".into()),
            ("email".into(), "invalid".into()),
            ("password".into(), "too_short".into()),
            ("phone".into(), "invalid".into()),
        ]
    );
    let missing = app.post(REGISTER, json!({})).await;
    let details = missing.expect_error(400, "VALIDATION_FAILED")["details"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(details.len(), 4);
    assert!(details.iter().all(|d| d["reason"] == "required"));
    let zh = app
        .in_lang("zh")
        .post(
            REGISTER,
            json!({"username": "张三", "email": "a@example.com", "password": "password123", "phone": "13900000000"}),
        )
        .await;
    zh.expect_error(400, "VALIDATION_FAILED");
    assert_eq!(zh.body["message"], "请求参数错误");
    assert!(zh.body["error"].as_str().unwrap().contains("用户名"));
    // Nothing was created by any refused request.
    let login = app
        .post(LOGIN, json!({"username": "a@example.com", "password": "password123"}))
        .await;
    login.expect_error(401, "INVALID_CREDENTIALS");
}

async fn usernames_emails_and_phones_are_unique_in_their_normal_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post(
        REGISTER,
        json!({"username": "JohnDoe", "email": "john@example.com", "password": "password123", "phone": "13800138000"}),
    )
    .await
    .expect_ok(201);
    let cases = [
        (
            json!({"username": "johndoe", "email": "x1@example.com", "password": "password123", "phone": "13800000001"}),
            "USERNAME_TAKEN",
            "username",
        ),
        (
            json!({"username": "ｊｏｈｎｄｏｅ", "email": "x2@example.com", "password": "password123", "phone": "13800000002"}),
            "USERNAME_TAKEN",
            "username",
        ),
        (
            json!({"username": "other1", "email": "JOHN@EXAMPLE.COM", "password": "password123", "phone": "13800000003"}),
            "EMAIL_TAKEN",
            "email",
        ),
        (
            json!({"username": "other2", "email": "x3@example.com", "password": "password123", "phone": "+86 138 0013 8000"}),
            "PHONE_TAKEN",
            "phone",
        ),
    ];
    for (body, code, field) in cases {
        let answer = app.post(REGISTER, body).await;
        let body = answer.expect_error(409, code);
        assert_eq!(body["details"][0]["field"], field);
        assert_eq!(body["details"][0]["reason"], "taken");
    }
    let zh = app
        .in_lang("zh-CN")
        .post(
            REGISTER,
            json!({"username": "other9", "email": "john@example.com", "password": "password123", "phone": "13800000009"}),
        )
        .await;
    zh.expect_error(409, "EMAIL_TAKEN");
    assert_eq!(zh.body["error"], "邮箱已被注册");
}

async fn one_hundred_concurrent_registrations_of_one_name_give_one_201(backend: Backend) {
    // All hundred may be hashing at once on a slow machine: room for them in the queue, so
    // the test is about the unique index, not about the hashing pool's back-pressure.
    let app = TestApp::spawn_with(backend, |s| s.passwords.hash_queue = 1_000).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                // Same username, different email and phone: only the username collides, and
                // the loser must learn that from the database's unique index.
                let body = json!({"username": "racer", "email": format!("racer{i}@example.com"),
                    "password": "password123", "phone": format!("137{i:08}")});
                let answer = app.post(REGISTER, body).await;
                (answer.status, answer.body["error_code"].as_str().map(str::to_owned))
            })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            (201, _) => created += 1,
            (409, Some(code)) if code == "USERNAME_TAKEN" => conflicts += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((created, conflicts), (1, 99));
}

async fn registration_can_be_switched_off_and_phone_made_optional(backend: Backend) {
    let closed = TestApp::spawn_with(backend, |s| s.accounts.registration_enabled = false).await;
    closed
        .post(REGISTER, registration("nobody", "password123"))
        .await
        .expect_error(403, "REGISTRATION_DISABLED");

    let app = TestApp::spawn_with(backend, |s| {
        s.accounts.require_phone = false;
        s.accounts.password_min_length = 10;
    })
    .await;
    let user = app
        .post(
            REGISTER,
            json!({"username": "nophone", "email": "np@example.com", "password": "0123456789"}),
        )
        .await;
    assert_eq!(user.expect_ok(201)["phone"], serde_json::Value::Null);
    let short = app
        .post(
            REGISTER,
            json!({"username": "short", "email": "s@example.com", "password": "012345678"}),
        )
        .await;
    assert_eq!(
        short.expect_error(400, "VALIDATION_FAILED")["details"][0]["reason"],
        "too_short"
    );
}

async fn login_works_by_username_email_or_phone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app
        .post(REGISTER, json!({"username": "Alice", "email": "Alice@Example.com", "password": "wonderland!", "phone": "13912345678"}))
        .await
        .expect_ok(201)
        .clone();
    for identifier in [
        "Alice",
        "alice",
        "ＡＬＩＣＥ",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "13912345678",
        "+8613912345678",
    ] {
        let answer = app
            .post(LOGIN, json!({"username": identifier, "password": "wonderland!"}))
            .await;
        let data = answer.expect_ok(200);
        assert_eq!(answer.body["message"], "Logged in");
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(data["token_type"], "Bearer");
        assert_eq!(data["expires_in"], 900);
        assert_eq!(data["refresh_expires_in"], 604_800);
        assert!(
            data["refresh_token"].as_str().unwrap().len() >= 43,
            "refresh token carries 256 bits"
        );
        assert_eq!(data["user"]["id"], user["id"]);
        let (header, claims) = jwt_parts(data["token"].as_str().unwrap());
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(claims["iss"], "hufu");
        assert_eq!(claims["aud"], "hufu");
        assert_eq!(claims["sub"], user["id"].as_i64().unwrap().to_string());
        assert_eq!(claims["user_id"], user["id"]);
        assert_eq!(claims["username"], "Alice");
        assert_eq!(claims["roles"], json!(["user"]));
        assert!(claims["sid"].as_str().is_some_and(|s| s.parse::<i64>().is_ok()));
        assert!(claims["jti"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
        assert_eq!(claims["nbf"], claims["iat"]);
    }
    let zh = app
        .in_lang("zh-CN,zh;q=0.9")
        .post(LOGIN, json!({"username": "alice", "password": "wonderland!"}))
        .await;
    assert_eq!(zh.body["message"], "登录成功");
}

async fn wrong_password_and_unknown_user_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("bob", "the right one").await;
    let hasher = &app.state.core.hasher;

    let before = hasher.completed();
    let wrong = app
        .post(LOGIN, json!({"username": "bob", "password": "the wrong one"}))
        .await;
    let after_wrong = hasher.completed();
    let unknown = app
        .post(LOGIN, json!({"username": "nobody-here", "password": "the wrong one"}))
        .await;
    let after_unknown = hasher.completed();

    for answer in [&wrong, &unknown] {
        answer.expect_error(401, "INVALID_CREDENTIALS");
        assert_eq!(answer.body["error"], "invalid username or password");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
    // Both paths do exactly one argon2 verification: the unknown user is checked against the
    // dummy hash, so neither time nor CPU tells the two apart.
    assert_eq!(after_wrong - before, 1);
    assert_eq!(after_unknown - after_wrong, 1);

    let zh = app
        .in_lang("zh")
        .post(LOGIN, json!({"username": "nobody", "password": "x"}))
        .await;
    assert_eq!(
        (zh.body["message"].as_str(), zh.body["error"].as_str()),
        (Some("认证失败"), Some("用户名或密码错误"))
    );
    let missing = app.post(LOGIN, json!({"username": "bob"})).await;
    assert_eq!(
        missing.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "password"
    );
}

async fn each_login_creates_a_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("carol", "password123").await;
    let user_id = user["id"].as_i64().unwrap();
    let first = app.login("carol", "password123").await;
    let second = app
        .client
        .post(app.url(LOGIN))
        .header("user-agent", "hufu-test-agent/1.0")
        .json(&json!({"username": "carol", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let second = crate::harness::read(second).await.expect_ok(200).clone();
    let sid = |data: &serde_json::Value| {
        jwt_parts(data["token"].as_str().unwrap()).1["sid"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let sessions = app
        .state
        .core
        .store
        .live_sessions(user_id, app.state.core.clock.unix_millis())
        .await
        .unwrap();
    let ids: Vec<i64> = sessions.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![sid(&second), sid(&first)], "newest first, one per login");
    assert_eq!(sessions[0].user_agent.as_deref(), Some("hufu-test-agent/1.0"));
    assert_eq!(sessions[0].ip.as_deref(), Some("127.0.0.1"));
}

async fn the_profile_can_be_read_and_updated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dave = app.login_as("dave").await;
    let profile = dave.get(PROFILE).await;
    assert_eq!(profile.expect_ok(200)["username"], "dave");

    let update = json!({"nickname": "大卫", "avatar_url": "https://cdn.example.com/d.png",
        "email": "Dave@New.example.com", "phone": "+14155552671", "username": "Dave.Two"});
    let updated = dave.put(PROFILE, update).await;
    let user = updated.expect_ok(200).clone();
    assert_eq!(user["nickname"], "大卫");
    assert_eq!(user["avatar_url"], "https://cdn.example.com/d.png");
    assert_eq!(user["email"], "Dave@New.example.com");
    assert_eq!(user["phone"], "+14155552671");
    assert_eq!(user["username"], "Dave.Two");
    let read_back = dave.get(PROFILE).await;
    assert_eq!(read_back.expect_ok(200), &user);
    // The new identifiers sign in; the old username no longer does.
    app.login("dave.two", "correct horse battery").await;
    app.login("dave@new.example.com", "correct horse battery").await;
    app.post(LOGIN, json!({"username": "dave", "password": "correct horse battery"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");

    // null clears nickname and avatar; absent fields stay.
    let cleared = dave.put(PROFILE, json!({"nickname": null, "avatar_url": null})).await;
    let cleared = cleared.expect_ok(200);
    assert_eq!(cleared["nickname"], serde_json::Value::Null);
    assert_eq!(cleared["avatar_url"], serde_json::Value::Null);
    assert_eq!(cleared["email"], "Dave@New.example.com");
}

async fn profile_updates_are_validated_and_change_nothing_when_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("erin", "password123").await;
    let frank = app.login_as("frank").await;
    let before = frank.get(PROFILE).await.expect_ok(200).clone();

    let refused = [
        (
            json!({"email": "ERIN@example.com", "nickname": "should not stick"}),
            409,
            "EMAIL_TAKEN",
        ),
        (json!({"username": "Erin"}), 409, "USERNAME_TAKEN"),
        (
            json!({"avatar_url": "javascript:alert(1)", "nickname": "x"}),
            400,
            "VALIDATION_FAILED",
        ),
        (json!({"nickname": "n".repeat(65)}), 400, "VALIDATION_FAILED"),
        (json!({"nickname": "bell\u{7}"}), 400, "VALIDATION_FAILED"),
        (json!({"username": null}), 400, "VALIDATION_FAILED"),
        (json!({"email": null}), 400, "VALIDATION_FAILED"),
        (json!({"phone": "123"}), 400, "VALIDATION_FAILED"),
        (json!({"nickname": 5}), 400, "INVALID_JSON"),
    ];
    for (body, status, code) in refused {
        frank.put(PROFILE, body).await.expect_error(status, code);
    }
    let after = frank.get(PROFILE).await.expect_ok(200).clone();
    assert_eq!(before, after, "a refused update changes nothing");
}

async fn changing_the_password_needs_the_old_one_and_signs_out_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("grace", "first password").await;
    let user_id = user["id"].as_i64().unwrap();
    let other = app.sign_in("grace", "first password").await;
    let current = app.sign_in("grace", "first password").await;

    let wrong = current
        .put(
            PASSWORD,
            json!({"old_password": "not it", "new_password": "second password"}),
        )
        .await;
    wrong.expect_error(401, "INVALID_CREDENTIALS");
    let short = current
        .put(
            PASSWORD,
            json!({"old_password": "first password", "new_password": "short"}),
        )
        .await;
    short.expect_error(400, "VALIDATION_FAILED");
    let missing_old = current.put(PASSWORD, json!({"new_password": "second password"})).await;
    assert_eq!(
        missing_old.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "old_password"
    );
    app.login("grace", "first password").await;

    let changed = current
        .put(
            PASSWORD,
            json!({"old_password": "first password", "new_password": "second password"}),
        )
        .await;
    changed.expect_ok(200);
    app.post(LOGIN, json!({"username": "grace", "password": "first password"}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    app.login("grace", "second password").await;

    let sid = |signed: &Signed| crate::harness::sid(&signed.token).parse::<i64>().unwrap();
    let live: Vec<i64> = app
        .state
        .core
        .store
        .live_sessions(user_id, app.state.core.clock.unix_millis())
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(
        live.contains(&sid(&current)),
        "the session that changed the password stays"
    );
    assert!(!live.contains(&sid(&other)), "other sessions are revoked");
}

/// The store's half of "a password change landing mid-login wins": the hash a login checked
/// is compared again in the session's own transaction, and nothing is written if it changed.
async fn a_password_session_is_stored_only_while_the_checked_hash_is_the_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("ivan", "first password").await;
    let user_id = user["id"].as_i64().unwrap();
    let core = &app.state.core;
    let stored = core.store.user_by_id(user_id).await.unwrap().unwrap().password_hash;
    let now_ms = core.clock.unix_millis();
    let session = |checked: Option<String>, owner: i64| NewSession {
        id: core.ids.next_id(),
        user_id: owner,
        ip: None,
        user_agent: None,
        refresh_token_hash: format!("{:064x}", core.ids.next_id()),
        expires_at_ms: now_ms + 60_000,
        now_ms,
        amr: "pwd".into(),
        checked_password_hash: checked,
    };
    let live = || async { core.store.live_sessions(user_id, now_ms).await.unwrap().len() };
    // The sign-in's audit entry is written with the session or not at all.
    let record = |session: &NewSession| AuditRecord {
        id: session.id,
        user_id: Some(session.user_id),
        actor_id: None,
        event: "login",
        ip: Some("203.0.113.9".into()),
        user_agent: None,
        at_ms: now_ms,
        detail: Some(json!({"session_id": session.id.to_string()}).to_string()),
    };
    let audited = || async {
        let filter = AuditFilter {
            user_id: Some(user_id),
            event: Some("login".into()),
        };
        let (rows, _) = core.store.audit_page(&filter, 0, 100).await.unwrap();
        rows.iter().map(|r| r.id).collect::<Vec<i64>>()
    };
    let before = audited().await;

    let stale = session(Some("$argon2id$v=19$m=8,t=1,p=1$c3RhbGU$c3RhbGU".into()), user_id);
    let outcome = core.store.create_session(&stale, Some(&record(&stale))).await.unwrap();
    assert_eq!(outcome, SessionCreation::PasswordChanged);
    assert_eq!(live().await, 0, "a refused session leaves no row");
    assert_eq!(audited().await, before, "nor an audit entry");
    let gone = session(stored.clone(), user_id + 1);
    let outcome = core.store.create_session(&gone, None).await.unwrap();
    assert_eq!(
        outcome,
        SessionCreation::PasswordChanged,
        "an unknown user has no hash to match"
    );

    let current = session(stored.clone(), user_id);
    let outcome = core
        .store
        .create_session(&current, Some(&record(&current)))
        .await
        .unwrap();
    assert_eq!(outcome, SessionCreation::Created);
    assert_eq!(live().await, 1);
    assert!(
        audited().await.contains(&current.id),
        "the entry is stored with the session"
    );
    let audited_so_far = audited().await;
    let unaudited = session(stored.clone(), user_id);
    let outcome = core.store.create_session(&unaudited, None).await.unwrap();
    assert_eq!(outcome, SessionCreation::Created, "an audit entry is optional");
    assert_eq!(live().await, 2);
    assert_eq!(audited().await, audited_so_far, "and none is invented");

    // A disabled user gets no session even with the right hash; enabled again, they do.
    let account = hufu::domain::admin::user(core, user_id).await.unwrap();
    let disabled = hufu::domain::admin::set_enabled(core, &account, false).await.unwrap();
    let refused = session(stored.clone(), user_id);
    let outcome = core
        .store
        .create_session(&refused, Some(&record(&refused)))
        .await
        .unwrap();
    assert_eq!(outcome, SessionCreation::UserDisabled);
    assert_eq!(live().await, 0, "disabling revoked the sessions and stored no new one");
    assert!(!audited().await.contains(&refused.id));
    hufu::domain::admin::set_enabled(core, &disabled, true).await.unwrap();

    // After a change through the API the hash the login had checked no longer matches.
    let ivan = app.sign_in("ivan", "first password").await;
    ivan.put(
        PASSWORD,
        json!({"old_password": "first password", "new_password": "second password"}),
    )
    .await
    .expect_ok(200);
    let late = session(stored, user_id);
    let outcome = core.store.create_session(&late, None).await.unwrap();
    assert_eq!(outcome, SessionCreation::PasswordChanged);
    let live_ids: Vec<i64> = core
        .store
        .live_sessions(user_id, now_ms)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(!live_ids.contains(&late.id), "the late session was not stored");
}

async fn long_passwords_are_not_truncated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = "长".repeat(30); // 90 bytes of UTF-8, past bcrypt's 72-byte limit
    app.register("heidi", &format!("{base}A")).await;
    app.login("heidi", &format!("{base}A")).await;
    app.post(LOGIN, json!({"username": "heidi", "password": format!("{base}B")}))
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    let too_long = app.post(REGISTER, registration("ivan", &"p".repeat(129))).await;
    assert_eq!(
        too_long.expect_error(400, "VALIDATION_FAILED")["details"][0]["reason"],
        "too_long"
    );
}

async fn text_no_account_can_have_gets_a_clear_answer_on_every_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Identifiers some databases would reject in a query (non-ASCII against ASCII columns on
    // MySQL, NUL on PostgreSQL) are the same plain 401 as any unknown user.
    for identifier in [
        "jöhn",
        "a\u{0}b",
        "测试@例子.com",
        "x\u{0}@example.com",
        &"n".repeat(300),
    ] {
        let answer = app
            .post(LOGIN, json!({"username": identifier, "password": "password123"}))
            .await;
        answer.expect_error(401, "INVALID_CREDENTIALS");
    }
    let nul = app
        .post(REGISTER, json!({"username": "nul\u{0}user", "email": "n\u{0}@example.com", "password": "password123", "phone": "13900000077"}))
        .await;
    assert_eq!(
        nul.expect_error(400, "VALIDATION_FAILED")["details"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A username shaped like a phone number would shadow that phone at sign-in.
    let phone_name = app.post(REGISTER, registration("13800138000", "password123")).await;
    assert_eq!(
        phone_name.expect_error(400, "VALIDATION_FAILED")["details"][0]["field"],
        "username"
    );

    // The conflict names the right field even when the value contains another field's name.
    app.post(
        REGISTER,
        json!({"username": "carol", "email": "my_username_key@example.com",
        "password": "password123", "phone": "13900000078"}),
    )
    .await
    .expect_ok(201);
    let dave = app.login_as("dave").await;
    let clash = dave.put(PROFILE, json!({"email": "MY_USERNAME_KEY@example.com"})).await;
    assert_eq!(clash.expect_error(409, "EMAIL_TAKEN")["details"][0]["field"], "email");
    let clash = dave.put(PROFILE, json!({"phone": "+86 139 0000 0078"})).await;
    clash.expect_error(409, "PHONE_TAKEN");
}
