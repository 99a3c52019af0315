//! Request extractors that keep the envelope: a JSON body with the contract's 400/413/415
//! answers, the authenticated caller (the one place bearer tokens are checked), and the
//! client's address and user agent.

use super::error::ApiError;
use crate::domain::ClientContext;
use crate::domain::error::TokenError;
use crate::domain::sessions;
use crate::domain::tokens::AccessClaims;
use crate::domain::validate::{FieldErrors, Refused};
use crate::http::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// A JSON request body.
///
/// An empty body without a JSON `Content-Type` counts as `{}` (contract section 9: it needs
/// no `Content-Type`); one labelled `application/json` is `INVALID_JSON`, as an empty
/// document is not JSON (section 1). A non-empty body must be `application/json`. Unknown fields are ignored; a field of the wrong type is
/// named in the error without echoing its value (it may be a password).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
            });
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge
            } else {
                ApiError::InvalidJson { field: None }
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            // A body declared JSON must be JSON, and nothing is not (contract section 1);
            // reading it as `{}` would answer a truncated request with "field required".
            if json_type == Some(true) {
                return Err(ApiError::InvalidJson { field: None });
            }
            b"{}"
        } else if json_type != Some(true) {
            return Err(ApiError::UnsupportedMediaType);
        } else {
            &bytes
        };
        // serde would also accept a JSON array for a struct (fields by position); the
        // contract's bodies are objects, so anything else is refused up front.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::InvalidJson { field: None });
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let syntax = e.inner().is_syntax() || e.inner().is_eof();
            ApiError::InvalidJson {
                field: (!syntax && path != ".").then_some(path),
            }
        })?;
        deserializer.end().map_err(|_| ApiError::InvalidJson { field: None })?;
        Ok(JsonBody(value))
    }
}

/// The caller of an authenticated endpoint: a valid, unexpired access token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The token's claims.
    pub claims: std::sync::Arc<AccessClaims>,
}

impl Authenticated {
    /// The caller's user id.
    pub fn user_id(&self) -> i64 {
        self.claims.user_id
    }

    /// Refuses with `REAUTH_REQUIRED` unless the caller's session proved a credential within
    /// `HUFU_REAUTH_WINDOW` (contract section 11; read from the token, so from memory).
    pub fn require_recent_proof(&self, state: &AppState) -> Result<(), ApiError> {
        Ok(crate::domain::reauth::require_recent_proof(&state.core, &self.claims)?)
    }

    /// The caller's session id.
    pub fn session_id(&self) -> Result<i64, ApiError> {
        self.claims.sid.parse().map_err(|_| TokenError::Invalid.into())
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or(TokenError::Missing)?;
        let value = value.to_str().map_err(|_| TokenError::Malformed)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(TokenError::Malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(TokenError::Malformed.into());
        }
        let claims = sessions::authenticate(&state.core, token).await?;
        // The request's span (made by the envelope layer) carries the user into its log lines.
        tracing::Span::current().record("user_id", claims.user_id);
        Ok(Authenticated { claims })
    }
}

/// The role that may use the administration endpoints (defined with the other role rules).
pub use crate::domain::admin::ADMIN_ROLE;

/// The caller of an administration endpoint: a valid token of a user whose *current* roles
/// include `admin`. The roles are read from the cached profile (invalidated on every change),
/// not from the token, so removing the role cuts access at once, even with an older token.
#[derive(Debug, Clone)]
pub struct AdminUser {
    /// The administrator's verified token.
    pub caller: Authenticated,
}

impl AdminUser {
    /// The administrator's user id.
    pub fn user_id(&self) -> i64 {
        self.caller.user_id()
    }
}

/// The part of a cached profile the guard reads.
#[derive(serde::Deserialize)]
struct CurrentRoles {
    roles: Vec<String>,
    status: i16,
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Authenticated::from_request_parts(parts, state).await?;
        let json = match crate::domain::accounts::profile_json(&state.core, caller.user_id()).await {
            Ok(json) => json,
            Err(crate::domain::error::Error::NotFound) => return Err(TokenError::Revoked.into()),
            Err(other) => return Err(other.into()),
        };
        let current: CurrentRoles = serde_json::from_slice(&json)
            .map_err(|e| crate::domain::error::Error::Internal(anyhow::anyhow!("cached profile unreadable: {e}")))?;
        if current.status != crate::domain::user::STATUS_ACTIVE || !current.roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(crate::domain::error::Error::Forbidden.into());
        }
        Ok(AdminUser { caller })
    }
}

/// `page` (from 1) and `per_page` (1–100, default 20) of a listing, from the query string.
/// Anything else is 400 `VALIDATION_FAILED` naming the field (contract section 9), in the
/// envelope rather than as axum's plain-text rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl Paging {
    /// Largest `per_page`.
    pub const MAX_PER_PAGE: u32 = 100;
    /// `per_page` when none is given.
    pub const DEFAULT_PER_PAGE: u32 = 20;

    /// Parses the two parameters; `None` means absent.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, crate::domain::error::Error> {
        let mut errors = FieldErrors::default();
        let paging = Self::check(&mut errors, page, per_page);
        errors.finish(|| paging)
    }

    /// Parses the two parameters, recording their refusals in `errors`: for a listing with
    /// more parameters, whose refusals all go in the same answer.
    pub fn check(errors: &mut FieldErrors, page: Option<&str>, per_page: Option<&str>) -> Result<Self, Refused> {
        use crate::domain::error::Reason;
        let page = match page.map(str::parse::<u32>) {
            None => Ok(1),
            Some(Ok(n)) if n >= 1 => Ok(n),
            Some(_) => Err(errors.push("page", Reason::Invalid)),
        };
        let per_page = match per_page.map(str::parse::<u32>) {
            None => Ok(Self::DEFAULT_PER_PAGE),
            Some(Ok(n)) if (1..=Self::MAX_PER_PAGE).contains(&n) => Ok(n),
            Some(Ok(n)) if n > Self::MAX_PER_PAGE => {
                Err(errors.push("per_page", Reason::TooLong(Self::MAX_PER_PAGE as usize)))
            }
            Some(_) => Err(errors.push("per_page", Reason::Invalid)),
        };
        Ok(Paging {
            page: page?,
            per_page: per_page?,
        })
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    /// Rows to read.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

/// The client's IP (from the socket, or `X-Forwarded-For` when the peer is a trusted proxy)
/// and `User-Agent`.
#[derive(Debug, Clone)]
pub struct Client(pub ClientContext);

/// Picks the client IP: the socket peer, unless it is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    let mut last_seen = peer;
    for hop in chain.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return Some(last_seen);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        last_seen = ip;
    }
    Some(last_seen)
}

/// The client IP of a request: its socket peer (from `ConnectInfo`), or what a trusted proxy
/// says in `X-Forwarded-For` (see [`client_ip`]).
pub fn client_ip_of(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d; compare it as IPv4.
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    let mut lines = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    // Every X-Forwarded-For line, in order: a proxy that adds its own line must not leave a
    // client's forged first line in charge. (Joined only when there are several.)
    let ip = match (lines.next(), lines.next()) {
        (None, _) => client_ip(peer, None, trusted),
        (Some(only), None) => client_ip(peer, Some(only), trusted),
        (Some(first), Some(second)) => {
            let mut joined = format!("{first},{second}");
            for line in lines {
                joined.push(',');
                joined.push_str(line);
            }
            client_ip(peer, Some(&joined), trusted)
        }
    };
    ip.map(|ip| ip.to_canonical())
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = client_ip_of(&parts.headers, &parts.extensions, &state.trusted_proxies).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Client(ClientContext { ip, user_agent }))
    }
}

/// The language of the request (`Accept-Language`), for what is sent on its behalf (an email
/// or SMS with a code).
pub struct Language(pub crate::catalog::Lang);

impl FromRequestParts<AppState> for Language {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Language(crate::http::i18n::lang_from_accept_language(header)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_takes_pages_from_one_and_at_most_a_hundred_per_page() {
        assert_eq!(Paging::parse(None, None).unwrap(), Paging { page: 1, per_page: 20 });
        assert_eq!(Paging::parse(Some("3"), Some("100")).unwrap().offset(), 200);
        for (page, per_page) in [
            (Some("0"), None),
            (Some("x"), None),
            (None, Some("101")),
            (None, Some("0")),
            (Some("-1"), None),
        ] {
            assert!(Paging::parse(page, per_page).is_err(), "{page:?} {per_page:?}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(Some(stranger), Some("1.2.3.4"), &trusted), Some(stranger));
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4"), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        // A client cannot spoof by prepending: the right-most untrusted hop wins.
        assert_eq!(
            client_ip(Some(proxy), Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        assert_eq!(client_ip(Some(proxy), Some("garbage"), &trusted), Some(proxy));
    }
}
