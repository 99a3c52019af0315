//! Fake SMS providers: real HTTP servers on 127.0.0.1 inside the test process that answer as
//! Aliyun Dysmsapi (`aliyun.rs`), Tencent Cloud SMS (`tencent.rs`) or a signed webhook
//! receiver (`webhook.rs`) do, after VERIFYING each request's signature with the provider's
//! algorithm written here again, independently of hufu's signers (only the HMAC and SHA-256
//! primitives are shared, from aws-lc-rs and sha2).
//!
//! Every delivered message is recorded as a user's phone would show it ([`SentSms`]);
//! [`FakeSms::code_for`] and [`FakeSms::wait_for_code`] read the latest code a phone got.
//! Knobs (`fail_next`, `fail_next_error`, `delay_next`, `drop_next`) are all taken by the next
//! request: it waits for the delay, then is dropped, or (once its signature checked out)
//! refused with the code.
//!
//! The server is hyper's connection loop rather than `axum::serve` because `drop_next` has to
//! close a connection without answering, which a handler cannot do: the service returning an
//! error makes hyper close it.

#![allow(dead_code)]

pub mod aliyun;
pub mod tencent;
pub mod webhook;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hufu::delivery::sms::{SmsProvider, SmsSettings};
use hufu::secret::SecretString;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The access key id the fakes accept (Aliyun AccessKeyId, Tencent SecretId).
pub const ACCESS_KEY_ID: &str = "LTAI5tFakeSmsKeyId0001";
/// The access key secret the fakes verify signatures with.
pub const ACCESS_KEY_SECRET: &str = "fake-sms-access-key-secret-for-tests";
/// The registered SMS signature.
pub const SIGN_NAME: &str = "虎符测试";
/// The common template.
pub const TEMPLATE: &str = "SMS_100001";
/// The template of `login` codes.
pub const TEMPLATE_LOGIN: &str = "SMS_100002";
/// The template variable of the code (Aliyun's `TemplateParam` key).
pub const TEMPLATE_PARAM: &str = "code";
/// Tencent's SmsSdkAppId.
pub const SDK_APP_ID: &str = "1400000001";
/// The key of the webhook's signatures.
pub const WEBHOOK_SECRET: &str = "fake-sms-webhook-secret-for-tests";
/// Where on the fake the webhook provider posts.
pub const WEBHOOK_PATH: &str = "/sms";

/// Which provider a fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Aliyun Dysmsapi SendSms.
    Aliyun,
    /// Tencent Cloud SMS SendSms 2021-01-11.
    Tencent,
    /// A receiver of hufu's signed SMS webhook.
    Webhook,
}

/// One message the fake delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    /// The number as the provider got it (Aliyun `13800138000` / `447700900123`, Tencent
    /// `+8613800138000`, the webhook hufu's stored form).
    pub phone: String,
    /// The code.
    pub code: String,
    /// The template (empty for the webhook, which has none).
    pub template: String,
    /// The SMS signature (empty for the webhook).
    pub sign_name: String,
    /// The purpose (the webhook only: the providers are not told).
    pub purpose: Option<String>,
    /// `zh` or `en` (the webhook only).
    pub lang: Option<String>,
}

/// A request as the provider modules read it.
pub(crate) struct Received {
    pub method: Method,
    pub path: String,
    /// The raw query, still percent-encoded.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// A header's value as text (`""` when absent or not text).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// What a provider module decided.
pub(crate) struct Outcome {
    pub status: StatusCode,
    pub body: String,
    /// The messages delivered by this request.
    pub sent: Vec<SentSms>,
}

/// The one-shot behaviours waiting for the next request.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    /// Aliyun: the `Code`; Tencent: the per-number `SendStatusSet` code; webhook: the HTTP
    /// status to answer.
    pub fail: Option<String>,
    /// Tencent: a `Response.Error` code.
    pub fail_error: Option<String>,
    pub delay: Option<Duration>,
    pub drop: bool,
}

#[derive(Default)]
struct State {
    messages: Vec<SentSms>,
    knobs: Knobs,
    /// Aliyun nonces seen (a replay is `SignatureNonceUsed`).
    nonces: HashSet<String>,
    requests: usize,
}

/// A handle on a running fake provider; clones share one server and its state.
#[derive(Clone)]
pub struct FakeSms {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The provider it plays.
    pub kind: Kind,
    state: Arc<Mutex<State>>,
}

impl FakeSms {
    /// A fake Aliyun Dysmsapi.
    pub async fn aliyun() -> FakeSms {
        Self::start(Kind::Aliyun).await
    }

    /// A fake Tencent Cloud SMS.
    pub async fn tencent() -> FakeSms {
        Self::start(Kind::Tencent).await
    }

    /// A fake webhook receiver.
    pub async fn webhook() -> FakeSms {
        Self::start(Kind::Webhook).await
    }

    /// Starts a fake `kind` on 127.0.0.1:0.
    pub async fn start(kind: Kind) -> FakeSms {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
        let listener = listener.expect("fake SMS provider binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake SMS provider's address");
        let fake = FakeSms {
            base_url: format!("http://{addr}"),
            kind,
            state: Arc::default(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let fake = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| fake.clone().handle(request));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        fake
    }

    /// Points `sms` at this fake with the credentials, sign name, templates (`TEMPLATE`, and
    /// `TEMPLATE_LOGIN` for login codes) and app id it accepts.
    pub fn configure(&self, sms: &mut SmsSettings) {
        match self.kind {
            Kind::Aliyun | Kind::Tencent => {
                sms.provider = Some(if self.kind == Kind::Aliyun {
                    SmsProvider::Aliyun
                } else {
                    SmsProvider::Tencent
                });
                sms.api_base = Some(self.base_url.clone());
                sms.access_key_id = Some(ACCESS_KEY_ID.into());
                sms.access_key_secret = Some(SecretString::new(ACCESS_KEY_SECRET));
                sms.sign_name = Some(SIGN_NAME.into());
                sms.template = Some(TEMPLATE.into());
                sms.template_login = Some(TEMPLATE_LOGIN.into());
                sms.template_param = TEMPLATE_PARAM.into();
                if self.kind == Kind::Tencent {
                    sms.sdk_app_id = Some(SDK_APP_ID.into());
                    sms.region = Some("ap-guangzhou".into());
                }
            }
            Kind::Webhook => {
                sms.provider = Some(SmsProvider::Webhook);
                sms.webhook_url = Some(format!("{}{WEBHOOK_PATH}", self.base_url));
                sms.webhook_secret = Some(SecretString::new(WEBHOOK_SECRET));
            }
        }
    }

    /// Settings pointing at this fake (everything else unset).
    pub fn settings(&self) -> SmsSettings {
        let mut sms = empty_settings();
        self.configure(&mut sms);
        sms
    }

    /// The next request is refused with this code, once its signature checked out: Aliyun's
    /// `Code` (`isv.BUSINESS_LIMIT_CONTROL`), Tencent's per-number `SendStatusSet` code
    /// (`LimitExceeded.PhoneNumberDailyLimit`), or the webhook's HTTP status (`"503"`).
    pub fn fail_next(&self, provider_code: &str) {
        self.state().knobs.fail = Some(provider_code.into());
    }

    /// Tencent: the next request answers `Response.Error` with this code.
    pub fn fail_next_error(&self, code: &str) {
        self.state().knobs.fail_error = Some(code.into());
    }

    /// The next request waits this long before it is answered.
    pub fn delay_next(&self, delay: Duration) {
        self.state().knobs.delay = Some(delay);
    }

    /// The next request's connection is closed without an answer.
    pub fn drop_next(&self) {
        self.state().knobs.drop = true;
    }

    /// Every message delivered, in order.
    pub fn messages(&self) -> Vec<SentSms> {
        self.state().messages.clone()
    }

    /// How many requests arrived (delivered or not).
    pub fn requests(&self) -> usize {
        self.state().requests
    }

    /// The latest code delivered to `phone`, in any of the forms a number is written
    /// (`13800138000`, `+8613800138000`, `8613800138000`).
    pub fn code_for(&self, phone: &str) -> Option<String> {
        let wanted = same_number(phone);
        let state = self.state();
        let latest = state.messages.iter().rev().find(|m| same_number(&m.phone) == wanted);
        latest.map(|m| m.code.clone())
    }

    /// Waits up to `timeout` for a code to reach `phone` (unauthenticated sends are delivered
    /// after hufu has answered).
    pub async fn wait_for_code(&self, phone: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.code_for(phone) {
                return Some(code);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn handle(self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let knobs = {
            let mut state = self.state();
            state.requests += 1;
            std::mem::take(&mut state.knobs)
        };
        if let Some(delay) = knobs.delay {
            tokio::time::sleep(delay).await;
        }
        if knobs.drop {
            return Err(std::io::Error::other("the fake drops this connection (drop_next)"));
        }
        let received = Received {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers,
            body,
        };
        let outcome = {
            let mut state = self.state();
            let outcome = match self.kind {
                Kind::Aliyun => aliyun::answer(&received, &knobs, &mut state.nonces),
                Kind::Tencent => tencent::answer(&received, &knobs),
                Kind::Webhook => webhook::answer(&received, &knobs),
            };
            state.messages.extend(outcome.sent.iter().cloned());
            outcome
        };
        let mut response = Response::new(Full::new(Bytes::from(outcome.body)));
        *response.status_mut() = outcome.status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            "application/json;charset=utf-8".parse().expect("a header value"),
        );
        Ok(response)
    }
}

/// SMS settings with every field unset (the template variable at its default, `code`).
pub fn empty_settings() -> SmsSettings {
    SmsSettings {
        provider: None,
        access_key_id: None,
        access_key_secret: None,
        sign_name: None,
        template: None,
        template_login: None,
        template_register: None,
        template_reset_password: None,
        template_verify: None,
        template_change: None,
        template_reauth: None,
        template_param: "code".into(),
        sdk_app_id: None,
        region: None,
        api_base: None,
        webhook_url: None,
        webhook_secret: None,
    }
}

/// A number reduced to its digits with the country code (mainland 11 digits get `86`).
fn same_number(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        format!("86{digits}")
    } else {
        digits
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// HMAC-SHA256.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

/// A random request id in the providers' UUID shape.
pub(crate) fn request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let h = hex(&bytes).to_ascii_uppercase();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The body parsed as JSON (`Null` when it is not).
pub(crate) fn json_body(received: &Received) -> Value {
    serde_json::from_slice(&received.body).unwrap_or(Value::Null)
}
