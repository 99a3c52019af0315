//! Graceful shutdown and connection bounds of the real binary: SIGTERM mid-stream loses no
//! answered registration, refuses new connections, and exits 0 within the bound; a client
//! that never finishes its headers is dropped.

use crate::harness::paths::{LOGIN, REGISTER};
use crate::harness::registration;
use crate::process::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

fn envs<'a>(url: &'a str, data: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("HUFU_DATABASE_URL", url),
        ("HUFU_DATA_DIR", data),
        ("HUFU_SHUTDOWN_TIMEOUT", "5s"),
        ("HUFU_RATE_LIMIT_REGISTER", "100000"),
        ("HUFU_RATE_LIMIT_LOGIN", "100000"),
    ]
}

/// A POST whose body is sent in two parts, so the request is in flight for as long as the
/// test wants.
fn start_slow_registration(addr: &str, name: &str) -> (TcpStream, Vec<u8>) {
    let body = serde_json::to_vec(&registration(name, "a slow password")).unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    (stream, rest.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_requests_and_loses_no_answered_registration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hufu.db").display());
    let data = dir.path().to_str().unwrap().to_owned();
    let mut server = Server::start(&envs(&url, &data));
    let addr = server.addr.clone();

    // Several clients register as fast as they can until the server stops answering.
    let registered = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..4 {
        let registered = registered.clone();
        let endpoint = server.url(REGISTER);
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let mut failures = 0;
            for n in 0..2_000 {
                let name = format!("c{c}_{n}");
                match client
                    .post(&endpoint)
                    .json(&registration(&name, "password 123"))
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 201 => registered.lock().unwrap().push(name),
                    Ok(response) => panic!("unexpected {} for {name}", response.status()),
                    // The server closed the connection or refuses new ones: it is stopping.
                    Err(_) => {
                        failures += 1;
                        if failures >= 3 {
                            break;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (mut slow, rest) = start_slow_registration(&addr, "slowpoke");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !registered.lock().unwrap().is_empty(),
        "the clients registered someone before the signal"
    );

    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    // The listener closes at once: new connections are refused while the slow request is
    // still in flight (so the process is still running).
    let refused = loop {
        match TcpStream::connect(&addr) {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            Err(error) => panic!("unexpected connect error {error}"),
            Ok(_) if signalled.elapsed() > Duration::from_secs(2) => break false,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    assert!(refused, "new connections are refused after SIGTERM");
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "still draining the slow request"
    );

    // The in-flight request finishes and is answered.
    slow.write_all(&rest).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");

    for client in clients {
        client.await.unwrap();
    }
    let status = server
        .wait_exit(SHUTDOWN_TIMEOUT + Duration::from_secs(5))
        .expect("hufu exited after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        signalled.elapsed() < SHUTDOWN_TIMEOUT + Duration::from_secs(2),
        "exited within the shutdown bound ({:?})",
        signalled.elapsed()
    );
    drop(server);

    // Every registration answered 201 is in the database after a restart.
    let registered = registered.lock().unwrap().clone();
    let restarted = Server::start(&envs(&url, &data));
    let store = hufu::store::SqlStore::connect(&url, crate::harness::pool(Duration::from_secs(5)), false)
        .await
        .unwrap();
    for name in registered.iter().chain(std::iter::once(&"slowpoke".to_owned())) {
        assert!(
            store.user_by_username_key(name).await.unwrap().is_some(),
            "{name} was answered 201 but is missing"
        );
    }
    store.close().await;
    let login = reqwest::Client::new()
        .post(restarted.url(LOGIN))
        .json(&serde_json::json!({"username": "slowpoke", "password": "a slow password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    eprintln!("{} registrations answered 201 before the shutdown", registered.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hufu.db").display());
    let data = dir.path().to_str().unwrap().to_owned();
    let mut settings = envs(&url, &data);
    settings.push(("HUFU_HEADER_READ_TIMEOUT", "1s"));
    let server = Server::start(&settings);

    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    // EOF (or a reset) ends the read: the server closed the connection.
    let _ = stream.read_to_end(&mut buffer);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );

    // An idle keep-alive connection is bounded the same way.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let _ = idle.read_to_end(&mut Vec::new());
    assert!(started.elapsed() < Duration::from_secs(5));

    // Too many headers: an answer and a closed connection, not a hang.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // Headers too large altogether: likewise.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let _ = stream.write_all(big.as_bytes());
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // And the server still serves.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_does_not_hold_up_the_exit_past_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hufu.db").display());
    let data = dir.path().to_str().unwrap().to_owned();
    let mut settings = envs(&url, &data);
    settings.retain(|(name, _)| *name != "HUFU_SHUTDOWN_TIMEOUT");
    settings.push(("HUFU_SHUTDOWN_TIMEOUT", "1s"));
    let mut server = Server::start(&settings);
    // Half a body, and never the rest.
    let (_stuck, _rest) = start_slow_registration(&server.addr, "stuck");
    std::thread::sleep(Duration::from_millis(200));

    server.signal(libc::SIGINT);
    let signalled = Instant::now();
    let status = server.wait_exit(Duration::from_secs(10)).expect("hufu exited");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "waited for the in-flight request up to the bound, then dropped it ({took:?})"
    );
}
