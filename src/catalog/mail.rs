//! The email that carries a one-time code: its subject, text part and HTML part, per purpose,
//! in English and Chinese. The subject names the purpose but never holds the code (subjects
//! end up in notification previews and in mail servers' logs); the body holds the code and how
//! long it is valid. Everything put into the HTML goes through [`escape_html`].

use super::Lang;
use std::time::Duration;

/// One code email, ready for a mail builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEmail {
    /// The `Subject`.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part (a whole document, every inserted value escaped).
    pub html: String,
}

/// The words of one purpose: subject, the line before the code, and the closing line.
struct Words {
    subject: (&'static str, &'static str),
    lead: (&'static str, &'static str),
    not_you: (&'static str, &'static str),
}

const IGNORE: (&str, &str) = (
    "If you didn't ask for this code, you can ignore this email.",
    "如果这不是您本人的操作，请忽略本邮件。",
);

/// The texts of `purpose` (the contract's names); an unknown one gets neutral words.
fn words(purpose: &str) -> Words {
    match purpose {
        "login" => Words {
            subject: ("Your sign-in code", "登录验证码"),
            lead: ("Your code to sign in:", "您的登录验证码："),
            not_you: (
                "If you didn't try to sign in, ignore this email: the code is of no use to anyone who cannot read your mailbox.",
                "如果这不是您本人的登录操作，请忽略本邮件；他人无法看到本邮件，也就无法使用此验证码。",
            ),
        },
        "register" => Words {
            subject: ("Your registration code", "注册验证码"),
            lead: ("Your code to finish creating your account:", "您的注册验证码："),
            not_you: IGNORE,
        },
        "reset_password" => Words {
            subject: ("Your password reset code", "重置密码验证码"),
            lead: ("Your code to reset your password:", "您的重置密码验证码："),
            not_you: (
                "If you didn't ask to reset your password, ignore this email: your password stays as it is.",
                "如果您没有申请重置密码，请忽略本邮件，您的密码不会改变。",
            ),
        },
        "verify" => Words {
            subject: ("Confirm your email address", "验证您的邮箱"),
            lead: ("Your code to confirm this email address:", "您的邮箱验证码："),
            not_you: IGNORE,
        },
        "change" => Words {
            subject: ("Confirm your new email address", "确认您的新邮箱"),
            lead: (
                "Your code to make this your account's email address:",
                "将此邮箱设为账号邮箱的验证码：",
            ),
            not_you: IGNORE,
        },
        "reauth" => Words {
            subject: ("Confirm it's you", "确认是您本人"),
            lead: (
                "Your code to confirm it's you before a sensitive change:",
                "进行敏感操作前的身份确认验证码：",
            ),
            not_you: (
                "If you didn't ask for this code, someone may be using your account: change your password.",
                "如果这不是您本人的操作，可能有人正在使用您的账号，请尽快修改密码。",
            ),
        },
        _ => Words {
            subject: ("Your verification code", "验证码"),
            lead: ("Your verification code:", "您的验证码："),
            not_you: IGNORE,
        },
    }
}

/// How long a code is valid, in words. Whole minutes from a minute on (rounded down: a mail
/// never promises more time than the code has), seconds below.
fn validity(ttl: Duration, lang: Lang) -> String {
    let seconds = ttl.as_secs();
    match (seconds >= 60, lang) {
        (true, Lang::En) => match seconds / 60 {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        },
        (true, Lang::Zh) => format!("{} 分钟", seconds / 60),
        (false, Lang::En) => match seconds {
            1 => "1 second".to_owned(),
            seconds => format!("{seconds} seconds"),
        },
        (false, Lang::Zh) => format!("{seconds} 秒"),
    }
}

/// The sentence saying how long the code works and not to share it.
fn valid_for(ttl: Duration, lang: Lang) -> String {
    let time = validity(ttl, lang);
    match lang {
        Lang::En => format!("It is valid for {time} and works once. Never share it with anyone."),
        Lang::Zh => format!("{time}内有效，仅可使用一次。请勿将验证码告诉任何人。"),
    }
}

/// The email carrying `code` for `purpose`, valid `ttl`, in `lang`.
pub fn code_email(purpose: &str, lang: Lang, code: &str, ttl: Duration) -> CodeEmail {
    let words = words(purpose);
    let pick = |pair: (&'static str, &'static str)| lang.pick(pair.0, pair.1);
    let subject = pick(words.subject);
    let lead = pick(words.lead);
    let not_you = pick(words.not_you);
    let valid = valid_for(ttl, lang);
    let text = format!("{lead}\n\n    {code}\n\n{valid}\n\n{not_you}\n");
    let html_lang = lang.pick("en", "zh-CN");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{html_lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{subject}</title>\n</head>\n<body style=\"font-family: sans-serif; line-height: 1.5;\">\n\
         <p>{lead}</p>\n\
         <p style=\"font-size: 28px; font-weight: bold; letter-spacing: 4px; font-family: monospace;\">{code}</p>\n\
         <p>{valid}</p>\n<p style=\"color: #666;\">{not_you}</p>\n</body>\n</html>\n",
        subject = escape_html(subject),
        lead = escape_html(lead),
        code = escape_html(code),
        valid = escape_html(&valid),
        not_you = escape_html(not_you),
    );
    CodeEmail {
        subject: subject.to_owned(),
        text,
        html,
    }
}

/// `text` safe inside HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURPOSES: [&str; 6] = ["login", "register", "reset_password", "verify", "change", "reauth"];
    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn every_purpose_has_its_own_subject_in_both_languages() {
        for lang in [Lang::En, Lang::Zh] {
            let subjects: std::collections::HashSet<String> = PURPOSES
                .iter()
                .map(|p| code_email(p, lang, "123456", FIVE_MINUTES).subject)
                .collect();
            assert_eq!(subjects.len(), PURPOSES.len(), "{lang:?}: {subjects:?}");
            let generic = code_email("something_else", lang, "123456", FIVE_MINUTES).subject;
            assert!(!subjects.contains(&generic), "{lang:?}");
        }
        assert_eq!(
            code_email("login", Lang::En, "1", FIVE_MINUTES).subject,
            "Your sign-in code"
        );
        assert_eq!(code_email("login", Lang::Zh, "1", FIVE_MINUTES).subject, "登录验证码");
        assert_eq!(
            code_email("reset_password", Lang::Zh, "1", FIVE_MINUTES).subject,
            "重置密码验证码"
        );
    }

    #[test]
    fn the_body_holds_the_code_and_its_validity_and_the_subject_does_not() {
        for purpose in PURPOSES {
            let en = code_email(purpose, Lang::En, "482913", FIVE_MINUTES);
            assert!(en.text.contains("482913"), "{purpose}");
            assert!(en.html.contains("482913"), "{purpose}");
            assert!(!en.subject.contains("482913"));
            assert!(en.text.contains("valid for 5 minutes"), "{}", en.text);
            assert!(en.html.contains("valid for 5 minutes"));
            assert!(en.html.contains("<html lang=\"en\">"));

            let zh = code_email(purpose, Lang::Zh, "482913", FIVE_MINUTES);
            assert!(zh.text.contains("482913"));
            assert!(zh.html.contains("482913"));
            assert!(zh.text.contains("5 分钟内有效"), "{}", zh.text);
            assert!(zh.html.contains("<html lang=\"zh-CN\">"));
            assert!(zh.text.contains("验证码"));
            assert_ne!(en.text, zh.text);
        }
    }

    #[test]
    fn validity_is_in_minutes_rounded_down_and_seconds_below_a_minute() {
        let text = |secs, lang| code_email("login", lang, "1", Duration::from_secs(secs)).text;
        assert!(text(60, Lang::En).contains("valid for 1 minute and"));
        assert!(text(90, Lang::En).contains("valid for 1 minute and"));
        assert!(text(3600, Lang::En).contains("valid for 60 minutes"));
        assert!(text(30, Lang::En).contains("valid for 30 seconds"));
        assert!(text(1, Lang::En).contains("valid for 1 second and"));
        assert!(text(600, Lang::Zh).contains("10 分钟内有效"));
        assert!(text(45, Lang::Zh).contains("45 秒内有效"));
    }

    #[test]
    fn html_escapes_what_it_inserts() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let mail = code_email("reauth", Lang::En, "<b>&\"1'", FIVE_MINUTES);
        assert!(mail.html.contains("&lt;b&gt;&amp;&quot;1&#39;"), "{}", mail.html);
        assert!(!mail.html.contains("<b>"));
        // The fixed texts are escaped too: "Confirm it's you" has an apostrophe.
        assert!(
            mail.html.contains("<title>Confirm it&#39;s you</title>"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("it's"));
        // The text part is plain text: nothing is escaped there.
        assert!(mail.text.contains("<b>&\"1'"));
        assert!(mail.text.contains("it's you"));
    }
}
