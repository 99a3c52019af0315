//! WeChat: the HTTP client, the shared app access token, legacy data decryption, and the
//! signed OAuth state. The domain's sign-in flows (`domain::wechat`) use these; nothing else
//! talks to WeChat.

pub mod client;
pub mod decrypt;
pub mod state;
pub mod token;

use crate::secret::SecretString;
use client::WechatClient;
use state::StateSigner;
use token::AccessTokens;

/// The Mini Program's credentials and its shared access token.
#[derive(Debug)]
pub struct MiniProgram {
    /// appid.
    pub appid: String,
    /// App secret.
    pub secret: SecretString,
    /// The shared app access token.
    pub tokens: AccessTokens,
}

/// The website (open platform) app's credentials and allowed redirects.
#[derive(Debug)]
pub struct Website {
    /// appid.
    pub appid: String,
    /// App secret.
    pub secret: SecretString,
    /// Allowed `redirect_uri` prefixes.
    pub redirects: Vec<url::Url>,
}

/// Everything WeChat-related a node holds.
#[derive(Debug)]
pub struct Wechat {
    /// The API client.
    pub client: WechatClient,
    /// The Mini Program, when configured.
    pub mini_program: Option<MiniProgram>,
    /// The website app, when configured.
    pub website: Option<Website>,
    /// Signs OAuth states.
    pub states: StateSigner,
    /// Base of the authorize/QR page.
    pub open_base: String,
    /// This service's external base URL (for the callback URL).
    pub public_url: String,
}

/// Whether `candidate` is allowed by an entry: same scheme, host and port, and the entry's
/// path a prefix of the candidate's at a `/` boundary.
pub fn redirect_allowed(allowed: &[url::Url], candidate: &str) -> bool {
    let Ok(candidate) = url::Url::parse(candidate) else {
        return false;
    };
    if !matches!(candidate.scheme(), "http" | "https") || candidate.username() != "" || candidate.password().is_some() {
        return false;
    }
    allowed.iter().any(|entry| {
        let same_origin = entry.scheme() == candidate.scheme()
            && entry.host_str() == candidate.host_str()
            && entry.port_or_known_default() == candidate.port_or_known_default();
        let prefix = entry.path().trim_end_matches('/');
        let path = candidate.path();
        same_origin && (prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_must_match_an_entry_at_a_path_boundary() {
        let allowed = vec![url::Url::parse("https://app.example.com/auth").unwrap()];
        assert!(redirect_allowed(&allowed, "https://app.example.com/auth"));
        assert!(redirect_allowed(&allowed, "https://app.example.com/auth/done?x=1"));
        assert!(!redirect_allowed(&allowed, "https://app.example.com/authx"));
        assert!(!redirect_allowed(&allowed, "https://app.example.com:8443/auth"));
        assert!(!redirect_allowed(&allowed, "http://app.example.com/auth"));
        assert!(!redirect_allowed(&allowed, "https://evil.example.com/auth"));
        assert!(!redirect_allowed(&allowed, "https://app.example.com.evil.com/auth"));
        assert!(!redirect_allowed(&allowed, "https://user@app.example.com/auth"));
        assert!(!redirect_allowed(&allowed, "javascript:alert(1)"));
    }
}
