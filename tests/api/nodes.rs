//! Two `hufu` processes sharing one database behave as one service: a token from one is good
//! on the other, and a logout on one is refused on the other within a second.

use crate::harness::paths::{LOGIN, LOGOUT, PROFILE, REGISTER};
use crate::harness::{Backend, fresh_database, read, registration};
use crate::process::Server;
use crate::{on_every_store, on_redis};
use std::time::Duration;

on_every_store!(a_logout_on_one_node_is_refused_on_the_other_within_a_second);

on_redis!(two_nodes_share_profile_changes_limits_and_lockouts_through_redis);

async fn a_logout_on_one_node_is_refused_on_the_other_within_a_second(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let redis = std::env::var("HUFU_TEST_REDIS_URL").unwrap_or_default();
    // A prefix of this test's own: the per-IP limits count in Redis, and every test (and every
    // test run on the machine) comes from 127.0.0.1.
    let prefix = crate::harness::unique_prefix();
    for algorithm in ["HS256", "EdDSA"] {
        let envs = [
            ("HUFU_DATABASE_URL", url.as_str()),
            ("HUFU_DATA_DIR", data.as_str()),
            ("HUFU_JWT_ALG", algorithm),
            ("HUFU_JWT_SECRET", "two-nodes-share-this-secret-0123456789"),
            ("HUFU_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            ("HUFU_REDIS_URL", redis.as_str()),
            ("HUFU_REDIS_PREFIX", prefix.as_str()),
        ];
        let a = Server::start(&envs);
        let b = Server::start(&envs);
        let client = reqwest::Client::new();
        let name = format!("node{}", algorithm.to_lowercase());
        let registered = read(
            client
                .post(a.url(REGISTER))
                .json(&registration(&name, "password123"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        registered.expect_ok(201);
        let login = read(
            client
                .post(b.url(LOGIN))
                .json(&serde_json::json!({"username": name, "password": "password123"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let token = login.expect_ok(200)["token"].as_str().unwrap().to_owned();
        for node in [&a, &b] {
            let profile = read(client.get(node.url(PROFILE)).bearer_auth(&token).send().await.unwrap()).await;
            assert_eq!(
                profile.expect_ok(200)["username"],
                name.as_str(),
                "{algorithm}: a token from B is good on A"
            );
        }

        let logout = read(client.post(a.url(LOGOUT)).bearer_auth(&token).send().await.unwrap()).await;
        logout.expect_ok(200);
        let profile_url = b.url(PROFILE);
        let what = format!("{algorithm}: B after a logout on A");
        crate::harness::assert_revoked_within(&client, &profile_url, &token, Duration::from_secs(1), &what).await;
    }
}

/// Two nodes sharing one database and one Redis: a profile change on A is what B serves next,
/// a lockout made on A holds on B, and the per-IP limit counts both nodes' requests.
async fn two_nodes_share_profile_changes_limits_and_lockouts_through_redis(redis: String) {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let data = dir.path().to_str().unwrap().to_owned();
    let prefix = crate::harness::unique_prefix();
    let envs = [
        ("HUFU_DATABASE_URL", url.as_str()),
        ("HUFU_DATA_DIR", data.as_str()),
        ("HUFU_JWT_SECRET", "two-nodes-share-this-secret-0123456789"),
        ("HUFU_REDIS_URL", redis.as_str()),
        ("HUFU_REDIS_PREFIX", prefix.as_str()),
        ("HUFU_RATE_LIMIT_LOGIN", "4"),
        ("HUFU_LOCKOUT_THRESHOLD", "2"),
    ];
    let a = Server::start(&envs);
    let b = Server::start(&envs);
    let client = reqwest::Client::new();
    read(
        client
            .post(a.url(REGISTER))
            .json(&registration("shared", "password123"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect_ok(201);
    let login = |node: &Server, password: &str| {
        let request = client
            .post(node.url(LOGIN))
            .json(&serde_json::json!({"username": "shared", "password": password}));
        async move { read(request.send().await.unwrap()).await }
    };
    let token = login(&a, "password123").await.expect_ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile_on = |node: &Server| {
        let request = client.get(node.url(PROFILE)).bearer_auth(&token);
        async move { read(request.send().await.unwrap()).await.expect_ok(200).clone() }
    };
    // Warm B's caches, then change the profile on A: B's very next read has the change.
    for round in 0..5 {
        profile_on(&b).await;
        profile_on(&b).await;
        let nickname = format!("nick {round}");
        let update = client
            .put(a.url(PROFILE))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "nickname": nickname }));
        read(update.send().await.unwrap()).await.expect_ok(200);
        assert_eq!(
            profile_on(&b).await["nickname"],
            nickname.as_str(),
            "round {round}: B served a stale profile"
        );
    }

    // Two failures on A lock the identifier; B refuses even the right password. That is the
    // fourth login from this IP across both nodes; the fifth, on either node, is over the limit.
    login(&a, "wrong one").await.expect_error(401, "INVALID_CREDENTIALS");
    login(&a, "wrong two").await.expect_error(401, "INVALID_CREDENTIALS");
    login(&b, "password123").await.expect_error(423, "ACCOUNT_LOCKED");
    login(&a, "password123").await.expect_error(429, "RATE_LIMITED");
}
