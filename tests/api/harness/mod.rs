//! Test harness: starts the real hufu router on a random port over a fresh database of the
//! chosen backend, and talks HTTP to it.
//!
//! - [`stores`]: which backends and cache modes run, the macros that skip the others
//!   (`on_every_store!`, `on_every_cache!`, `on_redis!`), fresh databases.
//! - [`app`]: [`TestApp`], the in-process server, and its test settings.
//! - [`users`]: registering, [`TestApp::login_as`], [`TestApp::admin`] and the [`Signed`]
//!   handle that calls the API as a user.
//! - [`answer`]: [`answer::Caller`] and [`Answer`]; [`TestApp::in_lang`] sends `Accept-Language`.
//! - [`paths`]: the API's paths.
//! - [`log`]: the run's server log ([`server_log`]) and the `HUFU_TEST_LOG` switch.
//!
//! The harness depends on hufu's public API only; nothing in `src/` knows about it.

#![allow(dead_code)]

pub mod answer;
pub mod app;
pub mod log;
pub mod paths;
pub mod stores;
pub mod users;

pub use answer::{Answer, read};
pub use app::{TestApp, registration, test_settings};
pub use log::server_log;
pub use stores::{Backend, CacheMode, fresh_database, on_cache, on_store, redis_url, unique_prefix, with_redis};
pub use users::{DEFAULT_PASSWORD, Signed};

use hufu::store::sql::PoolSettings;
use serde_json::Value;
use std::time::Duration;

/// Decodes a JWT's header and payload without checking anything (for asserting claims).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.expect("jwt part"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    (decode(parts.next()), decode(parts.next()))
}

/// The session id (`sid` claim) of an access token.
pub fn sid(token: &str) -> String {
    jwt_parts(token).1["sid"].as_str().expect("sid").to_owned()
}

/// Pool settings for hand-built stores in tests.
pub fn pool(timeout: Duration) -> PoolSettings {
    PoolSettings {
        max_connections: 4,
        timeout,
    }
}

/// Polls `url` with `token` until it answers 401 `TOKEN_REVOKED`, failing after `within`; every
/// earlier answer must be a 200 (the token was good until the revocation arrived).
pub async fn assert_revoked_within(client: &reqwest::Client, url: &str, token: &str, within: Duration, what: &str) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let answer = read(client.get(url).bearer_auth(token).send().await.expect("request sent")).await;
        if answer.status == 401 {
            answer.expect_error(401, "TOKEN_REVOKED");
            return;
        }
        answer.expect_ok(200);
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still accepted after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signs arbitrary header and claims with HS256 and `secret` (to forge tokens in tests).
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature =
        jsonwebtoken::crypto::sign(format!("{h}.{c}").as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("sign");
    format!("{h}.{c}.{signature}")
}
