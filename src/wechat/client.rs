//! The one place hufu talks to WeChat. Every call goes to `HUFU_WECHAT_API_BASE` with the
//! configured timeout. WeChat answers errors with HTTP 200 and a JSON `errcode`, often labelled
//! `text/plain`, so bodies are parsed as JSON whatever the header says, and success means
//! `errcode` absent or 0. The query of most calls holds the app secret or an access token, so
//! no error made here carries a URL or quotes a body.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fmt::Write as _;
use std::time::Duration;

/// Why a WeChat call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered an error code.
    #[error("WeChat errcode {errcode}: {errmsg}")]
    Code {
        /// WeChat's error code.
        errcode: i64,
        /// WeChat's message (for the log only).
        errmsg: String,
    },
    /// WeChat did not answer within the timeout.
    #[error("WeChat did not answer in time")]
    Timeout,
    /// Unreachable, a non-200 status, or a body that is not the expected JSON.
    #[error("unexpected answer from WeChat: {0}")]
    Unexpected(String),
}

/// `jscode2session`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct CodeSession {
    /// The user's id in the Mini Program.
    pub openid: String,
    /// The key for the user's encrypted data (base64 of 16 bytes); never leaves the server.
    pub session_key: String,
    /// The company-wide id, when the app is bound to an Open Platform account.
    #[serde(default)]
    pub unionid: Option<String>,
}

/// `cgi-bin/token`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct AppToken {
    /// The app's access token.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// `phone_info` of `getuserphonenumber` (and of the legacy decrypted payload).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneInfo {
    /// With the country code for foreign numbers.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Without a country code.
    pub pure_phone_number: String,
    /// `"86"` or `86`: WeChat's documentation disagrees with itself.
    pub country_code: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct PhoneAnswer {
    phone_info: PhoneInfo,
}

/// `sns/oauth2/access_token`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthToken {
    /// The user-level token (only for this user's data).
    pub access_token: String,
    /// The user's id in the website app.
    pub openid: String,
    /// The company-wide id.
    #[serde(default)]
    pub unionid: Option<String>,
}

/// `sns/userinfo`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct UserInfo {
    /// The user's id in the website app.
    pub openid: String,
    /// Display name.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Avatar URL (may be empty).
    #[serde(default)]
    pub headimgurl: Option<String>,
    /// The company-wide id.
    #[serde(default)]
    pub unionid: Option<String>,
}

/// The HTTP client for WeChat's API.
#[derive(Debug, Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    api_base: String,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

/// A call that got no (whole) answer. reqwest's error text names the URL, whose query holds
/// the app secret or an access token: the URL is dropped here, where the error is made, so
/// no later `Display` (a log line) can carry it.
fn transport(api: &'static str, error: reqwest::Error) -> WechatError {
    if error.is_timeout() {
        return WechatError::Timeout;
    }
    let error = error.without_url();
    // The causes (hyper's, the socket's: "connection closed before message completed")
    // say what went wrong; one that is itself a reqwest error could name a URL, so it is
    // left out.
    let mut text = format!("{api}: {error}");
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        if inner.downcast_ref::<reqwest::Error>().is_none() {
            let _ = write!(text, ": {inner}");
        }
        cause = inner.source();
    }
    WechatError::Unexpected(text)
}

/// A success body of the wrong shape. serde's text may quote a value of the body (a token or
/// a session key of an unexpected type), so only its category and position are kept.
fn shape(api: &'static str, error: &serde_json::Error) -> WechatError {
    WechatError::Unexpected(format!(
        "{api}: a body of the wrong shape ({:?} error at line {} column {})",
        error.classify(),
        error.line(),
        error.column()
    ))
}

impl WechatClient {
    /// A client for `api_base` whose calls each end after `timeout`.
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            metrics: None,
        })
    }

    /// Counts every call in `hufu_wechat_requests_total` of `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    async fn call<T: DeserializeOwned>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, WechatError> {
        let result = self.call_unobserved(api, request).await;
        if let Some(metrics) = &self.metrics {
            let outcome = match &result {
                Ok(_) => "success",
                Err(WechatError::Code { .. }) => "errcode",
                Err(WechatError::Timeout) => "timeout",
                Err(WechatError::Unexpected(_)) => "unexpected",
            };
            metrics.wechat(api, outcome);
        }
        result
    }

    async fn call_unobserved<T: DeserializeOwned>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, WechatError> {
        let response = request.send().await.map_err(|e| transport(api, e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport(api, e))?;
        if !status.is_success() {
            return Err(WechatError::Unexpected(format!("{api}: HTTP {status}")));
        }
        let fields: ErrorFields = serde_json::from_slice(&body)
            .map_err(|_| WechatError::Unexpected(format!("{api}: a body that is not JSON")))?;
        if let Some(errcode) = fields.errcode.filter(|code| *code != 0) {
            return Err(WechatError::Code {
                errcode,
                errmsg: fields.errmsg.unwrap_or_default(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| shape(api, &e))
    }

    /// Exchanges a `wx.login()` code (`sns/jscode2session`).
    pub async fn code_to_session(&self, appid: &str, secret: &str, code: &str) -> Result<CodeSession, WechatError> {
        let url = format!("{}/sns/jscode2session", self.api_base);
        let query = [
            ("appid", appid),
            ("secret", secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        self.call("jscode2session", self.http.get(url).query(&query)).await
    }

    /// Fetches the app's access token (`cgi-bin/token`); WeChat invalidates the previous one.
    pub async fn app_token(&self, appid: &str, secret: &str) -> Result<AppToken, WechatError> {
        let url = format!("{}/cgi-bin/token", self.api_base);
        let query = [
            ("grant_type", "client_credential"),
            ("appid", appid),
            ("secret", secret),
        ];
        self.call("token", self.http.get(url).query(&query)).await
    }

    /// Exchanges a phone-number button code (`wxa/business/getuserphonenumber`).
    pub async fn phone_number(&self, access_token: &str, code: &str) -> Result<PhoneInfo, WechatError> {
        let url = format!("{}/wxa/business/getuserphonenumber", self.api_base);
        let request = self
            .http
            .post(url)
            .query(&[("access_token", access_token)])
            .json(&serde_json::json!({ "code": code }));
        self.call::<PhoneAnswer>("getuserphonenumber", request)
            .await
            .map(|a| a.phone_info)
    }

    /// Exchanges a website OAuth code (`sns/oauth2/access_token`).
    pub async fn oauth_token(&self, appid: &str, secret: &str, code: &str) -> Result<OAuthToken, WechatError> {
        let url = format!("{}/sns/oauth2/access_token", self.api_base);
        let query = [
            ("appid", appid),
            ("secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
        ];
        self.call("oauth2/access_token", self.http.get(url).query(&query)).await
    }

    /// Reads the signed-in website user's profile (`sns/userinfo`).
    pub async fn user_info(&self, access_token: &str, openid: &str) -> Result<UserInfo, WechatError> {
        let url = format!("{}/sns/userinfo", self.api_base);
        let query = [("access_token", access_token), ("openid", openid), ("lang", "zh_CN")];
        self.call("userinfo", self.http.get(url).query(&query)).await
    }
}
