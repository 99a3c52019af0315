//! A database that is down or hung gives a fast 503, never a hang; the binary refuses bad
//! settings with one line and keeps its generated secret across restarts.

use crate::harness::paths::{HEALTH, LOGIN, PROFILE, READY, REGISTER};
use crate::harness::{Backend, TestApp, pool, read, registration, test_settings};
use hufu::store::SqlStore;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// A TCP server that accepts connections and never says a word: a hung database.
async fn black_hole() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_millis(10), socket.read(&mut buffer)).await;
            held.push(socket);
        }
    });
    addr
}

async fn app_over(url: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(url, dir.path());
    settings.database.pool.timeout = Duration::from_millis(500);
    let store = SqlStore::connect(url, pool(settings.database.pool.timeout), true)
        .await
        .unwrap();
    TestApp::start(Backend::Sqlite, settings, store, dir).await
}

#[tokio::test]
async fn a_hung_database_gives_a_fast_503() {
    let addr = black_hole().await;
    for url in [
        format!("mysql://root@{addr}/hufu"),
        format!("postgres://postgres@{addr}/hufu"),
    ] {
        let app = app_over(&url).await;
        let started = Instant::now();
        let answer = app.post(REGISTER, registration("someone", "password123")).await;
        answer.expect_error(503, "SERVICE_UNAVAILABLE");
        assert_eq!(answer.header("retry-after"), Some("1"));
        let login = app
            .post(
                LOGIN,
                serde_json::json!({"username": "someone", "password": "password123"}),
            )
            .await;
        login.expect_error(503, "SERVICE_UNAVAILABLE");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "503 must come fast, took {:?}",
            started.elapsed()
        );
        let ready = app.get(READY, None).await;
        let body = ready.expect_error(503, "SERVICE_UNAVAILABLE");
        assert_eq!(body["details"][0]["field"], "database");
        app.get(HEALTH, None).await.expect_ok(200);
    }
}

#[tokio::test]
async fn a_refused_database_connection_gives_503() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let app = app_over(&format!("postgres://postgres@{closed}/hufu")).await;
    let answer = app
        .post(LOGIN, serde_json::json!({"username": "x", "password": "password123"}))
        .await;
    answer.expect_error(503, "SERVICE_UNAVAILABLE");
    assert!(
        !answer.text.contains(&closed.to_string()),
        "internal addresses are not returned"
    );
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line() {
    for (name, value) in [
        ("HUFU_ACCESS_TTL", "soon"),
        ("HUFU_JWT_SECRET", "too-short"),
        ("HUFU_DATABASE_URL", "oracle://db"),
        ("HUFU_PASSWORD_MIN_LENGTH", "4"),
    ] {
        let output = crate::process::hufu().arg("migrate").env(name, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(name), "names the setting: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hufu.toml");
    std::fs::write(&file, "acces_ttl = \"1m\"\n").unwrap();
    let output = crate::process::hufu()
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown key `acces_ttl`"));
}

#[tokio::test]
async fn the_binary_runs_on_the_embedded_default_and_keeps_its_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path());
    let addr = first.addr.clone();
    let client = reqwest::Client::new();
    let register = read(
        client
            .post(format!("http://{addr}{REGISTER}"))
            .json(&registration("bin", "password123"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    register.expect_ok(201);
    let login = read(
        client
            .post(format!("http://{addr}{LOGIN}"))
            .json(&serde_json::json!({"username": "bin", "password": "password123"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = login.expect_ok(200)["token"].as_str().unwrap().to_owned();
    drop(first);
    assert!(
        dir.path().join("data/hufu.db").exists(),
        "SQLite under ./data by default"
    );
    assert!(
        dir.path().join("data/jwt_secret").exists(),
        "generated secret kept under ./data"
    );

    let second = start_in(dir.path());
    let addr = second.addr.clone();
    let profile = read(
        client
            .get(format!("http://{addr}{PROFILE}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    drop(second);
    assert_eq!(profile.expect_ok(200)["username"], "bin", "a token survives a restart");
}

/// The SQLite file holds every password hash: another user of the machine must not read it
/// (nor its -wal, which holds the latest writes, nor its -shm). An operator who made `./data`
/// beforehand (0755, as mkdir does) used to get a 0644 database; the server runs here with
/// the usual umask 022 so that SQLite's own default would show.
#[cfg(unix)]
#[tokio::test]
async fn another_local_user_cannot_read_the_sqlite_files_in_a_data_dir_made_beforehand() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = crate::process::Server::start_in_with(Some(dir.path()), &[], |command| {
        // SAFETY: umask is async-signal-safe and touches only the child about to exec.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
    });
    let register = read(
        reqwest::Client::new()
            .post(server.url(REGISTER))
            .json(&registration("private", "password123"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    register.expect_ok(201);
    for name in ["hufu.db", "hufu.db-wal", "hufu.db-shm"] {
        let mode = std::fs::metadata(data.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is {:o}", mode & 0o777);
    }
    drop(server);

    // A database an older hufu left readable is named at start-up (and left as it is).
    let db = data.join("hufu.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = start_in(dir.path());
    let db = std::fs::canonicalize(&db).unwrap();
    let warned = crate::harness::server_log()
        .lines()
        .any(|line| line.contains("readable by other users") && line.contains(&*db.to_string_lossy()));
    assert!(warned, "no warning about {}", db.display());
    drop(server);
}

/// Starts `hufu serve` with nothing configured but the port, working in `dir` (so the
/// embedded default's `./data` is inside it).
fn start_in(dir: &std::path::Path) -> crate::process::Server {
    crate::process::Server::start_in(Some(dir), &[])
}
