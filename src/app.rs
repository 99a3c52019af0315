//! Assembly: turns settings into a running node (store, hasher, token service, router) and
//! serves it. Tests use the same functions to start real servers on port 0.

use crate::clock::Clock;
use crate::config::{JwtAlgorithm, Settings, secrets};
use crate::crypto::SecretBox;
use crate::domain::keys::{self, KeyManager};
use crate::domain::password::PasswordHasher;
use crate::domain::revocation::Revocations;
use crate::domain::sessions;
use crate::domain::tokens::TokenService;
use crate::domain::{Core, Policy};
use crate::id::IdGenerator;
use crate::store::SqlStore;
use crate::store::sql::PoolSettings;
use anyhow::Context;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The domain services.
    pub core: Arc<Core>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
}

/// Opens the database named in the settings and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let pool = PoolSettings {
        max_connections: settings.database_max_connections,
        timeout: settings.database_timeout,
    };
    let store = SqlStore::connect(&settings.database_url, pool, false)
        .await
        .context("cannot connect to the database (HUFU_DATABASE_URL)")?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// The encryption key for secrets at rest: configured, or generated once under the data
/// directory.
pub fn encryption_key(settings: &Settings) -> anyhow::Result<[u8; 32]> {
    if let Some(key) = settings.encryption_key {
        return Ok(key);
    }
    let text = secrets::load_or_create(&settings.data_dir, "encryption_key").with_context(|| {
        format!(
            "cannot keep a generated encryption key under {}",
            settings.data_dir.display()
        )
    })?;
    secrets::decode_key(&text).with_context(|| {
        format!(
            "{} is not 32 bytes of base64",
            settings.data_dir.join("encryption_key").display()
        )
    })
}

/// Builds the shared state around an open store: keys, hashing pool, and the revocations
/// still relevant (loaded from the database, the source of truth).
pub async fn build_state(settings: &Settings, store: SqlStore, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let secret_box = SecretBox::new(&encryption_key(settings)?)?;
    let tokens = match settings.jwt_algorithm {
        JwtAlgorithm::Hs256 => {
            let secret = match &settings.jwt_secret {
                Some(secret) => secret.expose().as_bytes().to_vec(),
                None => secrets::load_or_create(&settings.data_dir, "jwt_secret")
                    .with_context(|| {
                        format!(
                            "cannot keep a generated JWT secret under {}",
                            settings.data_dir.display()
                        )
                    })?
                    .into_bytes(),
            };
            TokenService::hs256(
                &secret,
                &settings.jwt_issuer,
                &settings.jwt_audience,
                settings.access_ttl,
                clock.clone(),
            )
        }
        JwtAlgorithm::EdDsa => {
            keys::ensure_key(&store, &secret_box, clock.unix_millis()).await?;
            let rows = store.signing_keys().await?;
            let ring = keys::build_ring(&rows, &secret_box, clock.unix_millis(), settings.access_ttl)?;
            TokenService::eddsa(
                ring,
                &settings.jwt_issuer,
                &settings.jwt_audience,
                settings.access_ttl,
                clock.clone(),
            )
        }
    };
    let (params, concurrency, queue) = (
        settings.argon2,
        settings.password_hash_concurrency,
        settings.password_hash_queue,
    );
    // Making the dummy hash is one real hash: keep it off the async workers too.
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(params, concurrency, queue))
        .await?
        .context("invalid argon2 parameters")?;
    let ids = settings
        .node_id
        .map(IdGenerator::new)
        .unwrap_or_else(IdGenerator::random_node);
    let policy = Policy {
        password_min_length: settings.password_min_length,
        require_phone: settings.require_phone,
        registration_enabled: settings.registration_enabled,
        refresh_ttl: settings.refresh_ttl,
    };
    let revocations = Revocations::new(settings.access_ttl);
    let core = Core {
        store,
        hasher,
        tokens,
        ids,
        clock,
        policy,
        revocations,
        keys: KeyManager::new(secret_box),
    };
    if let Err(error) = sessions::sync_revocations(&core).await {
        // Authenticated requests answer 503 until the background task (or the next request)
        // manages to load them.
        tracing::warn!(error = %error, "cannot load recent revocations yet");
    }
    Ok(AppState {
        core: Arc::new(core),
        trusted_proxies: settings.trusted_proxies.clone().into(),
    })
}

/// How often a node asks the database for revocations made elsewhere.
const REVOCATION_POLL: Duration = Duration::from_millis(250);
/// How far back each poll looks: overlapping windows make a late commit or a few seconds of
/// clock difference between nodes harmless (entries are idempotent).
const REVOCATION_WINDOW_MS: i64 = 15_000;
/// How often signing keys are reloaded.
const KEY_RELOAD: Duration = Duration::from_secs(30);

/// Runs the node's background work until dropped: learning other nodes' revocations,
/// reloading signing keys, forgetting revocations whose tokens have expired.
pub fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let core = &state.core;
        let mut poll = tokio::time::interval(REVOCATION_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_key_reload = tokio::time::Instant::now();
        let mut database_ok = true;
        loop {
            poll.tick().await;
            let now_ms = core.clock.unix_millis();
            let polled = if core.revocations.is_synced() {
                core.store
                    .revoked_since(now_ms - REVOCATION_WINDOW_MS)
                    .await
                    .map(|ids| core.revocations.revoke(&ids, now_ms))
            } else {
                sessions::sync_revocations(core)
                    .await
                    .map_err(|e| crate::store::StoreError::Other(e.into()))
            };
            match polled {
                Ok(()) => {
                    if !database_ok {
                        tracing::info!("revocation feed is back");
                        database_ok = true;
                    }
                }
                Err(error) if database_ok => {
                    tracing::warn!(error = %error, "cannot read the revocation feed; will keep trying");
                    database_ok = false;
                }
                Err(_) => {}
            }
            if last_key_reload.elapsed() >= KEY_RELOAD {
                last_key_reload = tokio::time::Instant::now();
                if let Err(error) = keys::reload(core).await {
                    tracing::warn!(error = %error, "cannot reload signing keys");
                }
                core.revocations.prune(now_ms);
            }
        }
    })
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = crate::http::router(state.clone(), settings.request_timeout);
    let background = spawn_background(state.clone());
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    background.abort();
    state.core.store.close().await;
    served?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
