//! The one time format of every body: RFC 3339, UTC, `Z` suffix, whole seconds.

use serde::Serializer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats `at` as `2026-01-01T12:00:00Z`.
pub fn rfc3339_seconds(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// `serialize_with` helper for time fields.
pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_seconds(*at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_second_precision_and_a_z_suffix() {
        let at = time::macros::datetime!(2026-01-01 12:00:00.987 +08:00);
        assert_eq!(rfc3339_seconds(at), "2026-01-01T04:00:00Z");
    }
}
