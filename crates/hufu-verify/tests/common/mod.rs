//! What every integration test needs: Ed25519 keys made here, tokens signed the way hufu signs
//! them, and a real JWKS server on 127.0.0.1 that counts its requests.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hufu_verify::{ManualClock, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The issuer every test token carries.
pub const ISS: &str = "hufu-test";
/// The audience every test token carries.
pub const AUD: &str = "shop";
/// "Now" for every test clock: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;

/// An Ed25519 key pair as hufu keeps one.
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    /// The raw 32-byte public key.
    pub public: Vec<u8>,
}

impl TestKey {
    /// A fresh key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The JWK hufu publishes for this key.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The header hufu puts on access tokens signed with this key.
    pub fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        header
    }

    /// A token with hufu's header and `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    /// A token with any header and `claims`.
    pub fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }
}

/// Claims as hufu issues them at `now` for user 42 in session 7, valid for 15 minutes.
pub fn claims(now: i64) -> Value {
    json!({
        "iss": ISS,
        "aud": AUD,
        "sub": "42",
        "user_id": 42,
        "username": "alice",
        "roles": ["user"],
        "sid": "7",
        "jti": "01J0000000000000000000000",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
    })
}

/// A base64url part of a hand-made token.
pub fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

struct ServerState {
    keys: Mutex<Vec<Value>>,
    hits: AtomicUsize,
    failing: AtomicBool,
}

/// A JWKS server on 127.0.0.1 serving whatever keys it was last told to publish.
pub struct JwksServer {
    /// The base URL, as a hufu base (`http://127.0.0.1:port`).
    pub base: String,
    state: Arc<ServerState>,
}

async fn serve_jwks(State(state): State<Arc<ServerState>>) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let body = json!({ "keys": *state.keys.lock().unwrap() }).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl JwksServer {
    /// Starts serving `keys` at `/.well-known/jwks.json`.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let state = Arc::new(ServerState {
            keys: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let server = Self { base, state };
        server.publish(keys);
        server
    }

    /// Replaces the published keys, as a rotation or retirement on hufu does.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    /// Makes the server answer 500 (or serve again).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// How many JWKS requests the server has answered.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

/// A verifier for `base` with the test issuer and audience, the test clock and this interval.
pub fn verifier(base: &str, clock: &ManualClock, min_refetch_interval: Duration) -> Verifier {
    Verifier::builder(base, ISS, AUD)
        .clock(Arc::new(clock.clone()))
        .min_refetch_interval(min_refetch_interval)
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// A server that accepts connections and never answers; returns its base URL.
pub async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            // Kept open and unread, so the client waits for an answer that never comes.
            held.push(socket);
        }
    });
    base
}
