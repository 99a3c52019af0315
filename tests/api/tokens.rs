//! The bearer-token check on authenticated endpoints: every refusal has its contract code
//! and `WWW-Authenticate` header.

use crate::harness::paths::PROFILE;
use crate::harness::{Backend, TestApp};
use crate::on_every_store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

on_every_store!(tokens_are_checked_strictly, an_expired_token_is_refused_as_expired);

fn forge(header: serde_json::Value, claims: serde_json::Value, secret: &[u8]) -> String {
    crate::harness::sign_hs256(&header, &claims, secret)
}

async fn tokens_are_checked_strictly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tina = app.login_as("tina").await;
    let token = tina.token.clone();
    tina.get(PROFILE).await.expect_ok(200);

    let missing = app.get(PROFILE, None).await;
    missing.expect_error(401, "TOKEN_MISSING");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let zh = app.in_lang("zh").get(PROFILE, None).await;
    assert_eq!(zh.body["error"], "缺少Authorization头");

    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        &format!("Token {token}"),
    ] {
        let answer = crate::harness::read(
            app.client
                .get(app.url(PROFILE))
                .header("authorization", header)
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.expect_error(401, "TOKEN_MALFORMED");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    }

    let (_, claims) = crate::harness::jwt_parts(&token);
    let secret = app
        .settings
        .tokens
        .jwt_secret
        .as_ref()
        .unwrap()
        .expose()
        .as_bytes()
        .to_vec();
    let good = json!({"alg": "HS256", "typ": "at+jwt"});
    // Sanity: a token forged with the real secret and unchanged claims is accepted, so the
    // refusals below are about what each one changes.
    app.get(PROFILE, Some(&forge(good.clone(), claims.clone(), &secret)))
        .await
        .expect_ok(200);
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("another-service");
    let mut future = claims.clone();
    future["nbf"] = json!(claims["iat"].as_i64().unwrap() + 3600);
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut tampered = token.split('.').map(str::to_owned).collect::<Vec<_>>();
    let mut escalated = claims.clone();
    escalated["roles"] = json!(["admin"]);
    tampered[1] = URL_SAFE_NO_PAD.encode(escalated.to_string());
    let refused = [
        forge(good.clone(), claims.clone(), b"a-different-secret-a-different-secret"),
        forge(json!({"alg": "HS256", "typ": "JWT"}), claims.clone(), &secret),
        forge(good.clone(), wrong_iss, &secret),
        forge(good.clone(), wrong_aud, &secret),
        forge(good.clone(), future, &secret),
        forge(good.clone(), no_exp, &secret),
        none_token,
        tampered.join("."),
    ];
    for forged in refused {
        let answer = app.get(PROFILE, Some(&forged)).await;
        answer.expect_error(401, "TOKEN_INVALID");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    }
}

async fn an_expired_token_is_refused_as_expired(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.tokens.access_ttl = std::time::Duration::from_secs(60)).await;
    let ursula = app.login_as("ursula").await;
    app.clock.advance(time::Duration::seconds(59));
    ursula.get(PROFILE).await.expect_ok(200);
    app.clock.advance(time::Duration::seconds(1));
    let expired = ursula.get(PROFILE).await;
    expired.expect_error(401, "TOKEN_EXPIRED");
    assert_eq!(
        expired.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}
