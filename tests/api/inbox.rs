//! A person's phone and mailbox for the code tests: the fake Aliyun SMS provider and the test
//! SMTP server (STARTTLS), started together, with the codes read from what they delivered, one
//! new message at a time. Every code read is remembered, so a test can check that none of them
//! (nor a provider credential) ever reached a server log line.

use crate::fake_sms::{self, FakeSms};
use crate::fake_smtp::{self, FakeSmtp};
use hufu::config::Settings;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every code any inbox of this test binary has read.
static CODES_SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The fake SMS provider and SMTP server.
pub struct Inbox {
    pub sms: FakeSms,
    pub smtp: FakeSmtp,
    /// Messages already read, by `channel:target`.
    read: Mutex<HashMap<String, usize>>,
}

impl Inbox {
    /// Starts both.
    pub async fn start() -> Inbox {
        Inbox {
            sms: FakeSms::aliyun().await,
            smtp: FakeSmtp::start().await,
            read: Mutex::new(HashMap::new()),
        }
    }

    /// Points the settings' SMS and email delivery at the fakes.
    pub fn configure(&self, settings: &mut Settings) {
        self.sms.configure(&mut settings.delivery.sms);
        self.smtp.configure(&mut settings.delivery);
    }

    /// The environment of a `hufu` process delivering to the fakes.
    pub fn envs(&self) -> Vec<(&'static str, String)> {
        let sms = self.sms.settings();
        let mut envs = vec![
            ("HUFU_SMS_PROVIDER", "aliyun".to_owned()),
            ("HUFU_SMS_API_BASE", sms.api_base.clone().unwrap_or_default()),
            ("HUFU_SMS_ACCESS_KEY_ID", fake_sms::ACCESS_KEY_ID.to_owned()),
            ("HUFU_SMS_ACCESS_KEY_SECRET", fake_sms::ACCESS_KEY_SECRET.to_owned()),
            ("HUFU_SMS_SIGN_NAME", fake_sms::SIGN_NAME.to_owned()),
            ("HUFU_SMS_TEMPLATE", fake_sms::TEMPLATE.to_owned()),
        ];
        envs.push(("HUFU_SMTP_URL", self.smtp.url()));
        envs.push(("HUFU_MAIL_FROM", fake_smtp::MAIL_FROM.to_owned()));
        envs.push(("HUFU_SMTP_CA_FILE", self.smtp.ca_file().display().to_string()));
        envs
    }

    /// Codes delivered to `target` on `channel` (`sms` or `email`), oldest first.
    fn delivered(&self, channel: &str, target: &str) -> Vec<String> {
        match channel {
            "sms" => self
                .sms
                .messages()
                .into_iter()
                .filter(|m| m.phone == target)
                .map(|m| m.code)
                .collect(),
            _ => self
                .smtp
                .messages()
                .into_iter()
                .filter(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(target)))
                .filter_map(|m| {
                    fake_smtp::parse(&m.data)
                        .text
                        .as_deref()
                        .and_then(fake_smtp::six_digits)
                })
                .collect(),
        }
    }

    /// How many messages `target` got.
    pub fn count(&self, channel: &str, target: &str) -> usize {
        self.delivered(channel, target).len()
    }

    /// The code of the next message to `target` not read yet, waiting up to 10 s for it (an
    /// unauthenticated send is delivered after its answer).
    pub async fn code(&self, channel: &str, target: &str) -> String {
        let key = format!("{channel}:{target}");
        let seen = self.read.lock().unwrap().get(&key).copied().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let delivered = self.delivered(channel, target);
            if let Some(code) = delivered.get(seen) {
                self.read.lock().unwrap().insert(key, seen + 1);
                CODES_SEEN.lock().unwrap().push(code.clone());
                return code.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no new {channel} message to {target} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The subject of the latest email to `address`.
    pub async fn last_subject(&self, address: &str) -> String {
        self.smtp.mail_for(address).map(|m| m.subject).unwrap_or_default()
    }

    /// The SMS provider refuses the next send (Aliyun's `isv.BUSINESS_LIMIT_CONTROL`).
    pub fn fail_next_sms(&self) {
        self.sms.fail_next("isv.BUSINESS_LIMIT_CONTROL");
    }
}

/// Whether `text` holds `needle` as a whole token: not part of a longer number (ids and times
/// are long digit runs, latencies decimals like `0.146689`, that contain any six digits).
fn holds_token(text: &str, needle: &str) -> bool {
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    text.match_indices(needle).any(|(at, _)| {
        let end = at + needle.len();
        let in_number_before = at
            .checked_sub(1)
            .is_some_and(|i| digit(i) || (bytes[i] == b'.' && i > 0 && digit(i - 1)));
        let in_number_after = digit(end) || (bytes.get(end) == Some(&b'.') && digit(end + 1));
        !in_number_before && !in_number_after
    })
}

/// Fails if any code read so far by any test, or a provider credential, is in the log of any
/// server of this test binary.
pub fn assert_no_secret_in_logs() {
    let log = crate::harness::server_log();
    let codes = CODES_SEEN.lock().unwrap().clone();
    assert!(!codes.is_empty(), "no code was read: the check would prove nothing");
    for code in &codes {
        assert!(
            !holds_token(&log, code),
            "a one-time code ({code}) is in the server log"
        );
    }
    for secret in [
        fake_sms::ACCESS_KEY_SECRET,
        fake_sms::WEBHOOK_SECRET,
        fake_smtp::PASSWORD,
        // The password as it travels in the SMTP URL.
        "p%40ss",
    ] {
        assert!(!log.contains(secret), "a provider credential is in the server log");
    }
}

#[test]
fn a_token_is_found_only_outside_longer_digit_runs() {
    assert!(holds_token("code=123456 sent", "123456"));
    assert!(holds_token("\"123456\"", "123456"));
    assert!(!holds_token("id 91234567", "123456"));
    assert!(!holds_token("1234567", "123456"));
    assert!(!holds_token("\"latency_ms\":0.123456,", "123456"));
    assert!(!holds_token("123456.5", "123456"));
    assert!(holds_token("code 123456.", "123456"));
}
