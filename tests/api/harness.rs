//! Test harness: starts the real hufu router on a random port over a fresh database of the
//! chosen backend, and talks HTTP to it.
//!
//! SQLite always runs (a temporary file per test). MySQL/MariaDB and PostgreSQL run when
//! `HUFU_TEST_MYSQL_URL` / `HUFU_TEST_POSTGRES_URL` name a server (e.g.
//! `mysql://root@127.0.0.1:3306`, `postgres://postgres@127.0.0.1:5432/postgres`); each test
//! gets its own database (MySQL) or schema (PostgreSQL). Without a URL the test passes and
//! says on stderr which store it skipped; with `HUFU_TEST_REQUIRE_ALL_STORES=1` (CI) a missing
//! URL fails instead.

#![allow(dead_code)]

use hufu::app;
use hufu::clock::ManualClock;
use hufu::config::{DatabaseSettings, PasswordSettings, ServerSettings, Settings, TokenSettings};
use hufu::domain::limits::LimitSettings;
use hufu::domain::password::Argon2Params;
use hufu::http::AppState;
use hufu::store::SqlStore;
use hufu::store::sql::PoolSettings;
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OnceCell, oneshot};

/// A store backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

impl Backend {
    fn env_name(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::MySql => Some("HUFU_TEST_MYSQL_URL"),
            Backend::Postgres => Some("HUFU_TEST_POSTGRES_URL"),
        }
    }
}

/// Generates one `#[tokio::test]` per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::$name($crate::harness::Backend::Sqlite).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() { super::$name($crate::harness::Backend::MySql).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { super::$name($crate::harness::Backend::Postgres).await }
            }
        )*
    };
}

static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();

fn server_url(backend: Backend) -> Option<String> {
    let name = backend.env_name()?;
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url),
        None => {
            assert!(
                std::env::var("HUFU_TEST_REQUIRE_ALL_STORES").is_err(),
                "{name} is not set but HUFU_TEST_REQUIRE_ALL_STORES is: CI must test every store"
            );
            // Written straight to stderr: libtest captures print macros, not the raw stream,
            // and a skipped store must be visible in a normal `cargo test` run.
            SKIP_NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "hufu tests: MySQL/MariaDB and/or PostgreSQL skipped where their URL is unset \
                     (HUFU_TEST_MYSQL_URL={:?}, HUFU_TEST_POSTGRES_URL={:?}); SQLite always runs",
                    std::env::var("HUFU_TEST_MYSQL_URL").ok(),
                    std::env::var("HUFU_TEST_POSTGRES_URL").ok()
                );
            });
            None
        }
    }
}

/// The Redis server tests may use (`HUFU_TEST_REDIS_URL`); `None` skips Redis tests, which
/// `HUFU_TEST_REQUIRE_ALL_STORES` forbids.
pub fn redis_url() -> Option<String> {
    match std::env::var("HUFU_TEST_REDIS_URL").ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url),
        None => {
            assert!(
                std::env::var("HUFU_TEST_REQUIRE_ALL_STORES").is_err(),
                "HUFU_TEST_REDIS_URL is not set but HUFU_TEST_REQUIRE_ALL_STORES is: CI must test Redis"
            );
            REDIS_SKIP_NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "hufu tests: Redis skipped (set HUFU_TEST_REDIS_URL=redis://127.0.0.1:6379)"
                );
            });
            None
        }
    }
}

static REDIS_SKIP_NOTICE: std::sync::Once = std::sync::Once::new();

/// Where shared state lives in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// In process (no Redis).
    Memory,
    /// The test Redis, under a key prefix of the test's own.
    Redis,
}

/// Generates one `#[tokio::test]` per cache mode from an `async fn(CacheMode)`.
#[macro_export]
macro_rules! on_every_cache {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() { super::$name($crate::harness::CacheMode::Memory).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() { super::$name($crate::harness::CacheMode::Redis).await }
            }
        )*
    };
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("{}:", unique_name())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static STALE_CLEANED: OnceCell<()> = OnceCell::const_new();

fn unique_name() -> String {
    format!(
        "hufu_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops databases/schemas left by earlier test processes that are no longer running.
async fn drop_stale(backend: Backend, admin_url: &str) {
    use sqlx::Connection;
    let alive = |name: &str| {
        name.split('_')
            .nth(2)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists())
    };
    match backend {
        Backend::MySql => {
            let Ok(mut conn) = sqlx::MySqlConnection::connect(admin_url).await else {
                return;
            };
            let names: Vec<(String,)> = sqlx::query_as(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'hufu\\_t\\_%'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            for (name,) in names.into_iter().filter(|(n,)| !alive(n)) {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                    .execute(&mut conn)
                    .await;
            }
        }
        Backend::Postgres => {
            let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await else {
                return;
            };
            let names: Vec<(String,)> =
                sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'hufu\\_t\\_%'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
            for (name,) in names.into_iter().filter(|(n,)| !alive(n)) {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")))
                    .execute(&mut conn)
                    .await;
            }
        }
        Backend::Sqlite => {}
    }
}

/// A fresh, empty database of `backend`; `None` when the backend is not configured.
/// The `TempDir` keeps a SQLite file alive.
pub async fn fresh_database(backend: Backend) -> Option<(String, tempfile::TempDir)> {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("temporary directory");
    let name = unique_name();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("hufu.db").display()),
        Backend::MySql => {
            let base = server_url(backend)?;
            STALE_CLEANED.get_or_init(|| drop_stale(backend, &base)).await;
            let mut conn = sqlx::MySqlConnection::connect(&base)
                .await
                .expect("MySQL/MariaDB reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
            )))
            .execute(&mut conn)
            .await
            .expect("create test database");
            let mut url = url::Url::parse(&base).expect("HUFU_TEST_MYSQL_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        Backend::Postgres => {
            let base = server_url(backend)?;
            STALE_CLEANED.get_or_init(|| drop_stale(backend, &base)).await;
            let mut conn = sqlx::PgConnection::connect(&base).await.expect("PostgreSQL reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create test schema");
            let mut url = url::Url::parse(&base).expect("HUFU_TEST_POSTGRES_URL is a URL");
            url.query_pairs_mut()
                .append_pair("options", &format!("-c search_path={name}"));
            url.to_string()
        }
    };
    Some((url, dir))
}

/// Test settings: cheap argon2 (named so nobody ships them), a fixed secret, port 0.
pub fn test_settings(database_url: &str, data_dir: &std::path::Path) -> Settings {
    let defaults = Settings::default();
    Settings {
        server: ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_owned(),
            ..defaults.server
        },
        database: DatabaseSettings {
            url: database_url.to_owned(),
            pool: PoolSettings {
                max_connections: 8,
                ..defaults.database.pool
            },
        },
        tokens: TokenSettings {
            jwt_secret: Some(hufu::secret::SecretString::new(
                "test-secret-test-secret-test-secret-0123",
            )),
            ..defaults.tokens
        },
        passwords: PasswordSettings {
            argon2: Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY,
            ..defaults.passwords
        },
        // Tests hammer the endpoints from one IP; the limit tests set their own numbers.
        limits: LimitSettings {
            login_per_minute: 1_000_000,
            register_per_minute: 1_000_000,
            refresh_per_minute: 1_000_000,
            wechat_per_minute: 1_000_000,
            ..defaults.limits
        },
        ..defaults
    }
}

/// A running hufu on a random port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub state: AppState,
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope's status and code, and returns the body.
    #[track_caller]
    pub fn expect_error(&self, status: u16, error_code: &str) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.body["code"], status,
            "code must equal the HTTP status: {}",
            self.text
        );
        assert_eq!(self.body["error_code"], error_code, "body: {}", self.text);
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "error text: {}",
            self.text
        );
        assert_eq!(
            self.body["request_id"].as_str(),
            self.header("x-request-id"),
            "request_id echoes the header"
        );
        &self.body
    }

    /// Asserts a success envelope and returns `data`.
    #[track_caller]
    pub fn expect_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["code"], status, "body: {}", self.text);
        assert!(self.body.get("error").is_none(), "body: {}", self.text);
        &self.body["data"]
    }
}

impl TestApp {
    /// Starts hufu on `backend` with test settings; `None` when the backend is skipped.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`spawn`], with settings adjusted by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let (url, dir) = fresh_database(backend).await?;
        let mut settings = test_settings(&url, dir.path());
        adjust(&mut settings);
        let store = app::open_store(&settings)
            .await
            .expect("open and migrate the test database");
        Some(Self::start(backend, settings, store, dir).await)
    }

    /// Starts hufu on SQLite with shared state in `mode`; `None` when Redis is skipped.
    pub async fn spawn_cached(mode: CacheMode, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let redis = match mode {
            CacheMode::Memory => None,
            CacheMode::Redis => Some(redis_url()?),
        };
        let app = Self::spawn_with(Backend::Sqlite, |s| {
            s.redis.url = redis;
            s.redis.prefix = unique_prefix();
            adjust(s);
        })
        .await?;
        if mode == CacheMode::Redis {
            app.wait_for_events().await;
        }
        Some(app)
    }

    /// Waits until the node's event subscription is live (Redis mode).
    pub async fn wait_for_events(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.state.core.cache.is_subscribed() {
            assert!(std::time::Instant::now() < deadline, "no event subscription after 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// (first-level hits, Redis hits, misses) of the profile cache so far.
    pub fn cache_counts(&self) -> (u64, u64, u64) {
        let stats = &self.state.core.cache.stats;
        (
            stats.l1_hits.load(Ordering::Relaxed),
            stats.l2_hits.load(Ordering::Relaxed),
            stats.misses.load(Ordering::Relaxed),
        )
    }

    /// Starts hufu over an already-built store (e.g. one pointing at a dead server).
    pub async fn start(backend: Backend, mut settings: Settings, store: SqlStore, dir: tempfile::TempDir) -> TestApp {
        let clock = ManualClock::starting_now();
        let listener = tokio::net::TcpListener::bind(settings.server.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        settings.server.listen = addr;
        let state = app::build_state(&settings, store, Arc::new(clock.clone()))
            .await
            .expect("build state");
        let (tx, rx) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let serve_settings = settings.clone();
        tokio::spawn(async move {
            let _ = app::serve(listener, serve_state, &serve_settings, async {
                let _ = rx.await;
            })
            .await;
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            addr,
            backend,
            client,
            clock,
            state,
            settings,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; `token` adds a bearer header, `body` a JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method.parse().expect("method"), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call("GET", path, token, None).await
    }

    /// Registers `name` with a derived email and phone; returns the user object.
    pub async fn register(&self, name: &str, password: &str) -> Value {
        let answer = self.post("/api/v1/auth/register", registration(name, password)).await;
        answer.expect_ok(201).clone()
    }

    /// Signs in; returns the login response data.
    pub async fn login(&self, identifier: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/auth/login",
                serde_json::json!({"username": identifier, "password": password}),
            )
            .await;
        answer.expect_ok(200).clone()
    }

    /// Registers and signs in; returns the access token.
    pub async fn user_with_token(&self, name: &str) -> String {
        self.register(name, "correct horse battery").await;
        let data = self.login(name, "correct horse battery").await;
        data["token"].as_str().expect("token").to_owned()
    }
}

static PHONE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A registration body with a unique phone.
pub fn registration(name: &str, password: &str) -> Value {
    let n = PHONE_COUNTER.fetch_add(1, Ordering::Relaxed) % 100_000_000;
    serde_json::json!({
        "username": name,
        "email": format!("{name}@example.com"),
        "password": password,
        "phone": format!("139{n:08}"),
    })
}

/// Reads a response into an [`Answer`].
pub async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Decodes a JWT's header and payload without checking anything (for asserting claims).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.expect("jwt part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    (decode(parts.next()), decode(parts.next()))
}

/// Pool settings for hand-built stores in tests.
pub fn pool(timeout: Duration) -> PoolSettings {
    PoolSettings {
        max_connections: 4,
        timeout,
    }
}

/// Polls `url` with `token` until it answers 401 `TOKEN_REVOKED`, failing after `within`; every
/// earlier answer must be a 200 (the token was good until the revocation arrived).
pub async fn assert_revoked_within(client: &reqwest::Client, url: &str, token: &str, within: Duration, what: &str) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let answer = read(client.get(url).bearer_auth(token).send().await.expect("request sent")).await;
        if answer.status == 401 {
            answer.expect_error(401, "TOKEN_REVOKED");
            return;
        }
        answer.expect_ok(200);
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still accepted after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signs arbitrary header and claims with HS256 and `secret` (to forge tokens in tests).
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature =
        jsonwebtoken::crypto::sign(format!("{h}.{c}").as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("sign");
    format!("{h}.{c}.{signature}")
}
