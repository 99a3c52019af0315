//! Checking one access token: header, key, signature, then claims against the injected clock,
//! by the same rules and in the same order as hufu's own checker. Also the builder that
//! configures it.

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims, CLOCK_SKEW_SECONDS};
use crate::clock::{Clock, SystemClock};
use crate::error::{BuildError, VerifyError};
use crate::jwks::JwksCache;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Default time limit of one JWKS fetch.
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default shortest time between two refetches caused by unknown kids.
const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Where hufu publishes its keys, below its base URL.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Verifies hufu access tokens against hufu's JWKS. Cheap to clone: clones share one key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    jwks: JwksCache,
    validation: Validation,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks", &self.inner.jwks)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts configuring a verifier for the hufu at `hufu_base` (e.g. `https://auth.example.com`)
    /// that issues tokens with this `issuer` and `audience` (hufu's defaults: `hufu`, `hufu`).
    pub fn builder(
        hufu_base: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> VerifierBuilder {
        let base: String = hufu_base.into();
        VerifierBuilder {
            jwks_url: format!("{}{JWKS_PATH}", base.trim_end_matches('/')),
            issuer: issuer.into(),
            audience: audience.into(),
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            clock: Arc::new(SystemClock),
        }
    }

    /// Checks `token` (the compact JWT, without `Bearer `) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        if !looks_like_jwt(token) {
            return Err(VerifyError::Malformed);
        }
        // `none` and other unknown algorithms fail here: jsonwebtoken has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        // Refused before any key lookup, so a token that cannot pass never causes a fetch,
        // and an HS256 token is never checked against public key material.
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let key = self.inner.jwks.key(&kid).await?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.inner.validation)
            .map_err(|_| VerifyError::Invalid)?;
        let claims = data.claims;
        let now = self.inner.clock.unix_seconds();
        if now >= claims.exp {
            return Err(VerifyError::Expired);
        }
        let latest = now.saturating_add(CLOCK_SKEW_SECONDS);
        if claims.nbf > latest || claims.iat > latest {
            return Err(VerifyError::Invalid);
        }
        if claims.sub != claims.user_id.to_string() {
            return Err(VerifyError::Invalid);
        }
        Ok(claims)
    }

    /// Fetches the JWKS now, whatever the refetch interval, and returns how many keys it holds.
    ///
    /// Useful at start-up to fail fast on a wrong URL; `Unavailable` when the fetch failed
    /// (the keys cached before, if any, are kept).
    pub async fn refresh(&self) -> Result<usize, VerifyError> {
        self.inner.jwks.refresh().await.map_err(|_| VerifyError::Unavailable)
    }

    /// Refetches the JWKS every `every` in a background task, so rotated keys arrive before
    /// their first token does. The task ends by itself once every clone of this verifier is
    /// dropped; abort the returned handle to end it sooner.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime (as [`tokio::spawn`] does).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                // Failures are logged by the cache and leave the cached keys in place.
                let _ = inner.jwks.refresh().await;
            }
        })
    }
}

/// Configures a [`Verifier`]; made by [`Verifier::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder {
    jwks_url: String,
    issuer: String,
    audience: String,
    fetch_timeout: Duration,
    min_refetch_interval: Duration,
    clock: Arc<dyn Clock>,
}

impl VerifierBuilder {
    /// Fetches the keys from `url` instead of `{hufu_base}/.well-known/jwks.json`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = url.into();
        self
    }

    /// Time limit of one JWKS fetch, connecting included (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Shortest time between two refetches caused by unknown kids (default 10 s).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// The clock that token times are compared with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the verifier. Nothing is fetched yet: the first token (or
    /// [`Verifier::refresh`]) loads the keys.
    pub fn build(self) -> Result<Verifier, BuildError> {
        let url = reqwest::Url::parse(&self.jwks_url).map_err(|e| BuildError::Url {
            url: self.jwks_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::Url {
                url: self.jwks_url,
                reason: "the scheme must be http or https".into(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(self.fetch_timeout)
            .connect_timeout(self.fetch_timeout)
            .build()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Times are checked in `verify` against the injected clock, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_issuer(&[self.issuer]);
        validation.set_audience(&[self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Verifier {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(client, url, self.min_refetch_interval),
                validation,
                clock: self.clock,
            }),
        })
    }
}

/// Whether `token` has the shape of a compact JWS: three dot-separated base64url parts whose
/// first decodes to a JSON object. Decides between `Malformed` and `Invalid` exactly as hufu does.
fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if payload.is_empty() || URL_SAFE_NO_PAD.decode(payload).is_err() {
        return false;
    }
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).ok())
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_base64url_parts_with_a_json_header_look_like_a_jwt() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA"}"#);
        let payload = URL_SAFE_NO_PAD.encode(b"{}");
        assert!(looks_like_jwt(&format!("{header}.{payload}.sig")));
        assert!(!looks_like_jwt(&format!("{header}.{payload}")));
        assert!(!looks_like_jwt(&format!("{header}.{payload}.sig.extra")));
        assert!(!looks_like_jwt(&format!("{header}..sig")));
        assert!(!looks_like_jwt(&format!("{header}.{payload}+/.sig")));
        assert!(!looks_like_jwt(&format!(
            "{}.{payload}.sig",
            URL_SAFE_NO_PAD.encode(b"[1]")
        )));
        assert!(!looks_like_jwt("not a token"));
    }

    #[test]
    fn the_jwks_url_is_below_the_hufu_base_and_must_be_http() {
        let builder = Verifier::builder("https://auth.example.com/", "hufu", "hufu");
        assert_eq!(builder.jwks_url, "https://auth.example.com/.well-known/jwks.json");
        let error = Verifier::builder("ftp://auth.example.com", "hufu", "hufu")
            .build()
            .unwrap_err();
        assert!(matches!(error, BuildError::Url { .. }));
        let error = Verifier::builder("not a url", "hufu", "hufu").build().unwrap_err();
        assert!(matches!(error, BuildError::Url { .. }));
    }
}
