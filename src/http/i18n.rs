//! Response language: Chinese when the client's highest-weighted `Accept-Language` entry is
//! `zh` or `zh-*`, English otherwise. The wording follows the seed documents where they have
//! one (注册成功, 登录成功, 请求参数错误, 认证失败, 用户名或密码错误, …).

use axum::http::StatusCode;

/// The two languages hufu answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header value. Ties keep the first listed.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(&str, f32)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim();
            if tag.is_empty() {
                continue;
            }
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(_, q)| quality > q) {
                best = Some((tag, quality));
            }
        }
        match best {
            Some((tag, q)) if q > 0.0 => {
                let primary = tag.split('-').next().unwrap_or("");
                if primary.eq_ignore_ascii_case("zh") {
                    Lang::Zh
                } else {
                    Lang::En
                }
            }
            _ => Lang::En,
        }
    }

    /// Picks between an English and a Chinese text.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// The short `message` for a status.
pub fn status_message(status: StatusCode, lang: Lang) -> &'static str {
    let (en, zh) = match status.as_u16() {
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
    };
    lang.pick(en, zh)
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
}

impl Success {
    /// The localized `message`.
    pub fn message(self, status: StatusCode, lang: Lang) -> &'static str {
        match self {
            Success::Ok => status_message(status, lang),
            Success::Registered => lang.pick("Registered", "注册成功"),
            Success::LoggedIn => lang.pick("Logged in", "登录成功"),
            Success::ProfileUpdated => lang.pick("Profile updated", "资料已更新"),
            Success::PasswordChanged => lang.pick("Password changed", "密码已修改"),
            Success::Refreshed => lang.pick("Token refreshed", "刷新成功"),
            Success::LoggedOut => lang.pick("Logged out", "已退出登录"),
            Success::SessionRevoked => lang.pick("Session revoked", "会话已撤销"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_weighted_language_decides() {
        assert_eq!(Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("zh")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("zh-TW")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en-US,zh;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en;q=0.5, zh;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("fr-FR")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("*")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh;q=0")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zhx")), Lang::En);
    }
}
