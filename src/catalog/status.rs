//! The short `message` of every envelope: the text of the status, or for some successes a
//! text that says more. Statuses are plain numbers here: this module knows no HTTP library.

use super::Lang;

/// The text of a status, `(en, zh)`; unknown statuses get a generic one.
pub fn status_text(status: u16) -> (&'static str, &'static str) {
    match status {
        200 => ("OK", "操作成功"),
        201 => ("Created", "创建成功"),
        400 => ("Bad Request", "请求参数错误"),
        401 => ("Unauthorized", "认证失败"),
        403 => ("Forbidden", "禁止访问"),
        404 => ("Not Found", "资源不存在"),
        405 => ("Method Not Allowed", "请求方法不允许"),
        408 => ("Request Timeout", "请求超时"),
        409 => ("Conflict", "资源冲突"),
        413 => ("Payload Too Large", "请求体过大"),
        415 => ("Unsupported Media Type", "不支持的媒体类型"),
        423 => ("Locked", "账户已锁定"),
        429 => ("Too Many Requests", "请求过于频繁"),
        500 => ("Internal Server Error", "服务器内部错误"),
        501 => ("Not Implemented", "功能未配置"),
        503 => ("Service Unavailable", "服务暂不可用"),
        504 => ("Gateway Timeout", "上游服务超时"),
        _ => ("Error", "错误"),
    }
}

/// Success messages that say more than the status does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// Plain success: the status message.
    Ok,
    /// Registration.
    Registered,
    /// Sign-in.
    LoggedIn,
    /// Profile updated.
    ProfileUpdated,
    /// Password changed.
    PasswordChanged,
    /// Tokens refreshed.
    Refreshed,
    /// Signed out.
    LoggedOut,
    /// Session revoked.
    SessionRevoked,
    /// A one-time code is on its way.
    CodeSent,
    /// A forgotten password was reset.
    PasswordReset,
    /// An email or phone was verified.
    Verified,
}

impl Success {
    /// The text `(en, zh)` of this success answered with `status`.
    pub fn text(self, status: u16) -> (&'static str, &'static str) {
        match self {
            Success::Ok => status_text(status),
            Success::Registered => ("Registered", "注册成功"),
            Success::LoggedIn => ("Logged in", "登录成功"),
            Success::ProfileUpdated => ("Profile updated", "资料已更新"),
            Success::PasswordChanged => ("Password changed", "密码已修改"),
            Success::Refreshed => ("Token refreshed", "刷新成功"),
            Success::LoggedOut => ("Logged out", "已退出登录"),
            Success::SessionRevoked => ("Session revoked", "会话已撤销"),
            Success::CodeSent => ("Code sent", "验证码已发送"),
            Success::PasswordReset => (
                "Password reset; sign in with the new password",
                "密码已重置，请使用新密码登录",
            ),
            Success::Verified => ("Verified", "验证成功"),
        }
    }

    /// The localized `message` of this success answered with `status`.
    pub fn message(self, status: u16, lang: Lang) -> &'static str {
        let (en, zh) = self.text(status);
        lang.pick(en, zh)
    }
}
