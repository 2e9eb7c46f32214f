//! Kusto datetimes and timespans: parsing every string form `todatetime`/`totimespan` accept,
//! and printing them the way Kusto does.
//!
//! Datetimes are nanoseconds since the Unix epoch (Arrow `Timestamp(ns, UTC)`), timespans are
//! nanoseconds (Arrow `Duration(ns)`). Kusto's resolution is the 100 ns tick, so parsing
//! truncates anything finer and printing always shows exactly 7 fractional digits.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use goshawk_types::NANOS_PER_TICK;
use regex::Regex;

/// Kusto ticks (100 ns) from 0001-01-01 to the Unix epoch: `tolong(datetime)` counts from
/// 0001-01-01, Arrow timestamps from 1970-01-01.
pub const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// Nanoseconds in one second.
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
/// Nanoseconds in one hour.
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

static ISO_DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (\d{4})[-/](\d{1,2})[-/](\d{1,2})
        (?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?
        \s*(Z|[Uu][Tt][Cc]|GMT|[+-]\d{2}:?\d{2})?$",
    )
    .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

static RFC_DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (?:[A-Za-z]+,?\s*)?
        (\d{1,2})[\s-]+([A-Za-z]{3,9})[\s-]+(\d{4}|\d{2})
        (?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?
        \s*([A-Za-z]{1,3}|[+-]\d{2}:?\d{2})?$",
    )
    .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

static US_DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (\d{1,2})[-/](\d{1,2})[-/](\d{4})
        (?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?
        \s*(Z|[Uu][Tt][Cc]|GMT|[+-]\d{2}:?\d{2})?$",
    )
    .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

static TIMESPAN_CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?$")
        .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

static TIMESPAN_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(-)?(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]+)$")
        .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

fn fraction_to_nanos(digits: &str) -> i64 {
    // Keep 7 digits (ticks): Kusto truncates anything finer.
    let mut ticks: i64 = 0;
    for (i, c) in digits.chars().take(7).enumerate() {
        ticks += i64::from(c as u8 - b'0') * 10_i64.pow(6 - i as u32);
    }
    ticks * NANOS_PER_TICK
}

fn month_from_name(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

fn zone_offset_seconds(zone: &str) -> Option<i64> {
    if let Some(sign) = zone.strip_prefix(['+', '-']).map(|_| zone.as_bytes()[0]) {
        let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
        let hours: i64 = digits.get(..2)?.parse().ok()?;
        let minutes: i64 = digits.get(2..4)?.parse().ok()?;
        let total = hours * 3600 + minutes * 60;
        return Some(if sign == b'-' { -total } else { total });
    }
    let hours = match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        _ => return None,
    };
    Some(hours * 3600)
}

#[allow(clippy::too_many_arguments)]
fn civil_to_nanos(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    fraction_nanos: i64,
    offset_seconds: i64,
) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    let seconds = NaiveDateTime::new(date, time).and_utc().timestamp() - offset_seconds;
    seconds
        .checked_mul(NANOS_PER_SECOND)?
        .checked_add(fraction_nanos)
}

fn capture_u32(caps: &regex::Captures<'_>, index: usize) -> Option<u32> {
    caps.get(index).map_or(Some(0), |m| m.as_str().parse().ok())
}

/// Parses a datetime the way Kusto's `todatetime()` and `datetime(...)` literals do: ISO 8601
/// (`2020-01-01`, `2020-01-01 10:00`, `2020-01-01T10:00:00.1234567Z`, with `Z` or an offset),
/// month-first US dates (`12-02-2022`, `12/02/2022 10:00`), and the RFC 822/850/1123 forms (`Sat, 8 Nov 14 15:05:02 GMT`,
/// `Saturday, 08-Nov-14 15:05:02 GMT`, `Sat, 08 Nov 2014 15:05:02 GMT`).
/// Returns nanoseconds since the epoch, truncated to whole ticks, or `None` when the text is not
/// a datetime or lies outside what Arrow's nanosecond timestamps hold (years 1678-2261).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(caps) = ISO_DATETIME.captures(text) {
        let year: i32 = caps[1].parse().ok()?;
        let offset = caps
            .get(8)
            .map_or(Some(0), |m| zone_offset_seconds(m.as_str()))?;
        return civil_to_nanos(
            year,
            capture_u32(&caps, 2)?,
            capture_u32(&caps, 3)?,
            capture_u32(&caps, 4)?,
            capture_u32(&caps, 5)?,
            capture_u32(&caps, 6)?,
            caps.get(7).map_or(0, |m| fraction_to_nanos(m.as_str())),
            offset,
        );
    }
    if let Some(caps) = US_DATETIME.captures(text) {
        // The invariant culture's month-first order: `12-02-2022` is December 2.
        let offset = caps
            .get(8)
            .map_or(Some(0), |m| zone_offset_seconds(m.as_str()))?;
        return civil_to_nanos(
            caps[3].parse().ok()?,
            capture_u32(&caps, 1)?,
            capture_u32(&caps, 2)?,
            capture_u32(&caps, 4)?,
            capture_u32(&caps, 5)?,
            capture_u32(&caps, 6)?,
            caps.get(7).map_or(0, |m| fraction_to_nanos(m.as_str())),
            offset,
        );
    }
    if let Some(caps) = RFC_DATETIME.captures(text) {
        let year_text = &caps[3];
        let mut year: i32 = year_text.parse().ok()?;
        if year_text.len() == 2 {
            // .NET's two-digit-year window: 00-49 is 2000-2049, 50-99 is 1950-1999.
            year += if year < 50 { 2000 } else { 1900 };
        }
        let offset = caps
            .get(8)
            .map_or(Some(0), |m| zone_offset_seconds(m.as_str()))?;
        return civil_to_nanos(
            year,
            month_from_name(&caps[2])?,
            capture_u32(&caps, 1)?,
            capture_u32(&caps, 4)?,
            capture_u32(&caps, 5)?,
            capture_u32(&caps, 6)?,
            caps.get(7).map_or(0, |m| fraction_to_nanos(m.as_str())),
            offset,
        );
    }
    None
}

fn nanos_to_naive(nanos: i64) -> NaiveDateTime {
    DateTime::from_timestamp_nanos(nanos).naive_utc()
}

fn naive_to_nanos(value: NaiveDateTime) -> Option<i64> {
    value.and_utc().timestamp_nanos_opt()
}

/// Formats a datetime as Kusto's `tostring()` and result sets do:
/// `2020-01-01T00:00:00.0000000Z`, always 7 fractional digits.
pub fn format_datetime(nanos: i64) -> String {
    let dt = nanos_to_naive(nanos);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond() / NANOS_PER_TICK as u32
    )
}

/// Formats a timespan in .NET's constant form `[-][d.]hh:mm:ss[.fffffff]`, as Kusto prints it
/// (`1.02:03:04.5000000`, `00:00:00.0000001`, `-01:00:00`).
pub fn format_timespan(nanos: i64) -> String {
    let negative = nanos < 0;
    let ticks = (nanos / NANOS_PER_TICK).unsigned_abs();
    let ticks_per_second = (NANOS_PER_SECOND / NANOS_PER_TICK) as u64;
    let fraction = ticks % ticks_per_second;
    let total_seconds = ticks / ticks_per_second;
    let days = total_seconds / 86_400;
    let hours = total_seconds / 3600 % 24;
    let minutes = total_seconds / 60 % 60;
    let seconds = total_seconds % 60;
    let mut out = String::with_capacity(20);
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{hours:02}:{minutes:02}:{seconds:02}"));
    if fraction > 0 {
        out.push_str(&format!(".{fraction:07}"));
    }
    out
}

/// Nanoseconds per unit of a Kusto timespan literal suffix (`d`, `h`, `m`, `s`, `ms`,
/// `microsecond`, `tick`, and their long forms), or `None` for an unknown unit.
pub fn timespan_unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => NANOS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => NANOS_PER_HOUR,
        "m" | "min" | "minute" | "minutes" => NANOS_PER_MINUTE,
        "s" | "sec" | "second" | "seconds" => NANOS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => NANOS_PER_TICK,
        _ => return None,
    })
}

/// Parses a timespan the way `totimespan()` and `timespan(...)` literals do: the clock form
/// `[-][d.]hh:mm[:ss[.fffffff]]` or a number with a unit (`1d`, `1.5h`, `30m`, `100ms`,
/// `10tick`). Returns nanoseconds truncated to whole ticks, or `None`.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(caps) = TIMESPAN_CLOCK.captures(text) {
        let days: i64 = caps.get(2).map_or(Some(0), |m| m.as_str().parse().ok())?;
        let hours: i64 = caps[3].parse().ok()?;
        let minutes: i64 = caps[4].parse().ok()?;
        let seconds: i64 = caps.get(5).map_or(Some(0), |m| m.as_str().parse().ok())?;
        if hours > 23 || minutes > 59 || seconds > 59 {
            return None;
        }
        let fraction = caps.get(6).map_or(0, |m| fraction_to_nanos(m.as_str()));
        let total = days
            .checked_mul(NANOS_PER_DAY)?
            .checked_add(hours * NANOS_PER_HOUR + minutes * NANOS_PER_MINUTE)?
            .checked_add(seconds * NANOS_PER_SECOND + fraction)?;
        return Some(if caps.get(1).is_some() { -total } else { total });
    }
    if let Some(caps) = TIMESPAN_UNIT.captures(text) {
        let unit = timespan_unit_nanos(&caps[3])?;
        let number = &caps[2];
        let nanos = match number.split_once('.') {
            None => number.parse::<i64>().ok()?.checked_mul(unit)?,
            Some((whole, frac)) => {
                let whole: i64 = if whole.is_empty() {
                    0
                } else {
                    whole.parse().ok()?
                };
                let frac_value: f64 = format!("0.{frac}").parse().ok()?;
                whole
                    .checked_mul(unit)?
                    .checked_add((frac_value * unit as f64) as i64)?
            }
        };
        let nanos = nanos / NANOS_PER_TICK * NANOS_PER_TICK;
        return Some(if caps.get(1).is_some() { -nanos } else { nanos });
    }
    None
}

/// Formats a real as .NET's shortest round-trip `ToString()` does, which is how Kusto result
/// sets print reals: `15`, `24.6`, `9.223372036854776E+18`, `1E-05`, `NaN`, `Infinity`.
pub fn format_real(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..15).contains(&exponent) {
        return format!("{value}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exponent.abs())
}

/// Kusto's `tostring()` of a real: like [`format_real`] but whole numbers keep a `.0`
/// (`tostring(1.0)` is `1.0`, `tostring(-0.0)` is `-0.0`) and infinities print as `inf`/`-inf`,
/// as the real engine does.
pub fn real_to_kusto_string(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let text = format_real(value);
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        format!("{text}.0")
    } else {
        text
    }
}

/// Which calendar period [`start_of`] and [`end_of`] round to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar day.
    Day,
    /// A week starting on Sunday, as Kusto's `startofweek` does.
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
}

/// The first instant of the period `offset` periods after the one containing `nanos`
/// (Kusto's `startofday(date, offset)` and friends). `None` when the result leaves the
/// representable range.
pub fn start_of(period: Period, nanos: i64, offset: i64) -> Option<i64> {
    let date = nanos_to_naive(nanos).date();
    let offset32 = i32::try_from(offset).ok()?;
    let start = match period {
        Period::Day => date.checked_add_signed(chrono::Duration::days(offset))?,
        Period::Week => {
            let back = i64::from(date.weekday().num_days_from_sunday());
            date.checked_add_signed(chrono::Duration::days(offset.checked_mul(7)? - back))?
        }
        Period::Month => {
            let months = date.year() * 12 + date.month0() as i32 + offset32;
            NaiveDate::from_ymd_opt(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)?
        }
        Period::Year => NaiveDate::from_ymd_opt(date.year().checked_add(offset32)?, 1, 1)?,
    };
    naive_to_nanos(start.and_time(NaiveTime::MIN))
}

/// The last tick of the period `offset` periods after the one containing `nanos`
/// (Kusto's `endofday` and friends: one tick before the next period starts).
pub fn end_of(period: Period, nanos: i64, offset: i64) -> Option<i64> {
    start_of(period, nanos, offset.checked_add(1)?).map(|next| next - NANOS_PER_TICK)
}

/// Kusto's `format_datetime(value, format)`: the .NET custom format specifiers Kusto supports
/// (`y`, `yy`, `yyyy`, `M`, `MM`, `d`, `dd`, `h`, `hh`, `H`, `HH`, `m`, `mm`, `s`, `ss`, `tt`,
/// `f`..`fffffff`, `F`..`FFFFFFF`) and separators. Longer runs are split greedily, so `dddd`
/// prints the day twice, as the real engine does.
pub fn format_datetime_pattern(nanos: i64, pattern: &str) -> String {
    let dt = nanos_to_naive(nanos);
    let ticks = dt.nanosecond() / NANOS_PER_TICK as u32;
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let max_run = match c {
            'y' => 4,
            'M' | 'd' | 'h' | 'H' | 'm' | 's' | 't' => 2,
            'f' | 'F' => 7,
            _ => 1,
        };
        let take = match (c, run.min(max_run)) {
            // `yyy` is not a specifier; treat it as `yy` followed by `y`.
            ('y', 3) => 2,
            (_, n) => n,
        };
        match c {
            'y' => match take {
                1 => out.push_str(&(dt.year() % 100).to_string()),
                2 => out.push_str(&format!("{:02}", dt.year() % 100)),
                _ => out.push_str(&format!("{:04}", dt.year())),
            },
            'M' => push_number(&mut out, dt.month(), take),
            'd' => push_number(&mut out, dt.day(), take),
            'H' => push_number(&mut out, dt.hour(), take),
            'h' => push_number(&mut out, (dt.hour() + 11) % 12 + 1, take),
            'm' => push_number(&mut out, dt.minute(), take),
            's' => push_number(&mut out, dt.second(), take),
            't' => {
                let marker = if dt.hour() < 12 { "AM" } else { "PM" };
                out.push_str(if take == 1 { &marker[..1] } else { marker });
            }
            'f' | 'F' => {
                let digits = format!("{ticks:07}");
                let shown = &digits[..take];
                if c == 'f' {
                    out.push_str(shown);
                } else {
                    out.push_str(shown.trim_end_matches('0'));
                }
            }
            other => out.push(other),
        }
        i += take;
    }
    out
}

fn push_number(out: &mut String, value: u32, width: usize) {
    if width >= 2 {
        out.push_str(&format!("{value:02}"));
    } else {
        out.push_str(&value.to_string());
    }
}

/// Kusto's `bin()` for integers and ticks: rounds `value` down to a multiple of `size`
/// (towards negative infinity). `None` when `size` is not positive.
pub fn bin_i64(value: i64, size: i64) -> Option<i64> {
    if size <= 0 {
        return None;
    }
    Some(value.div_euclid(size) * size)
}

/// Kusto's `bin()` for datetimes: bins count from 0001-01-01 (tick 0), not from the Unix epoch,
/// so `bin(datetime(1955-11-05), 7d)` is Monday 1955-10-31 as in the real engine.
pub fn bin_datetime(nanos: i64, size: i64) -> Option<i64> {
    if size <= 0 {
        return None;
    }
    let origin = i128::from(UNIX_EPOCH_TICKS) * i128::from(NANOS_PER_TICK);
    let shifted = i128::from(nanos) + origin;
    let size = i128::from(size);
    i64::try_from(shifted.div_euclid(size) * size - origin).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(text: &str) -> i64 {
        parse_datetime(text).unwrap_or_else(|| panic!("should parse: {text}"))
    }

    #[test]
    fn parses_documented_datetime_forms() {
        let base = dt("2014-11-08T15:05:02Z");
        assert_eq!(format_datetime(base), "2014-11-08T15:05:02.0000000Z");
        assert_eq!(dt("Sat, 8 Nov 14 15:05:02 GMT"), base);
        assert_eq!(dt("Saturday, 08-Nov-14 15:05:02 GMT"), base);
        assert_eq!(dt("Sat, 08 Nov 2014 15:05:02 GMT"), base);
        assert_eq!(dt("8 Nov 14 15:05:02 GMT"), base);
        assert_eq!(dt("2014-11-08 15:05:02"), base);
        assert_eq!(dt("2014-11-08 16:05:02 +01:00"), base);
        assert_eq!(dt("Sat, 8 Nov 14 10:05:02 EST"), base);
        assert_eq!(
            format_datetime(dt("2020-01-01")),
            "2020-01-01T00:00:00.0000000Z"
        );
        assert_eq!(
            format_datetime(dt("2020-01-01 10:00")),
            "2020-01-01T10:00:00.0000000Z"
        );
        assert_eq!(
            format_datetime(dt("2020-01-01T10:00:00.123456789Z")),
            "2020-01-01T10:00:00.1234567Z"
        );
        assert_eq!(
            format_datetime(dt("12-02-2022")),
            "2022-12-02T00:00:00.0000000Z"
        );
        assert_eq!(
            format_datetime(dt("1970-5-12")),
            "1970-05-12T00:00:00.0000000Z"
        );
        assert_eq!(
            format_datetime(dt("2016-12-31T06:00")),
            "2016-12-31T06:00:00.0000000Z"
        );
        assert_eq!(parse_datetime("not a date"), None);
        assert_eq!(parse_datetime("2020-13-01"), None);
    }

    #[test]
    fn formats_datetimes_like_the_oracle() {
        assert_eq!(
            format_datetime(dt("2020-06-15 13:45:09.1234567")),
            "2020-06-15T13:45:09.1234567Z"
        );
        assert_eq!(
            format_datetime(-NANOS_PER_TICK),
            "1969-12-31T23:59:59.9999999Z"
        );
    }

    #[test]
    fn timespans_round_trip_in_dotnet_constant_form() {
        for text in [
            "1.02:03:04.5000000",
            "00:00:00.0000001",
            "-01:00:00",
            "02:00:00",
            "1.00:00:00",
        ] {
            let nanos = parse_timespan(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format_timespan(nanos), text);
        }
        assert_eq!(parse_timespan("1d"), Some(NANOS_PER_DAY));
        assert_eq!(parse_timespan("1.5h"), Some(90 * NANOS_PER_MINUTE));
        assert_eq!(parse_timespan("100ms"), Some(100_000_000));
        assert_eq!(parse_timespan("3tick"), Some(300));
        assert_eq!(parse_timespan("10:61"), None);
        assert_eq!(parse_timespan("abc"), None);
    }

    #[test]
    fn reals_print_like_dotnet_and_kusto_tostring() {
        assert_eq!(format_real(15.0), "15");
        assert_eq!(format_real(24.6), "24.6");
        assert_eq!(format_real(9.223372036854776E18), "9.223372036854776E+18");
        assert_eq!(format_real(0.00001), "1E-05");
        assert_eq!(format_real(0.0001), "0.0001");
        assert_eq!(format_real(f64::NEG_INFINITY), "-Infinity");
        // Known difference: the oracle prints `tostring(0.1 + 0.2)` as 0.30000000000000007,
        // a 17-digit form that is not the shortest round-trip; goshawk prints ...04.
        assert_eq!(real_to_kusto_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(real_to_kusto_string(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(real_to_kusto_string(-0.0), "-0.0");
        assert_eq!(real_to_kusto_string(1.0), "1.0");
        assert_eq!(real_to_kusto_string(f64::INFINITY), "inf");
        assert_eq!(real_to_kusto_string(f64::NAN), "NaN");
    }

    #[test]
    fn periods_round_like_kusto() {
        let t = dt("2020-06-17 13:45:09.5");
        let show = |n: Option<i64>| n.map(format_datetime).unwrap_or_default();
        assert_eq!(
            show(start_of(Period::Day, t, 0)),
            "2020-06-17T00:00:00.0000000Z"
        );
        assert_eq!(
            show(start_of(Period::Week, t, 0)),
            "2020-06-14T00:00:00.0000000Z"
        );
        assert_eq!(
            show(start_of(Period::Month, t, -6)),
            "2019-12-01T00:00:00.0000000Z"
        );
        assert_eq!(
            show(end_of(Period::Year, t, 0)),
            "2020-12-31T23:59:59.9999999Z"
        );
        assert_eq!(
            show(end_of(Period::Month, t, 0)),
            "2020-06-30T23:59:59.9999999Z"
        );
    }

    #[test]
    fn format_datetime_pattern_matches_oracle() {
        let t = dt("2020-06-15 13:45:09");
        assert_eq!(
            format_datetime_pattern(t, "M/d/yyyy h:mm:ss tt"),
            "6/15/2020 1:45:09 PM"
        );
        assert_eq!(
            format_datetime_pattern(dt("2007-01-02 03:04:05"), "yy-MM-dd HH:mm"),
            "07-01-02 03:04"
        );
        let u = dt("2007-03-09 05:04:03");
        assert_eq!(
            format_datetime_pattern(u, "dddd, MMMM d, yyyy"),
            "0909, 0303 9, 2007"
        );
        assert_eq!(format_datetime_pattern(u, "ddd MMM"), "099 033");
        let f = dt("2020-06-15 13:45:09.1234567");
        assert_eq!(format_datetime_pattern(f, "ffffff"), "123456");
        assert_eq!(
            format_datetime_pattern(dt("2020-06-15 13:45:09.0000007"), "FFFFFFF"),
            "0000007"
        );
        assert_eq!(format_datetime_pattern(t, "FFFFFFF"), "");
        assert_eq!(
            format_datetime_pattern(dt("2020-06-15 13:45:09.05"), "ss.ff"),
            "09.05"
        );
    }

    #[test]
    fn datetime_bins_count_from_year_one() {
        let bin = |text: &str, size: i64| bin_datetime(dt(text), size).map(format_datetime);
        assert_eq!(
            bin("1955-11-05 06:15:00", 7 * NANOS_PER_DAY).as_deref(),
            Some("1955-10-31T00:00:00.0000000Z")
        );
        assert_eq!(
            bin("1955-11-05 06:15:00", NANOS_PER_DAY).as_deref(),
            Some("1955-11-05T00:00:00.0000000Z")
        );
        assert_eq!(
            bin("1969-12-31 23:30:00", NANOS_PER_HOUR).as_deref(),
            Some("1969-12-31T23:00:00.0000000Z")
        );
        assert_eq!(
            bin("2020-06-15 13:45:00", 30 * NANOS_PER_MINUTE).as_deref(),
            Some("2020-06-15T13:30:00.0000000Z")
        );
    }

    #[test]
    fn bin_rounds_towards_negative_infinity() {
        assert_eq!(bin_i64(17, 5), Some(15));
        assert_eq!(bin_i64(-1, 5), Some(-5));
        assert_eq!(bin_i64(3, 0), None);
    }
}
