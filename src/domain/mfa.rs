//! The TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps): setup, enabling with
//! recovery codes, disabling, and the second half of a password sign-in (the `mfa_token`
//! challenge that `accounts::login` hands out instead of a session).
//!
//! What is kept where: the TOTP secret is sealed (crate::crypto) and only ever shown by
//! `setup`; recovery codes and `mfa_token`s are stored as hashes only (recovery codes keyed,
//! because ten 50-bit codes would be cheap to brute-force from a plain hash). A code is
//! accepted at most once on any node: its step must be newer than the stored `last_step`.
//! Wrong codes at sign-in count toward the lockout of the identifier the password was given
//! for and of the account (`limits::Lockout::Account`), which a correct password does not
//! reset, so signing in again does not buy more guesses.

use super::audit::{self, Event};
use super::error::{Error, Reason, Result};
use super::limits::Lockout;
use super::sessions::{self, SignIn, SignedIn};
use super::validate::FieldErrors;
use super::{ClientContext, Core};
use crate::secret::SecretString;
use crate::store::{Completion, MfaFactor, NewChallenge, TotpRow};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a TOTP code.
const DIGITS: usize = 6;
/// Secret length: 160 bits, the size RFC 4226 recommends for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;
/// How many recovery codes `enable` hands out.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (without the dash): 50 bits.
const RECOVERY_CODE_CHARS: usize = 10;
/// How long an `mfa_token` works.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
/// The second factors `/auth/mfa` accepts, as the login response names them.
pub const METHODS: [&str; 2] = ["totp", "recovery_code"];
/// RFC 4648 base32, lower case (recovery codes); the secret uses the upper-case form.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new, not yet enabled, TOTP setup: what the authenticator app needs.
#[derive(Debug)]
pub struct TotpSetup {
    /// The secret in base32 (upper case, no padding).
    pub secret: SecretString,
    /// `otpauth://totp/...` for a QR code; contains the secret.
    pub otpauth_uri: SecretString,
}

/// A sign-in waiting for its second factor.
#[derive(Debug)]
pub struct MfaChallenge {
    /// The opaque, single-use token `/auth/mfa` takes (only its hash is stored).
    pub mfa_token: SecretString,
}

/// RFC 4648 base32 without padding, upper case (what authenticator apps expect).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32[((buffer >> bits) & 31) as usize].to_ascii_uppercase(),
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32[((buffer << (5 - bits)) & 31) as usize].to_ascii_uppercase(),
        ));
    }
    out
}

/// The RFC 4226 HOTP value of `counter`, as `DIGITS` digits.
fn hotp(secret: &[u8], counter: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation (RFC 4226 section 5.3).
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let value = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:0width$}", value % 10u32.pow(DIGITS as u32), width = DIGITS)
}

/// The step (current ±1, for clock drift) whose code is `code`, if any.
fn matching_step(secret: &[u8], code: &str, now_seconds: i64) -> Option<i64> {
    let current = now_seconds.div_euclid(STEP_SECONDS);
    [current, current - 1, current + 1].into_iter().find(|&step| {
        u64::try_from(step).is_ok_and(|counter| bool::from(hotp(secret, counter).as_bytes().ct_eq(code.as_bytes())))
    })
}

/// What a submitted code looks like.
enum Code {
    /// Six digits.
    Totp(String),
    /// A recovery code, normalised (lower case, no dash).
    Recovery(String),
    /// Neither: wrong whatever it is.
    Malformed,
}

fn classify(raw: &str) -> Code {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
        return Code::Totp(compact);
    }
    let recovery: String = compact
        .chars()
        .filter(|&c| c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if recovery.len() == RECOVERY_CODE_CHARS && recovery.bytes().all(|b| BASE32.contains(&b)) {
        Code::Recovery(recovery)
    } else {
        Code::Malformed
    }
}

/// A fresh recovery code as shown: `xxxxx-xxxxx`.
fn new_recovery_code() -> String {
    // 256 is a multiple of 32, so masking keeps every character equally likely.
    let chars: Vec<char> = rand::random::<[u8; RECOVERY_CODE_CHARS]>()
        .iter()
        .map(|b| char::from(BASE32[usize::from(b & 31)]))
        .collect();
    let (left, right) = chars.split_at(RECOVERY_CODE_CHARS / 2);
    format!(
        "{}-{}",
        left.iter().collect::<String>(),
        right.iter().collect::<String>()
    )
}

/// The keyed hash stored for a normalised recovery code, bound to its user.
fn recovery_code_hash(core: &Core, user_id: i64, normalised: &str) -> String {
    core.keys
        .secret_box()
        .keyed_hash(normalised.as_bytes(), &format!("mfa_recovery_code:{user_id}"))
}

/// The sealing context of a user's TOTP secret, so a sealed secret copied to another user's
/// row does not open.
fn seal_context(user_id: i64) -> String {
    format!("mfa_totp:{user_id}")
}

/// SHA-256 (hex) of an `mfa_token`: what the database keeps.
fn challenge_hash(token: &str) -> String {
    // The same construction as for refresh tokens: 256 random bits need no key or salt.
    sessions::refresh_token_hash(token)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for the otpauth label).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("{e}"))
}

/// TOTP already on: setup would silently replace the secret the user's app holds.
fn already_enabled() -> Error {
    Error::field("totp", Reason::Taken)
}

fn required(field: &'static str) -> Error {
    Error::field(field, Reason::Required)
}

fn open_secret(core: &Core, user_id: i64, row: &TotpRow) -> Result<Vec<u8>> {
    core.keys
        .secret_box()
        .open(&row.secret, &seal_context(user_id))
        .map_err(internal)
}

/// Starts (or restarts) TOTP setup: a new secret, stored sealed and not yet enabled.
pub async fn setup(core: &Core, user_id: i64) -> Result<TotpSetup> {
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    if account.user.mfa_enabled {
        return Err(already_enabled());
    }
    let secret: [u8; SECRET_BYTES] = rand::random();
    let sealed = core
        .keys
        .secret_box()
        .seal(&secret, &seal_context(user_id))
        .map_err(internal)?;
    // False means a row is in the way: TOTP was enabled meanwhile, or a racing setup of the
    // same user inserted first (then one retry replaces it).
    let mut stored = core
        .store
        .put_pending_totp(user_id, &sealed, core.clock.unix_millis())
        .await?;
    if !stored {
        stored = core
            .store
            .put_pending_totp(user_id, &sealed, core.clock.unix_millis())
            .await?;
    }
    if !stored {
        return Err(already_enabled());
    }
    let secret = base32(&secret);
    let issuer = percent_encode(core.tokens.issuer());
    let label = format!("{issuer}:{}", percent_encode(&account.user.username));
    let uri = format!(
        "otpauth://totp/{label}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    );
    Ok(TotpSetup {
        secret: SecretString::new(secret),
        otpauth_uri: SecretString::new(uri),
    })
}

/// Enables the pending setup with a code from it; returns the recovery codes (shown once).
pub async fn enable(
    core: &Core,
    user_id: i64,
    code: Option<SecretString>,
    client: &ClientContext,
) -> Result<Vec<String>> {
    let code = code.ok_or_else(|| required("code"))?;
    let row = match core.store.totp_of_user(user_id).await? {
        Some(row) if row.enabled_at.is_some() => return Err(already_enabled()),
        Some(row) => row,
        // No setup: there is no secret any code could match.
        None => return Err(Error::MfaInvalid),
    };
    let Code::Totp(digits) = classify(code.expose()) else {
        return Err(Error::MfaInvalid);
    };
    let secret = open_secret(core, user_id, &row)?;
    let step = matching_step(&secret, &digits, core.clock.unix_seconds()).ok_or(Error::MfaInvalid)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| recovery_code_hash(core, user_id, &c.replace('-', "")))
        .collect();
    let entry = audit::entry(core, Event::MfaEnabled, Some(user_id), client);
    // False: the setup was replaced or enabled by a racing request since it was read.
    if !core
        .store
        .enable_totp(user_id, &row.secret, step, &hashes, &entry)
        .await?
    {
        return Err(Error::MfaInvalid);
    }
    core.invalidate_profile(user_id).await;
    Ok(codes)
}

/// The factor a code proves for an enabled TOTP, checked but not yet consumed; `None` when it
/// is wrong (or a TOTP code of a step already used).
async fn factor_of(core: &Core, user_id: i64, code: &str) -> Result<Option<MfaFactor>> {
    match classify(code) {
        Code::Totp(digits) => {
            let Some(row) = core
                .store
                .totp_of_user(user_id)
                .await?
                .filter(|r| r.enabled_at.is_some())
            else {
                return Ok(None);
            };
            let secret = open_secret(core, user_id, &row)?;
            Ok(matching_step(&secret, &digits, core.clock.unix_seconds())
                .filter(|&step| step > row.last_step)
                .map(MfaFactor::Step))
        }
        // Unknown or used codes are refused by the conditional update that consumes them.
        Code::Recovery(normalised) => Ok(Some(MfaFactor::Recovery(recovery_code_hash(
            core,
            user_id,
            &normalised,
        )))),
        Code::Malformed => Ok(None),
    }
}

/// Switches TOTP off, proven by a TOTP code, a recovery code, or the password (the code wins
/// when both are given). Also drops the recovery codes and pending sign-in challenges.
pub async fn disable(
    core: &Core,
    user_id: i64,
    code: Option<SecretString>,
    password: Option<SecretString>,
    client: &ClientContext,
) -> Result<()> {
    match (code, password) {
        (Some(code), _) => prove_code(core, user_id, &code, client).await?,
        (None, Some(password)) => check_password(core, user_id, password, client).await?,
        (None, None) => return Err(required("code")),
    }
    let entry = audit::entry(core, Event::MfaDisabled, Some(user_id), client);
    core.store.disable_totp(user_id, &entry).await?;
    core.invalidate_profile(user_id).await;
    Ok(())
}

/// A TOTP or recovery code of the user's, used up (a TOTP step is never accepted twice, a
/// recovery code works once). Wrong codes count toward the user's second-factor lockout: a
/// stolen access token must not buy unlimited guesses at the second factor.
pub(crate) async fn prove_code(core: &Core, user_id: i64, code: &SecretString, client: &ClientContext) -> Result<()> {
    let key = Lockout::Account(user_id);
    audit::begin_attempt(core, key, Some(user_id), client).await?;
    let consumed = async {
        let now_ms = core.clock.unix_millis();
        Ok::<_, Error>(match factor_of(core, user_id, code.expose()).await? {
            Some(MfaFactor::Step(step)) => core.store.accept_totp_step(user_id, step).await?,
            Some(MfaFactor::Recovery(hash)) => core.store.use_recovery_code(user_id, &hash, now_ms).await?,
            None => false,
        })
    };
    match consumed.await {
        Ok(true) => {
            core.limits.record_success(key).await;
            Ok(())
        }
        Ok(false) => Err(Error::MfaInvalid),
        Err(error) => {
            core.limits.cancel_attempt(key).await;
            Err(error)
        }
    }
}

/// The account's password, checked like the old password of a password change: on the
/// hashing pool, counted toward the account's own lock.
pub(crate) async fn check_password(
    core: &Core,
    user_id: i64,
    password: SecretString,
    client: &ClientContext,
) -> Result<()> {
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    // A WeChat-only account has no password to prove anything with.
    let stored = account.password_hash.ok_or(Error::InvalidCredentials)?;
    let account_key = Lockout::Account(user_id);
    audit::begin_attempt(core, account_key, Some(user_id), client).await?;
    match core.hasher.verify(password, Some(stored)).await {
        Ok(true) => {
            core.limits.record_success(account_key).await;
            Ok(())
        }
        Ok(false) => Err(Error::InvalidCredentials),
        Err(error) => {
            core.limits.cancel_attempt(account_key).await;
            Err(match error {
                super::password::HashError::Busy => Error::Busy,
                super::password::HashError::Failed(why) => Error::Internal(anyhow::anyhow!(why)),
            })
        }
    }
}

/// Makes the challenge of a sign-in whose password was right: `identifier` is the normalised
/// identifier it was given for, `checked_hash` the password hash it was checked against.
pub async fn challenge(
    core: &Core,
    user_id: i64,
    identifier: &str,
    checked_hash: Option<&str>,
    client: &ClientContext,
) -> Result<MfaChallenge> {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let token_hash = challenge_hash(&token);
    let now_ms = core.clock.unix_millis();
    core.store
        .insert_mfa_challenge(&NewChallenge {
            token_hash: token_hash.clone(),
            user_id,
            identifier: identifier.to_owned(),
            ip: client.ip.clone(),
            user_agent: client.stored_user_agent(),
            now_ms,
            expires_at_ms: now_ms.saturating_add(CHALLENGE_TTL_MS),
        })
        .await?;
    // A password change or a disable may have landed while the password was being checked,
    // and deleted the user's challenges before this one existed (as `login` re-checks for a
    // session). Look again now that it exists; later changes delete it like any other.
    let now = core.store.user_by_id(user_id).await?;
    let unchanged = now
        .as_ref()
        .is_some_and(|a| a.password_hash.as_deref() == checked_hash && a.user.is_active());
    if !unchanged {
        core.store.delete_mfa_challenge(&token_hash).await?;
        return Err(if now.is_some_and(|a| !a.user.is_active()) {
            Error::AccountDisabled
        } else {
            Error::InvalidCredentials
        });
    }
    Ok(MfaChallenge {
        mfa_token: SecretString::new(token),
    })
}

/// Completes a sign-in with its `mfa_token` and a TOTP or recovery code.
pub async fn complete(
    core: &Core,
    mfa_token: Option<SecretString>,
    code: Option<SecretString>,
    client: &ClientContext,
) -> Result<SignedIn> {
    let mut errors = FieldErrors::default();
    let mfa_token = errors.require("mfa_token", mfa_token);
    let code = errors.require("code", code);
    let (mfa_token, code) = errors.finish(|| Ok((mfa_token?, code?)))?;
    let token_hash = challenge_hash(mfa_token.expose());
    let Some((user_id, identifier)) = core.store.mfa_challenge(&token_hash, core.clock.unix_millis()).await? else {
        return Err(Error::MfaInvalid);
    };
    let (identifier_key, user_key) = (Lockout::Identifier(&identifier), Lockout::Account(user_id));
    // Counted before the code is checked, like a password (see `Limits::begin_attempt`).
    audit::begin_attempt(core, identifier_key, Some(user_id), client).await?;
    audit::begin_attempt(core, user_key, Some(user_id), client).await?;
    let completed = async {
        match factor_of(core, user_id, code.expose()).await? {
            Some(factor) => Ok(core
                .store
                .complete_mfa_challenge(&token_hash, user_id, &factor, core.clock.unix_millis())
                .await?),
            None => Ok::<_, Error>(Completion::FactorRefused),
        }
    };
    match completed.await {
        Ok(Completion::Done) => {
            core.limits.record_success(identifier_key).await;
            core.limits.record_success(user_key).await;
        }
        Ok(Completion::FactorRefused) => {
            let entry = audit::entry(core, Event::LoginFailed, Some(user_id), client)
                .with_detail(serde_json::json!({"reason": "mfa_invalid"}));
            audit::record_alone(core, entry).await;
            return Err(Error::MfaInvalid);
        }
        // A racing request used the token first, or it just expired: no code was guessed.
        Ok(Completion::ChallengeGone) => {
            core.limits.cancel_attempt(identifier_key).await;
            core.limits.cancel_attempt(user_key).await;
            return Err(Error::MfaInvalid);
        }
        Err(error) => {
            core.limits.cancel_attempt(identifier_key).await;
            core.limits.cancel_attempt(user_key).await;
            return Err(error);
        }
    }
    // The account may have been disabled (or deleted) since the password was checked, and
    // may be changed while this finishes: the session is created only if the hash read here
    // is still the user's and the user active.
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::MfaInvalid)?;
    if !account.user.is_active() {
        return Err(Error::AccountDisabled);
    }
    let checked_hash = account.password_hash;
    sessions::start_session(core, account.user, client, SignIn::SecondFactor, checked_hash).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotp_matches_the_rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: T = 59 s → step 1, 94287082 in 8 digits.
        let secret = b"12345678901234567890";
        assert_eq!(hotp(secret, 1), "287082");
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        // RFC 6238: T = 1111111109 → 07081804.
        assert_eq!(hotp(secret, 1_111_111_109 / 30), "081804");
        assert_eq!(
            matching_step(secret, "287082", 59 + 30),
            Some(1),
            "previous step allowed"
        );
        assert_eq!(matching_step(secret, "287082", 59 + 60), None, "two steps back refused");
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; SECRET_BYTES]).len(), 32);
    }

    #[test]
    fn codes_are_told_apart_by_shape() {
        assert!(matches!(classify(" 123 456 "), Code::Totp(c) if c == "123456"));
        assert!(matches!(classify("ABCDE-FGH23"), Code::Recovery(c) if c == "abcdefgh23"));
        assert!(matches!(classify("abcdefgh23"), Code::Recovery(_)));
        assert!(matches!(classify("12345"), Code::Malformed));
        assert!(matches!(classify("abcde-fgh1"), Code::Malformed), "1 is not base32");
        let fresh = new_recovery_code();
        assert_eq!(fresh.len(), RECOVERY_CODE_CHARS + 1);
        assert!(matches!(classify(&fresh), Code::Recovery(_)));
    }

    #[test]
    fn otpauth_labels_are_percent_encoded() {
        assert_eq!(percent_encode("hufu"), "hufu");
        assert_eq!(percent_encode("My Co:x"), "My%20Co%3Ax");
    }
}
