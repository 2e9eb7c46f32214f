//! Conversion of source values (JSON values, CSV cells) to the Kusto type of a lake column.
//! A value that does not fit its column is an error, so the whole record goes to the rejects
//! instead of being stored half-empty.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime};
use goshawk_types::{KustoType, NANOS_PER_TICK};
use serde_json::Value;

use crate::jsonref::JsonRef;

/// One typed cell of a lake row. Text borrows from the record's input bytes where it can: a
/// row is appended to the column builders before its record is dropped, and an allocation per
/// text cell was a tenth of the ingest time.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i32),
    Long(i64),
    Real(f64),
    /// Nanoseconds since the Unix epoch, UTC, always a whole number of ticks.
    Time(i64),
    /// An object or array for a text column: its compact JSON text, written straight into the
    /// column instead of into a string of its own first.
    Json(JsonRef<'a>),
    /// The same text as the (earlier) column at this index: the JSON-text twins of dynamic
    /// columns, appended twice instead of held twice.
    Twin(usize),
}

impl Cell<'_> {
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Str(text) => Cell::Str(Cow::Owned(text.into_owned())),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Int(v) => Cell::Int(v),
            Cell::Long(v) => Cell::Long(v),
            Cell::Real(v) => Cell::Real(v),
            Cell::Time(v) => Cell::Time(v),
            Cell::Json(value) => Cell::Str(Cow::Owned(value.to_json_text())),
            Cell::Twin(index) => Cell::Twin(index),
        }
    }
}

/// Converts a JSON value to a cell of type `ty`; JSON null gives no cell.
pub fn from_json(ty: KustoType, value: &Value) -> Result<Option<Cell<'static>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    if let Value::String(text) = value {
        return from_json_str(ty, text).map(|cell| cell.map(Cell::into_owned));
    }
    match ty {
        KustoType::String | KustoType::Guid | KustoType::Dynamic => {
            Ok(Some(Cell::Str(Cow::Owned(json_text(value)))))
        }
        KustoType::DateTime => Err(format!("expected a datetime string, found {value}")),
        KustoType::Bool => match value {
            Value::Bool(b) => Ok(Some(Cell::Bool(*b))),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Some(Cell::Bool(false))),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Some(Cell::Bool(true))),
            other => Err(format!("expected a boolean, found {other}")),
        },
        KustoType::Int | KustoType::Long | KustoType::Real => match value {
            Value::Number(n) => number_cell(ty, n),
            other => Err(format!("expected a number, found {other}")),
        },
        KustoType::Decimal | KustoType::TimeSpan => Err(unsupported(ty)),
    }
}

/// [`from_json`] of a JSON string value.
pub fn from_json_str(ty: KustoType, text: &str) -> Result<Option<Cell<'_>>, String> {
    match ty {
        KustoType::String | KustoType::Guid => Ok(Some(Cell::Str(compact_if_json(text)))),
        KustoType::Dynamic => Ok(Some(Cell::Str(Cow::Owned(dynamic_text_from_str(text))))),
        KustoType::DateTime if text.trim().is_empty() => Ok(None),
        KustoType::DateTime => parse_datetime(text).map(|t| Some(Cell::Time(t))),
        KustoType::Bool | KustoType::Int | KustoType::Long | KustoType::Real => from_text(ty, text),
        KustoType::Decimal | KustoType::TimeSpan => Err(unsupported(ty)),
    }
}

/// [`from_json`] of a borrowed JSON value: the same cell, without building a `Value` for the
/// objects and arrays that string and dynamic columns store as JSON text.
pub fn from_json_ref<'a>(ty: KustoType, value: &JsonRef<'a>) -> Result<Option<Cell<'a>>, String> {
    match value {
        JsonRef::Null => Ok(None),
        JsonRef::Str(Cow::Borrowed(text)) => from_json_str(ty, text),
        JsonRef::Str(Cow::Owned(text)) => {
            from_json_str(ty, text).map(|cell| cell.map(Cell::into_owned))
        }
        JsonRef::Array(_) | JsonRef::Object(_) if is_text(ty) => {
            Ok(Some(Cell::Str(Cow::Owned(value.to_json_text()))))
        }
        // Scalars are cheap to convert, and errors are rare: share from_json's rules.
        other => from_json(ty, &other.clone().into_value()),
    }
}

/// [`from_json_ref`] of a value the cell may keep: objects and arrays are not serialised here.
pub fn from_json_ref_owned(ty: KustoType, value: JsonRef<'_>) -> Result<Option<Cell<'_>>, String> {
    if value.is_container() && is_text(ty) {
        return Ok(Some(Cell::Json(value)));
    }
    from_json_ref(ty, &value)
}

/// Column types stored as text (dynamic columns hold JSON text).
fn is_text(ty: KustoType) -> bool {
    matches!(ty, KustoType::String | KustoType::Guid | KustoType::Dynamic)
}

fn unsupported(ty: KustoType) -> String {
    // No table goshawk ingests has such a column; the lake writer refuses them up front.
    format!("columns of type {ty} are not supported by the ingester")
}

fn number_cell(ty: KustoType, n: &serde_json::Number) -> Result<Option<Cell<'static>>, String> {
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            .map(|f| f as i64)
    });
    match ty {
        KustoType::Real => n
            .as_f64()
            .map(|f| Some(Cell::Real(f)))
            .ok_or_else(|| format!("number {n} does not fit a real")),
        KustoType::Long => whole
            .map(|v| Some(Cell::Long(v)))
            .ok_or_else(|| format!("expected a whole number (long), found {n}")),
        _ => whole
            .and_then(|v| i32::try_from(v).ok())
            .map(|v| Some(Cell::Int(v)))
            .ok_or_else(|| format!("expected a whole number that fits an int, found {n}")),
    }
}

/// Converts cell text (CSV, or a JSON string in a typed column) to type `ty`. An empty cell is
/// null: Log Analytics exports write null and "" the same way.
pub fn from_text(ty: KustoType, text: &str) -> Result<Option<Cell<'_>>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match ty {
        KustoType::String | KustoType::Guid => Ok(Some(Cell::Str(compact_if_json(text)))),
        KustoType::Dynamic => Ok(Some(Cell::Str(Cow::Owned(dynamic_text_from_str(text))))),
        KustoType::DateTime => parse_datetime(trimmed).map(|t| Some(Cell::Time(t))),
        KustoType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(Cell::Bool(true))),
            "false" | "0" => Ok(Some(Cell::Bool(false))),
            _ => Err(format!(
                "expected TRUE or FALSE, found '{}'",
                shorten(trimmed)
            )),
        },
        KustoType::Long => parse_whole(trimmed).map(|v| Some(Cell::Long(v))),
        KustoType::Int => parse_whole(trimmed).and_then(|v| {
            i32::try_from(v)
                .map(|v| Some(Cell::Int(v)))
                .map_err(|_| format!("{v} does not fit an int"))
        }),
        KustoType::Real => trimmed
            .parse::<f64>()
            .map(|v| Some(Cell::Real(v)))
            .map_err(|_| format!("expected a number, found '{}'", shorten(trimmed))),
        KustoType::Decimal | KustoType::TimeSpan => Err(unsupported(ty)),
    }
}

fn parse_whole(text: &str) -> Result<i64, String> {
    if let Ok(v) = text.parse::<i64>() {
        return Ok(v);
    }
    match text.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(f as i64),
        _ => Err(format!(
            "expected a whole number, found '{}'",
            shorten(text)
        )),
    }
}

pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Compact JSON text of a value. `serde_json::to_string` writes straight into a buffer, unlike
/// `Value`'s `Display`, which goes through the formatter machinery and was a visible cost.
pub fn json_text(value: &Value) -> String {
    // Serialising a Value cannot fail: its map keys are strings and its numbers finite.
    serde_json::to_string(value).unwrap_or_default()
}

/// JSON text for a dynamic column from a string: a string that itself holds a JSON object or
/// array becomes that object or array (Log Analytics parses such strings on ingestion).
fn dynamic_text_from_str(text: &str) -> String {
    parse_json_container(text)
        .map(|v| json_text(&v))
        .unwrap_or_else(|| json_text(&Value::String(text.to_string())))
}

/// Text that is a JSON object or array (often pretty-printed in exports) is stored compact so
/// that every JSON-in-string column has one spelling; any other text is kept verbatim.
pub fn compact_if_json(text: &str) -> Cow<'_, str> {
    match parse_json_container(text) {
        Some(value) => Cow::Owned(json_text(&value)),
        None => Cow::Borrowed(text),
    }
}

fn parse_json_container(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// Parses the datetime spellings Azure sources use, to nanoseconds since the epoch truncated to
/// whole ticks: ISO 8601 / RFC 3339 with up to 7 fraction digits (with or without a zone; none
/// means UTC), and the US-locale Log Analytics export form `4/28/2021, 2:32:14.029 PM`.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Some(nanos) = parse_iso_utc(text) {
        return Ok(nanos - nanos.rem_euclid(NANOS_PER_TICK));
    }
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| {
            DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %#z").map(|t| t.naive_utc())
        })
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%m/%d/%Y, %I:%M:%S%.f %p"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%m/%d/%Y %I:%M:%S%.f %p"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%m/%d/%Y, %H:%M:%S%.f"))
        .map_err(|_| format!("not a valid datetime: '{}'", shorten(text)))?;
    let nanos = parsed
        .and_utc()
        .timestamp_nanos_opt()
        .ok_or_else(|| format!("datetime out of range (1677..2262): '{}'", shorten(text)))?;
    Ok(nanos - nanos.rem_euclid(NANOS_PER_TICK))
}

/// The spelling of nearly every Azure timestamp, `2026-05-01T07:08:47.1719583Z` (fraction and
/// `Z` optional), read without chrono's format machinery; `None` for anything else, which
/// [`parse_datetime`] then reads the general way.
fn parse_iso_utc(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes.get(range)?.iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|(i, c)| bytes.get(*i) == Some(c)) {
        return None;
    }
    let mut rest = bytes.get(19..)?;
    let mut nanos = 0;
    if let [b'.', fraction @ ..] = rest {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&count) {
            return None;
        }
        nanos = digits(20..20 + count)? * 10u32.pow(9 - count as u32);
        rest = &fraction[count..];
    }
    if !matches!(rest, [] | [b'Z']) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )?;
    date.and_hms_nano_opt(digits(11..13)?, digits(14..16)?, digits(17..19)?, nanos)?
        .and_utc()
        .timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iso_fast_path_reads_what_chrono_reads() {
        for text in [
            "2026-05-01T07:08:47.1719583Z",
            "2026-05-01T07:08:47Z",
            "2026-05-01T07:08:47",
            "2026-05-01T07:08:47.1",
            "2026-05-01T07:08:47.123456789Z",
            "2024-02-29T23:59:59.9999999Z",
            "1970-01-01T00:00:00Z",
            "1677-09-21T00:12:44Z",
            "2262-04-11T23:47:16Z",
        ] {
            let general = DateTime::parse_from_rfc3339(text)
                .map(|t| t.naive_utc())
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
                .ok()
                .and_then(|t| t.and_utc().timestamp_nanos_opt());
            assert_eq!(parse_iso_utc(text), general, "{text}");
        }
        for text in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-05-01T24:00:00Z",
            "2026-05-01T07:60:00Z",
            "2026-05-01T07:08:47.Z",
            "2026-05-01T07:08:47.1234567890Z",
            "2026-05-01T07:08:47+02:00",
            "2026-05-01 07:08:47",
            "2026-5-01T07:08:47Z",
            "3000-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso_utc(text), None, "{text}");
        }
    }

    #[test]
    fn iso_datetimes_keep_ticks() {
        let t = parse_datetime("2019-01-21T22:14:26.9792776Z").unwrap();
        assert_eq!(t % 1_000_000_000, 979_277_600);
        let without_zone = parse_datetime("2019-01-21T22:14:26.9792776").unwrap();
        assert_eq!(t, without_zone);
        let offset = parse_datetime("2019-01-21T23:14:26.9792776+01:00").unwrap();
        assert_eq!(t, offset);
        // Nine digits are more precise than a tick: Kusto keeps whole ticks.
        let nanos = parse_datetime("2019-01-21T22:14:26.979277699Z").unwrap();
        assert_eq!(nanos, t);
    }

    #[test]
    fn us_locale_export_datetimes() {
        let t = parse_datetime("4/28/2021, 2:32:14.029 PM").unwrap();
        let iso = parse_datetime("2021-04-28T14:32:14.029Z").unwrap();
        assert_eq!(t, iso);
        let midnight = parse_datetime("12/1/2020, 12:05:00.000 AM").unwrap();
        assert_eq!(midnight, parse_datetime("2020-12-01T00:05:00Z").unwrap());
    }

    #[test]
    fn impossible_dates_are_errors() {
        assert!(parse_datetime("2021-02-30T00:00:00Z").is_err());
        assert!(parse_datetime("13/1/2021, 1:00:00.000 PM").is_err());
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("9999-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn numbers_from_strings_and_numbers() {
        assert_eq!(
            from_json(KustoType::Long, &serde_json::json!("2826")),
            Ok(Some(Cell::Long(2826)))
        );
        assert_eq!(
            from_json(KustoType::Long, &serde_json::json!(2826)),
            Ok(Some(Cell::Long(2826)))
        );
        assert!(from_json(KustoType::Long, &serde_json::json!("fast")).is_err());
        assert!(from_json(KustoType::Long, &serde_json::json!({"a": 1})).is_err());
        assert_eq!(
            from_text(KustoType::Bool, "TRUE"),
            Ok(Some(Cell::Bool(true)))
        );
        assert_eq!(from_text(KustoType::Bool, ""), Ok(None));
    }

    #[test]
    fn json_text_is_compacted_and_plain_text_kept() {
        assert_eq!(compact_if_json("{\n  \"a\": 1\n}"), "{\"a\":1}");
        assert_eq!(compact_if_json("{not json"), "{not json");
        let dynamic = |v| match from_json(KustoType::Dynamic, &v) {
            Ok(Some(Cell::Str(text))) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(dynamic(serde_json::json!("plain")), "\"plain\"");
        assert_eq!(dynamic(serde_json::json!("[1, 2]")), "[1,2]");
    }
}
