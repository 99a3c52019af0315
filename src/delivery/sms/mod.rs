//! SMS: Aliyun (Dysmsapi SendSms), Tencent Cloud (SMS SendSms 2021-01-11), a signed webhook,
//! or the server log (`log`).
//!
//! This module owns the settings of the `delivery.sms` section, the checks that a provider is
//! configured completely (`SmsSender::from_settings`), and what the providers share: the
//! phone formats they take, the per-purpose templates and the mapping of transport failures to
//! [`FailureKind`]. Each provider's wire protocol and request signing is in its own file.
//! Nothing here logs; the caller logs a failure's `Display` (provider and provider code only).

pub mod aliyun;
pub mod tencent;
pub mod webhook;

use super::{DeliveryError, FailureKind, Outgoing};
use crate::secret::SecretString;
use std::collections::HashMap;

/// Which SMS provider (`HUFU_SMS_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProvider {
    /// Aliyun Dysmsapi SendSms, ACS3-HMAC-SHA256.
    Aliyun,
    /// Tencent Cloud SMS SendSms 2021-01-11, TC3-HMAC-SHA256.
    Tencent,
    /// A signed POST to `HUFU_SMS_WEBHOOK_URL`.
    Webhook,
    /// The server log (local development only).
    Log,
}

impl SmsProvider {
    /// Parses `aliyun`, `tencent`, `webhook` or `log`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "aliyun" => Ok(Self::Aliyun),
            "tencent" => Ok(Self::Tencent),
            "webhook" => Ok(Self::Webhook),
            "log" => Ok(Self::Log),
            other => Err(format!("expected aliyun, tencent, webhook or log, got {other:?}")),
        }
    }
}

/// The `delivery.sms` section of the settings (its defaults are declared in `config::sections`).
#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// The provider; no SMS when unset.
    pub provider: Option<SmsProvider>,
    /// The provider's access key id (Aliyun AccessKeyId, Tencent SecretId).
    pub access_key_id: Option<String>,
    /// The provider's access key secret (Aliyun AccessKeySecret, Tencent SecretKey).
    pub access_key_secret: Option<SecretString>,
    /// The SMS signature (签名) registered with the provider.
    pub sign_name: Option<String>,
    /// The template of every purpose without its own.
    pub template: Option<String>,
    /// The template of `login` codes.
    pub template_login: Option<String>,
    /// The template of `register` codes.
    pub template_register: Option<String>,
    /// The template of `reset_password` codes.
    pub template_reset_password: Option<String>,
    /// The template of `verify` codes.
    pub template_verify: Option<String>,
    /// The template of `change` codes.
    pub template_change: Option<String>,
    /// The template of `reauth` codes.
    pub template_reauth: Option<String>,
    /// The template variable that carries the code (Aliyun's `TemplateParam` key).
    pub template_param: String,
    /// Tencent's SmsSdkAppId.
    pub sdk_app_id: Option<String>,
    /// The provider's region (`cn-hangzhou` for Aliyun, `ap-guangzhou` for Tencent when unset).
    pub region: Option<String>,
    /// The provider's API base URL (tests point it at a fake provider).
    pub api_base: Option<String>,
    /// Where the `webhook` provider posts.
    pub webhook_url: Option<String>,
    /// The key that signs the `webhook` provider's posts.
    pub webhook_secret: Option<SecretString>,
}

impl SmsSettings {
    /// The template for codes of `purpose` (a contract purpose name): its own, else the
    /// common one.
    pub fn template_for(&self, purpose: &str) -> Option<&str> {
        let own = match purpose {
            "login" => &self.template_login,
            "register" => &self.template_register,
            "reset_password" => &self.template_reset_password,
            "verify" => &self.template_verify,
            "change" => &self.template_change,
            "reauth" => &self.template_reauth,
            _ => &None,
        };
        own.as_deref().or(self.template.as_deref())
    }
}

/// Where SMS go.
#[derive(Debug)]
pub enum SmsSender {
    /// Written to the server log (local development only; hufu warns at start).
    Log,
    /// Aliyun Dysmsapi SendSms.
    Aliyun(aliyun::Aliyun),
    /// Tencent Cloud SMS SendSms.
    Tencent(tencent::Tencent),
    /// A signed POST to a webhook.
    Webhook(webhook::Webhook),
}

impl SmsSender {
    /// The sender `settings` describe, sending through `http`; `None` when no provider is set.
    /// A provider without one of the settings it needs is an error naming that setting (the
    /// message is safe to print: it never holds a value).
    pub fn from_settings(settings: &SmsSettings, http: reqwest::Client) -> Result<Option<SmsSender>, String> {
        let Some(provider) = settings.provider else {
            return Ok(None);
        };
        let sender = match provider {
            SmsProvider::Log => SmsSender::Log,
            SmsProvider::Aliyun => SmsSender::Aliyun(aliyun::Aliyun::new(settings, http)?),
            SmsProvider::Tencent => SmsSender::Tencent(tencent::Tencent::new(settings, http)?),
            SmsProvider::Webhook => SmsSender::Webhook(webhook::Webhook::new(settings, http)?),
        };
        Ok(Some(sender))
    }

    /// The provider name used in logs and errors.
    pub fn provider(&self) -> &'static str {
        match self {
            SmsSender::Log => "log",
            SmsSender::Aliyun(_) => aliyun::PROVIDER,
            SmsSender::Tencent(_) => tencent::PROVIDER,
            SmsSender::Webhook(_) => webhook::PROVIDER,
        }
    }

    /// Sends one message. Has no timeout of its own: `Delivery::send` bounds it.
    pub async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        match self {
            SmsSender::Log => {
                tracing::warn!(
                    to = message.to,
                    purpose = message.purpose,
                    code = message.code.expose(),
                    "SMS code (log delivery: for local development only)"
                );
                Ok(())
            }
            SmsSender::Aliyun(aliyun) => aliyun.send(message).await,
            SmsSender::Tencent(tencent) => tencent.send(message).await,
            SmsSender::Webhook(webhook) => webhook.send(message).await,
        }
    }
}

/// The purposes a code can have (contract section 10), each of which needs a template.
const PURPOSES: [&str; 6] = ["login", "register", "reset_password", "verify", "change", "reauth"];

/// The template of each purpose, resolved once so a send cannot find one missing.
#[derive(Debug, Clone)]
pub(crate) struct Templates(HashMap<&'static str, String>);

impl Templates {
    /// Every purpose's template, or the setting to add for the first purpose without one.
    fn from_settings(settings: &SmsSettings, provider: &str) -> Result<Self, String> {
        let mut templates = HashMap::new();
        for purpose in PURPOSES {
            match settings.template_for(purpose).map(str::trim) {
                Some(template) if !template.is_empty() => {
                    templates.insert(purpose, template.to_owned());
                }
                _ => {
                    return Err(format!(
                        "HUFU_SMS_PROVIDER={provider} needs HUFU_SMS_TEMPLATE (or HUFU_SMS_TEMPLATE_{})",
                        purpose.to_ascii_uppercase()
                    ));
                }
            }
        }
        Ok(Self(templates))
    }

    /// The template of `purpose`; a purpose outside the contract is a failed delivery.
    fn get(&self, provider: &'static str, purpose: &str) -> Result<&str, DeliveryError> {
        self.0
            .get(purpose)
            .map(String::as_str)
            .ok_or_else(|| DeliveryError::new(provider, FailureKind::Unavailable, Some("no template".into())))
    }
}

/// A text setting the provider cannot do without (blank counts as unset).
fn required<'a>(value: &'a Option<String>, provider: &str, name: &str) -> Result<&'a str, String> {
    match value.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(format!("HUFU_SMS_PROVIDER={provider} needs {name}")),
    }
}

/// A secret setting the provider cannot do without (blank counts as unset).
fn required_secret(value: &Option<SecretString>, provider: &str, name: &str) -> Result<SecretString, String> {
    match value {
        Some(secret) if !secret.expose().trim().is_empty() => Ok(secret.clone()),
        _ => Err(format!("HUFU_SMS_PROVIDER={provider} needs {name}")),
    }
}

/// Where a provider's API is: `HUFU_SMS_API_BASE` when set, else `default`; with the `Host`
/// value requests to it carry (a port only when it is not the scheme's default), which is
/// also the value the signature covers.
fn endpoint(api_base: Option<&str>, default: &str) -> Result<(url::Url, String), String> {
    let raw = api_base.unwrap_or(default);
    let url = url::Url::parse(raw).map_err(|e| format!("HUFU_SMS_API_BASE is not a URL ({e})"))?;
    let host = url
        .host_str()
        .ok_or_else(|| "HUFU_SMS_API_BASE has no host".to_owned())?;
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((url, host))
}

/// Whether `phone` (hufu's stored form) is a mainland number: 11 digits starting with 1.
fn is_mainland(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

/// `phone` in E.164: mainland numbers get `+86`, the others are stored in E.164 already.
pub(crate) fn e164(phone: &str) -> String {
    if is_mainland(phone) {
        format!("+86{phone}")
    } else {
        phone.to_owned()
    }
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A failure to get an answer: the client's own timeout, else unreachable or dropped.
fn transport_failure(provider: &'static str, error: &reqwest::Error) -> DeliveryError {
    let kind = if error.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Unavailable
    };
    DeliveryError::new(provider, kind, None)
}

/// An answer that is not what the provider sends: unavailable, with the HTTP status for the log.
fn nonsense(provider: &'static str, status: reqwest::StatusCode) -> DeliveryError {
    DeliveryError::new(
        provider,
        FailureKind::Unavailable,
        Some(format!("http {}", status.as_u16())),
    )
}

/// A refusal with the provider's own error code, kept to the characters such codes use and
/// to a bounded length, so an odd answer cannot put arbitrary text into the log.
fn refused(provider: &'static str, code: &str) -> DeliveryError {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '))
        .take(80)
        .collect();
    DeliveryError::new(provider, FailureKind::Refused, Some(clean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmsSettings {
        SmsSettings {
            provider: Some(SmsProvider::Aliyun),
            access_key_id: Some("id".into()),
            access_key_secret: Some(SecretString::new("secret")),
            sign_name: Some("hufu".into()),
            template: Some("SMS_1".into()),
            template_login: Some("SMS_LOGIN".into()),
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

    #[test]
    fn phones_become_e164_only_when_mainland() {
        assert_eq!(e164("13800138000"), "+8613800138000");
        assert_eq!(e164("+447700900123"), "+447700900123");
        assert_eq!(e164("+8613800138000"), "+8613800138000");
    }

    #[test]
    fn every_purpose_gets_its_own_template_or_the_common_one() {
        let templates = Templates::from_settings(&settings(), "aliyun").unwrap();
        assert_eq!(templates.get("aliyun", "login").unwrap(), "SMS_LOGIN");
        assert_eq!(templates.get("aliyun", "reauth").unwrap(), "SMS_1");
        assert!(templates.get("aliyun", "other").is_err());
        let mut partial = settings();
        partial.template = None;
        let error = Templates::from_settings(&partial, "aliyun").unwrap_err();
        assert_eq!(
            error,
            "HUFU_SMS_PROVIDER=aliyun needs HUFU_SMS_TEMPLATE (or HUFU_SMS_TEMPLATE_REGISTER)"
        );
    }

    #[test]
    fn refusal_codes_keep_only_code_characters() {
        let error = refused("aliyun", "isv.BUSINESS_LIMIT_CONTROL\n<script>");
        assert_eq!(error.provider_code.as_deref(), Some("isv.BUSINESS_LIMIT_CONTROLscript"));
        assert_eq!(error.kind, FailureKind::Refused);
    }

    #[test]
    fn the_endpoint_host_carries_a_port_only_when_it_is_not_the_default() {
        let (_, host) = endpoint(None, "https://dysmsapi.aliyuncs.com").unwrap();
        assert_eq!(host, "dysmsapi.aliyuncs.com");
        let (_, host) = endpoint(Some("http://127.0.0.1:4567"), "https://x").unwrap();
        assert_eq!(host, "127.0.0.1:4567");
    }
}
