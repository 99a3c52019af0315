//! Registration, password sign-in, the profile, and password changes.
//!
//! Sign-in is built so that an unknown identifier and a wrong password look the same from
//! outside: both do one argon2 verification (against a dummy hash when there is no account)
//! and both answer `InvalidCredentials`. A disabled account is only revealed to someone who
//! gave its right password.
//!
//! Requests are parsed into `domain::input` types before anything here uses them. Sign-in and
//! profile changes arrive parsed; `register` and `change_password` take the form and parse it
//! first thing after what must come before it (the registration switch; the account, whose
//! having a password decides whether the old one is required).

use super::audit::{self, Event};
use super::error::{Error, Result};
use super::input::{Credentials, NewAccount, PasswordChange, PasswordForm, ProfileChange, RegistrationForm};
use super::limits::Lockout;
use super::password::HashError;
use super::sessions::{SignIn, SignedIn, start_session};
use super::user::{Account, STATUS_ACTIVE, User, join_roles};
use super::validate::Identifier;
use super::{ClientContext, Core, ID_ATTEMPTS};
use crate::clock::from_unix_millis;
use crate::secret::SecretString;
use crate::store::{Duplicate, NewUser, StoreError};

/// What a right password leads to: a session, or (TOTP enabled) a second-factor challenge.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in (boxed: it is ten times the size of a challenge).
    SignedIn(Box<SignedIn>),
    /// No session yet: `POST /auth/mfa` completes the sign-in.
    MfaRequired(super::mfa::MfaChallenge),
}

pub(crate) fn hash_error(e: HashError) -> Error {
    match e {
        HashError::Busy => Error::Busy,
        HashError::Failed(why) => Error::Internal(anyhow::anyhow!(why)),
    }
}

/// Creates an account with a password (self-registration, if switched on). The switch is
/// looked at before the form is parsed, so a closed registration says so whatever the body.
pub async fn register(core: &Core, form: RegistrationForm, client: &ClientContext) -> Result<User> {
    if !core.policy.registration_enabled {
        return Err(Error::RegistrationDisabled);
    }
    let account = NewAccount::parse(form, core.policy.password_min_length, core.policy.require_phone)?;
    super::identifiers::check_registration(core, &account)?;
    create_account(core, account, &core.policy.default_roles, client).await
}

/// Creates an account with a password and the given roles, whatever the registration switch
/// says (the command line uses this to make the first administrator, phone optional).
pub async fn create_account(
    core: &Core,
    account: NewAccount,
    roles: &[String],
    client: &ClientContext,
) -> Result<User> {
    let (username, email) = (account.username(), account.email());
    let (email_code, phone_code) = account.codes();
    // An identifier that comes with its code may be held unverified by another account (the
    // proof takes it over), so only the store's check in the insert decides for it.
    let email_key = Some(email.key.as_str()).filter(|_| email_code.is_none());
    let phone = account.phone().filter(|_| phone_code.is_none());
    if let Some(field) = core.store.taken(Some(&username.key), email_key, phone).await? {
        return Err(Error::Taken(field));
    }
    let password_hash = core.hasher.hash(account.password().clone()).await.map_err(hash_error)?;
    // Used last, once nothing else can refuse the registration but the insert itself.
    let proofs = super::identifiers::prove_registration(core, &account).await?;

    let now_ms = core.clock.unix_millis();
    let mut new_user = NewUser {
        id: core.ids.next_id(),
        username: username.display.clone(),
        username_key: username.key.clone(),
        email: Some(email.display.clone()),
        email_key: Some(email.key.clone()),
        phone: account.phone().map(str::to_owned),
        password_hash: Some(password_hash),
        email_verified: proofs.email,
        phone_verified: proofs.phone,
        roles: join_roles(roles),
        now_ms,
    };
    let mut reclaimed = Vec::new();
    for attempt in 1..=ID_ATTEMPTS {
        let record = audit::entry(core, Event::Register, Some(new_user.id), client).with_detail(serde_json::json!({
            "method": "password",
            "roles": roles,
        }));
        match core.store.create_user(&new_user, Some(&record)).await {
            Ok(taken) => {
                reclaimed = taken;
                break;
            }
            Err(StoreError::Duplicate(Duplicate::Id)) if attempt < ID_ATTEMPTS => new_user.id = core.ids.next_id(),
            Err(e) => return Err(e.into()),
        }
    }
    super::identifiers::after_reclaim(core, new_user.id, &reclaimed, client).await;
    let created_at = from_unix_millis(now_ms);
    Ok(User {
        id: new_user.id,
        username: new_user.username,
        email: new_user.email,
        phone: new_user.phone,
        email_verified: new_user.email_verified,
        phone_verified: new_user.phone_verified,
        nickname: None,
        avatar_url: None,
        status: STATUS_ACTIVE,
        roles: roles.to_vec(),
        mfa_enabled: false,
        wechat_bound: false,
        created_at,
        updated_at: created_at,
    })
}

/// Finds the account an identifier names. With `HUFU_REQUIRE_VERIFIED` for its channel, an
/// email or phone names only an account that proved it.
async fn find_by_identifier(core: &Core, identifier: &Identifier) -> Result<Option<Account>> {
    let required = core.codes.settings().require_verified;
    Ok(match identifier {
        Identifier::Email(key) => core
            .store
            .user_by_email_key(key)
            .await?
            .filter(|a| a.user.email_verified || !required.email),
        Identifier::Phone(phone) => core
            .store
            .user_by_phone(phone)
            .await?
            .filter(|a| a.user.phone_verified || !required.phone),
        Identifier::Username(key) => core.store.user_by_username_key(key).await?,
        Identifier::Impossible(_) => None,
    })
}

/// Signs in with an identifier (username, email or phone) and a password.
pub async fn login(core: &Core, credentials: Credentials, client: &ClientContext) -> Result<LoginOutcome> {
    let (identifier, password) = (credentials.identifier(), credentials.password());

    // Counted before the password is checked (whether or not the account exists, so a lock
    // says nothing about it); a locked identifier is refused even with the right password.
    let identifier_key = Lockout::Identifier(identifier.normalised());
    audit::begin_attempt(core, identifier_key, None, client).await?;
    let account = match find_by_identifier(core, identifier).await {
        Ok(account) => account,
        Err(error) => {
            core.limits.cancel_attempt(identifier_key).await;
            return Err(error);
        }
    };
    // The account counts every identifier's guesses together (contract section 11), so its
    // three identifiers do not give three times the guesses; locked, it refuses them all.
    let account_key = account.as_ref().map(|a| Lockout::Account(a.user.id));
    if let Some(key) = account_key
        && let Err(error) = audit::begin_attempt(core, key, account.as_ref().map(|a| a.user.id), client).await
    {
        core.limits.cancel_attempt(identifier_key).await;
        return Err(error);
    }
    let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
    let verification = match core
        .hasher
        .check(password.clone(), stored_hash.clone())
        .await
        .map_err(hash_error)
    {
        Ok(verification) => verification,
        Err(error) => {
            // Not a wrong password (the hashing pool failed): uncount it, or an overload
            // would lock people out.
            core.limits.cancel_attempt(identifier_key).await;
            if let Some(key) = account_key {
                core.limits.cancel_attempt(key).await;
            }
            return Err(error);
        }
    };
    let known_user = account.as_ref().map(|a| a.user.id);
    let Some(account) = account.filter(|_| verification.matches) else {
        let failed = audit::entry(core, Event::LoginFailed, known_user, client)
            .with_detail(serde_json::json!({"reason": "invalid_credentials"}));
        audit::record_alone(core, failed).await;
        return Err(Error::InvalidCredentials);
    };
    let account_key = Lockout::Account(account.user.id);
    core.limits.record_success(identifier_key).await;
    if account.user.mfa_enabled || !account.user.is_active() {
        // The right password, but no session: not a failure, and not the success that
        // clears the account's count (its wrong second factors must keep counting).
        core.limits.cancel_attempt(account_key).await;
    } else {
        core.limits.record_success(account_key).await;
    }
    if !account.user.is_active() {
        let failed = audit::entry(core, Event::LoginFailed, Some(account.user.id), client)
            .with_detail(serde_json::json!({"reason": "account_disabled"}));
        audit::record_alone(core, failed).await;
        return Err(Error::AccountDisabled);
    }
    if account.user.mfa_enabled {
        let checked_hash = stored_hash.as_deref();
        let challenge =
            super::mfa::challenge(core, account.user.id, identifier.normalised(), checked_hash, client).await?;
        return Ok(LoginOutcome::MfaRequired(challenge));
    }
    let user_id = account.user.id;
    // A password change or a disable may land while the password is being checked; the
    // session is created only if the hash checked is still the user's (see `NewSession`).
    let signed_in = start_session(core, account.user, client, SignIn::Password, stored_hash.clone()).await?;
    // Only after the session's check that the hash is unchanged: an imported
    // (bcrypt) or weaker hash becomes argon2id with the configured cost now that the password
    // is known to be right.
    if verification.needs_rehash
        && let Some(old) = stored_hash.as_deref()
    {
        upgrade_password_hash(core, user_id, old, password.clone()).await;
    }
    Ok(LoginOutcome::SignedIn(Box::new(signed_in)))
}

/// Re-hashes a right password whose stored hash is bcrypt or weaker argon2, and stores the new
/// hash if the stored one is still `old` (a password change meanwhile wins). Best effort: the
/// sign-in has succeeded either way, and the next one tries again.
async fn upgrade_password_hash(core: &Core, user_id: i64, old: &str, password: SecretString) {
    let new = match core.hasher.hash(password).await {
        Ok(new) => new,
        Err(error) => {
            tracing::info!(user_id, error = %error, "password hash upgrade postponed");
            return;
        }
    };
    match core.store.upgrade_password_hash(user_id, old, &new).await {
        Ok(true) => {
            // One bcrypt hash fewer: failed logins stop being padded once none remain.
            core.hasher.hash_replaced(old);
            tracing::info!(user_id, "password hash upgraded to argon2id");
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(user_id, error = %error, "cannot store the upgraded password hash"),
    }
}

/// The user's own profile as JSON, from the cache when warm (filled on a miss). Served as
/// stored: a cached profile is never parsed or serialised again.
pub async fn profile_json(core: &Core, user_id: i64) -> Result<bytes::Bytes> {
    if let Some(json) = core.cache.get(user_id).await {
        return Ok(json);
    }
    let generation = core.cache.generation();
    let user = profile(core, user_id).await?;
    let json = bytes::Bytes::from(serde_json::to_vec(&user).map_err(|e| Error::Internal(e.into()))?);
    core.cache.fill(user_id, json.clone(), generation).await;
    Ok(json)
}

/// The user's own profile, read from the database.
pub async fn profile(core: &Core, user_id: i64) -> Result<User> {
    core.store
        .user_by_id(user_id)
        .await?
        .map(|a| a.user)
        .ok_or(Error::NotFound)
}

/// Applies a profile update and returns the updated user.
pub async fn update_profile(core: &Core, user_id: i64, change: ProfileChange, client: &ClientContext) -> Result<User> {
    let change = super::identifiers::prove_change(core, user_id, change).await?;
    if change.is_empty() {
        return profile(core, user_id).await;
    }
    // The names of the fields changed, never their values.
    let fields = change.fields();
    let record = audit::entry(core, Event::ProfileUpdated, Some(user_id), client)
        .with_detail(serde_json::json!({ "fields": fields }));
    let updated = core
        .store
        .update_profile(user_id, change.update(), core.clock.unix_millis(), Some(&record))
        .await;
    // Invalidate even when the write failed: it may have committed before the error.
    core.invalidate_profile(user_id).await;
    let (account, reclaimed) = updated?;
    super::identifiers::after_reclaim(core, user_id, &reclaimed, client).await;
    account.map(|a| a.user).ok_or(Error::NotFound)
}

/// Changes the password: the old one is required when the account has one (a WeChat-only
/// user sets a first password without it). Every other session of the user is revoked. The
/// form is parsed here, once the account is known: whether it has a password decides which
/// fields are required.
pub async fn change_password(
    core: &Core,
    user_id: i64,
    current_session: i64,
    form: PasswordForm,
    client: &ClientContext,
) -> Result<()> {
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    let change = PasswordChange::parse(form, account.password_hash.is_some(), core.policy.password_min_length)?;
    if let (Some(stored), Some(old)) = (account.password_hash.clone(), change.old_password()) {
        // A wrong old password counts toward the account's own lock (which every sign-in of
        // it obeys, and a rename does not reset), so the endpoint cannot be used to guess it
        // past the limit.
        let account_key = Lockout::Account(user_id);
        audit::begin_attempt(core, account_key, Some(user_id), client).await?;
        match core.hasher.verify(old.clone(), Some(stored)).await.map_err(hash_error) {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidCredentials),
            Err(error) => {
                core.limits.cancel_attempt(account_key).await;
                return Err(error);
            }
        }
        core.limits.record_success(account_key).await;
    }
    let hash = core
        .hasher
        .hash(change.new_password().clone())
        .await
        .map_err(hash_error)?;
    let now_ms = core.clock.unix_millis();
    let record = audit::entry(core, Event::PasswordChanged, Some(user_id), client)
        .with_detail(serde_json::json!({"first_password": account.password_hash.is_none()}));
    // One transaction: the hash, the other sessions and the pending second-factor sign-ins
    // (which proved the old password) change together or not at all.
    let revoked = core
        .store
        .replace_password(user_id, &hash, Some(current_session), now_ms, Some(&record))
        .await?;
    core.invalidate_profile(user_id).await;
    core.announce_revoked(&revoked).await;
    Ok(())
}
