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

/// `bin_at(value, size, fixed_point)`: `bin` with bins aligned on `fixed_point` instead of zero.
fn bin_at_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let value_type = call.types[0];
    match value_type {
        KustoType::DateTime | KustoType::TimeSpan => {
            let sizes: Int64Array = if call.types[1] == KustoType::TimeSpan {
                timespans(call, 1)?.iter().collect()
            } else {
                call.longs(1)?
            };
            let (values, anchors): (Int64Array, Int64Array) = if value_type == KustoType::DateTime {
                (
                    datetimes(call, 0)?.iter().collect(),
                    datetimes(call, 2)?.iter().collect(),
                )
            } else {
                (
                    timespans(call, 0)?.iter().collect(),
                    timespans(call, 2)?.iter().collect(),
                )
            };
            let binned = values
                .iter()
                .zip(sizes.iter())
                .zip(anchors.iter())
                .map(|((v, s), a)| {
                    let (v, s, a) = (v?, s?, a?);
                    a.checked_add(bin_i64(v.checked_sub(a)?, s)?)
                });
            Ok(if value_type == KustoType::DateTime {
                utc(binned.collect())
            } else {
                Arc::new(binned.collect::<DurationNanosecondArray>())
            })
        }
        KustoType::Int | KustoType::Long
            if call.types[1..]
                .iter()
                .all(|t| matches!(t, KustoType::Int | KustoType::Long)) =>
        {
            let (values, sizes, anchors) = (call.longs(0)?, call.longs(1)?, call.longs(2)?);
            let binned: Int64Array = values
                .iter()
                .zip(sizes.iter())
                .zip(anchors.iter())
                .map(|((v, s), a)| {
                    let (v, s, a) = (v?, s?, a?);
                    a.checked_add(bin_i64(v.checked_sub(a)?, s)?)
                })
                .collect();
            Ok(Arc::new(binned))
        }
        _ => {
            let values = to_real_array(&call.args[0], value_type)?;
            let sizes = to_real_array(&call.args[1], call.types[1])?;
            let anchors = to_real_array(&call.args[2], call.types[2])?;
            let binned: Float64Array = values
                .iter()
                .zip(sizes.iter())
                .zip(anchors.iter())
                .map(|((v, s), a)| {
                    let (v, s, a) = (v?, s?, a?);
                    (s > 0.0).then(|| a + ((v - a) / s).floor() * s)
                })
                .collect();
            Ok(Arc::new(binned))
        }
    }
}

/// A calendar part of a datetime as an `int` (`getyear`, `dayofmonth`, ...).
fn date_part(name: &'static str, part: fn(&DateTime<chrono::Utc>) -> i64) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Int),
        Arc::new(move |call| {
            let result: Int64Array = datetimes(call, 0)?
                .iter()
                .map(|d| d.map(|d| part(&DateTime::from_timestamp_nanos(d))))
                .collect();
            Ok(Arc::new(result))
        }),
    )
}

/// `datetime_part(part, value)`: the part names Kusto accepts, lower-cased.
fn datetime_part_of(part: &str, d: &DateTime<chrono::Utc>) -> Option<i64> {
    let nanos = i64::from(d.nanosecond());
    Some(match part {
        "year" => i64::from(d.year()),
        "quarter" => i64::from(d.month0() / 3 + 1),
        "month" => i64::from(d.month()),
        "week_of_year" | "weekofyear" => i64::from(d.iso_week().week()),
        "day" => i64::from(d.day()),
        "dayofyear" => i64::from(d.ordinal()),
        "hour" => i64::from(d.hour()),
        "minute" => i64::from(d.minute()),
        "second" => i64::from(d.second()),
        "millisecond" => nanos / 1_000_000,
        "microsecond" => nanos / 1_000,
        "nanosecond" => nanos / NANOS_PER_TICK * NANOS_PER_TICK,
        _ => return None,
    })
}

/// Kusto's `make_datetime(year, month, day[, hour, minute, second])`: null when a part is out
/// of range; fractional seconds are kept to the tick.
pub fn make_datetime(parts: &[i64], seconds: f64) -> Option<i64> {
    let [year, month, day, hour, minute] = *parts else {
        return None;
    };
    if !(1..=9999).contains(&year) || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let time = date.and_hms_opt(u32::try_from(hour).ok()?, u32::try_from(minute).ok()?, 0)?;
    let ticks = (seconds * 1e7).round() as i64;
    time.and_utc()
        .timestamp_nanos_opt()?
        .checked_add(ticks.checked_mul(NANOS_PER_TICK)?)
}

/// Kusto's `make_timespan`: `(hours, minutes)`, `(hours, minutes, seconds)` or
/// `(days, hours, minutes, seconds)`; null when hours, minutes or seconds are out of range.
pub fn make_timespan(days: i64, hours: i64, minutes: i64, seconds: f64) -> Option<i64> {
    if days < 0 || !(0..24).contains(&hours) || !(0..60).contains(&minutes) {
        return None;
    }
    if !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let ticks = (seconds * 1e7).round() as i64;
    days.checked_mul(NANOS_PER_DAY)?
        .checked_add(hours * NANOS_PER_HOUR + minutes * NANOS_PER_MINUTE)?
        .checked_add(ticks * NANOS_PER_TICK)
}

/// The separators Kusto allows between format specifiers.
const FORMAT_DELIMITERS: &str = " /-:,._[]";

/// Kusto rejects a format with anything but the specifier letters `letters` and the
/// delimiters in [`FORMAT_DELIMITERS`] (`'T'`, `%d`, `zzz` are errors).
fn check_format(call: &Call<'_>, format: &str, letters: &str) -> DFResult<()> {
    match format
        .chars()
        .find(|c| !letters.contains(*c) && !FORMAT_DELIMITERS.contains(*c))
    {
        None => Ok(()),
        Some(bad) => Err(EngineError::InvalidArgument {
            name: call.name.to_string(),
            message: format!(
                "invalid format '{format}': '{bad}' is neither a format specifier ({letters}) nor a delimiter (space / - : , . _ [ ])"
            ),
        }
        .into()),
    }
}

/// Validates every distinct format string of argument `index` with [`check_format`].
fn check_formats(call: &Call<'_>, index: usize, letters: &str) -> DFResult<StringArray> {
    let formats = call.strings(index);
    let mut checked: Option<&str> = None;
    for format in formats.iter().flatten() {
        if checked != Some(format) {
            check_format(call, format, letters)?;
            checked = Some(format);
        }
    }
    Ok(formats)
}

/// Kusto's `format_timespan(value, format)`: `d` (days, padded to the run length), `h`/`H`,
/// `m`, `s` (one or two digits), `f` (fraction digits) and `F` (fraction digits without
/// trailing zeros); other characters (see [`check_format`]) are copied. Negative values get a
/// leading `-`.
pub fn format_timespan_pattern(nanos: i64, pattern: &str) -> String {
    let magnitude = nanos.unsigned_abs();
    let day = NANOS_PER_DAY as u64;
    let days = magnitude / day;
    let in_day = magnitude % day;
    let hours = in_day / NANOS_PER_HOUR as u64;
    let minutes = in_day % NANOS_PER_HOUR as u64 / NANOS_PER_MINUTE as u64;
    let seconds = in_day % NANOS_PER_MINUTE as u64 / NANOS_PER_SECOND as u64;
    let ticks = in_day % NANOS_PER_SECOND as u64 / NANOS_PER_TICK as u64;
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 2);
    if nanos < 0 {
        out.push('-');
    }
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let take = run.min(match c {
            'd' => 8,
            'h' | 'H' | 'm' | 's' => 2,
            'f' | 'F' => 7,
            _ => 1,
        });
        match c {
            'd' => out.push_str(&format!("{days:0take$}")),
            'h' | 'H' => out.push_str(&format!("{hours:0take$}")),
            'm' => out.push_str(&format!("{minutes:0take$}")),
            's' => out.push_str(&format!("{seconds:0take$}")),
            'f' | 'F' => {
                let digits = format!("{ticks:07}");
                let shown = &digits[..take];
                out.push_str(if c == 'f' {
                    shown
                } else {
                    shown.trim_end_matches('0')
                });
            }
            other => out.push(other),
        }
        i += take;
    }
    out
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
                let formats = check_formats(call, 1, "yMdhHmsfFt")?;
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
        KustoScalar::new(
            "bin_at",
            3,
            Some(3),
            Arc::new(|name, args| bin_return(name, args.get(..2).unwrap_or(args))),
            Arc::new(bin_at_kernel),
        ),
        KustoScalar::new(
            "dayofweek",
            1,
            Some(1),
            returns(KustoType::TimeSpan),
            Arc::new(|call| {
                let result: DurationNanosecondArray = datetimes(call, 0)?
                    .iter()
                    .map(|d| {
                        let weekday = DateTime::from_timestamp_nanos(d?)
                            .weekday()
                            .num_days_from_sunday();
                        Some(i64::from(weekday) * NANOS_PER_DAY)
                    })
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
        date_part("getyear", |d| i64::from(d.year())),
        date_part("getmonth", |d| i64::from(d.month())),
        date_part("monthofyear", |d| i64::from(d.month())),
        date_part("dayofmonth", |d| i64::from(d.day())),
        date_part("dayofyear", |d| i64::from(d.ordinal())),
        date_part("hourofday", |d| i64::from(d.hour())),
        date_part("week_of_year", |d| i64::from(d.iso_week().week())),
        KustoScalar::new(
            "datetime_part",
            2,
            Some(2),
            returns(KustoType::Int),
            Arc::new(|call| {
                let part = call
                    .constant_string(0, "the part name")?
                    .to_ascii_lowercase();
                let probe = DateTime::from_timestamp_nanos(0);
                if datetime_part_of(&part, &probe).is_none() {
                    return Err(EngineError::InvalidArgument {
                        name: call.name.to_string(),
                        message: format!(
                            "unknown part '{part}' (expected year, quarter, month, week_of_year, day, dayofyear, hour, minute, second, millisecond, microsecond or nanosecond)"
                        ),
                    }
                    .into());
                }
                let result: Int64Array = datetimes(call, 1)?
                    .iter()
                    .map(|d| datetime_part_of(&part, &DateTime::from_timestamp_nanos(d?)))
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
        KustoScalar::new(
            "make_datetime",
            3,
            Some(6),
            returns(KustoType::DateTime),
            Arc::new(|call| {
                let integer_parts: Vec<Int64Array> = (0..call.args.len().min(5))
                    .map(|i| call.longs(i))
                    .collect::<DFResult<_>>()?;
                let seconds = if call.args.len() > 5 {
                    Some(to_real_array(&call.args[5], call.types[5])?)
                } else {
                    None
                };
                let result: TimestampNanosecondArray = (0..call.rows)
                    .map(|row| {
                        let mut parts = [0_i64; 5];
                        for (slot, column) in parts.iter_mut().zip(&integer_parts) {
                            *slot = column.is_valid(row).then(|| column.value(row))?;
                        }
                        let second = match &seconds {
                            Some(s) => s.is_valid(row).then(|| s.value(row))?,
                            None => 0.0,
                        };
                        make_datetime(&parts, second)
                    })
                    .collect();
                Ok(utc(result))
            }),
        ),
        KustoScalar::new(
            "make_timespan",
            2,
            Some(4),
            returns(KustoType::TimeSpan),
            Arc::new(|call| {
                let count = call.args.len();
                let whole: Vec<Int64Array> = (0..count - 1)
                    .map(|i| call.longs(i))
                    .collect::<DFResult<_>>()?;
                let last = to_real_array(&call.args[count - 1], call.types[count - 1])?;
                let result: DurationNanosecondArray = (0..call.rows)
                    .map(|row| {
                        let mut values = Vec::with_capacity(count);
                        for column in &whole {
                            values.push(column.is_valid(row).then(|| column.value(row))? as f64);
                        }
                        values.push(last.is_valid(row).then(|| last.value(row))?);
                        let whole_number = |v: f64| (v.fract() == 0.0).then_some(v as i64);
                        match values.as_slice() {
                            [h, m] => make_timespan(0, whole_number(*h)?, whole_number(*m)?, 0.0),
                            [h, m, s] => make_timespan(0, whole_number(*h)?, whole_number(*m)?, *s),
                            [d, h, m, s] => make_timespan(
                                whole_number(*d)?,
                                whole_number(*h)?,
                                whole_number(*m)?,
                                *s,
                            ),
                            _ => None,
                        }
                    })
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
        KustoScalar::new(
            "format_timespan",
            2,
            Some(2),
            returns(KustoType::String),
            Arc::new(|call| {
                let spans = timespans(call, 0)?;
                let formats = check_formats(call, 1, "dhHmsfF")?;
                let result: StringArray = spans
                    .iter()
                    .zip(formats.iter())
                    .map(|(span, format)| {
                        Some(
                            span.map(|span| format_timespan_pattern(span, format.unwrap_or("")))
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
    #[tokio::test]
    async fn calendar_parts_match_the_oracle() {
        let t = dt("2020-06-15 13:45:00");
        assert_eq!(eval("dayofweek", vec![t.clone()]).await, ["1.00:00:00"]);
        assert_eq!(eval("getyear", vec![t.clone()]).await, ["2020"]);
        assert_eq!(eval("monthofyear", vec![t.clone()]).await, ["6"]);
        assert_eq!(eval("weekofyear", vec![t.clone()]).await, ["25"]);
        assert_eq!(eval("hourofday", vec![t.clone()]).await, ["13"]);
        assert_eq!(eval("dayofyear", vec![dt("2020-12-31")]).await, ["366"]);
        assert_eq!(eval("dayofmonth", vec![dt("2000-02-29")]).await, ["29"]);
        for (date, week) in [
            ("2016-01-01", "53"),
            ("2017-01-01", "52"),
            ("2007-01-01", "1"),
        ] {
            assert_eq!(eval("week_of_year", vec![dt(date)]).await, [week], "{date}");
        }
        assert_eq!(
            eval("datetime_part", vec![lit_str("Quarter"), t]).await,
            ["2"]
        );
        let null_date = lit(ScalarValue::TimestampNanosecond(None, Some("UTC".into())));
        assert_eq!(eval("dayofweek", vec![null_date]).await, ["null"]);
    }

    #[tokio::test]
    async fn bin_at_aligns_bins_on_the_fixed_point() {
        assert_eq!(
            eval(
                "bin_at",
                vec![
                    dt("2023-03-12 07:30:00"),
                    span(NANOS_PER_DAY),
                    dt("1970-01-01 12:00:00")
                ]
            )
            .await,
            ["2023-03-11T12:00:00.0000000Z"]
        );
        assert_eq!(
            eval(
                "bin_at",
                vec![
                    dt("2023-03-12 07:30:00"),
                    span(90 * NANOS_PER_MINUTE),
                    dt("2023-03-12 00:07:00")
                ]
            )
            .await,
            ["2023-03-12T06:07:00.0000000Z"]
        );
        assert_eq!(
            eval("bin_at", vec![lit(6.5_f64), lit(2.5_f64), lit(7_i64)]).await,
            ["4.5"]
        );
        assert_eq!(
            eval("bin_at", vec![lit(6_i64), lit(4_i64), lit(1_i64)]).await,
            ["5"]
        );
    }

    #[tokio::test]
    async fn make_datetime_and_make_timespan_reject_out_of_range_parts() {
        assert_eq!(
            eval(
                "make_datetime",
                vec![lit(2020_i64), lit(6_i64), lit(15_i64)]
            )
            .await,
            ["2020-06-15T00:00:00.0000000Z"]
        );
        let args = vec![
            lit(2020_i64),
            lit(2_i64),
            lit(29_i64),
            lit(23_i64),
            lit(59_i64),
            lit(59.9999999_f64),
        ];
        assert_eq!(
            eval("make_datetime", args).await,
            ["2020-02-29T23:59:59.9999999Z"]
        );
        assert_eq!(
            eval(
                "make_datetime",
                vec![lit(2021_i64), lit(2_i64), lit(29_i64)]
            )
            .await,
            ["null"]
        );
        assert_eq!(
            eval("make_timespan", vec![lit(2_i64), lit(30_i64)]).await,
            ["02:30:00"]
        );
        assert_eq!(
            eval("make_timespan", vec![lit(25_i64), lit(70_i64)]).await,
            ["null"]
        );
        assert_eq!(
            eval("make_timespan", vec![lit(1_i64), lit(2_i64), lit(3_i64)]).await,
            ["01:02:03"]
        );
        let tick = vec![lit(0_i64), lit(0_i64), lit(0_i64), lit(0.0000001_f64)];
        assert_eq!(eval("make_timespan", tick).await, ["00:00:00.0000001"]);
    }

    #[tokio::test]
    async fn formats_with_unknown_characters_are_errors() {
        for (name, value, format) in [
            ("format_datetime", dt("2020-01-01"), "yyyy-MM-ddTHH"),
            ("format_datetime", dt("2020-01-01"), "zzz"),
            ("format_timespan", span(NANOS_PER_DAY), "%d"),
        ] {
            let plan = crate::scalar::test_support::call(name, vec![value, lit_str(format)]);
            let err = crate::scalar::test_support::try_eval_expr(plan)
                .await
                .err()
                .unwrap_or_default();
            assert!(err.contains("invalid format"), "{name} {format}: {err}");
        }
        assert_eq!(
            eval("format_timespan", vec![span(NANOS_PER_DAY), lit_str("[d]")]).await,
            ["[1]"]
        );
    }

    #[test]
    fn format_timespan_pattern_matches_the_oracle() {
        let value =
            2 * NANOS_PER_DAY + 3 * NANOS_PER_HOUR + 4 * NANOS_PER_MINUTE + 5 * NANOS_PER_SECOND;
        assert_eq!(format_timespan_pattern(value, "d.hh:mm:ss"), "2.03:04:05");
        let hours = 25 * NANOS_PER_HOUR + 61 * NANOS_PER_MINUTE;
        assert_eq!(format_timespan_pattern(hours, "hh:mm"), "02:01");
        assert_eq!(format_timespan_pattern(hours, "h:m"), "2:1");
        assert_eq!(format_timespan_pattern(NANOS_PER_DAY, "dddd"), "0001");
        assert_eq!(
            format_timespan_pattern(-90 * NANOS_PER_SECOND, "mm:ss"),
            "-01:30"
        );
        assert_eq!(format_timespan_pattern(123_000_000, "fff"), "123");
        assert_eq!(format_timespan_pattern(100, "fffffff"), "0000001");
        assert_eq!(format_timespan_pattern(500_000_000, "s.FFF"), "0.5");
    }
}
