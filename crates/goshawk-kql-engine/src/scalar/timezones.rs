//! Time-zone conversions: `datetime_utc_to_local(utc, timezone)` and
//! `datetime_local_to_utc(local, timezone)`, with IANA zone names (`Europe/Brussels`) from the
//! tz database; an unknown zone gives null.
//!
//! A local time that falls in a spring-forward gap is read with the offset after the change
//! (the docs convert Brussels' nonexistent 2022-03-27 02:00 to 00:00 UTC), and one that occurs
//! twice in a fall-back overlap with the standard-time offset, as .NET does.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, TimestampNanosecondArray};
use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;
use goshawk_types::KustoType;

use super::{Call, KustoScalar, returns, to_datetime_array};
use crate::format::string_value;

fn naive(nanos: i64) -> NaiveDateTime {
    DateTime::from_timestamp_nanos(nanos).naive_utc()
}

fn nanos_of(value: NaiveDateTime) -> Option<i64> {
    value.and_utc().timestamp_nanos_opt()
}

fn utc_to_local(nanos: i64, zone: Tz) -> Option<i64> {
    nanos_of(zone.from_utc_datetime(&naive(nanos)).naive_local())
}

fn local_to_utc(nanos: i64, zone: Tz) -> Option<i64> {
    let local = naive(nanos);
    let offset_seconds = match zone.offset_from_local_datetime(&local) {
        LocalResult::Single(offset) => offset.fix().local_minus_utc(),
        // The later instant is the one in standard time.
        LocalResult::Ambiguous(first, second) => first
            .fix()
            .local_minus_utc()
            .min(second.fix().local_minus_utc()),
        LocalResult::None => {
            // In a gap: the offset in force a day later is the one after the change.
            let later = local.checked_add_signed(TimeDelta::days(1))?;
            zone.offset_from_utc_datetime(&later)
                .fix()
                .local_minus_utc()
        }
    };
    nanos.checked_sub(i64::from(offset_seconds).checked_mul(1_000_000_000)?)
}

fn converter(name: &'static str, convert: fn(i64, Tz) -> Option<i64>) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(2),
        returns(KustoType::DateTime),
        Arc::new(move |call: &Call<'_>| {
            let values = to_datetime_array(&call.args[0], call.types[0])?;
            let zones = call.strings(1);
            let mut parsed: Option<(String, Option<Tz>)> = None;
            let result: TimestampNanosecondArray = (0..call.rows)
                .map(|row| {
                    let value = values.is_valid(row).then(|| values.value(row))?;
                    let name = string_value(&zones, row)?;
                    // The zone is almost always a constant: parse it once.
                    if parsed.as_ref().is_none_or(|(n, _)| n != name) {
                        parsed = Some((name.to_string(), Tz::from_str(name.trim()).ok()));
                    }
                    let zone = parsed.as_ref().and_then(|(_, z)| *z)?;
                    convert(value, zone)
                })
                .collect();
            Ok(Arc::new(result.with_timezone("UTC")) as ArrayRef)
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        converter("datetime_utc_to_local", utc_to_local),
        converter("datetime_local_to_utc", local_to_utc),
    ]
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::{local_to_utc, utc_to_local};

    fn at(text: &str) -> i64 {
        crate::time::parse_datetime(text).unwrap_or_default()
    }

    #[test]
    fn brussels_across_the_spring_change() {
        let zone = Tz::Europe__Brussels;
        for (local, utc, back) in [
            ("2022-03-27 01:00", "2022-03-27 00:00", "2022-03-27 01:00"),
            ("2022-03-27 02:00", "2022-03-27 00:00", "2022-03-27 01:00"),
            ("2022-03-27 03:00", "2022-03-27 01:00", "2022-03-27 03:00"),
            ("2022-03-27 04:00", "2022-03-27 02:00", "2022-03-27 04:00"),
        ] {
            let converted = local_to_utc(at(local), zone);
            assert_eq!(converted, Some(at(utc)), "{local}");
            assert_eq!(
                converted.and_then(|u| utc_to_local(u, zone)),
                Some(at(back))
            );
        }
        // 02:30 happens twice on 2022-10-30; the standard-time one is an hour later in UTC.
        assert_eq!(
            local_to_utc(at("2022-10-30 02:30"), zone),
            Some(at("2022-10-30 01:30"))
        );
        let new_york = Tz::America__New_York;
        assert_eq!(
            local_to_utc(at("2022-03-13 02:30"), new_york),
            Some(at("2022-03-13 06:30"))
        );
    }
}
