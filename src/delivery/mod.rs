//! Getting a one-time code to a person: email over SMTP, SMS through a provider's HTTP API (or
//! a signed webhook), or the server log for local development.
//!
//! This is an adapter, like `store` and `cache`: it knows protocols and providers, never the
//! rules (who may get a code, limits, single use: `domain::codes`). It depends only on
//! `catalog` (the message texts), `secret`, `crypto` (request signing) and outside crates.
//! Nothing it logs or returns ever holds a code, a password or a provider credential; a
//! provider's refusal comes back as its own error code (`DeliveryError::provider_code`) for
//! the log.

pub mod email;
pub mod sms;

use crate::catalog::Lang;
use crate::secret::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// The `delivery` section of the settings (its defaults are declared in `config::sections`).
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Longest one delivery may take.
    pub timeout: Duration,
    /// `smtp://…`, `smtps://…`, `smtp+insecure://…` or `log:`; no email when unset. A secret:
    /// it may carry the SMTP password.
    pub smtp_url: Option<SecretString>,
    /// The `From` of every email.
    pub mail_from: Option<String>,
    /// A PEM file of extra roots to trust for the SMTP server.
    pub smtp_ca_file: Option<PathBuf>,
    /// The SMS provider.
    pub sms: sms::SmsSettings,
}

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// An email address.
    Email,
    /// A phone number, by SMS.
    Sms,
}

impl Channel {
    /// The contract's name (`email`, `sms`), as requests and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// One message to deliver.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// The normalised target: an email address, or a phone in hufu's stored form (mainland
    /// numbers as 11 digits, others in E.164).
    pub to: &'a str,
    /// The six-digit code.
    pub code: &'a SecretString,
    /// What the code is for, as the contract names it (`login`, `register`, `reset_password`,
    /// `verify`, `change`, `reauth`): picks the subject or the SMS template.
    pub purpose: &'static str,
    /// The language of the request that asked for the code.
    pub lang: Lang,
    /// How long the code stays valid (`HUFU_CODE_TTL`): the email says so.
    pub ttl: Duration,
}

/// How a delivery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The provider answered and refused (bad credentials, a limit, a bad number…).
    Refused,
    /// No answer within the delivery timeout.
    Timeout,
    /// Unreachable, the connection dropped, or an answer that makes no sense.
    Unavailable,
}

/// A delivery that did not happen. Its `Display` is safe to log: the provider and its own
/// error code or a short reason, never a credential, a code or a URL with a query.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider} delivery failed ({kind:?}){}", provider_code.as_deref().map(|c| format!(": {c}")).unwrap_or_default())]
pub struct DeliveryError {
    /// `smtp`, `aliyun`, `tencent`, `webhook`.
    pub provider: &'static str,
    /// The provider's own error code (`isv.BUSINESS_LIMIT_CONTROL`, an SMTP reply code, …).
    pub provider_code: Option<String>,
    /// How it failed.
    pub kind: FailureKind,
}

impl DeliveryError {
    /// A failure of `provider` of `kind`, with the provider's own code when it gave one.
    pub fn new(provider: &'static str, kind: FailureKind, provider_code: Option<String>) -> Self {
        Self {
            provider,
            provider_code,
            kind,
        }
    }
}

/// Both channels, as configured. A channel that is `None` answers
/// `CODE_CHANNEL_NOT_CONFIGURED` in the domain.
#[derive(Debug)]
pub struct Delivery {
    /// Email, when `HUFU_SMTP_URL` is set.
    pub email: Option<email::Mailer>,
    /// SMS, when `HUFU_SMS_PROVIDER` is set.
    pub sms: Option<sms::SmsSender>,
    /// Longest one delivery may take (`HUFU_DELIVERY_TIMEOUT`).
    pub timeout: Duration,
}

impl Delivery {
    /// Whether `channel` can deliver.
    pub fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
        }
    }

    /// Delivers `message` on `channel`, within the delivery timeout.
    pub async fn send(&self, channel: Channel, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let (provider, sending) = match channel {
            Channel::Email => match &self.email {
                Some(mailer) => (
                    mailer.provider(),
                    futures_util::future::Either::Left(mailer.send(message)),
                ),
                None => return Err(DeliveryError::new("email", FailureKind::Unavailable, None)),
            },
            Channel::Sms => match &self.sms {
                Some(sender) => (
                    sender.provider(),
                    futures_util::future::Either::Right(sender.send(message)),
                ),
                None => return Err(DeliveryError::new("sms", FailureKind::Unavailable, None)),
            },
        };
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::new(provider, FailureKind::Timeout, None)),
        }
    }
}
