//! Instants as Unix nanoseconds (UTC), the unit the lake and the engine use.

use chrono::{DateTime, SecondsFormat, Utc};

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// An instant as RFC 3339 with nanoseconds, which KQL's `datetime(...)` reads back exactly.
pub fn format_kql(nanos: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// An instant as RFC 3339, seconds precision, for people.
pub fn format_seconds(nanos: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_kql(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_seconds(3600 * NANOS_PER_SECOND),
            "1970-01-01T01:00:00Z"
        );
    }
}
