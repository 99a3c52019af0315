//! [`TestApp`]: the real hufu router on a random port over a fresh database, in this process,
//! with test settings and a manual clock.

use super::answer::{Answer, Caller};
use super::stores::{Backend, CacheMode, configured_redis_url, fresh_database, unique_prefix};
use hufu::app;
use hufu::clock::ManualClock;
use hufu::config::{DatabaseSettings, PasswordSettings, ServerSettings, Settings, TokenSettings};
use hufu::domain::limits::LimitSettings;
use hufu::domain::password::Argon2Params;
use hufu::http::AppState;
use hufu::store::SqlStore;
use hufu::store::sql::PoolSettings;
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

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
            code_per_minute: 1_000_000,
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
    /// How requests reach this app (no `Accept-Language`).
    pub(super) api: Caller,
    /// Usernames this harness registered, so [`TestApp::login_as`] registers each only once.
    pub(super) registered: Mutex<HashSet<String>>,
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

impl TestApp {
    /// Starts hufu on a configured `backend` with test settings.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings adjusted by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let (url, dir) = fresh_database(backend).await;
        let mut settings = test_settings(&url, dir.path());
        adjust(&mut settings);
        let store = app::open_store(&settings)
            .await
            .expect("open and migrate the test database");
        Self::start(backend, settings, store, dir).await
    }

    /// Starts hufu on SQLite with shared state in a configured `mode` (Redis under a prefix
    /// of its own), waiting in Redis mode until the node's event subscription is live.
    pub async fn spawn_cached(mode: CacheMode, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let redis = match mode {
            CacheMode::Memory => None,
            CacheMode::Redis => Some(configured_redis_url()),
        };
        let app = Self::spawn_with(Backend::Sqlite, |s| {
            s.redis.url = redis;
            s.redis.prefix = unique_prefix();
            adjust(s);
        })
        .await;
        if mode == CacheMode::Redis {
            app.wait_for_events().await;
        }
        app
    }

    /// Waits until the node's event subscription is live (Redis mode).
    pub async fn wait_for_events(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.state.core.cache.is_subscribed() {
            assert!(std::time::Instant::now() < deadline, "no event subscription after 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until this node's database feed has polled past every change made so far (it
    /// drops a changed user's cached profile once), so a test counting cache hits does not
    /// see that drop land in the middle of its reads.
    pub async fn settle_feed(&self) {
        tokio::time::sleep(Duration::from_millis(600)).await;
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
        super::log::init();
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
        let api = Caller::new(addr);
        TestApp {
            addr,
            backend,
            client: api.client.clone(),
            clock,
            state,
            settings,
            api,
            registered: Mutex::new(HashSet::new()),
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// This app, every request with `Accept-Language: lang` (sent as given).
    pub fn in_lang(&self, lang: &str) -> Caller {
        self.api.in_lang(lang)
    }

    /// Sends a request; `token` adds a bearer header, `body` a JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.api.call(method, path, token, body).await
    }

    /// `POST` with a JSON body and no token.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.api.post(path, body).await
    }

    /// `GET`, with a bearer token if given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.api.get(path, token).await
    }
}

static PHONE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A registration body with a derived email and a unique phone.
pub fn registration(name: &str, password: &str) -> Value {
    let n = PHONE_COUNTER.fetch_add(1, Ordering::Relaxed) % 100_000_000;
    serde_json::json!({
        "username": name,
        "email": format!("{name}@example.com"),
        "password": password,
        "phone": format!("139{n:08}"),
    })
}
