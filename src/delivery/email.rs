//! Email: SMTP through lettre (STARTTLS required on `smtp://`, implicit TLS on `smtps://`,
//! plain only on `smtp+insecure://` for a local relay), or the server log (`log:`).
//!
//! The SMTP URL is a secret (it carries the password): no error, log line or `Debug` of this
//! module shows it, only the scheme, host and port. The certificate is checked against the
//! system roots plus the PEM roots of `HUFU_SMTP_CA_FILE`. A message is a
//! `multipart/alternative` of a text and an HTML part (`catalog::mail`). Each send opens its
//! own connection: codes are rare, and a pooled connection that went stale would turn into a
//! failed code.

use super::{DeliveryError, DeliverySettings, FailureKind, Outgoing};
use crate::catalog::mail::code_email;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::fmt;

/// The provider name of SMTP delivery in logs and errors.
const PROVIDER: &str = "smtp";

/// Where email goes.
#[derive(Debug)]
pub enum Mailer {
    /// Written to the server log (local development only; hufu warns at start).
    Log,
    /// Sent to an SMTP server (boxed: the transport is large, `Log` is nothing).
    Smtp(Box<SmtpMailer>),
}

/// An SMTP server to send through, and the `From` of every message.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `scheme://host:port`, without the credentials: what `Debug` shows.
    endpoint: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The mailer `settings` ask for: `None` without `HUFU_SMTP_URL`, [`Mailer::Log`] for
    /// `log:`, else an SMTP mailer. The error is one line naming the setting at fault; it never
    /// holds the URL (its password).
    pub fn from_settings(settings: &DeliverySettings) -> Result<Option<Mailer>, String> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        let raw = url.expose().trim();
        if raw == "log:" {
            return Ok(Some(Mailer::Log));
        }
        SmtpMailer::from_settings(raw, settings).map(|m| Some(Mailer::Smtp(Box::new(m))))
    }

    /// The provider name used in logs and errors.
    pub fn provider(&self) -> &'static str {
        match self {
            Mailer::Log => "log",
            Mailer::Smtp(_) => PROVIDER,
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
            Mailer::Smtp(smtp) => smtp.send(message).await,
        }
    }
}

/// How the connection is secured, by URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: STARTTLS, and no message without it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp+insecure://`: plain text, for a relay on the same host or network.
    Plain,
}

impl SmtpMailer {
    fn from_settings(raw: &str, settings: &DeliverySettings) -> Result<SmtpMailer, String> {
        // Never echo `raw` or the url crate's error about it: either may show the password.
        let url = url::Url::parse(raw).map_err(|_| {
            "HUFU_SMTP_URL: not a URL (expected smtp://, smtps://, smtp+insecure:// or log:)".to_owned()
        })?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            "smtp+insecure" => (Security::Plain, 25),
            other => {
                return Err(format!(
                    "HUFU_SMTP_URL: expected smtp://, smtps://, smtp+insecure:// or log:, got {other}://"
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("HUFU_SMTP_URL: names no host".to_owned()),
        };
        if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
            return Err(
                "HUFU_SMTP_URL: takes no path, query or fragment (scheme://user:password@host:port)".to_owned(),
            );
        }
        let port = url.port().unwrap_or(default_port);
        let credentials = credentials(&url)?;

        let from = match settings.mail_from.as_deref().map(str::trim) {
            None | Some("") => {
                return Err("HUFU_MAIL_FROM is required to send email over SMTP".to_owned());
            }
            Some(text) => text
                .parse::<Mailbox>()
                .map_err(|_| format!("HUFU_MAIL_FROM: {text:?} is not a mailbox (`name <address>` or `address`)"))?,
        };

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()).port(port);
        if security != Security::Plain {
            let mut tls = TlsParameters::builder(host.clone());
            for root in extra_roots(settings)? {
                tls = tls.add_root_certificate(root);
            }
            let tls = tls
                .build_rustls()
                .map_err(|e| format!("HUFU_SMTP_CA_FILE: cannot set up TLS with these roots: {e}"))?;
            builder = builder.tls(match security {
                Security::StartTls => Tls::Required(tls),
                _ => Tls::Wrapper(tls),
            });
        }
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        let transport = builder.timeout(Some(settings.timeout)).build();
        Ok(SmtpMailer {
            transport,
            from,
            endpoint: format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or_default()),
        })
    }

    async fn send(&self, message: &Outgoing<'_>) -> Result<(), DeliveryError> {
        let to = message.to.parse::<Mailbox>().map_err(|_| {
            DeliveryError::new(
                PROVIDER,
                FailureKind::Refused,
                Some("invalid recipient address".to_owned()),
            )
        })?;
        let mail = code_email(message.purpose, message.lang, message.code.expose(), message.ttl);
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|_| {
                DeliveryError::new(
                    PROVIDER,
                    FailureKind::Refused,
                    Some("cannot build the message".to_owned()),
                )
            })?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| classify(&e))
    }
}

/// The URL's user and password, percent-decoded; none without a user.
fn credentials(url: &url::Url) -> Result<Option<Credentials>, String> {
    if url.username().is_empty() {
        return Ok(None);
    }
    let decode = |part: &str, what: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("HUFU_SMTP_URL: the {what} is not UTF-8 once percent-decoded"))
    };
    let user = decode(url.username(), "user")?;
    let password = decode(url.password().unwrap_or_default(), "password")?;
    Ok(Some(Credentials::new(user, password)))
}

/// The roots of `HUFU_SMTP_CA_FILE`, when set: at least one PEM certificate.
fn extra_roots(settings: &DeliverySettings) -> Result<Vec<Certificate>, String> {
    let Some(path) = &settings.smtp_ca_file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path).map_err(|e| format!("HUFU_SMTP_CA_FILE: cannot read {}: {e}", path.display()))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("HUFU_SMTP_CA_FILE: {} is not valid PEM: {e}", path.display()))?;
    if ders.is_empty() {
        return Err(format!(
            "HUFU_SMTP_CA_FILE: {} holds no PEM certificate",
            path.display()
        ));
    }
    ders.into_iter()
        .map(|der| {
            Certificate::from_der(der.to_vec()).map_err(|e| {
                format!(
                    "HUFU_SMTP_CA_FILE: {} holds an invalid certificate: {e}",
                    path.display()
                )
            })
        })
        .collect()
}

/// A lettre failure as a [`DeliveryError`]: a 5xx reply is a refusal, a 4xx one a passing
/// unavailability (both name the reply code); anything else is unavailability, with a short
/// reason that holds neither what was sent nor the server's free text.
fn classify(error: &lettre::transport::smtp::Error) -> DeliveryError {
    if let Some(code) = error.status() {
        let kind = if error.is_permanent() {
            FailureKind::Refused
        } else {
            FailureKind::Unavailable
        };
        return DeliveryError::new(PROVIDER, kind, Some(format!("smtp {code}")));
    }
    if error.is_timeout() {
        return DeliveryError::new(PROVIDER, FailureKind::Timeout, None);
    }
    let source = std::error::Error::source(error);
    let reason = if error.is_tls() {
        // rustls's own words ("invalid peer certificate: UnknownIssuer"), never the server's.
        match source {
            Some(e) => format!("tls: {e}"),
            None => "tls".to_owned(),
        }
    } else if error.is_client() {
        // lettre's fixed sentences ("STARTTLS is not supported on this server").
        source.map_or_else(|| "client".to_owned(), |e| e.to_string())
    } else if error.is_response() {
        "unreadable response".to_owned()
    } else {
        match io_error(error) {
            // tokio-rustls reports a failed handshake (an untrusted certificate, a wrong name)
            // as invalid data wrapping rustls's error, whose words are rustls's own.
            Some(io) if io.kind() == std::io::ErrorKind::InvalidData => format!("tls: {io}"),
            Some(io) => format!("connection: {}", io.kind()),
            None => "connection".to_owned(),
        }
    };
    DeliveryError::new(PROVIDER, FailureKind::Unavailable, Some(truncate(reason, 120)))
}

/// The first I/O error among `error`'s sources.
fn io_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = e.source();
    }
    None
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    fn settings(url: &str, from: Option<&str>) -> DeliverySettings {
        DeliverySettings {
            smtp_url: Some(SecretString::new(url)),
            mail_from: from.map(str::to_owned),
            ..DeliverySettings::default()
        }
    }

    fn error_of(url: &str, from: Option<&str>) -> String {
        Mailer::from_settings(&settings(url, from)).unwrap_err()
    }

    #[test]
    fn no_url_is_no_mailer_and_log_is_the_log() {
        assert!(Mailer::from_settings(&DeliverySettings::default()).unwrap().is_none());
        let log = Mailer::from_settings(&settings("log:", None)).unwrap().unwrap();
        assert!(matches!(log, Mailer::Log));
    }

    #[test]
    fn each_scheme_builds_a_mailer_with_its_default_port() {
        for (url, endpoint) in [
            ("smtp://u:p@mail.example.com", "smtp://mail.example.com:587"),
            ("smtps://u:p@mail.example.com", "smtps://mail.example.com:465"),
            ("smtp+insecure://localhost", "smtp+insecure://localhost:25"),
            ("smtp://u:p@mail.example.com:2525", "smtp://mail.example.com:2525"),
        ] {
            let mailer = Mailer::from_settings(&settings(url, Some("hufu <no-reply@example.com>")))
                .unwrap()
                .unwrap();
            let Mailer::Smtp(smtp) = &mailer else { panic!("{url}") };
            assert_eq!(smtp.endpoint, endpoint);
            assert_eq!(mailer.provider(), "smtp");
            let debug = format!("{mailer:?}");
            assert!(!debug.contains(":p@"), "{debug}");
        }
    }

    #[test]
    fn bad_settings_are_one_line_errors_without_the_password() {
        let from = Some("no-reply@example.com");
        let cases = [
            error_of("smtp://user:hunter2@mail.example.com", None),
            error_of("smtp://user:hunter2@mail.example.com", Some("not a mailbox")),
            error_of("http://user:hunter2@mail.example.com", from),
            error_of("smtp://user:hunter2@mail.example.com/path", from),
            error_of("smtp://user:hunter2@mail.example.com?x=1", from),
            error_of("smtp://user:hunter2@[::1", from),
            error_of("smtp://user:%FF%FEhunter2@mail.example.com", from),
        ];
        for error in &cases {
            assert!(!error.contains("hunter2"), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert!(cases[0].contains("HUFU_MAIL_FROM"), "{}", cases[0]);
        assert!(cases[1].contains("HUFU_MAIL_FROM"), "{}", cases[1]);
        assert!(cases[2].contains("http://"), "{}", cases[2]);
        for error in &cases[2..] {
            assert!(error.starts_with("HUFU_SMTP_URL"), "{error}");
        }
    }

    #[test]
    fn an_unreadable_or_empty_or_invalid_ca_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let with_ca = |path: std::path::PathBuf| {
            let mut s = settings("smtps://u:p@mail.example.com", Some("a@example.com"));
            s.smtp_ca_file = Some(path);
            Mailer::from_settings(&s).unwrap_err()
        };
        let missing = with_ca(dir.path().join("missing.pem"));
        assert!(missing.starts_with("HUFU_SMTP_CA_FILE: cannot read"), "{missing}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let error = with_ca(empty);
        assert!(error.contains("holds no PEM certificate"), "{error}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = with_ca(garbage);
        assert!(error.starts_with("HUFU_SMTP_CA_FILE"), "{error}");
    }

    #[test]
    fn the_user_and_password_are_percent_decoded() {
        let url = url::Url::parse("smtp://me%40example.com:p%40ss%3Aw%2Frd%25@host").unwrap();
        let decoded = credentials(&url).unwrap().unwrap();
        let expected = Credentials::new("me@example.com".to_owned(), "p@ss:w/rd%".to_owned());
        assert_eq!(decoded, expected);
        assert!(credentials(&url::Url::parse("smtp://host").unwrap()).unwrap().is_none());
    }
}
