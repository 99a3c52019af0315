//! Assembly: turns settings into a running node (store, hasher, token service, router) and
//! serves it. Tests use the same functions to start real servers on port 0.

use crate::clock::Clock;
use crate::config::{JwtAlgorithm, Settings, secrets};
use crate::domain::password::PasswordHasher;
use crate::domain::tokens::TokenService;
use crate::domain::{Core, Policy};
use crate::id::IdGenerator;
use crate::store::SqlStore;
use crate::store::sql::PoolSettings;
use anyhow::Context;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;
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
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store)
}

/// Builds the shared state around an open store.
pub async fn build_state(
    settings: &Settings,
    store: SqlStore,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    if settings.jwt_algorithm == JwtAlgorithm::EdDsa {
        anyhow::bail!(
            "invalid setting HUFU_JWT_ALG: EdDSA is not available in this version yet; use HS256"
        );
    }
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
    let tokens = TokenService::hs256(
        &secret,
        &settings.jwt_issuer,
        &settings.jwt_audience,
        settings.access_ttl,
        clock.clone(),
    );
    let (params, concurrency, queue) = (
        settings.argon2,
        settings.password_hash_concurrency,
        settings.password_hash_queue,
    );
    // Making the dummy hash is one real hash: keep it off the async workers too.
    let hasher =
        tokio::task::spawn_blocking(move || PasswordHasher::new(params, concurrency, queue))
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
    let core = Core {
        store,
        hasher,
        tokens,
        ids,
        clock,
        policy,
    };
    Ok(AppState {
        core: Arc::new(core),
        trusted_proxies: settings.trusted_proxies.clone().into(),
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
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    state.core.store.close().await;
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
