//! SMS: Aliyun (Dysmsapi SendSms), Tencent Cloud (SMS SendSms 2021-01-11), a signed webhook,
//! or the server log (`log`).

use super::{DeliveryError, Outgoing};

/// Where SMS go.
#[derive(Debug)]
pub enum SmsSender {
    /// Written to the server log (local development only; hufu warns at start).
    Log,
}

impl SmsSender {
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
