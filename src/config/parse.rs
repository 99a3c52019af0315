//! Parsers for setting values: durations, booleans, numbers, lists. Each returns a message
//! that the caller prefixes with the setting's name, so a bad setting is one clear line.

use std::time::Duration;

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
