//! Tencent Cloud SMS: `SendSms` of API version 2021-01-11, a JSON POST signed with
//! TC3-HMAC-SHA256 (Tencent Cloud API "Signature v3",
//! www.tencentcloud.com/document/api/382/40675 and the same page under every product).
//!
//! Numbers go in E.164 (`+86…` for mainland). The answer is always HTTP 200 with JSON:
//! `Response.Error.Code` (`AuthFailure.SignatureFailure`, …) when the call itself failed,
//! otherwise `Response.SendStatusSet[0].Code`, `Ok` when the message was accepted and a code
//! such as `LimitExceeded.PhoneNumberDailyLimit` when it was not.

use super::{SmsSettings, Templates};
use crate::delivery::{DeliveryError, Outgoing};
use crate::secret::SecretString;
use serde::Deserialize;

/// The provider name in logs and errors.
pub const PROVIDER: &str = "tencent";

const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com/";
const SERVICE: &str = "sms";
const ACTION: &str = "SendSms";
const VERSION: &str = "2021-01-11";
const DEFAULT_REGION: &str = "ap-guangzhou";
const ALGORITHM: &str = "TC3-HMAC-SHA256";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A configured Tencent Cloud sender.
#[derive(Debug)]
pub struct Tencent {
    http: reqwest::Client,
    url: url::Url,
    host: String,
    secret_id: String,
    secret_key: SecretString,
    sign_name: String,
    sdk_app_id: String,
    region: String,
    templates: Templates,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Answer,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Error")]
    error: Option<Coded>,
    #[serde(rename = "SendStatusSet")]
    send_status_set: Option<Vec<Coded>>,
}

#[derive(Deserialize)]
struct Coded {
    #[serde(rename = "Code")]
    code: String,
}

impl Tencent {
    /// The sender of `settings`, or the setting it lacks.
    pub(super) fn new(settings: &SmsSettings, http: reqwest::Client) -> Result<Self, String> {
        let secret_id = super::required(&settings.access_key_id, PROVIDER, "HUFU_SMS_ACCESS_KEY_ID")?;
        let secret_key = super::required_secret(&settings.access_key_secret, PROVIDER, "HUFU_SMS_ACCESS_KEY_SECRET")?;
        let sign_name = super::required(&settings.sign_name, PROVIDER, "HUFU_SMS_SIGN_NAME")?;
        let sdk_app_id = super::required(&settings.sdk_app_id, PROVIDER, "HUFU_SMS_SDK_APP_ID")?;
        let templates = Templates::from_settings(settings, PROVIDER)?;
        let (url, host) = super::endpoint(settings.api_base.as_deref(), DEFAULT_ENDPOINT)?;
        let region = match settings.region.as_deref().map(str::trim) {
            Some(region) if !region.is_empty() => region.to_owned(),
            _ => DEFAULT_REGION.to_owned(),
        };
        Ok(Self {
            http,
            url,
            host,
            secret_id: secret_id.to_owned(),
            secret_key,
            sign_name: sign_name.to_owned(),
            sdk_app_id: sdk_app_id.to_owned(),
            region,
            templates,
        })
    }

    /// Sends `message` with one signed `SendSms` call.
    pub(super) async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let template = self.templates.get(PROVIDER, message.purpose)?;
        let body = serde_json::json!({
            "PhoneNumberSet": [super::e164(message.to)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": template,
            "TemplateParamSet": [message.code.expose()],
        })
        .to_string();
        let timestamp = super::unix_now();
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("host", self.host.as_str()),
            ("x-tc-action", ACTION),
        ];
        let authorization = authorization(
            &self.secret_id,
            self.secret_key.expose(),
            SERVICE,
            timestamp,
            &headers,
            body.as_bytes(),
        );
        let mut request = self
            .http
            .post(self.url.clone())
            .header("authorization", authorization)
            .header("x-tc-version", VERSION)
            .header("x-tc-timestamp", timestamp.to_string())
            .header("x-tc-region", self.region.as_str());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| super::transport_failure(PROVIDER, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| super::transport_failure(PROVIDER, &e))?;
        let Ok(Envelope { response: answer }) = serde_json::from_slice::<Envelope>(&bytes) else {
            return Err(super::nonsense(PROVIDER, status));
        };
        if let Some(error) = answer.error {
            return Err(super::refused(PROVIDER, &error.code));
        }
        match answer.send_status_set.as_deref() {
            Some([first, ..]) if first.code == "Ok" => Ok(()),
            Some([first, ..]) => Err(super::refused(PROVIDER, &first.code)),
            _ => Err(super::nonsense(PROVIDER, status)),
        }
    }
}

/// The UTC date (`yyyy-MM-dd`) of a Unix timestamp, as the credential scope wants it.
fn utc_date(timestamp: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(timestamp).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day())
}

/// The `Authorization` header of a TC3-HMAC-SHA256 POST to `/` with an empty query:
/// `headers` are the signed ones (`content-type`, `host`, …), `body` the exact bytes sent.
fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    timestamp: i64,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let hashed_payload = crate::crypto::sha256_hex(body);
    let canonical_request = format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashed_payload}");
    let date = utc_date(timestamp);
    let scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        crate::crypto::sha256_hex(canonical_request.as_bytes())
    );
    let hmac = crate::crypto::hmac_sha256;
    let secret_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac(&secret_date, service.as_bytes());
    let secret_signing = hmac(&secret_service, b"tc3_request");
    let signature = crate::crypto::hex(&hmac(&secret_signing, string_to_sign.as_bytes()));
    format!("{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "Signature v3" page (for instance
    /// www.tencentcloud.com/document/api/213/33224, CVM DescribeInstances): SecretKey
    /// `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, timestamp 1551113065, headers
    /// `content-type;host`; documented CanonicalRequest hash 5ffe6a04…8d7031 and signature
    /// 72e494ea…525168.
    #[test]
    fn signs_the_documented_example_exactly() {
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let got = authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            1_551_113_065,
            &[
                ("Host", "cvm.tencentcloudapi.com"),
                ("Content-Type", "application/json; charset=utf-8"),
            ],
            body,
        );
        assert_eq!(
            got,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn the_scope_date_is_the_utc_date() {
        // 2019-02-26 00:44:25 in UTC+8 is still the 25th in UTC (the page's own warning).
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
    }
}
