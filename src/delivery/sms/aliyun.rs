//! Aliyun SMS: Dysmsapi `SendSms` (API version 2017-05-25) as an RPC-style POST whose
//! parameters are in the query, signed with ACS3-HMAC-SHA256 (Aliyun's "V3 request structure
//! and signature", help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature).
//!
//! Aliyun takes mainland numbers as their 11 digits and others as digits with the country
//! code and no `+`. The answer is JSON whose `Code` is `OK` on success; any other `Code`
//! (`isv.BUSINESS_LIMIT_CONTROL`, `SignatureDoesNotMatch`, `InvalidAccessKeyId.NotFound`, …,
//! with HTTP 200 for business errors and 4xx for authentication errors) is a refusal.

use super::{SmsSettings, Templates};
use crate::delivery::{DeliveryError, Outgoing};
use crate::secret::SecretString;
use serde::Deserialize;

/// The provider name in logs and errors.
pub const PROVIDER: &str = "aliyun";

/// The public endpoint of the default region (cn-hangzhou).
const DEFAULT_HOST: &str = "dysmsapi.aliyuncs.com";
const ACTION: &str = "SendSms";
const VERSION: &str = "2017-05-25";
const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// A configured Aliyun sender.
#[derive(Debug)]
pub struct Aliyun {
    http: reqwest::Client,
    url: url::Url,
    host: String,
    access_key_id: String,
    access_key_secret: SecretString,
    sign_name: String,
    template_param: String,
    templates: Templates,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Code")]
    code: Option<String>,
}

impl Aliyun {
    /// The sender of `settings`, or the setting it lacks.
    pub(super) fn new(settings: &SmsSettings, http: reqwest::Client) -> Result<Self, String> {
        let access_key_id = super::required(&settings.access_key_id, PROVIDER, "HUFU_SMS_ACCESS_KEY_ID")?;
        let access_key_secret =
            super::required_secret(&settings.access_key_secret, PROVIDER, "HUFU_SMS_ACCESS_KEY_SECRET")?;
        let sign_name = super::required(&settings.sign_name, PROVIDER, "HUFU_SMS_SIGN_NAME")?;
        let templates = Templates::from_settings(settings, PROVIDER)?;
        // cn-hangzhou is served at the unqualified host; other regions (ap-southeast-1, for
        // international messages) at dysmsapi.<region>.aliyuncs.com.
        let default = match settings.region.as_deref().map(str::trim) {
            None | Some("") | Some("cn-hangzhou") => format!("https://{DEFAULT_HOST}/"),
            Some(region) => format!("https://dysmsapi.{region}.aliyuncs.com/"),
        };
        let (url, host) = super::endpoint(settings.api_base.as_deref(), &default)?;
        Ok(Self {
            http,
            url,
            host,
            access_key_id: access_key_id.to_owned(),
            access_key_secret,
            sign_name: sign_name.to_owned(),
            template_param: settings.template_param.clone(),
            templates,
        })
    }

    /// Sends `message` with one signed `SendSms` call.
    pub(super) async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let template = self.templates.get(PROVIDER, message.purpose)?;
        let template_param = serde_json::json!({ self.template_param.as_str(): message.code.expose() }).to_string();
        let phone = number(message.to);
        let query = canonical_query(&[
            ("PhoneNumbers", phone.as_str()),
            ("SignName", self.sign_name.as_str()),
            ("TemplateCode", template),
            ("TemplateParam", template_param.as_str()),
        ]);
        let mut url = self.url.clone();
        // Already percent-encoded the way the signature covers it; the URL keeps it as is.
        url.set_query(Some(&query));
        let hashed_payload = crate::crypto::sha256_hex(b"");
        let date = iso8601_now();
        let nonce = crate::crypto::hex(&rand::random::<[u8; 16]>());
        let headers = [
            ("host", self.host.as_str()),
            ("x-acs-action", ACTION),
            ("x-acs-content-sha256", hashed_payload.as_str()),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-version", VERSION),
        ];
        let authorization = authorization(
            &self.access_key_id,
            self.access_key_secret.expose(),
            "POST",
            &query,
            &headers,
            &hashed_payload,
        );
        let mut request = self.http.post(url).header("authorization", authorization);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| super::transport_failure(PROVIDER, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| super::transport_failure(PROVIDER, &e))?;
        match serde_json::from_slice::<Answer>(&body) {
            Ok(Answer { code: Some(code) }) if code == "OK" && status.is_success() => Ok(()),
            Ok(Answer { code: Some(code) }) => Err(super::refused(PROVIDER, &code)),
            _ => Err(super::nonsense(PROVIDER, status)),
        }
    }
}

/// `phone` (hufu's stored form) as Aliyun takes it: mainland as 11 digits, others as digits
/// with the country code, without `+`.
fn number(phone: &str) -> String {
    phone.trim_start_matches('+').to_owned()
}

/// The current UTC time as `x-acs-date` wants it: `yyyy-MM-ddTHH:mm:ssZ`.
fn iso8601_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// RFC 3986 percent-encoding, as ACS3 canonicalisation wants it: everything but the unreserved
/// characters `A-Z a-z 0-9 - _ . ~` becomes `%XX` (so a space is `%20`, never `+`).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical query string: each name and value percent-encoded, sorted by name, joined
/// with `&`. It is also the query sent, so what is signed is what arrives.
fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` header of an ACS3-HMAC-SHA256 request to path `/`: `headers` are
/// every signed header (lowercase names: `host` and the `x-acs-*` ones), `hashed_payload`
/// the hex SHA-256 of the body.
fn authorization(
    access_key_id: &str,
    access_key_secret: &str,
    method: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    hashed_payload: &str,
) -> String {
    let mut headers: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
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
    let canonical_request =
        format!("{method}\n/\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}");
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        crate::crypto::sha256_hex(canonical_request.as_bytes())
    );
    let signature = crate::crypto::hex(&crate::crypto::hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-parameter example of Aliyun's "V3 request structure and signature" page
    /// (help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature, section
    /// 固定参数示例): ECS RunInstances on ecs.cn-shanghai.aliyuncs.com with AccessKey
    /// `YourAccessKeyId` / `YourAccessKeySecret`, whose documented signature is
    /// 06563a9e…3283c0.
    #[test]
    fn signs_the_documented_example_exactly() {
        let query = canonical_query(&[
            ("RegionId", "cn-shanghai"),
            ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
        ]);
        assert_eq!(
            query,
            "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        let empty = crate::crypto::sha256_hex(b"");
        let headers = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", empty.as_str()),
        ];
        let got = authorization(
            "YourAccessKeyId",
            "YourAccessKeySecret",
            "POST",
            &query,
            &headers,
            &empty,
        );
        assert_eq!(
            got,
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,\
             SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        let other = authorization("YourAccessKeyId", "OtherSecret", "POST", &query, &headers, &empty);
        assert_ne!(got, other);
    }

    #[test]
    fn query_values_are_rfc3986_encoded() {
        assert_eq!(
            canonical_query(&[("TemplateParam", r#"{"code":"123456"}"#), ("SignName", "阿 里*~")]),
            "SignName=%E9%98%BF%20%E9%87%8C%2A~&TemplateParam=%7B%22code%22%3A%22123456%22%7D"
        );
    }

    #[test]
    fn numbers_lose_the_plus_only() {
        assert_eq!(number("13800138000"), "13800138000");
        assert_eq!(number("+447700900123"), "447700900123");
    }
}
