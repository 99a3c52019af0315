//! Changes to other people's accounts: roles and status. Used by the command line now and by
//! the admin API later. Disabling revokes every session at once.

use super::Core;
use super::error::{Error, Reason, Result};
use super::sessions;
use super::user::{Account, STATUS_ACTIVE, STATUS_DISABLED, User, join_roles};
use super::validate;

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

/// Finds an account by username (case-insensitive, NFKC).
pub async fn find_by_username(core: &Core, username: &str) -> Result<Account> {
    let key = validate::username(username)
        .map_err(|reason| Error::field("username", reason))?
        .key;
    core.store.user_by_username_key(&key).await?.ok_or(Error::NotFound)
}

async fn save_roles(core: &Core, user: &User, roles: Vec<String>) -> Result<User> {
    let saved = core
        .store
        .set_roles(user.id, &join_roles(&roles), core.clock.unix_millis())
        .await;
    // Roles are cached with the profile; drop it even if the write failed after committing.
    core.cache.invalidate(user.id).await;
    if !saved? {
        return Err(Error::NotFound);
    }
    Ok(User { roles, ..user.clone() })
}

/// Adds a role (no change when the user has it).
pub async fn grant_role(core: &Core, user: &User, role_name: &str) -> Result<User> {
    let role_name = role(role_name).map_err(|reason| Error::field("role", reason))?;
    if user.roles.contains(&role_name) {
        return Ok(user.clone());
    }
    let mut roles = user.roles.clone();
    roles.push(role_name);
    save_roles(core, user, roles).await
}

/// Removes a role (no change when the user lacks it).
pub async fn revoke_role(core: &Core, user: &User, role_name: &str) -> Result<User> {
    let role_name = role(role_name).map_err(|reason| Error::field("role", reason))?;
    let roles: Vec<String> = user.roles.iter().filter(|r| **r != role_name).cloned().collect();
    if roles.len() == user.roles.len() {
        return Ok(user.clone());
    }
    save_roles(core, user, roles).await
}

/// Enables or disables an account; disabling revokes all its sessions before returning.
pub async fn set_enabled(core: &Core, user: &User, enabled: bool) -> Result<User> {
    let status = if enabled { STATUS_ACTIVE } else { STATUS_DISABLED };
    let saved = core.store.set_status(user.id, status, core.clock.unix_millis()).await;
    core.cache.invalidate(user.id).await;
    if !saved? {
        return Err(Error::NotFound);
    }
    if !enabled {
        sessions::revoke_all(core, user.id).await?;
    }
    Ok(User { status, ..user.clone() })
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
}
