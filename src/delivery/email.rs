//! Email: SMTP through lettre (STARTTLS required on `smtp://`, implicit TLS on `smtps://`,
//! plain only on `smtp+insecure://` for a local relay), or the server log (`log:`).

use super::{DeliveryError, Outgoing};

/// Where email goes.
#[derive(Debug)]
pub enum Mailer {
    /// Written to the server log (local development only; hufu warns at start).
    Log,
}

impl Mailer {
    /// The mailer `HUFU_SMTP_URL` names (none when unset).
    pub fn from_settings(settings: &super::DeliverySettings) -> Result<Option<Mailer>, String> {
        match settings.smtp_url.as_ref().map(|url| url.expose()) {
            None => Ok(None),
            Some("log:") => Ok(Some(Mailer::Log)),
            Some(_) => Err("HUFU_SMTP_URL: SMTP delivery is not built in yet".to_owned()),
        }
    }

    /// The provider name used in logs and errors.
    pub fn provider(&self) -> &'static str {
        match self {
            Mailer::Log => "log",
        }
    }

    /// Sends one message.
    pub async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        match self {
            Mailer::Log => {
                tracing::warn!(
                    to = message.to,
                    purpose = message.purpose,
                    code = message.code.expose(),
                    "email code (log delivery: for local development only)"
                );
                Ok(())
            }
        }
    }
}
