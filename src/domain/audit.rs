//! The audit trail (contract section 4): the events that exist and how an entry is made.
//! Entries for changes are handed to the store method that makes the change, which writes
//! them in the same transaction; events that change nothing else are written on their own.
//! Nothing secret is ever put in an entry: `detail` holds names and ids, never a password,
//! token, code or hash.

use super::error::Result;
use super::limits::Lockout;
use super::{ClientContext, Core};
use crate::clock::from_unix_millis;
use crate::store::{AuditFilter, AuditRecord};
use serde::Serialize;
use time::OffsetDateTime;

/// An audit event, by its contract name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An account was created with a password.
    Register,
    /// A password (or second-factor) sign-in succeeded.
    Login,
    /// A sign-in was refused (wrong password, wrong second factor, disabled account).
    LoginFailed,
    /// An identifier was locked after too many failures.
    Locked,
    /// A session (or every session) was signed out by its user.
    Logout,
    /// A refresh token was rotated.
    Refresh,
    /// A retired refresh token was presented: its session was revoked.
    RefreshReuse,
    /// The password was changed (or first set).
    PasswordChanged,
    /// TOTP was switched on.
    MfaEnabled,
    /// TOTP was switched off.
    MfaDisabled,
    /// A WeChat sign-in (Mini Program or website QR).
    WechatLogin,
    /// A WeChat identity was bound to an account.
    WechatBound,
    /// A WeChat identity was removed from an account.
    WechatUnbound,
    /// Profile fields changed.
    ProfileUpdated,
    /// An administrator changed status or roles.
    AdminUpdate,
    /// Sessions were revoked (one by its user, or all by an administrator).
    SessionsRevoked,
    /// A one-time code sign-in (possibly creating the account).
    CodeLogin,
    /// A forgotten password was reset with a code.
    PasswordReset,
    /// A code proved the user's email or phone.
    IdentifierVerified,
    /// An email or phone moved to the account that proved it, from one that held it
    /// unverified (written for both accounts).
    IdentifierReclaimed,
    /// A session proved a credential again (`POST /auth/reauth`).
    Reauth,
}

impl Event {
    /// Every event, in the contract's order.
    pub const ALL: [Event; 21] = [
        Event::Register,
        Event::Login,
        Event::LoginFailed,
        Event::Locked,
        Event::Logout,
        Event::Refresh,
        Event::RefreshReuse,
        Event::PasswordChanged,
        Event::MfaEnabled,
        Event::MfaDisabled,
        Event::WechatLogin,
        Event::WechatBound,
        Event::WechatUnbound,
        Event::ProfileUpdated,
        Event::AdminUpdate,
        Event::SessionsRevoked,
        Event::CodeLogin,
        Event::PasswordReset,
        Event::IdentifierVerified,
        Event::IdentifierReclaimed,
        Event::Reauth,
    ];

    /// The contract's name of the event.
    pub fn name(self) -> &'static str {
        match self {
            Event::Register => "register",
            Event::Login => "login",
            Event::LoginFailed => "login_failed",
            Event::Locked => "locked",
            Event::Logout => "logout",
            Event::Refresh => "refresh",
            Event::RefreshReuse => "refresh_reuse",
            Event::PasswordChanged => "password_changed",
            Event::MfaEnabled => "mfa_enabled",
            Event::MfaDisabled => "mfa_disabled",
            Event::WechatLogin => "wechat_login",
            Event::WechatBound => "wechat_bound",
            Event::WechatUnbound => "wechat_unbound",
            Event::ProfileUpdated => "profile_updated",
            Event::AdminUpdate => "admin_update",
            Event::SessionsRevoked => "sessions_revoked",
            Event::CodeLogin => "code_login",
            Event::PasswordReset => "password_reset",
            Event::IdentifierVerified => "identifier_verified",
            Event::IdentifierReclaimed => "identifier_reclaimed",
            Event::Reauth => "reauth",
        }
    }

    /// The event with this contract name.
    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// A new entry about `user_id`, made by the caller described by `client`, now.
pub fn entry(core: &Core, event: Event, user_id: Option<i64>, client: &ClientContext) -> AuditRecord {
    AuditRecord {
        id: core.ids.next_id(),
        user_id,
        actor_id: None,
        event: event.name(),
        ip: client.ip.clone(),
        user_agent: client.stored_user_agent(),
        at_ms: core.clock.unix_millis(),
        detail: None,
    }
}

/// Writes an entry for an event that changes nothing else (a failed sign-in, a lock). A
/// failure to write is logged, not returned: the answer to the client does not depend on it.
pub async fn record_alone(core: &Core, record: AuditRecord) {
    if let Err(error) = core.store.record_audit(&record).await {
        tracing::warn!(event = record.event, %error, "could not write an audit entry");
    }
}

/// One entry as administrators read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    /// Entry id.
    pub id: i64,
    /// The account concerned.
    pub user_id: Option<i64>,
    /// The administrator who acted, when not the user.
    pub actor_id: Option<i64>,
    /// Event name.
    pub event: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The small JSON object written with the entry, or null.
    #[schema(value_type = Option<Object>)]
    pub detail: serde_json::Value,
}

/// One page of entries, newest first, with how many match in all.
pub async fn page(core: &Core, filter: &AuditFilter, offset: i64, limit: i64) -> Result<(Vec<EntryView>, i64)> {
    let (rows, total) = core.store.audit_page(filter, offset, limit).await?;
    let items = rows
        .into_iter()
        .map(|row| EntryView {
            id: row.id,
            user_id: row.user_id,
            actor_id: row.actor_id,
            event: row.event,
            ip: row.ip,
            user_agent: row.user_agent,
            at: from_unix_millis(row.at),
            detail: row
                .detail
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok((items, total))
}

/// Starts a counted sign-in attempt (`Limits::begin_attempt`) and records a `locked` entry
/// when this attempt is the one that locks the identifier or account. `user_id` is the account when the
/// caller already knows it (a password change, a second factor); a password sign-in passes
/// none, since a lock must say nothing about whether the identifier belongs to anyone.
pub async fn begin_attempt(core: &Core, of: Lockout<'_>, user_id: Option<i64>, client: &ClientContext) -> Result<()> {
    let started = core.limits.begin_attempt(of).await;
    if let Err(super::error::Error::Locked { just_locked: true, .. }) = &started {
        record_alone(core, entry(core, Event::Locked, user_id, client)).await;
    }
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_parses_back_to_its_event() {
        for event in Event::ALL {
            assert_eq!(Event::parse(event.name()), Some(event));
        }
        assert_eq!(Event::parse("LOGIN"), None);
        assert_eq!(Event::parse(""), None);
    }
}
