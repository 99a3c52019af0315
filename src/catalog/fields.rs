//! Request fields by name, and why one was refused, in both languages. Each function is the
//! text of one refusal reason; a field named in its `match` has its own wording, any other
//! gets the general sentence with the field's name in it.

use super::Text;

/// The Chinese name of a request field; a field without one keeps its own name.
pub fn name_zh(field: &str) -> &str {
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
        "channel" => "发送方式",
        "target" => "手机号或邮箱",
        "purpose" => "验证码用途",
        "code" => "验证码",
        "email_code" => "邮箱验证码",
        "phone_code" => "手机验证码",
        other => other,
    }
}

/// The field is missing.
pub fn required(field: &str) -> Text {
    (format!("{field} is required"), format!("{}不能为空", name_zh(field))).into()
}

/// The field is shorter than `min` characters.
pub fn too_short(field: &str, min: usize) -> Text {
    (
        format!("{field} must be at least {min} characters"),
        format!("{}至少需要{min}个字符", name_zh(field)),
    )
        .into()
}

/// The field is longer than `max` characters.
pub fn too_long(field: &str, max: usize) -> Text {
    (
        format!("{field} must be at most {max} characters"),
        format!("{}最多{max}个字符", name_zh(field)),
    )
        .into()
}

/// The field is not of the required form; where the form is worth saying, it is said.
pub fn invalid(field: &str) -> Text {
    match field {
        "username" => (
            "username may contain only letters, digits, _, . and -, and must not be a phone number",
            "用户名只能包含字母、数字、_、.和-，且不能是手机号",
        )
            .into(),
        "email" => ("email is not a valid address", "邮箱格式不正确").into(),
        "phone" => (
            "phone must be a mainland China mobile number or in E.164 form (+ and 8-15 digits)",
            "手机号格式不正确",
        )
            .into(),
        "avatar_url" => (
            "avatar_url must be an http or https URL",
            "头像地址必须是http或https链接",
        )
            .into(),
        "nickname" => ("nickname must not contain control characters", "昵称不能包含控制字符").into(),
        other => (format!("{other} is not valid"), format!("{}格式不正确", name_zh(other))).into(),
    }
}

/// Another account (or, for `totp`, this one already) has the value.
pub fn taken(field: &str) -> Text {
    match field {
        "totp" => (
            "TOTP is already enabled; disable it before setting it up again",
            "已启用两步验证，请先停用再重新设置",
        )
            .into(),
        other => (
            format!("{other} is already taken"),
            format!("{}已被占用", name_zh(other)),
        )
            .into(),
    }
}

/// The change would lock an administrator out.
pub fn self_lockout(field: &str) -> Text {
    (
        format!("{field}: administrators cannot disable their own account or remove their own admin role"),
        format!("{}：管理员不能禁用自己的账户或移除自己的admin角色", name_zh(field)),
    )
        .into()
}
