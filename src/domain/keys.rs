//! EdDSA signing keys: generated here, kept in the database with the private part encrypted,
//! and loaded by every node. A new key is published (JWKS, verification) by every node within
//! one reload (20 s), but signs only once it is 25 s old, so no node ever hands out a token
//! whose key another node — or a verifier reading another node's JWKS — does not know yet.
//! Every node signs with it within 45 s, inside the contract's 60. Older keys keep verifying,
//! and stay published, until every token they can have signed has expired. A token naming an
//! unknown key also triggers an immediate reload (at most once a second).

use super::Core;
use super::tokens::KeyRing;
use crate::crypto::SecretBox;
use crate::store::{SigningKeyRow, SqlStore};
use anyhow::Context;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The only algorithm kept in `signing_keys` today.
pub const EDDSA: &str = "EdDSA";
/// How long a superseded key stays published beyond the access-token lifetime: nodes that
/// have not reloaded yet may sign with it for up to the reload interval, plus clock skew.
const RETIRE_MARGIN_MS: i64 = 120_000;
/// Age a key must reach before it signs: longer than the reload interval, so every node has
/// published it first.
pub const ACTIVATION_DELAY_MS: i64 = 25_000;
/// Shortest time between two on-demand reloads.
const RELOAD_MIN_INTERVAL_MS: i64 = 1_000;

/// Coordinates key reloads and holds the box that opens private keys.
#[derive(Debug)]
pub struct KeyManager {
    secret_box: SecretBox,
    /// When the keys were last reloaded (Unix ms), to rate-limit on-demand reloads.
    last_reload_ms: AtomicI64,
    reload_lock: tokio::sync::Mutex<()>,
}

impl KeyManager {
    /// A manager using `secret_box` for private keys.
    pub fn new(secret_box: SecretBox) -> Self {
        Self {
            secret_box,
            last_reload_ms: AtomicI64::new(0),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The box that seals secrets at rest.
    pub fn secret_box(&self) -> &SecretBox {
        &self.secret_box
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key: a stable, content-derived `kid`.
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Makes a new Ed25519 key, its private part sealed for storage.
pub fn generate(secret_box: &SecretBox, now_ms: i64) -> anyhow::Result<SigningKeyRow> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("generated key rejected"))?;
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let kid = thumbprint(&x);
    let private_key = secret_box.seal(pkcs8.as_ref(), &context(&kid))?;
    Ok(SigningKeyRow {
        kid,
        algorithm: EDDSA.into(),
        public_key: x,
        private_key,
        created_at: now_ms,
    })
}

/// Builds the ring from stored keys (newest first): the newest signs; a key stays published
/// until `access_ttl` + a margin after the key that replaced it was made.
pub fn build_ring(
    rows: &[SigningKeyRow],
    secret_box: &SecretBox,
    now_ms: i64,
    access_ttl: Duration,
) -> anyhow::Result<KeyRing> {
    let keep_ms = i64::try_from(access_ttl.as_millis())
        .unwrap_or(i64::MAX / 2)
        .saturating_add(RETIRE_MARGIN_MS);
    let rows: Vec<&SigningKeyRow> = rows.iter().filter(|r| r.algorithm == EDDSA).collect();
    // The newest key old enough to be known everywhere signs; a lone young key (first start)
    // signs at once, since there is nothing else.
    let active = rows
        .iter()
        .find(|r| r.created_at.saturating_add(ACTIVATION_DELAY_MS) <= now_ms)
        .or(rows.last());
    let signer = match active {
        Some(key) => Some((key.kid.clone(), secret_box.open(&key.private_key, &context(&key.kid))?)),
        None => None,
    };
    let mut published = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let superseded_at = index.checked_sub(1).map(|newer| rows[newer].created_at);
        if superseded_at.is_none_or(|at| at.saturating_add(keep_ms) > now_ms) {
            published.push((row.kid.clone(), row.public_key.clone()));
        }
    }
    KeyRing::new(signer, &published).context("a stored public key is not a valid Ed25519 key")
}

/// Makes sure at least one key exists (first start under EdDSA). Two nodes starting at once
/// may both make one; the newer simply becomes current.
pub async fn ensure_key(store: &SqlStore, secret_box: &SecretBox, now_ms: i64) -> anyhow::Result<()> {
    if store.signing_keys().await?.iter().all(|r| r.algorithm != EDDSA) {
        store.insert_signing_key(&generate(secret_box, now_ms)?).await?;
    }
    Ok(())
}

/// Adds a new key that becomes current (`hufu keys rotate`); returns its `kid`.
pub async fn rotate(store: &SqlStore, secret_box: &SecretBox, now_ms: i64) -> anyhow::Result<String> {
    let existing = store.signing_keys().await?;
    // Keys are ordered by creation time; never let a new key sort below the current one.
    let created_at = existing
        .first()
        .map_or(now_ms, |newest| now_ms.max(newest.created_at + 1));
    let row = generate(secret_box, created_at)?;
    store.insert_signing_key(&row).await?;
    Ok(row.kid)
}

/// Reloads the keys from the database into the token service.
pub async fn reload(core: &Core) -> anyhow::Result<()> {
    if !core.tokens.uses_key_ring() {
        return Ok(());
    }
    let now_ms = core.clock.unix_millis();
    let rows = core.store.signing_keys().await?;
    let ring = build_ring(&rows, core.keys.secret_box(), now_ms, core.tokens.ttl())?;
    core.tokens.install(ring);
    core.keys.last_reload_ms.store(now_ms, Ordering::Relaxed);
    Ok(())
}

/// Reloads now unless a reload happened within the last second; concurrent callers wait for
/// one reload instead of each running their own.
pub async fn reload_soon(core: &Core) {
    let _guard = core.keys.reload_lock.lock().await;
    let now_ms = core.clock.unix_millis();
    if now_ms - core.keys.last_reload_ms.load(Ordering::Relaxed) < RELOAD_MIN_INTERVAL_MS {
        return;
    }
    if let Err(error) = reload(core).await {
        tracing::warn!(error = %error, "cannot reload signing keys");
        core.keys.last_reload_ms.store(now_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_key_signs_and_superseded_keys_retire_after_the_token_lifetime() {
        let secret_box = SecretBox::new(&[3u8; 32]).unwrap();
        let old = generate(&secret_box, 1_000).unwrap();
        let new = generate(&secret_box, 10_000).unwrap();
        assert_ne!(old.kid, new.kid);
        assert!(!old.private_key.contains(&old.public_key));
        let rows = vec![new.clone(), old.clone()];
        let ttl = Duration::from_secs(60);
        let ring = build_ring(&rows, &secret_box, 20_000, ttl).unwrap();
        assert_eq!(ring.current_kid(), Some(old.kid.as_str()), "too young to sign yet");
        assert!(format!("{ring:?}").contains(&new.kid), "but published at once");
        let ring = build_ring(&rows, &secret_box, 10_000 + ACTIVATION_DELAY_MS, ttl).unwrap();
        assert_eq!(ring.current_kid(), Some(new.kid.as_str()));
        let jwks = format!("{ring:?}");
        assert!(jwks.contains(&old.kid), "the old key still verifies");
        let later = 10_000 + 60_000 + RETIRE_MARGIN_MS + 1;
        let ring = build_ring(&rows, &secret_box, later, ttl).unwrap();
        assert!(
            !format!("{ring:?}").contains(&old.kid),
            "retired once its tokens have expired"
        );
    }

    #[test]
    fn a_wrong_encryption_key_cannot_load_the_signing_key() {
        let row = generate(&SecretBox::new(&[1u8; 32]).unwrap(), 0).unwrap();
        assert!(build_ring(&[row], &SecretBox::new(&[2u8; 32]).unwrap(), 0, Duration::from_secs(60)).is_err());
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
