//! EdDSA tokens on every store: the JWKS, verification by an independent Ed25519
//! implementation, refusal of forged tokens, key rotation, and keys encrypted at rest.

use crate::harness::paths::{JWKS, PROFILE};
use crate::harness::{Backend, TestApp, jwt_parts};
use crate::on_every_store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hufu::config::JwtAlgorithm;
use hufu::domain::keys;
use serde_json::{Value, json};

on_every_store!(
    eddsa_tokens_verify_against_the_jwks_with_an_independent_implementation,
    forged_eddsa_tokens_are_refused,
    rotating_keys_keeps_old_tokens_valid_and_signs_with_the_new_key,
);

async fn eddsa_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.tokens.jwt_algorithm = JwtAlgorithm::EdDsa).await
}

async fn jwks(app: &TestApp) -> Value {
    let answer = app.get(JWKS, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.body.get("code").is_none(), "a standard format, not the envelope");
    answer.body
}

/// Verifies a compact JWS with ed25519-dalek against the JWKS key named by its `kid`.
fn verify_independently(token: &str, jwks: &Value) -> bool {
    let (header, _) = jwt_parts(token);
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
    else {
        return false;
    };
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).unwrap().try_into().unwrap();
    public
        .verify_strict(signed.as_bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
        .is_ok()
}

async fn eddsa_tokens_verify_against_the_jwks_with_an_independent_implementation(backend: Backend) {
    let app = eddsa_app(backend).await;
    let token = app.login_as("kim").await.token;
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(claims["username"], "kim");
    let document = jwks(&app).await;
    assert_eq!(document["keys"].as_array().unwrap().len(), 1);
    assert!(verify_independently(&token, &document));
    let mut tampered: Vec<String> = token.split('.').map(str::to_owned).collect();
    tampered[1] = URL_SAFE_NO_PAD.encode(json!({"sub": "1", "user_id": 1}).to_string());
    assert!(!verify_independently(&tampered.join("."), &document));
    app.get(PROFILE, Some(&token)).await.expect_ok(200);

    // The private key is stored sealed, never in clear.
    let rows = app.state.core.store.signing_keys().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].private_key.starts_with("v1."));
    let other_box = hufu::crypto::SecretBox::new(&[9u8; 32]).unwrap();
    assert!(
        other_box
            .open(&rows[0].private_key, &format!("signing_key:{}", rows[0].kid))
            .is_err()
    );

    // Under HS256 the JWKS is empty: the shared secret is never published.
    let hs = TestApp::spawn(backend).await;
    assert_eq!(jwks(&hs).await, json!({"keys": []}));
}

/// Signs arbitrary header and claims with the node's real private key.
fn sign_with_node_key(app: &TestApp, rows: &[hufu::store::SigningKeyRow], header: Value, claims: &Value) -> String {
    let row = &rows[0];
    let der = app
        .state
        .core
        .keys
        .secret_box()
        .open(&row.private_key, &format!("signing_key:{}", row.kid))
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ed_der(&der);
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature =
        jsonwebtoken::crypto::sign(format!("{h}.{c}").as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA).unwrap();
    format!("{h}.{c}.{signature}")
}

fn hs256(header: Value, claims: &Value, secret: &[u8]) -> String {
    crate::harness::sign_hs256(&header, claims, secret)
}

async fn forged_eddsa_tokens_are_refused(backend: Backend) {
    let app = eddsa_app(backend).await;
    let token = app.login_as("lee").await.token;
    let (header, claims) = jwt_parts(&token);
    let rows = app.state.core.store.signing_keys().await.unwrap();
    let kid = header["kid"].clone();
    let good_header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
    // Sanity: re-signing the same claims with the real key is accepted.
    app.get(
        PROFILE,
        Some(&sign_with_node_key(&app, &rows, good_header.clone(), &claims)),
    )
    .await
    .expect_ok(200);

    let x = jwks(&app).await["keys"][0]["x"].as_str().unwrap().to_owned();
    let public_bytes = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let with = |field: &str, value: Value| {
        let mut c = claims.clone();
        c[field] = value;
        c
    };
    let now = claims["iat"].as_i64().unwrap();
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut tampered: Vec<String> = token.split('.').map(str::to_owned).collect();
    tampered[1] = URL_SAFE_NO_PAD.encode(with("roles", json!(["admin"])).to_string());
    let forged = vec![
        ("alg none", none),
        (
            "HS256 keyed with the public key",
            hs256(
                json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
                &claims,
                &public_bytes,
            ),
        ),
        (
            "HS256 keyed with x",
            hs256(
                json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
                &claims,
                x.as_bytes(),
            ),
        ),
        ("tampered payload", tampered.join(".")),
        (
            "wrong typ",
            sign_with_node_key(&app, &rows, json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), &claims),
        ),
        (
            "no kid",
            sign_with_node_key(&app, &rows, json!({"alg": "EdDSA", "typ": "at+jwt"}), &claims),
        ),
        (
            "unknown kid",
            sign_with_node_key(
                &app,
                &rows,
                json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "nope"}),
                &claims,
            ),
        ),
        (
            "wrong iss",
            sign_with_node_key(&app, &rows, good_header.clone(), &with("iss", json!("evil"))),
        ),
        (
            "wrong aud",
            sign_with_node_key(&app, &rows, good_header.clone(), &with("aud", json!("other"))),
        ),
        (
            "future nbf",
            sign_with_node_key(&app, &rows, good_header.clone(), &with("nbf", json!(now + 60))),
        ),
        ("no exp", sign_with_node_key(&app, &rows, good_header.clone(), &no_exp)),
    ];
    for (what, forged_token) in forged {
        let answer = app.get(PROFILE, Some(&forged_token)).await;
        assert_eq!(answer.body["error_code"], "TOKEN_INVALID", "{what}: {}", answer.text);
        assert_eq!(answer.status, 401, "{what}");
    }
    let expired = sign_with_node_key(&app, &rows, good_header, &with("exp", json!(now)));
    app.get(PROFILE, Some(&expired))
        .await
        .expect_error(401, "TOKEN_EXPIRED");
}

async fn rotating_keys_keeps_old_tokens_valid_and_signs_with_the_new_key(backend: Backend) {
    let app = eddsa_app(backend).await;
    let old_token = app.login_as("max").await.token;
    let old_kid = jwt_parts(&old_token).0["kid"].clone();
    let core = &app.state.core;
    let new_kid = keys::rotate(&core.store, core.keys.secret_box(), core.clock.unix_millis())
        .await
        .unwrap();
    assert_ne!(json!(new_kid), old_kid);
    // The periodic reload publishes it at once but signs with it only once it is old enough
    // for every node to know it; move time on and run one reload instead of waiting.
    keys::reload(core).await.unwrap();
    assert_eq!(
        jwks(&app).await["keys"].as_array().unwrap().len(),
        2,
        "published before it signs"
    );
    let still_old = app.login_as("max").await.token;
    assert_eq!(jwt_parts(&still_old).0["kid"], old_kid);
    app.clock.advance(time::Duration::seconds(26));
    keys::reload(core).await.unwrap();

    let new_token = app.login_as("max").await.token;
    assert_eq!(jwt_parts(&new_token).0["kid"], json!(new_kid), "the newest key signs");
    let document = jwks(&app).await;
    assert_eq!(
        document["keys"].as_array().unwrap().len(),
        2,
        "the old key stays published"
    );
    assert!(verify_independently(&old_token, &document) && verify_independently(&new_token, &document));
    app.get(PROFILE, Some(&old_token)).await.expect_ok(200);
    app.get(PROFILE, Some(&new_token)).await.expect_ok(200);

    // Once every token the old key can have signed has expired, it is no longer published.
    app.clock.advance(time::Duration::minutes(20));
    keys::reload(core).await.unwrap();
    let document = jwks(&app).await;
    assert_eq!(document["keys"].as_array().unwrap().len(), 1);
    assert_eq!(document["keys"][0]["kid"], json!(new_kid));
}
