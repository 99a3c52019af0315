//! Signing in with a one-time code (with sign-up on the first sign-in by phone) and resetting
//! a forgotten password with one (contract section 10).
//!
//! Wrong codes count only against the code's own five tries, never toward an identifier's
//! lockout: anyone can ask a code for someone's phone, and must not be able to lock its owner
//! out by guessing.

use super::accounts::LoginOutcome;
use super::audit::{self, Event};
use super::codes::{self, Channel, Purpose};
use super::error::{Error, Result};
use super::identifiers;
use super::input::{CodeLogin, PasswordReset};
use super::limits::Lockout;
use super::sessions::{SignIn, start_session};
use super::user::{STATUS_ACTIVE, User, join_roles};
use super::{ClientContext, Core, ID_ATTEMPTS};
use crate::clock::from_unix_millis;
use crate::store::{Duplicate, NewUser, StoreError};
use rand::Rng;

/// What a code sign-in answers: the login outcome, and whether it made the account.
#[derive(Debug)]
pub struct CodeSignIn {
    /// Signed in, or a second factor is needed.
    pub outcome: LoginOutcome,
    /// Whether this sign-in created the account (`is_new_user`).
    pub is_new_user: bool,
}

/// `POST /auth/login/code`.
pub async fn login(core: &Core, request: CodeLogin, client: &ClientContext) -> Result<CodeSignIn> {
    let target = request.target();
    codes::use_code(core, target, Purpose::Login, request.code(), None).await?;
    let account = match target.channel() {
        Channel::Email => core.store.user_by_email_key(target.key()).await?,
        Channel::Sms => core.store.user_by_phone(target.key()).await?,
    };
    let Some(account) = account else {
        if target.channel() == Channel::Sms && core.codes.settings().signup {
            let user = sign_up(core, target.key(), client).await?;
            let signed_in = start_session(core, user, client, SignIn::Code(target.channel()), None).await?;
            return Ok(CodeSignIn {
                outcome: LoginOutcome::SignedIn(Box::new(signed_in)),
                is_new_user: true,
            });
        }
        // No code was delivered to it: whatever was typed cannot be right.
        return Err(Error::CodeInvalid);
    };
    let user_id = account.user.id;
    if !account.user.is_active() {
        let failed = audit::entry(core, Event::LoginFailed, Some(user_id), client)
            .with_detail(serde_json::json!({"reason": "account_disabled", "method": "code"}));
        audit::record_alone(core, failed).await;
        return Err(Error::AccountDisabled);
    }
    // The code proves the identifier. If it was unverified until now, whoever typed it into
    // this account may not be its owner: every session of the account ends.
    let record = audit::entry(core, Event::IdentifierVerified, Some(user_id), client)
        .with_detail(serde_json::json!({"channel": target.channel().as_str(), "method": "code_login"}));
    let first_proof = core
        .store
        .prove_identifier(
            user_id,
            target.channel().field(),
            target.key(),
            core.clock.unix_millis(),
            Some(&record),
        )
        .await?;
    if first_proof {
        let revoked = core
            .store
            .revoke_user_sessions(user_id, None, core.clock.unix_millis(), None)
            .await?;
        core.store.delete_mfa_challenges(user_id).await?;
        core.announce_revoked(&revoked).await;
        core.invalidate_profile(user_id).await;
    }
    let mut user = account.user;
    match target.channel() {
        Channel::Email => user.email_verified = true,
        Channel::Sms => user.phone_verified = true,
    }
    if user.mfa_enabled {
        let challenge =
            super::mfa::challenge(core, user_id, target.key(), account.password_hash.as_deref(), client).await?;
        return Ok(CodeSignIn {
            outcome: LoginOutcome::MfaRequired(challenge),
            is_new_user: false,
        });
    }
    let signed_in = start_session(core, user, client, SignIn::Code(target.channel()), None).await?;
    Ok(CodeSignIn {
        outcome: LoginOutcome::SignedIn(Box::new(signed_in)),
        is_new_user: false,
    })
}

/// A generated username: `u_` and ten lowercase letters or digits.
fn generated_username() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("u_{tail}")
}

/// Creates the account of a phone's first code sign-in: generated username, no password, the
/// phone verified.
async fn sign_up(core: &Core, phone: &str, client: &ClientContext) -> Result<User> {
    let roles = core.policy.default_roles.clone();
    let now_ms = core.clock.unix_millis();
    let mut new_user = NewUser {
        id: core.ids.next_id(),
        username: generated_username(),
        username_key: String::new(),
        email: None,
        email_key: None,
        phone: Some(phone.to_owned()),
        password_hash: None,
        email_verified: false,
        phone_verified: true,
        roles: join_roles(&roles),
        now_ms,
    };
    new_user.username_key.clone_from(&new_user.username);
    let mut attempt = 1;
    let reclaimed = loop {
        let record = audit::entry(core, Event::Register, Some(new_user.id), client)
            .with_detail(serde_json::json!({"method": "code", "roles": roles}));
        match core.store.create_user(&new_user, Some(&record)).await {
            Ok(reclaimed) => break reclaimed,
            Err(StoreError::Duplicate(Duplicate::Id)) if attempt < ID_ATTEMPTS => new_user.id = core.ids.next_id(),
            // A generated name that is taken (one in 36^10): draw another.
            Err(StoreError::Duplicate(Duplicate::Field(super::error::UniqueField::Username)))
                if attempt < ID_ATTEMPTS =>
            {
                new_user.username = generated_username();
                new_user.username_key.clone_from(&new_user.username);
            }
            Err(e) => return Err(e.into()),
        }
        attempt += 1;
    };
    identifiers::after_reclaim(core, new_user.id, &reclaimed, client).await;
    let created_at = from_unix_millis(now_ms);
    Ok(User {
        id: new_user.id,
        username: new_user.username,
        email: None,
        phone: new_user.phone,
        email_verified: false,
        phone_verified: true,
        nickname: None,
        avatar_url: None,
        status: STATUS_ACTIVE,
        roles,
        mfa_enabled: false,
        wechat_bound: false,
        created_at,
        updated_at: created_at,
    })
}

/// `POST /auth/password/reset`: the code proves the target; the account gets the new
/// password, loses every session on every node and every sign-in waiting for a second factor,
/// and its lockouts are lifted.
pub async fn reset_password(core: &Core, request: PasswordReset, client: &ClientContext) -> Result<()> {
    let target = request.target();
    codes::use_code(core, target, Purpose::ResetPassword, request.code(), None).await?;
    let account = match target.channel() {
        Channel::Email => core.store.user_by_email_key(target.key()).await?,
        Channel::Sms => core.store.user_by_phone(target.key()).await?,
    };
    let account = account.ok_or(Error::CodeInvalid)?;
    let user_id = account.user.id;
    let hash = core
        .hasher
        .hash(request.new_password().clone())
        .await
        .map_err(super::accounts::hash_error)?;
    let record = audit::entry(core, Event::PasswordReset, Some(user_id), client)
        .with_detail(serde_json::json!({"channel": target.channel().as_str()}));
    let revoked = core
        .store
        .replace_password(user_id, &hash, None, core.clock.unix_millis(), Some(&record))
        .await?;
    core.announce_revoked(&revoked).await;
    core.invalidate_profile(user_id).await;
    // The account's own lock, and every identifier a password sign-in of it could have been
    // locked under.
    core.limits.clear(Lockout::Account(user_id)).await;
    let user = &account.user;
    let names = [Some(&user.username), user.email.as_ref(), user.phone.as_ref()];
    for name in names.into_iter().flatten() {
        let identifier = super::validate::identifier(name);
        core.limits.clear(Lockout::Identifier(identifier.normalised())).await;
    }
    Ok(())
}
