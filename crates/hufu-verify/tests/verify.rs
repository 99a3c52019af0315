//! The token rules, checked against a real JWKS server: what verifies, and what each kind of
//! bad token is refused with.

// A test that cannot set itself up should stop loudly: unwrapping is its way of failing.
// The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{AUD, ISS, JwksServer, NOW, TestKey, claims, part, verifier};
use hufu_verify::{ManualClock, Verifier, VerifyError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::time::Duration;

struct Setup {
    key: TestKey,
    clock: ManualClock,
    verifier: Verifier,
    _server: JwksServer,
}

async fn setup() -> Setup {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let clock = ManualClock::new(NOW);
    let verifier = verifier(&server.base, &clock, Duration::from_secs(10));
    Setup {
        key,
        clock,
        verifier,
        _server: server,
    }
}

/// Valid claims with `field` set to `value`.
fn claims_with(field: &str, value: Value) -> Value {
    let mut claims = claims(NOW);
    claims[field] = value;
    claims
}

#[tokio::test]
async fn a_valid_token_verifies_and_yields_its_claims() {
    let s = setup().await;
    let got = s.verifier.verify(&s.key.sign(&claims(NOW))).await.unwrap();
    assert_eq!(got.iss, ISS);
    assert_eq!(got.aud, AUD);
    assert_eq!(got.sub, "42");
    assert_eq!(got.user_id, 42);
    assert_eq!(got.username, "alice");
    assert_eq!(got.roles, ["user"]);
    assert!(got.has_role("user"));
    assert_eq!(got.sid, "7");
    assert_eq!((got.iat, got.nbf, got.exp), (NOW, NOW, NOW + 900));
}

#[tokio::test]
async fn a_token_is_expired_from_the_second_of_its_exp_with_no_leeway() {
    let s = setup().await;
    let token = s.key.sign(&claims(NOW));
    s.clock.set(NOW + 899);
    assert!(s.verifier.verify(&token).await.is_ok());
    s.clock.set(NOW + 900);
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Expired));
    s.clock.set(NOW + 5_000);
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Expired));
}

#[tokio::test]
async fn nbf_and_iat_may_be_five_seconds_ahead_but_not_more() {
    let s = setup().await;
    for field in ["nbf", "iat"] {
        let near = s.key.sign(&claims_with(field, json!(NOW + 5)));
        assert!(s.verifier.verify(&near).await.is_ok(), "{field} 5 s ahead");
        let far = s.key.sign(&claims_with(field, json!(NOW + 6)));
        assert_eq!(
            s.verifier.verify(&far).await,
            Err(VerifyError::Invalid),
            "{field} 6 s ahead"
        );
    }
}

#[tokio::test]
async fn a_wrong_issuer_or_audience_is_invalid() {
    let s = setup().await;
    for (field, value) in [("iss", "someone-else"), ("aud", "another-app")] {
        let token = s.key.sign(&claims_with(field, json!(value)));
        assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid), "{field}");
    }
    // An audience list containing ours is still not hufu's single-string `aud`.
    let token = s.key.sign(&claims_with("aud", json!([AUD])));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn a_sub_that_differs_from_user_id_is_invalid() {
    let s = setup().await;
    let token = s.key.sign(&claims_with("sub", json!("43")));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn a_token_missing_any_claim_is_invalid() {
    let s = setup().await;
    for field in [
        "exp", "nbf", "iat", "iss", "aud", "sub", "user_id", "username", "roles", "sid", "jti",
    ] {
        let mut claims = claims(NOW);
        claims.as_object_mut().unwrap().remove(field);
        let token = s.key.sign(&claims);
        assert_eq!(
            s.verifier.verify(&token).await,
            Err(VerifyError::Invalid),
            "without {field}"
        );
    }
}

#[tokio::test]
async fn a_header_typ_other_than_at_jwt_is_invalid() {
    let s = setup().await;
    for typ in [Some("JWT"), Some("AT+JWT"), None] {
        let mut header = s.key.header();
        header.typ = typ.map(String::from);
        let token = s.key.sign_with(&header, &claims(NOW));
        assert_eq!(
            s.verifier.verify(&token).await,
            Err(VerifyError::Invalid),
            "typ {typ:?}"
        );
    }
}

#[tokio::test]
async fn a_token_without_a_kid_is_invalid() {
    let s = setup().await;
    let mut header = s.key.header();
    header.kid = None;
    let token = s.key.sign_with(&header, &claims(NOW));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_invalid() {
    let s = setup().await;
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": "k1"});
    for signature in ["", "AAAA"] {
        let token = format!("{}.{}.{signature}", part(&header), part(&claims(NOW)));
        assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
    }
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_invalid() {
    let s = setup().await;
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(s.key.kid.clone());
    let x = s.key.jwk()["x"].as_str().unwrap().to_owned();
    let secrets = [
        s.key.public.clone(),
        x.into_bytes(),
        s.key.jwk().to_string().into_bytes(),
    ];
    for secret in secrets {
        let token = jsonwebtoken::encode(&header, &claims(NOW), &EncodingKey::from_secret(&secret)).unwrap();
        assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
    }
}

#[tokio::test]
async fn a_tampered_payload_is_invalid() {
    let s = setup().await;
    let token = s.key.sign(&claims(NOW));
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(NOW);
    forged["roles"] = json!(["admin"]);
    let forged = part(&forged);
    parts[1] = &forged;
    assert_eq!(s.verifier.verify(&parts.join(".")).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn a_token_signed_by_a_key_not_in_the_jwks_is_invalid() {
    let s = setup().await;
    // Same kid as the published key, different key.
    let impostor = TestKey::generate("k1");
    let token = impostor.sign(&claims(NOW));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
    // A kid hufu never published.
    let stranger = TestKey::generate("k-stranger");
    let token = stranger.sign(&claims(NOW));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn text_that_is_not_three_base64url_parts_with_a_json_header_is_malformed() {
    let s = setup().await;
    let header = part(&json!({"alg": "EdDSA"}));
    let payload = part(&claims(NOW));
    let cases = [
        String::new(),
        "not-a-token".into(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.sig.more"),
        format!("{}.{payload}.sig", part(&json!("a string"))),
        format!("{header}.!!!.sig"),
    ];
    for token in cases {
        assert_eq!(
            s.verifier.verify(&token).await,
            Err(VerifyError::Malformed),
            "{token:?}"
        );
    }
}
