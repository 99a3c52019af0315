//! Sessions, from start to end: starting one for a user who has proven who they are (every
//! sign-in method ends here), checking access tokens (with revocation), refresh rotation with
//! reuse detection, logout (one session or all), and listing or revoking sessions.

use super::audit::{self, Event};
use super::error::{Error, FieldError, Reason, RefreshError, Result, TokenError};
use super::keys;
use super::tokens::{AccessClaims, IssuedToken};
use super::user::User;
use super::{ClientContext, Core};
use crate::clock::from_unix_millis;
use crate::secret::SecretString;
use crate::store::{Duplicate, NewSession, RotateRequest, Rotation, SessionCreation, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::OffsetDateTime;

/// The context the successor refresh token is sealed under while the reuse grace keeps it.
const SUCCESSOR_CONTEXT: &str = "refresh_successor";
/// How long the revocation feed may be silent before authenticated requests are refused.
const FEED_TOLERANCE: std::time::Duration = std::time::Duration::from_secs(3);

/// The result of a successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The access token.
    pub access: IssuedToken,
    /// The opaque refresh token (only its hash is stored).
    pub refresh_token: SecretString,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
    /// The user.
    pub user: User,
    /// The session (the `sid` of the access token).
    pub session_id: i64,
}

/// SHA-256 (hex) of a refresh token: what the database keeps instead of the token.
pub fn refresh_token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a user proved who they are, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// Identifier and password.
    Password,
    /// Identifier and password, then a second factor.
    SecondFactor,
    /// A WeChat Mini Program `wx.login()` code.
    MiniProgram,
    /// WeChat website (QR) login.
    WechatWebsite,
    /// A one-time code by SMS or email.
    Code(super::codes::Channel),
}

impl SignIn {
    fn event_and_method(self) -> (Event, &'static str) {
        match self {
            SignIn::Password => (Event::Login, "password"),
            SignIn::SecondFactor => (Event::Login, "password+mfa"),
            SignIn::MiniProgram => (Event::WechatLogin, "miniprogram"),
            SignIn::WechatWebsite => (Event::WechatLogin, "website"),
            SignIn::Code(_) => (Event::CodeLogin, "code"),
        }
    }

    /// The RFC 8176 `amr` values of this proof (`wx` for WeChat, `email` for an email code,
    /// where RFC 8176 has none).
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            SignIn::Password => &["pwd"],
            SignIn::SecondFactor => &["pwd", "otp", "mfa"],
            SignIn::MiniProgram | SignIn::WechatWebsite => &["wx"],
            SignIn::Code(super::codes::Channel::Sms) => &["sms"],
            SignIn::Code(super::codes::Channel::Email) => &["email"],
        }
    }
}

/// The stored form of `amr` values (comma-joined).
pub fn join_amr(amr: &[&str]) -> String {
    amr.join(",")
}

/// `amr` values from their stored form.
pub fn split_amr(stored: &str) -> Vec<String> {
    stored.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// Unix seconds of a Unix-millisecond time.
fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1_000)
}

/// Creates a session for a user who has proven who they are, and issues its tokens. The
/// sign-in's audit entry is written with the session, in its transaction.
/// With `checked_password_hash` (a password sign-in), the session is created only if the user
/// still has that hash and is active.
pub async fn start_session(
    core: &Core,
    user: User,
    client: &ClientContext,
    how: SignIn,
    checked_password_hash: Option<String>,
) -> Result<SignedIn> {
    let refresh_token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    // The first refresh token lives the idle limit, or to the session's end if that is sooner.
    let refresh_ttl = core.policy.refresh_ttl.min(core.policy.session_max_age);
    let now_ms = core.clock.unix_millis();
    let mut session = NewSession {
        id: core.ids.next_id(),
        user_id: user.id,
        ip: client.ip.clone(),
        user_agent: client.stored_user_agent(),
        refresh_token_hash: refresh_token_hash(&refresh_token),
        expires_at_ms: now_ms.saturating_add(i64::try_from(refresh_ttl.as_millis()).unwrap_or(i64::MAX)),
        now_ms,
        amr: join_amr(how.amr()),
        checked_password_hash,
    };
    let (event, method) = how.event_and_method();
    for attempt in 1..=super::ID_ATTEMPTS {
        let record = audit::entry(core, event, Some(user.id), client)
            .with_detail(serde_json::json!({"method": method, "session_id": session.id.to_string()}));
        match core.store.create_session(&session, Some(&record)).await {
            Ok(SessionCreation::Created) => break,
            Ok(SessionCreation::PasswordChanged) => return Err(Error::InvalidCredentials),
            Ok(SessionCreation::UserDisabled) => return Err(Error::AccountDisabled),
            Err(StoreError::Duplicate(Duplicate::Id)) if attempt < super::ID_ATTEMPTS => {
                session.id = core.ids.next_id()
            }
            Err(e) => return Err(e.into()),
        }
    }
    let access = core
        .tokens
        .issue(&user, session.id, seconds(now_ms), &split_amr(&session.amr))
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(SignedIn {
        access,
        refresh_token: SecretString::new(refresh_token),
        refresh_expires_in: refresh_ttl.as_secs(),
        user,
        session_id: session.id,
    })
}

/// Checks an access token: signature, claims, and that its session is not revoked. Only
/// memory is touched unless the token names a signing key this node has not loaded yet, or
/// the node has not yet loaded the recent revocations (then it tries once, and answers 503
/// rather than let a possibly revoked token through).
pub async fn authenticate(core: &Core, token: &str) -> Result<Arc<AccessClaims>> {
    let claims = match core.tokens.verify(token) {
        Err(TokenError::UnknownKey) => {
            keys::reload_soon(core).await;
            core.tokens.verify(token).map_err(|e| {
                Error::Token(if e == TokenError::UnknownKey {
                    TokenError::Invalid
                } else {
                    e
                })
            })?
        }
        other => other.map_err(Error::Token)?,
    };
    let session_id: i64 = claims.sid.parse().map_err(|_| Error::Token(TokenError::Invalid))?;
    if !core.revocations.is_synced() {
        crate::sync::feed::load_revocations(core.node()).await?;
    }
    // Revocations made on other nodes arrive through the database feed (and the Redis event
    // channel when subscribed). If neither has been heard from for a while, this node cannot
    // know what was revoked meanwhile: refuse rather than let a revoked token through.
    if core.revocations.feed_silent_for() > FEED_TOLERANCE && !core.cache.events_live() {
        return Err(Error::Unavailable(anyhow::anyhow!(
            "the revocation feed has been silent too long"
        )));
    }
    if core.revocations.is_revoked(session_id) {
        return Err(Error::Token(TokenError::Revoked));
    }
    Ok(claims)
}

/// Rotates a refresh token: a new pair for the same session, the old token retired.
pub async fn refresh(core: &Core, refresh_token: Option<SecretString>, client: &ClientContext) -> Result<SignedIn> {
    let Some(presented) = refresh_token.filter(|t| !t.expose().is_empty()) else {
        return Err(Error::Validation(vec![FieldError {
            field: "refresh_token",
            reason: Reason::Required,
        }]));
    };
    let replacement = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now_ms = core.clock.unix_millis();
    let refresh_ttl = core.policy.refresh_ttl;
    let old_hash = refresh_token_hash(presented.expose());
    let new_hash = refresh_token_hash(&replacement);
    // The store fills in whose session it was.
    let on_rotated = audit::entry(core, Event::Refresh, None, client);
    let on_reused = audit::entry(core, Event::RefreshReuse, None, client);
    let grace_ms = i64::try_from(core.policy.refresh_reuse_grace.as_millis()).unwrap_or(i64::MAX);
    let sealed_successor = if grace_ms > 0 {
        core.keys
            .secret_box()
            .seal(replacement.as_bytes(), SUCCESSOR_CONTEXT)
            .map_err(|_| Error::Internal(anyhow::anyhow!("cannot seal the successor refresh token")))?
    } else {
        String::new()
    };
    let request = RotateRequest {
        old_hash: &old_hash,
        new_hash: &new_hash,
        now_ms,
        new_expires_at_ms: now_ms.saturating_add(i64::try_from(refresh_ttl.as_millis()).unwrap_or(i64::MAX)),
        max_age_ms: i64::try_from(core.policy.session_max_age.as_millis()).unwrap_or(i64::MAX),
        reuse_grace_ms: grace_ms,
        sealed_successor: &sealed_successor,
        on_rotated: Some(&on_rotated),
        on_reused: Some(&on_reused),
    };
    let mut successor = replacement;
    let (session_id, user_id, auth_time_ms, amr, expires_at_ms) =
        match core.store.rotate_refresh_token(&request).await? {
            Rotation::Rotated {
                session_id,
                user_id,
                auth_time_ms,
                amr,
                expires_at_ms,
            } => (session_id, user_id, auth_time_ms, amr, expires_at_ms),
            // A duplicate of a rotation within the grace (a lost response, racing tabs): the
            // same successor, so both keep a working session; a thief who raced the owner
            // still trips reuse detection at the next rotation.
            Rotation::Duplicate {
                session_id,
                user_id,
                auth_time_ms,
                amr,
                sealed_successor,
                expires_at_ms,
            } => {
                let opened = core
                    .keys
                    .secret_box()
                    .open(&sealed_successor, SUCCESSOR_CONTEXT)
                    .map_err(|_| Error::Refresh(RefreshError::Invalid))?;
                successor = String::from_utf8(opened).map_err(|_| Error::Refresh(RefreshError::Invalid))?;
                (session_id, user_id, auth_time_ms, amr, expires_at_ms)
            }
            Rotation::Unknown | Rotation::LostRace => return Err(Error::Refresh(RefreshError::Invalid)),
            Rotation::Expired => return Err(Error::Refresh(RefreshError::Expired)),
            Rotation::Reused { session_id } => {
                core.announce_revoked(&[session_id]).await;
                tracing::warn!(session_id, "refresh token reused: session revoked");
                return Err(Error::Refresh(RefreshError::Reused));
            }
        };
    let account = core
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(Error::Refresh(RefreshError::Invalid))?;
    if !account.user.is_active() {
        return Err(Error::AccountDisabled);
    }
    let access = core
        .tokens
        .issue(&account.user, session_id, seconds(auth_time_ms), &split_amr(&amr))
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(SignedIn {
        access,
        refresh_token: SecretString::new(successor),
        refresh_expires_in: u64::try_from((expires_at_ms - now_ms).div_euclid(1_000)).unwrap_or(0),
        user: account.user,
        session_id,
    })
}

/// Revokes the caller's session, or every session of the caller with `all`.
pub async fn logout(core: &Core, user_id: i64, session_id: i64, all: bool, client: &ClientContext) -> Result<usize> {
    let now_ms = core.clock.unix_millis();
    let record = audit::entry(core, Event::Logout, Some(user_id), client)
        .with_detail(serde_json::json!({"all": all, "session_id": session_id.to_string()}));
    let revoked = if all {
        core.store
            .revoke_user_sessions(user_id, None, now_ms, Some(&record))
            .await?
    } else {
        core.store
            .revoke_session_of_user(session_id, user_id, now_ms, Some(&record))
            .await?;
        // The caller's own session counts as revoked even if it had expired meanwhile.
        vec![session_id]
    };
    core.announce_revoked(&revoked).await;
    Ok(revoked.len())
}

/// One live session as the user sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// The `sid` of the session's access tokens.
    pub id: String,
    /// Sign-in time.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last sign-in or refresh.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: OffsetDateTime,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Whether this is the session of the token that asked.
    pub current: bool,
}

/// The user's live sessions, newest first.
pub async fn list(core: &Core, user_id: i64, current_session: i64) -> Result<Vec<SessionView>> {
    let now_ms = core.clock.unix_millis();
    let rows = core.store.live_sessions(user_id, now_ms).await?;
    Ok(rows
        .into_iter()
        .filter(|row| !core.revocations.is_revoked(row.id))
        .map(|row| SessionView {
            id: row.id.to_string(),
            created_at: from_unix_millis(row.created_at),
            last_used_at: from_unix_millis(row.last_used_at),
            ip: row.ip,
            user_agent: row.user_agent,
            current: row.id == current_session,
        })
        .collect())
}

/// Revokes one of the user's own live sessions.
pub async fn revoke_one(core: &Core, user_id: i64, session_id: &str, client: &ClientContext) -> Result<()> {
    let session_id: i64 = session_id.parse().map_err(|_| Error::SessionNotFound)?;
    let now_ms = core.clock.unix_millis();
    let record = audit::entry(core, Event::SessionsRevoked, Some(user_id), client)
        .with_detail(serde_json::json!({"session_id": session_id.to_string()}));
    if !core
        .store
        .revoke_session_of_user(session_id, user_id, now_ms, Some(&record))
        .await?
    {
        return Err(Error::SessionNotFound);
    }
    core.announce_revoked(&[session_id]).await;
    Ok(())
}
