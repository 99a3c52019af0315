//! How HTTP chooses the answer's language and the envelope's short `message`: Chinese when the
//! client's highest-weighted `Accept-Language` entry is `zh` or `zh-*`, English otherwise. The
//! words themselves are in `catalog`; they follow the seed documents where those have one
//! (注册成功, 登录成功, 请求参数错误, 认证失败, 用户名或密码错误, …).

use crate::catalog::{Lang, status_text};
use axum::http::StatusCode;

/// Picks the language from an `Accept-Language` header value. Ties keep the first listed.
pub fn lang_from_accept_language(header: Option<&str>) -> Lang {
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

/// The short `message` for a status.
pub fn status_message(status: StatusCode, lang: Lang) -> &'static str {
    let (en, zh) = status_text(status.as_u16());
    lang.pick(en, zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_weighted_language_decides() {
        assert_eq!(lang_from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(lang_from_accept_language(Some("zh")), Lang::Zh);
        assert_eq!(lang_from_accept_language(Some("zh-TW")), Lang::Zh);
        assert_eq!(lang_from_accept_language(Some("en-US,zh;q=0.9")), Lang::En);
        assert_eq!(lang_from_accept_language(Some("en;q=0.5, zh;q=0.8")), Lang::Zh);
        assert_eq!(lang_from_accept_language(Some("fr-FR")), Lang::En);
        assert_eq!(lang_from_accept_language(Some("*")), Lang::En);
        assert_eq!(lang_from_accept_language(Some("zh;q=0")), Lang::En);
        assert_eq!(lang_from_accept_language(None), Lang::En);
        assert_eq!(lang_from_accept_language(Some("zhx")), Lang::En);
    }
}
