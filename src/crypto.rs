//! Encryption of secrets at rest (EdDSA private keys, WeChat session keys, TOTP secrets) with
//! AES-256-GCM under the deployment's encryption key, and keyed hashes (HMAC-SHA256 under a
//! key derived from it) for values that are only ever compared, such as MFA recovery codes.
//!
//! It also holds the plain HMAC-SHA256 and SHA-256 helpers the outgoing signatures are built
//! from (SMS providers' request signing, and the `X-Hufu-Signature` of webhooks), so every
//! signer in hufu shares one implementation.
//!
//! Each value is sealed with a fresh random nonce and bound to a context string (such as
//! `signing_key:<kid>`) as associated data, so a ciphertext copied into another row or column
//! does not decrypt. Stored form: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "v1.";

/// Sealing failed or a sealed value did not open (wrong key, wrong context, or damaged).
#[derive(Debug, thiserror::Error)]
#[error("cannot decrypt a stored secret (is HUFU_ENCRYPTION_KEY the one it was written with?)")]
pub struct CryptoError;

/// Seals and opens secrets with one key.
pub struct SecretBox {
    key: LessSafeKey,
    /// HMAC key for [`SecretBox::keyed_hash`]; derived, so the sealing key itself is used for
    /// one purpose only.
    mac_key: hmac::Key,
}

/// Label of the derivation of the keyed-hash key from the encryption key.
const MAC_KEY_LABEL: &[u8] = b"hufu keyed-hash key v1";

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError)?;
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), MAC_KEY_LABEL);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// HMAC-SHA256 (hex) of `value`, bound to `context`: for secrets that are only compared
    /// (recovery codes). Without the encryption key a leaked hash cannot be brute-forced.
    pub fn keyed_hash(&self, value: &[u8], context: &str) -> String {
        let mut message = Vec::with_capacity(context.len() + 1 + value.len());
        message.extend_from_slice(context.as_bytes());
        // A separator that cannot occur in a context, so (context, value) pairs never collide.
        message.push(0);
        message.extend_from_slice(value);
        let tag = hmac::sign(&self.mac_key, &message);
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, CryptoError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buffer);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a value sealed with the same key and `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or(CryptoError)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| CryptoError)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| CryptoError)?;
        Ok(plaintext.to_vec())
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The header that carries [`webhook_signature`] (contract section 12).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Hufu-Signature";

/// The value of `X-Hufu-Signature` for `body` posted at `timestamp` (unix seconds), as
/// contract section 12 defines it: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, t + "." +
/// body)>`. Binding the time into the MAC lets a receiver refuse replays of old posts.
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let stamp = timestamp.to_string();
    let mut message = Vec::with_capacity(stamp.len() + 1 + body.len());
    message.extend_from_slice(stamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    format!("t={stamp},v1={}", hex(&hmac_sha256(secret, &message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 section 4.3.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn webhook_signature_is_the_hmac_of_time_dot_body() {
        let header = webhook_signature(b"Jefe", 1_700_000_000, br#"{"a":1}"#);
        let expected = hex(&hmac_sha256(b"Jefe", br#"1700000000.{"a":1}"#));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert_ne!(header, webhook_signature(b"Jefe", 1_700_000_001, br#"{"a":1}"#));
        assert_ne!(header, webhook_signature(b"Jeff", 1_700_000_000, br#"{"a":1}"#));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let sealed_box = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = sealed_box.seal(b"private key bytes", "signing_key:a").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("private"));
        assert_eq!(sealed_box.open(&sealed, "signing_key:a").unwrap(), b"private key bytes");
        assert!(
            sealed_box.open(&sealed, "signing_key:b").is_err(),
            "bound to its context"
        );
        assert!(
            SecretBox::new(&[8u8; 32])
                .unwrap()
                .open(&sealed, "signing_key:a")
                .is_err()
        );
        assert_ne!(
            sealed,
            sealed_box.seal(b"private key bytes", "signing_key:a").unwrap(),
            "fresh nonce each time"
        );
        let mut damaged = sealed.clone();
        damaged.pop();
        assert!(sealed_box.open(&damaged, "signing_key:a").is_err());
    }

    #[test]
    fn keyed_hashes_depend_on_key_context_and_value() {
        let a = SecretBox::new(&[7u8; 32]).unwrap();
        let b = SecretBox::new(&[8u8; 32]).unwrap();
        let h = a.keyed_hash(b"abcde-fghij", "mfa_recovery_code:1");
        assert_eq!(h.len(), 64);
        assert_eq!(h, a.keyed_hash(b"abcde-fghij", "mfa_recovery_code:1"));
        assert_ne!(h, b.keyed_hash(b"abcde-fghij", "mfa_recovery_code:1"));
        assert_ne!(h, a.keyed_hash(b"abcde-fghij", "mfa_recovery_code:2"));
        assert_ne!(h, a.keyed_hash(b"abcde-fghik", "mfa_recovery_code:1"));
    }
}
