//! The OAuth `state` of website QR login: signed, short-lived, bound to the `redirect_uri` and
//! to the browser that started the flow, and (checked by the caller against the database)
//! single-use.
//!
//! Form: hex of nonce (16 bytes) ‖ expiry (Unix seconds, 8 bytes) ‖ HMAC-SHA256 tag truncated
//! to 16 bytes over nonce ‖ expiry ‖ redirect_uri ‖ 0 ‖ browser nonce. Hex keeps it within
//! WeChat's 128-character `[a-zA-Z0-9]` limit. The `redirect_uri` itself travels in the
//! callback URL; changing it breaks the tag. The browser nonce travels in a cookie set by the
//! authorize step: a state carried to another browser (login CSRF: an attacker signing the
//! victim into the attacker's account) arrives without it and fails the tag.

use aws_lc_rs::hmac;

const NONCE: usize = 16;
const EXPIRY: usize = 8;
const TAG: usize = 16;
/// Random bytes of a browser nonce (the cookie holds their 32 hex characters).
const BROWSER_NONCE: usize = 16;

/// A fresh browser nonce for the authorize cookie: 32 lower-case hex characters.
pub fn browser_nonce() -> String {
    hex(&rand::random::<[u8; BROWSER_NONCE]>())
}

/// Whether `text` has the shape of a browser nonce (so a cookie value can be reused as one).
pub fn is_browser_nonce(text: &str) -> bool {
    text.len() == 2 * BROWSER_NONCE && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A checked state: its nonce (to mark used) and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    /// Hex nonce, the key of the single-use record.
    pub nonce: String,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// Signs and checks states with a key derived from the deployment's encryption key.
pub struct StateSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner([redacted])")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl StateSigner {
    /// A signer whose key is derived from `encryption_key` (so every node agrees on it).
    pub fn new(encryption_key: &[u8; 32]) -> Self {
        let derive = hmac::Key::new(hmac::HMAC_SHA256, encryption_key);
        // v2: the tag also covers the browser nonce, so v1 states (none bound) never verify.
        let derived = hmac::sign(&derive, b"hufu oauth state v2");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    fn tag(&self, nonce_and_expiry: &[u8], redirect_uri: &str, browser: &str) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(nonce_and_expiry);
        context.update(redirect_uri.as_bytes());
        // A URL never holds a NUL byte, so the two variable parts cannot run into each other.
        context.update(&[0]);
        context.update(browser.as_bytes());
        context.sign().as_ref()[..TAG].to_vec()
    }

    /// A new state for `redirect_uri` (empty when none) and the browser holding `browser`
    /// (its cookie's nonce), expiring at `expires_at`.
    pub fn sign(&self, redirect_uri: &str, browser: &str, expires_at: i64) -> String {
        let mut bytes = rand::random::<[u8; NONCE]>().to_vec();
        bytes.extend_from_slice(&expires_at.to_be_bytes());
        let tag = self.tag(&bytes, redirect_uri, browser);
        bytes.extend_from_slice(&tag);
        hex(&bytes)
    }

    /// Checks a state's tag (for this `redirect_uri` and the browser nonce of the request's
    /// cookie) and expiry; `None` when forged, damaged, for another redirect_uri, from another
    /// browser (no or another cookie), or expired.
    pub fn verify(&self, state: &str, redirect_uri: &str, browser: Option<&str>, now: i64) -> Option<VerifiedState> {
        let browser = browser.filter(|b| is_browser_nonce(b))?;
        let bytes = unhex(state).filter(|b| b.len() == NONCE + EXPIRY + TAG)?;
        let (body, tag) = bytes.split_at(NONCE + EXPIRY);
        let expected = self.tag(body, redirect_uri, browser);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected, tag).is_err() {
            return None;
        }
        let expires_at = i64::from_be_bytes(body[NONCE..].try_into().ok()?);
        if now >= expires_at {
            return None;
        }
        Some(VerifiedState {
            nonce: hex(&body[..NONCE]),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_verifies_only_unchanged_for_its_redirect_uri_and_before_expiry() {
        let signer = StateSigner::new(&[5u8; 32]);
        let browser = browser_nonce();
        let b = Some(browser.as_str());
        let state = signer.sign("https://app.example.com/cb", &browser, 1_000);
        assert!(state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
        let verified = signer.verify(&state, "https://app.example.com/cb", b, 999).unwrap();
        assert_eq!(verified.expires_at, 1_000);
        assert!(signer.verify(&state, "https://evil.example.com/cb", b, 999).is_none());
        assert!(
            signer.verify(&state, "https://app.example.com/cb", b, 1_000).is_none(),
            "expired"
        );
        assert!(
            StateSigner::new(&[6u8; 32])
                .verify(&state, "https://app.example.com/cb", b, 999)
                .is_none()
        );
        let mut forged = state.clone().into_bytes();
        forged[3] = if forged[3] == b'a' { b'b' } else { b'a' };
        assert!(
            signer
                .verify(
                    &String::from_utf8(forged).unwrap(),
                    "https://app.example.com/cb",
                    b,
                    999
                )
                .is_none()
        );
        assert!(signer.verify("nonsense", "", b, 0).is_none());
        assert_ne!(
            signer.sign("", &browser, 1_000),
            signer.sign("", &browser, 1_000),
            "fresh nonce each time"
        );
    }

    #[test]
    fn login_csrf_a_state_carried_to_another_browser_does_not_verify() {
        let signer = StateSigner::new(&[5u8; 32]);
        let attacker = browser_nonce();
        let state = signer.sign("", &attacker, 1_000);
        assert!(signer.verify(&state, "", Some(&attacker), 999).is_some());
        assert!(signer.verify(&state, "", None, 999).is_none(), "no cookie");
        assert!(
            signer.verify(&state, "", Some(&browser_nonce()), 999).is_none(),
            "another cookie"
        );
        assert!(signer.verify(&state, "", Some(""), 999).is_none(), "an empty cookie");
        assert!(is_browser_nonce(&attacker) && !is_browser_nonce("x") && !is_browser_nonce(&attacker.to_uppercase()));
    }
}
