//! Protection of contract section 5: per-client-IP rate limits and per-identifier lockout.
//!
//! Counted in Redis (atomic Lua scripts) when it is configured and answering, so the limits
//! hold across every node together; otherwise, and while Redis is unreachable, each node counts
//! in its own memory. Identifiers are hashed before they become keys, so Redis never holds
//! users' emails or phones.
//!
//! Every key names its kind (`rl:<action>:` for a rate, `lo:id:` for an identifier's lockout,
//! `lo:acct:` for an account's), and the kind is also hashed in with the value: no text a
//! client types as an identifier can produce another kind's key (a login as `mfa-user:7` once
//! counted toward user 7's second-factor lock).

use super::error::{Error, Result};
use crate::cache::memory::Counters;
use crate::cache::redis::Redis;
use crate::clock::Clock;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The rate-limited endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/register`.
    Register,
    /// `POST /auth/refresh`.
    Refresh,
    /// The WeChat endpoints.
    Wechat,
    /// Sending a one-time code (`POST /auth/codes`, `POST /users/codes`).
    Code,
    /// The signed-in checks of a password or code: `PUT /users/password`, TOTP disable,
    /// `POST /users/verify` (each verification costs an argon2 run or a code guess).
    Verify,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Register => "register",
            Action::Refresh => "refresh",
            Action::Wechat => "wechat",
            Action::Code => "code",
            Action::Verify => "verify",
        }
    }
}

/// The configured numbers (their defaults are declared with the settings, in `config`).
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Requests per minute per IP to `POST /auth/login`.
    pub login_per_minute: u32,
    /// Requests per minute per IP to `POST /auth/register`.
    pub register_per_minute: u32,
    /// Requests per minute per IP to `POST /auth/refresh`.
    pub refresh_per_minute: u32,
    /// Requests per minute per IP to the WeChat endpoints.
    pub wechat_per_minute: u32,
    /// One-time code sends per minute per IP.
    pub code_per_minute: u32,
    /// Signed-in password and code checks per minute per IP.
    pub verify_per_minute: u32,
    /// Failed sign-ins before an identifier is locked.
    pub lockout_threshold: u32,
    /// Window in which failures are counted.
    pub lockout_window: Duration,
    /// How long a lock lasts.
    pub lockout_duration: Duration,
}

/// What a lockout counter counts. Each kind has keys of its own (see the module header), so
/// one kind's value can never name another kind's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout<'a> {
    /// A sign-in identifier as submitted, normalised (`validate::Identifier::normalised`),
    /// whether or not an account has it.
    Identifier(&'a str),
    /// An account, whatever identifier or endpoint its password or codes were tried at.
    Account(i64),
}

impl Lockout<'_> {
    /// The kind's name in keys, and the text hashed into the key's tag (kind included).
    fn parts(self) -> (&'static str, String) {
        match self {
            Lockout::Identifier(text) => ("id", format!("id:{text}")),
            Lockout::Account(id) => ("acct", format!("acct:{id}")),
        }
    }
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Rate limits and lockouts.
#[derive(Debug)]
pub struct Limits {
    redis: Option<Arc<Redis>>,
    local: Counters,
    settings: LimitSettings,
    clock: Arc<dyn Clock>,
}

fn seconds_rounded_up(millis: u64) -> u64 {
    millis.div_ceil(1_000).max(1)
}

fn to_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Limits {
    /// Limits counted in `redis` when given, in process otherwise.
    pub fn new(redis: Option<Arc<Redis>>, settings: LimitSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            redis,
            local: Counters::default(),
            settings,
            clock,
        }
    }

    fn limit(&self, action: Action) -> u32 {
        let s = &self.settings;
        match action {
            Action::Login => s.login_per_minute,
            Action::Register => s.register_per_minute,
            Action::Refresh => s.refresh_per_minute,
            Action::Wechat => s.wechat_per_minute,
            Action::Code => s.code_per_minute,
            Action::Verify => s.verify_per_minute,
        }
    }

    /// Counts a request from `ip` to `action`; refuses it with `RateLimited` past the limit.
    /// IPv6 clients are counted by their /64, which one subscriber usually holds whole.
    pub async fn rate(&self, action: Action, ip: Option<&str>) -> Result<()> {
        let client = match ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
            Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
            Some(other) => other.to_canonical().to_string(),
            None => "unknown".to_owned(),
        };
        let key = format!("rl:{}:{client}", action.name());
        let (count, remaining_ms) = match &self.redis {
            Some(redis) => match redis.hit(&redis.key(&format!("{{{key}}}")), RATE_WINDOW).await {
                Ok(counted) => counted,
                Err(_) => self.local.hit(&key, to_ms(RATE_WINDOW), self.clock.unix_millis()),
            },
            None => self.local.hit(&key, to_ms(RATE_WINDOW), self.clock.unix_millis()),
        };
        if count > u64::from(self.limit(action)) {
            return Err(Error::RateLimited {
                retry_after: seconds_rounded_up(remaining_ms),
            });
        }
        Ok(())
    }

    fn lockout_keys(&self, of: Lockout<'_>) -> (String, String, String) {
        let (kind, hashed) = of.parts();
        let digest = Sha256::digest(hashed.as_bytes());
        let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        // Both keys share the `{…}` tag so the script's keys sit in one Cluster slot.
        let prefix = self.redis.as_ref().map(|r| r.prefix().to_owned()).unwrap_or_default();
        (
            format!("{prefix}{{lo:{kind}:{tag}}}:fails"),
            format!("{prefix}{{lo:{kind}:{tag}}}:lock"),
            format!("lo:{kind}:{tag}"),
        )
    }

    /// Starts a password (or code) attempt counted under `of`: refuses with `Locked` while it
    /// is locked, and otherwise counts the attempt as a failure *before* the password is
    /// checked, so parallel guesses cannot all pass a check made before any of them failed.
    /// The attempt past the threshold sets the lock and is refused; a success resets the count
    /// ([`Limits::record_success`]).
    pub async fn begin_attempt(&self, of: Lockout<'_>) -> Result<()> {
        let (fails_key, lock_key, local_key) = self.lockout_keys(of);
        let s = &self.settings;
        let locked_for = match &self.redis {
            Some(redis) => redis
                .lockout_attempt(
                    &fails_key,
                    &lock_key,
                    s.lockout_threshold,
                    s.lockout_window,
                    s.lockout_duration,
                )
                .await
                .ok(),
            None => None,
        };
        let locked_for = match locked_for {
            Some(result) => result,
            None => self.local_attempt(&local_key),
        };
        match locked_for {
            Some(lock) => Err(Error::Locked {
                retry_after: seconds_rounded_up(lock.remaining_ms),
                just_locked: lock.set_by_this_attempt,
            }),
            None => Ok(()),
        }
    }

    fn local_attempt(&self, local_key: &str) -> Option<crate::cache::Lock> {
        let s = &self.settings;
        self.local.attempt(
            &format!("{local_key}:fails"),
            &format!("{local_key}:lock"),
            s.lockout_threshold,
            to_ms(s.lockout_window),
            to_ms(s.lockout_duration),
            self.clock.unix_millis(),
        )
    }

    /// Takes back an attempt that never checked a password (the store or the hashing pool
    /// failed), so an overload does not lock anyone out.
    pub async fn cancel_attempt(&self, of: Lockout<'_>) {
        let (fails_key, _, local_key) = self.lockout_keys(of);
        if let Some(redis) = &self.redis {
            let _ = redis.decr_if_positive(&fails_key).await;
        }
        self.local.decrement(&format!("{local_key}:fails"));
    }

    /// Clears the failure count of `of` after a successful sign-in.
    pub async fn record_success(&self, of: Lockout<'_>) {
        let (fails_key, _, local_key) = self.lockout_keys(of);
        if let Some(redis) = &self.redis {
            let _ = redis.del(&fails_key).await;
        }
        self.local.reset(&format!("{local_key}:fails"));
    }

    /// Lifts the lock and the failure count of `of` (a password reset proved the owner). With Redis the lock is gone on every node; without it, on this one (the lock of
    /// another node ends with its duration).
    pub async fn clear(&self, of: Lockout<'_>) {
        let (fails_key, lock_key, local_key) = self.lockout_keys(of);
        if let Some(redis) = &self.redis {
            let _ = redis.del(&fails_key).await;
            let _ = redis.del(&lock_key).await;
        }
        self.local.reset(&format!("{local_key}:fails"));
        self.local.unlock(&format!("{local_key}:lock"));
    }

    /// Drops expired in-process windows and locks.
    pub fn prune(&self) {
        self.local.prune(self.clock.unix_millis());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limits(per_minute: u32) -> Limits {
        let settings = LimitSettings {
            login_per_minute: per_minute,
            register_per_minute: per_minute,
            refresh_per_minute: per_minute,
            wechat_per_minute: per_minute,
            code_per_minute: per_minute,
            verify_per_minute: per_minute,
            lockout_threshold: 2,
            lockout_window: Duration::from_secs(900),
            lockout_duration: Duration::from_secs(900),
        };
        Limits::new(None, settings, Arc::new(ManualClock::starting_now()))
    }

    #[tokio::test]
    async fn ipv6_clients_share_a_bucket_per_64_and_ipv4_mapped_peers_count_as_ipv4() {
        let limits = limits(2);
        assert!(limits.rate(Action::Login, Some("2001:db8:1:2::1")).await.is_ok());
        assert!(limits.rate(Action::Login, Some("2001:db8:1:2:ffff::9")).await.is_ok());
        assert!(matches!(
            limits.rate(Action::Login, Some("2001:db8:1:2::77")).await,
            Err(Error::RateLimited { .. })
        ));
        assert!(
            limits.rate(Action::Login, Some("2001:db8:1:3::1")).await.is_ok(),
            "another /64"
        );
        assert!(limits.rate(Action::Login, Some("192.0.2.1")).await.is_ok());
        assert!(limits.rate(Action::Login, Some("::ffff:192.0.2.1")).await.is_ok());
        assert!(matches!(
            limits.rate(Action::Login, Some("192.0.2.1")).await,
            Err(Error::RateLimited { .. })
        ));
        assert!(
            limits.rate(Action::Register, Some("192.0.2.1")).await.is_ok(),
            "limits are per endpoint"
        );
    }

    #[tokio::test]
    async fn attempts_that_checked_no_password_do_not_lock() {
        let limits = limits(100);
        let alice = Lockout::Identifier("alice");
        for _ in 0..5 {
            limits.begin_attempt(alice).await.unwrap();
            limits.cancel_attempt(alice).await;
        }
        limits.begin_attempt(alice).await.unwrap();
        limits.begin_attempt(alice).await.unwrap();
        assert!(
            matches!(limits.begin_attempt(alice).await, Err(Error::Locked { .. })),
            "two real failures lock"
        );
    }

    #[tokio::test]
    async fn an_identifier_that_spells_an_account_key_counts_apart_from_the_account() {
        let limits = limits(100);
        for text in ["acct:7", "7", "lo:acct:7", "mfa-user:7"] {
            for _ in 0..3 {
                let _ = limits.begin_attempt(Lockout::Identifier(text)).await;
            }
        }
        assert!(limits.begin_attempt(Lockout::Account(7)).await.is_ok());
        assert!(limits.begin_attempt(Lockout::Account(7)).await.is_ok());
        assert!(matches!(
            limits.begin_attempt(Lockout::Account(7)).await,
            Err(Error::Locked { .. })
        ));
        assert!(
            matches!(
                limits.begin_attempt(Lockout::Identifier("acct:7")).await,
                Err(Error::Locked { .. })
            ),
            "the identifier's own lock stands"
        );
    }
}
