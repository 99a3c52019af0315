//! The web page at `/` and its assets under `/assets/{name}`: plain HTML, CSS and ES modules
//! from `web/`, built into the binary so the page needs nothing from the network at run time.
//! The page uses only the public API; this module only serves the files, with headers that
//! keep a browser from running anything but them (a strict Content-Security-Policy, no
//! framing, no sniffing) and ETags so a reload costs a 304. One module, `events.js`, is
//! made here from the domain's audit `Event` list, so the page's event filter cannot drift
//! from the events the server records.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use crate::domain::audit::Event;
use crate::http::error::ApiError;
use crate::http::openapi::ErrorEnvelope;

/// Scripts and styles only from this origin, API calls only to it, no plugins, no framing,
/// no inline code (the page has none, so an injected `<script>` cannot run). Images may be
/// `https:` so that a user's own avatar URL shows on their profile page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

/// One file of the page in `web/`.
struct File {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The content type of the page's scripts.
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// Every file of the page in `web/`; with [`events_module`], what `/assets/{name}` serves.
const FILES: &[File] = &[
    File {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../web/index.html"),
    },
    File {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../web/style.css"),
    },
    File {
        name: "app.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/app.js"),
    },
    File {
        name: "i18n.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/i18n.js"),
    },
    File {
        name: "dom.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/dom.js"),
    },
    File {
        name: "api.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/api.js"),
    },
    File {
        name: "account.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/account.js"),
    },
    File {
        name: "admin.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/admin.js"),
    },
    File {
        name: "device.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/device.js"),
    },
    File {
        name: "qrcode.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../../../web/qrcode.js"),
    },
];

/// One file as served: its body and its ETag.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: Bytes,
    etag: HeaderValue,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: Bytes) -> Self {
        let digest = Sha256::digest(&body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""));
        Self {
            name,
            content_type,
            body,
            etag,
        }
    }
}

/// `events.js`: the audit events of the contract (section 4) in its order, as `EVENTS`, for
/// the audit log's filter. Made from [`Event::ALL`] rather than copied into `admin.js`; a
/// module the page imports, so the audit screen needs no extra request to draw it.
fn events_module() -> String {
    let names = serde_json::Value::from(Event::ALL.map(Event::name).to_vec());
    format!(
        "// events.js — made by hufu from its audit event list (src/domain/audit.rs), in the contract's order.\n\
         export const EVENTS = Object.freeze({names});\n"
    )
}

/// Every file the page is made of, with its ETag, built once (they are fixed for the
/// binary's life); `/assets/{name}` serves exactly these, `/` the first.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|file| Asset::new(file.name, file.content_type, Bytes::from_static(file.body)))
        .chain([Asset::new("events.js", JAVASCRIPT, Bytes::from(events_module()))])
        .collect()
});

/// The page itself.
#[utoipa::path(
    get,
    path = "/",
    tag = "web",
    responses(
        (status = 200, description = "The web page (HTML, no envelope)", content_type = "text/html", body = String),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
    ),
)]
pub async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// One of the page's files (`app.js`, `style.css`, …).
#[utoipa::path(
    get,
    path = "/assets/{name}",
    tag = "web",
    params(("name" = String, Path, description = "The file's name, e.g. `app.js`")),
    responses(
        (status = 200, description = "The file (no envelope)", content(
            (String = "text/javascript"), (String = "text/css"), (String = "text/html"),
        )),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 404, description = "No such file", body = ErrorEnvelope),
    ),
)]
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|asset| asset.name == name) {
        Some(index) => serve(index, &headers),
        None => ApiError::RouteNotFound.into_response(),
    }
}

/// The asset at `index`, or 304 when the client already holds this version.
fn serve(index: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = asset.etag.clone();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim().as_bytes() == etag.as_bytes()));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.clone().into_response()
    };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    headers.insert(header::ETAG, etag);
    // Revalidate every time: a new binary must never run with an old cached script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_are_unique_and_every_file_is_non_empty() {
        for (i, asset) in ASSETS.iter().enumerate() {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            assert!(
                ASSETS[i + 1..].iter().all(|other| other.name != asset.name),
                "{} listed twice",
                asset.name
            );
        }
    }

    #[test]
    fn no_asset_loads_anything_from_another_origin() {
        // The page is served without network access at run time: no CDN, no web fonts.
        for asset in ASSETS.iter() {
            let text = std::str::from_utf8(&asset.body).unwrap_or("");
            for needle in ["src=\"http", "href=\"http", "url(http", "import 'http", "from 'http"] {
                assert!(
                    !text.contains(needle),
                    "{} refers to another origin ({needle})",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_events_module_lists_every_audit_event_in_the_contracts_order() {
        let module = events_module();
        let list = module
            .split_once("Object.freeze(")
            .and_then(|(_, rest)| rest.split_once(");"))
            .map(|(list, _)| list)
            .unwrap_or("");
        let names: Vec<String> = serde_json::from_str(list).unwrap_or_default();
        assert_eq!(names, Event::ALL.map(|e| e.name().to_owned()), "{module}");
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        // A module imported but not listed here would 404 and break the page silently.
        for asset in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") || a.name.ends_with(".html"))
        {
            let text = std::str::from_utf8(&asset.body).unwrap_or("");
            for part in text.split("'./").skip(1) {
                if let Some(name) = part.split('\'').next()
                    && name.ends_with(".js")
                {
                    assert!(
                        ASSETS.iter().any(|a| a.name == name),
                        "{} imports {name}, which is not served",
                        asset.name
                    );
                }
            }
        }
    }
}
