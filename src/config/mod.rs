//! Settings: defaults, then an optional TOML file, then the environment (later wins), plus the
//! seed documents' `JWT_SECRET`, `DB_*` and `REDIS_*` names. Every problem is reported as one
//! line naming the setting, so a bad deployment stops at start instead of misbehaving later.
//! Nothing here is global: the server and the tests build as many `Settings` as they like.

pub mod parse;
pub mod secrets;

pub use crate::domain::password::Argon2Params;

use crate::secret::SecretString;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Every setting name, without the `HUFU_` prefix. TOML keys are these in lower case.
const KNOWN: &[&str] = &[
    "LISTEN",
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_TIMEOUT",
    "REDIS_URL",
    "REDIS_PREFIX",
    "JWT_SECRET",
    "JWT_ALG",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TTL",
    "REFRESH_TTL",
    "PROFILE_CACHE_TTL",
    "PASSWORD_MIN_LENGTH",
    "REQUIRE_PHONE",
    "REGISTRATION_ENABLED",
    "DEFAULT_ROLES",
    "LOCKOUT_THRESHOLD",
    "LOCKOUT_WINDOW",
    "LOCKOUT_DURATION",
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_REGISTER",
    "RATE_LIMIT_REFRESH",
    "RATE_LIMIT_WECHAT",
    "TRUSTED_PROXIES",
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHAT_OAUTH_APPID",
    "WECHAT_OAUTH_SECRET",
    "WECHAT_OAUTH_REDIRECTS",
    "WECHAT_API_BASE",
    "WECHAT_OPEN_BASE",
    "WECHAT_TIMEOUT",
    "PUBLIC_URL",
    "LOG_FORMAT",
    "ENCRYPTION_KEY",
    "DATA_DIR",
    "NODE_ID",
    "REQUEST_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "HEADER_READ_TIMEOUT",
    "PASSWORD_HASH_CONCURRENCY",
    "PASSWORD_HASH_QUEUE",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
];

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

/// Every setting of one hufu node.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://…`, `mysql://…` or `postgres://…`.
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before it gets a 503.
    pub database_timeout: Duration,
    /// Redis for shared cache and limits; `None` keeps both in process.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (several deployments, or tests, can share one Redis).
    pub redis_prefix: String,
    /// HS256 secret; generated into `data_dir` when unset.
    pub jwt_secret: Option<SecretString>,
    /// Token signing algorithm.
    pub jwt_algorithm: JwtAlgorithm,
    /// `iss` of issued tokens, and the only one accepted.
    pub jwt_issuer: String,
    /// `aud` of issued tokens, and the only one accepted.
    pub jwt_audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Profile cache lifetime.
    pub profile_cache_ttl: Duration,
    /// Shortest accepted password, in Unicode code points.
    pub password_min_length: usize,
    /// Whether registration needs a phone number.
    pub require_phone: bool,
    /// Whether anyone may register.
    pub registration_enabled: bool,
    /// Roles given to self-registered and WeChat-created users (validated, de-duplicated).
    pub default_roles: Vec<String>,
    /// Failed logins of one identifier before it is locked.
    pub lockout_threshold: u32,
    /// Window in which failed logins are counted.
    pub lockout_window: Duration,
    /// How long a locked identifier stays locked.
    pub lockout_duration: Duration,
    /// Per-IP requests per minute to login.
    pub rate_limit_login: u32,
    /// Per-IP requests per minute to register.
    pub rate_limit_register: u32,
    /// Per-IP requests per minute to refresh.
    pub rate_limit_refresh: u32,
    /// Per-IP requests per minute to the WeChat endpoints.
    pub rate_limit_wechat: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Mini Program appid.
    pub wechat_appid: Option<String>,
    /// Mini Program secret.
    pub wechat_secret: Option<SecretString>,
    /// Website (open platform) appid.
    pub wechat_oauth_appid: Option<String>,
    /// Website (open platform) secret.
    pub wechat_oauth_secret: Option<SecretString>,
    /// Allowed OAuth `redirect_uri` prefixes.
    pub wechat_oauth_redirects: Vec<String>,
    /// Base URL of the WeChat API.
    pub wechat_api_base: String,
    /// Base URL of the WeChat authorize/QR page.
    pub wechat_open_base: String,
    /// Timeout of one WeChat call.
    pub wechat_timeout: Duration,
    /// External base URL of this service; `None` means `http://` + `listen`.
    pub public_url: Option<String>,
    /// Log format; `None` picks by whether stderr is a terminal.
    pub log_format: Option<LogFormat>,
    /// Key that encrypts secrets at rest (32 bytes); generated into `data_dir` when unset.
    pub encryption_key: Option<[u8; 32]>,
    /// Where generated secrets (and the default SQLite file) live.
    pub data_dir: PathBuf,
    /// Node id for id generation (0–63); random when unset.
    pub node_id: Option<u16>,
    /// Longest time one request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Longest time in-flight requests get to finish after SIGTERM/SIGINT before the
    /// remaining connections are dropped.
    pub shutdown_timeout: Duration,
    /// Longest time a client may take to send a request's line and headers (also how long
    /// an idle keep-alive connection stays open); slower connections are closed.
    pub header_read_timeout: Duration,
    /// Password hashes computed at once (defaults to the number of cores).
    pub password_hash_concurrency: usize,
    /// Password hashes allowed to wait for a worker before new ones are refused with 503.
    pub password_hash_queue: usize,
    /// argon2id cost.
    pub argon2: Argon2Params,
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://./data/hufu.db".into(),
            database_max_connections: 16,
            database_timeout: Duration::from_secs(3),
            redis_url: None,
            redis_prefix: "hufu:".into(),
            jwt_secret: None,
            jwt_algorithm: JwtAlgorithm::Hs256,
            jwt_issuer: "hufu".into(),
            jwt_audience: "hufu".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 86_400),
            profile_cache_ttl: Duration::from_secs(60),
            password_min_length: 8,
            require_phone: true,
            registration_enabled: true,
            default_roles: vec![crate::domain::user::DEFAULT_ROLE.to_owned()],
            lockout_threshold: 5,
            lockout_window: Duration::from_secs(15 * 60),
            lockout_duration: Duration::from_secs(15 * 60),
            rate_limit_login: 20,
            rate_limit_register: 10,
            rate_limit_refresh: 60,
            rate_limit_wechat: 30,
            trusted_proxies: Vec::new(),
            wechat_appid: None,
            wechat_secret: None,
            wechat_oauth_appid: None,
            wechat_oauth_secret: None,
            wechat_oauth_redirects: Vec::new(),
            wechat_api_base: "https://api.weixin.qq.com".into(),
            wechat_open_base: "https://open.weixin.qq.com".into(),
            wechat_timeout: Duration::from_secs(5),
            public_url: None,
            log_format: None,
            encryption_key: None,
            data_dir: PathBuf::from("./data"),
            node_id: None,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            password_hash_concurrency: cores,
            password_hash_queue: 32 * cores,
            argon2: Argon2Params::OWASP,
        }
    }
}

/// Raw setting values by name (without `HUFU_`), from the file and the environment.
struct RawValues(BTreeMap<&'static str, String>);

impl RawValues {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

fn env_name(key: &str) -> String {
    format!("HUFU_{key}")
}

/// Reads the TOML file's top-level keys into raw values.
fn read_toml(text: &str, origin: &str, into: &mut BTreeMap<&'static str, String>) -> Result<(), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new(origin, format!("not valid TOML: {}", e.message())))?;
    for (name, value) in table {
        let upper = name.to_ascii_uppercase();
        let Some(key) = KNOWN.iter().find(|k| **k == upper) else {
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
                return Err(ConfigError::new(
                    &env_name(key),
                    format!("unsupported TOML value {other}"),
                ));
            }
        };
        into.insert(key, text);
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
        let mut values = BTreeMap::new();
        if let Some((origin, text)) = toml_text {
            read_toml(text, origin, &mut values)?;
        }
        for key in KNOWN {
            if let Some(value) = lookup(&env_name(key)) {
                values.insert(*key, value);
            }
        }
        apply_seed_names(&mut values, &lookup);
        Self::from_raw(&RawValues(values))
    }

    fn from_raw(raw: &RawValues) -> Result<Self, ConfigError> {
        let mut s = Settings::default();
        // Small helper: parse the value of `key` with `f` when present.
        fn with<T>(
            raw: &RawValues,
            key: &str,
            f: impl FnOnce(&str) -> Result<T, String>,
        ) -> Result<Option<T>, ConfigError> {
            raw.get(key)
                .map(|v| f(v).map_err(|p| ConfigError::new(&env_name(key), p)))
                .transpose()
        }
        let text = |v: &str| Ok::<_, String>(v.trim().to_owned());

        if let Some(v) = with(raw, "LISTEN", |v| {
            v.trim()
                .parse::<SocketAddr>()
                .map_err(|_| format!("expected an address like 127.0.0.1:8080, got {v:?}"))
        })? {
            s.listen = v;
        }
        if let Some(v) = with(raw, "DATABASE_URL", |v| {
            let v = v.trim();
            let known = ["sqlite:", "mysql://", "mariadb://", "postgres://", "postgresql://"];
            if known.iter().any(|p| v.starts_with(p)) {
                Ok(v.to_owned())
            } else {
                Err(format!("expected sqlite://PATH, mysql://… or postgres://…, got {v:?}"))
            }
        })? {
            s.database_url = v;
        }
        if let Some(v) = with(raw, "DATABASE_MAX_CONNECTIONS", |v| parse::number_in(v, 1u32, 1_000))? {
            s.database_max_connections = v;
        }
        s.redis_url = with(raw, "REDIS_URL", |v| {
            let v = v.trim();
            if ["redis://", "rediss://", "redis+cluster://", "rediss+cluster://"]
                .iter()
                .any(|p| v.starts_with(p))
            {
                Ok(v.to_owned())
            } else {
                Err(format!("expected redis://… or redis+cluster://host1,host2…, got {v:?}"))
            }
        })?;
        if let Some(v) = with(raw, "REDIS_PREFIX", |v| {
            let v = v.trim();
            if v.is_empty() || v.len() > 64 || v.contains(|c: char| c.is_whitespace() || c == '{' || c == '}') {
                Err(format!(
                    "expected up to 64 characters without spaces or braces, got {v:?}"
                ))
            } else {
                Ok(v.to_owned())
            }
        })? {
            s.redis_prefix = v;
        }
        s.jwt_secret = with(raw, "JWT_SECRET", |v| {
            if v.len() < 32 {
                Err(format!("must be at least 32 bytes, got {}", v.len()))
            } else {
                Ok(SecretString::new(v))
            }
        })?;
        if let Some(v) = with(raw, "JWT_ALG", |v| match v.trim() {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "EdDSA" => Ok(JwtAlgorithm::EdDsa),
            other => Err(format!("expected HS256 or EdDSA, got {other:?}")),
        })? {
            s.jwt_algorithm = v;
        }
        if let Some(v) = with(raw, "JWT_ISSUER", text)? {
            s.jwt_issuer = v;
        }
        if let Some(v) = with(raw, "JWT_AUDIENCE", text)? {
            s.jwt_audience = v;
        }
        // Lifetimes are whole seconds in tokens; timeouts must fit the drivers' millisecond
        // fields. Each has bounds so a typo cannot produce a zero TTL or a driver panic.
        const SECOND: Duration = Duration::from_secs(1);
        const MILLI: Duration = Duration::from_millis(1);
        const HOUR: Duration = Duration::from_secs(3_600);
        const YEAR: Duration = Duration::from_secs(366 * 86_400);
        for (key, slot, min, max) in [
            ("ACCESS_TTL", &mut s.access_ttl, SECOND, YEAR),
            ("REFRESH_TTL", &mut s.refresh_ttl, SECOND, YEAR),
            ("PROFILE_CACHE_TTL", &mut s.profile_cache_ttl, SECOND, YEAR),
            ("LOCKOUT_WINDOW", &mut s.lockout_window, SECOND, YEAR),
            ("LOCKOUT_DURATION", &mut s.lockout_duration, SECOND, YEAR),
            ("WECHAT_TIMEOUT", &mut s.wechat_timeout, MILLI, HOUR),
            ("REQUEST_TIMEOUT", &mut s.request_timeout, MILLI, HOUR),
            ("SHUTDOWN_TIMEOUT", &mut s.shutdown_timeout, MILLI, HOUR),
            ("HEADER_READ_TIMEOUT", &mut s.header_read_timeout, MILLI, HOUR),
            ("DATABASE_TIMEOUT", &mut s.database_timeout, MILLI, HOUR),
        ] {
            if let Some(v) = with(raw, key, |v| parse::duration_within(v, min, max))? {
                *slot = v;
            }
        }
        if let Some(v) = with(raw, "PASSWORD_MIN_LENGTH", |v| parse::number_in(v, 6usize, 128))? {
            s.password_min_length = v;
        }
        if let Some(v) = with(raw, "REQUIRE_PHONE", parse::boolean)? {
            s.require_phone = v;
        }
        if let Some(v) = with(raw, "REGISTRATION_ENABLED", parse::boolean)? {
            s.registration_enabled = v;
        }
        if let Some(v) = with(raw, "DEFAULT_ROLES", |v| {
            let names = parse::list(v);
            if names.is_empty() {
                return Err("expected a comma-separated list of at least one role name".to_owned());
            }
            crate::domain::admin::role_list(&names)
                .map_err(|_| format!("role names are 1-32 of lower-case letters, digits, _ and -, got {v:?}"))
        })? {
            s.default_roles = v;
        }
        for (key, slot) in [
            ("LOCKOUT_THRESHOLD", &mut s.lockout_threshold),
            ("RATE_LIMIT_LOGIN", &mut s.rate_limit_login),
            ("RATE_LIMIT_REGISTER", &mut s.rate_limit_register),
            ("RATE_LIMIT_REFRESH", &mut s.rate_limit_refresh),
            ("RATE_LIMIT_WECHAT", &mut s.rate_limit_wechat),
        ] {
            if let Some(v) = with(raw, key, |v| parse::number_in(v, 1u32, 1_000_000))? {
                *slot = v;
            }
        }
        if let Some(v) = with(raw, "TRUSTED_PROXIES", |v| {
            parse::list(v)
                .into_iter()
                .map(|item| {
                    item.parse::<IpNet>()
                        .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("expected IP addresses or CIDR ranges, got {item:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })? {
            s.trusted_proxies = v;
        }
        s.wechat_appid = with(raw, "WECHAT_APPID", text)?;
        s.wechat_secret = with(raw, "WECHAT_SECRET", |v| Ok(SecretString::new(v.trim())))?;
        s.wechat_oauth_appid = with(raw, "WECHAT_OAUTH_APPID", text)?;
        s.wechat_oauth_secret = with(raw, "WECHAT_OAUTH_SECRET", |v| Ok(SecretString::new(v.trim())))?;
        if let Some(v) = with(raw, "WECHAT_OAUTH_REDIRECTS", |v| {
            let entries = parse::list(v);
            match entries
                .iter()
                .find(|e| !(e.starts_with("http://") || e.starts_with("https://")))
            {
                Some(bad) => Err(format!("entries must be http(s) URLs, got {bad:?}")),
                None => Ok(entries),
            }
        })? {
            s.wechat_oauth_redirects = v;
        }
        for (key, slot) in [
            ("WECHAT_API_BASE", &mut s.wechat_api_base),
            ("WECHAT_OPEN_BASE", &mut s.wechat_open_base),
        ] {
            if let Some(v) = with(raw, key, http_url)? {
                *slot = v;
            }
        }
        s.public_url = with(raw, "PUBLIC_URL", http_url)?;
        s.log_format = with(raw, "LOG_FORMAT", |v| match v.trim() {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            other => Err(format!("expected json or pretty, got {other:?}")),
        })?;
        s.encryption_key = with(raw, "ENCRYPTION_KEY", |v| {
            secrets::decode_key(v).ok_or_else(|| "expected 32 bytes in base64".to_owned())
        })?;
        if let Some(v) = with(raw, "DATA_DIR", |v| Ok(PathBuf::from(v.trim())))? {
            s.data_dir = v;
        }
        s.node_id = with(raw, "NODE_ID", |v| parse::number_in(v, 0u16, crate::id::MAX_NODE_ID))?;
        if let Some(v) = with(raw, "PASSWORD_HASH_CONCURRENCY", |v| parse::number_in(v, 1usize, 1_024))? {
            s.password_hash_concurrency = v;
        }
        if let Some(v) = with(raw, "PASSWORD_HASH_QUEUE", |v| parse::number_in(v, 0usize, 1_000_000))? {
            s.password_hash_queue = v;
        }
        // The floors keep a deployment from configuring itself into weak hashes; OWASP's
        // cheapest listed argon2id setting uses 7 MiB.
        if let Some(v) = with(raw, "ARGON2_MEMORY_KIB", |v| parse::number_in(v, 7_168u32, 4_194_304))? {
            s.argon2.memory_kib = v;
        }
        if let Some(v) = with(raw, "ARGON2_ITERATIONS", |v| parse::number_in(v, 1u32, 100))? {
            s.argon2.iterations = v;
        }
        if let Some(v) = with(raw, "ARGON2_PARALLELISM", |v| parse::number_in(v, 1u32, 64))? {
            s.argon2.parallelism = v;
        }
        Ok(s)
    }

    /// The external base URL: `HUFU_PUBLIC_URL`, or `http://` + the listen address.
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

fn http_url(raw: &str) -> Result<String, String> {
    let v = raw.trim().trim_end_matches('/');
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.to_owned())
    } else {
        Err(format!("expected an http:// or https:// URL, got {raw:?}"))
    }
}

/// Fills `JWT_SECRET`, `DATABASE_URL` and `REDIS_URL` from the seed documents' variable names
/// when the `HUFU_` setting is absent from both the file and the environment.
fn apply_seed_names(values: &mut BTreeMap<&'static str, String>, env: &dyn Fn(&str) -> Option<String>) {
    if !values.contains_key("JWT_SECRET")
        && let Some(secret) = env("JWT_SECRET")
    {
        values.insert("JWT_SECRET", secret);
    }
    let db = ["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME"].map(&env);
    if !values.contains_key("DATABASE_URL") && db.iter().any(Option::is_some) {
        let [host, port, user, password, name] = db;
        let user = parse::encode_userinfo(user.as_deref().unwrap_or("root"));
        let password = password
            .map(|p| format!(":{}", parse::encode_userinfo(&p)))
            .unwrap_or_default();
        values.insert(
            "DATABASE_URL",
            format!(
                "mysql://{user}{password}@{}:{}/{}",
                host.as_deref().unwrap_or("127.0.0.1"),
                port.as_deref().unwrap_or("3306"),
                name.as_deref().unwrap_or("hufu"),
            ),
        );
    }
    let redis = ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"].map(&env);
    if !values.contains_key("REDIS_URL") && redis.iter().any(Option::is_some) {
        let [host, port, password, db] = redis;
        let auth = password
            .map(|p| format!(":{}@", parse::encode_userinfo(&p)))
            .unwrap_or_default();
        values.insert(
            "REDIS_URL",
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

    fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(toml.map(|t| ("hufu.toml", t)), &move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_gives_the_embedded_defaults() {
        let s = load(None, &[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/hufu.db");
        assert_eq!(s.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_ttl, Duration::from_secs(604_800));
        assert_eq!(s.argon2, Argon2Params::OWASP);
        assert!(s.redis_url.is_none() && s.jwt_secret.is_none());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let s = load(
            Some("access_ttl = \"24h\"\npassword_min_length = 10\n"),
            &[("HUFU_ACCESS_TTL", "30m")],
        )
        .unwrap();
        assert_eq!(s.access_ttl, Duration::from_secs(1_800));
        assert_eq!(s.password_min_length, 10);
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
            load(None, &[("HUFU_WECHAT_TIMEOUT", "500ms")]).unwrap().wechat_timeout,
            Duration::from_millis(500)
        );
    }

    #[test]
    fn shutdown_and_header_timeouts_come_from_the_file_or_the_environment() {
        let s = load(None, &[]).unwrap();
        assert_eq!(
            (s.shutdown_timeout, s.header_read_timeout),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        let s = load(
            Some("shutdown_timeout = \"25s\"\nheader_read_timeout = \"2s\"\n"),
            &[("HUFU_SHUTDOWN_TIMEOUT", "1m")],
        )
        .unwrap();
        assert_eq!(s.shutdown_timeout, Duration::from_secs(60));
        assert_eq!(s.header_read_timeout, Duration::from_secs(2));
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
        assert_eq!(s.jwt_secret.unwrap().expose(), secret);
        assert_eq!(s.database_url, "mysql://root:p%40ss@db:3306/mytest2");
        assert_eq!(s.redis_url.as_deref(), Some("redis://cache:6379/0"));
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
        assert_eq!(s.jwt_secret.unwrap().expose(), "the-hufu-secret-that-should-win-00000");
        assert_eq!(s.database_url, "postgres://localhost/hufu");
    }

    #[test]
    fn lists_and_proxies_parse() {
        let s = load(None, &[("HUFU_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(load(None, &[("HUFU_TRUSTED_PROXIES", "nginx")]).is_err());
    }

    #[test]
    fn default_roles_are_a_checked_list() {
        assert_eq!(load(None, &[]).unwrap().default_roles, vec!["user"]);
        let s = load(None, &[("HUFU_DEFAULT_ROLES", "member, beta ,member")]).unwrap();
        assert_eq!(s.default_roles, vec!["member", "beta"]);
        let s = load(Some("default_roles = [\"user\", \"trial\"]"), &[]).unwrap();
        assert_eq!(s.default_roles, vec!["user", "trial"]);
        for bad in ["Admin", "a b", ",", "user,Bad Role"] {
            let err = load(None, &[("HUFU_DEFAULT_ROLES", bad)]).unwrap_err().to_string();
            assert!(err.starts_with("invalid setting HUFU_DEFAULT_ROLES:"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}
