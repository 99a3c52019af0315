//! The web page's files over HTTP: what a browser gets at `/` and `/assets/{name}`, with the
//! headers that keep it from running anything else, revalidation by ETag, and an enveloped
//! 404 for a file that is not part of the page. (What the page does is tested in a real
//! browser by `tests/web.rs`.)

use crate::harness::{Backend, TestApp};

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

async fn get(app: &TestApp, path: &str, if_none_match: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn the_page_is_html_with_a_strict_content_security_policy() {
    let app = app().await;
    let response = get(&app, "/", None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers.contains_key("x-request-id"));
    let html = response.text().await.expect("body");
    assert!(
        html.contains("<script type=\"module\" src=\"/assets/app.js\">"),
        "{html}"
    );
    // No inline script: the CSP would block it, and its absence is what makes the CSP hold.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}

#[tokio::test]
async fn every_asset_the_page_loads_is_served_with_its_type() {
    let app = app().await;
    for (name, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("dom.js", "text/javascript; charset=utf-8"),
        ("i18n.js", "text/javascript; charset=utf-8"),
        ("account.js", "text/javascript; charset=utf-8"),
        ("admin.js", "text/javascript; charset=utf-8"),
        ("device.js", "text/javascript; charset=utf-8"),
        ("events.js", "text/javascript; charset=utf-8"),
        ("qrcode.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&app, &format!("/assets/{name}"), None).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], kind, "{name}");
        assert!(response.headers().contains_key("content-security-policy"), "{name}");
        assert!(!response.bytes().await.expect("body").is_empty(), "{name}");
    }
}

#[tokio::test]
async fn the_audit_events_module_is_made_from_the_servers_event_list_and_served_like_a_file() {
    let app = app().await;
    let response = get(&app, "/assets/events.js", None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("content-security-policy"));
    let etag = headers["etag"].to_str().expect("ascii").to_owned();
    let module = response.text().await.expect("body");
    let list = module
        .split_once("export const EVENTS = Object.freeze(")
        .and_then(|(_, rest)| rest.split_once(");"))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("no EVENTS in {module}"));
    let names: Vec<String> = serde_json::from_str(list).expect("a JSON list of names");
    let expected: Vec<&str> = hufu::domain::audit::Event::ALL.map(|event| event.name()).to_vec();
    assert_eq!(names, expected, "every event, in the contract's order");

    let again = get(&app, "/assets/events.js", Some(&etag)).await;
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn a_reload_with_the_etag_costs_a_304_and_another_tag_gets_the_file() {
    let app = app().await;
    let first = get(&app, "/assets/app.js", None).await;
    let etag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{etag}"
    );
    let body = first.bytes().await.expect("body");

    let again = get(&app, "/assets/app.js", Some(&etag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());

    // A list of tags is matched member by member.
    let listed = get(&app, "/assets/app.js", Some(&format!("\"old\", {etag}"))).await;
    assert_eq!(listed.status(), 304);

    let other = get(&app, "/assets/app.js", Some("\"something-else\"")).await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.bytes().await.expect("body"), body);

    // Each file has its own tag.
    let page = get(&app, "/", None).await;
    assert_ne!(page.headers()["etag"], etag.as_str());
}

#[tokio::test]
async fn a_file_that_is_not_part_of_the_page_is_an_enveloped_404() {
    let app = app().await;
    for path in [
        "/assets/nope.js",
        "/assets/..%2FCargo.toml",
        "/assets/app.js.map",
        "/index.html",
    ] {
        let answer = app.get(path, None).await;
        answer.expect_error(404, "NOT_FOUND");
    }
    let answer = app.call("POST", "/", None, None).await;
    answer.expect_error(405, "METHOD_NOT_ALLOWED");
}
