//! Changes to other people's accounts, and finding them: role names, the user list and
//! search, status and role changes, and revoking all of a user's sessions. Used by the
//! administration API and by the command line, so both write the same `admin_update` audit
//! entry, in the same transaction as the change. Disabling revokes every session at once.

use super::audit::{self, Event};
use super::error::{Error, Reason, Result};
use super::user::{Account, STATUS_ACTIVE, STATUS_DISABLED, User};
use super::validate::{self, FieldErrors};
use super::{ClientContext, Core};
use crate::store::{AdminChange, RolesChange, UserFilter};
use unicode_normalization::UnicodeNormalization;

/// The role that may use the administration endpoints.
pub const ADMIN_ROLE: &str = "admin";
/// Longest search text accepted (longer than any username, email or phone).
const QUERY_MAX: usize = 254;

/// Checks a role name: 1–32 of lower-case letters, digits, `_`, `-`.
pub fn role(raw: &str) -> std::result::Result<String, Reason> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Reason::Required);
    }
    if name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(Reason::Invalid);
    }
    Ok(name.to_owned())
}

/// Checks a whole role list: not empty, every name valid; duplicates dropped, first
/// occurrence kept (the order is what the user object shows).
pub fn role_list<S: AsRef<str>>(raw: &[S]) -> std::result::Result<Vec<String>, Reason> {
    if raw.is_empty() {
        return Err(Reason::Invalid);
    }
    let mut roles: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        let name = role(name.as_ref()).map_err(|_| Reason::Invalid)?;
        if !roles.contains(&name) {
            roles.push(name);
        }
    }
    Ok(roles)
}

/// Finds an account by username (case-insensitive, NFKC).
pub async fn find_by_username(core: &Core, username: &str) -> Result<Account> {
    let key = validate::username(username)
        .map_err(|reason| Error::field("username", reason))?
        .key;
    core.store.user_by_username_key(&key).await?.ok_or(Error::NotFound)
}

/// A user id from a path: anything but a positive whole number names no user.
pub fn user_id(raw: &str) -> Result<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or(Error::NotFound)
}

/// One user, by id.
pub async fn user(core: &Core, id: i64) -> Result<User> {
    Ok(core.store.user_by_id(id).await?.ok_or(Error::NotFound)?.user)
}

/// What to list: the raw query parameters, validated here.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Text matched against username, email and phone.
    pub q: Option<String>,
    /// `0` or `1`.
    pub status: Option<String>,
}

/// One page of users.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserPage {
    /// The users of this page, newest first.
    pub items: Vec<User>,
    /// How many users match in all.
    pub total: i64,
    /// This page's number (from 1).
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

/// Escapes `%`, `_` and the escape character itself for `LIKE … ESCAPE '!'`, and wraps the
/// text for a substring match.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The store filter for a query. `q` is compared the way usernames and emails are keyed
/// (NFKC, lower case), so the search is case-insensitive on every dialect; phones are digits
/// and `+`, which that folding leaves alone.
pub fn user_filter(query: &UserQuery) -> Result<UserFilter> {
    let mut errors = FieldErrors::default();
    let pattern = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => Ok(None),
        Some(q) if q.chars().count() > QUERY_MAX => Err(errors.push("q", Reason::TooLong(QUERY_MAX))),
        Some(q) => Ok(Some(like_pattern(&q.nfkc().collect::<String>().to_lowercase()))),
    };
    let status = match query.status.as_deref().map(str::trim) {
        None => Ok(None),
        Some("0") => Ok(Some(STATUS_DISABLED)),
        Some("1") => Ok(Some(STATUS_ACTIVE)),
        Some(_) => Err(errors.push("status", Reason::Invalid)),
    };
    errors.finish(|| {
        Ok(UserFilter {
            pattern: pattern?,
            status: status?,
        })
    })
}

/// Lists users matching `query`, newest first, `per_page` from page `page` (both already
/// checked by the caller).
pub async fn list_users(core: &Core, query: &UserQuery, page: u32, per_page: u32) -> Result<UserPage> {
    let filter = user_filter(query)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let (accounts, total) = core.store.list_users(&filter, offset, i64::from(per_page)).await?;
    Ok(UserPage {
        items: accounts.into_iter().map(|a| a.user).collect(),
        total,
        page,
        per_page,
    })
}

/// An administrator's change to an account, as received (`PATCH /admin/users/{id}`).
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New status: 0 or 1.
    pub status: Option<i64>,
    /// New roles: a non-empty list of valid names.
    pub roles: Option<Vec<String>>,
}

/// Checks a patch into a store change, refusing one that would lock the administrator out.
fn admin_change(actor: i64, target: i64, patch: &UserPatch) -> Result<AdminChange> {
    let mut errors = FieldErrors::default();
    let status = match patch.status {
        None => Ok(None),
        Some(0) => Ok(Some(STATUS_DISABLED)),
        Some(1) => Ok(Some(STATUS_ACTIVE)),
        Some(_) => Err(errors.push("status", Reason::Invalid)),
    };
    let roles = match patch.roles.as_deref().map(role_list) {
        None => Ok(RolesChange::Keep),
        Some(roles) => errors.check("roles", roles).map(RolesChange::Set),
    };
    // An administrator who disabled themselves or dropped their own admin role could not
    // undo it, and if they were the last administrator nobody could (short of the command
    // line). Another administrator, or the command line, can still do it.
    if actor == target {
        if status == Ok(Some(STATUS_DISABLED)) {
            errors.push("status", Reason::SelfLockout);
        }
        if let Ok(RolesChange::Set(roles)) = &roles
            && !roles.iter().any(|r| r == ADMIN_ROLE)
        {
            errors.push("roles", Reason::SelfLockout);
        }
    }
    errors.finish(|| {
        Ok(AdminChange {
            status: status?,
            roles: roles?,
        })
    })
}

/// Applies a change with its audit record, then makes it visible at once: the cached profile
/// (which the admin guard reads roles from) is dropped and revoked sessions are announced.
async fn apply(core: &Core, user_id: i64, change: &AdminChange, record: crate::store::AuditRecord) -> Result<User> {
    let outcome = core
        .store
        .admin_update_user(user_id, change, &record, core.clock.unix_millis())
        .await;
    // Drop the cached profile even if the answer was lost after the commit.
    core.invalidate_profile(user_id).await;
    let outcome = outcome?.ok_or(Error::NotFound)?;
    core.announce_revoked(&outcome.revoked_sessions).await;
    user(core, user_id).await
}

/// `PATCH /admin/users/{id}`: status and/or roles, by administrator `actor`. An empty patch,
/// or one that changes nothing, answers the user as is and writes no audit entry.
pub async fn update_user(
    core: &Core,
    actor: i64,
    target: i64,
    patch: &UserPatch,
    client: &ClientContext,
) -> Result<User> {
    let change = admin_change(actor, target, patch)?;
    let record = audit::entry(core, Event::AdminUpdate, Some(target), client).by(actor);
    apply(core, target, &change, record).await
}

/// `DELETE /admin/users/{id}/sessions`: revokes every session of the user, by administrator
/// `actor`; answers how many were revoked.
pub async fn revoke_sessions(core: &Core, actor: i64, target: i64, client: &ClientContext) -> Result<usize> {
    // Known users only: a 404 tells the administrator they typed the wrong id.
    user(core, target).await?;
    let record = audit::entry(core, Event::SessionsRevoked, Some(target), client).by(actor);
    let revoked = core
        .store
        .revoke_user_sessions_recorded(target, &record, core.clock.unix_millis())
        .await?;
    core.announce_revoked(&revoked).await;
    Ok(revoked.len())
}

/// The audit record of a command-line change: no actor, no client, `"source": "cli"`.
fn cli_record(core: &Core, user_id: i64) -> crate::store::AuditRecord {
    audit::entry(core, Event::AdminUpdate, Some(user_id), &ClientContext::default())
        .with_detail(serde_json::json!({"source": "cli"}))
}

/// Adds a role (no change when the user has it). Command line.
pub async fn grant_role(core: &Core, user: &User, role_name: &str) -> Result<User> {
    let role_name = role(role_name).map_err(|reason| Error::field("role", reason))?;
    let change = AdminChange {
        status: None,
        roles: RolesChange::Add(role_name),
    };
    apply(core, user.id, &change, cli_record(core, user.id)).await
}

/// Removes a role (no change when the user lacks it). Command line.
pub async fn revoke_role(core: &Core, user: &User, role_name: &str) -> Result<User> {
    let role_name = role(role_name).map_err(|reason| Error::field("role", reason))?;
    let change = AdminChange {
        status: None,
        roles: RolesChange::Remove(role_name),
    };
    apply(core, user.id, &change, cli_record(core, user.id)).await
}

/// Enables or disables an account; disabling revokes all its sessions before returning.
/// Command line.
pub async fn set_enabled(core: &Core, user: &User, enabled: bool) -> Result<User> {
    let change = AdminChange {
        status: Some(if enabled { STATUS_ACTIVE } else { STATUS_DISABLED }),
        roles: RolesChange::Keep,
    };
    apply(core, user.id, &change, cli_record(core, user.id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_checked() {
        assert_eq!(role(" admin ").unwrap(), "admin");
        assert_eq!(role("support-l2").unwrap(), "support-l2");
        assert_eq!(role("Admin"), Err(Reason::Invalid));
        assert_eq!(role("a,b"), Err(Reason::Invalid));
        assert_eq!(role(""), Err(Reason::Required));
    }

    #[test]
    fn role_lists_are_non_empty_valid_and_deduplicated() {
        assert_eq!(role_list(&["user", "admin", "user"]).unwrap(), vec!["user", "admin"]);
        assert_eq!(role_list::<&str>(&[]), Err(Reason::Invalid));
        assert_eq!(role_list(&["user", "Bad Role"]), Err(Reason::Invalid));
        assert_eq!(role_list(&[""]), Err(Reason::Invalid));
    }

    #[test]
    fn search_text_is_escaped_and_folded() {
        assert_eq!(like_pattern("a%b_c!d"), "%a!%b!_c!!d%");
        let filter = user_filter(&UserQuery {
            q: Some(" JOHN ".into()),
            status: Some("0".into()),
        })
        .unwrap();
        assert_eq!(filter.pattern.as_deref(), Some("%john%"));
        assert_eq!(filter.status, Some(STATUS_DISABLED));
        assert!(
            user_filter(&UserQuery {
                q: Some("  ".into()),
                status: None
            })
            .unwrap()
            .pattern
            .is_none()
        );
        for bad in ["2", "x", "", "-1"] {
            assert!(
                user_filter(&UserQuery {
                    q: None,
                    status: Some(bad.into())
                })
                .is_err()
            );
        }
    }

    #[test]
    fn administrators_cannot_lock_themselves_out() {
        let disable = UserPatch {
            status: Some(0),
            roles: None,
        };
        assert!(admin_change(7, 7, &disable).is_err());
        assert!(admin_change(7, 8, &disable).is_ok());
        let drop_admin = UserPatch {
            status: None,
            roles: Some(vec!["user".into()]),
        };
        assert!(admin_change(7, 7, &drop_admin).is_err());
        assert!(admin_change(7, 8, &drop_admin).is_ok());
        let keep_admin = UserPatch {
            status: Some(1),
            roles: Some(vec!["admin".into(), "ops".into()]),
        };
        assert!(admin_change(7, 7, &keep_admin).is_ok());
        assert!(
            admin_change(
                7,
                7,
                &UserPatch {
                    status: Some(2),
                    roles: None
                }
            )
            .is_err()
        );
    }
}
