//! Parsers for setting values: durations, booleans, numbers, lists, and the checks of single
//! settings (URL prefixes, role names, the JWT secret's length…). Each returns a message that
//! the loader prefixes with the setting's name, so a bad setting is one clear line. They know
//! no setting's name: the declaration (`config::sections`) says which parser a setting uses.

use super::{JwtAlgorithm, LogFormat};
use crate::secret::SecretString;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The shortest timeout: the drivers' fields are milliseconds.
pub const MILLI: Duration = Duration::from_millis(1);
/// The shortest lifetime: lifetimes are whole seconds in tokens.
pub const SECOND: Duration = Duration::from_secs(1);
/// A minute.
pub const MINUTE: Duration = Duration::from_secs(60);
/// The longest timeout, so a typo cannot produce a driver panic.
pub const HOUR: Duration = Duration::from_secs(3_600);
/// The longest lifetime.
pub const YEAR: Duration = Duration::from_secs(366 * 86_400);

/// Parses `900s`, `15m`, `24h`, `7d`, `250ms`, or a bare number of seconds.
pub fn duration(raw: &str) -> Result<Duration, String> {
    let text = raw.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 900s, 15m, 24h or 7d, got {raw:?}"))?;
    let duration = match unit.trim() {
        "" | "s" => Duration::from_secs(value),
        "ms" => Duration::from_millis(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3_600)),
        "d" => Duration::from_secs(value.saturating_mul(86_400)),
        _ => {
            return Err(format!("expected a duration like 900s, 15m, 24h or 7d, got {raw:?}"));
        }
    };
    if duration.is_zero() {
        return Err(format!("must be longer than zero, got {raw:?}"));
    }
    Ok(duration)
}

/// Parses a duration (see [`duration`]) of at most `max`, where `0`/`0s` turns a wait off.
pub fn duration_up_to(raw: &str, max: Duration) -> Result<Duration, String> {
    let text = raw.trim();
    let zeros = text.bytes().take_while(|b| *b == b'0').count();
    if zeros > 0 && matches!(&text[zeros..], "" | "s" | "ms" | "m" | "h" | "d") {
        return Ok(Duration::ZERO);
    }
    duration_within(raw, MILLI, max)
}

/// Parses an SMTP URL: `smtp://` (STARTTLS required), `smtps://` (implicit TLS),
/// `smtp+insecure://` (plain, for a local relay) or `log:` (the server log).
pub fn smtp_url(raw: &str) -> Result<SecretString, String> {
    let text = raw.trim();
    if text == "log:" {
        return Ok(SecretString::new(text.to_owned()));
    }
    let Ok(url) = url::Url::parse(text) else {
        return Err("expected smtp://, smtps://, smtp+insecure:// or log:".to_owned());
    };
    if !matches!(url.scheme(), "smtp" | "smtps" | "smtp+insecure") {
        return Err(format!(
            "expected smtp://, smtps://, smtp+insecure:// or log:, got a {}: URL",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the SMTP URL names no host".to_owned());
    }
    Ok(SecretString::new(text.to_owned()))
}

/// Parses a duration (see [`duration`]) within `min..=max`.
pub fn duration_within(raw: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let value = duration(raw)?;
    if value < min || value > max {
        return Err(format!(
            "must be between {} and {}, got {raw:?}",
            describe(min),
            describe(max)
        ));
    }
    Ok(value)
}

fn describe(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Parses `true/false`, `1/0`, `yes/no`, `on/off`.
pub fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {raw:?}")),
    }
}

/// Parses a whole number within `min..=max`.
pub fn number_in<T>(raw: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value: T = raw
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number, got {raw:?}"))?;
    if value < min || value > max {
        return Err(format!("must be between {min} and {max}, got {value}"));
    }
    Ok(value)
}

/// Splits a comma-separated list, dropping empty entries.
pub fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A trimmed text.
pub fn text(raw: &str) -> Result<String, String> {
    Ok(raw.trim().to_owned())
}

/// A trimmed secret.
pub fn secret(raw: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(raw.trim()))
}

/// A path (trimmed).
pub fn path(raw: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(raw.trim()))
}

/// An address like `127.0.0.1:8080`.
pub fn socket_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse::<SocketAddr>()
        .map_err(|_| format!("expected an address like 127.0.0.1:8080, got {raw:?}"))
}

/// A database URL of a supported driver.
pub fn database_url(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    let known = ["sqlite:", "mysql://", "mariadb://", "postgres://", "postgresql://"];
    if known.iter().any(|p| v.starts_with(p)) {
        Ok(v.to_owned())
    } else {
        Err(format!("expected sqlite://PATH, mysql://… or postgres://…, got {v:?}"))
    }
}

/// A Redis URL, single or Cluster.
pub fn redis_url(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if ["redis://", "rediss://", "redis+cluster://", "rediss+cluster://"]
        .iter()
        .any(|p| v.starts_with(p))
    {
        Ok(v.to_owned())
    } else {
        Err(format!("expected redis://… or redis+cluster://host1,host2…, got {v:?}"))
    }
}

/// A Redis key prefix: braces would change the keys' Cluster slots, spaces break nothing but
/// are surely a mistake.
pub fn redis_prefix(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() || v.len() > 64 || v.contains(|c: char| c.is_whitespace() || c == '{' || c == '}') {
        Err(format!(
            "expected up to 64 characters without spaces or braces, got {v:?}"
        ))
    } else {
        Ok(v.to_owned())
    }
}

/// An HS256 secret of at least 32 bytes, taken as given (not trimmed).
pub fn jwt_secret(raw: &str) -> Result<SecretString, String> {
    if raw.len() < 32 {
        Err(format!("must be at least 32 bytes, got {}", raw.len()))
    } else {
        Ok(SecretString::new(raw))
    }
}

/// `HS256` or `EdDSA`.
pub fn jwt_algorithm(raw: &str) -> Result<JwtAlgorithm, String> {
    match raw.trim() {
        "HS256" => Ok(JwtAlgorithm::Hs256),
        "EdDSA" => Ok(JwtAlgorithm::EdDsa),
        other => Err(format!("expected HS256 or EdDSA, got {other:?}")),
    }
}

/// `json` or `pretty`.
pub fn log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim() {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        other => Err(format!("expected json or pretty, got {other:?}")),
    }
}

/// A comma-separated list of at least one role name, checked and de-duplicated.
pub fn roles(raw: &str) -> Result<Vec<String>, String> {
    let names = list(raw);
    if names.is_empty() {
        return Err("expected a comma-separated list of at least one role name".to_owned());
    }
    crate::domain::admin::role_list(&names)
        .map_err(|_| format!("role names are 1-32 of lower-case letters, digits, _ and -, got {raw:?}"))
}

/// A comma-separated list of IP addresses or CIDR ranges.
pub fn ip_nets(raw: &str) -> Result<Vec<IpNet>, String> {
    list(raw)
        .into_iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("expected IP addresses or CIDR ranges, got {item:?}"))
        })
        .collect()
}

/// A comma-separated list of http(s) URLs.
pub fn http_urls(raw: &str) -> Result<Vec<String>, String> {
    let entries = list(raw);
    match entries
        .iter()
        .find(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        Some(bad) => Err(format!("entries must be http(s) URLs, got {bad:?}")),
        None => Ok(entries),
    }
}

/// An http(s) URL, without a trailing `/`.
pub fn http_url(raw: &str) -> Result<String, String> {
    let v = raw.trim().trim_end_matches('/');
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.to_owned())
    } else {
        Err(format!("expected an http:// or https:// URL, got {raw:?}"))
    }
}

/// A 32-byte key in base64.
pub fn key(raw: &str) -> Result<[u8; 32], String> {
    super::secrets::decode_key(raw).ok_or_else(|| "expected 32 bytes in base64".to_owned())
}

/// Percent-encodes a URL user-info part (user name or password) built from the seed
/// documents' `DB_*`/`REDIS_*` variables.
pub fn encode_userinfo(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_contract_forms() {
        assert_eq!(duration("900s").unwrap(), Duration::from_secs(900));
        assert_eq!(duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("60").unwrap(), Duration::from_secs(60));
        assert!(duration("0s").is_err());
        assert!(duration("15 minutes").is_err());
        assert!(duration("m").is_err());
        assert!(duration("-5s").is_err());
    }

    #[test]
    fn booleans_and_numbers_are_checked() {
        assert!(boolean("TRUE").unwrap());
        assert!(!boolean("off").unwrap());
        assert!(boolean("maybe").is_err());
        assert_eq!(number_in("8", 6u32, 128).unwrap(), 8);
        assert!(number_in("5", 6u32, 128).is_err());
        assert!(number_in("x", 6u32, 128).is_err());
    }

    #[test]
    fn userinfo_is_percent_encoded() {
        assert_eq!(encode_userinfo("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        assert_eq!(list(" a, ,b ,"), vec!["a", "b"]);
    }
}
