//! Which stores and caches a test runs on, and a fresh database of each.
//!
//! SQLite always runs (a temporary file per test). MySQL/MariaDB and PostgreSQL run when
//! `HUFU_TEST_MYSQL_URL` / `HUFU_TEST_POSTGRES_URL` name a server (e.g.
//! `mysql://root@127.0.0.1:3306`, `postgres://postgres@127.0.0.1:5432/postgres`); each test
//! gets its own database (MySQL) or schema (PostgreSQL). Redis runs when `HUFU_TEST_REDIS_URL`
//! names a server. Without a URL the test passes and says on stderr what it skipped; with
//! `HUFU_TEST_REQUIRE_ALL_STORES=1` (CI) a missing URL fails instead.
//!
//! The skipping happens once, in the test the macros generate: a test body is only ever
//! given a [`Backend`] or [`CacheMode`] that is configured, so it needs no `else { return }`.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::OnceCell;

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

    /// Whether this run tests the backend; says on stderr (once) which stores it skips.
    pub fn is_configured(self) -> bool {
        self.env_name().is_none() || server_url(self).is_some()
    }

    /// The server URL of a configured MySQL/PostgreSQL backend (the macros checked it is set).
    fn configured_url(self) -> String {
        server_url(self).unwrap_or_else(|| {
            panic!(
                "{self:?} is not configured: run this test through on_every_store!, which skips \
                 stores without a URL"
            )
        })
    }
}

/// Where shared state lives in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// In process (no Redis).
    Memory,
    /// The test Redis, under a key prefix of the test's own.
    Redis,
}

impl CacheMode {
    /// Whether this run tests the mode (Redis needs `HUFU_TEST_REDIS_URL`).
    pub fn is_configured(self) -> bool {
        self == CacheMode::Memory || redis_url().is_some()
    }
}

/// Runs `test` on `backend` if this run tests that store (used by [`on_every_store!`]).
pub async fn on_store<F: Future<Output = ()>>(backend: Backend, test: impl FnOnce(Backend) -> F) {
    if backend.is_configured() {
        test(backend).await;
    }
}

/// Runs `test` in `mode` if this run tests it (used by [`on_every_cache!`]).
pub async fn on_cache<F: Future<Output = ()>>(mode: CacheMode, test: impl FnOnce(CacheMode) -> F) {
    if mode.is_configured() {
        test(mode).await;
    }
}

/// Runs `test` with the Redis URL if this run tests Redis (used by [`on_redis!`]).
pub async fn with_redis<F: Future<Output = ()>>(test: impl FnOnce(String) -> F) {
    if let Some(url) = redis_url() {
        test(url).await;
    }
}

/// Generates one `#[tokio::test]` per backend from an `async fn(Backend)`; a backend without
/// a URL passes at once (and says so on stderr), so the body only sees configured ones.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::harness::{Backend, on_store};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { on_store(Backend::Sqlite, super::$name).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() { on_store(Backend::MySql, super::$name).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { on_store(Backend::Postgres, super::$name).await }
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per cache mode from an `async fn(CacheMode)`; without
/// `HUFU_TEST_REDIS_URL` the Redis one passes at once.
#[macro_export]
macro_rules! on_every_cache {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::harness::{CacheMode, on_cache};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() { on_cache(CacheMode::Memory, super::$name).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() { on_cache(CacheMode::Redis, super::$name).await }
            }
        )*
    };
}

/// Generates one `#[tokio::test]` (`…::redis`) from an `async fn(String)` that needs Redis
/// tests enabled; it gets `HUFU_TEST_REDIS_URL`, and passes at once without it.
#[macro_export]
macro_rules! on_redis {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() { $crate::harness::with_redis(super::$name).await }
            }
        )*
    };
}

static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();
static REDIS_SKIP_NOTICE: std::sync::Once = std::sync::Once::new();

fn require_all() -> bool {
    std::env::var("HUFU_TEST_REQUIRE_ALL_STORES").is_ok()
}

fn server_url(backend: Backend) -> Option<String> {
    let name = backend.env_name()?;
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url),
        None => {
            assert!(
                !require_all(),
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
                !require_all(),
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

/// The Redis URL of a test the macros let run in [`CacheMode::Redis`].
pub(super) fn configured_redis_url() -> String {
    redis_url().expect("Redis is not configured: run this test through on_every_cache!, which skips it")
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

/// Whether the process `pid` is this one or still running.
pub(super) fn alive(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Drops databases/schemas left by earlier test processes that are no longer running.
async fn drop_stale(backend: Backend, admin_url: &str) {
    use sqlx::Connection;
    let alive = |name: &str| {
        name.split('_')
            .nth(2)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(alive)
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

/// A fresh, empty database of a configured `backend` (its URL, and the `TempDir` that keeps
/// a SQLite file alive). Panics if the server cannot be reached: a configured store is
/// expected to work.
pub async fn fresh_database(backend: Backend) -> (String, tempfile::TempDir) {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("temporary directory");
    let name = unique_name();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("hufu.db").display()),
        Backend::MySql => {
            let base = backend.configured_url();
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
            let base = backend.configured_url();
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
    (url, dir)
}
