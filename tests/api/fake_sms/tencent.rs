//! The fake Tencent Cloud SMS: `SendSms` of 2021-01-11, a JSON POST checked as the API
//! gateway does: the TC3-HMAC-SHA256 `Authorization` recomputed from the request as received
//! (the signed headers' lowercased values, the body's hash, the credential scope's date and
//! service against `X-TC-Timestamp`), the SecretId, and the time (5 minutes).
//!
//! Every answer is HTTP 200. A failed call is `{"Response":{"Error":{"Code","Message"},
//! "RequestId"}}` (`AuthFailure.SignatureFailure`, `AuthFailure.SecretIdNotFound`,
//! `AuthFailure.SignatureExpire`, `AuthFailure.InvalidAuthorization`, …); an accepted one is
//! `{"Response":{"SendStatusSet":[{"SerialNo","PhoneNumber","Fee","SessionContext","Code",
//! "Message","IsoCode"}],"RequestId"}}` with `Code` `Ok` for each number sent.

use super::{Knobs, Outcome, Received, SentSms};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

fn error(code: &str, message: &str) -> Outcome {
    let body =
        json!({ "Response": { "Error": { "Code": code, "Message": message }, "RequestId": super::request_id() } });
    Outcome {
        status: StatusCode::OK,
        body: body.to_string(),
        sent: Vec::new(),
    }
}

/// The parts of `TC3-HMAC-SHA256 Credential=id/date/service/tc3_request, SignedHeaders=…,
/// Signature=…`.
fn parse_authorization(value: &str) -> Option<(Vec<String>, Vec<String>, String)> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(", ") {
        let (name, value) = part.split_once('=')?;
        match name {
            "Credential" => credential = Some(value.split('/').map(str::to_owned).collect::<Vec<_>>()),
            "SignedHeaders" => signed = Some(value.split(';').map(str::to_owned).collect()),
            "Signature" => signature = Some(value.to_owned()),
            _ => return None,
        }
    }
    Some((credential?, signed?, signature?))
}

fn utc_date(timestamp: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(timestamp).expect("a timestamp in range");
    format!("{:04}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day())
}

/// Answers one request.
pub(crate) fn answer(received: &Received, knobs: &Knobs) -> Outcome {
    let Some((credential, signed, signature)) = parse_authorization(received.header("authorization")) else {
        return error("AuthFailure.InvalidAuthorization", "Authorization header is invalid.");
    };
    let [secret_id, date, service, terminator] = credential.as_slice() else {
        return error("AuthFailure.InvalidAuthorization", "Credential is invalid.");
    };
    if secret_id != super::ACCESS_KEY_ID {
        return error(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        );
    }
    let Ok(timestamp) = received.header("x-tc-timestamp").parse::<i64>() else {
        return error(
            "MissingParameter",
            "The request is missing a required parameter `Timestamp`.",
        );
    };
    if (timestamp - super::unix_now()).abs() > 300 {
        return error(
            "AuthFailure.SignatureExpire",
            "Signature expired, the request timestamp is out of range.",
        );
    }
    let mut sorted = signed.clone();
    sorted.sort();
    let required = ["content-type", "host"].iter().all(|h| signed.iter().any(|s| s == h));
    if sorted != signed || !required || terminator != "tc3_request" {
        return error(
            "AuthFailure.InvalidAuthorization",
            "SignedHeaders must include content-type and host.",
        );
    }
    let canonical_headers: String = signed
        .iter()
        .map(|name| format!("{name}:{}\n", received.header(name).trim().to_ascii_lowercase()))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{}\n{}",
        received.method,
        received.path,
        received.query,
        signed.join(";"),
        super::sha256_hex(&received.body)
    );
    let scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        super::sha256_hex(canonical_request.as_bytes())
    );
    let key = super::hmac_sha256(format!("TC3{}", super::ACCESS_KEY_SECRET).as_bytes(), date.as_bytes());
    let key = super::hmac_sha256(&key, service.as_bytes());
    let key = super::hmac_sha256(&key, b"tc3_request");
    let expected = super::hex(&super::hmac_sha256(&key, string_to_sign.as_bytes()));
    if signature != expected || *date != utc_date(timestamp) || service != "sms" {
        return error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        );
    }
    if received.method != Method::POST {
        return error("InvalidParameter", "Only POST is used here.");
    }
    if received.header("x-tc-action") != "SendSms" {
        return error("InvalidAction", "The requested action does not exist.");
    }
    if received.header("x-tc-version") != "2021-01-11" {
        return error("NoSuchVersion", "The requested version does not exist.");
    }
    if received.header("x-tc-region").is_empty() {
        return error(
            "MissingParameter",
            "The request is missing a required parameter `Region`.",
        );
    }
    let body = super::json_body(received);
    if body.get("SmsSdkAppId").and_then(Value::as_str) != Some(super::SDK_APP_ID) {
        return error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.");
    }
    let sign_name = body.get("SignName").and_then(Value::as_str).unwrap_or("");
    if sign_name != super::SIGN_NAME {
        return error(
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "The signature is not approved or is incorrect.",
        );
    }
    let template = body.get("TemplateId").and_then(Value::as_str).unwrap_or("");
    if template != super::TEMPLATE && template != super::TEMPLATE_LOGIN {
        return error(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "The template is not approved or is incorrect.",
        );
    }
    let params: Vec<&str> = body
        .get("TemplateParamSet")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let [code] = params.as_slice() else {
        return error(
            "InvalidParameterValue.TemplateParameterFormatError",
            "The template parameters do not match the template.",
        );
    };
    let phones: Vec<&str> = body
        .get("PhoneNumberSet")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if phones.is_empty() {
        return error(
            "MissingParameter",
            "The request is missing a required parameter `PhoneNumberSet`.",
        );
    }
    if let Some(code) = &knobs.fail_error {
        return error(code, "The call failed (fail_next_error).");
    }
    let mut sent = Vec::new();
    let mut statuses = Vec::new();
    for phone in phones {
        let valid = phone.len() > 8 && phone.starts_with('+') && phone[1..].bytes().all(|b| b.is_ascii_digit());
        let (status, message) = match (&knobs.fail, valid) {
            (_, false) => ("InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"),
            (Some(code), true) => (code.as_str(), "the number was not sent to"),
            (None, true) => ("Ok", "send success"),
        };
        if status == "Ok" {
            sent.push(SentSms {
                phone: phone.to_owned(),
                code: (*code).to_owned(),
                template: template.to_owned(),
                sign_name: sign_name.to_owned(),
                purpose: None,
                lang: None,
            });
        }
        let iso = if phone.starts_with("+86") { "CN" } else { "XX" };
        statuses.push(json!({
            "SerialNo": format!("3369:{}", rand::random::<u64>()),
            "PhoneNumber": phone, "Fee": 1, "SessionContext": "",
            "Code": status, "Message": message, "IsoCode": iso,
        }));
    }
    let body = json!({ "Response": { "SendStatusSet": statuses, "RequestId": super::request_id() } });
    Outcome {
        status: StatusCode::OK,
        body: body.to_string(),
        sent,
    }
}
