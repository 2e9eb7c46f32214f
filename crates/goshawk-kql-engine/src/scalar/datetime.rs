//! Datetime functions: `ago`, `now`, `startof*`/`endof*`, `bin`/`floor`, `datetime_diff`,
//! `datetime_add`, `format_datetime`.
//!
//! `ago` and `now` never read the clock: the planner appends the query's fixed "now" (from
//! `--now`, or the time the query started) as their last argument, so a query is repeatable.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DurationNanosecondArray, Float64Array, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use chrono::{DateTime, Datelike, Months, Timelike};
use datafusion::common::Result as DFResult;
use goshawk_types::{KustoType, NANOS_PER_TICK};

use super::{
    Call, KustoScalar, is_numeric, returns, to_datetime_array, to_real_array, to_timespan_array,
};
use crate::error::EngineError;
use crate::time::{
    NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SECOND, Period, bin_datetime,
    bin_i64, end_of, format_datetime_pattern, start_of,
};

fn datetimes(call: &Call<'_>, index: usize) -> DFResult<TimestampNanosecondArray> {
    to_datetime_array(&call.args[index], call.types[index])
}

fn timespans(call: &Call<'_>, index: usize) -> DFResult<DurationNanosecondArray> {
    to_timespan_array(&call.args[index], call.types[index])
}

fn utc(values: TimestampNanosecondArray) -> ArrayRef {
    Arc::new(values.with_timezone("UTC"))
}

fn period_function(name: &'static str, period: Period, end: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        returns(KustoType::DateTime),
        Arc::new(move |call| {
            let dates = datetimes(call, 0)?;
            let offsets = if call.args.len() > 1 {
                Some(call.longs(1)?)
            } else {
                None
            };
            let result: TimestampNanosecondArray = (0..dates.len())
                .map(|row| {
                    if dates.is_null(row) {
                        return None;
                    }
                    let offset = match &offsets {
                        Some(o) if o.is_null(row) => return None,
                        Some(o) => o.value(row),
                        None => 0,
                    };
                    let value = dates.value(row);
                    if end {
                        end_of(period, value, offset)
                    } else {
                        start_of(period, value, offset)
                    }
                })
                .collect();
            Ok(utc(result))
        }),
    )
}

fn bin_return(name: &str, args: &[KustoType]) -> Result<KustoType, EngineError> {
    match args {
        [KustoType::DateTime, _] => Ok(KustoType::DateTime),
        [KustoType::TimeSpan, _] => Ok(KustoType::TimeSpan),
        [
            KustoType::Int | KustoType::Long,
            KustoType::Int | KustoType::Long,
        ] => Ok(KustoType::Long),
        [a, b] if is_numeric(*a) && (is_numeric(*b) || *b == KustoType::TimeSpan) => {
            Ok(KustoType::Real)
        }
        [KustoType::Dynamic, _] => Ok(KustoType::Dynamic),
        [other, _] => Err(EngineError::ArgumentType {
            name: name.to_string(),
            position: 1,
            expected: "a number, datetime or timespan".to_string(),
            got: other.to_string(),
        }),
        _ => Ok(KustoType::Real),
    }
}

fn bin_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let (value_type, size_type) = (call.types[0], call.types[1]);
    let size_nanos = |call: &Call<'_>| -> DFResult<Int64Array> {
        if size_type == KustoType::TimeSpan {
            let spans = timespans(call, 1)?;
            Ok(spans.iter().collect())
        } else {
            call.longs(1)
        }
    };
    match value_type {
        KustoType::DateTime | KustoType::TimeSpan => {
            let sizes = size_nanos(call)?;
            let values: Int64Array = if value_type == KustoType::DateTime {
                datetimes(call, 0)?.iter().collect()
            } else {
                timespans(call, 0)?.iter().collect()
            };
            let pairs = values.iter().zip(sizes.iter());
            Ok(if value_type == KustoType::DateTime {
                utc(pairs.map(|(v, s)| bin_datetime(v?, s?)).collect())
            } else {
                Arc::new(
                    pairs
                        .map(|(v, s)| bin_i64(v?, s?))
                        .collect::<DurationNanosecondArray>(),
                )
            })
        }
        KustoType::Int | KustoType::Long
            if matches!(size_type, KustoType::Int | KustoType::Long) =>
        {
            let values = call.longs(0)?;
            let sizes = call.longs(1)?;
            let binned: Int64Array = values
                .iter()
                .zip(sizes.iter())
                .map(|(v, s)| bin_i64(v?, s?))
                .collect();
            Ok(Arc::new(binned))
        }
        _ => {
            let values = to_real_array(&call.args[0], value_type)?;
            let sizes: Float64Array = if size_type == KustoType::TimeSpan {
                timespans(call, 1)?
                    .iter()
                    .map(|s| s.map(|s| (s / NANOS_PER_TICK) as f64))
                    .collect()
            } else {
                to_real_array(&call.args[1], size_type)?
            };
            let binned: Float64Array = values
                .iter()
                .zip(sizes.iter())
                .map(|(v, s)| {
                    let (v, s) = (v?, s?);
                    (s > 0.0).then(|| (v / s).floor() * s)
                })
                .collect();
            Ok(Arc::new(binned))
        }
    }
}

/// The units `datetime_diff` and `datetime_add` accept, lower-cased.
fn parse_part(call: &Call<'_>) -> DFResult<String> {
    let part = call
        .constant_string(0, "the period name")?
        .to_ascii_lowercase();
    match part.as_str() {
        "year" | "quarter" | "month" | "week" | "day" | "hour" | "minute" | "second"
        | "millisecond" | "microsecond" | "nanosecond" => Ok(part),
        other => Err(EngineError::InvalidArgument {
            name: call.name.to_string(),
            message: format!(
                "unknown period '{other}' (expected year, quarter, month, week, day, hour, minute, second, millisecond, microsecond or nanosecond)"
            ),
        }
        .into()),
    }
}

fn fixed_unit(part: &str) -> Option<i64> {
    Some(match part {
        "week" => 7 * NANOS_PER_DAY,
        "day" => NANOS_PER_DAY,
        "hour" => NANOS_PER_HOUR,
        "minute" => NANOS_PER_MINUTE,
        "second" => NANOS_PER_SECOND,
        "millisecond" => 1_000_000,
        "microsecond" => 1_000,
        "nanosecond" => 1,
        _ => return None,
    })
}

/// Kusto's `datetime_diff(part, a, b)`: how many `part` boundaries lie between `b` and `a`
/// (calendar units compare the calendar fields; weeks start on Sunday).
pub fn datetime_diff(part: &str, a: i64, b: i64) -> Option<i64> {
    let (da, db) = (
        DateTime::from_timestamp_nanos(a),
        DateTime::from_timestamp_nanos(b),
    );
    let months = |d: &DateTime<chrono::Utc>| i64::from(d.year()) * 12 + i64::from(d.month0());
    Some(match part {
        "year" => i64::from(da.year() - db.year()),
        "quarter" => months(&da) / 3 - months(&db) / 3,
        "month" => months(&da) - months(&db),
        "week" => {
            let wa = start_of(Period::Week, a, 0)?;
            let wb = start_of(Period::Week, b, 0)?;
            (wa - wb) / (7 * NANOS_PER_DAY)
        }
        "nanosecond" => (a / NANOS_PER_TICK - b / NANOS_PER_TICK) * NANOS_PER_TICK,
        _ => {
            let unit = fixed_unit(part)?;
            a.div_euclid(unit) - b.div_euclid(unit)
        }
    })
}

/// Kusto's `datetime_add(part, amount, value)`; calendar units clamp the day of month.
pub fn datetime_add(part: &str, amount: i64, value: i64) -> Option<i64> {
    let months = match part {
        "year" => amount.checked_mul(12)?,
        "quarter" => amount.checked_mul(3)?,
        "month" => amount,
        _ => return value.checked_add(amount.checked_mul(fixed_unit(part)?)?),
    };
    let date = DateTime::from_timestamp_nanos(value);
    let shifted = if months >= 0 {
        date.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        date.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    debug_assert_eq!(shifted.nanosecond(), date.nanosecond());
    shifted.timestamp_nanos_opt()
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "ago",
            2,
            Some(2),
            returns(KustoType::DateTime),
            Arc::new(|call| {
                let spans = timespans(call, 0)?;
                let now = datetimes(call, 1)?;
                let result: TimestampNanosecondArray = spans
                    .iter()
                    .zip(now.iter())
                    .map(|(span, now)| now?.checked_sub(span?))
                    .collect();
                Ok(utc(result))
            }),
        ),
        KustoScalar::new(
            "now",
            1,
            Some(2),
            returns(KustoType::DateTime),
            Arc::new(|call| {
                let now = datetimes(call, call.args.len() - 1)?;
                if call.args.len() == 1 {
                    return Ok(utc(now));
                }
                let offsets = timespans(call, 0)?;
                let result: TimestampNanosecondArray = offsets
                    .iter()
                    .zip(now.iter())
                    .map(|(offset, now)| now?.checked_add(offset?))
                    .collect();
                Ok(utc(result))
            }),
        ),
        period_function("startofday", Period::Day, false),
        period_function("startofweek", Period::Week, false),
        period_function("startofmonth", Period::Month, false),
        period_function("startofyear", Period::Year, false),
        period_function("endofday", Period::Day, true),
        period_function("endofweek", Period::Week, true),
        period_function("endofmonth", Period::Month, true),
        period_function("endofyear", Period::Year, true),
        KustoScalar::new(
            "bin",
            2,
            Some(2),
            Arc::new(bin_return),
            Arc::new(bin_kernel),
        ),
        KustoScalar::new(
            "floor",
            2,
            Some(2),
            Arc::new(bin_return),
            Arc::new(bin_kernel),
        ),
        KustoScalar::new(
            "datetime_diff",
            3,
            Some(3),
            returns(KustoType::Long),
            Arc::new(|call| {
                let part = parse_part(call)?;
                let a = datetimes(call, 1)?;
                let b = datetimes(call, 2)?;
                let diffs: Int64Array = a
                    .iter()
                    .zip(b.iter())
                    .map(|(a, b)| datetime_diff(&part, a?, b?))
                    .collect();
                Ok(Arc::new(diffs))
            }),
        ),
        KustoScalar::new(
            "datetime_add",
            3,
            Some(3),
            returns(KustoType::DateTime),
            Arc::new(|call| {
                let part = parse_part(call)?;
                let amounts = call.longs(1)?;
                let dates = datetimes(call, 2)?;
                let result: TimestampNanosecondArray = amounts
                    .iter()
                    .zip(dates.iter())
                    .map(|(n, d)| datetime_add(&part, n?, d?))
                    .collect();
                Ok(utc(result))
            }),
        ),
        KustoScalar::new(
            "format_datetime",
            2,
            Some(2),
            returns(KustoType::String),
            Arc::new(|call| {
                let dates = datetimes(call, 0)?;
                let formats = call.strings(1);
                let result: StringArray = dates
                    .iter()
                    .zip(formats.iter())
                    .map(|(d, f)| {
                        Some(
                            d.map(|d| format_datetime_pattern(d, f.unwrap_or("")))
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{Expr, lit};

    use super::*;
    use crate::scalar::test_support::{eval, lit_str};
    use crate::time::parse_datetime;

    fn dt(text: &str) -> Expr {
        let nanos = parse_datetime(text).unwrap_or_else(|| panic!("{text}"));
        lit(ScalarValue::TimestampNanosecond(
            Some(nanos),
            Some("UTC".into()),
        ))
    }

    fn span(nanos: i64) -> Expr {
        lit(ScalarValue::DurationNanosecond(Some(nanos)))
    }

    #[tokio::test]
    async fn ago_and_now_use_the_pinned_now() {
        let now = dt("2026-11-22 12:00:00");
        assert_eq!(
            eval("ago", vec![span(NANOS_PER_DAY), now.clone()]).await,
            ["2026-11-21T12:00:00.0000000Z"]
        );
        assert_eq!(
            eval("now", vec![now.clone()]).await,
            ["2026-11-22T12:00:00.0000000Z"]
        );
        assert_eq!(
            eval("now", vec![span(-NANOS_PER_HOUR), now]).await,
            ["2026-11-22T11:00:00.0000000Z"]
        );
    }

    #[tokio::test]
    async fn bin_handles_numbers_datetimes_and_timespans() {
        assert_eq!(eval("bin", vec![lit(17_i64), lit(5_i64)]).await, ["15"]);
        assert_eq!(eval("bin", vec![lit(4.7_f64), lit(0.5_f64)]).await, ["4.5"]);
        assert_eq!(
            eval(
                "bin",
                vec![dt("2020-06-15 13:45:30.7654321"), span(NANOS_PER_SECOND)]
            )
            .await,
            ["2020-06-15T13:45:30.0000000Z"]
        );
        assert_eq!(
            eval(
                "bin",
                vec![span(90 * NANOS_PER_MINUTE), span(NANOS_PER_HOUR)]
            )
            .await,
            ["01:00:00"]
        );
        assert_eq!(eval("floor", vec![lit(-1_i64), lit(5_i64)]).await, ["-5"]);
        let null_long = lit(ScalarValue::Int64(None));
        assert_eq!(eval("bin", vec![null_long, lit(5_i64)]).await, ["null"]);
    }

    #[tokio::test]
    async fn datetime_bins_count_from_year_one() {
        assert_eq!(
            eval(
                "bin",
                vec![dt("1955-11-05 06:15:00"), span(7 * NANOS_PER_DAY)]
            )
            .await,
            ["1955-10-31T00:00:00.0000000Z"]
        );
    }

    #[tokio::test]
    async fn datetime_diff_matches_the_oracle() {
        let cases = [
            ("quarter", "2021-01-01", "2020-01-01", "4"),
            ("day", "2020-03-01", "2020-02-01", "29"),
            ("hour", "2020-01-01 13:00:00", "2020-01-01 00:00:00", "13"),
            (
                "minute",
                "2020-01-01 00:00:00",
                "2020-01-01 13:45:00",
                "-825",
            ),
            ("year", "2021-01-01", "2020-12-31", "1"),
        ];
        for (part, a, b, expected) in cases {
            assert_eq!(
                eval("datetime_diff", vec![lit_str(part), dt(a), dt(b)]).await,
                [expected],
                "{part}"
            );
        }
    }

    #[tokio::test]
    async fn datetime_add_clamps_month_ends_and_rejects_unknown_parts() {
        assert_eq!(
            eval(
                "datetime_add",
                vec![lit_str("month"), lit(1_i64), dt("2020-01-31")]
            )
            .await,
            ["2020-02-29T00:00:00.0000000Z"]
        );
        assert_eq!(
            eval(
                "datetime_add",
                vec![lit_str("hour"), lit(-2_i64), dt("2020-01-01")]
            )
            .await,
            ["2019-12-31T22:00:00.0000000Z"]
        );
        let plan = crate::scalar::test_support::call(
            "datetime_add",
            vec![lit_str("fortnight"), lit(1_i64), dt("2020-01-01")],
        );
        let err = crate::scalar::test_support::try_eval_expr(plan)
            .await
            .err()
            .unwrap_or_default();
        assert!(err.contains("unknown period 'fortnight'"), "{err}");
    }

    #[tokio::test]
    async fn period_starts_and_ends() {
        let t = dt("2020-06-17 13:45:09");
        assert_eq!(
            eval("startofweek", vec![t.clone()]).await,
            ["2020-06-14T00:00:00.0000000Z"]
        );
        assert_eq!(
            eval("endofday", vec![t.clone()]).await,
            ["2020-06-17T23:59:59.9999999Z"]
        );
        assert_eq!(
            eval("startofmonth", vec![t.clone(), lit(1_i64)]).await,
            ["2020-07-01T00:00:00.0000000Z"]
        );
        assert_eq!(
            eval("format_datetime", vec![t, lit_str("yyyy-MM-dd HH:mm")]).await,
            ["2020-06-17 13:45"]
        );
    }
}
