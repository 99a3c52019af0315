//! A fake WeChat: a real HTTP server on 127.0.0.1 inside the test process that answers like
//! `api.weixin.qq.com` and plays the `open.weixin.qq.com` QR-login page, following the WeChat
//! facts in `/work/shared/spec/wechat.md` (§0, §1, §2.1, §3, §6, §6.5, §8).
//!
//! As WeChat does: every error is HTTP 200 with `{"errcode","errmsg"}` whose errmsg ends in
//! `, rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`; success bodies of jscode2session, cgi-bin/token and the
//! `sns/*` endpoints carry no errcode (the phone number's has `"errcode":0`); JSON is labelled
//! `text/plain` (jscode2session, sns), `application/json; encoding=utf-8` (token) or
//! `application/json` (phone). Codes are single-use and live 300 s (Mini Program login, phone)
//! or 600 s (website); each `cgi-bin/token` fetch invalidates every earlier token at once.
//!
//! Every request is recorded first. Knobs (`fail_next`, `delay_next`, `dropped_next`,
//! `cut_next`, `broken_next`, `garbage_next`) are all taken by the next call of their api: it
//! waits for the delay, then answers the first that is set of dropped, cut, broken, garbage,
//! fail (a knob that loses is spent too).

#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Mini Program's appid (the one in WeChat's demo vectors).
pub const APPID: &str = "wx4f4bc4dec97d474b";
/// The Mini Program's app secret.
pub const SECRET: &str = "mini-program-secret-for-tests";
/// The website (Open Platform) app's appid.
pub const OAUTH_APPID: &str = "wxoauthwebsite000001";
/// The website app's secret.
pub const OAUTH_SECRET: &str = "website-secret-for-tests";

/// Lifetime of a `wx.login` code and of a phone-number code.
const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// Lifetime of a website (QR login) code.
const OAUTH_CODE_LIFETIME: Duration = Duration::from_secs(600);
/// `expires_in` of app and user access tokens.
const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
const HTML: &str = "text/html; charset=utf-8";

/// One WeChat API the fake serves (the QR page is not one: see [`FakeWechat::authorize_requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `GET /sns/jscode2session` (Mini Program login).
    JsCode2Session,
    /// `GET /cgi-bin/token` (the app access_token).
    Token,
    /// `POST /wxa/business/getuserphonenumber`.
    PhoneNumber,
    /// `GET /sns/oauth2/access_token` (website code → user token).
    OAuthAccessToken,
    /// `GET /sns/userinfo`.
    UserInfo,
}

impl Api {
    /// The path WeChat serves this api at.
    pub fn path(self) -> &'static str {
        match self {
            Api::JsCode2Session => "/sns/jscode2session",
            Api::Token => "/cgi-bin/token",
            Api::PhoneNumber => "/wxa/business/getuserphonenumber",
            Api::OAuthAccessToken => "/sns/oauth2/access_token",
            Api::UserInfo => "/sns/userinfo",
        }
    }

    fn default_content_type(self) -> &'static str {
        match self {
            Api::Token => "application/json; encoding=utf-8",
            Api::PhoneNumber => "application/json",
            _ => "text/plain",
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters, percent-decoded (the last wins when one repeats).
    pub query: HashMap<String, String>,
    /// The body's JSON, or a JSON string of its text when it is not JSON; `None` when empty.
    pub body: Option<Value>,
}

/// A handle on a running fake WeChat; clones share one server and its state.
#[derive(Clone)]
pub struct FakeWechat {
    /// `http://127.0.0.1:PORT`, no trailing slash: both the api base and the open-platform base.
    pub base_url: String,
    state: Arc<Mutex<Fake>>,
}

/// The one-shot behaviours waiting for an api's next call.
#[derive(Debug, Default)]
struct Knobs {
    delay: Option<Duration>,
    dropped: bool,
    cut: bool,
    broken: bool,
    garbage: bool,
    fail: Option<i64>,
}

/// Which endpoint accepts a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Phone,
    OAuth,
}

/// A single-use code and the JSON it stands for: the jscode2session body (login), `phone_info`
/// without its watermark (phone), or the `sns/userinfo` body of the user who scanned (OAuth).
struct Code {
    kind: Kind,
    value: Value,
    expires_at: Instant,
    used: bool,
}

/// An issued app access_token.
#[derive(Debug, Clone, Copy)]
enum AppToken {
    /// Usable until the instant.
    Live(Instant),
    /// Replaced by a later fetch or invalidated by the test: 40001.
    Invalid,
    /// Expired early by the test: 42001.
    Expired,
}

/// Everything the fake knows, behind one lock that is never held across an await.
#[derive(Default)]
struct Fake {
    codes: HashMap<String, Code>,
    /// The `sns/userinfo` body of the user who scans at the next QR page visit.
    pending_scan: Option<Value>,
    app_tokens: HashMap<String, AppToken>,
    token_fetches: usize,
    /// User access_token → (`sns/userinfo` body, expiry).
    user_tokens: HashMap<String, (Value, Instant)>,
    knobs: HashMap<Api, Knobs>,
    content_types: HashMap<Api, String>,
    requests: HashMap<Api, Vec<Recorded>>,
    authorize_requests: Vec<Recorded>,
}

type Query = HashMap<String, String>;

impl FakeWechat {
    /// Starts the server on 127.0.0.1:0. `base_url` serves both the `api.weixin.qq.com` paths
    /// and the `open.weixin.qq.com` QR page (`/connect/qrconnect`), so hufu's
    /// `HUFU_WECHAT_API_BASE` and `HUFU_WECHAT_OPEN_BASE` both point at it.
    pub async fn start() -> FakeWechat {
        use Api::*;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
        let listener = listener.expect("fake WeChat binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake WeChat's address");
        let state = Arc::default();
        let fake = FakeWechat {
            base_url: format!("http://{addr}"),
            state,
        };
        let mut router = Router::new().route("/connect/qrconnect", any(authorize_page));
        for api in [JsCode2Session, Token, PhoneNumber, OAuthAccessToken, UserInfo] {
            router = router.route(api.path(), api_route(api));
        }
        let router = router.with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    /// A fresh `wx.login` code of [`APPID`] for this user (single use, valid 300 s).
    pub fn login_code(&self, openid: &str, unionid: Option<&str>, session_key: &str) -> String {
        let mut answer = json!({ "openid": openid, "session_key": session_key });
        if let Some(unionid) = unionid {
            answer["unionid"] = json!(unionid);
        }
        self.state().issue(Kind::Login, random_text(32), answer, CODE_LIFETIME)
    }

    /// A fresh phone-number code (single use, valid 300 s) answering this `phone_info`;
    /// `country_code` is sent as given (string `"86"` or number `86`).
    pub fn phone_code(&self, phone_number: &str, pure_phone_number: &str, country_code: Value) -> String {
        let info =
            json!({ "phoneNumber": phone_number, "purePhoneNumber": pure_phone_number, "countryCode": country_code });
        let hex = |_| char::from(b"0123456789abcdef"[rand::rng().random_range(0..16)]);
        self.state()
            .issue(Kind::Phone, (0..64).map(hex).collect(), info, CODE_LIFETIME)
    }

    /// The WeChat user who will "scan the QR code" at the next visit of the QR page.
    pub fn oauth_user(&self, openid: &str, unionid: Option<&str>, nickname: &str, headimgurl: &str) {
        let mut user = json!({
            "openid": openid, "nickname": nickname, "sex": 0, "province": "", "city": "", "country": "CN",
            "headimgurl": headimgurl, "privilege": [],
        });
        if let Some(unionid) = unionid {
            user["unionid"] = json!(unionid);
        }
        self.state().pending_scan = Some(user);
    }

    /// The next call to `api` answers this errcode (HTTP 200, `{"errcode","errmsg"}`).
    pub fn fail_next(&self, api: Api, errcode: i64) {
        self.state().knobs.entry(api).or_default().fail = Some(errcode);
    }

    /// The next call to `api` waits this long before answering.
    pub fn delay_next(&self, api: Api, delay: Duration) {
        self.state().knobs.entry(api).or_default().delay = Some(delay);
    }

    /// The next call to `api` gets no answer: the connection is closed before the status line.
    pub fn dropped_next(&self, api: Api) {
        self.state().knobs.entry(api).or_default().dropped = true;
    }

    /// The next call to `api` gets a 200 status line and the start of a body, then the
    /// connection is closed.
    pub fn cut_next(&self, api: Api) {
        self.state().knobs.entry(api).or_default().cut = true;
    }

    /// The next call to `api` answers an HTML page with HTTP 502 (the edge is broken).
    pub fn broken_next(&self, api: Api) {
        self.state().knobs.entry(api).or_default().broken = true;
    }

    /// The next call to `api` answers HTTP 200 with a body that is not JSON.
    pub fn garbage_next(&self, api: Api) {
        self.state().knobs.entry(api).or_default().garbage = true;
    }

    /// The Content-Type of every later success or error answer of `api`.
    pub fn content_type(&self, api: Api, value: &str) {
        self.state().content_types.insert(api, value.into());
    }

    /// Every request received for `api`, in order.
    pub fn requests(&self, api: Api) -> Vec<Recorded> {
        self.state().requests.get(&api).cloned().unwrap_or_default()
    }

    /// Every visit of the QR page (`/connect/qrconnect`), in order.
    pub fn authorize_requests(&self) -> Vec<Recorded> {
        self.state().authorize_requests.clone()
    }

    /// How many app access_tokens `cgi-bin/token` has issued.
    pub fn token_fetches(&self) -> usize {
        self.state().token_fetches
    }

    /// Makes every issued app access_token invalid now (the next use answers 40001).
    pub fn invalidate_access_tokens(&self) {
        self.state().set_app_tokens(AppToken::Invalid);
    }

    /// Makes every issued app access_token expired now (the next use answers 42001).
    pub fn expire_access_tokens(&self) {
        self.state().set_app_tokens(AppToken::Expired);
    }

    /// Makes every outstanding login, phone and website code expired now (40029 from then on).
    pub fn expire_codes(&self) {
        let now = Instant::now();
        self.state().codes.values_mut().for_each(|code| code.expires_at = now);
    }

    fn state(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the call, applies the knobs, then answers as `api`.
    async fn answer(self, api: Api, method: Method, uri: Uri, body: Bytes) -> Response {
        let query = parse_query(&uri);
        let knobs = {
            let mut state = self.state();
            let recorded = record(&method, &uri, &query, parse_body(&body));
            state.requests.entry(api).or_default().push(recorded);
            state.knobs.remove(&api).unwrap_or_default()
        };
        if let Some(delay) = knobs.delay {
            tokio::time::sleep(delay).await;
        }
        if knobs.dropped {
            // A body that fails before its first byte: hyper closes the connection without
            // flushing the head it had only buffered.
            let failing = futures_util::stream::iter([Err::<Bytes, _>(std::io::Error::other("dropped"))]);
            return Response::new(axum::body::Body::from_stream(failing));
        }
        if knobs.cut {
            // The head and a first chunk go out; the rest of the promised body never comes.
            let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{\"openid\":"))]);
            let then_fail = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("cut"))
            });
            let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(first, then_fail));
            return (StatusCode::OK, [(CONTENT_TYPE, "text/plain")], body).into_response();
        }
        if knobs.broken {
            let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>\
                        </center><hr><center>stgw</center></body></html>";
            return (StatusCode::BAD_GATEWAY, [(CONTENT_TYPE, HTML)], page).into_response();
        }
        let mut state = self.state();
        let content_type = state.content_types.get(&api).map_or(api.default_content_type(), |c| c);
        let content_type = HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain"));
        let body = if knobs.garbage {
            "<html><body>系统繁忙，请稍后再试 (system busy)</body></html>".to_owned()
        } else {
            let answer = match (knobs.fail, api) {
                (Some(errcode), _) => Err(errcode),
                (None, Api::JsCode2Session) => state.jscode2session(&query),
                (None, Api::Token) => state.token(&query),
                (None, Api::PhoneNumber) => state.phone_number(&method, &query, &body),
                (None, Api::OAuthAccessToken) => state.oauth_access_token(&query),
                (None, Api::UserInfo) => state.user_info(&query),
            };
            let error = |errcode| json!({ "errcode": errcode, "errmsg": errmsg(errcode) });
            answer.unwrap_or_else(error).to_string()
        };
        (StatusCode::OK, [(CONTENT_TYPE, content_type)], body).into_response()
    }
}

impl Fake {
    /// Stores a fresh single-use `code` standing for `value`; answers the code.
    fn issue(&mut self, kind: Kind, code: String, value: Value, lifetime: Duration) -> String {
        let expires_at = Instant::now() + lifetime;
        let entry = Code {
            kind,
            value,
            expires_at,
            used: false,
        };
        self.codes.insert(code.clone(), entry);
        code
    }

    /// Marks a code used and answers its JSON: unknown, of another kind or expired → 40029,
    /// used before → `used`.
    fn redeem(&mut self, kind: Kind, code: &str, used: i64) -> Result<Value, i64> {
        match self.codes.get_mut(code) {
            Some(entry) if entry.kind != kind || Instant::now() >= entry.expires_at => Err(40029),
            Some(entry) if entry.used => Err(used),
            Some(entry) => {
                entry.used = true;
                Ok(entry.value.clone())
            }
            None => Err(40029),
        }
    }

    fn set_app_tokens(&mut self, to: AppToken) {
        self.app_tokens.values_mut().for_each(|token| *token = to);
    }

    fn jscode2session(&mut self, query: &Query) -> Result<Value, i64> {
        check_app(query, APPID, SECRET)?;
        check_grant(query, "authorization_code")?;
        let code = param(query, "js_code").ok_or(41008)?;
        self.redeem(Kind::Login, code, 40163)
    }

    fn token(&mut self, query: &Query) -> Result<Value, i64> {
        check_grant(query, "client_credential")?;
        check_app(query, APPID, SECRET)?;
        // WeChat invalidates the old token at every fetch; no grace period here.
        self.set_app_tokens(AppToken::Invalid);
        self.token_fetches += 1;
        let token = format!("{}_{}", self.token_fetches, random_text(120));
        let live = AppToken::Live(Instant::now() + TOKEN_LIFETIME);
        self.app_tokens.insert(token.clone(), live);
        Ok(json!({ "access_token": token, "expires_in": TOKEN_LIFETIME.as_secs() }))
    }

    fn phone_number(&mut self, method: &Method, query: &Query, body: &[u8]) -> Result<Value, i64> {
        if method != Method::POST {
            return Err(43002);
        }
        match param(query, "access_token").and_then(|t| self.app_tokens.get(t)) {
            None | Some(AppToken::Invalid) => return Err(40001),
            Some(AppToken::Expired) => return Err(42001),
            Some(AppToken::Live(until)) if Instant::now() >= *until => return Err(42001),
            Some(AppToken::Live(_)) => {}
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(44002);
        }
        let body: Value = serde_json::from_slice(body).map_err(|_| 47001)?;
        let code = body.get("code").and_then(Value::as_str).unwrap_or("");
        if code.is_empty() {
            return Err(41008);
        }
        let mut info = self.redeem(Kind::Phone, code, 40029)?;
        info["watermark"] = json!({ "timestamp": unix_now(), "appid": APPID });
        Ok(json!({ "errcode": 0, "errmsg": "ok", "phone_info": info }))
    }

    fn oauth_access_token(&mut self, query: &Query) -> Result<Value, i64> {
        check_app(query, OAUTH_APPID, OAUTH_SECRET)?;
        check_grant(query, "authorization_code")?;
        let code = param(query, "code").ok_or(41008)?;
        let user = self.redeem(Kind::OAuth, code, 40163)?;
        let access_token = random_text(86);
        let mut answer = json!({
            "access_token": access_token, "expires_in": TOKEN_LIFETIME.as_secs(), "refresh_token": random_text(86),
            "openid": user["openid"], "scope": "snsapi_login",
        });
        if let Some(unionid) = user.get("unionid") {
            answer["unionid"] = unionid.clone();
        }
        let expires_at = Instant::now() + TOKEN_LIFETIME;
        self.user_tokens.insert(access_token, (user, expires_at));
        Ok(answer)
    }

    fn user_info(&mut self, query: &Query) -> Result<Value, i64> {
        let token = param(query, "access_token").and_then(|t| self.user_tokens.get(t));
        let (user, expires_at) = token.ok_or(40001)?;
        if Instant::now() >= *expires_at {
            return Err(42001);
        }
        match param(query, "openid") {
            None => Err(41009),
            Some(openid) if user["openid"] != openid => Err(40003),
            Some(_) => Ok(user.clone()),
        }
    }
}

/// The route of one api: every method reaches [`FakeWechat::answer`], which records it.
fn api_route(api: Api) -> MethodRouter<FakeWechat> {
    any(move |State(fake): State<FakeWechat>, method, uri, body| fake.answer(api, method, uri, body))
}

/// `open.weixin.qq.com/connect/qrconnect`: redirects to `redirect_uri?code=…&state=…` when a
/// user waits to scan, else shows the QR page; bad parameters get an HTML error page (HTTP 200).
async fn authorize_page(State(fake): State<FakeWechat>, method: Method, uri: Uri) -> Response {
    let query = parse_query(&uri);
    let mut state = fake.state();
    state.authorize_requests.push(record(&method, &uri, &query, None));
    let page = |text: &str| ([(CONTENT_TYPE, HTML)], format!("<html><body>{text}</body></html>")).into_response();
    if param(&query, "appid") != Some(OAUTH_APPID) {
        return page("参数错误 (appid)");
    }
    let Some(redirect_uri) = param(&query, "redirect_uri") else {
        return page("redirect_uri 参数错误");
    };
    if param(&query, "response_type") != Some("code") || param(&query, "scope") != Some("snsapi_login") {
        return page("Scope 参数错误或没有 Scope 权限");
    }
    let Some(user) = state.pending_scan.take() else {
        return page("请使用微信扫描二维码登录 (scan the QR code)");
    };
    let code = state.issue(Kind::OAuth, random_text(32), user, OAUTH_CODE_LIFETIME);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let state_param = query.get("state").map_or("", String::as_str).as_bytes();
    let state_param: String = url::form_urlencoded::byte_serialize(state_param).collect();
    match HeaderValue::from_str(&format!("{redirect_uri}{separator}code={code}&state={state_param}")) {
        Ok(location) => (StatusCode::FOUND, [(LOCATION, location)]).into_response(),
        Err(_) => page("redirect_uri 参数错误"),
    }
}

/// appid (wrong or missing → 40013), then secret (missing → 41004, wrong → 40125).
fn check_app(query: &Query, appid: &str, secret: &str) -> Result<(), i64> {
    match (param(query, "appid"), param(query, "secret")) {
        (given, _) if given != Some(appid) => Err(40013),
        (_, None) => Err(41004),
        (_, given) if given != Some(secret) => Err(40125),
        _ => Ok(()),
    }
}

/// `grant_type` must be exactly `expected` (else 40002).
fn check_grant(query: &Query, expected: &str) -> Result<(), i64> {
    (param(query, "grant_type") == Some(expected))
        .then_some(())
        .ok_or(40002)
}

/// A query parameter, `None` when absent or empty.
fn param<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn parse_query(uri: &Uri) -> Query {
    let query = uri.query().unwrap_or("").as_bytes();
    url::form_urlencoded::parse(query).into_owned().collect()
}

fn parse_body(body: &[u8]) -> Option<Value> {
    let text = || Value::String(String::from_utf8_lossy(body).into_owned());
    (!body.is_empty()).then(|| serde_json::from_slice(body).unwrap_or_else(|_| text()))
}

fn record(method: &Method, uri: &Uri, query: &Query, body: Option<Value>) -> Recorded {
    let (method, path, query) = (method.to_string(), uri.path().to_owned(), query.clone());
    Recorded {
        method,
        path,
        query,
        body,
    }
}

/// WeChat's errmsg for an errcode, with the `, rid: …` suffix.
fn errmsg(errcode: i64) -> String {
    let text = match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40029 => "invalid code",
        40030 => "invalid refresh_token",
        40125 => "invalid appsecret",
        40163 => "code been used",
        40226 => "code blocked",
        41004 => "appsecret missing",
        41008 => "missing code",
        41009 => "missing openid",
        42001 => "access_token expired",
        42003 => "code expired",
        43002 => "require POST method",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit mustslower retry next minute",
        47001 => "data format error",
        48001 => "api unauthorized",
        _ => "unknown error",
    };
    let mut rng = rand::rng();
    let (a, b, c): (u32, u32, u32) = (rng.random(), rng.random(), rng.random());
    format!("{text}, rid: {a:08x}-{b:08x}-{c:08x}")
}

fn random_text(len: usize) -> String {
    let rng = rand::rng();
    rng.sample_iter(Alphanumeric).take(len).map(char::from).collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The fake checked over HTTP, as hufu sees it.
mod self_tests {
    use super::*;
    use axum::http::HeaderName;
    use reqwest::Method;
    use reqwest::redirect::Policy;

    /// `method base_url+path_query` with `body`, not following redirects:
    /// (status, Content-Type, the body or a redirect's Location).
    async fn send(fake: &FakeWechat, method: Method, path_query: &str, body: &str) -> (u16, String, String) {
        let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        let request = client.request(method, format!("{}{path_query}", fake.base_url));
        let answer = request.body(body.to_owned()).send().await.unwrap();
        let headers = answer.headers().clone();
        let header = |name: HeaderName| headers.get(name).map_or("", |v| v.to_str().unwrap()).to_owned();
        let (content_type, location) = (header(CONTENT_TYPE), header(LOCATION));
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        (status, content_type, if location.is_empty() { text } else { location })
    }

    async fn get(fake: &FakeWechat, path_query: impl AsRef<str>) -> (u16, String, String) {
        send(fake, Method::GET, path_query.as_ref(), "").await
    }

    async fn get_json(fake: &FakeWechat, path_query: impl AsRef<str>) -> Value {
        json(get(fake, path_query).await)
    }

    /// An HTTP 200 answer's body as JSON, whatever its Content-Type.
    fn json(answer: (u16, String, String)) -> Value {
        assert_eq!(answer.0, 200, "{}", answer.2);
        serde_json::from_str(&answer.2).unwrap()
    }

    fn login_url(code: &str) -> String {
        format!("/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code={code}&grant_type=authorization_code")
    }

    async fn fetch_token(fake: &FakeWechat) -> String {
        let answer = get(fake, token_url()).await;
        assert_eq!(answer.1, "application/json; encoding=utf-8");
        let body = json(answer);
        assert!(body.get("errcode").is_none() && body["expires_in"] == 7200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn token_url() -> String {
        format!("/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}")
    }

    async fn phone(fake: &FakeWechat, token: &str, code: &str) -> Value {
        let url = format!("{}?access_token={token}", Api::PhoneNumber.path());
        let answer = send(fake, Method::POST, &url, &json!({ "code": code }).to_string()).await;
        assert_eq!(answer.1, "application/json");
        json(answer)
    }

    /// Visits the QR page as hufu's authorize redirect does, for `https://hufu.test/cb?r=x`.
    async fn qr(fake: &FakeWechat, appid: &str) -> (u16, String, String) {
        let redirect = "redirect_uri=https%3A%2F%2Fhufu.test%2Fcb%3Fr%3Dx&response_type=code&scope=snsapi_login";
        let url = format!("/connect/qrconnect?appid={appid}&{redirect}&state=s%20t%261#wechat_redirect");
        get(fake, url).await
    }

    fn assert_error(body: Value, errcode: i64) {
        assert_eq!(body["errcode"], errcode, "{body}");
        let errmsg = body["errmsg"].as_str().unwrap_or_default();
        let rid = errmsg.rsplit_once(", rid: ").map_or("", |(_, rid)| rid);
        let hex8 = |part: &str| part.len() == 8 && part.chars().all(|c| c.is_ascii_hexdigit());
        assert!(rid.len() == 26 && rid.split('-').all(hex8), "{errmsg}");
    }

    #[tokio::test]
    async fn a_login_code_works_once_and_answers_text_plain() {
        let fake = FakeWechat::start().await;
        let code = fake.login_code("o-user", Some("u-user"), "tiihtNczf5v6AKRyjwEUhQ==");
        let answer = get(&fake, login_url(&code)).await;
        assert_eq!(answer.1, "text/plain");
        let expected = json!({"openid": "o-user", "session_key": "tiihtNczf5v6AKRyjwEUhQ==", "unionid": "u-user"});
        assert_eq!(json(answer), expected);
        assert_error(get_json(&fake, login_url(&code)).await, 40163);
        assert_error(get_json(&fake, login_url("never-issued")).await, 40029);
        let without_unionid = get_json(&fake, login_url(&fake.login_code("o-2", None, "k"))).await;
        assert_eq!(without_unionid, json!({"openid": "o-2", "session_key": "k"}));
        let wrong_secret = login_url("x").replace(SECRET, "wrong");
        assert_error(get_json(&fake, wrong_secret).await, 40125);
        assert_error(get_json(&fake, login_url("x").replace(APPID, "wx0")).await, 40013);
        let expiring = fake.login_code("o-3", None, "k");
        fake.expire_codes();
        assert_error(get_json(&fake, login_url(&expiring)).await, 40029);
        let requests = fake.requests(Api::JsCode2Session);
        assert_eq!((requests.len(), requests[0].method.as_str()), (7, "GET"));
        assert_eq!(
            (requests[0].path.as_str(), &requests[0].query["js_code"]),
            (Api::JsCode2Session.path(), &code)
        );
    }

    #[tokio::test]
    async fn a_token_fetch_invalidates_the_previous_token_for_the_phone_api() {
        let fake = FakeWechat::start().await;
        let first = fetch_token(&fake).await;
        assert!(first.starts_with("1_") && first.len() > 34, "{first}");
        let body = phone(&fake, &first, &fake.phone_code("+14155552671", "4155552671", json!(1))).await;
        assert_eq!((&body["errcode"], &body["errmsg"]), (&json!(0), &json!("ok")));
        let mut info = body["phone_info"].clone();
        let watermark = info.as_object_mut().and_then(|info| info.remove("watermark")).unwrap();
        let expected = json!({"phoneNumber": "+14155552671", "purePhoneNumber": "4155552671", "countryCode": 1});
        assert_eq!(info, expected);
        assert!(watermark["appid"] == APPID && watermark["timestamp"].as_u64().unwrap() > 1_700_000_000);

        let code = fake.phone_code("13580006666", "13580006666", json!("86"));
        let second = fetch_token(&fake).await;
        assert_error(phone(&fake, &first, &code).await, 40001);
        assert_eq!(phone(&fake, &second, &code).await["phone_info"]["countryCode"], "86");
        assert_error(phone(&fake, &second, &code).await, 40029);
        fake.expire_access_tokens();
        let code = fake.phone_code("1", "1", json!(86));
        assert_error(phone(&fake, &second, &code).await, 42001);
        let third = fetch_token(&fake).await;
        fake.invalidate_access_tokens();
        assert_error(phone(&fake, &third, &code).await, 40001);
        assert_eq!(fake.token_fetches(), 3);
        let recorded = fake.requests(Api::PhoneNumber);
        assert_eq!((recorded.len(), recorded[5].method.as_str()), (6, "POST"));
        assert_eq!(recorded[5].body, Some(json!({ "code": code })));
    }

    #[tokio::test]
    async fn the_qr_page_redirects_with_code_and_state_then_token_and_userinfo_work() {
        let fake = FakeWechat::start().await;
        let (status, content_type, text) = qr(&fake, OAUTH_APPID).await;
        assert!(status == 200 && content_type == HTML && text.contains("scan the QR code"));
        fake.oauth_user("o-web", Some("u-web"), "扫码用户", "https://thirdwx.qlogo.cn/a/132");
        assert_eq!(qr(&fake, "wxother").await.0, 200, "a wrong appid gets an error page");
        let (status, _, location) = qr(&fake, OAUTH_APPID).await;
        assert_eq!(status, 302);
        let code = location
            .strip_prefix("https://hufu.test/cb?r=x&code=")
            .unwrap_or_default();
        let code = code.strip_suffix("&state=s+t%261").expect(&location);
        assert_eq!(qr(&fake, OAUTH_APPID).await.0, 200, "the scanning user was consumed");
        let visits = fake.authorize_requests();
        assert_eq!(
            (visits.len(), visits[3].query["redirect_uri"].as_str()),
            (4, "https://hufu.test/cb?r=x")
        );

        let exchange = format!("/sns/oauth2/access_token?appid={OAUTH_APPID}&secret={OAUTH_SECRET}&code={code}");
        let exchange = format!("{exchange}&grant_type=authorization_code");
        let answer = get(&fake, &exchange).await;
        assert_eq!(answer.1, "text/plain");
        let token = json(answer);
        let access = token["access_token"].as_str().unwrap();
        let expected = json!({"access_token": access, "expires_in": 7200, "refresh_token": token["refresh_token"],
            "openid": "o-web", "scope": "snsapi_login", "unionid": "u-web"});
        assert!(token == expected && token["refresh_token"].is_string(), "{token}");
        assert_error(get_json(&fake, exchange).await, 40163);

        let info = get_json(
            &fake,
            format!("/sns/userinfo?access_token={access}&openid=o-web&lang=zh_CN"),
        )
        .await;
        let expected = json!({"openid": "o-web", "nickname": "扫码用户", "sex": 0, "province": "", "city": "",
            "country": "CN", "headimgurl": "https://thirdwx.qlogo.cn/a/132", "privilege": [], "unionid": "u-web"});
        assert_eq!(info, expected);
        let other_openid = get_json(&fake, format!("/sns/userinfo?access_token={access}&openid=o-x")).await;
        assert_error(other_openid, 40003);
        assert_error(
            get_json(&fake, "/sns/userinfo?access_token=nope&openid=o-web").await,
            40001,
        );
    }

    #[tokio::test]
    async fn every_knob_applies_once() {
        let fake = FakeWechat::start().await;
        let login = || login_url(&fake.login_code("o-knob", None, "k"));
        fake.fail_next(Api::JsCode2Session, 45011);
        assert_error(get_json(&fake, login()).await, 45011);
        assert_eq!(get_json(&fake, login()).await["openid"], "o-knob");

        fake.delay_next(Api::JsCode2Session, Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(get_json(&fake, login()).await["openid"], "o-knob");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(get_json(&fake, login()).await["openid"], "o-knob");
        assert!(started.elapsed() < Duration::from_millis(300));

        fake.garbage_next(Api::JsCode2Session);
        let (status, _, text) = get(&fake, login()).await;
        assert!(status == 200 && serde_json::from_str::<Value>(&text).is_err(), "{text}");
        fake.broken_next(Api::JsCode2Session);
        fake.fail_next(Api::JsCode2Session, -1);
        let (status, content_type, text) = get(&fake, login()).await;
        assert!(status == 502 && content_type == HTML && text.contains("502 Bad Gateway"));
        let after = get_json(&fake, login()).await;
        assert_eq!(after["openid"], "o-knob", "the fail knob that lost to broken was spent");

        fake.content_type(Api::JsCode2Session, "application/json");
        assert_eq!(get(&fake, login()).await.1, "application/json");
        fake.fail_next(Api::Token, -1);
        assert_error(get_json(&fake, token_url()).await, -1);
        assert_eq!(fake.token_fetches(), 0);
        fetch_token(&fake).await;
        assert_eq!((fake.token_fetches(), fake.requests(Api::Token).len()), (1, 2));
    }

    #[tokio::test]
    async fn dropped_gets_no_answer_and_cut_gets_half_an_answer() {
        let fake = FakeWechat::start().await;
        let path = login_url(&fake.login_code("o-cut", None, "k"));
        let url = format!("{}{path}", fake.base_url);
        let client = reqwest::Client::new();
        fake.dropped_next(Api::JsCode2Session);
        let dropped = client.get(&url).send().await;
        assert!(dropped.is_err(), "no status line: {dropped:?}");
        fake.cut_next(Api::JsCode2Session);
        let cut = client.get(&url).send().await.unwrap();
        assert_eq!(cut.status(), 200);
        assert!(cut.bytes().await.is_err(), "the body never ends");
        assert_eq!(fake.requests(Api::JsCode2Session).len(), 2, "both were recorded");
        // Each knob was taken by one call, and neither redeemed the code.
        assert_eq!(get_json(&fake, &path).await["openid"], "o-cut");
    }
}
