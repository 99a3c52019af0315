//! `GET /api/v1/openapi.json`: valid OpenAPI 3.1, complete, and true to what the server answers.
//!
//! Served routes cannot be missing from the document: the router registers each one through
//! `utoipa_axum::routes!` (and a unit test in `src/http/openapi.rs` forbids a bare `.route(`).
//! These tests check the rest: the document validates against the official OpenAPI 3.1 schema,
//! it holds every endpoint of the contract, each documented operation is really routed and
//! answers with a documented status, and real answers match their documented schemas.
//! The store does not matter here, so they run on SQLite.

use crate::harness::paths::{HEALTH, JWKS, LOGIN, READY, REGISTER, SESSIONS, TOTP_SETUP};
use crate::harness::{Backend, TestApp};
use serde_json::{Value, json};

/// The official schema of OpenAPI 3.1 documents (see `tests/fixtures/README.md`).
const OAS_31_SCHEMA: &str = include_str!("../fixtures/openapi-3.1-schema.json");

/// Every endpoint of the contract (section 4), operations included.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/mfa"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/wechat/miniprogram"),
    ("get", "/api/v1/auth/wechat/oauth/authorize"),
    ("get", "/api/v1/auth/wechat/oauth/callback"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/users/profile"),
    ("put", "/api/v1/users/profile"),
    ("put", "/api/v1/users/password"),
    ("get", "/api/v1/users/sessions"),
    ("delete", "/api/v1/users/sessions/{id}"),
    ("post", "/api/v1/users/mfa/totp/setup"),
    ("post", "/api/v1/users/mfa/totp/enable"),
    ("post", "/api/v1/users/mfa/totp/disable"),
    ("post", "/api/v1/users/wechat/bind"),
    ("delete", "/api/v1/users/wechat"),
    ("post", "/api/v1/users/wechat/phone"),
    ("get", "/api/v1/admin/users"),
    ("get", "/api/v1/admin/users/{id}"),
    ("patch", "/api/v1/admin/users/{id}"),
    ("delete", "/api/v1/admin/users/{id}/sessions"),
    ("get", "/api/v1/admin/audit"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

async fn document(app: &TestApp) -> Value {
    let answer = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.body.get("data").is_none(), "a standard format has no envelope");
    answer.body.clone()
}

/// `(method, path)` of every operation in `document`.
fn operations(document: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(*method).is_some() {
                out.push(((*method).to_owned(), path.clone()));
            }
        }
    }
    out
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = app().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");

    let schema: Value = serde_json::from_str(OAS_31_SCHEMA).expect("vendored schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the OpenAPI 3.1 schema compiles");
    let problems = errors(&validator, &document);
    assert!(problems.is_empty(), "not valid OpenAPI 3.1: {problems:#?}");

    // The validator is not a rubber stamp: broken documents fail.
    let mut broken = document.clone();
    broken["openapi"] = json!("3.0.3");
    assert!(!validator.is_valid(&broken), "a 3.0 version string must fail");
    let mut broken = document.clone();
    broken["paths"]["/healthz"]["get"]["responses"]["200"] = json!({"content": {}});
    assert!(
        !validator.is_valid(&broken),
        "a response without a description must fail"
    );

    // Every `$ref` in the document points at a component that exists.
    let text = document.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "dangling $ref to {name}"
        );
    }
}

#[tokio::test]
async fn the_document_describes_every_endpoint_and_every_route_it_lists_is_served() {
    let app = app().await;
    let document = document(&app).await;
    let documented = operations(&document);
    for (method, path) in CONTRACT {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{} {path} is in the contract but not in the document",
            method.to_uppercase()
        );
    }

    // What "no such route" looks like, to tell it apart from a resource's 404.
    let unrouted = app.get("/api/v1/no-such-route-here", None).await;
    unrouted.expect_error(404, "NOT_FOUND");
    let unrouted_text = unrouted.body["error"].clone();

    for (method, path) in &documented {
        let operation = &document["paths"][path][method];
        let concrete = path.replace("{id}", "1").replace("{name}", "app.js");
        let body = operation.get("requestBody").map(|_| json!({}));
        let answer = app.call(&method.to_uppercase(), &concrete, None, body).await;
        let routed = answer.status != 405 && !(answer.status == 404 && answer.body["error"] == unrouted_text);
        assert!(routed, "{method} {path} is documented but not routed: {}", answer.text);
        let status = answer.status.to_string();
        assert!(
            operation["responses"].get(&status).is_some(),
            "{method} {path} answered {status}, which it does not document: {}",
            answer.text
        );
        if operation.get("security").is_some() {
            answer.expect_error(401, "TOKEN_MISSING");
        }
    }

    // Every operation has a tag and an error envelope for each 4xx/5xx it documents.
    for (method, path) in &documented {
        let operation = &document["paths"][path][method];
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
        for (status, response) in operation["responses"].as_object().expect("responses") {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// A validator for one component schema of `document` (its `$ref`s resolve inside it).
fn component_validator(document: &Value, name: &str) -> jsonschema::Validator {
    let mut schema = document.clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["$ref"] = json!(format!("#/components/schemas/{name}"));
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{name} compiles: {e}"))
}

#[track_caller]
fn assert_matches(document: &Value, name: &str, body: &Value) {
    let problems = errors(&component_validator(document, name), body);
    assert!(problems.is_empty(), "{body} does not match {name}: {problems:#?}");
}

#[tokio::test]
async fn real_answers_match_their_documented_schemas() {
    let app = app().await;
    let document = document(&app).await;

    let registered = app
        .post(
            REGISTER,
            crate::harness::registration("oa_alice", "correct horse battery"),
        )
        .await;
    registered.expect_ok(201);
    assert_matches(&document, "UserEnvelope", &registered.body);

    let login = app
        .post(
            LOGIN,
            json!({"username": "oa_alice", "password": "correct horse battery"}),
        )
        .await;
    login.expect_ok(200);
    assert_matches(&document, "LoginOrMfaEnvelope", &login.body);
    assert_matches(&document, "LoginResponse", &login.body["data"]);
    let alice = app.signed(&login.body["data"]);

    let sessions = alice.get(SESSIONS).await;
    sessions.expect_ok(200);
    assert_matches(&document, "SessionsEnvelope", &sessions.body);

    let setup = alice.post_empty(TOTP_SETUP).await;
    setup.expect_ok(200);
    assert_matches(&document, "SetupEnvelope", &setup.body);

    let invalid = app.post(REGISTER, json!({"username": "x"})).await;
    invalid.expect_error(400, "VALIDATION_FAILED");
    assert_matches(&document, "ErrorEnvelope", &invalid.body);

    for (path, name) in [(HEALTH, "HealthEnvelope"), (READY, "ReadyEnvelope")] {
        let answer = app.get(path, None).await;
        answer.expect_ok(200);
        assert_matches(&document, name, &answer.body);
    }
    let jwks = app.get(JWKS, None).await;
    assert_matches(&document, "Jwks", &jwks.body);

    // The schemas are strict enough to catch a wrong answer.
    let mut wrong = registered.body.clone();
    wrong["data"]["id"] = json!("1");
    assert!(!component_validator(&document, "UserEnvelope").is_valid(&wrong));
    let mut wrong = invalid.body.clone();
    wrong["error_code"] = json!("NOT_A_CODE");
    assert!(!component_validator(&document, "ErrorEnvelope").is_valid(&wrong));
}
