//! Access tokens: JWTs (`typ: at+jwt`) with the claims of contract section 3, signed with
//! HS256 (one shared secret) or EdDSA (a `KeyRing` of database keys, swapped whole by
//! `install` when they rotate), issued and checked here and nowhere else in the server
//! (`hufu-verify` checks them in other services). The checker accepts exactly the configured
//! algorithm, requires every claim, and compares times against the injected clock: `exp`
//! with no leeway, `nbf`/`iat` with 5 s of skew between nodes. A token whose signature and
//! claims checked out is remembered for its lifetime, so its next request costs a cache
//! lookup and the time checks; revocation is `sessions`'s to check.

use super::error::TokenError;
use super::user::User;
use crate::clock::Clock;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The `typ` header of every access token (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Allowed clock difference between nodes for `nbf` and `iat`.
pub const CLOCK_SKEW_SECONDS: i64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// User id as a string.
    pub sub: String,
    /// User id as a number.
    pub user_id: i64,
    /// Username when issued.
    pub username: String,
    /// Roles when issued.
    pub roles: Vec<String>,
    /// Session id (string form of the session's numeric id).
    pub sid: String,
    /// Unique token id.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// When the session last proved a credential (Unix seconds; contract section 11). Absent
    /// in tokens issued before it existed, which then count as proved long ago.
    #[serde(default)]
    pub auth_time: i64,
    /// How it proved it (RFC 8176 values: `pwd`, `otp`, `sms`, `mfa`; `wx`, `email`).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// The EdDSA keys one node knows: the newest signs, every unretired one verifies.
pub struct KeyRing {
    /// `kid` and key of the newest key.
    signer: Option<(String, EncodingKey)>,
    /// Keys accepted for verification, by `kid`.
    verifiers: HashMap<String, DecodingKey>,
    /// The JWKS document for these keys, serialised once.
    jwks: Bytes,
}

impl KeyRing {
    /// A ring from the signing key (`kid`, PKCS#8 DER) and the public keys to publish
    /// (`kid`, base64url `x`).
    pub fn new(
        signer: Option<(String, Vec<u8>)>,
        public_keys: &[(String, String)],
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        for (kid, x) in public_keys {
            verifiers.insert(kid.clone(), DecodingKey::from_ed_components(x)?);
            jwks.push(
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}),
            );
        }
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::from_static(b"{\"keys\":[]}"));
        let signer = signer.map(|(kid, der)| (kid, EncodingKey::from_ed_der(&der)));
        Ok(Self {
            signer,
            verifiers,
            jwks,
        })
    }

    /// The `kid` that signs new tokens.
    pub fn current_kid(&self) -> Option<&str> {
        self.signer.as_ref().map(|(kid, _)| kid.as_str())
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current_kid())
            .field("verifying", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The keys of the configured algorithm.
enum Keys {
    /// One shared secret signs and verifies.
    Hs256 {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    /// Keys from the database, swapped in whole when they change.
    EdDsa(RwLock<Arc<KeyRing>>),
}

/// How many verified tokens are remembered (about 4 MB at most).
const VERIFIED_CAPACITY: u64 = 10_000;

/// Issues and checks access tokens.
pub struct TokenService {
    keys: Keys,
    /// Tokens whose signature and claims already checked out, by their full text: a client
    /// sends the same token with every request for its whole life, and the signature (2 µs
    /// HS256, 33 µs EdDSA) need not be checked again. Expiry and revocation are still checked
    /// on every request; the entry lives no longer than the token lifetime.
    verified: moka::sync::Cache<String, Arc<AccessClaims>>,
    header: Header,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

const EMPTY_JWKS: &[u8] = b"{\"keys\":[]}";

impl TokenService {
    fn with_keys(
        keys: Keys,
        algorithm: Algorithm,
        issuer: &str,
        audience: &str,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut header = Header::new(algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        // Only the configured algorithm is ever accepted: no `none`, no HS/EdDSA confusion.
        let mut validation = Validation::new(algorithm);
        // Times are checked below against the injected clock, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let verified = moka::sync::Cache::builder()
            .max_capacity(VERIFIED_CAPACITY)
            .time_to_live(ttl)
            .build();
        Self {
            keys,
            verified,
            header,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            clock,
        }
    }

    /// An HS256 token service.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        let keys = Keys::Hs256 {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        };
        Self::with_keys(keys, Algorithm::HS256, issuer, audience, ttl, clock)
    }

    /// An EdDSA token service over `ring` (replaced later with [`TokenService::install`]).
    pub fn eddsa(ring: KeyRing, issuer: &str, audience: &str, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        let keys = Keys::EdDsa(RwLock::new(Arc::new(ring)));
        Self::with_keys(keys, Algorithm::EdDSA, issuer, audience, ttl, clock)
    }

    /// Whether keys come from the database (EdDSA).
    pub fn uses_key_ring(&self) -> bool {
        matches!(self.keys, Keys::EdDsa(_))
    }

    /// Replaces the EdDSA key ring (no effect under HS256).
    pub fn install(&self, ring: KeyRing) {
        if let Keys::EdDsa(current) = &self.keys {
            *current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        }
    }

    fn ring(&self) -> Option<Arc<KeyRing>> {
        match &self.keys {
            Keys::EdDsa(ring) => Some(ring.read().unwrap_or_else(|e| e.into_inner()).clone()),
            Keys::Hs256 { .. } => None,
        }
    }

    /// The JWKS document: the published EdDSA public keys, or no keys under HS256.
    pub fn jwks(&self) -> Bytes {
        self.ring()
            .map(|ring| ring.jwks.clone())
            .unwrap_or_else(|| Bytes::from_static(EMPTY_JWKS))
    }

    /// The access-token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The `iss` of issued tokens (also the issuer named in TOTP `otpauth` URIs).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues an access token for `user` in session `session_id`, whose last proof was at
    /// `auth_time` (Unix seconds) by `amr`.
    pub fn issue(
        &self,
        user: &User,
        session_id: i64,
        auth_time: i64,
        amr: &[String],
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = self.clock.unix_seconds();
        let ttl = self.ttl.as_secs();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.id.to_string(),
            user_id: user.id,
            username: user.username.clone(),
            roles: user.roles.clone(),
            sid: session_id.to_string(),
            jti: ulid::Ulid::new().to_string(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            auth_time,
            amr: amr.to_vec(),
        };
        let token = match &self.keys {
            Keys::Hs256 { encoding, .. } => jsonwebtoken::encode(&self.header, &claims, encoding)?,
            Keys::EdDsa(_) => {
                let ring = self.ring().ok_or(jsonwebtoken::errors::ErrorKind::InvalidEddsaKey)?;
                let (kid, key) = ring
                    .signer
                    .as_ref()
                    .ok_or(jsonwebtoken::errors::ErrorKind::InvalidEddsaKey)?;
                let mut header = self.header.clone();
                header.kid = Some(kid.clone());
                jsonwebtoken::encode(&header, &claims, key)?
            }
        };
        Ok(IssuedToken { token, expires_in: ttl })
    }

    /// Checks a token and returns its claims. `UnknownKey` means an EdDSA token names a key
    /// this node has not loaded (yet): the caller may reload the keys and try again.
    pub fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signature_and_claims(token)?);
                self.verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        // Time moves on between requests with the same token: checked every time.
        let now = self.clock.unix_seconds();
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + CLOCK_SKEW_SECONDS || claims.iat > now + CLOCK_SKEW_SECONDS {
            return Err(TokenError::Invalid);
        }
        // Shared, not copied: this runs on every authenticated request.
        Ok(claims)
    }

    /// Signature, algorithm, type and claims, without the time checks.
    fn verify_signature_and_claims(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let refused = || {
            if looks_like_jwt(token) {
                TokenError::Invalid
            } else {
                TokenError::Malformed
            }
        };
        let decoded = match &self.keys {
            Keys::Hs256 { decoding, .. } => jsonwebtoken::decode::<AccessClaims>(token, decoding, &self.validation),
            Keys::EdDsa(_) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
                let kid = header.kid.ok_or(TokenError::Invalid)?;
                let ring = self.ring().ok_or(TokenError::Invalid)?;
                let key = ring.verifiers.get(&kid).ok_or(TokenError::UnknownKey)?;
                jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            }
        };
        let data = decoded.map_err(|_| refused())?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenError::Invalid);
        }
        let claims = data.claims;
        if claims.sub != claims.user_id.to_string() {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

/// Whether `token` has the shape of a compact JWS: three dot-separated base64url parts whose
/// first decodes to a JSON object. Decides between TOKEN_MALFORMED and TOKEN_INVALID; only
/// called after a token was refused, so it costs nothing on the good path.
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
    use crate::clock::ManualClock;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn user() -> User {
        User {
            id: 42,
            username: "alice".into(),
            email: None,
            phone: None,
            email_verified: false,
            phone_verified: false,
            nickname: None,
            avatar_url: None,
            status: 1,
            roles: vec!["user".into()],
            mfa_enabled: false,
            wechat_bound: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn service(clock: &ManualClock) -> TokenService {
        TokenService::hs256(
            SECRET,
            "hufu",
            "hufu",
            Duration::from_secs(900),
            Arc::new(clock.clone()),
        )
    }

    fn sign(header: serde_json::Value, claims: serde_json::Value, key: &[u8]) -> String {
        use hmac_sign::sign_hs256;
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signature = sign_hs256(key, format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{signature}")
    }

    mod hmac_sign {
        use super::*;
        /// Signs with jsonwebtoken's own primitive so tests can forge arbitrary headers.
        pub fn sign_hs256(key: &[u8], message: &[u8]) -> String {
            jsonwebtoken::crypto::sign(message, &EncodingKey::from_secret(key), Algorithm::HS256).unwrap()
        }
    }

    fn claims(now: i64) -> serde_json::Value {
        json!({"iss":"hufu","aud":"hufu","sub":"42","user_id":42,"username":"alice","roles":["user"],
               "sid":"7","jti":"x","iat":now,"nbf":now,"exp":now + 900})
    }

    #[test]
    fn an_issued_token_has_every_claim_and_verifies() {
        let clock = ManualClock::starting_now();
        let tokens = service(&clock);
        let issued = tokens.issue(&user(), 7, 0, &[]).unwrap();
        assert_eq!(issued.expires_in, 900);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::HS256);
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.user_id, claims.sid.as_str()),
            ("42", 42, "7")
        );
        assert_eq!(claims.exp - claims.iat, 900);
        assert!(!claims.jti.is_empty());
    }

    #[test]
    fn expiry_is_checked_with_no_leeway() {
        let clock = ManualClock::starting_now();
        let tokens = service(&clock);
        let issued = tokens.issue(&user(), 7, 0, &[]).unwrap();
        clock.advance(time::Duration::seconds(899));
        assert!(tokens.verify(&issued.token).is_ok());
        clock.advance(time::Duration::seconds(1));
        assert_eq!(tokens.verify(&issued.token), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let clock = ManualClock::starting_now();
        let tokens = service(&clock);
        let now = clock.unix_seconds();
        let good_header = json!({"alg":"HS256","typ":"at+jwt"});
        assert!(tokens.verify(&sign(good_header.clone(), claims(now), SECRET)).is_ok());
        // Wrong key, wrong typ, wrong issuer/audience, future nbf, missing exp.
        assert_eq!(
            tokens.verify(&sign(
                good_header.clone(),
                claims(now),
                b"another-secret-another-secret-xx"
            )),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            tokens.verify(&sign(json!({"alg":"HS256","typ":"JWT"}), claims(now), SECRET)),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            tokens.verify(&sign(json!({"alg":"HS256"}), claims(now), SECRET)),
            Err(TokenError::Invalid)
        );
        let mut c = claims(now);
        c["iss"] = json!("evil");
        assert_eq!(
            tokens.verify(&sign(good_header.clone(), c, SECRET)),
            Err(TokenError::Invalid)
        );
        let mut c = claims(now);
        c["aud"] = json!("other");
        assert_eq!(
            tokens.verify(&sign(good_header.clone(), c, SECRET)),
            Err(TokenError::Invalid)
        );
        let mut c = claims(now);
        c["nbf"] = json!(now + 60);
        assert_eq!(
            tokens.verify(&sign(good_header.clone(), c, SECRET)),
            Err(TokenError::Invalid)
        );
        let mut c = claims(now);
        c["nbf"] = json!(now + 4);
        assert!(
            tokens.verify(&sign(good_header.clone(), c, SECRET)).is_ok(),
            "5 s of skew is allowed"
        );
        let mut c = claims(now);
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            tokens.verify(&sign(good_header.clone(), c, SECRET)),
            Err(TokenError::Invalid)
        );
        // alg none with an empty signature.
        let h = URL_SAFE_NO_PAD.encode(json!({"alg":"none","typ":"at+jwt"}).to_string());
        let c = URL_SAFE_NO_PAD.encode(claims(now).to_string());
        assert_eq!(tokens.verify(&format!("{h}.{c}.")), Err(TokenError::Invalid));
        // Tampered payload keeps the old signature.
        let token = tokens.issue(&user(), 7, 0, &[]).unwrap().token;
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut tampered = claims(now);
        tampered["roles"] = json!(["admin"]);
        let payload = URL_SAFE_NO_PAD.encode(tampered.to_string());
        parts[1] = &payload;
        assert_eq!(tokens.verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn garbage_is_malformed_not_invalid() {
        let clock = ManualClock::starting_now();
        let tokens = service(&clock);
        for garbage in ["", "abc", "a.b", "a.b.c.d", "!!!.???.***", "e30"] {
            assert_eq!(tokens.verify(garbage), Err(TokenError::Malformed), "{garbage:?}");
        }
    }
}
