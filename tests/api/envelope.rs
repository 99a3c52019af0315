//! The envelope on every answer: 404/405/413/415, malformed JSON, request ids, languages,
//! and the operations endpoints. These do not depend on the store, so they run on SQLite.

use crate::harness::paths::{HEALTH, LOGIN, LOGOUT, READY, REGISTER};
use crate::harness::{Backend, TestApp, read};
use serde_json::json;

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

#[tokio::test]
async fn unknown_routes_and_methods_are_enveloped() {
    let app = app().await;
    let missing = app.get("/api/v1/nothing-here", None).await;
    missing.expect_error(404, "NOT_FOUND");
    assert_eq!(missing.header("content-type"), Some("application/json"));

    let wrong_method = app.call("DELETE", "/api/v1/auth/login", None, None).await;
    wrong_method.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    let wrong_method = app.call("PATCH", "/api/v1/users/profile", None, None).await;
    wrong_method.expect_error(405, "METHOD_NOT_ALLOWED");
    let allow = wrong_method.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");

    let zh = app.in_lang("zh-CN").get("/nope", None).await;
    assert_eq!(zh.body["message"], "资源不存在");
}

#[tokio::test]
async fn bodies_must_be_small_json() {
    let app = app().await;
    let big = "x".repeat(65 * 1024);
    let too_large = read(
        app.client
            .post(app.url(REGISTER))
            .header("content-type", "application/json")
            .body(format!("{{\"username\":\"{big}\"}}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    too_large.expect_error(413, "BODY_TOO_LARGE");

    let form = read(
        app.client
            .post(app.url(LOGIN))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=a&password=b")
            .send()
            .await
            .unwrap(),
    )
    .await;
    form.expect_error(415, "UNSUPPORTED_MEDIA_TYPE");

    let no_type = read(
        app.client
            .post(app.url(LOGIN))
            .body("{\"username\":\"a\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    no_type.expect_error(415, "UNSUPPORTED_MEDIA_TYPE");

    let broken = read(
        app.client
            .post(app.url(LOGIN))
            .header("content-type", "application/json; charset=utf-8")
            .body("{\"username\": \"a\",")
            .send()
            .await
            .unwrap(),
    )
    .await;
    broken.expect_error(400, "INVALID_JSON");

    let wrong_type = app
        .post(LOGIN, json!({"username": "alice", "password": 12345678}))
        .await;
    let body = wrong_type.expect_error(400, "INVALID_JSON");
    assert_eq!(body["details"][0]["field"], "password");
    assert!(
        !wrong_type.text.contains("12345678"),
        "a wrongly typed password is never echoed"
    );

    let not_object = app.post(LOGIN, json!(["alice", "pw"])).await;
    not_object.expect_error(400, "INVALID_JSON");

    // An empty body needs no Content-Type: it is read as {} and fails validation instead.
    let empty = read(app.client.post(app.url(REGISTER)).send().await.unwrap()).await;
    empty.expect_error(400, "VALIDATION_FAILED");
}

/// A request cut off before its body (a proxy that drops it, a client bug) is not silently
/// read as `{}`: with `Content-Type: application/json` an empty body is not JSON, so it is
/// `INVALID_JSON` (contract section 1), even where every field is optional and `{}` would
/// be obeyed. Without a content type, an empty body stays `{}` (section 9).
#[tokio::test]
async fn an_empty_body_declared_json_is_invalid_json_not_an_empty_object() {
    let app = app().await;
    app.register("vera", "password123").await;
    let vera = app.sign_in("vera", "password123").await;
    let empty_json = |path: &str, token: Option<&str>, body: &'static str| {
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { read(request.send().await.unwrap()).await }
    };
    for body in ["", "  \r\n"] {
        empty_json(REGISTER, None, body).await.expect_error(400, "INVALID_JSON");
        // Logout takes only optional fields: `{}` would log out; an empty JSON body does not.
        empty_json(LOGOUT, Some(&vera.token), body)
            .await
            .expect_error(400, "INVALID_JSON");
    }
    vera.get(crate::harness::paths::PROFILE).await.expect_ok(200);

    // No content type: the empty body is `{}`, on both kinds of endpoint.
    let empty = read(app.client.post(app.url(REGISTER)).send().await.unwrap()).await;
    empty.expect_error(400, "VALIDATION_FAILED");
    let out = read(
        app.client
            .post(app.url(LOGOUT))
            .bearer_auth(&vera.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(out.expect_ok(200)["revoked_sessions"], 1);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app().await;
    let echoed = read(
        app.client
            .get(app.url(HEALTH))
            .header("x-request-id", "trace-abc.123_x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc.123_x"));
    let replaced = read(
        app.client
            .get(app.url("/nope"))
            .header("x-request-id", "bad id with spaces")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = replaced.header("x-request-id").unwrap().to_owned();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 26);
    assert_eq!(replaced.body["request_id"], id);
    let first = app.get(HEALTH, None).await;
    let second = app.get(HEALTH, None).await;
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = app().await;
    let health = app.get(HEALTH, None).await;
    assert_eq!(health.expect_ok(200)["status"], "ok");
    let ready = app.get(READY, None).await;
    assert_eq!(ready.expect_ok(200)["database"], "sqlite");
}

#[tokio::test]
async fn english_is_the_default_and_only_a_leading_zh_switches() {
    let app = app().await;
    for (accept, expected) in [
        (None, "Not Found"),
        (Some("en-US,en;q=0.9"), "Not Found"),
        (Some("fr-FR"), "Not Found"),
        (Some("*"), "Not Found"),
        (Some("en;q=0.4,zh-TW;q=0.8"), "资源不存在"),
        (Some("zh"), "资源不存在"),
    ] {
        let answer = match accept {
            Some(accept) => app.in_lang(accept).get("/missing", None).await,
            None => app.get("/missing", None).await,
        };
        assert_eq!(answer.body["message"], expected, "Accept-Language {accept:?}");
        assert_eq!(answer.body["error_code"], "NOT_FOUND");
    }
}
