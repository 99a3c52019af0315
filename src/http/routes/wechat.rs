//! WeChat endpoints: Mini Program sign-in, website QR login (authorize and callback), and
//! binding, unbinding and the phone number for the signed-in user. All count under the WeChat
//! rate limit, except the authorize redirect, which calls nothing.
//!
//! The QR flow's state is bound to the browser that started it through a cookie set by the
//! authorize step (`__Host-hufu_oauth` behind https, `hufu_oauth` otherwise): HttpOnly so
//! scripts cannot read it, SameSite=Lax so it still comes along on WeChat's top-level redirect
//! back to the callback, 10 minutes like the state.

use super::auth::LoginResponse;
use crate::catalog::Success;
use crate::domain::accounts::LoginOutcome;
use crate::domain::limits::Action;
use crate::domain::sessions::SignedIn;
use crate::domain::wechat;
use crate::http::AppState;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::openapi::{ErrorEnvelope, UserEnvelope, WechatLoginEnvelope, errors};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The login response with `is_new_user`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WechatLogin<'a> {
    #[serde(flatten)]
    login: LoginResponse<'a>,
    /// Whether this sign-in created the account.
    is_new_user: bool,
}

/// A WeChat sign-in's answer: the login response with `is_new_user`, or, for a user with TOTP
/// on, `mfa_required` (complete with `POST /api/v1/auth/mfa`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WechatLoginOrMfa<'a> {
    /// Signed in.
    SignedIn(WechatLogin<'a>),
    /// A second factor is needed.
    MfaRequired(super::mfa::MfaRequiredResponse<'a>),
}

/// The answer for a WeChat sign-in's outcome.
fn outcome_reply(outcome: &LoginOutcome, is_new_user: bool) -> Reply {
    match outcome {
        LoginOutcome::SignedIn(signed_in) => login_reply(signed_in, is_new_user),
        LoginOutcome::MfaRequired(challenge) => Reply::ok(&WechatLoginOrMfa::MfaRequired(
            super::mfa::MfaRequiredResponse::from_challenge(challenge),
        )),
    }
}

/// Counts a WeChat sign-in's outcome.
fn count(state: &AppState, method: crate::metrics::LoginMethod, outcome: &ApiResult<(LoginOutcome, bool)>) {
    let result = match outcome {
        Ok((LoginOutcome::SignedIn(_), _)) => crate::metrics::LoginResult::Success,
        Ok((LoginOutcome::MfaRequired(_), _)) => crate::metrics::LoginResult::MfaRequired,
        Err(error) => crate::http::observe::login_failure(error),
    };
    state.metrics.login(method, result);
}

fn login_reply(signed_in: &SignedIn, is_new_user: bool) -> Reply {
    let data = WechatLogin {
        login: LoginResponse::from_signed_in(signed_in),
        is_new_user,
    };
    Reply::new(StatusCode::OK, Success::LoggedIn, &data)
}

/// `{code}` from `wx.login()`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = WechatCodeRequest)]
pub struct CodeRequest {
    /// The code from `wx.login()`.
    #[schema(value_type = String)]
    code: Option<String>,
}

/// Signs in with a Mini Program code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/wechat/miniprogram",
    tag = "wechat",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Signed in (the account is created on first sign-in), or `mfa_required` for a user with TOTP on", body = WechatLoginEnvelope),
        (status = 400, description = "`VALIDATION_FAILED`, `INVALID_JSON` or `WECHAT_CODE_INVALID`", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED` or `WECHAT_USER_BLOCKED`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::WECHAT_RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = errors::WECHAT_NOT_CONFIGURED, body = ErrorEnvelope),
        (status = 503, description = errors::WECHAT_UNAVAILABLE, body = ErrorEnvelope),
        (status = 504, description = errors::UPSTREAM_TIMEOUT, body = ErrorEnvelope),
    ),
)]
pub async fn mini_program(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    let outcome = async {
        state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
        Ok::<_, crate::http::error::ApiError>(wechat::mini_program_login(&state.core, body.code, &client).await?)
    }
    .await;
    count(&state, crate::metrics::LoginMethod::MiniProgram, &outcome);
    let (outcome, is_new_user) = outcome?;
    Ok(outcome_reply(&outcome, is_new_user))
}

/// `?redirect_uri=` of the authorize step.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// Where the callback sends the browser with the tokens; must match the allow-list.
    redirect_uri: Option<String>,
}

fn found(location: &str) -> ApiResult<Response> {
    let location = HeaderValue::from_str(location).map_err(|e| crate::domain::error::Error::Internal(e.into()))?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// How long the browser-binding cookie lives: as long as the state it goes with.
const OAUTH_COOKIE_MAX_AGE_SECONDS: i64 = wechat::STATE_LIFETIME_SECONDS;

/// The cookie's name: with the `__Host-` prefix when hufu is served over https (the browser
/// then accepts it only Secure, from this host, for Path=/, so no sibling subdomain can plant
/// one); browsers refuse that prefix over plain http, where it is `hufu_oauth`.
fn oauth_cookie_name(state: &AppState) -> &'static str {
    if oauth_cookie_secure(state) {
        "__Host-hufu_oauth"
    } else {
        "hufu_oauth"
    }
}

fn oauth_cookie_secure(state: &AppState) -> bool {
    state.core.wechat.public_url.starts_with("https://")
}

/// The value of the browser-binding cookie in the request, if any (the first one of that name).
fn oauth_cookie<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    let name = oauth_cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// Redirects the browser to WeChat's QR page with a signed, single-use state bound to this
/// browser's cookie.
#[utoipa::path(
    get,
    path = "/api/v1/auth/wechat/oauth/authorize",
    tag = "wechat",
    params(AuthorizeQuery),
    responses(
        (status = 302, description = "To WeChat's authorize (QR) page with a signed, single-use, 10-minute `state`",
         headers(("Location" = String, description = "The WeChat URL"),
                 ("Set-Cookie" = String, description = "`__Host-hufu_oauth` (https) or `hufu_oauth`: the nonce \
                    the state is bound to; the callback refuses the state without it"))),
        (status = 400, description = "`VALIDATION_FAILED` or `REDIRECT_URI_NOT_ALLOWED`", body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = errors::WECHAT_NOT_CONFIGURED, body = ErrorEnvelope),
    ),
)]
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AuthorizeQuery>,
) -> ApiResult<Response> {
    let authorize = wechat::authorize_url(
        &state.core,
        query.redirect_uri.as_deref().filter(|r| !r.is_empty()),
        oauth_cookie(&state, &headers),
    )?;
    let mut response = found(&authorize.url)?;
    let secure = if oauth_cookie_secure(&state) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={}; Max-Age={OAUTH_COOKIE_MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax{secure}",
        oauth_cookie_name(&state),
        authorize.browser_nonce
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| crate::domain::error::Error::Internal(e.into()))?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// What WeChat sends back to the callback (plus our own `redirect_uri`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// WeChat's authorization code.
    code: Option<String>,
    /// The `state` the authorize step issued.
    state: Option<String>,
    /// The `redirect_uri` the flow started with, if any.
    redirect_uri: Option<String>,
}

/// Finishes QR login: back to the `redirect_uri` with the tokens in the fragment, or the
/// login response when the flow started without one.
#[utoipa::path(
    get,
    path = "/api/v1/auth/wechat/oauth/callback",
    tag = "wechat",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Signed in (the flow had no `redirect_uri`)", body = WechatLoginEnvelope),
        (status = 302, description = "To the `redirect_uri` with `#token=…&refresh_token=…&expires_in=…`",
         headers(("Location" = String, description = "The `redirect_uri` with the tokens in the fragment"))),
        (status = 400, description = "`VALIDATION_FAILED`, `OAUTH_STATE_INVALID` (also when the browser lacks the \
            authorize step's cookie), `REDIRECT_URI_NOT_ALLOWED` or `WECHAT_CODE_INVALID`", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_DISABLED` or `WECHAT_USER_BLOCKED`", body = ErrorEnvelope),
        (status = 429, description = errors::WECHAT_RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = errors::WECHAT_NOT_CONFIGURED, body = ErrorEnvelope),
        (status = 503, description = errors::WECHAT_UNAVAILABLE, body = ErrorEnvelope),
        (status = 504, description = errors::UPSTREAM_TIMEOUT, body = ErrorEnvelope),
    ),
)]
pub async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let redirect = query.redirect_uri.as_deref().filter(|r| !r.is_empty());
    let browser = oauth_cookie(&state, &headers);
    let outcome = async {
        state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
        Ok::<_, crate::http::error::ApiError>(
            wechat::oauth_callback(&state.core, query.code, query.state, redirect, browser, &client).await?,
        )
    }
    .await;
    count(&state, crate::metrics::LoginMethod::Website, &outcome);
    let (outcome, is_new_user) = outcome?;
    let Some(redirect) = redirect else {
        return Ok(outcome_reply(&outcome, is_new_user).into_response());
    };
    let mut target = url::Url::parse(redirect).map_err(|e| crate::domain::error::Error::Internal(e.into()))?;
    let signed_in = match &outcome {
        LoginOutcome::SignedIn(signed_in) => signed_in,
        LoginOutcome::MfaRequired(challenge) => {
            // The page finishes the sign-in with the second factor (`POST /auth/mfa`).
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("mfa_token", challenge.mfa_token.expose())
                .append_pair("methods", &crate::domain::mfa::METHODS.join(","))
                .append_pair("is_new_user", if is_new_user { "true" } else { "false" })
                .finish();
            target.set_fragment(Some(&fragment));
            return found(target.as_str());
        }
    };
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", &signed_in.access.token)
        .append_pair("token_type", "Bearer")
        .append_pair("expires_in", &signed_in.access.expires_in.to_string())
        .append_pair("refresh_token", signed_in.refresh_token.expose())
        .append_pair("refresh_expires_in", &signed_in.refresh_expires_in.to_string())
        .append_pair("is_new_user", if is_new_user { "true" } else { "false" })
        .finish();
    // A fragment never reaches servers or logs on the way, unlike a query string.
    target.set_fragment(Some(&fragment));
    found(target.as_str())
}

/// Binds the caller's account to the WeChat user of a Mini Program code.
#[utoipa::path(
    post,
    path = "/api/v1/users/wechat/bind",
    tag = "wechat",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "The user, with `wechat_bound: true`", body = UserEnvelope),
        (status = 400, description = "`VALIDATION_FAILED`, `INVALID_JSON` or `WECHAT_CODE_INVALID`", body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = "`WECHAT_USER_BLOCKED`; or `REAUTH_REQUIRED` (re-prove with `POST /auth/reauth`)", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 409, description = "`WECHAT_ALREADY_BOUND`: that WeChat user belongs to another account", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::WECHAT_RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = errors::WECHAT_NOT_CONFIGURED, body = ErrorEnvelope),
        (status = 503, description = errors::WECHAT_UNAVAILABLE, body = ErrorEnvelope),
        (status = 504, description = errors::UPSTREAM_TIMEOUT, body = ErrorEnvelope),
    ),
)]
pub async fn bind(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
    caller.require_recent_proof(&state)?;
    let user = wechat::bind(&state.core, caller.user_id(), body.code, &client).await?;
    Ok(Reply::ok(&user))
}

/// Unbinds the caller's WeChat identities (refused when it is the only way to sign in).
#[utoipa::path(
    delete,
    path = "/api/v1/users/wechat",
    tag = "wechat",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user, with `wechat_bound: false`", body = UserEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 403, description = "`REAUTH_REQUIRED`: the session proved no credential within `HUFU_REAUTH_WINDOW`; `POST /auth/reauth` first", body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 409, description = "`LAST_LOGIN_METHOD`: the user has no password", body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 503, description = errors::UNAVAILABLE, body = ErrorEnvelope),
    ),
)]
pub async fn unbind(State(state): State<AppState>, Client(client): Client, caller: Authenticated) -> ApiResult<Reply> {
    caller.require_recent_proof(&state)?;
    let user = wechat::unbind(&state.core, caller.user_id(), &client).await?;
    Ok(Reply::ok(&user))
}

/// Phone body: the new API's `code`, or the legacy `encrypted_data` and `iv`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneRequest {
    /// The new phone-number API's code…
    #[schema(nullable = false)]
    code: Option<String>,
    /// …or the legacy `encryptedData`, with `iv`.
    #[schema(nullable = false)]
    encrypted_data: Option<String>,
    /// The legacy `iv`.
    #[schema(nullable = false)]
    iv: Option<String>,
}

/// Sets the caller's phone to the number WeChat vouches for.
#[utoipa::path(
    post,
    path = "/api/v1/users/wechat/phone",
    tag = "wechat",
    security(("bearer" = [])),
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "The user, with the phone set", body = UserEnvelope),
        (status = 400, description = "`VALIDATION_FAILED`, `INVALID_JSON`, `WECHAT_CODE_INVALID` or \
            `WECHAT_DECRYPT_FAILED`", body = ErrorEnvelope),
        (status = 401, description = errors::TOKEN, body = ErrorEnvelope),
        (status = 404, description = errors::NOT_FOUND, body = ErrorEnvelope),
        (status = 409, description = "`PHONE_TAKEN`", body = ErrorEnvelope),
        (status = 413, description = errors::TOO_LARGE, body = ErrorEnvelope),
        (status = 415, description = errors::MEDIA_TYPE, body = ErrorEnvelope),
        (status = 429, description = errors::WECHAT_RATE_LIMITED, body = ErrorEnvelope),
        (status = 500, description = errors::INTERNAL, body = ErrorEnvelope),
        (status = 501, description = errors::WECHAT_NOT_CONFIGURED, body = ErrorEnvelope),
        (status = 503, description = errors::WECHAT_UNAVAILABLE, body = ErrorEnvelope),
        (status = 504, description = errors::UPSTREAM_TIMEOUT, body = ErrorEnvelope),
    ),
)]
pub async fn phone(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<PhoneRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
    let user = wechat::set_phone(
        &state.core,
        caller.user_id(),
        body.code,
        body.encrypted_data,
        body.iv,
        &client,
    )
    .await?;
    Ok(Reply::new(StatusCode::OK, Success::ProfileUpdated, &user))
}
