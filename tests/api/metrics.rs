//! `GET /metrics` and the request log: counters move by exactly what the requests did, routes
//! are labelled by template, and the log line has its fields and none of the secrets.

use crate::harness::paths::{LOGIN, PROFILE, REGISTER, WECHAT_MINIPROGRAM};
use crate::harness::{Backend, CacheMode, TestApp};
use crate::process;
use crate::{on_every_cache, on_every_store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// One scrape: `name{k="v",…}` (labels sorted) → value.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

/// Parses the Prometheus text format (the subset hufu writes: no timestamps).
fn parse(text: &str) -> Scrape {
    let mut samples = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels in {line:?}"));
                let mut labels = Vec::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert_eq!(chars.next(), Some('"'), "label value not quoted in {line:?}");
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => value.push(chars.next().expect("escape")),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                    labels.push(format!("{}=\"{value}\"", key.trim()));
                }
                labels.sort();
                format!("{name}{{{}}}", labels.join(","))
            }
        };
        samples.insert(key, value);
    }
    Scrape(samples)
}

impl Scrape {
    /// The value of `name` with exactly `labels` (0 when absent: a counter not yet moved).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        labels.sort();
        let key = if labels.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{}}}", labels.join(","))
        };
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    fn has(&self, prefix: &str) -> bool {
        self.0.keys().any(|k| k.starts_with(prefix))
    }

    fn any_key_contains(&self, text: &str) -> bool {
        self.0.keys().any(|k| k.contains(text))
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(app.url("/metrics")).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type:?}"
    );
    let text = response.text().await.expect("body");
    assert!(!text.trim_start().starts_with('{'), "no envelope: {text}");
    parse(&text)
}

/// The labels of a 200 to `GET` the profile (the route label is the template, spelt out).
const PROFILE_200: &[(&str, &str)] = &[("method", "GET"), ("route", "/api/v1/users/profile"), ("status", "200")];

on_every_store!(requests_and_logins_move_their_counters);

async fn requests_and_logins_move_their_counters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let metered = app.login_as("metered").await;
    let before = scrape(&app).await;
    assert_eq!(
        before.get("hufu_logins_total", &[("method", "password"), ("outcome", "success")]),
        1.0
    );

    // Requests by template and status, exactly.
    for _ in 0..5 {
        metered.get(PROFILE).await.expect_ok(200);
    }
    let wrong = app
        .post(LOGIN, json!({"username": "metered", "password": "not the password"}))
        .await;
    wrong.expect_error(401, "INVALID_CREDENTIALS");
    app.login("metered", "correct horse battery").await;
    metered.delete("/api/v1/users/sessions/123").await;
    app.get("/no/such/path/4711", None).await.expect_error(404, "NOT_FOUND");

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert_eq!(moved("hufu_http_requests_total", PROFILE_200), 5.0);
    let profile_latency = [("method", "GET"), ("route", "/api/v1/users/profile")];
    assert_eq!(moved("hufu_http_request_duration_seconds_count", &profile_latency), 5.0);
    assert!(after.get("hufu_http_request_duration_seconds_sum", &profile_latency) > 0.0);
    assert!(after.has("hufu_http_request_duration_seconds_bucket{le="), "{after:?}");
    let mut inf = profile_latency.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        after.get("hufu_http_request_duration_seconds_bucket", &inf),
        after.get("hufu_http_request_duration_seconds_count", &profile_latency)
    );

    let logins = |outcome| moved("hufu_logins_total", &[("method", "password"), ("outcome", outcome)]);
    assert_eq!(logins("invalid_credentials"), 1.0);
    assert_eq!(logins("success"), 1.0);

    // The session route is labelled by its template, never the raw path.
    assert!(
        after.any_key_contains(r#"route="/api/v1/users/sessions/{id}""#),
        "{after:?}"
    );
    assert!(!after.any_key_contains("/sessions/123"), "{after:?}");
    assert_eq!(
        moved(
            "hufu_http_requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert!(!after.any_key_contains("4711"), "{after:?}");

    // The profile was read six times in all (one miss fills, then hits from memory).
    assert!(moved("hufu_cache_requests_total", &[("level", "memory"), ("result", "hit")]) >= 4.0);

    // The hashing pool and the database pool.
    assert!(
        after.get("hufu_password_hash_duration_seconds_count", &[]) >= 4.0,
        "{after:?}"
    );
    assert!(after.has("hufu_password_hash_queue_depth"), "{after:?}");
    assert_eq!(after.get("hufu_password_hash_queue_depth", &[]), 0.0);
    assert!(after.has(r#"hufu_db_pool_connections{state="idle"}"#), "{after:?}");
    assert!(after.has(r#"hufu_db_pool_connections{state="in_use"}"#), "{after:?}");
    let open = after.get("hufu_db_pool_connections", &[("state", "idle")])
        + after.get("hufu_db_pool_connections", &[("state", "in_use")]);
    assert!(open >= 1.0, "{after:?}");
}

on_every_cache!(a_second_profile_read_is_a_cache_hit);

async fn a_second_profile_read_is_a_cache_hit(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |_| {}).await;
    if mode == CacheMode::Redis {
        app.wait_for_events().await;
    }
    let hitter = app.login_as("hitter").await;
    app.settle_feed().await;
    let labels = |level, result| [("level", level), ("result", result)];
    hitter.get(PROFILE).await.expect_ok(200);
    let first = scrape(&app).await;
    hitter.get(PROFILE).await.expect_ok(200);
    let second = scrape(&app).await;
    let moved = |level, result| {
        second.get("hufu_cache_requests_total", &labels(level, result))
            - first.get("hufu_cache_requests_total", &labels(level, result))
    };
    assert_eq!(moved("memory", "hit"), 1.0, "{second:?}");
    assert_eq!(moved("memory", "miss"), 0.0);
    if mode == CacheMode::Redis {
        // The first read looked in Redis too (and missed: nothing was there yet).
        assert!(
            first.get("hufu_cache_requests_total", &labels("redis", "miss")) >= 1.0,
            "{first:?}"
        );
    } else {
        assert!(!second.any_key_contains(r#"level="redis""#), "{second:?}");
    }
}

/// Reads the server's JSON log lines until one matches `wanted` (or 10 s pass).
fn wait_for_line(
    lines: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else { break };
        seen.push(line.clone());
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && wanted(&event)
        {
            return event;
        }
    }
    panic!("no such log line in:\n{}", seen.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_line_has_its_fields_and_no_secrets() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = process::hufu()
        .current_dir(dir.path())
        .env("HUFU_LISTEN", "127.0.0.1:0")
        .env("HUFU_ARGON2_MEMORY_KIB", "7168")
        .env("HUFU_ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hufu serve");
    let stderr = child.stderr.take().expect("stderr");
    let lines = process::follow_stderr(child.id(), stderr);
    let mut seen = Vec::new();
    let serving = wait_for_line(&lines, &mut seen, |e| e["message"] == "hufu is serving");
    let base = format!("http://{}", serving["listen"].as_str().expect("listen"));

    let client = reqwest::Client::new();
    let password = "a very secret passphrase 7";
    let register =
        json!({"username": "logged", "email": "logged@example.com", "password": password, "phone": "13800138123"});
    let answer = client
        .post(format!("{base}{REGISTER}"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let login: Value = client
        .post(format!("{base}{LOGIN}"))
        .json(&json!({"username": "logged", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["token"].as_str().expect("token").to_owned();
    let refresh = login["data"]["refresh_token"].as_str().expect("refresh").to_owned();
    let user_id = login["data"]["user"]["id"].as_i64().expect("id");
    let profile = client
        .get(format!("{base}{PROFILE}"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);

    // The requests were made one after another, so their lines come in that order.
    let login_line = wait_for_line(&lines, &mut seen, |e| {
        e["message"] == "request" && e["route"] == "/api/v1/auth/login"
    });
    assert_eq!(login_line["status"], 200);
    assert_eq!(login_line["method"], "POST");

    let line = wait_for_line(&lines, &mut seen, |e| {
        e["message"] == "request" && e["route"] == "/api/v1/users/profile"
    });
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert_eq!(line["client_ip"], "127.0.0.1");
    assert_eq!(line["span"]["request_id"], "trace-me-42", "{line}");
    assert_eq!(line["span"]["user_id"], user_id, "{line}");
    let _ = child.kill();
    let _ = child.wait();
    // Whatever else was logged meanwhile.
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
        seen.push(line);
    }
    let log = seen.join("\n");
    for secret in [password, token.as_str(), refresh.as_str()] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_calls_and_mini_program_logins_are_counted() {
    use crate::fake_wechat::{Api, FakeWechat};
    let fake = FakeWechat::start().await;
    let app = crate::wechat::wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let code = fake.login_code("oMetricsOpenid000000000001", None, "tiihtNczf5v6AKRyjwEUhQ==");
    app.post(WECHAT_MINIPROGRAM, json!({ "code": code }))
        .await
        .expect_ok(200);
    fake.fail_next(Api::JsCode2Session, 40029);
    let bad = app.post(WECHAT_MINIPROGRAM, json!({ "code": "whatever" })).await;
    bad.expect_error(400, "WECHAT_CODE_INVALID");
    let after = scrape(&app).await;
    let wechat = |outcome| {
        after.get(
            "hufu_wechat_requests_total",
            &[("api", "jscode2session"), ("outcome", outcome)],
        )
    };
    assert_eq!(wechat("success"), 1.0, "{after:?}");
    assert_eq!(wechat("errcode"), 1.0, "{after:?}");
    let logins = |outcome| after.get("hufu_logins_total", &[("method", "miniprogram"), ("outcome", outcome)]);
    assert_eq!(logins("success"), 1.0, "{after:?}");
    assert_eq!(logins("wechat_error"), 1.0, "{after:?}");
}
