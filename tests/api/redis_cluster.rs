//! Redis Cluster: the same cache, limits and lockout over a three-node cluster the test
//! builds itself, so every script's keys are proven to share a slot.

use crate::harness::paths::{LOGIN, PROFILE, READY, REGISTER};
use crate::harness::{CacheMode, TestApp};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that is free, with its cluster-bus port (+10000) free as well.
fn cluster_port() -> u16 {
    loop {
        let port = 20_000 + rand::random::<u16>() % 10_000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

struct Cluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

fn start_cluster() -> Option<Cluster> {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster {
        nodes: Vec::new(),
        ports: Vec::new(),
        _dir: tempfile::tempdir().unwrap(),
    };
    for _ in 0..3 {
        let port = cluster_port();
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
            ])
            .args([
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => cluster.nodes.push(child),
            Err(_) => {
                assert!(
                    std::env::var("HUFU_TEST_REQUIRE_ALL_STORES").is_err(),
                    "redis-server is required in CI"
                );
                return None;
            }
        }
        cluster.ports.push(port);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for port in &cluster.ports {
        while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
            assert!(Instant::now() < deadline, "cluster node did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let addresses: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stdout));
    while !Command::new("redis-cli")
        .args(["-p", &cluster.ports[0].to_string(), "cluster", "info"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        .unwrap_or(false)
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "cluster did not become ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster._dir = dir;
    Some(cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_limits_and_lockout_work_on_redis_cluster() {
    if crate::harness::redis_url().is_none() {
        return;
    }
    let Some(cluster) = tokio::task::spawn_blocking(start_cluster).await.unwrap() else {
        return;
    };
    let hosts: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let url = format!("redis+cluster://{}", hosts.join(","));
    let app = TestApp::spawn_cached(CacheMode::Memory, |s| {
        s.redis.url = Some(url);
        s.limits.lockout_threshold = 2;
        s.limits.register_per_minute = 3;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get(READY, None).await.status != 200 {
        assert!(Instant::now() < deadline, "readyz never saw the cluster");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let clustered = app.login_as("clustered").await;
    let (_, l2, misses) = app.cache_counts();
    let first = clustered.get(PROFILE).await.expect_ok(200).clone();
    let second = clustered.get(PROFILE).await.expect_ok(200).clone();
    assert_eq!(first, second);
    let (l1_now, l2_now, misses_now) = app.cache_counts();
    assert_eq!(
        (l2_now, misses_now),
        (l2 + 1, misses + 1),
        "filled once, then served from the cluster"
    );
    assert_eq!(l1_now, 0, "no first level without an event subscription");
    clustered.put(PROFILE, json!({"nickname": "slot"})).await.expect_ok(200);
    assert_eq!(clustered.get(PROFILE).await.expect_ok(200)["nickname"], "slot");

    for _ in 0..2 {
        app.post(LOGIN, json!({"username": "clustered", "password": "wrong"}))
            .await
            .expect_error(401, "INVALID_CREDENTIALS");
    }
    app.post(
        LOGIN,
        json!({"username": "clustered", "password": "correct horse battery"}),
    )
    .await
    .expect_error(423, "ACCOUNT_LOCKED");
    // One registration happened in login_as; two more fit, the fourth is refused.
    for _ in 0..2 {
        app.post(REGISTER, json!({}))
            .await
            .expect_error(400, "VALIDATION_FAILED");
    }
    app.post(REGISTER, json!({})).await.expect_error(429, "RATE_LIMITED");
    let redis = app.state.core.redis.clone().unwrap();
    assert_eq!(
        redis.stats.failures.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no call failed (no CROSSSLOT)"
    );
    drop(cluster);
}
