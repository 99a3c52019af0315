//! The one table that turns every failure into a status, an `error_code` and localized text
//! (contract section 6). Handlers and extractors return [`ApiError`]; its response carries a
//! [`PendingError`] that the envelope layer renders with the request id and the client's
//! language. A 5xx answer is opaque: its cause is logged here once, never sent.

use super::i18n::Lang;
use crate::domain::error::{
    Error as DomainError, FieldError, Reason, RefreshError, TokenError, UniqueField, WechatFailure,
};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A failure on its way to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain failure.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// No route for the path.
    #[error("route not found")]
    RouteNotFound,
    /// The body is over the size limit.
    #[error("body too large")]
    BodyTooLarge,
    /// A non-empty body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Not JSON, or a field of the wrong type (`field` names it when known).
    #[error("invalid JSON")]
    InvalidJson {
        /// Path of the offending field, e.g. `password`.
        field: Option<String>,
    },
    /// `/readyz`: these dependencies do not answer.
    #[error("not ready")]
    NotReady(Vec<&'static str>),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Domain(DomainError::Token(e))
    }
}

/// One `details` entry, in both languages until the language is known.
#[derive(Debug, Clone)]
pub struct PendingDetail {
    /// The field.
    pub field: String,
    /// Machine-readable reason.
    pub reason: &'static str,
    /// English text.
    pub en: String,
    /// Chinese text.
    pub zh: String,
}

/// An error response waiting for the envelope layer to render it.
#[derive(Debug, Clone)]
pub struct PendingError {
    /// Stable machine code.
    pub error_code: &'static str,
    /// English reason.
    pub en: String,
    /// Chinese reason.
    pub zh: String,
    /// Per-field problems.
    pub details: Vec<PendingDetail>,
}

impl PendingError {
    /// The reason in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        lang.pick(&self.en, &self.zh)
    }
}

fn field_zh(field: &str) -> &str {
    match field {
        "username" => "用户名",
        "email" => "邮箱",
        "password" => "密码",
        "phone" => "手机号",
        "nickname" => "昵称",
        "avatar_url" => "头像地址",
        "old_password" => "原密码",
        "new_password" => "新密码",
        "status" => "状态",
        "roles" => "角色",
        "role" => "角色",
        other => other,
    }
}

/// Localized text for one refused field.
fn field_detail(error: &FieldError) -> PendingDetail {
    let f = error.field;
    let fz = field_zh(f);
    let (en, zh) = match (f, error.reason) {
        (_, Reason::Required) => (format!("{f} is required"), format!("{fz}不能为空")),
        (_, Reason::TooShort(n)) => (
            format!("{f} must be at least {n} characters"),
            format!("{fz}至少需要{n}个字符"),
        ),
        (_, Reason::TooLong(n)) => (
            format!("{f} must be at most {n} characters"),
            format!("{fz}最多{n}个字符"),
        ),
        ("username", Reason::Invalid) => (
            "username may contain only letters, digits, _, . and -, and must not be a phone number".to_owned(),
            "用户名只能包含字母、数字、_、.和-，且不能是手机号".to_owned(),
        ),
        ("email", Reason::Invalid) => ("email is not a valid address".to_owned(), "邮箱格式不正确".to_owned()),
        ("phone", Reason::Invalid) => (
            "phone must be a mainland China mobile number or in E.164 form (+ and 8-15 digits)".to_owned(),
            "手机号格式不正确".to_owned(),
        ),
        ("avatar_url", Reason::Invalid) => (
            "avatar_url must be an http or https URL".to_owned(),
            "头像地址必须是http或https链接".to_owned(),
        ),
        ("nickname", Reason::Invalid) => (
            "nickname must not contain control characters".to_owned(),
            "昵称不能包含控制字符".to_owned(),
        ),
        ("totp", Reason::Taken) => (
            "TOTP is already enabled; disable it before setting it up again".to_owned(),
            "已启用两步验证，请先停用再重新设置".to_owned(),
        ),
        (_, Reason::Invalid) => (format!("{f} is not valid"), format!("{fz}格式不正确")),
        (_, Reason::Taken) => (format!("{f} is already taken"), format!("{fz}已被占用")),
        (_, Reason::SelfLockout) => (
            format!("{f}: administrators cannot disable their own account or remove their own admin role"),
            format!("{fz}：管理员不能禁用自己的账户或移除自己的admin角色"),
        ),
    };
    PendingDetail {
        field: f.to_owned(),
        reason: error.reason.code(),
        en,
        zh,
    }
}

fn simple(error_code: &'static str, en: &str, zh: &str) -> PendingError {
    PendingError {
        error_code,
        en: en.to_owned(),
        zh: zh.to_owned(),
        details: Vec::new(),
    }
}

/// The pending error for a bare status (404, 405, 413, … from routing or a layer).
pub fn for_status(status: StatusCode) -> PendingError {
    match status.as_u16() {
        404 => simple("NOT_FOUND", "no such route", "接口不存在"),
        405 => simple(
            "METHOD_NOT_ALLOWED",
            "method not allowed on this route",
            "该接口不支持此请求方法",
        ),
        413 => simple("BODY_TOO_LARGE", "request body is over 64 KiB", "请求体超过64 KiB"),
        415 => simple(
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/json",
            "Content-Type必须是application/json",
        ),
        400 => simple("VALIDATION_FAILED", "the request is malformed", "请求参数错误"),
        503 | 408 => simple(
            "SERVICE_UNAVAILABLE",
            "the service is temporarily unavailable",
            "服务暂不可用，请稍后重试",
        ),
        _ => simple("INTERNAL_ERROR", "internal server error", "服务器内部错误"),
    }
}

impl ApiError {
    /// Status, code and texts of this error.
    pub fn describe(&self) -> (StatusCode, PendingError) {
        use DomainError as D;
        match self {
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, for_status(StatusCode::NOT_FOUND)),
            ApiError::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, for_status(StatusCode::PAYLOAD_TOO_LARGE)),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            ApiError::InvalidJson { field: None } => (
                StatusCode::BAD_REQUEST,
                simple("INVALID_JSON", "request body is not valid JSON", "请求体不是有效的JSON"),
            ),
            ApiError::InvalidJson { field: Some(field) } => {
                let mut pending = simple("INVALID_JSON", "", "");
                pending.en = format!("field `{field}` has the wrong type");
                pending.zh = format!("字段 {field} 的类型不正确");
                pending.details.push(PendingDetail {
                    field: field.clone(),
                    reason: "wrong_type",
                    en: pending.en.clone(),
                    zh: pending.zh.clone(),
                });
                (StatusCode::BAD_REQUEST, pending)
            }
            ApiError::NotReady(down) => {
                let names = down.join(", ");
                let mut pending = simple("SERVICE_UNAVAILABLE", "", "");
                pending.en = format!("not ready: {names} unreachable");
                pending.zh = format!("未就绪：{names} 无法连接");
                pending.details = down
                    .iter()
                    .map(|name| PendingDetail {
                        field: (*name).to_owned(),
                        reason: "unreachable",
                        en: format!("{name} does not answer"),
                        zh: format!("{name} 无响应"),
                    })
                    .collect();
                (StatusCode::SERVICE_UNAVAILABLE, pending)
            }
            ApiError::Domain(e) => match e {
                D::Validation(fields) => {
                    let details: Vec<PendingDetail> = fields.iter().map(field_detail).collect();
                    let (mut en, mut zh) = details
                        .first()
                        .map(|d| (d.en.clone(), d.zh.clone()))
                        .unwrap_or_else(|| ("request validation failed".into(), "请求参数错误".into()));
                    if details.len() > 1 {
                        en.push_str(&format!(" (and {} more)", details.len() - 1));
                        zh.push_str(&format!("（另有{}处错误）", details.len() - 1));
                    }
                    (
                        StatusCode::BAD_REQUEST,
                        PendingError {
                            error_code: "VALIDATION_FAILED",
                            en,
                            zh,
                            details,
                        },
                    )
                }
                D::Taken(field) => {
                    let (code, en, zh) = match field {
                        UniqueField::Username => ("USERNAME_TAKEN", "username already taken", "用户名已被占用"),
                        UniqueField::Email => ("EMAIL_TAKEN", "email already registered", "邮箱已被注册"),
                        UniqueField::Phone => ("PHONE_TAKEN", "phone already registered", "手机号已被注册"),
                    };
                    let mut pending = simple(code, en, zh);
                    pending.details.push(PendingDetail {
                        field: field.field().to_owned(),
                        reason: "taken",
                        en: en.to_owned(),
                        zh: zh.to_owned(),
                    });
                    (StatusCode::CONFLICT, pending)
                }
                D::InvalidCredentials => (
                    StatusCode::UNAUTHORIZED,
                    simple(
                        "INVALID_CREDENTIALS",
                        "invalid username or password",
                        "用户名或密码错误",
                    ),
                ),
                D::AccountDisabled => (
                    StatusCode::FORBIDDEN,
                    simple("ACCOUNT_DISABLED", "this account is disabled", "账户已被禁用"),
                ),
                D::RegistrationDisabled => (
                    StatusCode::FORBIDDEN,
                    simple(
                        "REGISTRATION_DISABLED",
                        "self-registration is switched off",
                        "暂不开放注册",
                    ),
                ),
                D::Token(t) => {
                    let pending = match t {
                        TokenError::Missing => {
                            simple("TOKEN_MISSING", "missing Authorization header", "缺少Authorization头")
                        }
                        TokenError::Malformed => simple(
                            "TOKEN_MALFORMED",
                            "Authorization header must be 'Bearer <token>' with a JWT",
                            "无效的token",
                        ),
                        TokenError::Invalid | TokenError::UnknownKey => {
                            simple("TOKEN_INVALID", "invalid token", "无效的token")
                        }
                        TokenError::Expired => simple("TOKEN_EXPIRED", "token has expired", "token已过期"),
                        TokenError::Revoked => simple("TOKEN_REVOKED", "token has been revoked", "token已失效"),
                    };
                    (StatusCode::UNAUTHORIZED, pending)
                }
                D::Refresh(r) => {
                    let pending = match r {
                        RefreshError::Invalid => simple(
                            "REFRESH_TOKEN_INVALID",
                            "unknown or revoked refresh token",
                            "无效的refresh token",
                        ),
                        RefreshError::Expired => simple(
                            "REFRESH_TOKEN_EXPIRED",
                            "refresh token has expired",
                            "refresh token已过期",
                        ),
                        RefreshError::Reused => simple(
                            "REFRESH_TOKEN_REUSED",
                            "refresh token was already used; the session has been revoked",
                            "refresh token已被使用，该会话已被撤销",
                        ),
                    };
                    (StatusCode::UNAUTHORIZED, pending)
                }
                D::NotFound => (
                    StatusCode::NOT_FOUND,
                    simple("NOT_FOUND", "user not found", "用户不存在"),
                ),
                D::Forbidden => (
                    StatusCode::FORBIDDEN,
                    simple(
                        "FORBIDDEN",
                        "you do not have the role this needs",
                        "没有执行此操作的权限",
                    ),
                ),
                D::MfaInvalid => (
                    StatusCode::UNAUTHORIZED,
                    simple(
                        "MFA_INVALID",
                        "wrong or expired verification code",
                        "验证码错误或已过期",
                    ),
                ),
                D::SessionNotFound => (
                    StatusCode::NOT_FOUND,
                    simple("NOT_FOUND", "session not found", "会话不存在"),
                ),
                D::RateLimited { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    simple(
                        "RATE_LIMITED",
                        "too many requests, slow down",
                        "请求过于频繁，请稍后重试",
                    ),
                ),
                D::Locked { .. } => (
                    StatusCode::LOCKED,
                    simple(
                        "ACCOUNT_LOCKED",
                        "too many failed sign-ins; try again later",
                        "登录失败次数过多，账户已被临时锁定",
                    ),
                ),
                D::WechatNotConfigured => (
                    StatusCode::NOT_IMPLEMENTED,
                    simple(
                        "WECHAT_NOT_CONFIGURED",
                        "WeChat sign-in is not configured",
                        "未配置微信登录",
                    ),
                ),
                D::Wechat(failure) => match failure {
                    WechatFailure::CodeInvalid => (
                        StatusCode::BAD_REQUEST,
                        simple(
                            "WECHAT_CODE_INVALID",
                            "the WeChat code is invalid, expired or already used",
                            "微信code无效或已过期",
                        ),
                    ),
                    WechatFailure::RateLimited => (
                        StatusCode::TOO_MANY_REQUESTS,
                        simple(
                            "WECHAT_RATE_LIMITED",
                            "WeChat's rate limit was reached; retry in a minute",
                            "微信接口调用频率超限，请稍后重试",
                        ),
                    ),
                    WechatFailure::UserBlocked => (
                        StatusCode::FORBIDDEN,
                        simple(
                            "WECHAT_USER_BLOCKED",
                            "WeChat blocked this user's sign-in",
                            "微信判定该用户存在风险，登录被拦截",
                        ),
                    ),
                    WechatFailure::Unavailable => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        simple(
                            "WECHAT_UNAVAILABLE",
                            "WeChat is unavailable; retry shortly",
                            "微信服务暂不可用，请稍后重试",
                        ),
                    ),
                    WechatFailure::Timeout => (
                        StatusCode::GATEWAY_TIMEOUT,
                        simple("UPSTREAM_TIMEOUT", "WeChat did not answer in time", "微信服务响应超时"),
                    ),
                },
                D::WechatDecryptFailed => (
                    StatusCode::BAD_REQUEST,
                    simple(
                        "WECHAT_DECRYPT_FAILED",
                        "the WeChat data could not be decrypted",
                        "微信数据解密失败",
                    ),
                ),
                D::WechatAlreadyBound => (
                    StatusCode::CONFLICT,
                    simple(
                        "WECHAT_ALREADY_BOUND",
                        "this WeChat account is bound to another user",
                        "该微信已绑定其他账户",
                    ),
                ),
                D::LastLoginMethod => (
                    StatusCode::CONFLICT,
                    simple(
                        "LAST_LOGIN_METHOD",
                        "set a password before unbinding WeChat: it is this account's only way to sign in",
                        "该账户没有密码，解绑微信后将无法登录，请先设置密码",
                    ),
                ),
                D::RedirectUriNotAllowed => (
                    StatusCode::BAD_REQUEST,
                    simple(
                        "REDIRECT_URI_NOT_ALLOWED",
                        "redirect_uri is not on the allow-list",
                        "redirect_uri不在允许列表中",
                    ),
                ),
                D::OauthStateInvalid => (
                    StatusCode::BAD_REQUEST,
                    simple(
                        "OAUTH_STATE_INVALID",
                        "the OAuth state is missing, invalid, expired or already used",
                        "OAuth state无效、已过期或已被使用",
                    ),
                ),
                D::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    simple(
                        "SERVICE_UNAVAILABLE",
                        "too many sign-ins at once, retry shortly",
                        "登录请求过多，请稍后重试",
                    ),
                ),
                D::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    simple(
                        "SERVICE_UNAVAILABLE",
                        "the database is unavailable, retry shortly",
                        "数据库暂不可用，请稍后重试",
                    ),
                ),
                D::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    for_status(StatusCode::INTERNAL_SERVER_ERROR),
                ),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Domain(DomainError::Internal(cause)) => {
                tracing::error!(error = ?cause, "request failed")
            }
            ApiError::Domain(DomainError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        let (status, pending) = self.describe();
        let mut response = status.into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Domain(DomainError::Token(TokenError::Missing)) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Domain(DomainError::Token(_)) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Domain(DomainError::RateLimited { retry_after } | DomainError::Locked { retry_after, .. }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response.extensions_mut().insert(pending);
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_has_its_contract_status_and_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                DomainError::field("email", Reason::Invalid).into(),
                400,
                "VALIDATION_FAILED",
            ),
            (ApiError::InvalidJson { field: None }, 400, "INVALID_JSON"),
            (DomainError::InvalidCredentials.into(), 401, "INVALID_CREDENTIALS"),
            (TokenError::Missing.into(), 401, "TOKEN_MISSING"),
            (TokenError::Malformed.into(), 401, "TOKEN_MALFORMED"),
            (TokenError::Invalid.into(), 401, "TOKEN_INVALID"),
            (TokenError::Expired.into(), 401, "TOKEN_EXPIRED"),
            (TokenError::Revoked.into(), 401, "TOKEN_REVOKED"),
            (DomainError::AccountDisabled.into(), 403, "ACCOUNT_DISABLED"),
            (DomainError::RegistrationDisabled.into(), 403, "REGISTRATION_DISABLED"),
            (DomainError::Forbidden.into(), 403, "FORBIDDEN"),
            (DomainError::MfaInvalid.into(), 401, "MFA_INVALID"),
            (DomainError::NotFound.into(), 404, "NOT_FOUND"),
            (DomainError::Taken(UniqueField::Username).into(), 409, "USERNAME_TAKEN"),
            (DomainError::Taken(UniqueField::Email).into(), 409, "EMAIL_TAKEN"),
            (DomainError::Taken(UniqueField::Phone).into(), 409, "PHONE_TAKEN"),
            (ApiError::BodyTooLarge, 413, "BODY_TOO_LARGE"),
            (ApiError::UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
            (DomainError::Busy.into(), 503, "SERVICE_UNAVAILABLE"),
            (
                DomainError::Unavailable(anyhow::anyhow!("down")).into(),
                503,
                "SERVICE_UNAVAILABLE",
            ),
            (
                DomainError::Internal(anyhow::anyhow!("secret detail")).into(),
                500,
                "INTERNAL_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            let (s, pending) = error.describe();
            assert_eq!((s.as_u16(), pending.error_code), (status, code));
            assert!(!pending.en.contains("secret detail"));
        }
    }

    #[test]
    fn validation_errors_list_every_field_in_both_languages() {
        let error: ApiError = DomainError::Validation(vec![
            FieldError {
                field: "username",
                reason: Reason::TooShort(3),
            },
            FieldError {
                field: "email",
                reason: Reason::Invalid,
            },
        ])
        .into();
        let (_, pending) = error.describe();
        assert_eq!(pending.details.len(), 2);
        assert_eq!(pending.details[0].reason, "too_short");
        assert!(pending.en.contains("at least 3") && pending.en.contains("and 1 more"));
        assert!(pending.zh.contains("用户名"));
    }
}
