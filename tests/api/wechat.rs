//! WeChat sign-in against a fake WeChat: Mini Program login, unionid linking, the contract's
//! error table, the phone number (shared access token, legacy decryption), binding, and the
//! website QR flow with its single-use state.

use crate::fake_wechat::{self, Api, FakeWechat};
use crate::harness::paths::{
    MFA, PASSWORD, PROFILE, REGISTER, TOTP_ENABLE, WECHAT, WECHAT_AUTHORIZE, WECHAT_BIND, WECHAT_CALLBACK,
    WECHAT_MINIPROGRAM, WECHAT_PHONE,
};
use crate::harness::{Answer, Backend, Signed, TestApp, read};
use crate::{on_every_store, on_redis};
use serde_json::{Value, json};
use std::time::Duration;

on_every_store!(
    a_mini_program_code_signs_in_and_creates_the_user_once,
    website_qr_login_walks_authorize_wechat_and_callback,
    login_csrf_a_qr_state_from_another_browser_is_refused,
    login_csrf_the_binding_cookie_is_httponly_lax_and_host_only_behind_https
);

on_redis!(nodes_sharing_redis_share_one_access_token);

/// Contract section 11: WeChat proves the WeChat user, not the account's second factor. A
/// thief who bound their WeChat with a stolen token (or anyone holding the bound WeChat) must
/// still give the TOTP code: the Mini Program and the QR sign-in answer `mfa_required`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_wechat_does_not_skip_the_second_factor() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let user = app.login_as("twofactor").await;
    bind(fake.login_code("o-2fa", Some("u-2fa"), DEMO_SESSION_KEY), &user)
        .await
        .expect_ok(200);
    let (secret, _) = crate::mfa::setup(&user).await;
    user.post(TOTP_ENABLE, json!({"code": crate::mfa::code_now(&app, &secret)}))
        .await
        .expect_ok(200);

    let login = mini_login(&app, &fake.login_code("o-2fa", Some("u-2fa"), DEMO_SESSION_KEY)).await;
    let data = login.expect_ok(200).clone();
    assert_eq!(data["mfa_required"], true);
    assert!(
        data.get("token").is_none(),
        "no tokens before the second factor: {data}"
    );
    crate::mfa::next_step(&app);
    let done = app
        .post(
            MFA,
            json!({"mfa_token": data["mfa_token"], "code": crate::mfa::code_now(&app, &secret)}),
        )
        .await;
    assert_eq!(done.expect_ok(200)["user"]["id"].as_i64(), Some(user.id));

    // The QR sign-in of the same WeChat user (linked by unionid) redirects with an mfa_token.
    let callback = scan(
        &app,
        &fake,
        Some("https://app.example.com/after"),
        "o-2fa-web",
        Some("u-2fa"),
    )
    .await;
    let back = location(&callback.finish().await);
    let (_, fragment) = back.split_once('#').expect("a fragment");
    let values: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
    assert!(
        values.contains_key("mfa_token") && !values.contains_key("token"),
        "{fragment}"
    );
    crate::mfa::next_step(&app);
    app.post(
        MFA,
        json!({"mfa_token": values["mfa_token"], "code": crate::mfa::code_now(&app, &secret)}),
    )
    .await
    .expect_ok(200);
}

/// WeChat's demo identity (wechat.md): its session key decrypts the demo vectors.
const DEMO_OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
const DEMO_UNIONID: &str = "ocMvos6NjeKLIBqg5Mr9QjxrP1FA";
const DEMO_SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const DEMO_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
const DEMO_PHONE_DATA: &str = "xT8p8W6jIVdEWQ+ccHuD2bmG5RSiwg14VWRFw/UGVh6Aj+jDIadafJ4xdCIBQ/uxDiyw/MZWvpFyRn3pP3xxVfNQxFtzghvK+Pj5JQI7x412Zc+UKBdZyt5yiQboroSxabTum1k4MMOlnoCxhJ46cxPDT2EuLbNUf2McwNtGO0/9E+Xj/ZwENw48ucueL3UqNoKpXxFYvqH6eawrR2MXnA==";

pub(crate) async fn wechat_app(
    backend: Backend,
    fake: &FakeWechat,
    adjust: impl FnOnce(&mut hufu::config::Settings),
) -> TestApp {
    let base = fake.base_url.clone();
    TestApp::spawn_with(backend, |s| {
        s.wechat.api_base = base.clone();
        s.wechat.open_base = base;
        s.wechat.appid = Some(fake_wechat::APPID.into());
        s.wechat.secret = Some(hufu::secret::SecretString::new(fake_wechat::SECRET));
        s.wechat.oauth_appid = Some(fake_wechat::OAUTH_APPID.into());
        s.wechat.oauth_secret = Some(hufu::secret::SecretString::new(fake_wechat::OAUTH_SECRET));
        s.wechat.oauth_redirects = vec!["https://app.example.com/after".into()];
        s.wechat.timeout = Duration::from_millis(500);
        adjust(s);
    })
    .await
}

async fn mini_login(app: &TestApp, code: &str) -> Answer {
    app.post(WECHAT_MINIPROGRAM, json!({ "code": code })).await
}

async fn a_mini_program_code_signs_in_and_creates_the_user_once(backend: Backend) {
    let fake = FakeWechat::start().await;
    let app = wechat_app(backend, &fake, |_| {}).await;
    let first = mini_login(
        &app,
        &fake.login_code(DEMO_OPENID, Some(DEMO_UNIONID), DEMO_SESSION_KEY),
    )
    .await;
    let data = first.expect_ok(200).clone();
    assert_eq!(data["is_new_user"], true);
    let user = &data["user"];
    let username = user["username"].as_str().unwrap();
    assert!(username.starts_with("wx_") && username.len() == 13, "{username}");
    assert_eq!(
        (user["email"].clone(), user["phone"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(user["wechat_bound"], true);
    assert!(data["token"].is_string() && data["refresh_token"].is_string());
    assert!(!first.text.contains(DEMO_SESSION_KEY) && !first.text.contains("session_key"));
    app.get(PROFILE, data["token"].as_str()).await.expect_ok(200);

    let again = mini_login(
        &app,
        &fake.login_code(DEMO_OPENID, Some(DEMO_UNIONID), DEMO_SESSION_KEY),
    )
    .await;
    let again = again.expect_ok(200);
    assert_eq!(again["is_new_user"], false);
    assert_eq!(again["user"]["id"], user["id"]);

    // The app secret goes to jscode2session only, and every code is exchanged once.
    let requests = fake.requests(Api::JsCode2Session);
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.query.get("secret").map(String::as_str) == Some(fake_wechat::SECRET))
    );
    let codes: std::collections::HashSet<_> = requests.iter().map(|r| r.query["js_code"].clone()).collect();
    assert_eq!(codes.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_failures_are_answered_by_the_contracts_table() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let code = || fake.login_code("o-failing-user", None, DEMO_SESSION_KEY);
    for (errcode, status, error_code) in [
        (40029, 400, "WECHAT_CODE_INVALID"),
        (40163, 400, "WECHAT_CODE_INVALID"),
        (45011, 429, "WECHAT_RATE_LIMITED"),
        (40226, 403, "WECHAT_USER_BLOCKED"),
        (-1, 503, "WECHAT_UNAVAILABLE"),
        (40013, 503, "WECHAT_UNAVAILABLE"),
    ] {
        fake.fail_next(Api::JsCode2Session, errcode);
        mini_login(&app, &code()).await.expect_error(status, error_code);
    }
    fake.garbage_next(Api::JsCode2Session);
    mini_login(&app, &code()).await.expect_error(503, "WECHAT_UNAVAILABLE");
    fake.broken_next(Api::JsCode2Session);
    mini_login(&app, &code()).await.expect_error(503, "WECHAT_UNAVAILABLE");
    fake.delay_next(Api::JsCode2Session, Duration::from_secs(2));
    let started = std::time::Instant::now();
    mini_login(&app, &code()).await.expect_error(504, "UPSTREAM_TIMEOUT");
    assert!(
        started.elapsed() < Duration::from_millis(1_900),
        "gave up at the timeout"
    );

    // A real second use of one code, and an unknown code.
    let used = code();
    mini_login(&app, &used).await.expect_ok(200);
    mini_login(&app, &used).await.expect_error(400, "WECHAT_CODE_INVALID");
    mini_login(&app, "never-issued")
        .await
        .expect_error(400, "WECHAT_CODE_INVALID");
    mini_login(&app, "").await.expect_error(400, "VALIDATION_FAILED");
    // Whatever the Content-Type, a good answer is read as JSON.
    for content_type in ["application/json", "application/json; encoding=utf-8", "text/html"] {
        fake.content_type(Api::JsCode2Session, content_type);
        mini_login(&app, &code()).await.expect_ok(200);
    }

    let unconfigured = TestApp::spawn(Backend::Sqlite).await;
    mini_login(&unconfigured, "x")
        .await
        .expect_error(501, "WECHAT_NOT_CONFIGURED");
    unconfigured
        .get(WECHAT_AUTHORIZE, None)
        .await
        .expect_error(501, "WECHAT_NOT_CONFIGURED");

    let limited = wechat_app(Backend::Sqlite, &fake, |s| s.limits.wechat_per_minute = 2).await;
    mini_login(&limited, "a").await.expect_error(400, "WECHAT_CODE_INVALID");
    mini_login(&limited, "b").await.expect_error(400, "WECHAT_CODE_INVALID");
    mini_login(&limited, "c").await.expect_error(429, "RATE_LIMITED");
}

/// Whoever reads the log (an operator, a log pipeline, a leaked log archive) must not learn
/// the WeChat app secrets or an access token. WeChat takes them in the query string, and an
/// HTTP client's error text names the URL: every api here has its connection dropped before
/// the answer and cut in the middle of it, then the run's log is searched for every secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_wechat_connection_leaks_no_secret_or_token_into_the_log() {
    let fake = FakeWechat::start().await;
    type Knob = fn(&FakeWechat, Api);
    let knobs: [(&str, Knob); 2] = [("dropped", FakeWechat::dropped_next), ("cut", FakeWechat::cut_next)];
    for (knob, break_next) in knobs {
        // A fresh node each time, so the app access token is fetched again.
        let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
        let openid = format!("o-leak-{knob}");
        break_next(&fake, Api::JsCode2Session);
        mini_login(&app, &fake.login_code(&openid, None, DEMO_SESSION_KEY))
            .await
            .expect_error(503, "WECHAT_UNAVAILABLE");
        let login = mini_login(&app, &fake.login_code(&openid, None, DEMO_SESSION_KEY)).await;
        let me = app.signed(login.expect_ok(200));
        let phone = || fake.phone_code("13580008888", "13580008888", json!("86"));
        break_next(&fake, Api::Token);
        me.post(WECHAT_PHONE, json!({ "code": phone() }))
            .await
            .expect_error(503, "WECHAT_UNAVAILABLE");
        me.post(WECHAT_PHONE, json!({ "code": phone() })).await.expect_ok(200);
        break_next(&fake, Api::PhoneNumber);
        me.post(WECHAT_PHONE, json!({ "code": phone() }))
            .await
            .expect_error(503, "WECHAT_UNAVAILABLE");

        for api in [Api::OAuthAccessToken, Api::UserInfo] {
            let callback = scan(&app, &fake, None, &format!("o-web-leak-{knob}"), None).await;
            break_next(&fake, api);
            callback.finish().await.expect_error(503, "WECHAT_UNAVAILABLE");
        }
    }

    let mut secrets = vec![fake_wechat::SECRET.to_owned(), fake_wechat::OAUTH_SECRET.to_owned()];
    for api in [Api::PhoneNumber, Api::UserInfo] {
        secrets.extend(
            fake.requests(api)
                .into_iter()
                .filter_map(|r| r.query.get("access_token").cloned()),
        );
    }
    assert!(
        secrets.len() >= 2 + 4 + 2,
        "the app and user access tokens were sent: {secrets:?}"
    );
    let log = crate::harness::server_log();
    let failures = log.lines().filter(|line| line.contains("WeChat call failed")).count();
    assert!(failures >= 10, "every failure is logged ({failures} lines)");
    for secret in &secrets {
        let leaked: Vec<&str> = log.lines().filter(|line| line.contains(secret.as_str())).collect();
        assert!(leaked.is_empty(), "{secret:?} reached the log: {leaked:#?}");
    }
}

/// Contract section 1: every 429 says when to retry, WeChat's own limit (45011, a per-minute
/// quota) included, so a client backs off instead of hammering hufu (and WeChat) in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_rate_limited_tells_the_client_to_wait_a_minute() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    fake.fail_next(Api::JsCode2Session, 45011);
    let limited = mini_login(&app, &fake.login_code("o-limited", None, DEMO_SESSION_KEY)).await;
    limited.expect_error(429, "WECHAT_RATE_LIMITED");
    assert_eq!(limited.header("retry-after"), Some("60"), "{}", limited.text);

    // The same on the signed-in WeChat endpoints.
    let me = app.signed(
        mini_login(&app, &fake.login_code("o-limited", None, DEMO_SESSION_KEY))
            .await
            .expect_ok(200),
    );
    fake.fail_next(Api::PhoneNumber, 45011);
    let code = fake.phone_code("13580007777", "13580007777", json!("86"));
    let limited = me.post(WECHAT_PHONE, json!({ "code": code })).await;
    limited.expect_error(429, "WECHAT_RATE_LIMITED");
    assert_eq!(limited.header("retry-after"), Some("60"), "{}", limited.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_number_comes_from_a_code_with_one_shared_access_token() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let login = mini_login(&app, &fake.login_code("o-phone", None, DEMO_SESSION_KEY)).await;
    let me = app.signed(login.expect_ok(200));
    let set_phone = |body: Value| me.post(WECHAT_PHONE, body);
    for _ in 0..3 {
        let code = fake.phone_code("13580006666", "13580006666", json!("86"));
        let answer = set_phone(json!({ "code": code })).await;
        assert_eq!(answer.expect_ok(200)["phone"], "13580006666");
    }
    assert_eq!(fake.token_fetches(), 1, "one access_token for many phone requests");
    assert_eq!(me.get(PROFILE).await.expect_ok(200)["phone"], "13580006666");

    // WeChat invalidates or expires the token early: hufu renews it once and retries.
    fake.invalidate_access_tokens();
    let code = fake.phone_code("+14155552671", "4155552671", json!(1));
    assert_eq!(
        set_phone(json!({ "code": code })).await.expect_ok(200)["phone"],
        "+14155552671"
    );
    assert_eq!(fake.token_fetches(), 2);
    fake.expire_access_tokens();
    let code = fake.phone_code("13580006667", "13580006667", json!(86));
    assert_eq!(
        set_phone(json!({ "code": code })).await.expect_ok(200)["phone"],
        "13580006667"
    );
    assert_eq!(fake.token_fetches(), 3);

    // A used phone code, and a number another account has.
    set_phone(json!({ "code": code }))
        .await
        .expect_error(400, "WECHAT_CODE_INVALID");
    app.post(REGISTER, crate::harness::registration("phoneowner", "password123"))
        .await
        .expect_ok(201);
    let owner = app.login("phoneowner", "password123").await;
    let taken = owner["user"]["phone"].as_str().unwrap().to_owned();
    let code = fake.phone_code(&taken, &taken, json!("86"));
    set_phone(json!({ "code": code }))
        .await
        .expect_error(409, "PHONE_TAKEN");
    set_phone(json!({})).await.expect_error(400, "VALIDATION_FAILED");
}

/// Encrypts a payload like WeChat's legacy data (AES-128-CBC, PKCS#7) with `session_key`.
fn legacy_encrypt(session_key: &str, iv: &str, plaintext: &str) -> String {
    use aws_lc_rs::cipher::{AES_128, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let key = STANDARD.decode(session_key).unwrap();
    let iv: [u8; 16] = STANDARD.decode(iv).unwrap().try_into().unwrap();
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &key).unwrap()).unwrap();
    let mut data = plaintext.as_bytes().to_vec();
    cipher
        .less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
        .unwrap();
    STANDARD.encode(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_encrypted_phone_data_is_decrypted_with_the_stored_session_key() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let login = mini_login(&app, &fake.login_code(DEMO_OPENID, None, DEMO_SESSION_KEY)).await;
    let me = app.signed(login.expect_ok(200));
    let send = |data: String, iv: &str| me.post(WECHAT_PHONE, json!({ "encrypted_data": data, "iv": iv }));
    // WeChat's published vector for the demo app and session key.
    assert_eq!(
        send(DEMO_PHONE_DATA.into(), DEMO_IV).await.expect_ok(200)["phone"],
        "13580006666"
    );

    let other_app = legacy_encrypt(
        DEMO_SESSION_KEY,
        DEMO_IV,
        r#"{"phoneNumber":"13580007777","purePhoneNumber":"13580007777","countryCode":"86","watermark":{"timestamp":1,"appid":"wx0000000000000000"}}"#,
    );
    let mut flipped: Vec<char> = DEMO_PHONE_DATA.chars().collect();
    flipped[100] = if flipped[100] == 'A' { 'B' } else { 'A' };
    let failures = [
        send(other_app, DEMO_IV).await,
        send(flipped.into_iter().collect(), DEMO_IV).await,
        send("not base64 at all!".into(), DEMO_IV).await,
        send(DEMO_PHONE_DATA.into(), "c2hvcnQ=").await,
    ];
    let texts: Vec<String> = failures
        .iter()
        .map(|a| a.expect_error(400, "WECHAT_DECRYPT_FAILED")["error"].to_string())
        .collect();
    assert!(
        texts.windows(2).all(|w| w[0] == w[1]),
        "one text for every failure: {texts:?}"
    );
    assert_eq!(me.get(PROFILE).await.expect_ok(200)["phone"], "13580006666");

    // A password user with no WeChat identity has no session key: the same error.
    let password_user = app.login_as("nowechat").await;
    let answer = password_user
        .post(WECHAT_PHONE, json!({"encrypted_data": DEMO_PHONE_DATA, "iv": DEMO_IV}))
        .await;
    assert_eq!(
        answer.expect_error(400, "WECHAT_DECRYPT_FAILED")["error"].to_string(),
        texts[0]
    );
}

/// Binds the WeChat user of a Mini Program `code` to `user`.
async fn bind(code: String, user: &Signed) -> Answer {
    user.post(WECHAT_BIND, json!({ "code": code })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_and_unbinding_keep_a_way_to_sign_in() {
    let fake = FakeWechat::start().await;
    let app = wechat_app(Backend::Sqlite, &fake, |_| {}).await;
    let binder = app.login_as("binder").await;
    let bound = bind(fake.login_code("o-binder", Some("u-binder"), DEMO_SESSION_KEY), &binder).await;
    assert_eq!(bound.expect_ok(200)["wechat_bound"], true);
    // The WeChat user now signs into the password account.
    let login = mini_login(&app, &fake.login_code("o-binder", Some("u-binder"), DEMO_SESSION_KEY)).await;
    assert_eq!(login.expect_ok(200)["user"]["username"], "binder");

    // That WeChat user cannot be bound to someone else, by openid or by unionid.
    let other = app.login_as("other").await;
    bind(fake.login_code("o-binder", Some("u-binder"), DEMO_SESSION_KEY), &other)
        .await
        .expect_error(409, "WECHAT_ALREADY_BOUND");
    bind(
        fake.login_code("o-binder-in-app-2", Some("u-binder"), DEMO_SESSION_KEY),
        &other,
    )
    .await
    .expect_error(409, "WECHAT_ALREADY_BOUND");

    let unbound = binder.delete(WECHAT).await;
    assert_eq!(unbound.expect_ok(200)["wechat_bound"], false);
    assert_eq!(binder.get(PROFILE).await.expect_ok(200)["wechat_bound"], false);

    // A WeChat-only user keeps WeChat until they have a password.
    let wechat_only = mini_login(&app, &fake.login_code("o-only", None, DEMO_SESSION_KEY))
        .await
        .expect_ok(200)
        .clone();
    let only = app.signed(&wechat_only);
    only.delete(WECHAT).await.expect_error(409, "LAST_LOGIN_METHOD");
    only.put(PASSWORD, json!({"new_password": "a first password"}))
        .await
        .expect_ok(200);
    only.delete(WECHAT).await.expect_ok(200);
    app.login(wechat_only["user"]["username"].as_str().unwrap(), "a first password")
        .await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(answer: &Answer) -> String {
    assert_eq!(answer.status, 302, "{}", answer.text);
    answer.header("location").expect("Location").to_owned()
}

/// The browser-binding cookie the authorize step set, as `name=value` for a `Cookie` header.
fn oauth_cookie(answer: &Answer) -> String {
    let set = answer
        .header("set-cookie")
        .unwrap_or_else(|| panic!("authorize sets a cookie: {} {:?}", answer.status, answer.headers));
    set.split(';').next().unwrap().trim().to_owned()
}

/// A browser: hufu's QR callback URL after the scan, and the cookie its authorize step set.
struct Scanned {
    callback: String,
    cookie: String,
}

impl Scanned {
    /// Follows the callback from the browser that started the flow.
    async fn finish(&self) -> Answer {
        let request = no_redirects()
            .get(&self.callback)
            .header(reqwest::header::COOKIE, &self.cookie);
        read(request.send().await.unwrap()).await
    }
}

/// authorize → WeChat's QR page (scanned by `openid`) → hufu's callback URL (and the cookie).
async fn scan(
    app: &TestApp,
    fake: &FakeWechat,
    redirect_uri: Option<&str>,
    openid: &str,
    unionid: Option<&str>,
) -> Scanned {
    scan_from(app, fake, redirect_uri, openid, unionid, None).await
}

/// [`scan`] from a browser that may already hold a cookie (`name=value`).
async fn scan_from(
    app: &TestApp,
    fake: &FakeWechat,
    redirect_uri: Option<&str>,
    openid: &str,
    unionid: Option<&str>,
    cookie: Option<&str>,
) -> Scanned {
    let client = no_redirects();
    let mut authorize = app.url(WECHAT_AUTHORIZE);
    if let Some(redirect) = redirect_uri {
        authorize = format!(
            "{authorize}?redirect_uri={}",
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
    }
    let mut request = client.get(authorize);
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let authorized = read(request.send().await.unwrap()).await;
    let cookie = oauth_cookie(&authorized);
    let to_wechat = location(&authorized);
    assert!(
        to_wechat.starts_with(&format!("{}/connect/qrconnect?", fake.base_url)),
        "{to_wechat}"
    );
    assert!(to_wechat.ends_with("#wechat_redirect"));
    assert!(
        to_wechat.contains(&format!("appid={}", fake_wechat::OAUTH_APPID)) && to_wechat.contains("scope=snsapi_login")
    );
    fake.oauth_user(
        openid,
        unionid,
        "扫码用户",
        "https://thirdwx.qlogo.cn/mmopen/avatar/132",
    );
    // WeChat's page is another site: the browser sends it no hufu cookie.
    let callback = location(&read(client.get(to_wechat).send().await.unwrap()).await);
    Scanned { callback, cookie }
}

async fn website_qr_login_walks_authorize_wechat_and_callback(backend: Backend) {
    let fake = FakeWechat::start().await;
    let app = wechat_app(backend, &fake, |_| {}).await;
    let client = no_redirects();
    let scanned = scan(
        &app,
        &fake,
        Some("https://app.example.com/after/login"),
        "o-web",
        Some("u-web"),
    )
    .await;
    let callback = scanned.callback.clone();
    assert!(
        callback.starts_with(&app.url(&format!("{WECHAT_CALLBACK}?"))),
        "{callback}"
    );
    let back = location(&scanned.finish().await);
    let (target, fragment) = back.split_once('#').expect("tokens in the fragment");
    assert_eq!(target, "https://app.example.com/after/login");
    let values: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
    assert_eq!(values["is_new_user"], "true");
    assert_eq!(values["token_type"], "Bearer");
    assert_eq!(values["expires_in"], "900");
    let profile = app.get(PROFILE, Some(&values["token"])).await.expect_ok(200).clone();
    assert_eq!(profile["nickname"], "扫码用户");
    assert_eq!(profile["avatar_url"], "https://thirdwx.qlogo.cn/mmopen/avatar/132");

    // The state works once.
    scanned.finish().await.expect_error(400, "OAUTH_STATE_INVALID");
    // Forged, or moved to another redirect_uri.
    let forged = Scanned {
        callback: callback.replace("state=", "state=00"),
        cookie: scanned.cookie.clone(),
    };
    forged.finish().await.expect_error(400, "OAUTH_STATE_INVALID");
    let mut again = scan(
        &app,
        &fake,
        Some("https://app.example.com/after/login"),
        "o-web",
        Some("u-web"),
    )
    .await;
    again.callback = again.callback.replace("after%2Flogin", "after%2Fevil");
    again.finish().await.expect_error(400, "OAUTH_STATE_INVALID");
    app.get(&format!("{WECHAT_CALLBACK}?code=x"), None)
        .await
        .expect_error(400, "OAUTH_STATE_INVALID");

    // A redirect_uri outside the allow-list is refused before WeChat is involved.
    for bad in [
        "https://evil.example.com/after",
        "https://app.example.com/afterwards",
        "http://app.example.com/after",
    ] {
        let url = format!(
            "{WECHAT_AUTHORIZE}?redirect_uri={}",
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        read(client.get(app.url(&url)).send().await.unwrap())
            .await
            .expect_error(400, "REDIRECT_URI_NOT_ALLOWED");
    }

    // Without a redirect_uri the callback answers the login response; the Mini Program
    // identity with the same unionid is the same account.
    let answer = scan(&app, &fake, None, "o-web", Some("u-web")).await.finish().await;
    let data = answer.expect_ok(200);
    assert_eq!(
        (data["is_new_user"].clone(), data["user"]["id"].clone()),
        (json!(false), profile["id"].clone())
    );
    let mini = mini_login(
        &app,
        &fake.login_code("o-mini-of-web-user", Some("u-web"), DEMO_SESSION_KEY),
    )
    .await;
    let mini = mini.expect_ok(200);
    assert_eq!(
        (mini["is_new_user"].clone(), mini["user"]["id"].clone()),
        (json!(false), profile["id"].clone())
    );

    // WeChat refusing the code.
    let scanned = scan(&app, &fake, None, "o-web2", None).await;
    fake.fail_next(Api::OAuthAccessToken, 40029);
    scanned.finish().await.expect_error(400, "WECHAT_CODE_INVALID");
}

/// Login CSRF: an attacker starts a QR login, scans it with their own WeChat and sends the
/// victim the callback URL; without the binding, the victim's browser would end up signed in
/// to the attacker's account. The victim's browser lacks the attacker's cookie: refused, with
/// no cookie or with a cookie of its own, and the attacker's state is not used up by that.
async fn login_csrf_a_qr_state_from_another_browser_is_refused(backend: Backend) {
    let fake = FakeWechat::start().await;
    let app = wechat_app(backend, &fake, |_| {}).await;
    let attacker = scan(&app, &fake, Some("https://app.example.com/after"), "o-attacker", None).await;
    let (name, nonce) = attacker.cookie.split_once('=').unwrap();
    assert_eq!(name, "hufu_oauth", "plain http: no __Host- prefix");
    assert_eq!(nonce.len(), 32);
    assert!(
        !attacker.callback.contains(nonce),
        "the nonce travels only in the cookie"
    );

    let no_cookie = read(no_redirects().get(&attacker.callback).send().await.unwrap()).await;
    no_cookie.expect_error(400, "OAUTH_STATE_INVALID");
    let victim = scan(&app, &fake, Some("https://app.example.com/after"), "o-victim", None).await;
    assert_ne!(victim.cookie, attacker.cookie);
    let carried = Scanned {
        callback: attacker.callback.clone(),
        cookie: victim.cookie.clone(),
    };
    carried.finish().await.expect_error(400, "OAUTH_STATE_INVALID");
    let spoofed = Scanned {
        callback: attacker.callback.clone(),
        cookie: format!("other=1; {name}=00{}", &nonce[2..]),
    };
    spoofed.finish().await.expect_error(400, "OAUTH_STATE_INVALID");

    // Each browser still finishes its own flow.
    assert_eq!(victim.finish().await.status, 302);
    let back = location(&attacker.finish().await);
    assert!(back.starts_with("https://app.example.com/after#token="), "{back}");

    // A second authorize from the same browser keeps its cookie, so two tabs both work.
    let tab1 = scan_from(&app, &fake, None, "o-tabs", None, Some(&victim.cookie)).await;
    let tab2 = scan_from(&app, &fake, None, "o-tabs", None, Some(&victim.cookie)).await;
    assert_eq!(
        (tab1.cookie.as_str(), tab2.cookie.as_str()),
        (victim.cookie.as_str(), victim.cookie.as_str())
    );
    tab2.finish().await.expect_ok(200);
    tab1.finish().await.expect_ok(200);
}

/// The cookie's attributes, over plain http and (by `HUFU_PUBLIC_URL`) behind https, where
/// only the `__Host-` cookie counts: one planted by a sibling subdomain under the plain name
/// does not bind.
async fn login_csrf_the_binding_cookie_is_httponly_lax_and_host_only_behind_https(backend: Backend) {
    let fake = FakeWechat::start().await;
    let app = wechat_app(backend, &fake, |_| {}).await;
    let plain = read(no_redirects().get(app.url(WECHAT_AUTHORIZE)).send().await.unwrap()).await;
    let set = plain.header("set-cookie").unwrap().to_owned();
    let attributes: Vec<&str> = set.split(';').map(str::trim).skip(1).collect();
    assert_eq!(
        attributes,
        ["Max-Age=600", "Path=/", "HttpOnly", "SameSite=Lax"],
        "{set}"
    );

    let app = wechat_app(backend, &fake, |s| {
        s.server.public_url = Some("https://hufu.test".into())
    })
    .await;
    let scanned = scan(&app, &fake, None, "o-https", None).await;
    let authorize = read(no_redirects().get(app.url(WECHAT_AUTHORIZE)).send().await.unwrap()).await;
    let set = authorize.header("set-cookie").unwrap().to_owned();
    assert!(set.starts_with("__Host-hufu_oauth="), "{set}");
    let attributes: Vec<&str> = set.split(';').map(str::trim).skip(1).collect();
    assert_eq!(
        attributes,
        ["Max-Age=600", "Path=/", "HttpOnly", "SameSite=Lax", "Secure"],
        "{set}"
    );
    // WeChat sends the browser to the public URL; this test's server is that host.
    let path = scanned.callback.strip_prefix("https://hufu.test").unwrap();
    let mut here = Scanned {
        callback: app.url(path),
        cookie: scanned.cookie.replace("__Host-hufu_oauth=", "hufu_oauth="),
    };
    here.finish().await.expect_error(400, "OAUTH_STATE_INVALID");
    here.cookie = scanned.cookie.clone();
    here.finish().await.expect_ok(200);
}

/// With Redis, every node uses the one access_token the first node fetched: WeChat
/// invalidates the previous token at each fetch, so nodes fetching their own would break
/// each other.
async fn nodes_sharing_redis_share_one_access_token(redis: String) {
    let fake = FakeWechat::start().await;
    let prefix = crate::harness::unique_prefix();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (redis, prefix) = (redis.clone(), prefix.clone());
        let node = wechat_app(Backend::Sqlite, &fake, move |s| {
            s.redis.url = Some(redis);
            s.redis.prefix = prefix;
        })
        .await;
        nodes.push(node);
    }
    for (i, node) in nodes.iter().enumerate() {
        let login = mini_login(node, &fake.login_code(&format!("o-shared-{i}"), None, DEMO_SESSION_KEY)).await;
        let user = node.signed(login.expect_ok(200));
        for round in 0..2 {
            let phone = format!("1358000{i}{round}00");
            let code = fake.phone_code(&phone, &phone, json!("86"));
            let answer = user.post(WECHAT_PHONE, json!({ "code": code })).await;
            assert_eq!(answer.expect_ok(200)["phone"], phone.as_str());
        }
    }
    assert_eq!(
        fake.token_fetches(),
        1,
        "two nodes, four phone requests, one access_token fetch"
    );
    let used: std::collections::HashSet<String> = fake
        .requests(Api::PhoneNumber)
        .iter()
        .map(|r| r.query["access_token"].clone())
        .collect();
    assert_eq!(used.len(), 1);
}
