//! What a request may carry into the domain, parsed once at the door ("parse, don't
//! validate"): each `…Form` is a body as received (every field optional, so a missing one is a
//! field error rather than a decoding failure); each parsed type has private fields and is
//! made only by its `parse`, which checks every field and reports every bad one at once, in
//! the order of the form. The domain's functions take the parsed types, so they never see an
//! unchecked value.
//!
//! The per-field rules are in `domain::validate` (with the [`FieldErrors`] collector); this
//! module only says which fields a request has and which are required. It depends on
//! `domain::validate`, `domain::error`, and the store's `ProfileUpdate` that a profile change
//! becomes; never on `http` or a database.

use super::codes::{Channel, Purpose};
use super::error::{Reason, Result};
use super::validate::{self, Email, FieldErrors, Identifier, Refused, Username};
use crate::secret::SecretString;
use crate::store::{Change, ProfileUpdate};

/// A field of a partial update: absent (keep), null (clear) or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Not in the request.
    #[default]
    Absent,
    /// Explicitly `null`.
    Null,
    /// A new value.
    Value(T),
}

impl Patch<String> {
    /// This field's change: absent keeps it; null stores `T::default()` (none) where
    /// `null_allowed`, and is `Required` elsewhere; a value is stored as `parser` reads it.
    fn parse_with<T: Default>(
        self,
        errors: &mut FieldErrors,
        field: &'static str,
        null_allowed: bool,
        parser: impl FnOnce(&str) -> std::result::Result<T, Reason>,
    ) -> std::result::Result<Change<T>, Refused> {
        match self {
            Patch::Absent => Ok(Change::Keep),
            Patch::Null if null_allowed => Ok(Change::Set(T::default())),
            Patch::Null => Err(errors.push(field, Reason::Required)),
            Patch::Value(raw) => errors.check(field, parser(&raw)).map(Change::Set),
        }
    }
}

/// A registration (or `hufu user create`) as received.
#[derive(Debug, Default)]
pub struct RegistrationForm {
    /// Requested username.
    pub username: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// Phone number.
    pub phone: Option<String>,
    /// A `register` code sent to the email, proving it.
    pub email_code: Option<String>,
    /// A `register` code sent to the phone, proving it.
    pub phone_code: Option<String>,
}

/// A checked new account with a password: what registration and `hufu user create` insert.
///
/// Made only by [`NewAccount::parse`]:
///
/// ```compile_fail,E0451
/// use hufu::domain::input::NewAccount;
/// use hufu::domain::validate::{Email, Username};
/// let unchecked = NewAccount {
///     username: Username { display: "x".into(), key: "x".into() },
///     email: Email { display: "x".into(), key: "x".into() },
///     password: hufu::secret::SecretString::new(""),
///     phone: None,
///     email_code: None,
///     phone_code: None,
/// };
/// ```
#[derive(Debug)]
pub struct NewAccount {
    username: Username,
    email: Email,
    password: SecretString,
    phone: Option<String>,
    email_code: Option<SecretString>,
    phone_code: Option<SecretString>,
}

impl NewAccount {
    /// Checks a registration: username, email and password required, the password at least
    /// `password_min` code points, the phone required only when `require_phone`.
    pub fn parse(form: RegistrationForm, password_min: usize, require_phone: bool) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let username = errors
            .require("username", form.username)
            .and_then(|raw| errors.check("username", validate::username(&raw)));
        let email = errors
            .require("email", form.email)
            .and_then(|raw| errors.check("email", validate::email(&raw)));
        let password = errors.require("password", form.password).and_then(|password| {
            errors
                .check("password", validate::password(password.expose(), password_min))
                .map(|()| password)
        });
        let phone = match form.phone {
            Some(raw) => errors.check("phone", validate::phone(&raw)).map(Some),
            None if require_phone => Err(errors.push("phone", Reason::Required)),
            None => Ok(None),
        };
        let email_code = optional_code(&mut errors, "email_code", form.email_code);
        let phone_code = optional_code(&mut errors, "phone_code", form.phone_code);
        errors.finish(|| {
            Ok(NewAccount {
                username: username?,
                email: email?,
                password: password?,
                phone: phone?,
                email_code: email_code?,
                phone_code: phone_code?,
            })
        })
    }

    /// The checked username.
    pub fn username(&self) -> &Username {
        &self.username
    }

    /// The `register` codes given for the email and the phone.
    pub fn codes(&self) -> (Option<&SecretString>, Option<&SecretString>) {
        (self.email_code.as_ref(), self.phone_code.as_ref())
    }

    /// The checked email.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// The normalised phone, if one was given.
    pub fn phone(&self) -> Option<&str> {
        self.phone.as_deref()
    }

    /// The password, of an allowed length.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

/// A password sign-in's identifier and password, both present.
#[derive(Debug)]
pub struct Credentials {
    identifier: Identifier,
    password: SecretString,
}

impl Credentials {
    /// Checks a login body: both fields required (the identifier travels as `username`). The
    /// password's length is not checked: a wrong one is the same 401 as any other.
    pub fn parse(identifier: Option<String>, password: Option<SecretString>) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let identifier = errors
            .require("username", identifier)
            .map(|raw| validate::identifier(&raw));
        let password = errors.require("password", password);
        errors.finish(|| {
            Ok(Credentials {
                identifier: identifier?,
                password: password?,
            })
        })
    }

    /// What the identifier looks like, and its lookup key.
    pub fn identifier(&self) -> &Identifier {
        &self.identifier
    }

    /// The password as given.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

/// A password change as received.
#[derive(Debug, Default)]
pub struct PasswordForm {
    /// The current password (a WeChat-only user has none to give).
    pub old_password: Option<SecretString>,
    /// The new password.
    pub new_password: Option<SecretString>,
}

/// A checked password change: a new password of an allowed length, and the old one exactly
/// when the account has a password.
#[derive(Debug)]
pub struct PasswordChange {
    old_password: Option<SecretString>,
    new_password: SecretString,
}

impl PasswordChange {
    /// Checks a password change for an account that has a password (`has_password`) or not;
    /// the new password must be at least `password_min` code points. An old password given
    /// for an account without one is dropped: there is nothing to check it against.
    pub fn parse(form: PasswordForm, has_password: bool, password_min: usize) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let new_password = errors.require("new_password", form.new_password).and_then(|password| {
            errors
                .check("new_password", validate::password(password.expose(), password_min))
                .map(|()| password)
        });
        let old_password = if has_password {
            errors.require("old_password", form.old_password).map(Some)
        } else {
            Ok(None)
        };
        errors.finish(|| {
            Ok(PasswordChange {
                old_password: old_password?,
                new_password: new_password?,
            })
        })
    }

    /// The current password, to check against the stored hash (none for a first password).
    pub fn old_password(&self) -> Option<&SecretString> {
        self.old_password.as_ref()
    }

    /// The new password, of an allowed length.
    pub fn new_password(&self) -> &SecretString {
        &self.new_password
    }
}

/// A profile update as received: any subset of the fields, each absent, null or a value.
#[derive(Debug, Default)]
pub struct ProfileForm {
    /// New username (null is refused).
    pub username: Patch<String>,
    /// New email (null is refused).
    pub email: Patch<String>,
    /// New phone (null clears it when phones are optional).
    pub phone: Patch<String>,
    /// New nickname (null clears it).
    pub nickname: Patch<String>,
    /// New avatar URL (null clears it).
    pub avatar_url: Patch<String>,
    /// A `change` code sent to the new email, proving it.
    pub email_code: Option<String>,
    /// A `change` code sent to the new phone, proving it.
    pub phone_code: Option<String>,
}

/// A checked profile update, ready for the store.
///
/// Made only by [`ProfileChange::parse`]:
///
/// ```compile_fail,E0423
/// let unchecked = hufu::domain::input::ProfileChange(hufu::store::ProfileUpdate::default());
/// ```
#[derive(Debug)]
pub struct ProfileChange {
    update: ProfileUpdate,
    email_code: Option<SecretString>,
    phone_code: Option<SecretString>,
}

impl ProfileChange {
    /// Checks a profile update; `require_phone` decides whether a null phone may clear it.
    pub fn parse(form: ProfileForm, require_phone: bool) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let username = form.username.parse_with(&mut errors, "username", false, |raw| {
            validate::username(raw).map(|u| (u.display, u.key))
        });
        let email = form.email.parse_with(&mut errors, "email", false, |raw| {
            validate::email(raw).map(|e| Some((e.display, e.key)))
        });
        let phone = form.phone.parse_with(&mut errors, "phone", !require_phone, |raw| {
            validate::phone(raw).map(Some)
        });
        let nickname = form
            .nickname
            .parse_with(&mut errors, "nickname", true, validate::nickname);
        let avatar_url = form
            .avatar_url
            .parse_with(&mut errors, "avatar_url", true, validate::avatar_url);
        let email_code = optional_code(&mut errors, "email_code", form.email_code);
        let phone_code = optional_code(&mut errors, "phone_code", form.phone_code);
        errors.finish(|| {
            Ok(ProfileChange {
                update: ProfileUpdate {
                    username: username?,
                    email: email?,
                    phone: phone?,
                    nickname: nickname?,
                    avatar_url: avatar_url?,
                    proofs: Default::default(),
                },
                email_code: email_code?,
                phone_code: phone_code?,
            })
        })
    }

    /// The `change` codes given for a new email and a new phone.
    pub fn codes(&self) -> (Option<&SecretString>, Option<&SecretString>) {
        (self.email_code.as_ref(), self.phone_code.as_ref())
    }

    /// The same change, with its new email and phone marked proved where `proofs` says
    /// (the domain's word, after it has used their codes).
    pub(crate) fn proved(mut self, proofs: crate::store::Proofs) -> Self {
        self.update.proofs = proofs;
        self
    }

    /// The change as the store applies it.
    pub fn update(&self) -> &ProfileUpdate {
        &self.update
    }

    /// The names of the fields this change sets, in the form's order (for the audit log:
    /// names, never values).
    pub fn fields(&self) -> Vec<&'static str> {
        let update = &self.update;
        [
            ("username", update.username.is_set()),
            ("email", update.email.is_set()),
            ("phone", update.phone.is_set()),
            ("nickname", update.nickname.is_set()),
            ("avatar_url", update.avatar_url.is_set()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// Whether the change leaves everything as it is.
    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }
}

/// An optional one-time code field: absent is fine, present must be six digits.
fn optional_code(
    errors: &mut FieldErrors,
    field: &'static str,
    raw: Option<String>,
) -> std::result::Result<Option<SecretString>, Refused> {
    match raw {
        Some(raw) => errors.check(field, validate::one_time_code(&raw)).map(Some),
        None => Ok(None),
    }
}

/// The `channel` field: `email` or `sms`.
fn channel(errors: &mut FieldErrors, raw: Option<String>) -> std::result::Result<Channel, Refused> {
    let raw = errors.require("channel", raw)?;
    match raw.as_str() {
        "email" => Ok(Channel::Email),
        "sms" => Ok(Channel::Sms),
        _ => Err(errors.push("channel", Reason::Invalid)),
    }
}

/// The `target` field for `channel` (skipped when the channel itself was refused).
fn target(
    errors: &mut FieldErrors,
    channel: &std::result::Result<Channel, Refused>,
    raw: Option<String>,
) -> std::result::Result<Target, Refused> {
    let raw = errors.require("target", raw)?;
    match channel {
        Ok(channel) => errors.check("target", Target::parse(*channel, &raw)),
        Err(refused) => Err(*refused),
    }
}

/// The `code` field.
fn code(errors: &mut FieldErrors, raw: Option<String>) -> std::result::Result<SecretString, Refused> {
    let raw = errors.require("code", raw)?;
    errors.check("code", validate::one_time_code(&raw))
}

/// Where a code goes: a channel and a checked target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    channel: Channel,
    /// The address to deliver to (an email as typed, a phone in its stored form).
    address: String,
    /// The form accounts are matched on (the email key, the stored phone).
    key: String,
}

impl Target {
    /// Checks `raw` as an email address (`email`) or a phone (`sms`).
    pub fn parse(channel: Channel, raw: &str) -> std::result::Result<Self, Reason> {
        Ok(match channel {
            Channel::Email => {
                let email = validate::email(raw)?;
                Target {
                    channel,
                    address: email.display,
                    key: email.key,
                }
            }
            Channel::Sms => {
                let phone = validate::phone(raw)?;
                Target {
                    channel,
                    address: phone.clone(),
                    key: phone,
                }
            }
        })
    }

    /// A target already stored on an account (its email as typed and its key, or its phone).
    pub(crate) fn stored(channel: Channel, address: String, key: String) -> Self {
        Target { channel, address, key }
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The address a message goes to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The normalised form (what codes and accounts are keyed on).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A code send as received: `POST /auth/codes` (`channel`, `target`, `purpose`) and
/// `POST /users/codes` (`target` only for `change`).
#[derive(Debug, Default)]
pub struct CodeForm {
    /// `email` or `sms`.
    pub channel: Option<String>,
    /// The email or phone.
    pub target: Option<String>,
    /// What the code is for.
    pub purpose: Option<String>,
}

/// A checked unauthenticated send: `login`, `register` or `reset_password` to a target.
#[derive(Debug)]
pub struct PublicCodeRequest {
    target: Target,
    purpose: Purpose,
}

impl PublicCodeRequest {
    /// Checks a `POST /auth/codes` body.
    pub fn parse(form: CodeForm) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let channel = channel(&mut errors, form.channel);
        let target = target(&mut errors, &channel, form.target);
        let purpose = errors
            .require("purpose", form.purpose)
            .and_then(|raw| match Purpose::from_name(&raw) {
                Some(p @ (Purpose::Login | Purpose::Register | Purpose::ResetPassword)) => Ok(p),
                _ => Err(errors.push("purpose", Reason::Invalid)),
            });
        errors.finish(|| {
            Ok(PublicCodeRequest {
                target: target?,
                purpose: purpose?,
            })
        })
    }

    /// Where it goes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
}

/// A checked send by a signed-in user: `verify` or `reauth` to their own email or phone, or
/// `change` to a new one.
#[derive(Debug)]
pub struct UserCodeRequest {
    channel: Channel,
    purpose: Purpose,
    target: Option<Target>,
}

impl UserCodeRequest {
    /// Checks a `POST /users/codes` body: a target is required for `change` and refused
    /// otherwise (a `verify` code goes only to the account's own identifier).
    pub fn parse(form: CodeForm) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let channel = channel(&mut errors, form.channel);
        let purpose = errors
            .require("purpose", form.purpose)
            .and_then(|raw| match Purpose::from_name(&raw) {
                Some(p @ (Purpose::Verify | Purpose::Reauth | Purpose::Change)) => Ok(p),
                _ => Err(errors.push("purpose", Reason::Invalid)),
            });
        let target = match (&purpose, form.target) {
            (Ok(Purpose::Change), raw) => target(&mut errors, &channel, raw).map(Some),
            (Ok(_), Some(_)) => Err(errors.push("target", Reason::Invalid)),
            (_, _) => Ok(None),
        };
        errors.finish(|| {
            Ok(UserCodeRequest {
                channel: channel?,
                purpose: purpose?,
                target: target?,
            })
        })
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// What for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The new identifier of a `change`.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }
}

/// A code sign-in or a password reset as received.
#[derive(Debug, Default)]
pub struct CodeUseForm {
    /// `email` or `sms`.
    pub channel: Option<String>,
    /// The email or phone.
    pub target: Option<String>,
    /// The code received.
    pub code: Option<String>,
    /// The new password (password reset only).
    pub new_password: Option<SecretString>,
}

/// A checked code sign-in (`POST /auth/login/code`).
#[derive(Debug)]
pub struct CodeLogin {
    target: Target,
    code: SecretString,
}

impl CodeLogin {
    /// Checks a code sign-in.
    pub fn parse(form: CodeUseForm) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let channel = channel(&mut errors, form.channel);
        let target = target(&mut errors, &channel, form.target);
        let code = code(&mut errors, form.code);
        errors.finish(|| {
            Ok(CodeLogin {
                target: target?,
                code: code?,
            })
        })
    }

    /// Whose code.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The code.
    pub fn code(&self) -> &SecretString {
        &self.code
    }
}

/// A checked password reset (`POST /auth/password/reset`).
#[derive(Debug)]
pub struct PasswordReset {
    target: Target,
    code: SecretString,
    new_password: SecretString,
}

impl PasswordReset {
    /// Checks a password reset; the new password follows the registration rules.
    pub fn parse(form: CodeUseForm, password_min: usize) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let channel = channel(&mut errors, form.channel);
        let target = target(&mut errors, &channel, form.target);
        let code = code(&mut errors, form.code);
        let new_password = errors.require("new_password", form.new_password).and_then(|password| {
            errors
                .check("new_password", validate::password(password.expose(), password_min))
                .map(|()| password)
        });
        errors.finish(|| {
            Ok(PasswordReset {
                target: target?,
                code: code?,
                new_password: new_password?,
            })
        })
    }

    /// Whose code.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The code.
    pub fn code(&self) -> &SecretString {
        &self.code
    }

    /// The new password.
    pub fn new_password(&self) -> &SecretString {
        &self.new_password
    }
}

/// A checked `POST /users/verify`: a `verify` code for the user's own email or phone.
#[derive(Debug)]
pub struct VerifyRequest {
    channel: Channel,
    code: SecretString,
}

impl VerifyRequest {
    /// Checks the body.
    pub fn parse(raw_channel: Option<String>, raw_code: Option<String>) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let channel = channel(&mut errors, raw_channel);
        let code = code(&mut errors, raw_code);
        errors.finish(|| {
            Ok(VerifyRequest {
                channel: channel?,
                code: code?,
            })
        })
    }

    /// Which identifier.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The code.
    pub fn code(&self) -> &SecretString {
        &self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::{Error, FieldError};

    /// The `(field, reason)` pairs of a validation failure, in order.
    fn refused<T: std::fmt::Debug>(result: Result<T>) -> Vec<(&'static str, Reason)> {
        match result {
            Err(Error::Validation(fields)) => fields
                .into_iter()
                .map(|FieldError { field, reason }| (field, reason))
                .collect(),
            other => panic!("expected a validation failure, got {other:?}"),
        }
    }

    fn registration(username: &str, email: &str, password: &str, phone: Option<&str>) -> RegistrationForm {
        RegistrationForm {
            username: Some(username.into()),
            email: Some(email.into()),
            password: Some(SecretString::new(password)),
            phone: phone.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_account_is_checked_and_normalised() {
        let form = registration(
            "ＪｏｈｎＤｏｅ",
            "John@Example.com",
            "password123",
            Some("+8613800138000"),
        );
        let account = NewAccount::parse(form, 8, true).unwrap();
        assert_eq!(account.username().display, "JohnDoe");
        assert_eq!(account.username().key, "johndoe");
        assert_eq!(account.email().key, "john@example.com");
        assert_eq!(account.phone(), Some("13800138000"));
        assert_eq!(account.password().expose(), "password123");
        let no_phone = NewAccount::parse(registration("jane", "jane@example.com", "password123", None), 8, false);
        assert_eq!(no_phone.unwrap().phone(), None);
    }

    #[test]
    fn a_new_account_reports_every_bad_field_at_once() {
        let form = registration("ab", "not-an-email", "short", Some("12345"));
        assert_eq!(
            refused(NewAccount::parse(form, 8, true)),
            [
                ("username", Reason::TooShort(3)),
                ("email", Reason::Invalid),
                ("password", Reason::TooShort(8)),
                ("phone", Reason::Invalid),
            ]
        );
        assert_eq!(
            refused(NewAccount::parse(RegistrationForm::default(), 8, true)),
            [
                ("username", Reason::Required),
                ("email", Reason::Required),
                ("password", Reason::Required),
                ("phone", Reason::Required),
            ]
        );
        // Without the phone requirement, a missing phone is no error; the rest still are.
        assert_eq!(
            refused(NewAccount::parse(RegistrationForm::default(), 8, false)),
            [
                ("username", Reason::Required),
                ("email", Reason::Required),
                ("password", Reason::Required),
            ]
        );
        // The policy's minimum, not a fixed one.
        let form = registration("jane", "jane@example.com", "password123", None);
        assert_eq!(
            refused(NewAccount::parse(form, 12, false)),
            [("password", Reason::TooShort(12))]
        );
    }

    #[test]
    fn credentials_need_both_fields() {
        let credentials = Credentials::parse(Some(" John@Example.com ".into()), Some(SecretString::new("x"))).unwrap();
        assert_eq!(credentials.identifier(), &Identifier::Email("john@example.com".into()));
        assert_eq!(credentials.password().expose(), "x");
        assert_eq!(
            refused(Credentials::parse(None, None)),
            [("username", Reason::Required), ("password", Reason::Required)]
        );
        assert_eq!(
            refused(Credentials::parse(Some("jane".into()), None)),
            [("password", Reason::Required)]
        );
    }

    #[test]
    fn a_password_change_needs_the_old_password_only_when_there_is_one() {
        let form = |old: Option<&str>, new: Option<&str>| PasswordForm {
            old_password: old.map(SecretString::new),
            new_password: new.map(SecretString::new),
        };
        let change = PasswordChange::parse(form(Some("old one"), Some("new password")), true, 8).unwrap();
        assert_eq!(change.old_password().map(SecretString::expose), Some("old one"));
        assert_eq!(change.new_password().expose(), "new password");
        let first = PasswordChange::parse(form(Some("ignored"), Some("new password")), false, 8).unwrap();
        assert!(first.old_password().is_none());
        assert_eq!(
            refused(PasswordChange::parse(form(None, Some("short")), true, 8)),
            [
                ("new_password", Reason::TooShort(8)),
                ("old_password", Reason::Required)
            ]
        );
        assert_eq!(
            refused(PasswordChange::parse(form(None, None), false, 8)),
            [("new_password", Reason::Required)]
        );
    }

    #[test]
    fn a_profile_change_keeps_absent_fields_and_clears_null_ones() {
        let change = ProfileChange::parse(
            ProfileForm {
                username: Patch::Value("ＪｏｈｎＤｏｅ".into()),
                phone: Patch::Null,
                nickname: Patch::Value("  虎符 ".into()),
                avatar_url: Patch::Null,
                ..Default::default()
            },
            false,
        )
        .unwrap();
        let update = change.update();
        assert_eq!(update.username, Change::Set(("JohnDoe".into(), "johndoe".into())));
        assert_eq!(update.email, Change::Keep);
        assert_eq!(update.phone, Change::Set(None));
        assert_eq!(update.nickname, Change::Set(Some("虎符".into())));
        assert_eq!(update.avatar_url, Change::Set(None));
        assert_eq!(change.fields(), ["username", "phone", "nickname", "avatar_url"]);
        assert!(!change.is_empty());
        assert!(ProfileChange::parse(ProfileForm::default(), true).unwrap().is_empty());
    }

    #[test]
    fn a_profile_change_reports_every_bad_field_at_once() {
        let bad = ProfileForm {
            username: Patch::Null,
            email: Patch::Value("plain".into()),
            phone: Patch::Null,
            nickname: Patch::Value("n".repeat(65)),
            avatar_url: Patch::Value("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert_eq!(
            refused(ProfileChange::parse(bad, true)),
            [
                ("username", Reason::Required),
                ("email", Reason::Invalid),
                ("phone", Reason::Required),
                ("nickname", Reason::TooLong(64)),
                ("avatar_url", Reason::Invalid),
            ]
        );
        // A null email is refused whatever the phone rule; a null phone only when required.
        let null_email = || ProfileForm {
            email: Patch::Null,
            phone: Patch::Null,
            ..Default::default()
        };
        assert_eq!(
            refused(ProfileChange::parse(null_email(), false)),
            [("email", Reason::Required)]
        );
        assert_eq!(
            refused(ProfileChange::parse(null_email(), true)),
            [("email", Reason::Required), ("phone", Reason::Required)]
        );
    }
}
