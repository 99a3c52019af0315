//! The command line on every store: `hufu user …` reaches running nodes, `hufu keys rotate`
//! adds keys, and mistakes are one clear line.

use crate::harness::paths::{LOGIN, PROFILE};
use crate::harness::{Backend, fresh_database, read};
use crate::on_every_store;
use crate::process::{Server, run};
use serde_json::{Value, json};
use std::time::Duration;

on_every_store!(
    user_commands_manage_accounts_that_running_nodes_see,
    keys_rotate_adds_a_current_key
);

fn stdout_json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON user on stdout")
}

fn failure_line(output: &std::process::Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let last = stderr.trim().lines().last().unwrap_or_default().to_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    last
}

async fn user_commands_manage_accounts_that_running_nodes_see(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let envs = [("HUFU_DATABASE_URL", url.as_str()), ("HUFU_DATA_DIR", data.as_str())];
    let create = [
        "user",
        "create",
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password-stdin",
        "--role",
        "admin",
        "--role",
        "user",
    ];

    let created = stdout_json(&run(&envs, &create, Some("a long root password\n")));
    assert_eq!(created["username"], "root");
    assert_eq!(created["roles"], json!(["admin", "user"]));
    assert!(!serde_json::to_string(&created).unwrap().contains("password"));
    assert!(failure_line(&run(&envs, &create, Some("a long root password\n"))).starts_with("hufu: USERNAME_TAKEN"));
    let weak = [
        "user",
        "create",
        "--username",
        "weak",
        "--email",
        "weak@example.com",
        "--password-stdin",
    ];
    assert!(failure_line(&run(&envs, &weak, Some("short\n"))).contains("VALIDATION_FAILED"));
    let no_stdin_flag = run(
        &envs,
        &["user", "create", "--username", "x1", "--email", "x1@example.com"],
        None,
    );
    assert_eq!(
        no_stdin_flag.status.code(),
        Some(2),
        "the password is only ever read from stdin"
    );

    let server = Server::start(&envs);
    let client = reqwest::Client::new();
    let login = || async {
        read(
            client
                .post(server.url(LOGIN))
                .json(&json!({"username": "root", "password": "a long root password"}))
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let token = login().await.expect_ok(200)["token"].as_str().unwrap().to_owned();
    let claims = crate::harness::jwt_parts(&token).1;
    assert_eq!(claims["roles"], json!(["admin", "user"]));

    let granted = stdout_json(&run(
        &envs,
        &["user", "grant", "--username", "ROOT", "--role", "ops"],
        None,
    ));
    assert_eq!(granted["roles"], json!(["admin", "user", "ops"]));
    let revoked = stdout_json(&run(
        &envs,
        &["user", "revoke-role", "--username", "root", "--role", "admin"],
        None,
    ));
    assert_eq!(revoked["roles"], json!(["user", "ops"]));
    assert!(
        failure_line(&run(
            &envs,
            &["user", "grant", "--username", "nobody", "--role", "ops"],
            None
        ))
        .contains("NOT_FOUND")
    );
    assert!(
        failure_line(&run(
            &envs,
            &["user", "grant", "--username", "root", "--role", "Bad Role"],
            None
        ))
        .contains("VALIDATION_FAILED")
    );

    // Disabling on the command line cuts off the running node's sessions within a second.
    let disabled = stdout_json(&run(&envs, &["user", "disable", "--username", "root"], None));
    assert_eq!(disabled["status"], 0);
    let profile_url = server.url(PROFILE);
    crate::harness::assert_revoked_within(
        &client,
        &profile_url,
        &token,
        Duration::from_secs(1),
        "disabled on the command line",
    )
    .await;
    login().await.expect_error(403, "ACCOUNT_DISABLED");
    let wrong = read(
        client
            .post(server.url(LOGIN))
            .json(&json!({"username": "root", "password": "not the password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    wrong.expect_error(401, "INVALID_CREDENTIALS");
    assert_eq!(
        stdout_json(&run(&envs, &["user", "enable", "--username", "root"], None))["status"],
        1
    );
    login().await.expect_ok(200);

    // Every command-line change wrote one admin_update entry (no actor, source "cli"), in the
    // same transaction as the change; the refused grants wrote none.
    let store = hufu::store::SqlStore::connect(&url, crate::harness::pool(Duration::from_secs(5)), false)
        .await
        .unwrap();
    let filter = hufu::store::AuditFilter {
        user_id: created["id"].as_i64(),
        event: Some("admin_update".into()),
    };
    let (entries, total) = store.audit_page(&filter, 0, 100).await.unwrap();
    assert_eq!(total, 4, "grant, revoke-role, disable, enable");
    let details: Vec<Value> = entries
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e.actor_id, None);
            serde_json::from_str(e.detail.as_deref().unwrap()).unwrap()
        })
        .collect();
    assert!(details.iter().all(|d| d["source"] == "cli"), "{details:?}");
    assert_eq!(
        details[0]["roles"],
        json!({"from": ["admin", "user"], "to": ["admin", "user", "ops"]})
    );
    assert_eq!(
        details[1]["roles"],
        json!({"from": ["admin", "user", "ops"], "to": ["user", "ops"]})
    );
    assert_eq!(details[2]["status"], json!({"from": 1, "to": 0}));
    assert_eq!(details[3]["status"], json!({"from": 0, "to": 1}));
    store.close().await;
}

async fn keys_rotate_adds_a_current_key(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let envs = [
        ("HUFU_DATABASE_URL", url.as_str()),
        ("HUFU_DATA_DIR", data.as_str()),
        ("HUFU_JWT_ALG", "EdDSA"),
    ];
    let rotate = |envs: &[(&str, &str)]| {
        let output = run(envs, &["keys", "rotate"], None);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let first = rotate(&envs);
    let second = rotate(&envs);
    assert_eq!(first.len(), 43, "an RFC 7638 thumbprint: {first}");
    assert_ne!(first, second);
    let server = Server::start(&envs);
    let jwks = read(reqwest::get(server.url("/.well-known/jwks.json")).await.unwrap()).await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        vec![second.as_str(), first.as_str()],
        "newest first, both published"
    );
    // A node with another encryption key cannot open the keys and refuses to start.
    let mut foreign = envs.to_vec();
    foreign.push(("HUFU_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
    // Any free port: `serve` binds before it opens the keys, and 8080 may be taken.
    foreign.push(("HUFU_LISTEN", "127.0.0.1:0"));
    let refused = run(&foreign, &["serve"], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("HUFU_ENCRYPTION_KEY"));
}
