//! SMS delivery over real HTTP against the fake providers of `fake_sms`, which verify every
//! signature independently: what arrives (number format, code, template, sign name), the
//! providers' refusals (a wrong secret, a limit), a slow provider (timeout), a dropped
//! connection and an unreachable one (unavailable), errors that never show a secret or a
//! code, and the settings each provider needs.

use crate::fake_sms::{self, FakeSms, SentSms};
use hufu::catalog::Lang;
use hufu::delivery::sms::{SmsProvider, SmsSender, SmsSettings};
use hufu::delivery::{Channel, Delivery, DeliveryError, FailureKind, Outgoing};
use hufu::secret::SecretString;
use std::time::Duration;

const CODE: &str = "482915";

fn build(settings: &SmsSettings) -> SmsSender {
    SmsSender::from_settings(settings, reqwest::Client::new())
        .expect("complete settings")
        .expect("a provider is set")
}

async fn send(sender: &SmsSender, to: &str, purpose: &'static str, lang: Lang) -> Result<(), DeliveryError> {
    let code = SecretString::new(CODE);
    let message = Outgoing {
        to,
        code: &code,
        purpose,
        lang,
        ttl: Duration::from_secs(300),
    };
    sender.send(&message).await
}

/// Sends through `Delivery::send`, which bounds the send by `timeout`.
async fn send_within(sender: SmsSender, timeout: Duration) -> Result<(), DeliveryError> {
    let delivery = Delivery {
        email: None,
        sms: Some(sender),
        timeout,
    };
    let code = SecretString::new(CODE);
    let message = Outgoing {
        to: "13800138000",
        code: &code,
        purpose: "login",
        lang: Lang::Zh,
        ttl: Duration::from_secs(300),
    };
    delivery.send(Channel::Sms, &message).await
}

/// The error is of `kind` with `code`, and its `Display` names the provider and holds neither
/// the code sent nor any credential.
fn assert_failure(result: Result<(), DeliveryError>, provider: &str, kind: FailureKind, code: Option<&str>) {
    let error = result.expect_err("the send fails");
    assert_eq!(error.kind, kind, "{error}");
    assert_eq!(error.provider, provider);
    assert_eq!(error.provider_code.as_deref(), code, "{error}");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(provider), "{shown}");
    for secret in [
        CODE,
        fake_sms::ACCESS_KEY_SECRET,
        fake_sms::WEBHOOK_SECRET,
        "wrong-secret",
    ] {
        assert!(!shown.contains(secret), "{shown} must not show {secret}");
    }
}

fn sms(phone: &str, template: &str) -> SentSms {
    SentSms {
        phone: phone.into(),
        code: CODE.into(),
        template: template.into(),
        sign_name: fake_sms::SIGN_NAME.into(),
        purpose: None,
        lang: None,
    }
}

#[tokio::test]
async fn aliyun_delivers_signed_sends_with_its_number_format_and_templates() {
    let fake = FakeSms::aliyun().await;
    let sender = build(&fake.settings());
    assert_eq!(sender.provider(), "aliyun");
    send(&sender, "13800138000", "login", Lang::Zh).await.unwrap();
    send(&sender, "+447700900123", "register", Lang::En).await.unwrap();
    assert_eq!(
        fake.messages(),
        vec![
            sms("13800138000", fake_sms::TEMPLATE_LOGIN),
            sms("447700900123", fake_sms::TEMPLATE)
        ]
    );
    assert_eq!(fake.code_for("+8613800138000").as_deref(), Some(CODE));
    assert_eq!(
        fake.wait_for_code("+447700900123", Duration::from_secs(1))
            .await
            .as_deref(),
        Some(CODE)
    );
    assert_eq!(fake.code_for("13900139000"), None);
}

#[tokio::test]
async fn aliyun_refusals_carry_its_own_codes() {
    let fake = FakeSms::aliyun().await;
    let mut settings = fake.settings();
    settings.access_key_secret = Some(SecretString::new("wrong-secret"));
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "aliyun", FailureKind::Refused, Some("SignatureDoesNotMatch"));

    let mut settings = fake.settings();
    settings.access_key_id = Some("LTAI-unknown".into());
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "aliyun",
        FailureKind::Refused,
        Some("InvalidAccessKeyId.NotFound"),
    );

    let mut settings = fake.settings();
    settings.sign_name = Some("别的签名".into());
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "aliyun",
        FailureKind::Refused,
        Some("isv.SMS_SIGNATURE_ILLEGAL"),
    );

    let sender = build(&fake.settings());
    fake.fail_next("isv.BUSINESS_LIMIT_CONTROL");
    let result = send(&sender, "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "aliyun",
        FailureKind::Refused,
        Some("isv.BUSINESS_LIMIT_CONTROL"),
    );
    assert!(fake.messages().is_empty(), "nothing refused was delivered");
    send(&sender, "13800138000", "login", Lang::Zh)
        .await
        .expect("the knob was spent");
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn aliyun_slow_dropped_or_unreachable_is_timeout_or_unavailable() {
    let fake = FakeSms::aliyun().await;
    fake.delay_next(Duration::from_secs(3));
    let result = send_within(build(&fake.settings()), Duration::from_millis(300)).await;
    assert_failure(result, "aliyun", FailureKind::Timeout, None);

    fake.drop_next();
    let result = send(&build(&fake.settings()), "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "aliyun", FailureKind::Unavailable, None);
    assert!(fake.messages().is_empty());

    let mut settings = fake.settings();
    settings.api_base = Some(closed_port_url().await);
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "aliyun", FailureKind::Unavailable, None);
}

#[tokio::test]
async fn tencent_delivers_signed_sends_in_e164() {
    let fake = FakeSms::tencent().await;
    let sender = build(&fake.settings());
    assert_eq!(sender.provider(), "tencent");
    send(&sender, "13800138000", "login", Lang::Zh).await.unwrap();
    send(&sender, "+447700900123", "reset_password", Lang::En)
        .await
        .unwrap();
    assert_eq!(
        fake.messages(),
        vec![
            sms("+8613800138000", fake_sms::TEMPLATE_LOGIN),
            sms("+447700900123", fake_sms::TEMPLATE)
        ]
    );
    assert_eq!(fake.code_for("13800138000").as_deref(), Some(CODE));
}

#[tokio::test]
async fn tencent_refusals_carry_its_own_codes() {
    let fake = FakeSms::tencent().await;
    let mut settings = fake.settings();
    settings.access_key_secret = Some(SecretString::new("wrong-secret"));
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "tencent",
        FailureKind::Refused,
        Some("AuthFailure.SignatureFailure"),
    );

    let mut settings = fake.settings();
    settings.sdk_app_id = Some("1400999999".into());
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "tencent",
        FailureKind::Refused,
        Some("InvalidParameterValue.SdkAppIdNotExist"),
    );

    let sender = build(&fake.settings());
    fake.fail_next("LimitExceeded.PhoneNumberDailyLimit");
    let result = send(&sender, "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "tencent",
        FailureKind::Refused,
        Some("LimitExceeded.PhoneNumberDailyLimit"),
    );
    fake.fail_next_error("FailedOperation.InsufficientBalanceInSmsPackage");
    let result = send(&sender, "13800138000", "login", Lang::Zh).await;
    assert_failure(
        result,
        "tencent",
        FailureKind::Refused,
        Some("FailedOperation.InsufficientBalanceInSmsPackage"),
    );
    assert!(fake.messages().is_empty(), "nothing refused was delivered");
    send(&sender, "13800138000", "login", Lang::Zh)
        .await
        .expect("the knobs were spent");
}

#[tokio::test]
async fn tencent_slow_or_dropped_is_timeout_or_unavailable() {
    let fake = FakeSms::tencent().await;
    fake.delay_next(Duration::from_secs(3));
    let result = send_within(build(&fake.settings()), Duration::from_millis(300)).await;
    assert_failure(result, "tencent", FailureKind::Timeout, None);

    fake.drop_next();
    let result = send(&build(&fake.settings()), "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "tencent", FailureKind::Unavailable, None);
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn webhook_posts_signed_messages_and_refuses_on_non_2xx() {
    let fake = FakeSms::webhook().await;
    let sender = build(&fake.settings());
    assert_eq!(sender.provider(), "webhook");
    send(&sender, "13800138000", "verify", Lang::Zh).await.unwrap();
    send(&sender, "+447700900123", "change", Lang::En).await.unwrap();
    let posted = fake.messages();
    assert_eq!(posted.len(), 2);
    assert_eq!(
        (
            posted[0].phone.as_str(),
            posted[0].code.as_str(),
            posted[0].purpose.as_deref(),
            posted[0].lang.as_deref()
        ),
        ("13800138000", CODE, Some("verify"), Some("zh"))
    );
    assert_eq!(
        (
            posted[1].phone.as_str(),
            posted[1].purpose.as_deref(),
            posted[1].lang.as_deref()
        ),
        ("+447700900123", Some("change"), Some("en"))
    );

    let mut settings = fake.settings();
    settings.webhook_secret = Some(SecretString::new("wrong-secret"));
    let result = send(&build(&settings), "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "webhook", FailureKind::Refused, Some("http 401"));

    fake.fail_next("503");
    let result = send(&sender, "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "webhook", FailureKind::Refused, Some("http 503"));

    fake.drop_next();
    let result = send(&sender, "13800138000", "login", Lang::Zh).await;
    assert_failure(result, "webhook", FailureKind::Unavailable, None);

    fake.delay_next(Duration::from_secs(3));
    let result = send_within(build(&fake.settings()), Duration::from_millis(300)).await;
    assert_failure(result, "webhook", FailureKind::Timeout, None);
    assert_eq!(fake.messages().len(), 2);
}

#[test]
fn from_settings_names_the_missing_setting() {
    let client = reqwest::Client::new();
    let try_build = |settings: &SmsSettings| SmsSender::from_settings(settings, client.clone());
    let unset = fake_sms::empty_settings();
    assert!(try_build(&unset).unwrap().is_none(), "no provider, no SMS");

    let mut log = fake_sms::empty_settings();
    log.provider = Some(SmsProvider::Log);
    assert_eq!(try_build(&log).unwrap().unwrap().provider(), "log");

    let complete = |provider| {
        let mut s = fake_sms::empty_settings();
        s.provider = Some(provider);
        s.access_key_id = Some("id".into());
        s.access_key_secret = Some(SecretString::new("a-secret-value"));
        s.sign_name = Some("签名".into());
        s.template = Some("SMS_1".into());
        s.sdk_app_id = Some("1400000001".into());
        s.webhook_url = Some("http://127.0.0.1:9/sms".into());
        s.webhook_secret = Some(SecretString::new("a-secret-value"));
        s
    };
    for (provider, name) in [(SmsProvider::Aliyun, "aliyun"), (SmsProvider::Tencent, "tencent")] {
        assert_eq!(try_build(&complete(provider)).unwrap().unwrap().provider(), name);
        let cases: [(&str, Unset); 4] = [
            ("HUFU_SMS_ACCESS_KEY_ID", |s| s.access_key_id = None),
            ("HUFU_SMS_ACCESS_KEY_SECRET", |s| s.access_key_secret = None),
            ("HUFU_SMS_SIGN_NAME", |s| s.sign_name = Some("  ".into())),
            ("HUFU_SMS_TEMPLATE (or HUFU_SMS_TEMPLATE_LOGIN)", |s| s.template = None),
        ];
        for (missing, unset) in cases {
            let mut settings = complete(provider);
            unset(&mut settings);
            let error = try_build(&settings).unwrap_err();
            assert_eq!(error, format!("HUFU_SMS_PROVIDER={name} needs {missing}"));
            assert!(!error.contains("a-secret-value"));
        }
    }
    let mut tencent = complete(SmsProvider::Tencent);
    tencent.sdk_app_id = None;
    assert_eq!(
        try_build(&tencent).unwrap_err(),
        "HUFU_SMS_PROVIDER=tencent needs HUFU_SMS_SDK_APP_ID"
    );
    let mut aliyun = complete(SmsProvider::Aliyun);
    aliyun.sdk_app_id = None;
    assert!(try_build(&aliyun).is_ok(), "aliyun has no app id");

    let mut webhook = complete(SmsProvider::Webhook);
    webhook.webhook_url = None;
    assert_eq!(
        try_build(&webhook).unwrap_err(),
        "HUFU_SMS_PROVIDER=webhook needs HUFU_SMS_WEBHOOK_URL"
    );
    let mut webhook = complete(SmsProvider::Webhook);
    webhook.webhook_secret = None;
    assert_eq!(
        try_build(&webhook).unwrap_err(),
        "HUFU_SMS_PROVIDER=webhook needs HUFU_SMS_WEBHOOK_SECRET"
    );
    let mut webhook = complete(SmsProvider::Webhook);
    webhook.template = None;
    assert!(try_build(&webhook).is_ok(), "the webhook has no templates");
}

/// Takes one setting away.
type Unset = fn(&mut SmsSettings);

/// A URL where nothing listens (a port bound and released).
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
