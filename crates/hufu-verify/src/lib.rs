//! Verify hufu access tokens in another Rust service, with no shared secret.
//!
//! hufu, when configured with EdDSA, signs its access tokens with Ed25519 keys and publishes
//! the public halves at `GET {hufu_base}/.well-known/jwks.json`. This crate fetches that JWKS,
//! caches the keys by `kid`, and checks tokens by exactly the rules hufu itself applies:
//!
//! - only `alg: EdDSA` (never `none`, never HS256), header `typ` exactly `at+jwt`, a `kid`;
//! - the signature against the published key of that `kid`; an unknown `kid` refetches the
//!   JWKS once (hufu may have rotated keys), at most once per
//!   [`VerifierBuilder::min_refetch_interval`] (default 10 s) so garbage kids cannot make this
//!   crate hammer hufu;
//! - `exp` with no leeway (a token is expired when `now >= exp`), `nbf` and `iat` at most 5 s
//!   in the future, `iss` and `aud` equal to the configured values, `sub == user_id`.
//!
//! Time comes from an injectable [`Clock`], so expiry can be tested without sleeping.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use hufu_verify::{HufuAuthLayer, HufuClaims, Verifier};
//!
//! async fn me(HufuClaims(claims): HufuClaims) -> String {
//!     format!("hello {}", claims.username)
//! }
//!
//! # fn build() -> Result<Router, hufu_verify::BuildError> {
//! let verifier = Verifier::builder("https://auth.example.com", "hufu", "hufu").build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .layer(HufuAuthLayer::new(verifier));
//! # Ok(app)
//! # }
//! ```
//!
//! # What a third party cannot see: revocation
//!
//! hufu can revoke a session (sign-out, password change, an admin's ban) and refuses that
//! session's access tokens itself at once. A service using this crate only sees the signed
//! token and the public keys; it has no way to learn of the revocation, so **a revoked
//! session's access token stays valid here until its `exp`**. Keep hufu's access-token
//! lifetime short (its default is 15 minutes) and, where a revocation must take effect at
//! once, ask hufu itself instead of verifying locally.
//!
//! # Key rotation window
//!
//! After `hufu keys rotate`, the first token naming the new `kid` makes this crate refetch the
//! JWKS. If another refetch happened less than the minimum interval before, the token is
//! refused as `TOKEN_INVALID` until the interval has passed; pick the interval with that in
//! mind, or run [`Verifier::spawn_refresh`] so new keys arrive ahead of their first use.

#![warn(missing_docs)]

mod claims;
mod clock;
mod error;
mod jwks;
mod layer;
mod verifier;

pub use claims::{ACCESS_TOKEN_TYPE, AccessClaims, CLOCK_SKEW_SECONDS, HufuClaims, MissingLayer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BuildError, VerifyError};
pub use layer::{HufuAuthLayer, HufuAuthService, bearer_token};
pub use verifier::{Verifier, VerifierBuilder};

/// Compiles the README's example as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
