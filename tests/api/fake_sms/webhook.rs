//! The fake receiver of hufu's SMS webhook: `POST /sms` with `{phone, code, purpose, lang}`,
//! checked as an operator's gateway would: `X-Hufu-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, t + "." + body)>` (contract section 12) recomputed here under
//! `WEBHOOK_SECRET`, and `t` within 5 minutes. A bad or missing signature is 401; a bad body
//! 400; success 200 `{"ok":true}`; `fail_next("503")` answers that status.

use super::{Knobs, Outcome, Received, SentSms};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

fn answer_with(status: StatusCode, body: Value) -> Outcome {
    Outcome {
        status,
        body: body.to_string(),
        sent: Vec::new(),
    }
}

/// `t` and `v1` of the signature header.
fn parse_signature(value: &str) -> Option<(String, String)> {
    let (mut t, mut v1) = (None, None);
    for part in value.split(',') {
        match part.split_once('=')? {
            ("t", value) => t = Some(value.to_owned()),
            ("v1", value) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    Some((t?, v1?))
}

/// Answers one request.
pub(crate) fn answer(received: &Received, knobs: &Knobs) -> Outcome {
    if received.method != Method::POST || received.path != super::WEBHOOK_PATH {
        return answer_with(StatusCode::NOT_FOUND, json!({ "error": "not found" }));
    }
    let unauthorized = || answer_with(StatusCode::UNAUTHORIZED, json!({ "error": "bad signature" }));
    let Some((t, v1)) = parse_signature(received.header("x-hufu-signature")) else {
        return unauthorized();
    };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(&received.body);
    let expected = super::hex(&super::hmac_sha256(super::WEBHOOK_SECRET.as_bytes(), &message));
    let fresh = t.parse::<i64>().is_ok_and(|t| (t - super::unix_now()).abs() <= 300);
    if v1 != expected || !fresh {
        return unauthorized();
    }
    let body = super::json_body(received);
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(phone), Some(code), Some(purpose), Some(lang)) =
        (field("phone"), field("code"), field("purpose"), field("lang"))
    else {
        return answer_with(
            StatusCode::BAD_REQUEST,
            json!({ "error": "phone, code, purpose and lang are required" }),
        );
    };
    if let Some(status) = &knobs.fail {
        let status = status.parse().ok().and_then(|s| StatusCode::from_u16(s).ok());
        let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return answer_with(status, json!({ "error": "fail_next" }));
    }
    let sent = SentSms {
        phone,
        code,
        template: String::new(),
        sign_name: String::new(),
        purpose: Some(purpose),
        lang: Some(lang),
    };
    Outcome {
        status: StatusCode::OK,
        body: json!({ "ok": true }).to_string(),
        sent: vec![sent],
    }
}
