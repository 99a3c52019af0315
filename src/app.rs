//! Assembly: turns settings into a running node (store, hasher, token service, caches, the
//! router and its background work) and serves it. Nothing here decides anything: the rules
//! live in `domain`, the HTTP in `http`, node-to-node coherence in `sync`. Tests use the same
//! functions to start real servers on port 0.

use crate::cache::ProfileCache;
use crate::cache::redis::Redis;
use crate::clock::Clock;
use crate::config::{JwtAlgorithm, Settings, names, secrets};
use crate::crypto::SecretBox;
use crate::delivery::Delivery;
use crate::delivery::email::Mailer;
use crate::delivery::sms::SmsSender;
use crate::domain::Core;
use crate::domain::codes::Codes;
use crate::domain::keys::{self, KeyManager};
use crate::domain::limits::Limits;
use crate::domain::password::PasswordHasher;
use crate::domain::tokens::TokenService;
use crate::http::AppState;
use crate::http::server::ConnectionLimits;
use crate::id::IdGenerator;
use crate::metrics::Metrics;
use crate::store::SqlStore;
use crate::sync::{self, Peers, Revocations};
use crate::wechat::client::WechatClient;
use crate::wechat::state::StateSigner;
use crate::wechat::token::AccessTokens;
use crate::wechat::{MiniProgram, Website, Wechat};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

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
    count_bcrypt_hashes(&store, &hasher).await;
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
    let codes = Codes::new(settings.codes.clone(), build_delivery(settings)?, metrics.clone());
    let core = Core {
        store,
        hasher,
        tokens,
        ids,
        clock,
        policy: settings.accounts.clone(),
        revocations,
        peers: Peers::new(redis.clone()),
        keys: KeyManager::new(secret_box),
        redis,
        cache,
        limits,
        wechat,
        codes,
    };
    if let Some(redis) = &core.redis
        && !redis.ping().await
    {
        tracing::warn!("Redis does not answer; serving from the database and per-node limits until it does");
    }
    if let Err(error) = sync::feed::load_revocations(core.node()).await {
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

/// Email and SMS delivery from the settings; a channel without one answers 501.
fn build_delivery(settings: &Settings) -> anyhow::Result<Delivery> {
    let delivery = &settings.delivery;
    let email = Mailer::from_settings(delivery).map_err(anyhow::Error::msg)?;
    // No timeout of its own (`Delivery::send` bounds each delivery) and no redirects: a
    // provider or webhook that redirects is not followed with the message.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the SMS client")?;
    let sms = SmsSender::from_settings(&delivery.sms, http).map_err(anyhow::Error::msg)?;
    if matches!(email, Some(Mailer::Log)) || matches!(sms, Some(SmsSender::Log)) {
        tracing::warn!(
            "one-time codes are written to the server log (HUFU_SMTP_URL=log: or HUFU_SMS_PROVIDER=log): \
             for local development only"
        );
    }
    Ok(Delivery {
        email,
        sms,
        timeout: delivery.timeout,
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

/// How often signing keys are reloaded and expired lockout counters forgotten.
const UPKEEP_EVERY: Duration = Duration::from_secs(20);
/// How often recorded histogram samples are folded into buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Runs the node's background work until dropped: learning other nodes' revocations and
/// profile changes (`crate::sync`), reloading signing keys, pruning, folding metrics.
pub fn spawn_background(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let core = state.core.clone();
    let mut tasks = vec![
        tokio::spawn({
            let core = core.clone();
            async move { sync::feed::run(core.node()).await }
        }),
        tokio::spawn(upkeep(core.clone())),
        tokio::spawn(metrics_upkeep(state.metrics.clone())),
        tokio::spawn({
            let core = core.clone();
            async move { core.codes.run_queue(core.store.clone()).await }
        }),
    ];
    if core.peers.redis().is_some() {
        tasks.push(tokio::spawn({
            let core = core.clone();
            async move { sync::subscriber::subscribe(core.node()).await }
        }));
        tasks.push(tokio::spawn(async move { sync::watch::run(core.node()).await }));
    }
    tasks
}

/// Every how many upkeep ticks (10 minutes) the stored bcrypt hashes are counted again.
const RECOUNT_BCRYPT_EVERY_TICKS: u32 = 30;

/// Tells the hasher which bcrypt costs are stored, so failed logins cost what an imported
/// user's does (a full scan of `users`: at start and every ten minutes only). A failure keeps
/// what the hasher knew; logins that meet a bcrypt hash teach it too.
async fn count_bcrypt_hashes(store: &SqlStore, hasher: &PasswordHasher) {
    match store.bcrypt_hash_costs().await {
        Ok(counts) => hasher.set_bcrypt_costs(counts),
        Err(error) => tracing::warn!(error = %error, "cannot count the stored bcrypt hashes"),
    }
}

/// Reloads signing keys (a key made by `hufu keys rotate` on another node), forgets expired
/// per-node lockout counters, and now and then counts the stored bcrypt hashes again (imports,
/// and upgrades on other nodes).
async fn upkeep(core: Arc<Core>) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the keys were just loaded.
    tick.tick().await;
    let mut ticks = 0u32;
    loop {
        tick.tick().await;
        if let Err(error) = keys::reload(&core).await {
            tracing::warn!(error = %error, "cannot reload signing keys");
        }
        core.limits.prune();
        ticks += 1;
        if ticks.is_multiple_of(RECOUNT_BCRYPT_EVERY_TICKS) {
            count_bcrypt_hashes(&core.store, &core.hasher).await;
        }
    }
}

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
    crate::http::server::serve_connections(listener, router, limits, shutdown).await;
    for task in background {
        task.abort();
    }
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
