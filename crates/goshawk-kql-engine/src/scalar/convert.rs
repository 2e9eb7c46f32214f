//! Conversions: `tostring`, `toint`, `tolong`, `toreal`/`todouble`, `tobool`, `toguid`,
//! `todatetime`, `totimespan`, `gettype`. Values that do not convert give null, as in Kusto.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, DurationNanosecondArray, Float64Array, Int32Array, Int64Array,
    StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::DataType;
use datafusion::common::Result as DFResult;
use goshawk_types::{KustoType, NANOS_PER_TICK};
use regex::Regex;
use serde_json::Value;

use super::{KustoScalar, returns};
use crate::format::{KustoValue, value_at};
use crate::time::{UNIX_EPOCH_TICKS, parse_datetime, parse_timespan};

fn values(array: &ArrayRef, ty: KustoType) -> impl Iterator<Item = Option<KustoValue>> + '_ {
    (0..array.len()).map(move |row| value_at(array.as_ref(), row, ty))
}

fn dynamic_scalar(value: Value) -> Option<KustoValue> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(KustoValue::Bool(b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(KustoValue::Long(i)),
            None => n.as_f64().map(KustoValue::Real),
        },
        Value::String(s) => Some(KustoValue::String(s)),
        other => Some(KustoValue::Dynamic(other)),
    }
}

fn unwrap_dynamic(value: Option<KustoValue>) -> Option<KustoValue> {
    match value {
        Some(KustoValue::Dynamic(v)) => dynamic_scalar(v),
        other => other,
    }
}

fn value_to_long(value: Option<KustoValue>) -> Option<i64> {
    match unwrap_dynamic(value)? {
        KustoValue::Bool(b) => Some(i64::from(b)),
        KustoValue::Long(v) => Some(v),
        KustoValue::Real(v) => real_to_long(v),
        KustoValue::Decimal(text) => text.parse::<f64>().ok().map(|v| v.trunc() as i64),
        KustoValue::String(text) => parse_long_text(text.trim()),
        KustoValue::DateTime(nanos) => nanos
            .div_euclid(NANOS_PER_TICK)
            .checked_add(UNIX_EPOCH_TICKS),
        KustoValue::TimeSpan(nanos) => Some(nanos / NANOS_PER_TICK),
        KustoValue::Dynamic(_) => None,
    }
}

/// .NET's unchecked double-to-long conversion: truncation, and `long.MinValue` for NaN and
/// values outside the range (the oracle's `tolong(todouble(9223372036854775807))`).
fn real_to_long(v: f64) -> Option<i64> {
    if v.is_nan() {
        return None;
    }
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
        Some(v.trunc() as i64)
    } else {
        Some(i64::MIN)
    }
}

/// Decimal integers, or hexadecimal with a `0x` prefix read as 64 unsigned bits
/// (`tolong("0xFFFFFFFFFFFFFFFF")` is -1); a negative hexadecimal is not a number.
fn parse_long_text(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as i64),
        None => text.parse().ok(),
    }
}

fn value_to_real(value: Option<KustoValue>) -> Option<f64> {
    match unwrap_dynamic(value)? {
        KustoValue::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        KustoValue::Long(v) => Some(v as f64),
        KustoValue::Real(v) => Some(v),
        KustoValue::Decimal(text) => text.parse().ok(),
        KustoValue::String(text) => parse_real_text(text.trim()),
        KustoValue::DateTime(nanos) => {
            Some((nanos.div_euclid(NANOS_PER_TICK) + UNIX_EPOCH_TICKS) as f64)
        }
        KustoValue::TimeSpan(nanos) => Some((nanos / NANOS_PER_TICK) as f64),
        KustoValue::Dynamic(_) => None,
    }
}

/// The real engine accepts `NaN`/`Infinity` in any case but `inf` only in lower case
/// (`todouble("INF")` is null, `todouble("inf")` is Infinity).
fn parse_real_text(text: &str) -> Option<f64> {
    match text {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "" => return None,
        _ => {}
    }
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "+infinity" => Some(f64::INFINITY),
        "-infinity" => Some(f64::NEG_INFINITY),
        lower if lower.contains("inf") || lower.contains("nan") => None,
        _ => text.parse().ok(),
    }
}

fn value_to_bool(value: Option<KustoValue>) -> Option<bool> {
    match unwrap_dynamic(value)? {
        KustoValue::Bool(b) => Some(b),
        KustoValue::Long(v) => Some(v != 0),
        KustoValue::Real(v) => Some(v != 0.0),
        KustoValue::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Kusto's `tolong()` of a column.
pub fn to_long_array(array: &ArrayRef, ty: KustoType) -> DFResult<Int64Array> {
    if matches!(ty, KustoType::Int | KustoType::Long)
        && !matches!(array.data_type(), DataType::Utf8)
    {
        let cast = arrow::compute::cast(array, &DataType::Int64)?;
        if let Some(longs) = cast.as_any().downcast_ref::<Int64Array>() {
            return Ok(longs.clone());
        }
    }
    Ok(values(array, ty).map(value_to_long).collect())
}

/// Kusto's `toreal()` of a column.
pub fn to_real_array(array: &ArrayRef, ty: KustoType) -> DFResult<Float64Array> {
    if matches!(ty, KustoType::Int | KustoType::Long | KustoType::Real)
        && !matches!(array.data_type(), DataType::Utf8)
    {
        let cast = arrow::compute::cast(array, &DataType::Float64)?;
        if let Some(reals) = cast.as_any().downcast_ref::<Float64Array>() {
            return Ok(reals.clone());
        }
    }
    Ok(values(array, ty).map(value_to_real).collect())
}

/// Kusto's `tobool()` of a column.
pub fn to_bool_array(array: &ArrayRef, ty: KustoType) -> DFResult<BooleanArray> {
    if let Some(bools) = array.as_any().downcast_ref::<BooleanArray>() {
        return Ok(bools.clone());
    }
    Ok(values(array, ty).map(value_to_bool).collect())
}

/// Kusto's `todatetime()` of a column: datetimes pass through, strings are parsed with
/// [`parse_datetime`], anything else is null.
pub fn to_datetime_array(array: &ArrayRef, ty: KustoType) -> DFResult<TimestampNanosecondArray> {
    let result: TimestampNanosecondArray = values(array, ty)
        .map(|v| match unwrap_dynamic(v)? {
            KustoValue::DateTime(nanos) => Some(nanos),
            KustoValue::String(text) => parse_datetime(&text),
            // Numbers are ticks since 0001-01-01, the inverse of tolong(datetime).
            KustoValue::Long(ticks) => ticks
                .checked_sub(UNIX_EPOCH_TICKS)?
                .checked_mul(NANOS_PER_TICK),
            KustoValue::Real(ticks) if ticks.is_finite() => (ticks as i64)
                .checked_sub(UNIX_EPOCH_TICKS)?
                .checked_mul(NANOS_PER_TICK),
            _ => None,
        })
        .collect();
    Ok(result.with_timezone("UTC"))
}

/// Kusto's `totimespan()` of a column: timespans pass through, strings are parsed with
/// [`parse_timespan`], numbers count ticks.
pub fn to_timespan_array(array: &ArrayRef, ty: KustoType) -> DFResult<DurationNanosecondArray> {
    Ok(values(array, ty)
        .map(|v| match unwrap_dynamic(v)? {
            KustoValue::TimeSpan(nanos) => Some(nanos),
            KustoValue::String(text) => parse_timespan(&text),
            KustoValue::Long(ticks) => ticks.checked_mul(NANOS_PER_TICK),
            KustoValue::Real(ticks) if ticks.is_finite() => Some(ticks as i64 * NANOS_PER_TICK),
            _ => None,
        })
        .collect())
}

static GUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\{?([0-9A-Fa-f]{8})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{12})\}?$")
        .unwrap_or_else(|err| unreachable!("fixed regex: {err}"))
});

/// Kusto's `toguid()` of one string: the canonical lower-case form, or `None`.
pub fn parse_guid(text: &str) -> Option<String> {
    let caps = GUID.captures(text.trim())?;
    Some(
        format!(
            "{}-{}-{}-{}-{}",
            &caps[1], &caps[2], &caps[3], &caps[4], &caps[5]
        )
        .to_ascii_lowercase(),
    )
}

/// Kusto's `gettype()` of one value of declared type `ty`.
pub fn gettype_of(value: Option<&KustoValue>, ty: KustoType) -> &'static str {
    match (ty, value) {
        (KustoType::Dynamic, None) => "null",
        (KustoType::Dynamic, Some(KustoValue::Dynamic(v))) => crate::dynamic::gettype(v),
        (KustoType::Int, _) => "int",
        (KustoType::Long, _) => "long",
        (KustoType::Real, _) => "real",
        (KustoType::Decimal, _) => "decimal",
        (KustoType::Bool, _) => "bool",
        (KustoType::String, _) => "string",
        (KustoType::DateTime, _) => "datetime",
        (KustoType::TimeSpan, _) => "timespan",
        (KustoType::Guid, _) => "guid",
        (KustoType::Dynamic, Some(_)) => "string",
    }
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "tostring",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| Ok(Arc::new(call.strings(0)) as ArrayRef)),
        ),
        KustoScalar::new(
            "tolong",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| Ok(Arc::new(call.longs(0)?) as ArrayRef)),
        ),
        KustoScalar::new(
            "toint",
            1,
            Some(1),
            returns(KustoType::Int),
            Arc::new(|call| {
                let longs = call.longs(0)?;
                let ints: Int32Array = longs
                    .iter()
                    .map(|v| v.and_then(|v| i32::try_from(v).ok()))
                    .collect();
                Ok(Arc::new(ints) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "toreal",
            1,
            Some(1),
            returns(KustoType::Real),
            Arc::new(|call| Ok(Arc::new(to_real_array(&call.args[0], call.types[0])?) as ArrayRef)),
        ),
        KustoScalar::new(
            "todecimal",
            1,
            Some(1),
            returns(KustoType::Decimal),
            Arc::new(|call| {
                let wanted = KustoType::Decimal.arrow_type();
                // Text goes straight to decimal so "3.14159" keeps its digits; other kinds go
                // through Kusto's tolong/toreal rules first.
                let source: ArrayRef = match call.types[0] {
                    KustoType::Int | KustoType::Long | KustoType::Bool => Arc::new(call.longs(0)?),
                    KustoType::Real | KustoType::Decimal => {
                        Arc::new(to_real_array(&call.args[0], call.types[0])?)
                    }
                    _ => {
                        let text: StringArray =
                            call.strings(0).iter().map(|s| s.map(str::trim)).collect();
                        Arc::new(text)
                    }
                };
                Ok(arrow::compute::cast(&source, &wanted)?)
            }),
        ),
        KustoScalar::new(
            "tobool",
            1,
            Some(1),
            returns(KustoType::Bool),
            Arc::new(|call| Ok(Arc::new(to_bool_array(&call.args[0], call.types[0])?) as ArrayRef)),
        ),
        KustoScalar::new(
            "todatetime",
            1,
            Some(1),
            returns(KustoType::DateTime),
            Arc::new(|call| {
                Ok(Arc::new(to_datetime_array(&call.args[0], call.types[0])?) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "totimespan",
            1,
            Some(1),
            returns(KustoType::TimeSpan),
            Arc::new(|call| {
                Ok(Arc::new(to_timespan_array(&call.args[0], call.types[0])?) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "toguid",
            1,
            Some(1),
            returns(KustoType::Guid),
            Arc::new(|call| {
                let strings = call.strings(0);
                let guids: StringArray = strings.iter().map(|s| s.and_then(parse_guid)).collect();
                Ok(Arc::new(guids) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "gettype",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                let ty = call.types[0];
                let names: StringArray = values(&call.args[0], ty)
                    .map(|v| Some(gettype_of(v.as_ref(), ty)))
                    .collect();
                Ok(Arc::new(names) as ArrayRef)
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::scalar::test_support::{eval, lit_str};

    #[tokio::test]
    async fn failed_conversions_are_null() {
        let out = eval("tolong", vec![lit_str("abc")]).await;
        assert_eq!(out, ["null"]);
        assert_eq!(eval("toint", vec![lit_str("12.5")]).await, ["null"]);
        assert_eq!(eval("toreal", vec![lit_str("")]).await, ["null"]);
        assert_eq!(
            eval("todatetime", vec![lit_str("not a date")]).await,
            ["null"]
        );
        assert_eq!(eval("tobool", vec![lit_str("maybe")]).await, ["null"]);
        assert_eq!(eval("toguid", vec![lit_str("xyz")]).await, ["null"]);
    }

    #[tokio::test]
    async fn successful_conversions() {
        assert_eq!(eval("tolong", vec![lit_str(" 42 ")]).await, ["42"]);
        assert_eq!(eval("toreal", vec![lit_str("1.5")]).await, ["1.5"]);
        assert_eq!(eval("tobool", vec![lit_str("TRUE")]).await, ["True"]);
        assert_eq!(
            eval("todatetime", vec![lit_str("2020-01-01T13:45:00Z")]).await,
            ["2020-01-01T13:45:00.0000000Z"]
        );
        assert_eq!(
            eval("totimespan", vec![lit_str("1.02:03:04.5")]).await,
            ["1.02:03:04.5000000"]
        );
        assert_eq!(
            eval(
                "toguid",
                vec![lit_str("550E8400-E29B-41D4-A716-446655440000")]
            )
            .await,
            ["550e8400-e29b-41d4-a716-446655440000"]
        );
    }

    #[tokio::test]
    async fn numeric_text_conversions_match_the_oracle() {
        let cases = [
            ("toint", "0xFF", "255"),
            ("tolong", "0x10", "16"),
            ("tolong", "0xFFFFFFFFFFFFFFFF", "-1"),
            ("toint", "-0x10", "null"),
            ("toint", "0x7FFFFFFF", "2147483647"),
            ("todouble", "  NaN  ", "NaN"),
            ("todouble", "nan", "NaN"),
            ("todouble", "INF", "null"),
            ("todouble", "-inf", "-Infinity"),
            ("todouble", "+Infinity", "Infinity"),
            ("todouble", "1e400", "Infinity"),
            ("todouble", "4.9e-324", "5E-324"),
        ];
        for (function, input, expected) in cases {
            assert_eq!(
                eval(function, vec![lit_str(input)]).await,
                [expected],
                "{function}({input})"
            );
        }
        use datafusion::logical_expr::lit;
        assert_eq!(
            eval("tolong", vec![lit(9.223372036854776e18_f64)]).await,
            ["-9223372036854775808"]
        );
        assert_eq!(eval("tolong", vec![lit(-9.99_f64)]).await, ["-9"]);
        assert_eq!(eval("toint", vec![lit(true)]).await, ["1"]);
    }

    #[tokio::test]
    async fn datetimes_convert_to_ticks_since_year_one() {
        use datafusion::common::ScalarValue;
        use datafusion::logical_expr::lit;
        let epoch = lit(ScalarValue::TimestampNanosecond(
            Some(0),
            Some("UTC".into()),
        ));
        assert_eq!(
            eval("tolong", vec![epoch.clone()]).await,
            ["621355968000000000"]
        );
        assert_eq!(eval("toreal", vec![epoch]).await, ["6.21355968E+17"]);
        let leap = crate::time::parse_datetime("2020-02-29").unwrap_or_default();
        let leap = lit(ScalarValue::TimestampNanosecond(
            Some(leap),
            Some("UTC".into()),
        ));
        let round_trip = crate::scalar::test_support::call("tolong", vec![leap]);
        assert_eq!(
            eval("todatetime", vec![round_trip]).await,
            ["2020-02-29T00:00:00.0000000Z"]
        );
        assert_eq!(
            eval(
                "tolong",
                vec![lit(ScalarValue::DurationNanosecond(Some(
                    86_400_000_000_000
                )))]
            )
            .await,
            ["864000000000"]
        );
    }

    #[tokio::test]
    async fn gettype_names_dynamic_contents() {
        let parsed = crate::scalar::test_support::call("parse_json", vec![lit_str("123")]);
        assert_eq!(eval("gettype", vec![parsed]).await, ["long"]);
        let parsed = crate::scalar::test_support::call("parse_json", vec![lit_str("{}")]);
        assert_eq!(eval("gettype", vec![parsed]).await, ["dictionary"]);
        assert_eq!(eval("gettype", vec![lit_str("x")]).await, ["string"]);
    }

    #[tokio::test]
    async fn todecimal_keeps_text_digits_and_nulls_bad_text() {
        assert_eq!(
            eval("todecimal", vec![lit_str("3.14159")]).await,
            ["3.14159"]
        );
        assert_eq!(eval("todecimal", vec![lit_str("abc")]).await, ["null"]);
        assert_eq!(eval("todecimal", vec![lit_str("-0.0")]).await, ["0"]);
        assert_eq!(
            eval("todecimal", vec![datafusion::logical_expr::lit(10_i64)]).await,
            ["10"]
        );
        assert_eq!(
            eval("todecimal", vec![datafusion::logical_expr::lit(1.5_f64)]).await,
            ["1.5"]
        );
    }
}
