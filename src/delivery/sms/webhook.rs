//! The `webhook` SMS provider: a JSON POST of `{phone, code, purpose, lang}` to
//! `HUFU_SMS_WEBHOOK_URL` for a gateway of the operator's own, signed like the contract's
//! events (section 12) with `X-Hufu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! t + "." + body)>` under `HUFU_SMS_WEBHOOK_SECRET` (`crypto::webhook_signature`).
//!
//! `phone` is in hufu's stored form (mainland 11 digits, others E.164) and `lang` is `zh` or
//! `en`. Any 2xx answer means sent; any other status is a refusal with provider code
//! `http <status>`.

use super::SmsSettings;
use crate::delivery::{DeliveryError, Outgoing};
use crate::secret::SecretString;

/// The provider name in logs and errors.
pub const PROVIDER: &str = "webhook";

/// A configured webhook sender.
#[derive(Debug)]
pub struct Webhook {
    http: reqwest::Client,
    url: url::Url,
    secret: SecretString,
}

impl Webhook {
    /// The sender of `settings`, or the setting it lacks.
    pub(super) fn new(settings: &SmsSettings, http: reqwest::Client) -> Result<Self, String> {
        let url = super::required(&settings.webhook_url, PROVIDER, "HUFU_SMS_WEBHOOK_URL")?;
        let url = url::Url::parse(url).map_err(|e| format!("HUFU_SMS_WEBHOOK_URL is not a URL ({e})"))?;
        let secret = super::required_secret(&settings.webhook_secret, PROVIDER, "HUFU_SMS_WEBHOOK_SECRET")?;
        Ok(Self { http, url, secret })
    }

    /// Posts `message`, signed.
    pub(super) async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let body = serde_json::json!({
            "phone": message.to,
            "code": message.code.expose(),
            "purpose": message.purpose,
            "lang": message.lang.pick("en", "zh"),
        })
        .to_string();
        let signature =
            crate::crypto::webhook_signature(self.secret.expose().as_bytes(), super::unix_now(), body.as_bytes());
        let response = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(crate::crypto::WEBHOOK_SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| super::transport_failure(PROVIDER, &e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(super::refused(PROVIDER, &format!("http {}", status.as_u16())))
        }
    }
}
