//! Settings: defaults, then an optional TOML file, then the environment (later wins), plus the
//! seed documents' `JWT_SECRET`, `DB_*` and `REDIS_*` names. Every problem is reported as one
//! line naming the setting, so a bad deployment stops at start instead of misbehaving later.
//! Nothing here is global: the server and the tests build as many `Settings` as they like.
//!
//! Every setting is declared once, in `sections`: the loader, the known TOML keys, the names
//! in messages (`names`) and the documentation table come from that declaration. `config`
//! may import the domain's and the store's types (their settings sections are those types);
//! `domain` and `store` must not import `config`.

mod declare;
pub mod parse;
pub mod secrets;
mod sections;
mod table;

pub use declare::{DefaultValue, Setting};
pub use sections::{
    CacheSettings, DatabaseSettings, PasswordSettings, RedisSettings, ServerSettings, TokenSettings, WechatSettings,
    names,
};

use sections::{SECTIONS, SETTINGS};

use crate::domain::Policy;
use crate::domain::limits::LimitSettings;
use std::collections::BTreeMap;

/// A setting that could not be used; its `Display` is the one line printed at start.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct ConfigError {
    /// The environment name of the setting, e.g. `HUFU_ACCESS_TTL`.
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(setting: &str, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Token signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    Hs256,
    /// Ed25519 with keys kept in the database.
    EdDsa,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Every setting of one hufu node, by section. `Settings::default()` holds the declared
/// defaults.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Where and how this node serves HTTP, and what it keeps for itself.
    pub server: ServerSettings,
    /// The database and its pool.
    pub database: DatabaseSettings,
    /// Redis, when configured.
    pub redis: RedisSettings,
    /// The profile cache.
    pub cache: CacheSettings,
    /// Access-token signing and lifetime.
    pub tokens: TokenSettings,
    /// Account rules, as the domain takes them.
    pub accounts: Policy,
    /// Password hashing.
    pub passwords: PasswordSettings,
    /// Rate limits and lockout, as the domain takes them.
    pub limits: LimitSettings,
    /// One-time codes, as the domain takes them.
    pub codes: crate::domain::codes::CodeSettings,
    /// Email and SMS delivery, as the delivery adapter takes it.
    pub delivery: crate::delivery::DeliverySettings,
    /// WeChat apps and endpoints.
    pub wechat: WechatSettings,
}

/// Raw setting values by environment name, from the file, the environment and the seed names.
type RawValues = BTreeMap<&'static str, String>;

/// Reads the TOML file's top-level keys into raw values.
fn read_toml(text: &str, origin: &str, into: &mut RawValues) -> Result<(), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new(origin, format!("not valid TOML: {}", e.message())))?;
    for (name, value) in table {
        let upper = name.to_ascii_uppercase();
        let Some(setting) = SETTINGS
            .iter()
            .find(|s| s.env.strip_prefix("HUFU_") == Some(upper.as_str()))
        else {
            return Err(ConfigError::new(origin, format!("unknown key `{name}`")));
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(ConfigError::new(setting.env, format!("unsupported TOML value {other}")));
            }
        };
        into.insert(setting.env, text);
    }
    Ok(())
}

impl Settings {
    /// Loads settings from an optional TOML text and an environment lookup.
    ///
    /// `config_origin` names the file in error messages. Empty environment values count as
    /// unset, as container tooling often exports empty variables.
    pub fn load(toml_text: Option<(&str, &str)>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut values = RawValues::new();
        if let Some((origin, text)) = toml_text {
            read_toml(text, origin, &mut values)?;
        }
        for setting in SETTINGS {
            if let Some(value) = lookup(setting.env) {
                values.insert(setting.env, value);
            }
        }
        apply_seed_names(&mut values, &lookup);
        let mut settings = Settings::default();
        for setting in SETTINGS {
            if let Some(raw) = values.get(setting.env) {
                (setting.apply)(&mut settings, raw).map_err(|problem| ConfigError::new(setting.env, problem))?;
            }
        }
        Ok(settings)
    }

    /// Every declared setting, in the order of the documentation.
    pub fn declared() -> &'static [Setting] {
        SETTINGS
    }
}

/// Fills `HUFU_JWT_SECRET`, `HUFU_DATABASE_URL` and `HUFU_REDIS_URL` from the seed documents'
/// variable names when the `HUFU_` setting is absent from both the file and the environment.
fn apply_seed_names(values: &mut RawValues, env: &dyn Fn(&str) -> Option<String>) {
    if !values.contains_key(names::HUFU_JWT_SECRET)
        && let Some(secret) = env("JWT_SECRET")
    {
        values.insert(names::HUFU_JWT_SECRET, secret);
    }
    let db = ["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME"].map(&env);
    if !values.contains_key(names::HUFU_DATABASE_URL) && db.iter().any(Option::is_some) {
        let [host, port, user, password, name] = db;
        let user = parse::encode_userinfo(user.as_deref().unwrap_or("root"));
        let password = password
            .map(|p| format!(":{}", parse::encode_userinfo(&p)))
            .unwrap_or_default();
        values.insert(
            names::HUFU_DATABASE_URL,
            format!(
                "mysql://{user}{password}@{}:{}/{}",
                host.as_deref().unwrap_or("127.0.0.1"),
                port.as_deref().unwrap_or("3306"),
                name.as_deref().unwrap_or("hufu"),
            ),
        );
    }
    let redis = ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"].map(&env);
    if !values.contains_key(names::HUFU_REDIS_URL) && redis.iter().any(Option::is_some) {
        let [host, port, password, db] = redis;
        let auth = password
            .map(|p| format!(":{}@", parse::encode_userinfo(&p)))
            .unwrap_or_default();
        values.insert(
            names::HUFU_REDIS_URL,
            format!(
                "redis://{auth}{}:{}/{}",
                host.as_deref().unwrap_or("127.0.0.1"),
                port.as_deref().unwrap_or("6379"),
                db.as_deref().unwrap_or("0"),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password::Argon2Params;
    use std::time::Duration;

    fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(toml.map(|t| ("hufu.toml", t)), &move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_gives_the_embedded_defaults() {
        let s = load(None, &[]).unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://./data/hufu.db");
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(s.accounts.refresh_ttl, Duration::from_secs(604_800));
        assert_eq!(s.passwords.argon2, Argon2Params::OWASP);
        assert!(s.redis.url.is_none() && s.tokens.jwt_secret.is_none());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let s = load(
            Some("access_ttl = \"24h\"\npassword_min_length = 10\n"),
            &[("HUFU_ACCESS_TTL", "30m")],
        )
        .unwrap();
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(1_800));
        assert_eq!(s.accounts.password_min_length, 10);
    }

    #[test]
    fn durations_are_bounded() {
        assert!(
            load(None, &[("HUFU_ACCESS_TTL", "500ms")])
                .unwrap_err()
                .to_string()
                .contains("HUFU_ACCESS_TTL")
        );
        assert!(
            load(None, &[("HUFU_DATABASE_TIMEOUT", "30d")])
                .unwrap_err()
                .to_string()
                .contains("HUFU_DATABASE_TIMEOUT")
        );
        assert_eq!(
            load(None, &[("HUFU_WECHAT_TIMEOUT", "500ms")]).unwrap().wechat.timeout,
            Duration::from_millis(500)
        );
    }

    #[test]
    fn shutdown_and_header_timeouts_come_from_the_file_or_the_environment() {
        let s = load(None, &[]).unwrap();
        assert_eq!(
            (s.server.shutdown_timeout, s.server.header_read_timeout),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        let s = load(
            Some("shutdown_timeout = \"25s\"\nheader_read_timeout = \"2s\"\n"),
            &[("HUFU_SHUTDOWN_TIMEOUT", "1m")],
        )
        .unwrap();
        assert_eq!(s.server.shutdown_timeout, Duration::from_secs(60));
        assert_eq!(s.server.header_read_timeout, Duration::from_secs(2));
        let err = load(None, &[("HUFU_HEADER_READ_TIMEOUT", "0s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HUFU_HEADER_READ_TIMEOUT"), "{err}");
    }

    #[test]
    fn a_bad_setting_names_itself_in_one_line() {
        let err = load(None, &[("HUFU_ACCESS_TTL", "soon")]).unwrap_err().to_string();
        assert!(err.starts_with("invalid setting HUFU_ACCESS_TTL:"), "{err}");
        assert!(!err.contains('\n'));
        let err = load(None, &[("HUFU_JWT_SECRET", "short")]).unwrap_err().to_string();
        assert!(err.contains("HUFU_JWT_SECRET") && err.contains("32 bytes"), "{err}");
        let err = load(Some("acess_ttl = \"1m\""), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown key `acess_ttl`"), "{err}");
        let err = load(None, &[("HUFU_PASSWORD_MIN_LENGTH", "5")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HUFU_PASSWORD_MIN_LENGTH"), "{err}");
        let err = load(None, &[("HUFU_ARGON2_MEMORY_KIB", "64")]).unwrap_err().to_string();
        assert!(err.contains("HUFU_ARGON2_MEMORY_KIB"), "{err}");
    }

    #[test]
    fn the_seed_documents_variable_names_are_read() {
        let secret = "a-seed-style-secret-of-at-least-32-bytes!";
        let s = load(
            None,
            &[
                ("JWT_SECRET", secret),
                ("DB_HOST", "db"),
                ("DB_PASSWORD", "p@ss"),
                ("DB_NAME", "mytest2"),
                ("REDIS_HOST", "cache"),
            ],
        )
        .unwrap();
        assert_eq!(s.tokens.jwt_secret.unwrap().expose(), secret);
        assert_eq!(s.database.url, "mysql://root:p%40ss@db:3306/mytest2");
        assert_eq!(s.redis.url.as_deref(), Some("redis://cache:6379/0"));
    }

    #[test]
    fn hufu_names_win_over_the_seed_names() {
        let s = load(
            None,
            &[
                ("JWT_SECRET", "the-legacy-secret-that-should-lose-000"),
                ("HUFU_JWT_SECRET", "the-hufu-secret-that-should-win-00000"),
                ("DB_HOST", "db"),
                ("HUFU_DATABASE_URL", "postgres://localhost/hufu"),
            ],
        )
        .unwrap();
        assert_eq!(
            s.tokens.jwt_secret.unwrap().expose(),
            "the-hufu-secret-that-should-win-00000"
        );
        assert_eq!(s.database.url, "postgres://localhost/hufu");
    }

    #[test]
    fn lists_and_proxies_parse() {
        let s = load(None, &[("HUFU_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert_eq!(s.server.trusted_proxies.len(), 2);
        assert!(load(None, &[("HUFU_TRUSTED_PROXIES", "nginx")]).is_err());
    }

    #[test]
    fn default_roles_are_a_checked_list() {
        assert_eq!(load(None, &[]).unwrap().accounts.default_roles, vec!["user"]);
        let s = load(None, &[("HUFU_DEFAULT_ROLES", "member, beta ,member")]).unwrap();
        assert_eq!(s.accounts.default_roles, vec!["member", "beta"]);
        let s = load(Some("default_roles = [\"user\", \"trial\"]"), &[]).unwrap();
        assert_eq!(s.accounts.default_roles, vec!["user", "trial"]);
        for bad in ["Admin", "a b", ",", "user,Bad Role"] {
            let err = load(None, &[("HUFU_DEFAULT_ROLES", bad)]).unwrap_err().to_string();
            assert!(err.starts_with("invalid setting HUFU_DEFAULT_ROLES:"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}
