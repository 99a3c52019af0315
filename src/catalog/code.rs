//! The stable `error_code`s (contract sections 6 and 9), each with its generic text: what a
//! person reads when nothing more specific is said (a bare 404 from routing, a token refused).
//!
//! Adding a code is one row here plus its status in `http::error` (the compiler asks for it
//! there, and a unit test in `http::openapi` checks the row against the contract).

/// Declares [`ErrorCode`] from rows of `Variant = "WIRE", "English", "中文";`, so a code's
/// name, wire form and generic text are written once, side by side.
macro_rules! error_codes {
    ($($variant:ident = $wire:literal, $en:literal, $zh:literal;)*) => {
        /// A stable machine-readable reason: the `error_code` clients branch on. It never
        /// changes with the language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $wire, "`: ", $en, ".")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in the order the OpenAPI document lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire form, e.g. `"TOKEN_EXPIRED"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                }
            }

            /// The generic text `(en, zh)`.
            pub const fn text(self) -> (&'static str, &'static str) {
                match self {
                    $(ErrorCode::$variant => ($en, $zh),)*
                }
            }
        }
    };
}

error_codes! {
    ValidationFailed = "VALIDATION_FAILED", "the request is malformed", "请求参数错误";
    InvalidJson = "INVALID_JSON", "request body is not valid JSON", "请求体不是有效的JSON";
    InvalidCredentials = "INVALID_CREDENTIALS", "invalid username or password", "用户名或密码错误";
    TokenMissing = "TOKEN_MISSING", "missing Authorization header", "缺少Authorization头";
    TokenMalformed = "TOKEN_MALFORMED", "Authorization header must be 'Bearer <token>' with a JWT", "无效的token";
    TokenInvalid = "TOKEN_INVALID", "invalid token", "无效的token";
    TokenExpired = "TOKEN_EXPIRED", "token has expired", "token已过期";
    TokenRevoked = "TOKEN_REVOKED", "token has been revoked", "token已失效";
    RefreshTokenInvalid = "REFRESH_TOKEN_INVALID", "unknown or revoked refresh token", "无效的refresh token";
    RefreshTokenExpired = "REFRESH_TOKEN_EXPIRED", "refresh token has expired", "refresh token已过期";
    RefreshTokenReused = "REFRESH_TOKEN_REUSED",
        "refresh token was already used; the session has been revoked", "refresh token已被使用，该会话已被撤销";
    MfaInvalid = "MFA_INVALID", "wrong or expired verification code", "验证码错误或已过期";
    Forbidden = "FORBIDDEN", "you do not have the role this needs", "没有执行此操作的权限";
    AccountDisabled = "ACCOUNT_DISABLED", "this account is disabled", "账户已被禁用";
    ReauthRequired = "REAUTH_REQUIRED",
        "confirm it is you (password or code) to make this change", "请先验证身份（密码或验证码）再进行此操作";
    RegistrationDisabled = "REGISTRATION_DISABLED", "self-registration is switched off", "暂不开放注册";
    WechatUserBlocked = "WECHAT_USER_BLOCKED", "WeChat blocked this user's sign-in", "微信判定该用户存在风险，登录被拦截";
    NotFound = "NOT_FOUND", "no such route", "接口不存在";
    MethodNotAllowed = "METHOD_NOT_ALLOWED", "method not allowed on this route", "该接口不支持此请求方法";
    UsernameTaken = "USERNAME_TAKEN", "username already taken", "用户名已被占用";
    EmailTaken = "EMAIL_TAKEN", "email already registered", "邮箱已被注册";
    PhoneTaken = "PHONE_TAKEN", "phone already registered", "手机号已被注册";
    WechatAlreadyBound = "WECHAT_ALREADY_BOUND", "this WeChat account is bound to another user", "该微信已绑定其他账户";
    LastLoginMethod = "LAST_LOGIN_METHOD",
        "set a password before unbinding WeChat: it is this account's only way to sign in",
        "该账户没有密码，解绑微信后将无法登录，请先设置密码";
    BodyTooLarge = "BODY_TOO_LARGE", "request body is over 64 KiB", "请求体超过64 KiB";
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be application/json", "Content-Type必须是application/json";
    AccountLocked = "ACCOUNT_LOCKED", "too many failed sign-ins; try again later", "登录失败次数过多，账户已被临时锁定";
    RateLimited = "RATE_LIMITED", "too many requests, slow down", "请求过于频繁，请稍后重试";
    WechatRateLimited = "WECHAT_RATE_LIMITED",
        "WeChat's rate limit was reached; retry in a minute", "微信接口调用频率超限，请稍后重试";
    WechatCodeInvalid = "WECHAT_CODE_INVALID",
        "the WeChat code is invalid, expired or already used", "微信code无效或已过期";
    WechatDecryptFailed = "WECHAT_DECRYPT_FAILED", "the WeChat data could not be decrypted", "微信数据解密失败";
    RedirectUriNotAllowed = "REDIRECT_URI_NOT_ALLOWED",
        "redirect_uri is not on the allow-list", "redirect_uri不在允许列表中";
    OauthStateInvalid = "OAUTH_STATE_INVALID",
        "the OAuth state is missing, invalid, expired or already used", "OAuth state无效、已过期或已被使用";
    CodeInvalid = "CODE_INVALID", "wrong, expired or used code", "验证码错误或已失效";
    CodeChannelNotConfigured = "CODE_CHANNEL_NOT_CONFIGURED",
        "codes cannot be sent on this channel here", "暂不支持通过该方式发送验证码";
    CodeDeliveryFailed = "CODE_DELIVERY_FAILED",
        "the code could not be delivered; try again", "验证码发送失败，请重试";
    WechatNotConfigured = "WECHAT_NOT_CONFIGURED", "WeChat sign-in is not configured", "未配置微信登录";
    WechatUnavailable = "WECHAT_UNAVAILABLE", "WeChat is unavailable; retry shortly", "微信服务暂不可用，请稍后重试";
    UpstreamTimeout = "UPSTREAM_TIMEOUT", "WeChat did not answer in time", "微信服务响应超时";
    ServiceUnavailable = "SERVICE_UNAVAILABLE", "the service is temporarily unavailable", "服务暂不可用，请稍后重试";
    InternalError = "INTERNAL_ERROR", "internal server error", "服务器内部错误";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
