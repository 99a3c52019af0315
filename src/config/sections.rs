//! Every setting, declared once: its environment name, where its value goes, its default, its
//! parser and its documentation. The loader, the list of TOML keys, the names in messages and
//! `docs/configuration.md` all come from here (see `config::declare` for the syntax).
//!
//! The sections that another layer consumes are that layer's own types (`Policy`,
//! `LimitSettings`, `PoolSettings`, `Argon2Params`), so assembly hands them over as they are;
//! this module may import them, never the other way round.

use super::declare::settings;
use super::parse::{self, HOUR, MILLI, MINUTE, SECOND, YEAR};
use super::{JwtAlgorithm, LogFormat};
use crate::delivery::DeliverySettings;
use crate::delivery::sms::{SmsProvider, SmsSettings};
use crate::domain::Policy;
use crate::domain::codes::{CodeSettings, RequireVerified};
use crate::domain::limits::LimitSettings;
use crate::domain::password::Argon2Params;
use crate::secret::SecretString;
use crate::store::sql::PoolSettings;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The number of cores, which the hashing pool's defaults follow.
fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

settings! {
    /// Where and how this node serves HTTP, and what it keeps for itself.
    server: struct ServerSettings {
        /// Address to listen on.
        HUFU_LISTEN listen: SocketAddr = "127.0.0.1:8080", parse::socket_addr;
        /// External base URL of hufu (the WeChat callback URL is built from it).
        HUFU_PUBLIC_URL public_url: Option<String> = (unset "`http://` + `HUFU_LISTEN`"), parse::http_url;
        /// Comma-separated IPs/CIDRs whose `X-Forwarded-For` is believed.
        HUFU_TRUSTED_PROXIES trusted_proxies: Vec<IpNet> = "", parse::ip_nets;
        /// Longest a request may take before it is answered 503.
        HUFU_REQUEST_TIMEOUT request_timeout: Duration = "30s", |v| parse::duration_within(v, MILLI, HOUR);
        /// After SIGTERM/SIGINT, how long in-flight requests may take to finish before the
        /// rest are dropped ([docs/operations.md](operations.md)).
        HUFU_SHUTDOWN_TIMEOUT shutdown_timeout: Duration = "10s", |v| parse::duration_within(v, MILLI, HOUR);
        /// Longest a client may take to send a request's line and headers, and longest an idle
        /// keep-alive connection stays open.
        HUFU_HEADER_READ_TIMEOUT header_read_timeout: Duration = "10s", |v| parse::duration_within(v, MILLI, HOUR);
        /// `json` or `pretty`.
        HUFU_LOG_FORMAT log_format: Option<LogFormat> = (unset "`pretty` on a terminal, else `json`"),
            parse::log_format;
        /// Where generated secrets (and the default SQLite file) live.
        HUFU_DATA_DIR data_dir: PathBuf = "./data", parse::path;
        /// 32 bytes, base64, encrypting secrets at rest (WeChat session keys, TOTP secrets,
        /// EdDSA private keys); every node must share it.
        HUFU_ENCRYPTION_KEY encryption_key: Option<[u8; 32]> = (unset "generated into `./data/encryption_key`"),
            parse::key;
        /// This node's id (0–63) in generated ids; give each node its own.
        HUFU_NODE_ID node_id: Option<u16> = (unset "random"), |v| parse::number_in(v, 0u16, crate::id::MAX_NODE_ID);
    }

    /// The database: SQLite, MySQL/MariaDB or PostgreSQL.
    database: struct DatabaseSettings {
        /// `sqlite://PATH`, `mysql://…` (MySQL and MariaDB) or `postgres://…`.
        HUFU_DATABASE_URL url: String = "sqlite://./data/hufu.db", parse::database_url;
    } + {
        /// The connection pool.
        pool: PoolSettings,
    }

    /// Its connection pool is bounded in size and in waiting, so a dead database gives a fast
    /// 503 instead of hung requests.
    database.pool: use PoolSettings {
        /// Database pool size (1–1000).
        HUFU_DATABASE_MAX_CONNECTIONS max_connections: u32 = "16", |v| parse::number_in(v, 1u32, 1_000);
        /// Longest wait for a database connection before answering 503.
        HUFU_DATABASE_TIMEOUT timeout: Duration = "3s", |v| parse::duration_within(v, MILLI, HOUR);
    }

    /// Redis, shared by every node for the cache, the limits and the events between nodes.
    redis: struct RedisSettings {
        /// `redis://…`, `rediss://…`, or `redis+cluster://h1:p1,h2:p2` / a list for Redis
        /// Cluster.
        HUFU_REDIS_URL url: Option<String> = (unset "unset: cache and limits in process"), parse::redis_url;
        /// Prefix of every Redis key and of the event channel (up to 64 characters, no spaces
        /// or braces).
        HUFU_REDIS_PREFIX prefix: String = "hufu:", parse::redis_prefix;
    }

    /// The profile cache.
    cache: struct CacheSettings {
        /// Profile cache lifetime.
        HUFU_PROFILE_CACHE_TTL profile_ttl: Duration = "60s", |v| parse::duration_within(v, SECOND, YEAR);
    }

    /// Access tokens: how they are signed and for how long they hold.
    tokens: struct TokenSettings {
        /// HS256 secret, at least 32 bytes (the seed name `JWT_SECRET` is read when this is
        /// unset).
        HUFU_JWT_SECRET jwt_secret: Option<SecretString> = (unset "generated into `./data/jwt_secret`"),
            parse::jwt_secret;
        /// `HS256`, or `EdDSA` (keys in the database, published at `/.well-known/jwks.json`).
        HUFU_JWT_ALG jwt_algorithm: JwtAlgorithm = "HS256", parse::jwt_algorithm;
        /// `iss` of issued tokens, and the only one accepted.
        HUFU_JWT_ISSUER issuer: String = "hufu", parse::text;
        /// `aud` of issued tokens, and the only one accepted.
        HUFU_JWT_AUDIENCE audience: String = "hufu", parse::text;
        /// Access-token lifetime (`900s`, `15m`, `24h`, `7d`).
        HUFU_ACCESS_TTL access_ttl: Duration = "15m", |v| parse::duration_within(v, SECOND, YEAR);
    }

    /// Accounts: who may register and how.
    accounts: use Policy {
        /// Shortest password, in characters (6–128).
        HUFU_PASSWORD_MIN_LENGTH password_min_length: usize = "8", |v| parse::number_in(v, 6usize, 128);
        /// Phone required at registration.
        HUFU_REQUIRE_PHONE require_phone: bool = "true", parse::boolean;
        /// Self-registration on/off.
        HUFU_REGISTRATION_ENABLED registration_enabled: bool = "true", parse::boolean;
        /// Comma-separated roles of new self-registered and WeChat-created users (and of
        /// `hufu user create` without `--role`).
        HUFU_DEFAULT_ROLES default_roles: Vec<String> = (text crate::domain::user::DEFAULT_ROLE), parse::roles;
        /// Refresh-token (and session) lifetime.
        HUFU_REFRESH_TTL refresh_ttl: Duration = "7d", |v| parse::duration_within(v, SECOND, YEAR);
        /// How long a session lasts after its sign-in, however often it refreshes (the refresh
        /// lifetime stays the idle limit).
        HUFU_SESSION_MAX_AGE session_max_age: Duration = "30d", |v| parse::duration_within(v, SECOND, YEAR);
        /// How long after a refresh a duplicate of it (a lost response, two tabs) gets the same
        /// new refresh token instead of revoking the session as reuse (0s–1m; 0 turns it off).
        HUFU_REFRESH_REUSE_GRACE refresh_reuse_grace: Duration = "10s", |v| parse::duration_up_to(v, MINUTE);
        /// How recently a session must have proved a credential (sign-in or `POST /auth/reauth`)
        /// to change username, email, phone, a first password, TOTP or WeChat (1s–1d).
        HUFU_REAUTH_WINDOW reauth_window: Duration = "10m", |v| parse::duration_within(v, SECOND, 24 * HOUR);
    }

    /// Password hashing: argon2id on a bounded pool of threads.
    passwords: struct PasswordSettings {
        /// Password-hashing threads (1–1024; each keeps a work area of `HUFU_ARGON2_MEMORY_KIB`).
        HUFU_PASSWORD_HASH_CONCURRENCY hash_concurrency: usize = (computed cores(), "number of cores"),
            |v| parse::number_in(v, 1usize, 1_024);
        /// Hashes allowed to wait before new ones get 503 (0–1000000).
        HUFU_PASSWORD_HASH_QUEUE hash_queue: usize = (computed 32 * cores(), "32 × cores"),
            |v| parse::number_in(v, 0usize, 1_000_000);
    } + {
        /// argon2id cost.
        argon2: Argon2Params,
    }

    /// The argon2id cost has floors that keep a deployment from configuring itself into weak
    /// hashes (OWASP's cheapest listed argon2id setting uses 7 MiB).
    passwords.argon2: use Argon2Params {
        /// argon2id memory in KiB (7168–4194304).
        HUFU_ARGON2_MEMORY_KIB memory_kib: u32 = "19456", |v| parse::number_in(v, 7_168u32, 4_194_304);
        /// argon2id passes over memory (1–100).
        HUFU_ARGON2_ITERATIONS iterations: u32 = "2", |v| parse::number_in(v, 1u32, 100);
        /// argon2id lanes (1–64).
        HUFU_ARGON2_PARALLELISM parallelism: u32 = "1", |v| parse::number_in(v, 1u32, 64);
    }

    /// Rate limits per client IP and lockout per identifier (contract section 5).
    limits: use LimitSettings {
        /// Per-IP requests per minute to login (1–1000000).
        HUFU_RATE_LIMIT_LOGIN login_per_minute: u32 = "20", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Per-IP requests per minute to register (1–1000000).
        HUFU_RATE_LIMIT_REGISTER register_per_minute: u32 = "10", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Per-IP requests per minute to refresh (1–1000000).
        HUFU_RATE_LIMIT_REFRESH refresh_per_minute: u32 = "60", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Per-IP requests per minute to the WeChat endpoints (1–1000000).
        HUFU_RATE_LIMIT_WECHAT wechat_per_minute: u32 = "30", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Per-IP one-time code sends per minute (1–1000000).
        HUFU_RATE_LIMIT_CODE code_per_minute: u32 = "5", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Per-IP signed-in password and code checks per minute: password change, TOTP
        /// disable, `/users/verify` (1–1000000).
        HUFU_RATE_LIMIT_VERIFY verify_per_minute: u32 = "10", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Failed logins of one identifier before it is locked (1–1000000).
        HUFU_LOCKOUT_THRESHOLD lockout_threshold: u32 = "5", |v| parse::number_in(v, 1u32, 1_000_000);
        /// Window in which failed logins are counted.
        HUFU_LOCKOUT_WINDOW lockout_window: Duration = "15m", |v| parse::duration_within(v, SECOND, YEAR);
        /// How long a locked identifier stays locked.
        HUFU_LOCKOUT_DURATION lockout_duration: Duration = "15m", |v| parse::duration_within(v, SECOND, YEAR);
    }

    /// One-time codes by SMS and email ([docs/codes.md](codes.md)).
    codes: use CodeSettings {
        /// How long a one-time code is valid (1s–1h).
        HUFU_CODE_TTL ttl: Duration = "5m", |v| parse::duration_within(v, SECOND, HOUR);
        /// Shortest time between two sends to one target, any purpose (0s–10m).
        HUFU_CODE_RESEND_INTERVAL resend_interval: Duration = "60s", |v| parse::duration_up_to(v, 10 * MINUTE);
        /// Sends per target per 24 hours, counted in the database (1–1000000).
        HUFU_CODE_DAILY_LIMIT daily_limit: u32 = "10", |v| parse::number_in(v, 1u32, 1_000_000);
        /// A code sign-in with an unknown phone creates an account.
        HUFU_CODE_SIGNUP signup: bool = "true", parse::boolean;
        /// Comma list of `email`, `phone`: identifiers that must be proved by a code at
        /// registration and change, and that password sign-in matches only when proved.
        HUFU_REQUIRE_VERIFIED require_verified: RequireVerified = "", RequireVerified::parse;
    }

    /// How codes reach people: email over SMTP, SMS through a provider; a channel without
    /// delivery answers 501 `CODE_CHANNEL_NOT_CONFIGURED`.
    delivery: use DeliverySettings {
        /// Longest one email or SMS delivery may take.
        HUFU_DELIVERY_TIMEOUT timeout: Duration = "5s", |v| parse::duration_within(v, MILLI, HOUR);
        /// `smtp://user:pass@host:587` (STARTTLS required), `smtps://…:465` (implicit TLS),
        /// `smtp+insecure://host:25` (plain, a local relay only) or `log:` (the server log).
        HUFU_SMTP_URL smtp_url: Option<SecretString> = (unset "unset: no email"), parse::smtp_url;
        /// The `From` of every email (`hufu <no-reply@example.com>`).
        HUFU_MAIL_FROM mail_from: Option<String> = (unset "unset"), parse::text;
        /// A PEM file of roots to trust for the SMTP server, besides the system's.
        HUFU_SMTP_CA_FILE smtp_ca_file: Option<PathBuf> = (unset "system roots only"), parse::path;
    } + {
        /// The SMS provider.
        sms: SmsSettings,
    }

    /// An SMS provider needs its credentials, a signature and a template.
    delivery.sms: use SmsSettings {
        /// `aliyun`, `tencent`, `webhook` or `log` (the server log).
        HUFU_SMS_PROVIDER provider: Option<SmsProvider> = (unset "unset: no SMS"), SmsProvider::parse;
        /// Aliyun AccessKeyId / Tencent SecretId.
        HUFU_SMS_ACCESS_KEY_ID access_key_id: Option<String> = (unset "unset"), parse::text;
        /// Aliyun AccessKeySecret / Tencent SecretKey.
        HUFU_SMS_ACCESS_KEY_SECRET access_key_secret: Option<SecretString> = (unset "unset"), parse::secret;
        /// The SMS signature (签名).
        HUFU_SMS_SIGN_NAME sign_name: Option<String> = (unset "unset"), parse::text;
        /// The template of every purpose that has none of its own.
        HUFU_SMS_TEMPLATE template: Option<String> = (unset "unset"), parse::text;
        /// The template of `login` codes.
        HUFU_SMS_TEMPLATE_LOGIN template_login: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template of `register` codes.
        HUFU_SMS_TEMPLATE_REGISTER template_register: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template of `reset_password` codes.
        HUFU_SMS_TEMPLATE_RESET_PASSWORD template_reset_password: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template of `verify` codes.
        HUFU_SMS_TEMPLATE_VERIFY template_verify: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template of `change` codes.
        HUFU_SMS_TEMPLATE_CHANGE template_change: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template of `reauth` codes.
        HUFU_SMS_TEMPLATE_REAUTH template_reauth: Option<String> = (unset "`HUFU_SMS_TEMPLATE`"), parse::text;
        /// The template variable that carries the code (Aliyun `TemplateParam` key).
        HUFU_SMS_TEMPLATE_PARAM template_param: String = "code", parse::text;
        /// Tencent's SmsSdkAppId.
        HUFU_SMS_SDK_APP_ID sdk_app_id: Option<String> = (unset "unset"), parse::text;
        /// The provider's region.
        HUFU_SMS_REGION region: Option<String> = (unset "`cn-hangzhou` (aliyun), `ap-guangzhou` (tencent)"), parse::text;
        /// The provider's API base URL (tests point it at a fake provider).
        HUFU_SMS_API_BASE api_base: Option<String> = (unset "the provider's public endpoint"), parse::http_url;
        /// Where the `webhook` provider posts `{phone, code, purpose, lang}`.
        HUFU_SMS_WEBHOOK_URL webhook_url: Option<String> = (unset "unset"), parse::http_url;
        /// The key that signs the `webhook` provider's posts.
        HUFU_SMS_WEBHOOK_SECRET webhook_secret: Option<SecretString> = (unset "unset"), parse::secret;
    }

    /// WeChat sign-in ([docs/wechat.md](wechat.md)): an app without both its appid and its
    /// secret is not configured, and its endpoints answer 501.
    wechat: struct WechatSettings {
        /// Mini Program appid.
        HUFU_WECHAT_APPID appid: Option<String> = (unset "unset"), parse::text;
        /// Mini Program secret.
        HUFU_WECHAT_SECRET secret: Option<SecretString> = (unset "unset"), parse::secret;
        /// Website (open platform) appid.
        HUFU_WECHAT_OAUTH_APPID oauth_appid: Option<String> = (unset "unset"), parse::text;
        /// Website (open platform) secret.
        HUFU_WECHAT_OAUTH_SECRET oauth_secret: Option<SecretString> = (unset "unset"), parse::secret;
        /// Comma-separated allowed OAuth `redirect_uri` prefixes (scheme, host, port and a path
        /// prefix).
        HUFU_WECHAT_OAUTH_REDIRECTS oauth_redirects: Vec<String> = "", parse::http_urls;
        /// Base URL of the WeChat API.
        HUFU_WECHAT_API_BASE api_base: String = "https://api.weixin.qq.com", parse::http_url;
        /// Base URL of the WeChat authorize/QR page.
        HUFU_WECHAT_OPEN_BASE open_base: String = "https://open.weixin.qq.com", parse::http_url;
        /// Timeout of one WeChat call.
        HUFU_WECHAT_TIMEOUT timeout: Duration = "5s", |v| parse::duration_within(v, MILLI, HOUR);
    }
}

impl ServerSettings {
    /// The external base URL: `HUFU_PUBLIC_URL`, or `http://` + the listen address.
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}
