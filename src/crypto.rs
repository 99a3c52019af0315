//! Encryption of secrets at rest (EdDSA private keys now; WeChat session keys and TOTP secrets
//! later) with AES-256-GCM under the deployment's encryption key.
//!
//! Each value is sealed with a fresh random nonce and bound to a context string (such as
//! `signing_key:<kid>`) as associated data, so a ciphertext copied into another row or column
//! does not decrypt. Stored form: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
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
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
