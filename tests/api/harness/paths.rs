//! The API's paths in one place (contract section 4), so a test names the endpoint it calls
//! instead of spelling it. Tests whose point is the path itself (routing, 404/405, the OpenAPI
//! list, the page) keep their literals.

use std::fmt::Display;

/// `POST`: create an account.
pub const REGISTER: &str = "/api/v1/auth/register";
/// `POST`: sign in with a password.
pub const LOGIN: &str = "/api/v1/auth/login";
/// `POST`: finish a sign-in with a second factor.
pub const MFA: &str = "/api/v1/auth/mfa";
/// `POST`: trade a refresh token for a new pair.
pub const REFRESH: &str = "/api/v1/auth/refresh";
/// `POST`: end this session (or all of them).
pub const LOGOUT: &str = "/api/v1/auth/logout";
/// `POST`: sign in with a Mini Program code.
pub const WECHAT_MINIPROGRAM: &str = "/api/v1/auth/wechat/miniprogram";
/// `GET`: start the website QR sign-in.
pub const WECHAT_AUTHORIZE: &str = "/api/v1/auth/wechat/oauth/authorize";
/// `GET`: where WeChat sends the browser back.
pub const WECHAT_CALLBACK: &str = "/api/v1/auth/wechat/oauth/callback";

/// `GET`/`PUT`: the signed-in user's profile.
pub const PROFILE: &str = "/api/v1/users/profile";
/// `PUT`: change (or set) the password.
pub const PASSWORD: &str = "/api/v1/users/password";
/// `GET`: the user's live sessions.
pub const SESSIONS: &str = "/api/v1/users/sessions";
/// `POST`: start a TOTP setup.
pub const TOTP_SETUP: &str = "/api/v1/users/mfa/totp/setup";
/// `POST`: confirm TOTP with a code.
pub const TOTP_ENABLE: &str = "/api/v1/users/mfa/totp/enable";
/// `POST`: switch TOTP off.
pub const TOTP_DISABLE: &str = "/api/v1/users/mfa/totp/disable";
/// `DELETE`: unbind WeChat.
pub const WECHAT: &str = "/api/v1/users/wechat";
/// `POST`: bind a WeChat identity.
pub const WECHAT_BIND: &str = "/api/v1/users/wechat/bind";
/// `POST`: take the phone number from WeChat.
pub const WECHAT_PHONE: &str = "/api/v1/users/wechat/phone";

/// `GET`: list and search users (administrators).
pub const ADMIN_USERS: &str = "/api/v1/admin/users";
/// `GET`: the audit log (administrators).
pub const ADMIN_AUDIT: &str = "/api/v1/admin/audit";

/// `GET`: liveness.
pub const HEALTH: &str = "/healthz";
/// `GET`: readiness (database, Redis).
pub const READY: &str = "/readyz";
/// `GET`: the public signing keys.
pub const JWKS: &str = "/.well-known/jwks.json";

/// `DELETE`: one of the user's own sessions.
pub fn session(id: impl Display) -> String {
    format!("{SESSIONS}/{id}")
}

/// `GET`/`PATCH`: one user (administrators).
pub fn admin_user(id: impl Display) -> String {
    format!("{ADMIN_USERS}/{id}")
}

/// `DELETE`: every session of one user (administrators).
pub fn admin_user_sessions(id: impl Display) -> String {
    format!("{ADMIN_USERS}/{id}/sessions")
}
