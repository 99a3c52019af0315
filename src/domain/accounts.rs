//! Registration, password sign-in, the profile, and password changes.
//!
//! Sign-in is built so that an unknown identifier and a wrong password look the same from
//! outside: both do one argon2 verification (against a dummy hash when there is no account)
//! and both answer `InvalidCredentials`. A disabled account is only revealed to someone who
//! gave its right password.

use super::audit::{self, Event};
use super::error::{Error, FieldError, Reason, Result};
use super::password::HashError;
use super::sessions::{SignIn, SignedIn, start_session};
use super::user::{Account, STATUS_ACTIVE, User, join_roles};
use super::validate::{self, Identifier};
use super::{ClientContext, Core, ID_ATTEMPTS};
use crate::clock::from_unix_millis;
use crate::secret::SecretString;
use crate::store::{Change, Duplicate, NewUser, ProfileUpdate, StoreError};

/// A registration request as received.
#[derive(Debug, Default)]
pub struct Registration {
    /// Requested username.
    pub username: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// Phone number.
    pub phone: Option<String>,
}

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

/// A profile update as received.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    /// New username.
    pub username: Patch<String>,
    /// New email.
    pub email: Patch<String>,
    /// New phone (null clears it when phones are optional).
    pub phone: Patch<String>,
    /// New nickname (null clears it).
    pub nickname: Patch<String>,
    /// New avatar URL (null clears it).
    pub avatar_url: Patch<String>,
}

/// What a right password leads to: a session, or (TOTP enabled) a second-factor challenge.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in (boxed: it is ten times the size of a challenge).
    SignedIn(Box<SignedIn>),
    /// No session yet: `POST /auth/mfa` completes the sign-in.
    MfaRequired(super::mfa::MfaChallenge),
}

fn hash_error(e: HashError) -> Error {
    match e {
        HashError::Busy => Error::Busy,
        HashError::Failed(why) => Error::Internal(anyhow::anyhow!(why)),
    }
}

/// Collects field errors so one response can list every bad field.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check<T>(&mut self, field: &'static str, result: std::result::Result<T, Reason>) -> Option<T> {
        result.map_err(|reason| self.0.push(FieldError { field, reason })).ok()
    }

    fn require<'a>(&mut self, field: &'static str, value: &'a Option<String>) -> Option<&'a str> {
        if value.is_none() {
            self.0.push(FieldError {
                field,
                reason: Reason::Required,
            });
        }
        value.as_deref()
    }

    fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// Creates an account with a password (self-registration, if switched on).
pub async fn register(core: &Core, input: Registration, client: &ClientContext) -> Result<User> {
    if !core.policy.registration_enabled {
        return Err(Error::RegistrationDisabled);
    }
    create_account(
        core,
        input,
        &core.policy.default_roles,
        core.policy.require_phone,
        client,
    )
    .await
}

/// Creates an account with a password and the given roles, whatever the registration switch
/// says (the command line uses this to make the first administrator, phone optional).
pub async fn create_account(
    core: &Core,
    input: Registration,
    roles: &[String],
    require_phone: bool,
    client: &ClientContext,
) -> Result<User> {
    let mut problems = Problems::default();
    let username = problems
        .require("username", &input.username)
        .and_then(|u| problems.check("username", validate::username(u)));
    let email = problems
        .require("email", &input.email)
        .and_then(|e| problems.check("email", validate::email(e)));
    let password_text = input.password.as_ref().map(|p| p.expose().to_owned());
    let password_ok = problems
        .require("password", &password_text)
        .and_then(|p| problems.check("password", validate::password(p, core.policy.password_min_length)));
    let phone = match input.phone.as_deref() {
        Some(raw) => problems.check("phone", validate::phone(raw)),
        None if require_phone => problems.check("phone", Err(Reason::Required)),
        None => None,
    };
    problems.finish()?;
    let (Some(username), Some(email), Some(()), Some(password)) = (username, email, password_ok, input.password) else {
        return Err(Error::Internal(anyhow::anyhow!("validated registration lost a field")));
    };

    if let Some(field) = core
        .store
        .taken(Some(&username.key), Some(&email.key), phone.as_deref())
        .await?
    {
        return Err(Error::Taken(field));
    }
    let password_hash = core.hasher.hash(password).await.map_err(hash_error)?;

    let now_ms = core.clock.unix_millis();
    let mut new_user = NewUser {
        id: core.ids.next_id(),
        username: username.display,
        username_key: username.key,
        email: Some(email.display),
        email_key: Some(email.key),
        phone,
        password_hash: Some(password_hash),
        roles: join_roles(roles),
        now_ms,
    };
    for attempt in 1..=ID_ATTEMPTS {
        let record = audit::entry(core, Event::Register, Some(new_user.id), client).with_detail(serde_json::json!({
            "method": "password",
            "roles": roles,
        }));
        match core.store.create_user(&new_user, Some(&record)).await {
            Ok(()) => break,
            Err(StoreError::Duplicate(Duplicate::Id)) if attempt < ID_ATTEMPTS => new_user.id = core.ids.next_id(),
            Err(e) => return Err(e.into()),
        }
    }
    let created_at = from_unix_millis(now_ms);
    Ok(User {
        id: new_user.id,
        username: new_user.username,
        email: new_user.email,
        phone: new_user.phone,
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

/// Finds the account an identifier names.
async fn find_by_identifier(core: &Core, identifier: &Identifier) -> Result<Option<Account>> {
    Ok(match identifier {
        Identifier::Email(key) => core.store.user_by_email_key(key).await?,
        Identifier::Phone(phone) => core.store.user_by_phone(phone).await?,
        Identifier::Username(key) => core.store.user_by_username_key(key).await?,
        Identifier::Impossible(_) => None,
    })
}

/// Signs in with an identifier (username, email or phone) and a password.
pub async fn login(
    core: &Core,
    identifier: Option<String>,
    password: Option<SecretString>,
    client: &ClientContext,
) -> Result<LoginOutcome> {
    let mut problems = Problems::default();
    let identifier = problems.require("username", &identifier).map(validate::identifier);
    let password_present = password.as_ref().map(|_| String::new());
    problems.require("password", &password_present);
    problems.finish()?;
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return Err(Error::Internal(anyhow::anyhow!("validated login lost a field")));
    };

    // Counted before the password is checked (whether or not the account exists, so a lock
    // says nothing about it); a locked identifier is refused even with the right password.
    audit::begin_attempt(core, identifier.normalised(), None, client).await?;
    let checked = async {
        let account = find_by_identifier(core, &identifier).await?;
        let stored_hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let verification = core
            .hasher
            .check(password.clone(), stored_hash.clone())
            .await
            .map_err(hash_error)?;
        Ok::<_, Error>((account, stored_hash, verification))
    };
    let (account, stored_hash, verification) = match checked.await {
        Ok(checked) => checked,
        Err(error) => {
            // Not a wrong password (the database or the hashing pool failed): uncount it, or
            // an overload would lock people out.
            core.limits.cancel_attempt(identifier.normalised()).await;
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
    core.limits.record_success(identifier.normalised()).await;
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
        upgrade_password_hash(core, user_id, old, password).await;
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
        Ok(true) => tracing::info!(user_id, "password hash upgraded to argon2id"),
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
pub async fn update_profile(
    core: &Core,
    user_id: i64,
    changes: ProfileChanges,
    client: &ClientContext,
) -> Result<User> {
    let mut problems = Problems::default();
    let mut update = ProfileUpdate::default();
    match changes.username {
        Patch::Absent => {}
        Patch::Null => problems.0.push(FieldError {
            field: "username",
            reason: Reason::Required,
        }),
        Patch::Value(raw) => {
            if let Some(u) = problems.check("username", validate::username(&raw)) {
                update.username = Change::Set((u.display, u.key));
            }
        }
    }
    match changes.email {
        Patch::Absent => {}
        Patch::Null => problems.0.push(FieldError {
            field: "email",
            reason: Reason::Required,
        }),
        Patch::Value(raw) => {
            if let Some(e) = problems.check("email", validate::email(&raw)) {
                update.email = Change::Set(Some((e.display, e.key)));
            }
        }
    }
    match changes.phone {
        Patch::Absent => {}
        Patch::Null if core.policy.require_phone => problems.0.push(FieldError {
            field: "phone",
            reason: Reason::Required,
        }),
        Patch::Null => update.phone = Change::Set(None),
        Patch::Value(raw) => {
            if let Some(p) = problems.check("phone", validate::phone(&raw)) {
                update.phone = Change::Set(Some(p));
            }
        }
    }
    match changes.nickname {
        Patch::Absent => {}
        Patch::Null => update.nickname = Change::Set(None),
        Patch::Value(raw) => {
            if let Some(n) = problems.check("nickname", validate::nickname(&raw)) {
                update.nickname = Change::Set(n);
            }
        }
    }
    match changes.avatar_url {
        Patch::Absent => {}
        Patch::Null => update.avatar_url = Change::Set(None),
        Patch::Value(raw) => {
            if let Some(a) = problems.check("avatar_url", validate::avatar_url(&raw)) {
                update.avatar_url = Change::Set(a);
            }
        }
    }
    problems.finish()?;
    let nothing_to_do = !(update.username.is_set()
        || update.email.is_set()
        || update.phone.is_set()
        || update.nickname.is_set()
        || update.avatar_url.is_set());
    if nothing_to_do {
        return profile(core, user_id).await;
    }
    // The names of the fields changed, never their values.
    let fields: Vec<&str> = [
        ("username", update.username.is_set()),
        ("email", update.email.is_set()),
        ("phone", update.phone.is_set()),
        ("nickname", update.nickname.is_set()),
        ("avatar_url", update.avatar_url.is_set()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let record = audit::entry(core, Event::ProfileUpdated, Some(user_id), client)
        .with_detail(serde_json::json!({ "fields": fields }));
    let updated = core
        .store
        .update_profile(user_id, &update, core.clock.unix_millis(), Some(&record))
        .await;
    // Invalidate even when the write failed: it may have committed before the error.
    core.invalidate_profile(user_id).await;
    updated?.map(|a| a.user).ok_or(Error::NotFound)
}

/// Changes the password: the old one is required when the account has one (a WeChat-only
/// user sets a first password without it). Every other session of the user is revoked.
pub async fn change_password(
    core: &Core,
    user_id: i64,
    current_session: i64,
    old_password: Option<SecretString>,
    new_password: Option<SecretString>,
    client: &ClientContext,
) -> Result<()> {
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    let mut problems = Problems::default();
    let new_text = new_password.as_ref().map(|p| p.expose().to_owned());
    problems
        .require("new_password", &new_text)
        .and_then(|p| problems.check("new_password", validate::password(p, core.policy.password_min_length)));
    if account.password_hash.is_some() && old_password.is_none() {
        problems.0.push(FieldError {
            field: "old_password",
            reason: Reason::Required,
        });
    }
    problems.finish()?;
    let Some(new_password) = new_password else {
        return Err(Error::Internal(anyhow::anyhow!(
            "validated password change lost a field"
        )));
    };
    if let (Some(stored), Some(old)) = (account.password_hash.clone(), old_password) {
        // A wrong old password counts toward the lockout of the account's username, so the
        // endpoint cannot be used to guess it past the limit.
        let username_key = account.user.username.to_ascii_lowercase();
        audit::begin_attempt(core, &username_key, Some(user_id), client).await?;
        match core.hasher.verify(old, Some(stored)).await.map_err(hash_error) {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidCredentials),
            Err(error) => {
                core.limits.cancel_attempt(&username_key).await;
                return Err(error);
            }
        }
        core.limits.record_success(&username_key).await;
    }
    let hash = core.hasher.hash(new_password).await.map_err(hash_error)?;
    let now_ms = core.clock.unix_millis();
    let record = audit::entry(core, Event::PasswordChanged, Some(user_id), client)
        .with_detail(serde_json::json!({"first_password": account.password_hash.is_none()}));
    core.store
        .set_password_hash(user_id, &hash, now_ms, Some(&record))
        .await?;
    // A sign-in waiting for its second factor proved the old password; it must not finish.
    core.store.delete_mfa_challenges(user_id).await?;
    let revoked = core
        .store
        .revoke_user_sessions(user_id, Some(current_session), now_ms, None)
        .await?;
    core.invalidate_profile(user_id).await;
    core.announce_revoked(&revoked).await;
    Ok(())
}
