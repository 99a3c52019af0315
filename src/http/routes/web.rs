//! The web page at `/` and its assets under `/assets/{name}`: plain HTML, CSS and ES modules
//! from `web/`, built into the binary so the page needs nothing from the network at run time.
//! The page uses only the public API; this module only serves the files, with headers that
//! keep a browser from running anything but them (a strict Content-Security-Policy, no
//! framing, no sniffing) and ETags so a reload costs a 304.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use crate::http::error::ApiError;
use crate::http::openapi::ErrorEnvelope;

/// Scripts and styles only from this origin, API calls only to it, no plugins, no framing,
/// no inline code (the page has none, so an injected `<script>` cannot run). Images may be
/// `https:` so that a user's own avatar URL shows on their profile page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

/// One file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file the page is made of; `/assets/{name}` serves exactly these.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../web/index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../web/style.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/app.js"),
    },
    Asset {
        name: "i18n.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/i18n.js"),
    },
    Asset {
        name: "dom.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/dom.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/api.js"),
    },
    Asset {
        name: "account.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/account.js"),
    },
    Asset {
        name: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/admin.js"),
    },
    Asset {
        name: "qrcode.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/qrcode.js"),
    },
];

/// The ETag of each asset, computed once (the files are fixed for the binary's life).
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.body);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
        })
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
    let etag = ETAGS[index].clone();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim().as_bytes() == etag.as_bytes()));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
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
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap_or("");
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
    fn every_module_the_page_imports_is_served() {
        // A module imported but not listed here would 404 and break the page silently.
        for asset in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") || a.name.ends_with(".html"))
        {
            let text = std::str::from_utf8(asset.body).unwrap_or("");
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
