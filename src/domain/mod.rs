//! The domain: accounts, passwords, tokens. It decides; it never imports axum or sqlx
//! directly (the store is reached through `crate::store`), so the HTTP layer only parses,
//! calls one function here, and wraps the result.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod code_login;
pub mod codes;
pub mod error;
pub mod identifiers;
pub mod input;
pub mod keys;
pub mod limits;
pub mod mfa;
pub mod password;
pub mod reauth;
pub mod sessions;
pub mod tokens;
pub mod user;
pub mod validate;
pub mod wechat;

use crate::cache::ProfileCache;
use crate::cache::redis::Redis;
use crate::clock::Clock;
use crate::id::IdGenerator;
use crate::store::SqlStore;
use password::PasswordHasher;
use std::sync::Arc;
use std::time::Duration;
use tokens::TokenService;

/// Account rules: the `accounts` section of the settings (its defaults are declared there).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Shortest password (code points).
    pub password_min_length: usize,
    /// Whether registration needs a phone.
    pub require_phone: bool,
    /// Whether self-registration is on.
    pub registration_enabled: bool,
    /// Roles of new self-registered and WeChat-created users (`HUFU_DEFAULT_ROLES`).
    pub default_roles: Vec<String>,
    /// Refresh-token (and session) lifetime.
    pub refresh_ttl: Duration,
    /// How long a session lasts after its sign-in however often it refreshes
    /// (`HUFU_SESSION_MAX_AGE`).
    pub session_max_age: Duration,
    /// How long after a rotation a duplicate of it gets the same successor instead of counting
    /// as reuse (`HUFU_REFRESH_REUSE_GRACE`; zero turns it off).
    pub refresh_reuse_grace: Duration,
    /// How recent a session's last proof must be for a sensitive change (`HUFU_REAUTH_WINDOW`).
    pub reauth_window: Duration,
}

/// Everything the domain needs, built once at start and shared by every request.
#[derive(Debug)]
pub struct Core {
    /// The database.
    pub store: SqlStore,
    /// The bounded password-hashing pool.
    pub hasher: PasswordHasher,
    /// Access-token issue and check.
    pub tokens: TokenService,
    /// Id generation.
    pub ids: IdGenerator,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Sessions revoked recently, checked on every authenticated request.
    pub revocations: crate::sync::Revocations,
    /// The other nodes: revocations and profile changes announced to them.
    pub peers: crate::sync::Peers,
    /// Signing-key reloads and the box for secrets at rest.
    pub keys: keys::KeyManager,
    /// Account rules.
    pub policy: Policy,
    /// Redis, when configured (shared cache, limits and events).
    pub redis: Option<Arc<Redis>>,
    /// The profile cache.
    pub cache: ProfileCache,
    /// Rate limits and lockouts.
    pub limits: limits::Limits,
    /// WeChat client, apps and OAuth state signing.
    pub wechat: crate::wechat::Wechat,
    /// One-time codes and their delivery.
    pub codes: codes::Codes,
}

impl Core {
    /// Records revocations made here: in this node's set at once, and announced to the other
    /// nodes through Redis when configured (the database feed reaches them regardless).
    pub async fn announce_revoked(&self, session_ids: &[i64]) {
        self.peers
            .announce_revoked(&self.revocations, session_ids, self.clock.unix_millis())
            .await;
    }

    /// Drops a user's cached profile on every node before the change is answered.
    pub async fn invalidate_profile(&self, user_id: i64) {
        self.peers.invalidate_profile(&self.cache, user_id).await;
    }

    /// This node's shared state as the background loops of `crate::sync` see it.
    pub fn node(&self) -> crate::sync::Node<'_> {
        crate::sync::Node {
            store: &self.store,
            cache: &self.cache,
            revocations: &self.revocations,
            peers: &self.peers,
            clock: self.clock.as_ref(),
        }
    }
}

/// How many times an insert is tried when a generated id collides (two nodes drew the same
/// node id).
pub(crate) const ID_ATTEMPTS: usize = 3;
/// Longest `User-Agent` kept with a session, an MFA challenge or an audit entry.
const USER_AGENT_MAX: usize = 512;

/// Where a request came from, for session records and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    /// Client IP.
    pub ip: Option<String>,
    /// `User-Agent` header as received.
    pub user_agent: Option<String>,
}

impl ClientContext {
    /// The `User-Agent` as stored: at most 512 characters.
    pub fn stored_user_agent(&self) -> Option<String> {
        self.user_agent
            .as_deref()
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect())
    }
}
