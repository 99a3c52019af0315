//! SMS: Aliyun (Dysmsapi SendSms), Tencent Cloud (SMS SendSms 2021-01-11), a signed webhook,
//! or the server log (`log`).

use super::{DeliveryError, Outgoing};
use crate::secret::SecretString;

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
}

impl SmsSender {
    /// The sender `HUFU_SMS_PROVIDER` names (none when unset).
    pub fn from_settings(settings: &SmsSettings, _http: reqwest::Client) -> Result<Option<SmsSender>, String> {
        match settings.provider {
            None => Ok(None),
            Some(SmsProvider::Log) => Ok(Some(SmsSender::Log)),
            Some(_) => Err("HUFU_SMS_PROVIDER: this provider is not built in yet".to_owned()),
        }
    }

    /// The provider name used in logs and errors.
    pub fn provider(&self) -> &'static str {
        match self {
            SmsSender::Log => "log",
        }
    }

    /// Sends one message.
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
        }
    }
}
