//! WeChat endpoints: Mini Program sign-in, website QR login (authorize and callback), and
//! binding, unbinding and the phone number for the signed-in user. All count under the WeChat
//! rate limit, except the authorize redirect, which calls nothing.

use super::auth::LoginResponse;
use crate::app::AppState;
use crate::domain::accounts::SignedIn;
use crate::domain::limits::Action;
use crate::domain::wechat;
use crate::http::envelope::Reply;
use crate::http::error::ApiResult;
use crate::http::extract::{Authenticated, Client, JsonBody};
use crate::http::i18n::Success;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The login response with `is_new_user`.
#[derive(Debug, Serialize)]
struct WechatLogin<'a> {
    #[serde(flatten)]
    login: LoginResponse<'a>,
    is_new_user: bool,
}

fn login_reply(signed_in: &SignedIn, is_new_user: bool) -> Reply {
    let data = WechatLogin {
        login: LoginResponse::from_signed_in(signed_in),
        is_new_user,
    };
    Reply::new(StatusCode::OK, Success::LoggedIn, &data)
}

/// `{code}` from `wx.login()`.
#[derive(Debug, Deserialize)]
pub struct CodeRequest {
    code: Option<String>,
}

/// Signs in with a Mini Program code.
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
    crate::http::observe::count_login(&state.metrics, crate::metrics::LoginMethod::MiniProgram, &outcome);
    let (signed_in, is_new_user) = outcome?;
    Ok(login_reply(&signed_in, is_new_user))
}

/// `?redirect_uri=` of the authorize step.
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
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

/// Redirects the browser to WeChat's QR page with a signed, single-use state.
pub async fn authorize(State(state): State<AppState>, Query(query): Query<AuthorizeQuery>) -> ApiResult<Response> {
    let url = wechat::authorize_url(&state.core, query.redirect_uri.as_deref().filter(|r| !r.is_empty()))?;
    found(&url)
}

/// What WeChat sends back to the callback (plus our own `redirect_uri`).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    redirect_uri: Option<String>,
}

/// Finishes QR login: back to the `redirect_uri` with the tokens in the fragment, or the
/// login response when the flow started without one.
pub async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    Query(query): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let redirect = query.redirect_uri.as_deref().filter(|r| !r.is_empty());
    let outcome = async {
        state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
        Ok::<_, crate::http::error::ApiError>(
            wechat::oauth_callback(&state.core, query.code, query.state, redirect, &client).await?,
        )
    }
    .await;
    crate::http::observe::count_login(&state.metrics, crate::metrics::LoginMethod::Website, &outcome);
    let (signed_in, is_new_user) = outcome?;
    let Some(redirect) = redirect else {
        return Ok(login_reply(&signed_in, is_new_user).into_response());
    };
    let mut target = url::Url::parse(redirect).map_err(|e| crate::domain::error::Error::Internal(e.into()))?;
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
pub async fn bind(
    State(state): State<AppState>,
    Client(client): Client,
    caller: Authenticated,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<Reply> {
    state.core.limits.rate(Action::Wechat, client.ip.as_deref()).await?;
    let user = wechat::bind(&state.core, caller.user_id(), body.code, &client).await?;
    Ok(Reply::ok(&user))
}

/// Unbinds the caller's WeChat identities (refused when it is the only way to sign in).
pub async fn unbind(State(state): State<AppState>, Client(client): Client, caller: Authenticated) -> ApiResult<Reply> {
    let user = wechat::unbind(&state.core, caller.user_id(), &client).await?;
    Ok(Reply::ok(&user))
}

/// Phone body: the new API's `code`, or the legacy `encrypted_data` and `iv`.
#[derive(Debug, Deserialize)]
pub struct PhoneRequest {
    code: Option<String>,
    encrypted_data: Option<String>,
    iv: Option<String>,
}

/// Sets the caller's phone to the number WeChat vouches for.
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
