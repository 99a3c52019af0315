//! Parsers that turn raw request strings into checked values (contract sections 2 and 9), and
//! [`FieldErrors`], the one collector that gathers their refusals so an answer lists every bad
//! field at once. Each parser returns the stored form plus, where uniqueness is
//! case-insensitive, the key that the database's unique index is built on. The request types
//! built from these parsers are in `domain::input`. Depends on nothing but `domain::error`.

use super::error::{Error, FieldError, Reason};
use crate::secret::SecretString;
use unicode_normalization::UnicodeNormalization;

/// Longest email the contract allows.
pub const EMAIL_MAX: usize = 254;
/// Longest password, in code points.
pub const PASSWORD_MAX: usize = 128;
/// Longest nickname, in code points.
pub const NICKNAME_MAX: usize = 64;
/// Longest avatar URL.
pub const AVATAR_URL_MAX: usize = 512;
/// Username length bounds.
pub const USERNAME_MIN: usize = 3;
/// Username length bounds.
pub const USERNAME_MAX: usize = 32;

/// A checked username: `display` as stored (NFKC form), `key` for uniqueness and login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// The NFKC-normalised name, with the user's letter case.
    pub display: String,
    /// The lower-cased form the unique index uses.
    pub key: String,
}

/// Checks a username: NFKC first, then 3–32 ASCII letters, digits, `_`, `.`, `-`.
///
/// ```
/// use hufu::domain::validate::username;
/// let fullwidth = username("ＪｏｈｎＤｏｅ").unwrap();
/// assert_eq!((fullwidth.display.as_str(), fullwidth.key.as_str()), ("JohnDoe", "johndoe"));
/// ```
pub fn username(raw: &str) -> Result<Username, Reason> {
    let normalised: String = raw.trim().nfkc().collect();
    let length = normalised.chars().count();
    if length == 0 {
        return Err(Reason::Required);
    }
    if !normalised
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Reason::Invalid);
    }
    if length < USERNAME_MIN {
        return Err(Reason::TooShort(USERNAME_MIN));
    }
    if length > USERNAME_MAX {
        return Err(Reason::TooLong(USERNAME_MAX));
    }
    // A username shaped like a mainland mobile number would shadow that phone at sign-in.
    if phone(&normalised).is_ok() {
        return Err(Reason::Invalid);
    }
    let key = normalised.to_ascii_lowercase();
    Ok(Username {
        display: normalised,
        key,
    })
}

/// A checked email: `display` as given (trimmed), `key` lower-cased for uniqueness and login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The address as the user typed it.
    pub display: String,
    /// The lower-cased form the unique index uses.
    pub key: String,
}

/// Checks a one-time code: six ASCII digits (spaces around are ignored).
pub fn one_time_code(raw: &str) -> Result<SecretString, Reason> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Reason::Required);
    }
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Invalid);
    }
    Ok(SecretString::new(text.to_owned()))
}

/// Checks an email address (ASCII, one `@`, a dotted domain with a letter TLD, ≤ 254 chars).
pub fn email(raw: &str) -> Result<Email, Reason> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Reason::Required);
    }
    if text.len() > EMAIL_MAX {
        return Err(Reason::TooLong(EMAIL_MAX));
    }
    let (local, domain) = text.rsplit_once('@').ok_or(Reason::Invalid)?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels.last().is_some_and(|tld| {
            tld.len() >= 2 && (tld.bytes().all(|b| b.is_ascii_alphabetic()) || tld.starts_with("xn--"))
        });
    if !(local_ok && domain_ok) {
        return Err(Reason::Invalid);
    }
    Ok(Email {
        display: text.to_owned(),
        key: text.to_ascii_lowercase(),
    })
}

/// Checks a phone number and returns its normalised form: mainland China mobiles as 11
/// digits (`+8613800138000` → `13800138000`), others in E.164 (`+` and 8–15 digits).
/// Spaces and hyphens used for grouping are ignored.
///
/// ```
/// use hufu::domain::validate::phone;
/// assert_eq!(phone("+86 138 0013 8000").unwrap(), "13800138000");
/// assert_eq!(phone("+14155552671").unwrap(), "+14155552671");
/// assert!(phone("12345").is_err());
/// ```
pub fn phone(raw: &str) -> Result<String, Reason> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if compact.is_empty() {
        return Err(Reason::Required);
    }
    let is_mainland_mobile = |digits: &str| {
        let b = digits.as_bytes();
        b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
    };
    if let Some(international) = compact.strip_prefix('+') {
        if let Some(national) = international.strip_prefix("86")
            && is_mainland_mobile(national)
        {
            return Ok(national.to_owned());
        }
        let ok = (8..=15).contains(&international.len())
            && !international.starts_with('0')
            && international.bytes().all(|b| b.is_ascii_digit());
        return if ok { Ok(compact) } else { Err(Reason::Invalid) };
    }
    if is_mainland_mobile(&compact) {
        Ok(compact)
    } else {
        Err(Reason::Invalid)
    }
}

/// Checks a password's length in Unicode code points; nothing else (no composition rules,
/// and the whole password counts: argon2 has no 72-byte limit).
pub fn password(raw: &str, min: usize) -> Result<(), Reason> {
    let length = raw.chars().count();
    if length == 0 {
        return Err(Reason::Required);
    }
    if length < min {
        return Err(Reason::TooShort(min));
    }
    if length > PASSWORD_MAX {
        return Err(Reason::TooLong(PASSWORD_MAX));
    }
    Ok(())
}

/// Checks a nickname: at most 64 code points, no control characters. Blank means none.
pub fn nickname(raw: &str) -> Result<Option<String>, Reason> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > NICKNAME_MAX {
        return Err(Reason::TooLong(NICKNAME_MAX));
    }
    if text.chars().any(char::is_control) {
        return Err(Reason::Invalid);
    }
    Ok(Some(text.to_owned()))
}

/// Checks an avatar URL: `http` or `https` with a host, at most 512 characters. Blank means none.
pub fn avatar_url(raw: &str) -> Result<Option<String>, Reason> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > AVATAR_URL_MAX {
        return Err(Reason::TooLong(AVATAR_URL_MAX));
    }
    let parsed = url::Url::parse(text).map_err(|_| Reason::Invalid)?;
    let web = matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|h| !h.is_empty());
    if !web || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Reason::Invalid);
    }
    Ok(Some(text.to_owned()))
}

/// What a login identifier looks like, and the key to look it up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// Contains `@`: an email key.
    Email(String),
    /// Parses as a phone: its normalised form (usernames cannot look like phones, so there
    /// is no ambiguity).
    Phone(String),
    /// A username key.
    Username(String),
    /// Text no account can have (not ASCII after normalising, control characters, too long):
    /// not looked up at all, since some databases reject such text in a query.
    Impossible(String),
}

impl Identifier {
    /// The normalised text, used as the key of the per-identifier lockout counter.
    pub fn normalised(&self) -> &str {
        match self {
            Identifier::Email(key)
            | Identifier::Phone(key)
            | Identifier::Username(key)
            | Identifier::Impossible(key) => key,
        }
    }
}

/// Classifies a login identifier. Never fails: text that fits no form simply matches no
/// account, so the answer stays the generic 401.
pub fn identifier(raw: &str) -> Identifier {
    let text = raw.trim();
    let searchable = |key: &str, max: usize| key.len() <= max && key.bytes().all(|b| b.is_ascii_graphic());
    if text.contains('@') {
        let key = text.to_ascii_lowercase();
        return if searchable(&key, EMAIL_MAX) {
            Identifier::Email(key)
        } else {
            Identifier::Impossible(key)
        };
    }
    if let Ok(phone) = phone(text) {
        return Identifier::Phone(phone);
    }
    let key: String = text.nfkc().collect::<String>().to_ascii_lowercase();
    if searchable(&key, USERNAME_MAX) {
        Identifier::Username(key)
    } else {
        Identifier::Impossible(key)
    }
}

/// Proof that a field was refused and recorded in a [`FieldErrors`]: only the collector makes
/// one, so a value missing for this reason always comes with an entry in the answer's details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(());

/// Gathers the refused fields of one request, in the order they are checked (the order of the
/// answer's `details`).
///
/// Each field is checked into a `Result<T, Refused>`; [`FieldErrors::finish`] then assembles
/// the checked value from them, so there is no "validated, yet a field is missing" case.
///
/// ```
/// use hufu::domain::validate::{self, FieldErrors};
/// let mut errors = FieldErrors::default();
/// let name = errors.require("username", Some("ab")).and_then(|raw| errors.check("username", validate::username(raw)));
/// let phone = errors.check("phone", validate::phone("13800138000"));
/// assert!(errors.finish(|| Ok((name?, phone?))).is_err());
/// ```
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Records that `field` was refused for `reason`.
    pub fn push(&mut self, field: &'static str, reason: Reason) -> Refused {
        self.0.push(FieldError { field, reason });
        Refused(())
    }

    /// The checked value, or the refusal recorded.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, Reason>) -> Result<T, Refused> {
        result.map_err(|reason| self.push(field, reason))
    }

    /// The value, or `Required` recorded when there is none.
    pub fn require<T>(&mut self, field: &'static str, value: Option<T>) -> Result<T, Refused> {
        value.ok_or_else(|| self.push(field, Reason::Required))
    }

    /// Builds the checked value when no field was refused; otherwise `Validation` with every
    /// refused field. `build` takes the fields' results with `?`.
    pub fn finish<T>(self, build: impl FnOnce() -> Result<T, Refused>) -> Result<T, Error> {
        match build() {
            Ok(value) if self.0.is_empty() => Ok(value),
            // A `Refused` means an entry was pushed, so the list is never empty here.
            _ => Err(Error::Validation(self.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_nfkc_normalised_and_keyed_case_insensitively() {
        let fullwidth = username("ＪｏｈｎＤｏｅ").unwrap();
        assert_eq!(fullwidth.display, "JohnDoe");
        assert_eq!(fullwidth.key, "johndoe");
        assert_eq!(username("john.doe-1_x").unwrap().key, "john.doe-1_x");
        assert_eq!(username("ab"), Err(Reason::TooShort(3)));
        assert_eq!(username(&"a".repeat(33)), Err(Reason::TooLong(32)));
        assert_eq!(username("张三丰"), Err(Reason::Invalid));
        assert_eq!(username("john doe"), Err(Reason::Invalid));
        assert_eq!(username("jöhn"), Err(Reason::Invalid));
        assert_eq!(username("  "), Err(Reason::Required));
        assert_eq!(username("13800138000"), Err(Reason::Invalid), "would shadow a phone");
        assert!(username("1380013800").is_ok());
    }

    #[test]
    fn emails_are_checked_and_keyed_lower_case() {
        let e = email(" John.Doe@Example.COM ").unwrap();
        assert_eq!(e.display, "John.Doe@Example.COM");
        assert_eq!(e.key, "john.doe@example.com");
        for bad in [
            "plain",
            "a@b",
            "a@b.c",
            "@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a b@example.com",
            "测试@example.com",
        ] {
            assert_eq!(email(bad), Err(Reason::Invalid), "{bad}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert_eq!(email(&long), Err(Reason::TooLong(254)));
    }

    #[test]
    fn phones_are_normalised() {
        assert_eq!(phone("13800138000").unwrap(), "13800138000");
        assert_eq!(phone("+8613800138000").unwrap(), "13800138000");
        assert_eq!(phone("138-0013-8000").unwrap(), "13800138000");
        assert_eq!(phone("+14155552671").unwrap(), "+14155552671");
        for bad in [
            "12800138000",
            "1380013800",
            "+1234567",
            "+0123456789",
            "phone",
            "+86abc",
        ] {
            assert_eq!(phone(bad), Err(Reason::Invalid), "{bad}");
        }
    }

    #[test]
    fn passwords_count_code_points_and_are_not_truncated() {
        assert_eq!(password("密码密码密码密码", 8), Ok(()));
        assert_eq!(password("密码密码密码密", 8), Err(Reason::TooShort(8)));
        assert_eq!(password(&"x".repeat(128), 8), Ok(()));
        assert_eq!(password(&"x".repeat(129), 8), Err(Reason::TooLong(128)));
    }

    #[test]
    fn nicknames_and_avatars_are_bounded() {
        assert_eq!(nickname("  虎符 ").unwrap().as_deref(), Some("虎符"));
        assert_eq!(nickname(" ").unwrap(), None);
        assert_eq!(nickname("a\u{7}b"), Err(Reason::Invalid));
        assert_eq!(nickname(&"n".repeat(65)), Err(Reason::TooLong(64)));
        assert!(avatar_url("https://cdn.example.com/a.png").unwrap().is_some());
        assert_eq!(avatar_url("javascript:alert(1)"), Err(Reason::Invalid));
        assert_eq!(avatar_url("ftp://example.com/a.png"), Err(Reason::Invalid));
        let long = format!("https://example.com/{}", "a".repeat(500));
        assert_eq!(avatar_url(&long), Err(Reason::TooLong(512)));
    }

    #[test]
    fn identifiers_are_classified() {
        assert_eq!(
            identifier("John@Example.com"),
            Identifier::Email("john@example.com".into())
        );
        assert_eq!(identifier("+8613800138000"), Identifier::Phone("13800138000".into()));
        assert!(matches!(identifier("jöhn"), Identifier::Impossible(_)));
        assert!(matches!(identifier("a\u{0}b"), Identifier::Impossible(_)));
        assert!(matches!(identifier("测试@例子.com"), Identifier::Impossible(_)));
        assert!(matches!(identifier(&"a".repeat(40)), Identifier::Impossible(_)));
        assert_eq!(identifier("ＪｏｈｎＤｏｅ"), Identifier::Username("johndoe".into()));
    }

    #[test]
    fn field_errors_keep_every_refusal_in_order() {
        let mut errors = FieldErrors::default();
        let name = errors
            .require("username", Some("ab"))
            .and_then(|raw| errors.check("username", username(raw)));
        let mail = errors.require::<&str>("email", None);
        let tel = errors.check("phone", phone("13800138000"));
        assert!(tel.is_ok());
        let Err(Error::Validation(fields)) = errors.finish(|| Ok((name?, mail?, tel?))) else {
            panic!("two fields were refused");
        };
        assert_eq!(
            fields,
            [
                FieldError {
                    field: "username",
                    reason: Reason::TooShort(USERNAME_MIN)
                },
                FieldError {
                    field: "email",
                    reason: Reason::Required
                },
            ]
        );
    }

    #[test]
    fn field_errors_refuse_a_value_built_despite_a_refusal() {
        // A refusal that produced no missing value (a rule across fields) still fails.
        let mut errors = FieldErrors::default();
        errors.push("status", Reason::SelfLockout);
        assert!(matches!(errors.finish(|| Ok(1)), Err(Error::Validation(fields)) if fields.len() == 1));
        assert_eq!(FieldErrors::default().finish(|| Ok(1)).ok(), Some(1));
    }
}
