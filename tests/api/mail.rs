//! Email delivery against the fake SMTP server over real TCP and TLS: a `Mailer` built from
//! settings as hufu builds it, sending through `Delivery` (its timeout) as the domain does.

use crate::fake_smtp::{self, FakeSmtp, Stage, TlsMode};
use hufu::catalog::Lang;
use hufu::delivery::email::Mailer;
use hufu::delivery::{Channel, Delivery, DeliveryError, DeliverySettings, FailureKind, Outgoing};
use hufu::secret::SecretString;
use std::time::Duration;

const TO: &str = "alice@example.com";
const CODE: &str = "482913";
const TTL: Duration = Duration::from_secs(300);

fn settings_for(server: &FakeSmtp) -> DeliverySettings {
    let mut settings = DeliverySettings {
        timeout: Duration::from_secs(5),
        ..DeliverySettings::default()
    };
    server.configure(&mut settings);
    settings
}

fn delivery(settings: &DeliverySettings) -> Delivery {
    Delivery {
        email: Mailer::from_settings(settings).unwrap(),
        sms: None,
        timeout: settings.timeout,
    }
}

async fn send(delivery: &Delivery, purpose: &'static str, lang: Lang) -> Result<(), DeliveryError> {
    let code = SecretString::new(CODE);
    let message = Outgoing {
        to: TO,
        code: &code,
        purpose,
        lang,
        ttl: TTL,
    };
    delivery.send(Channel::Email, &message).await
}

/// What a failure may show: never the password, the user's code or the URL.
fn assert_safe(error: &DeliveryError) {
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(CODE), "{shown}");
        assert!(!shown.contains(fake_smtp::PASSWORD), "{shown}");
        assert!(!shown.contains("p%40ss"), "{shown}");
        assert!(!shown.contains("wrong-password"), "{shown}");
    }
}

#[tokio::test]
async fn starttls_delivers_a_text_and_an_html_part_with_the_code() {
    let server = FakeSmtp::start().await;
    let delivery = delivery(&settings_for(&server));
    send(&delivery, "login", Lang::En).await.unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert!(message.tls, "the message went in clear");
    assert_eq!(message.user.as_deref(), Some(fake_smtp::USER));
    assert_eq!(message.from, "no-reply@example.com");
    assert_eq!(message.to, vec![TO.to_owned()]);

    let mail = server.mail_for(TO).unwrap();
    assert_eq!(mail.content_type, "multipart/alternative");
    assert_eq!(mail.subject, "Your sign-in code");
    assert!(mail.from.contains("no-reply@example.com"), "{}", mail.from);
    assert!(mail.to.contains(TO), "{}", mail.to);
    let text = mail.text.unwrap();
    let html = mail.html.unwrap();
    assert!(text.contains(CODE) && text.contains("5 minutes"), "{text}");
    assert!(html.contains(CODE) && html.contains("<html lang=\"en\">"), "{html}");
    assert_eq!(server.code_for(TO).as_deref(), Some(CODE));
    assert_eq!(
        server.wait_for_code(TO, Duration::from_secs(1)).await.as_deref(),
        Some(CODE)
    );
    assert!(server.code_for("bob@example.com").is_none());
}

#[tokio::test]
async fn the_subject_and_body_follow_the_purpose_and_the_language() {
    let server = FakeSmtp::start().await;
    let delivery = delivery(&settings_for(&server));
    for (purpose, lang, subject, phrase) in [
        ("register", Lang::En, "Your registration code", "valid for 5 minutes"),
        ("reset_password", Lang::Zh, "重置密码验证码", "5 分钟内有效"),
        ("login", Lang::Zh, "登录验证码", "登录验证码"),
        ("reauth", Lang::En, "Confirm it's you", "sensitive change"),
    ] {
        send(&delivery, purpose, lang).await.unwrap();
        let mail = server.mail_for(TO).unwrap();
        assert_eq!(mail.subject, subject, "{purpose} {lang:?}");
        let text = mail.text.unwrap();
        assert!(text.contains(phrase), "{purpose} {lang:?}: {text}");
        assert!(mail.html.unwrap().contains(CODE));
        assert_eq!(server.code_for(TO).as_deref(), Some(CODE));
    }
    assert_eq!(server.messages().len(), 4);
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let server = FakeSmtp::start_with(TlsMode::Implicit).await;
    let settings = settings_for(&server);
    assert!(settings.smtp_url.as_ref().unwrap().expose().starts_with("smtps://"));
    send(&delivery(&settings), "verify", Lang::En).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls);
    assert_eq!(server.code_for(TO).as_deref(), Some(CODE));
}

#[tokio::test]
async fn smtp_refuses_to_send_in_clear_when_the_server_offers_no_starttls() {
    let server = FakeSmtp::start_with(TlsMode::None).await;
    let error = send(&delivery(&settings_for(&server)), "login", Lang::En)
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Unavailable, "{error}");
    assert_eq!(error.provider, "smtp");
    let reason = error.provider_code.clone().unwrap_or_default();
    assert!(reason.contains("STARTTLS"), "{error}");
    assert_safe(&error);
    assert_eq!(server.connections(), 1);
    assert!(server.messages().is_empty());
    // Nor did the password go over the plain connection.
    assert_eq!(server.auth_failures(), 0);
}

#[tokio::test]
async fn smtp_insecure_sends_in_clear_to_a_local_relay() {
    let server = FakeSmtp::start_with(TlsMode::None).await;
    let mut settings = settings_for(&server);
    let url = server.url().replacen("smtp://", "smtp+insecure://", 1);
    settings.smtp_url = Some(SecretString::new(url));
    send(&delivery(&settings), "login", Lang::En).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(!messages[0].tls);
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let server = FakeSmtp::start().await;
    let mut settings = settings_for(&server);
    settings.smtp_url = Some(SecretString::new(server.url_with(fake_smtp::USER, "wrong-password")));
    let error = send(&delivery(&settings), "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Refused, "{error}");
    assert_eq!(error.provider_code.as_deref(), Some("smtp 535"));
    assert_eq!(server.auth_failures(), 1);
    assert!(server.messages().is_empty());
    assert_safe(&error);
}

#[tokio::test]
async fn a_5xx_reply_is_refused_and_a_4xx_one_unavailable_with_the_code() {
    let server = FakeSmtp::start().await;
    let delivery = delivery(&settings_for(&server));

    server.reject_next(550);
    let error = send(&delivery, "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Refused, "{error}");
    assert_eq!(error.provider_code.as_deref(), Some("smtp 550"));
    assert!(error.to_string().contains("smtp 550"), "{error}");
    assert_safe(&error);

    server.reject_next(451);
    let error = send(&delivery, "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Unavailable, "{error}");
    assert_eq!(error.provider_code.as_deref(), Some("smtp 451"));
    assert_safe(&error);

    server.reject_next_at(Stage::Data, 554);
    let error = send(&delivery, "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Refused, "{error}");
    assert_eq!(error.provider_code.as_deref(), Some("smtp 554"));

    assert!(server.messages().is_empty());
    // Each knob is spent once: the next send goes through.
    send(&delivery, "login", Lang::En).await.unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_server_slower_than_the_delivery_timeout_is_a_timeout() {
    let server = FakeSmtp::start().await;
    let mut settings = settings_for(&server);
    settings.timeout = Duration::from_millis(300);
    let delivery = delivery(&settings);
    server.delay_next(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let error = send(&delivery, "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_safe(&error);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable() {
    let server = FakeSmtp::start().await;
    let delivery = delivery(&settings_for(&server));
    server.drop_next();
    let error = send(&delivery, "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Unavailable, "{error}");
    assert_safe(&error);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_fails_without_the_ca_file() {
    for mode in [TlsMode::StartTls, TlsMode::Implicit] {
        let server = FakeSmtp::start_with(mode).await;
        let mut settings = settings_for(&server);
        settings.smtp_ca_file = None;
        let error = send(&delivery(&settings), "login", Lang::En).await.unwrap_err();
        assert_eq!(error.kind, FailureKind::Unavailable, "{mode:?}: {error}");
        let reason = error.provider_code.clone().unwrap_or_default();
        assert!(reason.starts_with("tls: invalid peer certificate"), "{mode:?}: {error}");
        assert_safe(&error);
        assert!(server.messages().is_empty());
        assert_eq!(server.auth_failures(), 0);
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let settings = DeliverySettings {
        smtp_url: Some(SecretString::new(format!(
            "smtp://user:secret-password@127.0.0.1:{port}"
        ))),
        mail_from: Some("no-reply@example.com".to_owned()),
        ..DeliverySettings::default()
    };
    let error = send(&delivery(&settings), "login", Lang::En).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Unavailable, "{error}");
    assert!(!error.to_string().contains("secret-password"));
}
