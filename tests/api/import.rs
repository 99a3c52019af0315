//! `hufu import FILE` on every store: good lines become users who sign in with their old
//! passwords (bcrypt upgraded to argon2id at the first success), bad lines are skipped with
//! a reason each.

use crate::harness::paths::LOGIN;
use crate::harness::{Backend, fresh_database, read};
use crate::on_every_store;
use crate::process::{Server, run};
use hufu::domain::password::Argon2Params;
use hufu::domain::password::PasswordHasher;
use hufu::secret::SecretString;
use serde_json::json;
use std::time::Duration;

on_every_store!(
    import_skips_bad_lines_and_imported_users_sign_in,
    the_stored_bcrypt_hashes_are_counted_by_cost
);

fn bcrypt_hash(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, 4)
        .unwrap()
        .format_for_version(version)
}

async fn import_skips_bad_lines_and_imported_users_sign_in(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let envs = [("HUFU_DATABASE_URL", url.as_str()), ("HUFU_DATA_DIR", data.as_str())];
    let created = run(
        &envs,
        &[
            "user",
            "create",
            "--username",
            "existing",
            "--email",
            "existing@example.com",
            "--password-stdin",
        ],
        Some("an existing password\n"),
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let argon2 = PasswordHasher::new(Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY, 1, 1)
        .unwrap()
        .hash(SecretString::new("carol's password"))
        .await
        .unwrap();
    let alice_hash = bcrypt_hash("alice's password", bcrypt::Version::TwoB);
    let lines = [
        json!({"username": "alice", "email": "alice@example.com", "phone": "13900000001", "password_hash": alice_hash}).to_string(),
        json!({"username": "bob", "email": "bob@example.com", "phone": "+4915112345678",
               "password_hash": bcrypt_hash("bob's password", bcrypt::Version::TwoY)}).to_string(),
        json!({"username": "carol", "email": "carol@example.com", "phone": "13900000003", "password_hash": argon2}).to_string(),
        "this is not json".to_owned(),
        json!({"username": "dave", "phone": "13900000004", "password_hash": alice_hash}).to_string(),
        json!({"username": "bad name", "email": "e@example.com", "phone": "13900000005", "password_hash": alice_hash}).to_string(),
        json!({"username": "frank", "email": "frank@example.com", "phone": "13900000006", "password_hash": "md5$abcdef$0123456789"}).to_string(),
        json!({"username": "ALICE", "email": "alice2@example.com", "phone": "13900000007", "password_hash": alice_hash}).to_string(),
        json!({"username": "existing", "email": "x@example.com", "phone": "13900000008", "password_hash": alice_hash}).to_string(),
        String::new(),
    ];
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();

    let output = run(&envs, &["import", file.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim().lines().last(), Some("imported 3, skipped 6"), "{stdout}");
    for expected in [
        "line 4: skipped: not JSON",
        "line 5: skipped: email is required",
        "line 6: skipped: username may contain only",
        "line 7: skipped: password_hash is not a bcrypt",
        "line 8: skipped: username duplicates line 1 of this file",
        "line 9: skipped: username is already taken in the database",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(expected)),
            "{expected:?} in\n{stdout}"
        );
    }
    assert!(
        !stdout.contains(&alice_hash) && !stdout.contains("md5$abcdef"),
        "no hash is ever printed:\n{stdout}"
    );

    let missing = run(&envs, &["import", "/nonexistent/users.jsonl"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open"));

    let store = hufu::store::SqlStore::connect(&url, crate::harness::pool(Duration::from_secs(5)), false)
        .await
        .unwrap();
    let stored = |name: &'static str| {
        let store = &store;
        async move {
            store
                .user_by_username_key(name)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name} imported"))
        }
    };
    let alice = stored("alice").await;
    assert_eq!(alice.password_hash.as_deref(), Some(alice_hash.as_str()));
    assert_eq!(stored("bob").await.user.phone.as_deref(), Some("+4915112345678"));
    let filter = hufu::store::AuditFilter {
        user_id: Some(alice.user.id),
        event: Some("register".into()),
    };
    let (entries, _) = store.audit_page(&filter, 0, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(entries[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["method"], "import");

    let server = Server::start(&envs);
    let client = reqwest::Client::new();
    let login = |username: &'static str, password: &'static str| {
        let request = client
            .post(server.url(LOGIN))
            .json(&json!({"username": username, "password": password}));
        async move { read(request.send().await.unwrap()).await }
    };
    login("alice", "alice's password!")
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    assert!(
        stored("alice").await.password_hash.unwrap().starts_with("$2b$"),
        "a wrong password upgrades nothing"
    );
    login("alice", "alice's password").await.expect_ok(200);
    let upgraded = stored("alice").await.password_hash.unwrap();
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    login("alice", "alice's password").await.expect_ok(200);
    login("alice", "alice's passworD")
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    assert_eq!(stored("alice").await.password_hash.unwrap(), upgraded);

    login("bob@example.com", "bob's password").await.expect_ok(200);
    login("bob", "not bob's password")
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    assert!(stored("bob").await.password_hash.unwrap().starts_with("$argon2id$"));
    login("carol", "carol's password").await.expect_ok(200);
    login("carol", "carol's passwords")
        .await
        .expect_error(401, "INVALID_CREDENTIALS");
    // Argon2 weaker than the configured cost (the server runs with m=7168) is upgraded too.
    let carol = stored("carol").await.password_hash.unwrap();
    assert!(carol.starts_with("$argon2id$v=19$m=7168,"), "{carol}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_enumeration_an_imported_bcrypt_user_fails_a_login_as_slowly_as_an_unknown_one() {
    use crate::harness::TestApp;
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.limits.lockout_threshold = 10_000).await;
    app.register("imported", "the imported password").await;
    app.register("native", "the native password").await;
    // What `hufu import` stores: a bcrypt hash (cost 8: slow next to the tests' argon2).
    let stored = bcrypt::hash_with_result("the imported password", 8)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    let pool = sqlx::SqlitePool::connect(&app.settings.database.url).await.unwrap();
    sqlx::query("UPDATE users SET password_hash = ? WHERE username = 'imported'")
        .bind(&stored)
        .execute(&pool)
        .await
        .unwrap();
    // What a node does at start (and every ten minutes): count the stored bcrypt hashes.
    let core = &app.state.core;
    core.hasher
        .set_bcrypt_costs(core.store.bcrypt_hash_costs().await.unwrap());
    assert_eq!(core.hasher.slowest_bcrypt_cost(), Some(8));

    async fn failed_login(app: &TestApp, username: &str) -> Duration {
        let started = std::time::Instant::now();
        let answer = app
            .post(LOGIN, json!({"username": username, "password": "a wrong password"}))
            .await;
        answer.expect_error(401, "INVALID_CREDENTIALS");
        started.elapsed()
    }
    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }
    // Interleaved, so load on the machine hits all three alike; medians ignore outliers.
    let (mut imported, mut unknown, mut native) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..9 {
        imported.push(failed_login(&app, "imported").await);
        unknown.push(failed_login(&app, &format!("nobody{round}")).await);
        native.push(failed_login(&app, "native").await);
    }
    let (imported, unknown, native) = (median(imported), median(unknown), median(native));
    assert!(
        unknown * 2 >= imported && native * 2 >= imported,
        "imported {imported:?}, unknown {unknown:?}, native {native:?}"
    );

    // Once the user signs in, the hash becomes argon2id and the padding stops.
    app.post(
        LOGIN,
        json!({"username": "imported", "password": "the imported password"}),
    )
    .await
    .expect_ok(200);
    assert_eq!(core.hasher.slowest_bcrypt_cost(), None);
}

/// The count a node starts from (so failed logins are padded to the slowest bcrypt stored),
/// on every database's SQL.
async fn the_stored_bcrypt_hashes_are_counted_by_cost(backend: Backend) {
    let app = crate::harness::TestApp::spawn(backend).await;
    let core = &app.state.core;
    assert_eq!(core.store.bcrypt_hash_costs().await.unwrap(), vec![]);
    for (name, cost, version) in [
        ("bcrypt_a", 5, bcrypt::Version::TwoA),
        ("bcrypt_b", 5, bcrypt::Version::TwoB),
        ("bcrypt_c", 6, bcrypt::Version::TwoY),
        ("argon_d", 0, bcrypt::Version::TwoB),
    ] {
        app.register(name, "a long enough password").await;
        let account = core.store.user_by_username_key(name).await.unwrap().unwrap();
        if cost > 0 {
            let hash = bcrypt::hash_with_result("x", cost).unwrap().format_for_version(version);
            let old = account.password_hash.unwrap();
            assert!(
                core.store
                    .upgrade_password_hash(account.user.id, &old, &hash)
                    .await
                    .unwrap()
            );
        }
    }
    let mut counts = core.store.bcrypt_hash_costs().await.unwrap();
    counts.sort();
    // $2a$05$ and $2b$05$ are two groups of one; the hasher only needs the costs.
    assert_eq!(counts, vec![(5, 1), (5, 1), (6, 1)]);
    core.hasher.set_bcrypt_costs(counts);
    assert_eq!(core.hasher.slowest_bcrypt_cost(), Some(6));
}
