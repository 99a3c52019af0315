//! Every SQL statement, written once with `?` placeholders. PostgreSQL gets the same text
//! with `$1, $2, …`, rewritten once at start-up (never per request). The schema keeps to
//! types all three dialects share (BIGINT, SMALLINT, text), so one text fits all three.

use super::Dialect;
use std::sync::LazyLock;

macro_rules! user_columns {
    () => {
        "id, username, email, phone, nickname, avatar_url, password_hash, status, roles, created_at, updated_at, \
         email_verified, phone_verified, \
         (SELECT COUNT(*) FROM wechat_identities w WHERE w.user_id = users.id) AS wechat_identities, \
         (SELECT COUNT(*) FROM mfa_totp t WHERE t.user_id = users.id AND t.enabled_at IS NOT NULL) AS mfa_enabled"
    };
}

/// Declares the statement table and a field-by-field `map`, so adding a statement is one line
/// here plus its text below.
macro_rules! statements {
    ($($name:ident),* $(,)?) => {
        /// The statements of one dialect.
        #[derive(Debug)]
        pub struct Queries {
            $(pub $name: &'static str,)*
        }

        impl Queries {
            fn map(&self, f: impl Fn(&'static str) -> &'static str) -> Queries {
                Queries { $($name: f(self.$name),)* }
            }
        }
    };
}

statements!(
    ping,
    insert_user,
    user_by_id,
    user_by_username_key,
    user_by_email_key,
    user_by_phone,
    taken_keys,
    update_profile,
    update_password_hash,
    upgrade_password_hash,
    bcrypt_hash_costs,
    admin_user_for_update,
    admin_update_user,
    admin_count_users,
    admin_users_page,
    session_guard,
    insert_session,
    insert_refresh_token,
    live_sessions,
    refresh_lookup,
    mark_refresh_used,
    forget_successors,
    extend_session,
    revoke_session,
    revoke_session_of_user,
    revoke_user_sessions,
    revoke_user_sessions_except,
    unrevoked_session_ids,
    revoked_since,
    updated_since,
    insert_signing_key,
    signing_keys,
    wechat_identity,
    wechat_user_by_unionid,
    insert_wechat_identity,
    update_wechat_identity,
    wechat_identity_of_user,
    delete_wechat_identities,
    update_phone,
    use_oauth_state,
    prune_oauth_states,
    insert_audit,
    audit_count,
    audit_page,
    mfa_totp_of_user,
    delete_pending_totp,
    insert_totp,
    enable_totp,
    accept_totp_step,
    delete_enabled_totp,
    delete_totp,
    delete_recovery_codes,
    insert_recovery_code,
    use_recovery_code,
    insert_mfa_challenge,
    mfa_challenge,
    use_mfa_challenge,
    delete_user_mfa_challenges,
    delete_mfa_challenge,
    prune_mfa_challenges,
    touch_user,
    lock_code_target,
    recent_code_sends,
    insert_code_send,
    delete_code_send,
    prune_code_sends,
    upsert_code,
    delete_code_if,
    use_code,
    count_wrong_code,
    code_state,
    email_holder,
    phone_holder,
    clear_email,
    clear_phone,
    prove_email,
    prove_phone,
    reauth_session,
    retire_session_refresh_tokens,
);

/// SQLite's statements, and the base of the others.
const PORTABLE: Queries = Queries {
    ping: "SELECT 1",
    insert_user: "INSERT INTO users (id, username, username_key, email, email_key, phone, password_hash, \
                  status, roles, created_at, updated_at, email_verified, phone_verified) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
    user_by_id: concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?"),
    user_by_username_key: concat!("SELECT ", user_columns!(), " FROM users WHERE username_key = ?"),
    user_by_email_key: concat!("SELECT ", user_columns!(), " FROM users WHERE email_key = ?"),
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
                     email_verified = CASE WHEN ? THEN ? ELSE email_verified END, \
                     phone_verified = CASE WHEN ? THEN ? ELSE phone_verified END, \
                     nickname = CASE WHEN ? THEN ? ELSE nickname END, \
                     avatar_url = CASE WHEN ? THEN ? ELSE avatar_url END, \
                     updated_at = ? \
                     WHERE id = ?",
    update_password_hash: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
    // Only if the hash is still the one the password was checked against: a password change
    // that landed meanwhile must not be overwritten. Not a profile change: updated_at stays.
    upgrade_password_hash: "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
    // `$2b$12$`: a bcrypt hash's variant and cost are its first seven characters. A full scan,
    // run at start and every few minutes, never per request.
    bcrypt_hash_costs: "SELECT SUBSTR(password_hash, 1, 7) AS prefix, COUNT(*) AS hashes FROM users \
                        WHERE password_hash LIKE ? GROUP BY SUBSTR(password_hash, 1, 7)",
    // Read in the session's transaction; SQLite's BEGIN IMMEDIATE serialises it with every
    // writer, MySQL and PostgreSQL take a shared row lock (below).
    session_guard: "SELECT password_hash, status FROM users WHERE id = ?",
    insert_session: "INSERT INTO sessions (id, user_id, ip, user_agent, created_at, last_used_at, expires_at, \
                     auth_time, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    insert_refresh_token: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
                           VALUES (?, ?, ?, ?)",
    // SQLite serialises writers with BEGIN IMMEDIATE; MySQL and PostgreSQL lock the row (below).
    admin_user_for_update: "SELECT status, roles FROM users WHERE id = ?",
    admin_update_user: "UPDATE users SET status = ?, roles = ?, updated_at = ? WHERE id = ?",
    // `q` is one LIKE pattern (lower case, `!`-escaped) tried on the username key, the email
    // key and the phone; a null parameter skips that filter. The explicit ESCAPE makes `%`
    // and `_` literal the same way on all three dialects (MySQL's default escape is `\`).
    admin_count_users: "SELECT COUNT(*) FROM users WHERE \
                        (? IS NULL OR username_key LIKE ? ESCAPE '!' OR email_key LIKE ? ESCAPE '!' \
                        OR phone LIKE ? ESCAPE '!') AND (? IS NULL OR status = ?)",
    admin_users_page: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE ",
        "(? IS NULL OR username_key LIKE ? ESCAPE '!' OR email_key LIKE ? ESCAPE '!' ",
        "OR phone LIKE ? ESCAPE '!') AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ? OFFSET ?"
    ),
    live_sessions: "SELECT id, user_id, ip, user_agent, created_at, last_used_at, expires_at FROM sessions \
                    WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY id DESC",
    // SQLite serialises writers with BEGIN IMMEDIATE instead of row locks.
    refresh_lookup: "SELECT rt.session_id, rt.expires_at, rt.used_at, s.user_id, s.revoked_at, s.auth_time, s.amr, s.created_at, rt.successor, s.expires_at \
                     FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = ?",
    mark_refresh_used: "UPDATE refresh_tokens SET used_at = ?, successor = ? WHERE token_hash = ? AND used_at IS NULL",
    // Successors are kept only for the grace.
    forget_successors: "UPDATE refresh_tokens SET successor = NULL WHERE successor IS NOT NULL AND used_at < ?",
    extend_session: "UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ?",
    revoke_session: "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    revoke_session_of_user: "UPDATE sessions SET revoked_at = ? \
                             WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?",
    revoke_user_sessions: "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
    revoke_user_sessions_except: "UPDATE sessions SET revoked_at = ? \
                                  WHERE user_id = ? AND id <> ? AND revoked_at IS NULL",
    unrevoked_session_ids: "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL",
    revoked_since: "SELECT id FROM sessions WHERE revoked_at > ?",
    updated_since: "SELECT id, updated_at FROM users WHERE updated_at > ?",
    wechat_identity: "SELECT user_id, unionid FROM wechat_identities WHERE appid = ? AND openid = ?",
    wechat_user_by_unionid: "SELECT user_id FROM wechat_identities WHERE unionid = ? ORDER BY created_at LIMIT 1",
    insert_wechat_identity: "INSERT INTO wechat_identities (appid, openid, unionid, user_id, session_key, created_at, updated_at) \
                             VALUES (?, ?, ?, ?, ?, ?, ?)",
    update_wechat_identity: "UPDATE wechat_identities SET unionid = COALESCE(?, unionid), \
                             session_key = COALESCE(?, session_key), updated_at = ? WHERE appid = ? AND openid = ?",
    wechat_identity_of_user: "SELECT openid, session_key FROM wechat_identities WHERE user_id = ? AND appid = ?",
    delete_wechat_identities: "DELETE FROM wechat_identities WHERE user_id = ?",
    // A phone from WeChat's phone-number API is proved by WeChat.
    update_phone: "UPDATE users SET phone = ?, phone_verified = 1, updated_at = ? WHERE id = ?",
    use_oauth_state: "INSERT INTO oauth_states (nonce, expires_at) VALUES (?, ?)",
    prune_oauth_states: "DELETE FROM oauth_states WHERE expires_at < ?",
    insert_audit: "INSERT INTO audit_log (id, user_id, actor_id, event, ip, user_agent, at, detail) \
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    // Filters are optional: a null parameter matches every row.
    audit_count: "SELECT COUNT(*) FROM audit_log WHERE (? IS NULL OR user_id = ?) AND (? IS NULL OR event = ?)",
    audit_page: "SELECT id, user_id, actor_id, event, ip, user_agent, at, detail FROM audit_log \
                 WHERE (? IS NULL OR user_id = ?) AND (? IS NULL OR event = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
    mfa_totp_of_user: "SELECT secret, enabled_at, last_step FROM mfa_totp WHERE user_id = ?",
    delete_pending_totp: "DELETE FROM mfa_totp WHERE user_id = ? AND enabled_at IS NULL",
    insert_totp: "INSERT INTO mfa_totp (user_id, secret, enabled_at, last_step, created_at) VALUES (?, ?, NULL, 0, ?)",
    // The secret is compared so a setup replaced meanwhile (by another request) is not the one
    // that gets enabled; `last_step < ?` makes the enabling code count as used.
    enable_totp: "UPDATE mfa_totp SET enabled_at = ?, last_step = ? \
                  WHERE user_id = ? AND secret = ? AND enabled_at IS NULL AND last_step < ?",
    // Replay protection on every node: a step is accepted only if it is newer than the last.
    accept_totp_step: "UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND enabled_at IS NOT NULL AND last_step < ?",
    delete_enabled_totp: "DELETE FROM mfa_totp WHERE user_id = ? AND enabled_at IS NOT NULL",
    delete_totp: "DELETE FROM mfa_totp WHERE user_id = ?",
    delete_recovery_codes: "DELETE FROM mfa_recovery_codes WHERE user_id = ?",
    insert_recovery_code: "INSERT INTO mfa_recovery_codes (user_id, code_hash, used_at) VALUES (?, ?, NULL)",
    use_recovery_code: "UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
    insert_mfa_challenge: "INSERT INTO mfa_challenges (token_hash, user_id, identifier, ip, user_agent, created_at, expires_at) \
                           VALUES (?, ?, ?, ?, ?, ?, ?)",
    mfa_challenge: "SELECT user_id, identifier FROM mfa_challenges \
                    WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    // Exactly one of two racing completions affects the row.
    use_mfa_challenge: "UPDATE mfa_challenges SET used_at = ? \
                        WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    delete_user_mfa_challenges: "DELETE FROM mfa_challenges WHERE user_id = ?",
    delete_mfa_challenge: "DELETE FROM mfa_challenges WHERE token_hash = ?",
    prune_mfa_challenges: "DELETE FROM mfa_challenges WHERE expires_at < ?",
    // A change shown in the user object (`mfa_enabled`) that no users column holds: moving
    // `updated_at` lets every node's database feed drop its cached profile.
    touch_user: "UPDATE users SET updated_at = ? WHERE id = ?",
    // One lock row per target: every send to it locks the row first (SQLite: BEGIN IMMEDIATE),
    // so the resend interval and the daily cap cannot both be passed by two nodes at once.
    // Made if missing and write-locked in one statement (an upsert locks the row it touches;
    // SQLite's BEGIN IMMEDIATE has serialised the writers already).
    lock_code_target: "INSERT INTO code_targets (channel, target) VALUES (?, ?) \
                       ON CONFLICT (channel, target) DO UPDATE SET target = excluded.target",
    recent_code_sends: "SELECT sent_at FROM code_sends WHERE channel = ? AND target = ? AND sent_at > ? \
                        ORDER BY sent_at",
    insert_code_send: "INSERT INTO code_sends (id, channel, target, sent_at) VALUES (?, ?, ?, ?)",
    delete_code_send: "DELETE FROM code_sends WHERE id = ?",
    prune_code_sends: "DELETE FROM code_sends WHERE sent_at < ?",
    // The new code replaces the target's previous one of its purpose, tries and use reset.
    upsert_code: "INSERT INTO codes (channel, target, purpose, code_hash, user_id, created_at, expires_at, tries) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (channel, target, purpose) DO UPDATE SET \
                  code_hash = excluded.code_hash, user_id = excluded.user_id, created_at = excluded.created_at, \
                  expires_at = excluded.expires_at, tries = 0, used_at = NULL",
    // Only the code this send stored: a newer send's code stays.
    delete_code_if: "DELETE FROM codes WHERE channel = ? AND target = ? AND purpose = ? AND code_hash = ?",
    // Single use on every node: exactly one of two racing uses affects the row. A code used
    // up its tries (`tries < ?`) fails even when right.
    use_code: "UPDATE codes SET used_at = ? WHERE channel = ? AND target = ? AND purpose = ? AND code_hash = ? \
               AND COALESCE(user_id, 0) = ? AND used_at IS NULL AND expires_at > ? AND tries < ?",
    count_wrong_code: "UPDATE codes SET tries = tries + 1 WHERE channel = ? AND target = ? AND purpose = ? \
                       AND used_at IS NULL AND expires_at > ? AND tries < ?",
    code_state: "SELECT expires_at, tries, used_at FROM codes WHERE channel = ? AND target = ? AND purpose = ?",
    // Who else holds an identifier a user has just proved (locked where the dialect can).
    email_holder: "SELECT id, email_verified FROM users WHERE email_key = ? AND id <> ?",
    phone_holder: "SELECT id, phone_verified FROM users WHERE phone = ? AND id <> ?",
    clear_email: "UPDATE users SET email = NULL, email_key = NULL, email_verified = 0, updated_at = ? WHERE id = ?",
    clear_phone: "UPDATE users SET phone = NULL, phone_verified = 0, updated_at = ? WHERE id = ?",
    // Only while the user still has that identifier (a change meanwhile makes the code stale).
    prove_email: "UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ? AND email_key = ? \
                  AND email_verified = 0",
    prove_phone: "UPDATE users SET phone_verified = 1, updated_at = ? WHERE id = ? AND phone = ? \
                  AND phone_verified = 0",
    // A fresh proof for a live session of this user: its time and how.
    reauth_session: "UPDATE sessions SET auth_time = ?, amr = ?, last_used_at = ?, expires_at = ? \
                     WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?",
    // As a refresh retires the token it rotates: presented again, it is reuse.
    retire_session_refresh_tokens: "UPDATE refresh_tokens SET used_at = ? WHERE session_id = ? AND used_at IS NULL",
    insert_signing_key: "INSERT INTO signing_keys (kid, algorithm, public_key, private_key, created_at) \
                         VALUES (?, ?, ?, ?, ?)",
    signing_keys: "SELECT kid, algorithm, public_key, private_key, created_at FROM signing_keys \
                   ORDER BY created_at DESC, kid DESC",
};

/// MySQL/MariaDB: the same, with a row lock where a refresh token is read for rotation, so two
/// refreshes racing with one token queue up and exactly one rotates it, and where an
/// administrative change reads a user's status and roles, so two changes cannot undo each other.
static MYSQL: LazyLock<Queries> = LazyLock::new(|| Queries {
    // MariaDB has no FOR SHARE; MySQL 8 still accepts this spelling.
    session_guard: "SELECT password_hash, status FROM users WHERE id = ? LOCK IN SHARE MODE",
    admin_user_for_update: "SELECT status, roles FROM users WHERE id = ? FOR UPDATE",
    lock_code_target: "INSERT INTO code_targets (channel, target) VALUES (?, ?) \
                       ON DUPLICATE KEY UPDATE target = VALUES(target)",
    upsert_code: "INSERT INTO codes (channel, target, purpose, code_hash, user_id, created_at, expires_at, tries) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON DUPLICATE KEY UPDATE \
                  code_hash = VALUES(code_hash), user_id = VALUES(user_id), created_at = VALUES(created_at), \
                  expires_at = VALUES(expires_at), tries = 0, used_at = NULL",
    email_holder: "SELECT id, email_verified FROM users WHERE email_key = ? AND id <> ? FOR UPDATE",
    phone_holder: "SELECT id, phone_verified FROM users WHERE phone = ? AND id <> ? FOR UPDATE",
    refresh_lookup: concat!(
        "SELECT rt.session_id, rt.expires_at, rt.used_at, s.user_id, s.revoked_at, s.auth_time, s.amr, s.created_at, ",
        "rt.successor, s.expires_at ",
        "FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = ? FOR UPDATE"
    ),
    ..PORTABLE.map(|sql| sql)
});

/// PostgreSQL: MySQL's statements with `$1, $2, …` placeholders, and its own spelling of a
/// shared row lock.
static POSTGRES: LazyLock<Queries> = LazyLock::new(|| Queries {
    // Kept for completeness: PostgreSQL's password sign-ins use `POSTGRES_PASSWORD_SESSION`.
    session_guard: "SELECT password_hash, status FROM users WHERE id = $1 FOR SHARE",
    lock_code_target: "INSERT INTO code_targets (channel, target) VALUES ($1, $2) \
                       ON CONFLICT (channel, target) DO UPDATE SET target = excluded.target",
    upsert_code: "INSERT INTO codes (channel, target, purpose, code_hash, user_id, created_at, expires_at, tries) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, 0) ON CONFLICT (channel, target, purpose) DO UPDATE SET \
                  code_hash = excluded.code_hash, user_id = excluded.user_id, created_at = excluded.created_at, \
                  expires_at = excluded.expires_at, tries = 0, used_at = NULL",
    ..MYSQL.map(|sql| Box::leak(numbered_placeholders(sql).into_boxed_str()))
});

/// PostgreSQL only: a password sign-in's whole write as one statement, so it costs one round
/// trip instead of seven (BEGIN, the guard read, three inserts, COMMIT). `guard` takes the
/// shared row lock of `session_guard` and yields a row only while the checked hash is the
/// user's; the inserts run only for an active user. PostgreSQL runs every data-modifying `WITH`
/// part to completion and checks the foreign keys at the end of the statement, in its one
/// implicit transaction. Answers `(status, sessions created)`, or no row for a changed hash.
/// `$1` session id, `$2` user id, `$3` ip, `$4` user agent, `$5` now, `$6` expiry, `$7` refresh
/// token hash, `$8` checked password hash, `$9` active status, `$10`–`$17` the audit entry
/// (all null for none), `$18` the session's `amr`.
pub const POSTGRES_PASSWORD_SESSION: &str = "\
    WITH guard AS (SELECT status FROM users WHERE id = $2 AND password_hash = $8 FOR SHARE), \
    session AS (INSERT INTO sessions (id, user_id, ip, user_agent, created_at, last_used_at, expires_at, auth_time, amr) \
        SELECT $1, $2, $3, $4, $5, $5, $6, $5, $18 FROM guard WHERE status = $9 RETURNING id), \
    refresh AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
        SELECT $7, id, $5, $6 FROM session), \
    audit AS (INSERT INTO audit_log (id, user_id, actor_id, event, ip, user_agent, at, detail) \
        SELECT $10, $11, $12, $13, $14, $15, $16, $17 FROM session WHERE $10 IS NOT NULL) \
    SELECT status, (SELECT COUNT(*) FROM session) FROM guard";

/// The statements for `dialect`.
pub fn for_dialect(dialect: Dialect) -> &'static Queries {
    match dialect {
        Dialect::Sqlite => &PORTABLE,
        Dialect::MySql => &MYSQL,
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
        assert_eq!(numbered_placeholders("a = ? AND b = ?"), "a = $1 AND b = $2");
        let pg = for_dialect(Dialect::Postgres);
        assert!(!pg.update_profile.contains('?'));
        assert!(pg.update_profile.contains("$16"));
    }
}
