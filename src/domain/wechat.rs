//! WeChat sign-in: Mini Program login, account binding, the phone number WeChat vouches for,
//! and website QR login (OAuth2). WeChat's `session_key` is kept sealed and never leaves the
//! server; a known `unionid` from another app of the same company signs into the same account.

use super::accounts::LoginOutcome;
use super::audit::{self, Event};
use super::error::{Error, FieldError, Reason, Result, UniqueField, WechatFailure};
use super::input::{Patch, ProfileChange, ProfileForm};
use super::sessions::{SignIn, start_session};
use super::user::{User, join_roles};
use super::validate;
use super::{ClientContext, Core};
use crate::store::{Duplicate, NewIdentity, NewUser, StoreError};
use crate::wechat::client::{PhoneInfo, WechatError};
use crate::wechat::{MiniProgram, Website, decrypt, redirect_allowed};
use rand::Rng;

/// How long an OAuth state is accepted.
pub const STATE_LIFETIME_SECONDS: i64 = 600;

/// Sorts a WeChat failure by the contract's table, logging WeChat's own code.
fn failure(api: &'static str, error: WechatError) -> Error {
    let sorted = match &error {
        WechatError::Code {
            errcode: 40029 | 40163 | 40030 | 42003,
            ..
        } => WechatFailure::CodeInvalid,
        WechatError::Code { errcode: 45011, .. } => WechatFailure::RateLimited,
        WechatError::Code { errcode: 40226, .. } => WechatFailure::UserBlocked,
        WechatError::Timeout => WechatFailure::Timeout,
        WechatError::Code { .. } | WechatError::Unexpected(_) => WechatFailure::Unavailable,
    };
    match &error {
        WechatError::Code { errcode, errmsg } => {
            tracing::warn!(api, errcode, errmsg = %errmsg, "WeChat refused a call")
        }
        other => tracing::warn!(api, error = %other, "WeChat call failed"),
    }
    Error::Wechat(sorted)
}

fn required(field: &'static str, value: Option<String>) -> Result<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(Error::Validation(vec![FieldError {
            field,
            reason: Reason::Required,
        }]))
}

fn mini_program(core: &Core) -> Result<&MiniProgram> {
    core.wechat.mini_program.as_ref().ok_or(Error::WechatNotConfigured)
}

fn website(core: &Core) -> Result<&Website> {
    core.wechat.website.as_ref().ok_or(Error::WechatNotConfigured)
}

/// A generated username: `wx_` and 10 lower-case letters or digits.
fn generated_username() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("wx_{suffix}")
}

/// The sealed form of a session key, bound to its identity.
fn seal_session_key(core: &Core, appid: &str, openid: &str, session_key: &str) -> Result<String> {
    core.keys
        .secret_box()
        .seal(session_key.as_bytes(), &format!("wechat_session_key:{appid}:{openid}"))
        .map_err(|e| Error::Internal(e.into()))
}

/// Who signs in through an identity, and whether they were just created.
struct Resolved {
    user: User,
    is_new_user: bool,
}

/// Finds the user of `(appid, openid)`, or of its `unionid` in another app (adding this
/// identity to them), or creates one; refreshes the identity's session key and unionid.
async fn resolve(
    core: &Core,
    identity: NewIdentity,
    profile: Option<(Option<String>, Option<String>)>,
    client: &ClientContext,
) -> Result<Resolved> {
    for attempt in 0..3 {
        if let Some((user_id, _)) = core.store.wechat_identity(&identity.appid, &identity.openid).await? {
            core.store.update_wechat_identity(&identity).await?;
            let user = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?.user;
            return Ok(Resolved {
                user,
                is_new_user: false,
            });
        }
        if let Some(unionid) = &identity.unionid
            && let Some(user_id) = core.store.wechat_user_by_unionid(unionid).await?
        {
            let record = audit::entry(core, Event::WechatBound, Some(user_id), client)
                .with_detail(serde_json::json!({"appid": identity.appid, "linked_by": "unionid"}));
            match core
                .store
                .insert_wechat_identity(user_id, &identity, Some(&record))
                .await
            {
                Ok(()) => {
                    core.invalidate_profile(user_id).await;
                    let user = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?.user;
                    return Ok(Resolved {
                        user,
                        is_new_user: false,
                    });
                }
                // Another request linked it at the same moment: look again.
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let username = generated_username();
        let (nickname, avatar_url) = profile.clone().unwrap_or_default();
        let new_user = NewUser {
            id: core.ids.next_id(),
            username_key: username.clone(),
            username,
            email: None,
            email_key: None,
            phone: None,
            password_hash: None,
            email_verified: false,
            phone_verified: false,
            roles: join_roles(&core.policy.default_roles),
            now_ms: identity.now_ms,
        };
        let record = audit::entry(core, Event::Register, Some(new_user.id), client)
            .with_detail(serde_json::json!({"method": "wechat", "appid": identity.appid}));
        match core.store.create_wechat_user(&new_user, &identity, Some(&record)).await {
            Ok(()) => {
                if nickname.is_some() || avatar_url.is_some() {
                    let form = ProfileForm {
                        nickname: nickname.map_or(Patch::Absent, Patch::Value),
                        avatar_url: avatar_url.map_or(Patch::Absent, Patch::Value),
                        ..Default::default()
                    };
                    // WeChat's nickname or avatar may not pass our checks; the account stands anyway.
                    if let Ok(change) = ProfileChange::parse(form, core.policy.require_phone)
                        && let Ok(user) = super::accounts::update_profile(core, new_user.id, change, client).await
                    {
                        return Ok(Resolved {
                            user,
                            is_new_user: true,
                        });
                    }
                }
                let user = core.store.user_by_id(new_user.id).await?.ok_or(Error::NotFound)?.user;
                return Ok(Resolved {
                    user,
                    is_new_user: true,
                });
            }
            // The identity appeared meanwhile (a concurrent first login), or the generated
            // username or id collided: try again from the top.
            Err(StoreError::Duplicate(_)) if attempt < 2 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!("could not resolve a WeChat identity")))
}

/// Exchanges a `wx.login()` code for the Mini Program identity it proves, session key sealed.
async fn identity_of_code(core: &Core, code: Option<String>) -> Result<NewIdentity> {
    let app = mini_program(core)?;
    let code = required("code", code)?;
    let session = core
        .wechat
        .client
        .code_to_session(&app.appid, app.secret.expose(), &code)
        .await
        .map_err(|e| failure("jscode2session", e))?;
    Ok(NewIdentity {
        session_key: Some(seal_session_key(
            core,
            &app.appid,
            &session.openid,
            &session.session_key,
        )?),
        appid: app.appid.clone(),
        openid: session.openid,
        unionid: session.unionid,
        now_ms: core.clock.unix_millis(),
    })
}

/// `POST /auth/wechat/miniprogram`: signs in with a `wx.login()` code.
pub async fn mini_program_login(
    core: &Core,
    code: Option<String>,
    client: &ClientContext,
) -> Result<(LoginOutcome, bool)> {
    let identity = identity_of_code(core, code).await?;
    let resolved = resolve(core, identity, None, client).await?;
    if !resolved.user.is_active() {
        return Err(Error::AccountDisabled);
    }
    Ok((
        signed_in_or_second_factor(core, resolved.user, client, SignIn::MiniProgram).await?,
        resolved.is_new_user,
    ))
}

/// A WeChat sign-in's end: a session, or for a user with TOTP on a second-factor challenge
/// (contract section 11: WeChat proves the WeChat user, not the account's second factor, so
/// a bound WeChat must not be a way around it). Wrong codes then count toward the lockout of
/// the account's username.
async fn signed_in_or_second_factor(
    core: &Core,
    user: User,
    client: &ClientContext,
    how: SignIn,
) -> Result<LoginOutcome> {
    if user.mfa_enabled {
        let identifier = validate::identifier(&user.username).normalised().to_owned();
        // The challenge holds while the account's password hash stays what it is now (a
        // password change meanwhile ends it, as for a password sign-in).
        let hash = core.store.user_by_id(user.id).await?.and_then(|a| a.password_hash);
        let challenge = super::mfa::challenge(core, user.id, &identifier, hash.as_deref(), client).await?;
        return Ok(LoginOutcome::MfaRequired(challenge));
    }
    Ok(LoginOutcome::SignedIn(Box::new(
        start_session(core, user, client, how, None).await?,
    )))
}

/// `POST /users/wechat/bind`: binds the Mini Program identity of a `wx.login()` code to the
/// signed-in user.
pub async fn bind(core: &Core, user_id: i64, code: Option<String>, client: &ClientContext) -> Result<User> {
    let identity = identity_of_code(core, code).await?;
    if let Some((owner, _)) = core.store.wechat_identity(&identity.appid, &identity.openid).await? {
        if owner != user_id {
            return Err(Error::WechatAlreadyBound);
        }
        core.store.update_wechat_identity(&identity).await?;
    } else {
        if let Some(unionid) = &identity.unionid
            && core
                .store
                .wechat_user_by_unionid(unionid)
                .await?
                .is_some_and(|owner| owner != user_id)
        {
            return Err(Error::WechatAlreadyBound);
        }
        let record = audit::entry(core, Event::WechatBound, Some(user_id), client)
            .with_detail(serde_json::json!({"appid": identity.appid}));
        match core
            .store
            .insert_wechat_identity(user_id, &identity, Some(&record))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(Error::WechatAlreadyBound),
            Err(e) => return Err(e.into()),
        }
    }
    core.invalidate_profile(user_id).await;
    super::accounts::profile(core, user_id).await
}

/// `DELETE /users/wechat`: removes the user's WeChat identities, unless that would leave the
/// account without a way to sign in.
pub async fn unbind(core: &Core, user_id: i64, client: &ClientContext) -> Result<User> {
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    if account.password_hash.is_none() {
        return Err(Error::LastLoginMethod);
    }
    let record = audit::entry(core, Event::WechatUnbound, Some(user_id), client);
    core.store.delete_wechat_identities(user_id, Some(&record)).await?;
    core.invalidate_profile(user_id).await;
    super::accounts::profile(core, user_id).await
}

/// The phone number WeChat vouches for: with a `code` of the phone-number button (current
/// API), or `encrypted_data` + `iv` decrypted with the stored session key (legacy).
pub async fn set_phone(
    core: &Core,
    user_id: i64,
    code: Option<String>,
    encrypted_data: Option<String>,
    iv: Option<String>,
    client: &ClientContext,
) -> Result<User> {
    let app = mini_program(core)?;
    let info = match (code.filter(|c| !c.trim().is_empty()), encrypted_data, iv) {
        (Some(code), _, _) => phone_by_code(core, app, code.trim()).await?,
        (None, Some(data), Some(iv)) => phone_by_decryption(core, app, user_id, &data, &iv).await?,
        _ => {
            return Err(Error::Validation(vec![FieldError {
                field: "code",
                reason: Reason::Required,
            }]));
        }
    };
    let country = match &info.country_code {
        serde_json::Value::String(text) => text.trim().trim_start_matches('+').to_owned(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => String::new(),
    };
    let candidate = if country.is_empty() || country == "86" {
        info.pure_phone_number.clone()
    } else {
        format!("+{country}{}", info.pure_phone_number)
    };
    let phone = validate::phone(&candidate).map_err(|_| Error::Wechat(WechatFailure::Unavailable))?;
    let record = audit::entry(core, Event::ProfileUpdated, Some(user_id), client)
        .with_detail(serde_json::json!({"fields": ["phone"], "source": "wechat"}));
    let saved = core
        .store
        .set_phone(user_id, &phone, core.clock.unix_millis(), Some(&record))
        .await;
    core.invalidate_profile(user_id).await;
    match saved {
        Ok(()) => {}
        Err(StoreError::Duplicate(Duplicate::Field(UniqueField::Phone))) => {
            return Err(Error::Taken(UniqueField::Phone));
        }
        Err(e) => return Err(e.into()),
    }
    super::accounts::profile(core, user_id).await
}

async fn phone_by_code(core: &Core, app: &MiniProgram, code: &str) -> Result<PhoneInfo> {
    let client = &core.wechat.client;
    let mut retried = false;
    loop {
        let token = app.tokens.get(client).await.map_err(|e| failure("token", e))?;
        match client.phone_number(&token, code).await {
            Ok(info) => return Ok(info),
            // The shared token was invalidated or expired early: renew it once and retry.
            Err(WechatError::Code {
                errcode: 40001 | 42001, ..
            }) if !retried => {
                app.tokens.forget(&token).await;
                retried = true;
            }
            Err(e) => return Err(failure("getuserphonenumber", e)),
        }
    }
}

async fn phone_by_decryption(core: &Core, app: &MiniProgram, user_id: i64, data: &str, iv: &str) -> Result<PhoneInfo> {
    let Some((openid, Some(sealed))) = core.store.wechat_identity_of_user(user_id, &app.appid).await? else {
        return Err(Error::WechatDecryptFailed);
    };
    let session_key = core
        .keys
        .secret_box()
        .open(&sealed, &format!("wechat_session_key:{}:{openid}", app.appid))
        .map_err(|_| Error::WechatDecryptFailed)?;
    let session_key = String::from_utf8(session_key).map_err(|_| Error::WechatDecryptFailed)?;
    let payload = decrypt::decrypt(&session_key, data, iv, &app.appid).map_err(|_| Error::WechatDecryptFailed)?;
    serde_json::from_value(payload).map_err(|_| Error::WechatDecryptFailed)
}

/// Where the authorize step sends the browser, and the nonce its cookie must hold.
#[derive(Debug)]
pub struct Authorize {
    /// The WeChat QR page URL.
    pub url: String,
    /// The browser nonce the state is bound to (the caller sets it as a cookie).
    pub browser_nonce: String,
}

/// `GET /auth/wechat/oauth/authorize`: the WeChat QR page URL to redirect the browser to, with
/// a state bound to the browser's nonce. A browser that already holds a well-formed nonce (an
/// earlier authorize, perhaps in another tab) keeps it, so flows started in two tabs both work.
pub fn authorize_url(core: &Core, redirect_uri: Option<&str>, browser_nonce: Option<&str>) -> Result<Authorize> {
    let site = website(core)?;
    let redirect = redirect_uri.unwrap_or("");
    if !redirect.is_empty() && !redirect_allowed(&site.redirects, redirect) {
        return Err(Error::RedirectUriNotAllowed);
    }
    let browser = browser_nonce
        .filter(|b| crate::wechat::state::is_browser_nonce(b))
        .map_or_else(crate::wechat::state::browser_nonce, str::to_owned);
    let state = core
        .wechat
        .states
        .sign(redirect, &browser, core.clock.unix_seconds() + STATE_LIFETIME_SECONDS);
    let mut callback = url::Url::parse(&format!("{}/api/v1/auth/wechat/oauth/callback", core.wechat.public_url))
        .map_err(|e| Error::Internal(e.into()))?;
    if !redirect.is_empty() {
        callback.query_pairs_mut().append_pair("redirect_uri", redirect);
    }
    let mut page = url::Url::parse(&format!("{}/connect/qrconnect", core.wechat.open_base))
        .map_err(|e| Error::Internal(e.into()))?;
    page.query_pairs_mut()
        .append_pair("appid", &site.appid)
        .append_pair("redirect_uri", callback.as_str())
        .append_pair("response_type", "code")
        .append_pair("scope", "snsapi_login")
        .append_pair("state", &state);
    page.set_fragment(Some("wechat_redirect"));
    Ok(Authorize {
        url: page.to_string(),
        browser_nonce: browser,
    })
}

/// `GET /auth/wechat/oauth/callback`: checks the state (once), exchanges the code, reads the
/// user's WeChat profile and signs them in. `browser_nonce` is the authorize cookie's value:
/// without the one the state was made for, the state is refused (login CSRF).
pub async fn oauth_callback(
    core: &Core,
    code: Option<String>,
    state: Option<String>,
    redirect_uri: Option<&str>,
    browser_nonce: Option<&str>,
    client: &ClientContext,
) -> Result<(LoginOutcome, bool)> {
    let site = website(core)?;
    let redirect = redirect_uri.unwrap_or("");
    let state = state.ok_or(Error::OauthStateInvalid)?;
    let verified = core
        .wechat
        .states
        .verify(&state, redirect, browser_nonce, core.clock.unix_seconds())
        .ok_or(Error::OauthStateInvalid)?;
    // Used up before anything else happens, so a replay is refused even if it races.
    let expires_ms = verified.expires_at.saturating_mul(1_000);
    if !core
        .store
        .use_oauth_state(&verified.nonce, expires_ms, core.clock.unix_millis())
        .await?
    {
        return Err(Error::OauthStateInvalid);
    }
    let code = required("code", code)?;
    let wechat = &core.wechat.client;
    let token = wechat
        .oauth_token(&site.appid, site.secret.expose(), &code)
        .await
        .map_err(|e| failure("oauth2/access_token", e))?;
    let info = wechat
        .user_info(&token.access_token, &token.openid)
        .await
        .map_err(|e| failure("userinfo", e))?;
    let nickname = info.nickname.filter(|n| !n.trim().is_empty());
    let avatar = info
        .headimgurl
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let identity = NewIdentity {
        appid: site.appid.clone(),
        openid: token.openid,
        unionid: token.unionid.or(info.unionid),
        session_key: None,
        now_ms: core.clock.unix_millis(),
    };
    let resolved = resolve(core, identity, Some((nickname, avatar)), client).await?;
    if !resolved.user.is_active() {
        return Err(Error::AccountDisabled);
    }
    Ok((
        signed_in_or_second_factor(core, resolved.user, client, SignIn::WechatWebsite).await?,
        resolved.is_new_user,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_usernames_have_the_contract_shape_and_validate() {
        let name = generated_username();
        assert_eq!(name.len(), 13);
        assert!(name.starts_with("wx_") && name[3..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert!(validate::username(&name).is_ok());
    }
}
