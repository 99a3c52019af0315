//! Assembly: turns settings into a running node (store, hasher, token service, router) and
//! serves it. Tests use the same functions to start real servers on port 0.

use crate::cache::ProfileCache;
use crate::cache::events;
use crate::cache::redis::Redis;
use crate::clock::Clock;
use crate::config::{JwtAlgorithm, Settings, names, secrets};
use crate::crypto::SecretBox;
use crate::domain::Core;
use crate::domain::keys::{self, KeyManager};
use crate::domain::limits::Limits;
use crate::domain::password::PasswordHasher;
use crate::domain::revocation::Revocations;
use crate::domain::sessions;
use crate::domain::tokens::TokenService;
use crate::id::IdGenerator;
use crate::metrics::Metrics;
use crate::store::SqlStore;
use crate::wechat::client::WechatClient;
use crate::wechat::state::StateSigner;
use crate::wechat::token::AccessTokens;
use crate::wechat::{MiniProgram, Website, Wechat};
use anyhow::Context;
use ipnet::IpNet;
use std::collections::HashMap;
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
    /// This node's metrics (its own recorder: several nodes in one process stay apart).
    pub metrics: Arc<Metrics>,
}

/// Opens the database named in the settings and applies migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let store = SqlStore::connect(&settings.database.url, settings.database.pool, false)
        .await
        .with_context(|| format!("cannot connect to the database ({})", names::HUFU_DATABASE_URL))?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// The encryption key for secrets at rest: configured, or generated once under the data
/// directory.
pub fn encryption_key(settings: &Settings) -> anyhow::Result<[u8; 32]> {
    let server = &settings.server;
    if let Some(key) = server.encryption_key {
        return Ok(key);
    }
    let text = secrets::load_or_create(&server.data_dir, "encryption_key").with_context(|| {
        format!(
            "cannot keep a generated encryption key under {}",
            server.data_dir.display()
        )
    })?;
    secrets::decode_key(&text).with_context(|| {
        format!(
            "{} is not 32 bytes of base64",
            server.data_dir.join("encryption_key").display()
        )
    })
}

/// Builds the shared state around an open store: keys, hashing pool, and the revocations
/// still relevant (loaded from the database, the source of truth).
pub async fn build_state(settings: &Settings, store: SqlStore, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let encryption_key = encryption_key(settings)?;
    let secret_box = SecretBox::new(&encryption_key)?;
    let token_settings = &settings.tokens;
    let tokens = match token_settings.jwt_algorithm {
        JwtAlgorithm::Hs256 => {
            let secret = match &token_settings.jwt_secret {
                Some(secret) => secret.expose().as_bytes().to_vec(),
                None => secrets::load_or_create(&settings.server.data_dir, "jwt_secret")
                    .with_context(|| {
                        format!(
                            "cannot keep a generated JWT secret under {}",
                            settings.server.data_dir.display()
                        )
                    })?
                    .into_bytes(),
            };
            TokenService::hs256(
                &secret,
                &token_settings.issuer,
                &token_settings.audience,
                token_settings.access_ttl,
                clock.clone(),
            )
        }
        JwtAlgorithm::EdDsa => {
            keys::ensure_key(&store, &secret_box, clock.unix_millis()).await?;
            let rows = store.signing_keys().await?;
            let ring = keys::build_ring(&rows, &secret_box, clock.unix_millis(), token_settings.access_ttl)?;
            TokenService::eddsa(
                ring,
                &token_settings.issuer,
                &token_settings.audience,
                token_settings.access_ttl,
                clock.clone(),
            )
        }
    };
    let (params, concurrency, queue) = (
        settings.passwords.argon2,
        settings.passwords.hash_concurrency,
        settings.passwords.hash_queue,
    );
    // Making the dummy hash is one real hash: keep it off the async workers too.
    let metrics = Arc::new(Metrics::new());
    let mut hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(params, concurrency, queue))
        .await?
        .context("invalid argon2 parameters")?;
    hasher.set_duration_histogram(metrics.hash_duration());
    let ids = settings
        .server
        .node_id
        .map(IdGenerator::new)
        .unwrap_or_else(IdGenerator::random_node);
    let revocations = Revocations::new(settings.tokens.access_ttl);
    let redis = settings
        .redis
        .url
        .as_deref()
        .map(|url| Redis::new(url, &settings.redis.prefix));
    let cache = ProfileCache::new(redis.clone(), settings.cache.profile_ttl);
    let limits = Limits::new(redis.clone(), settings.limits.clone(), clock.clone());
    let wechat = build_wechat(settings, &encryption_key, redis.clone(), clock.clone(), metrics.clone())?;
    let core = Core {
        store,
        hasher,
        tokens,
        ids,
        clock,
        policy: settings.accounts.clone(),
        revocations,
        keys: KeyManager::new(secret_box),
        redis,
        cache,
        limits,
        wechat,
    };
    if let Some(redis) = &core.redis
        && !redis.ping().await
    {
        tracing::warn!("Redis does not answer; serving from the database and per-node limits until it does");
    }
    if let Err(error) = sessions::sync_revocations(&core).await {
        // Authenticated requests answer 503 until the background task (or the next request)
        // manages to load them.
        tracing::warn!(error = %error, "cannot load recent revocations yet");
    }
    Ok(AppState {
        core: Arc::new(core),
        trusted_proxies: settings.server.trusted_proxies.clone().into(),
        metrics,
    })
}

/// The WeChat client and apps from the settings (an app without both appid and secret is
/// not configured, and its endpoints answer 501).
fn build_wechat(
    settings: &Settings,
    encryption_key: &[u8; 32],
    redis: Option<Arc<Redis>>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Wechat> {
    let wechat = &settings.wechat;
    let client = WechatClient::new(&wechat.api_base, wechat.timeout)
        .context("cannot build the WeChat client")?
        .with_metrics(metrics);
    let mini_program = match (&wechat.appid, &wechat.secret) {
        (Some(appid), Some(secret)) => Some(MiniProgram {
            appid: appid.clone(),
            secret: secret.clone(),
            tokens: AccessTokens::new(appid, secret.clone(), redis, clock),
        }),
        _ => None,
    };
    let website = match (&wechat.oauth_appid, &wechat.oauth_secret) {
        (Some(appid), Some(secret)) => Some(Website {
            appid: appid.clone(),
            secret: secret.clone(),
            redirects: wechat
                .oauth_redirects
                .iter()
                .map(|entry| {
                    url::Url::parse(entry)
                        .with_context(|| format!("invalid setting {}: {entry:?}", names::HUFU_WECHAT_OAUTH_REDIRECTS))
                })
                .collect::<anyhow::Result<_>>()?,
        }),
        _ => None,
    };
    Ok(Wechat {
        client,
        mini_program,
        website,
        states: StateSigner::new(encryption_key),
        open_base: wechat.open_base.clone(),
        public_url: settings.server.public_base_url().trim_end_matches('/').to_owned(),
    })
}

/// How often a node asks the database for revocations made elsewhere.
const REVOCATION_POLL: Duration = Duration::from_millis(250);
/// How far back each poll looks: overlapping windows make a late commit or a few seconds of
/// clock difference between nodes harmless (entries are idempotent).
const REVOCATION_WINDOW_MS: i64 = 15_000;
/// How often signing keys are reloaded.
const KEY_RELOAD: Duration = Duration::from_secs(20);

/// Runs the node's background work until dropped: learning other nodes' revocations and
/// profile changes from the database, watching Redis, reloading signing keys, pruning.
pub fn spawn_background(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(database_feed(state.clone())),
        tokio::spawn(metrics_upkeep(state.metrics.clone())),
    ];
    if state.core.redis.is_some() {
        tasks.push(tokio::spawn(events::subscribe(state.core.clone())));
        tasks.push(tokio::spawn(watch_redis(state)));
    }
    tasks
}

/// Polls the database for revocations and profile changes made on other nodes (the truth
/// that holds with or without Redis), reloads keys, and prunes expired entries.
async fn database_feed(state: AppState) {
    let core = &state.core;
    let mut poll = tokio::time::interval(REVOCATION_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_key_reload = tokio::time::Instant::now();
    let mut database_ok = true;
    // Profile changes already acted on: (user id → updated_at), so a change is applied once.
    let mut seen_changes: HashMap<i64, i64> = HashMap::new();
    // Start of the last poll that succeeded: after an outage the next poll reaches back to it,
    // so nothing revoked or changed meanwhile is skipped.
    let mut last_ok_ms = core.clock.unix_millis();
    loop {
        poll.tick().await;
        let now_ms = core.clock.unix_millis();
        let since = last_ok_ms.min(now_ms) - REVOCATION_WINDOW_MS;
        let polled = async {
            if core.revocations.is_synced() {
                let ids = core.store.revoked_since(since).await?;
                core.revocations.revoke(&ids, now_ms);
            } else {
                sessions::sync_revocations(core)
                    .await
                    .map_err(|e| crate::store::StoreError::Other(e.into()))?;
            }
            for (user_id, updated_at) in core.store.updated_since(since).await? {
                if seen_changes.insert(user_id, updated_at) != Some(updated_at) {
                    // Also in Redis: the writer may not have reached Redis to delete it.
                    core.cache.invalidate_shared(user_id).await;
                }
            }
            seen_changes.retain(|_, updated_at| *updated_at > since);
            Ok::<_, crate::store::StoreError>(())
        };
        let outcome = polled.await;
        if outcome.is_ok() {
            last_ok_ms = now_ms;
            core.revocations.feed_succeeded();
        }
        match outcome {
            Ok(()) if !database_ok => {
                tracing::info!("database feed is back");
                database_ok = true;
            }
            Ok(()) => {}
            Err(error) if database_ok => {
                tracing::warn!(error = %error, "cannot read the database feed; will keep trying");
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
            core.limits.prune();
        }
    }
}

/// How often recorded histogram samples are folded into buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Keeps the metrics' memory bounded when nothing scrapes (samples wait in a lock-free list
/// until folded; at 80k requests/s five seconds of them are about 6 MB).
async fn metrics_upkeep(metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        metrics.upkeep();
    }
}

/// Pings Redis every second so a silent outage is noticed (and the first-level cache stops
/// being trusted) even when no request touches Redis, and replays deletes that failed.
async fn watch_redis(state: AppState) {
    let Some(redis) = state.core.redis.clone() else { return };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_up = redis.is_healthy();
    loop {
        tick.tick().await;
        let up = redis.ping().await;
        if up {
            state.core.cache.flush_pending().await;
        }
        if up != was_up {
            if up {
                tracing::info!("Redis is back");
            } else {
                tracing::warn!("Redis does not answer; falling back to the database and per-node limits");
            }
            was_up = up;
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains in-flight requests
/// for at most `settings.server.shutdown_timeout` and closes the database pool.
///
/// Once `shutdown` resolves the listener is closed (new connections are refused), idle
/// keep-alive connections are closed, and each connection with a request in progress
/// finishes that request (answered with `Connection: close`). Connections still busy when the
/// bound runs out are dropped, so a handler that never ends cannot keep the process alive.
/// A response is only written after the handler's transaction committed, so whatever a
/// client saw answered 2xx is in the database.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = crate::http::router(state.clone(), settings.server.request_timeout);
    let background = spawn_background(state.clone());
    let limits = ConnectionLimits {
        header_read_timeout: settings.server.header_read_timeout,
        shutdown_timeout: settings.server.shutdown_timeout,
    };
    serve_connections(listener, router, limits, shutdown).await;
    for task in background {
        task.abort();
    }
    state.core.store.close().await;
    Ok(())
}

/// Per-connection bounds of the HTTP server.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

/// Largest request line and headers together (and hyper's read buffer); a larger head is
/// answered 431 and the connection closed.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The accept loop: HTTP/1.1 over hyper with a header-read timeout, each connection in its
/// own task, and a bounded graceful drain when `shutdown` resolves.
///
/// axum's own `serve` sets no timer, so hyper's header-read timeout never runs there and a
/// client that never finishes its headers holds a connection (and a task) forever.
async fn serve_connections(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    // At most 100 request headers (more is answered 431 and the connection closed): that is
    // hyper's default, so `max_headers` is not called. Setting any value moves hyper's header
    // arrays from the stack to the heap and initialises them on every request (about 5 % of a
    // `/healthz` request's instructions under callgrind).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: wait instead of spinning.
                        tracing::warn!(error = %error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = router.clone().map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request.map(axum::body::Body::new)
                });
                let connection = builder.serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                );
                let mut stopped = stopped.clone();
                connections.spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => return,
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    tracing::info!(connections = open, "stopped accepting; draining connections");
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            timeout_ms = u64::try_from(limits.shutdown_timeout.as_millis()).unwrap_or(u64::MAX),
            "shutdown timeout reached; dropping the connections still busy"
        );
        connections.shutdown().await;
    }
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
