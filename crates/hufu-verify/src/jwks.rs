//! hufu's published keys: fetching the JWKS, turning it into verification keys once per fetch,
//! and deciding when a fetch may happen. Lookups of cached keys take a read lock and nothing
//! else; only a `kid` that is not cached goes near the network.

use crate::error::VerifyError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A JWKS larger than this is refused: hufu's holds a handful of 32-byte keys, so anything
/// near it is a misconfigured URL, and reading it whole would cost memory for nothing.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Verification keys by `kid`, built once per fetched JWKS.
type KeyMap = HashMap<String, Arc<DecodingKey>>;

/// Why a JWKS fetch failed; logged, then reported to callers as [`VerifyError::Unavailable`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// Connecting, timing out, or a non-2xx status.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The body exceeded [`MAX_JWKS_BYTES`].
    #[error("JWKS larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The body is not a JWKS document.
    #[error("not a JWKS document: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the last fetch attempt did; guarded by the fetch lock so only one fetch runs at a time.
#[derive(Debug, Default)]
struct FetchState {
    /// When the last attempt started, successful or not; `None` before the first.
    last_attempt: Option<Instant>,
    /// Whether the last attempt failed, which turns "unknown kid" into "unavailable".
    failing: bool,
}

/// The cached keys of one hufu deployment and the means to refresh them.
#[derive(Debug)]
pub(crate) struct JwksCache {
    client: reqwest::Client,
    url: reqwest::Url,
    min_refetch_interval: Duration,
    keys: RwLock<Arc<KeyMap>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl JwksCache {
    /// An empty cache for the JWKS at `url`; the first lookup fetches it.
    pub(crate) fn new(client: reqwest::Client, url: reqwest::Url, min_refetch_interval: Duration) -> Self {
        Self {
            client,
            url,
            min_refetch_interval,
            keys: RwLock::new(Arc::new(KeyMap::new())),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    /// The key of `kid`, refetching the JWKS when it is not cached and a refetch is due.
    ///
    /// `Invalid` when the JWKS was fetched fine but has no such key (or a refetch is not due
    /// yet after a successful one); `Unavailable` when the last fetch failed.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, VerifyError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        // One fetch at a time: callers with unknown kids queue here and then find the result.
        let mut state = self.fetch.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let due = state
            .last_attempt
            .is_none_or(|at| at.elapsed() >= self.min_refetch_interval);
        if due {
            let _ = self.fetch_locked(&mut state).await;
        }
        match self.cached(kid) {
            Some(key) => Ok(key),
            None if state.failing => Err(VerifyError::Unavailable),
            None => Err(VerifyError::Invalid),
        }
    }

    /// Fetches the JWKS now, whatever the refetch interval; returns how many keys it holds.
    pub(crate) async fn refresh(&self) -> Result<usize, FetchError> {
        let mut state = self.fetch.lock().await;
        self.fetch_locked(&mut state).await
    }

    /// Fetches and installs the JWKS; the caller holds the fetch lock. A failed fetch keeps
    /// the keys already cached: a hufu outage must not log everyone out.
    async fn fetch_locked(&self, state: &mut FetchState) -> Result<usize, FetchError> {
        state.last_attempt = Some(Instant::now());
        match self.download().await {
            Ok(keys) => {
                state.failing = false;
                let count = keys.len();
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                Ok(count)
            }
            Err(error) => {
                state.failing = true;
                tracing::warn!(url = %self.url, %error, "cannot fetch hufu's JWKS");
                Err(error)
            }
        }
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).get(kid).cloned()
    }

    async fn download(&self) -> Result<KeyMap, FetchError> {
        let mut response = self.client.get(self.url.clone()).send().await?.error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(parse_jwks(&body)?)
    }
}

/// A JWKS document; keys stay raw so one key of another kind cannot spoil the rest.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// The members of a JWK this crate looks at.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
}

/// The Ed25519 signing keys of a JWKS body, by `kid`. Other keys are skipped, not errors:
/// a future hufu may publish more kinds, and the Ed25519 ones must keep working.
fn parse_jwks(body: &[u8]) -> Result<KeyMap, serde_json::Error> {
    let document: JwksDocument = serde_json::from_slice(body)?;
    let mut keys = KeyMap::new();
    for raw in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        if let Some((kid, key)) = ed25519_key(jwk) {
            // The first key of a `kid` wins; a duplicate is a publishing mistake, not a rotation.
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

fn ed25519_key(jwk: Jwk) -> Option<(String, DecodingKey)> {
    let usable = jwk.kty == "OKP"
        && jwk.crv.as_deref() == Some("Ed25519")
        && jwk.alg.as_deref().is_none_or(|alg| alg == "EdDSA")
        && jwk.use_.as_deref().is_none_or(|use_| use_ == "sig");
    if !usable {
        return None;
    }
    let (kid, x) = (jwk.kid?, jwk.x?);
    // `from_ed_components` only decodes; the length check keeps a truncated key out.
    if URL_SAFE_NO_PAD.decode(&x).ok()?.len() != 32 {
        return None;
    }
    Some((kid, DecodingKey::from_ed_components(&x).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn only_ed25519_signing_keys_with_a_kid_are_kept() {
        let body = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "good", "alg": "EdDSA", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "bare"},
            {"kty": "OKP", "crv": "Ed25519", "x": X},
            {"kty": "OKP", "crv": "X25519", "x": X, "kid": "exchange"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "encrypting", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
            "not an object"
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["bare", "good"]);
    }

    #[test]
    fn a_body_that_is_not_a_jwks_is_an_error() {
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(b"{\"items\":[]}").is_err());
    }
}
