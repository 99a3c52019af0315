//! Redis going away must not take hufu down: profile reads and logins keep answering (from the
//! database, with per-node limits), nothing hangs, `/readyz` names Redis, and everything comes
//! back by itself when Redis returns. The test runs its own Redis on a spare port.

use crate::harness::paths::{LOGIN, PROFILE, READY};
use crate::harness::{CacheMode, TestApp};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `redis-server` on `port`; `None` when it is not installed (and CI does not require it).
fn start_redis(port: u16) -> Option<Child> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(_) => {
            assert!(
                std::env::var("HUFU_TEST_REQUIRE_ALL_STORES").is_err(),
                "redis-server is required in CI"
            );
            return None;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child)
}

struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_redis_degrades_to_the_database_and_recovers_by_itself() {
    // Only meaningful with Redis tests enabled; the Redis here is the test's own.
    if crate::harness::redis_url().is_none() {
        return;
    }
    let port = spare_port();
    let Some(first) = start_redis(port) else { return };
    let mut redis = Stopped(first);
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_cached(CacheMode::Memory, |s| {
        s.redis.url = Some(url.clone());
    })
    .await;
    app.wait_for_events().await;
    let app = Arc::new(app);
    let steady = app.login_as("steady").await;
    steady.get(PROFILE).await.expect_ok(200);

    // Traffic throughout: profile reads and logins. None may fail with a 5xx or hang.
    let running = Arc::new(AtomicBool::new(true));
    let traffic = {
        let (app, steady, running) = (app.clone(), steady.clone(), running.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            let started = Instant::now();
            while running.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                let at = Instant::now();
                let profile = steady.get(PROFILE).await;
                assert_eq!(profile.status, 200, "profile read during the outage: {}", profile.text);
                let login = app
                    .post(
                        LOGIN,
                        json!({"username": "steady", "password": "correct horse battery"}),
                    )
                    .await;
                assert_eq!(login.status, 200, "login during the outage: {}", login.text);
                assert!(
                    at.elapsed() < Duration::from_secs(2),
                    "a request hung for {:?}",
                    at.elapsed()
                );
                answered += 1;
            }
            answered
        })
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(redis);
    wait_until("readyz naming redis", async || {
        let ready = app.get(READY, None).await;
        ready.status == 503
            && ready.body["details"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x["field"] == "redis"))
    })
    .await;
    // Writes during the outage still land and are read back (the stale Redis copy cannot be
    // deleted now; it is deleted before Redis is trusted again).
    steady
        .put(PROFILE, json!({"nickname": "during outage"}))
        .await
        .expect_ok(200);
    assert_eq!(steady.get(PROFILE).await.expect_ok(200)["nickname"], "during outage");
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis = Stopped(start_redis(port).expect("redis-server restarts"));
    wait_until("readyz after Redis returns", async || {
        app.get(READY, None).await.status == 200
    })
    .await;
    app.wait_for_events().await;
    running.store(false, Ordering::Relaxed);
    assert!(traffic.await.unwrap() > 0);

    // Back to normal: no stale copy survived the outage, and reads are served from Redis again
    // once the deletes that failed during the outage have been replayed.
    assert_eq!(steady.get(PROFILE).await.expect_ok(200)["nickname"], "during outage");
    wait_until("reads served from Redis again", async || {
        let (_, l2_before, _) = app.cache_counts();
        app.state.core.cache.set_subscribed(true); // empty the first level
        let nickname = steady.get(PROFILE).await.expect_ok(200)["nickname"].clone();
        assert_eq!(nickname, "during outage");
        app.cache_counts().1 > l2_before
    })
    .await;
    drop(redis);
}

/// Contract section 9: hufu starts even when Redis is unreachable; `/readyz` names `redis` and
/// the service works from the database meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hufu_starts_and_serves_while_redis_is_unreachable() {
    // A port held by this test and never answered: no other test can start a Redis there.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let app = TestApp::spawn_cached(CacheMode::Memory, |s| s.redis.url = Some(url)).await;
    let ready = app.get(READY, None).await;
    let body = ready.expect_error(503, "SERVICE_UNAVAILABLE");
    assert!(
        body["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "redis"),
        "{}",
        ready.text
    );
    let noredis = app.login_as("noredis").await;
    noredis
        .put(PROFILE, json!({"nickname": "still here"}))
        .await
        .expect_ok(200);
    assert_eq!(noredis.get(PROFILE).await.expect_ok(200)["nickname"], "still here");
    drop(silent);
}
