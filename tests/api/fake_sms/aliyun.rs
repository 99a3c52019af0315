//! The fake Aliyun Dysmsapi: `SendSms` (2017-05-25) with its parameters in the query,
//! checked as Aliyun's gateway does: the ACS3-HMAC-SHA256 `Authorization` recomputed from
//! the request as received (query re-canonicalised from what arrived, the signed headers'
//! values, the body's hash), the access key, the time (15 minutes) and the nonce (once).
//!
//! Authentication errors answer 4xx with `{"RequestId","Message","Recommend","HostId","Code"}`
//! (`SignatureDoesNotMatch` 400, `InvalidAccessKeyId.NotFound` 404, `IncompleteSignature`
//! 400, `SignatureNonceUsed` 400, `InvalidTimeStamp.Expired` 400); business errors answer 200
//! with `{"Code","Message","RequestId"}` (`isv.SMS_SIGNATURE_ILLEGAL`, …); success is
//! `{"Code":"OK","Message":"OK","BizId","RequestId"}`.

use super::{Knobs, Outcome, Received, SentSms};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;

const REQUIRED_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

fn error(status: StatusCode, code: &str, message: &str) -> Outcome {
    let body = json!({
        "RequestId": super::request_id(),
        "Message": message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"),
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
    });
    Outcome {
        status,
        body: body.to_string(),
        sent: Vec::new(),
    }
}

fn business(code: &str, message: &str) -> Outcome {
    let body = json!({ "Code": code, "Message": message, "RequestId": super::request_id() });
    Outcome {
        status: StatusCode::OK,
        body: body.to_string(),
        sent: Vec::new(),
    }
}

/// RFC 3986 encoding, written here again (Aliyun's rule: encode, then `+`→`%20`, `*`→`%2A`,
/// `%7E`→`~`, which is the same as leaving only the unreserved characters as they are).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The parts of `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
fn parse_authorization(value: &str) -> Option<(String, Vec<String>, String)> {
    let rest = value.strip_prefix("ACS3-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value.to_owned()),
            "SignedHeaders" => signed = Some(value.split(';').map(str::to_owned).collect()),
            "Signature" => signature = Some(value.to_owned()),
            _ => return None,
        }
    }
    Some((credential?, signed?, signature?))
}

/// Answers one request.
pub(crate) fn answer(received: &Received, knobs: &Knobs, nonces: &mut HashSet<String>) -> Outcome {
    let bad_request = StatusCode::BAD_REQUEST;
    let Some((credential, signed, signature)) = parse_authorization(received.header("authorization")) else {
        return error(
            bad_request,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        );
    };
    if credential != super::ACCESS_KEY_ID {
        return error(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        );
    }
    let mut sorted = signed.clone();
    sorted.sort();
    if sorted != signed || REQUIRED_SIGNED.iter().any(|h| !signed.iter().any(|s| s == h)) {
        return error(
            bad_request,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        );
    }
    let body_hash = super::sha256_hex(&received.body);
    if received.header("x-acs-content-sha256") != body_hash {
        return error(
            bad_request,
            "SignatureDoesNotMatch",
            "The content hash does not match the body.",
        );
    }
    // The query as it arrived, decoded and canonicalised again.
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(received.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut canonical: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    canonical.sort();
    let canonical_query = canonical
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = signed
        .iter()
        .map(|name| format!("{name}:{}\n", received.header(name).trim()))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{}\n{body_hash}",
        received.method,
        received.path,
        signed.join(";")
    );
    let string_to_sign = format!("ACS3-HMAC-SHA256\n{}", super::sha256_hex(canonical_request.as_bytes()));
    let expected = super::hex(&super::hmac_sha256(
        super::ACCESS_KEY_SECRET.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    if signature != expected {
        return error(
            bad_request,
            "SignatureDoesNotMatch",
            &format!("Specified signature does not match our calculation. server string to sign is:{string_to_sign}"),
        );
    }
    let date = time::OffsetDateTime::parse(
        received.header("x-acs-date"),
        &time::format_description::well_known::Rfc3339,
    );
    match date {
        Ok(date) if (date.unix_timestamp() - super::unix_now()).abs() <= 15 * 60 => {}
        _ => {
            return error(
                bad_request,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            );
        }
    }
    if !nonces.insert(received.header("x-acs-signature-nonce").to_owned()) {
        return error(
            bad_request,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        );
    }
    if received.method != Method::POST && received.method != Method::GET {
        return error(
            bad_request,
            "UnsupportedHTTPMethod",
            "Specified HTTP method is not supported.",
        );
    }
    if received.header("x-acs-action") != "SendSms" {
        return error(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found.",
        );
    }
    if received.header("x-acs-version") != "2017-05-25" {
        return error(
            bad_request,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        );
    }
    let mut param = |name: &str| {
        params
            .iter()
            .position(|(k, _)| k == name)
            .map(|i| params.swap_remove(i).1)
            .unwrap_or_default()
    };
    let (phones, sign_name, template, template_param) = (
        param("PhoneNumbers"),
        param("SignName"),
        param("TemplateCode"),
        param("TemplateParam"),
    );
    if phones.is_empty()
        || !phones
            .split(',')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return business("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
    }
    if sign_name != super::SIGN_NAME {
        return business("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名");
    }
    if template != super::TEMPLATE && template != super::TEMPLATE_LOGIN {
        return business("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板");
    }
    let params: Value = serde_json::from_str(&template_param).unwrap_or(Value::Null);
    let Some(code) = params.get(super::TEMPLATE_PARAM).and_then(Value::as_str) else {
        return business("isv.TEMPLATE_MISSING_PARAMETERS", "模版缺少变量");
    };
    if let Some(code) = &knobs.fail {
        return business(code, "触发号码天级流控");
    }
    let sent = phones
        .split(',')
        .map(|phone| SentSms {
            phone: phone.to_owned(),
            code: code.to_owned(),
            template: template.clone(),
            sign_name: sign_name.clone(),
            purpose: None,
            lang: None,
        })
        .collect();
    let biz_id = format!("{}^0", rand::random::<u64>() % 1_000_000_000_000_000);
    let body = json!({ "Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": super::request_id() });
    Outcome {
        status: StatusCode::OK,
        body: body.to_string(),
        sent,
    }
}
