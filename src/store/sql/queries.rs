//! Every SQL statement, written once with `?` placeholders. PostgreSQL gets the same text
//! with `$1, $2, …`, rewritten once at start-up (never per request). The schema keeps to
//! types all three dialects share (BIGINT, SMALLINT, text), so one text fits all three.

use super::Dialect;
use std::sync::LazyLock;

macro_rules! user_columns {
    () => {
        "id, username, email, phone, nickname, avatar_url, password_hash, status, roles, created_at, updated_at"
    };
}

/// The statements of one dialect.
#[derive(Debug)]
pub struct Queries {
    pub ping: &'static str,
    pub insert_user: &'static str,
    pub user_by_id: &'static str,
    pub user_by_username_key: &'static str,
    pub user_by_email_key: &'static str,
    pub user_by_phone: &'static str,
    pub taken_keys: &'static str,
    pub update_profile: &'static str,
    pub update_password_hash: &'static str,
    pub insert_session: &'static str,
    pub insert_refresh_token: &'static str,
    pub revoke_other_sessions: &'static str,
    pub live_sessions: &'static str,
}

const PORTABLE: Queries = Queries {
    ping: "SELECT 1",
    insert_user: "INSERT INTO users (id, username, username_key, email, email_key, phone, password_hash, \
                  status, roles, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
    user_by_id: concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?"),
    user_by_username_key: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE username_key = ?"
    ),
    user_by_email_key: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email_key = ?"
    ),
    user_by_phone: concat!("SELECT ", user_columns!(), " FROM users WHERE phone = ?"),
    taken_keys: "SELECT username_key, email_key, phone FROM users \
                 WHERE username_key = ? OR email_key = ? OR phone = ? LIMIT 3",
    // One statement, so two concurrent edits of different fields cannot undo each other.
    update_profile: "UPDATE users SET \
                     username = CASE WHEN ? THEN ? ELSE username END, \
                     username_key = CASE WHEN ? THEN ? ELSE username_key END, \
                     email = CASE WHEN ? THEN ? ELSE email END, \
                     email_key = CASE WHEN ? THEN ? ELSE email_key END, \
                     phone = CASE WHEN ? THEN ? ELSE phone END, \
                     nickname = CASE WHEN ? THEN ? ELSE nickname END, \
                     avatar_url = CASE WHEN ? THEN ? ELSE avatar_url END, \
                     updated_at = ? \
                     WHERE id = ?",
    update_password_hash: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
    insert_session: "INSERT INTO sessions (id, user_id, ip, user_agent, created_at, last_used_at, expires_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
    insert_refresh_token: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
                           VALUES (?, ?, ?, ?)",
    revoke_other_sessions: "UPDATE sessions SET revoked_at = ? \
                            WHERE user_id = ? AND id <> ? AND revoked_at IS NULL",
    live_sessions: "SELECT id, user_id, ip, user_agent, created_at, last_used_at, expires_at FROM sessions \
                    WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY id DESC",
};

static POSTGRES: LazyLock<Queries> = LazyLock::new(|| {
    let pg = |sql: &'static str| -> &'static str {
        Box::leak(numbered_placeholders(sql).into_boxed_str())
    };
    Queries {
        ping: pg(PORTABLE.ping),
        insert_user: pg(PORTABLE.insert_user),
        user_by_id: pg(PORTABLE.user_by_id),
        user_by_username_key: pg(PORTABLE.user_by_username_key),
        user_by_email_key: pg(PORTABLE.user_by_email_key),
        user_by_phone: pg(PORTABLE.user_by_phone),
        taken_keys: pg(PORTABLE.taken_keys),
        update_profile: pg(PORTABLE.update_profile),
        update_password_hash: pg(PORTABLE.update_password_hash),
        insert_session: pg(PORTABLE.insert_session),
        insert_refresh_token: pg(PORTABLE.insert_refresh_token),
        revoke_other_sessions: pg(PORTABLE.revoke_other_sessions),
        live_sessions: pg(PORTABLE.live_sessions),
    }
});

/// The statements for `dialect`.
pub fn for_dialect(dialect: Dialect) -> &'static Queries {
    match dialect {
        Dialect::Sqlite | Dialect::MySql => &PORTABLE,
        Dialect::Postgres => &POSTGRES,
    }
}

/// Rewrites `?` placeholders as `$1, $2, …` (our statements have no `?` inside literals).
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_numbered_placeholders() {
        assert_eq!(
            numbered_placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        let pg = for_dialect(Dialect::Postgres);
        assert!(!pg.update_profile.contains('?'));
        assert!(pg.update_profile.contains("$16"));
    }
}
