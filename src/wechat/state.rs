//! The OAuth `state` of website QR login: signed, short-lived, bound to the `redirect_uri`,
//! and (checked by the caller against the database) single-use.
//!
//! Form: hex of nonce (16 bytes) ‖ expiry (Unix seconds, 8 bytes) ‖ HMAC-SHA256 tag truncated
//! to 16 bytes over nonce ‖ expiry ‖ redirect_uri. Hex keeps it within WeChat's 128-character
//! `[a-zA-Z0-9]` limit. The `redirect_uri` itself travels in the callback URL; changing it
//! breaks the tag.

use aws_lc_rs::hmac;

const NONCE: usize = 16;
const EXPIRY: usize = 8;
const TAG: usize = 16;

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
        let derived = hmac::sign(&derive, b"hufu oauth state v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    fn tag(&self, nonce_and_expiry: &[u8], redirect_uri: &str) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(nonce_and_expiry);
        context.update(redirect_uri.as_bytes());
        context.sign().as_ref()[..TAG].to_vec()
    }

    /// A new state for `redirect_uri` (empty when none) expiring at `expires_at`.
    pub fn sign(&self, redirect_uri: &str, expires_at: i64) -> String {
        let mut bytes = rand::random::<[u8; NONCE]>().to_vec();
        bytes.extend_from_slice(&expires_at.to_be_bytes());
        let tag = self.tag(&bytes, redirect_uri);
        bytes.extend_from_slice(&tag);
        hex(&bytes)
    }

    /// Checks a state's tag (for this `redirect_uri`) and expiry; `None` when forged, damaged,
    /// for another redirect_uri, or expired.
    pub fn verify(&self, state: &str, redirect_uri: &str, now: i64) -> Option<VerifiedState> {
        let bytes = unhex(state).filter(|b| b.len() == NONCE + EXPIRY + TAG)?;
        let (body, tag) = bytes.split_at(NONCE + EXPIRY);
        let expected = self.tag(body, redirect_uri);
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
        let state = signer.sign("https://app.example.com/cb", 1_000);
        assert!(state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
        let verified = signer.verify(&state, "https://app.example.com/cb", 999).unwrap();
        assert_eq!(verified.expires_at, 1_000);
        assert!(signer.verify(&state, "https://evil.example.com/cb", 999).is_none());
        assert!(
            signer.verify(&state, "https://app.example.com/cb", 1_000).is_none(),
            "expired"
        );
        assert!(
            StateSigner::new(&[6u8; 32])
                .verify(&state, "https://app.example.com/cb", 999)
                .is_none()
        );
        let mut forged = state.clone().into_bytes();
        forged[3] = if forged[3] == b'a' { b'b' } else { b'a' };
        assert!(
            signer
                .verify(&String::from_utf8(forged).unwrap(), "https://app.example.com/cb", 999)
                .is_none()
        );
        assert!(signer.verify("nonsense", "", 0).is_none());
        assert_ne!(signer.sign("", 1_000), signer.sign("", 1_000), "fresh nonce each time");
    }
}
