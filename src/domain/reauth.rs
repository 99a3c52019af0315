//! Step-up (contract section 11): the rule that a sensitive change needs a credential proved
//! within `HUFU_REAUTH_WINDOW` (the access token's `auth_time`, read from memory like every
//! claim), and `POST /auth/reauth`, which proves one again for the caller's session — by the
//! password, a TOTP or recovery code, or a `reauth` code — and answers fresh tokens for it.
//!
//! A thief with a stolen access token (or one who refreshed a stolen refresh token) holds a
//! session whose `auth_time` ages: after the window it can still read, but cannot change how
//! the account signs in or where its codes go.

use super::audit::{self, Event};
use super::codes::{self, Channel, Purpose};
use super::error::{Error, Reason, Result};
use super::sessions::{SignedIn, join_amr, refresh_token_hash, split_amr};
use super::tokens::AccessClaims;
use super::{ClientContext, Core};
use crate::secret::SecretString;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Refuses with `REAUTH_REQUIRED` unless the caller's session proved a credential within the
/// reauthentication window.
pub fn require_recent_proof(core: &Core, claims: &AccessClaims) -> Result<()> {
    let window = i64::try_from(core.policy.reauth_window.as_secs()).unwrap_or(i64::MAX);
    let age = core.clock.unix_seconds().saturating_sub(claims.auth_time);
    if claims.auth_time > 0 && age <= window {
        Ok(())
    } else {
        Err(Error::ReauthRequired)
    }
}

/// What `POST /auth/reauth` proves with.
#[derive(Debug)]
pub enum Proof {
    /// The account's password.
    Password(SecretString),
    /// A TOTP or recovery code.
    SecondFactor(SecretString),
    /// A `reauth` code sent to the account's own email or phone.
    Code(Channel, SecretString),
}

impl Proof {
    /// Checks a reauth body: exactly one of `password`, `code` (TOTP or recovery), or
    /// `channel` with `code`.
    pub fn parse(password: Option<SecretString>, code: Option<String>, channel: Option<String>) -> Result<Self> {
        match (password, code, channel) {
            (Some(password), None, None) if !password.expose().is_empty() => Ok(Proof::Password(password)),
            (None, Some(code), None) if !code.trim().is_empty() => Ok(Proof::SecondFactor(SecretString::new(code))),
            (None, Some(code), Some(channel)) => {
                let channel = match channel.as_str() {
                    "email" => Channel::Email,
                    "sms" => Channel::Sms,
                    _ => return Err(Error::field("channel", Reason::Invalid)),
                };
                let code = super::validate::one_time_code(&code).map_err(|reason| Error::field("code", reason))?;
                Ok(Proof::Code(channel, code))
            }
            (None, None, Some(_)) => Err(Error::field("code", Reason::Required)),
            (None, None, None) => Err(Error::field("password", Reason::Required)),
            _ => Err(Error::field("password", Reason::Invalid)),
        }
    }

    fn amr(&self) -> &'static [&'static str] {
        match self {
            Proof::Password(_) => &["pwd"],
            Proof::SecondFactor(_) => &["otp"],
            Proof::Code(Channel::Sms, _) => &["sms"],
            Proof::Code(Channel::Email, _) => &["email"],
        }
    }
}

/// `POST /auth/reauth`: proves a credential again for the caller's session and answers a
/// fresh login response for it (new `auth_time`; its refresh token replaces the session's,
/// which is retired as by a refresh). Wrong answers count toward the lockouts as at sign-in.
pub async fn reauth(
    core: &Core,
    user_id: i64,
    session_id: i64,
    proof: Proof,
    client: &ClientContext,
) -> Result<SignedIn> {
    match &proof {
        Proof::Password(password) => super::mfa::check_password(core, user_id, password.clone(), client).await?,
        Proof::SecondFactor(code) => super::mfa::prove_code(core, user_id, code, client).await?,
        Proof::Code(channel, code) => {
            let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
            let target = super::identifiers::own_target(&account.user, *channel).ok_or(Error::CodeInvalid)?;
            codes::use_code(core, &target, Purpose::Reauth, code, Some(user_id)).await?;
        }
    }
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    if !account.user.is_active() {
        return Err(Error::AccountDisabled);
    }
    let refresh_token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now_ms = core.clock.unix_millis();
    let refresh_ttl = core.policy.refresh_ttl;
    let expires_at_ms = now_ms.saturating_add(i64::try_from(refresh_ttl.as_millis()).unwrap_or(i64::MAX));
    let amr = join_amr(proof.amr());
    let record = audit::entry(core, Event::Reauth, Some(user_id), client)
        .with_detail(serde_json::json!({"amr": proof.amr(), "session_id": session_id.to_string()}));
    let renewed = core
        .store
        .reauth_session(
            &crate::store::Reproof {
                session_id,
                user_id,
                amr: &amr,
                new_hash: &refresh_token_hash(&refresh_token),
                now_ms,
                new_expires_at_ms: expires_at_ms,
            },
            Some(&record),
        )
        .await?;
    if !renewed {
        // The session ended meanwhile (logout, revocation): its token is no longer good.
        return Err(Error::Token(super::error::TokenError::Revoked));
    }
    let access = core
        .tokens
        .issue(&account.user, session_id, now_ms.div_euclid(1_000), &split_amr(&amr))
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(SignedIn {
        access,
        refresh_token: SecretString::new(refresh_token),
        refresh_expires_in: refresh_ttl.as_secs(),
        user: account.user,
        session_id,
    })
}
