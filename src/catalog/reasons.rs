//! Error texts beyond each code's generic one (`ErrorCode::text`): the fixed ones a domain
//! failure names more precisely, and the ones formatted with a value.

use super::Text;

/// `NOT_FOUND` for a user.
pub const USER_NOT_FOUND: (&str, &str) = ("user not found", "用户不存在");
/// `NOT_FOUND` for a session of the caller.
pub const SESSION_NOT_FOUND: (&str, &str) = ("session not found", "会话不存在");
/// `VALIDATION_FAILED` without a single field named.
pub const VALIDATION_FAILED: (&str, &str) = ("request validation failed", "请求参数错误");
/// `SERVICE_UNAVAILABLE` when the password hashing queue is full.
pub const SIGN_INS_BUSY: (&str, &str) = ("too many sign-ins at once, retry shortly", "登录请求过多，请稍后重试");
/// `SERVICE_UNAVAILABLE` when the database does not answer.
pub const DATABASE_UNAVAILABLE: (&str, &str) = (
    "the database is unavailable, retry shortly",
    "数据库暂不可用，请稍后重试",
);

/// The first of several refused fields, saying how many more there are (`more` ≥ 1).
pub fn first_of_many(first: &Text, more: usize) -> Text {
    (
        format!("{} (and {more} more)", first.en()),
        format!("{}（另有{more}处错误）", first.zh()),
    )
        .into()
}

/// `INVALID_JSON`: a field of the wrong type.
pub fn wrong_type(field: &str) -> Text {
    (
        format!("field `{field}` has the wrong type"),
        format!("字段 {field} 的类型不正确"),
    )
        .into()
}

/// `/readyz`: these dependencies (comma-separated) are unreachable.
pub fn not_ready(names: &str) -> Text {
    (
        format!("not ready: {names} unreachable"),
        format!("未就绪：{names} 无法连接"),
    )
        .into()
}

/// `/readyz`: one dependency does not answer.
pub fn no_answer(name: &str) -> Text {
    (format!("{name} does not answer"), format!("{name} 无响应")).into()
}
