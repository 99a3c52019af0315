//! Prometheus metrics: every metric hufu exports, its labels, and the rendering of
//! `GET /metrics` (contract section 9 names them; `docs/operations.md` explains them).
//!
//! Each node (each [`AppState`](crate::http::AppState)) owns one [`Metrics`] with its own
//! `PrometheusRecorder`; nothing is installed as the process-wide `metrics` recorder, so
//! several nodes in one process (the tests start many) never share or fight over counters.
//! Code records through the handles kept here, not through the `metrics::counter!` macros.
//!
//! Cost on the hot path: the per-request counter and histogram handles are looked up in a
//! table built once per router (route template × method × common status), so a request
//! allocates nothing and takes no lock; a counter is one atomic add, a histogram sample one
//! lock-free push that [`Metrics::upkeep`] folds into buckets every few seconds. Values that
//! already live in an atomic (cache hits, the hashing pool's in-flight count, pool sizes) are
//! read only when scraped.

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::OnceLock;

/// Requests by method, route template and status.
pub const HTTP_REQUESTS: &str = "hufu_http_requests_total";
/// Request latency by method and route template (seconds).
pub const HTTP_DURATION: &str = "hufu_http_request_duration_seconds";
/// Sign-in attempts by method and outcome.
pub const LOGINS: &str = "hufu_logins_total";
/// Profile-cache look-ups by level and result.
pub const CACHE_REQUESTS: &str = "hufu_cache_requests_total";
/// Password hashes running or waiting.
pub const HASH_QUEUE_DEPTH: &str = "hufu_password_hash_queue_depth";
/// Time one hash or verification takes on a hashing thread (seconds).
pub const HASH_DURATION: &str = "hufu_password_hash_duration_seconds";
/// WeChat API calls by api and outcome.
pub const WECHAT_REQUESTS: &str = "hufu_wechat_requests_total";
/// One-time code sends by channel, purpose and outcome.
pub const CODES_SENT: &str = "hufu_codes_sent_total";
/// One-time code checks by outcome.
pub const CODE_CHECKS: &str = "hufu_code_checks_total";
/// Database pool connections by state.
pub const DB_POOL: &str = "hufu_db_pool_connections";

/// Request latency buckets: the authenticated read path answers in well under a millisecond,
/// a password login in tens of milliseconds, the request timeout is seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Hash buckets: about 15 ms at OWASP settings; imported bcrypt cost 12 takes about 230 ms.
const HASH_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// How a user tried to sign in (`method` of `hufu_logins_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// `POST /auth/login`.
    Password,
    /// `POST /auth/mfa` (the second step).
    Mfa,
    /// `POST /auth/wechat/miniprogram`.
    MiniProgram,
    /// The WeChat website OAuth callback.
    Website,
    /// `POST /auth/login/code` (a one-time code by SMS or email).
    Code,
}

impl LoginMethod {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::Mfa => "mfa",
            LoginMethod::MiniProgram => "miniprogram",
            LoginMethod::Website => "website",
            LoginMethod::Code => "code",
        }
    }
}

/// How a sign-in attempt ended (`outcome` of `hufu_logins_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    /// Signed in: tokens issued.
    Success,
    /// Right password, a second factor is needed (`POST /auth/mfa` follows).
    MfaRequired,
    /// Wrong identifier or password.
    InvalidCredentials,
    /// Wrong or replayed TOTP/recovery code, or a bad `mfa_token`.
    InvalidCode,
    /// The identifier is locked after too many failures.
    Locked,
    /// The account is disabled.
    Disabled,
    /// The client IP is over its limit.
    RateLimited,
    /// The request was missing a field or malformed.
    InvalidRequest,
    /// WeChat refused the code, failed or is not configured.
    WechatError,
    /// Overload (hashing queue full) or a failing database.
    Unavailable,
    /// Anything else (internal errors).
    Error,
}

impl LoginResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::MfaRequired => "mfa_required",
            LoginResult::InvalidCredentials => "invalid_credentials",
            LoginResult::InvalidCode => "invalid_code",
            LoginResult::Locked => "locked",
            LoginResult::Disabled => "disabled",
            LoginResult::RateLimited => "rate_limited",
            LoginResult::InvalidRequest => "invalid_request",
            LoginResult::WechatError => "wechat_error",
            LoginResult::Unavailable => "unavailable",
            LoginResult::Error => "error",
        }
    }
}

/// Statuses that get a pre-registered counter per route and method; others are registered on
/// first use through the recorder (one small allocation per such request, rare by nature).
const COMMON_STATUSES: [u16; 20] = [
    200, 201, 204, 302, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 423, 429, 500, 501, 503, 504,
];

fn status_slot(status: u16) -> Option<usize> {
    COMMON_STATUSES.iter().position(|&s| s == status)
}

/// Methods with their own slot; anything else is labelled `OTHER`.
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"];

fn method_slot(method: &axum::http::Method) -> usize {
    use axum::http::Method;
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// The route label of requests no route matched (404 scans must not create label values).
pub const UNMATCHED: &str = "unmatched";

/// The label values of one status code, made once per process.
fn status_label(status: u16) -> &'static str {
    static LABELS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        (0..1000u16)
            .map(|s| &*Box::leak(s.to_string().into_boxed_str()))
            .collect()
    });
    labels.get(usize::from(status)).copied().unwrap_or("other")
}

/// Counters and histogram of one (route, method) pair, registered on first use.
#[derive(Default)]
struct RouteMethod {
    duration: OnceLock<Histogram>,
    statuses: [OnceLock<Counter>; COMMON_STATUSES.len()],
}

/// The per-request handles of one router: built once from its route templates.
pub struct HttpTable {
    metrics: std::sync::Arc<Metrics>,
    /// Route template → index into `slots` (the last index is [`UNMATCHED`]).
    index: std::collections::HashMap<&'static str, usize>,
    templates: Vec<&'static str>,
    slots: Vec<[RouteMethod; METHODS.len()]>,
}

impl std::fmt::Debug for HttpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTable")
            .field("routes", &self.templates.len())
            .finish()
    }
}

impl HttpTable {
    /// A table for `templates` (the router's paths) plus [`UNMATCHED`].
    pub fn new(metrics: std::sync::Arc<Metrics>, templates: &[&'static str]) -> Self {
        let mut all: Vec<&'static str> = templates.to_vec();
        all.push(UNMATCHED);
        all.dedup();
        let index = all.iter().enumerate().map(|(i, t)| (*t, i)).collect();
        let slots = all.iter().map(|_| Default::default()).collect();
        Self {
            metrics,
            index,
            templates: all,
            slots,
        }
    }

    /// Counts one answered request. `route` is the matched template (`None`: unmatched).
    pub fn observe(&self, method: &axum::http::Method, route: Option<&str>, status: u16, seconds: f64) {
        let m = method_slot(method);
        let route_index = match route {
            None => self.templates.len() - 1,
            Some(template) => match self.index.get(template) {
                Some(&i) => i,
                // A route this table was not built with: still counted, the slow way.
                None => return self.observe_unlisted(m, template, status, seconds),
            },
        };
        let template = self.templates[route_index];
        let slot = &self.slots[route_index][m];
        slot.duration
            .get_or_init(|| {
                self.metrics
                    .histogram(HTTP_DURATION, &[("method", METHODS[m]), ("route", template)])
            })
            .record(seconds);
        let labels = |status| {
            [
                ("method", METHODS[m]),
                ("route", template),
                ("status", status_label(status)),
            ]
        };
        match status_slot(status) {
            Some(s) => slot.statuses[s]
                .get_or_init(|| self.metrics.counter(HTTP_REQUESTS, &labels(status)))
                .increment(1),
            None => self.metrics.counter(HTTP_REQUESTS, &labels(status)).increment(1),
        }
    }

    fn observe_unlisted(&self, m: usize, template: &str, status: u16, seconds: f64) {
        let owned =
            |pairs: &[(&'static str, String)]| pairs.iter().map(|(k, v)| Label::new(*k, v.clone())).collect::<Vec<_>>();
        let route = template.to_owned();
        let duration = Key::from_parts(
            HTTP_DURATION,
            owned(&[("method", METHODS[m].to_owned()), ("route", route.clone())]),
        );
        self.metrics
            .recorder
            .register_histogram(&duration, &METADATA)
            .record(seconds);
        let requests = Key::from_parts(
            HTTP_REQUESTS,
            owned(&[
                ("method", METHODS[m].to_owned()),
                ("route", route),
                ("status", status_label(status).to_owned()),
            ]),
        );
        self.metrics
            .recorder
            .register_counter(&requests, &METADATA)
            .increment(1);
    }
}

/// One node's metrics: its recorder and the handles recorded through outside the HTTP table.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    hash_duration: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What is read from elsewhere when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeValues {
    /// Password hashes running or waiting.
    pub hash_queue_depth: usize,
    /// (memory hits, memory misses, Redis hits, Redis misses) of the profile cache.
    pub cache: [u64; 4],
    /// Whether the node has Redis (without it there is no `redis` level).
    pub has_redis: bool,
    /// Database pool: (open connections, idle ones).
    pub pool: (u32, usize),
}

impl Metrics {
    /// A fresh, empty set (its own recorder; nothing global).
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(HTTP_DURATION.into()),
                HTTP_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(HASH_DURATION.into()),
                    HASH_BUCKETS,
                )
            })
            .map(PrometheusBuilder::build_recorder)
            // The bucket lists are non-empty constants, so this cannot fail; a recorder with
            // summaries instead of buckets would still work.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let describe = |name: &'static str, unit: Option<metrics::Unit>, text: &'static str| {
            recorder.describe_counter(name.into(), unit, text.into());
        };
        describe(
            HTTP_REQUESTS,
            None,
            "HTTP requests answered, by method, route template and status",
        );
        describe(
            HTTP_DURATION,
            Some(metrics::Unit::Seconds),
            "HTTP request latency, by method and route template",
        );
        describe(LOGINS, None, "Sign-in attempts by method and outcome");
        describe(CACHE_REQUESTS, None, "Profile-cache look-ups by level and result");
        describe(
            HASH_QUEUE_DEPTH,
            None,
            "Password hashes running or waiting for a hashing thread",
        );
        describe(
            HASH_DURATION,
            Some(metrics::Unit::Seconds),
            "Time one password hash or verification takes on a hashing thread",
        );
        describe(WECHAT_REQUESTS, None, "WeChat API calls by api and outcome");
        describe(DB_POOL, None, "Database pool connections by state");
        describe(
            CODES_SENT,
            None,
            "One-time code sends by channel, purpose and outcome (sent, failed, suppressed, limited)",
        );
        describe(
            CODE_CHECKS,
            None,
            "One-time code checks by outcome (ok, wrong, expired, exhausted)",
        );
        let handle = recorder.handle();
        let hash_duration = recorder.register_histogram(&Key::from_static_name(HASH_DURATION), &METADATA);
        Self {
            recorder,
            handle,
            hash_duration,
        }
    }

    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        Key::from_parts(
            name,
            labels
                .iter()
                .map(|(k, v)| Label::from_static_parts(k, v))
                .collect::<Vec<_>>(),
        )
    }

    /// The counter `name{labels}` (registered on first call; later calls find it).
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        self.recorder.register_counter(&Self::key(name, labels), &METADATA)
    }

    /// The gauge `name{labels}`.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Gauge {
        self.recorder.register_gauge(&Self::key(name, labels), &METADATA)
    }

    /// The histogram `name{labels}`.
    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Histogram {
        self.recorder.register_histogram(&Self::key(name, labels), &METADATA)
    }

    /// Counts one sign-in attempt (a few per second at most: argon2 bounds them, so the
    /// look-up by labels costs nothing worth caching).
    pub fn login(&self, method: LoginMethod, outcome: LoginResult) {
        self.counter(LOGINS, &[("method", method.as_str()), ("outcome", outcome.as_str())])
            .increment(1);
    }

    /// Counts one WeChat API call.
    pub fn wechat(&self, api: &'static str, outcome: &'static str) {
        self.counter(WECHAT_REQUESTS, &[("api", api), ("outcome", outcome)])
            .increment(1);
    }

    /// Counts one code send (`outcome`: `sent`, `failed`, `suppressed` or `limited`).
    pub fn code_sent(&self, channel: &'static str, purpose: &'static str, outcome: &'static str) {
        self.counter(
            CODES_SENT,
            &[("channel", channel), ("purpose", purpose), ("outcome", outcome)],
        )
        .increment(1);
    }

    /// Counts one code check (`ok`, `wrong`, `expired` or `exhausted`).
    pub fn code_check(&self, outcome: &'static str) {
        self.counter(CODE_CHECKS, &[("outcome", outcome)]).increment(1);
    }

    /// The hash-duration histogram, cloned into each hashing job.
    pub fn hash_duration(&self) -> Histogram {
        self.hash_duration.clone()
    }

    /// Folds recorded histogram samples into their buckets, so memory stays bounded between
    /// scrapes (run every few seconds by the node's background work).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Sets the values read at scrape time and renders the Prometheus text format.
    pub fn render(&self, values: ScrapeValues) -> String {
        self.gauge(HASH_QUEUE_DEPTH, &[]).set(values.hash_queue_depth as f64);
        let [memory_hits, memory_misses, redis_hits, redis_misses] = values.cache;
        let cache = |level, result, value| {
            self.counter(CACHE_REQUESTS, &[("level", level), ("result", result)])
                .absolute(value);
        };
        cache("memory", "hit", memory_hits);
        cache("memory", "miss", memory_misses);
        if values.has_redis {
            cache("redis", "hit", redis_hits);
            cache("redis", "miss", redis_misses);
        }
        let (size, idle) = values.pool;
        let idle = idle.min(size as usize);
        self.gauge(DB_POOL, &[("state", "idle")]).set(idle as f64);
        self.gauge(DB_POOL, &[("state", "in_use")])
            .set((size as usize - idle) as f64);
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn two_nodes_in_one_process_count_separately() {
        let (a, b) = (Arc::new(Metrics::new()), Arc::new(Metrics::new()));
        let table = HttpTable::new(a.clone(), &["/x/{id}"]);
        table.observe(&axum::http::Method::GET, Some("/x/{id}"), 200, 0.001);
        table.observe(&axum::http::Method::GET, None, 404, 0.001);
        table.observe(&axum::http::Method::GET, Some("/not/listed"), 299, 0.001);
        let text = a.render(ScrapeValues::default());
        assert!(
            text.contains(r#"hufu_http_requests_total{method="GET",route="/x/{id}",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"route="unmatched",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"route="/not/listed",status="299"} 1"#), "{text}");
        assert!(text.contains("hufu_http_request_duration_seconds_bucket"), "{text}");
        assert!(!b.render(ScrapeValues::default()).contains("hufu_http_requests_total"));
    }
}
