//! The harness's run log: what the suite's servers logged, in this process and as `hufu`
//! processes, is in `server_log()` for a later test to grep (issue 20 checks that no code or
//! secret reaches any line of it).

use crate::harness::paths::HEALTH;
use crate::harness::{Backend, TestApp, read, server_log};
use crate::process::Server;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The first line of the run's log containing `text`, waiting up to 10 s for it.
async fn logged_line(text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = server_log().lines().find(|line| line.contains(text)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "{text:?} never reached the run's log");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_servers_request_lines_are_in_the_run_log() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let id = format!("harness-log-in-process-{}", std::process::id());
    let answer = read(
        app.client
            .get(app.url(HEALTH))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.expect_ok(200);
    let line: Value = serde_json::from_str(&logged_line(&id).await).expect("a JSON line");
    assert_eq!(line["message"], "request", "{line}");
    assert_eq!(line["route"], HEALTH, "{line}");
    assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hufu_processs_stderr_is_in_the_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(Some(dir.path()), &[]);
    let id = format!("harness-log-process-{}", std::process::id());
    let health = reqwest::Client::new()
        .get(server.url(HEALTH))
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let line: Value = serde_json::from_str(&logged_line(&id).await).expect("a JSON line");
    assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
    let serving = logged_line(&format!("\"listen\":\"{}\"", server.addr)).await;
    assert!(serving.contains("hufu is serving"), "{serving}");
}
