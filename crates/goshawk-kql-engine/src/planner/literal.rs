//! Kusto literals as DataFusion literals, tagged with their Kusto type.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;
use datafusion::common::metadata::FieldMetadata;
use datafusion::logical_expr::Expr;
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::ast::{DynamicValue, Literal, LiteralKind, ScalarType};
use goshawk_types::{KUSTO_TYPE_METADATA_KEY, KustoType, NANOS_PER_TICK};
use serde_json::Value;

use super::Typed;

/// Parses datetime text the way `datetime(...)` and `todatetime()` do (nanoseconds).
pub fn parse_datetime_text(text: &str) -> Option<i64> {
    crate::time::parse_datetime(text)
}

/// Parses timespan text the way `timespan(...)` and `totimespan()` do (nanoseconds).
pub fn parse_timespan_text(text: &str) -> Option<i64> {
    crate::time::parse_timespan(text)
}

/// Field metadata recording a Kusto type, so that the function library reads `dynamic` and
/// `guid` values (stored as Utf8) as what they are.
pub fn kusto_metadata(ty: KustoType) -> FieldMetadata {
    FieldMetadata::from(BTreeMap::from([(
        KUSTO_TYPE_METADATA_KEY.to_string(),
        ty.name().to_string(),
    )]))
}

/// A literal expression carrying its Kusto type in its metadata.
pub fn typed_lit(value: ScalarValue, ty: KustoType) -> Typed {
    Typed {
        expr: Expr::Literal(value, Some(kusto_metadata(ty))),
        ty,
    }
}

pub fn kusto_type_of_scalar(ty: ScalarType) -> KustoType {
    match ty {
        ScalarType::Bool => KustoType::Bool,
        ScalarType::DateTime => KustoType::DateTime,
        ScalarType::Decimal => KustoType::Decimal,
        ScalarType::Dynamic => KustoType::Dynamic,
        ScalarType::Guid => KustoType::Guid,
        ScalarType::Int => KustoType::Int,
        ScalarType::Long => KustoType::Long,
        ScalarType::Real => KustoType::Real,
        ScalarType::String => KustoType::String,
        ScalarType::Timespan => KustoType::TimeSpan,
    }
}

/// The zero of a numeric Kusto type.
pub fn zero_of(ty: KustoType) -> Expr {
    let value = match ty {
        KustoType::Int => ScalarValue::Int32(Some(0)),
        KustoType::Long => ScalarValue::Int64(Some(0)),
        KustoType::Decimal => ScalarValue::try_from(&ty.arrow_type())
            .and_then(|v| ScalarValue::new_zero(&v.data_type()))
            .unwrap_or(ScalarValue::Float64(Some(0.0))),
        _ => ScalarValue::Float64(Some(0.0)),
    };
    typed_lit(value, ty).expr
}

/// A typed null of a Kusto type; a string "null" is the empty string, as strings are never
/// null in Kusto.
pub fn null_of(ty: KustoType) -> Typed {
    if ty == KustoType::String {
        return typed_lit(ScalarValue::Utf8(Some(String::new())), ty);
    }
    let value = ScalarValue::try_from(&ty.arrow_type()).unwrap_or(ScalarValue::Utf8(None));
    typed_lit(value, ty)
}

pub fn datetime_value(nanos: Option<i64>) -> ScalarValue {
    ScalarValue::TimestampNanosecond(nanos, Some("UTC".into()))
}

pub fn timespan_value(nanos: Option<i64>) -> ScalarValue {
    ScalarValue::DurationNanosecond(nanos)
}

/// Lowers a literal; errors are messages for the literal's span.
pub fn lower_literal(literal: &Literal) -> Result<Typed, String> {
    Ok(match &literal.kind {
        LiteralKind::Bool(b) => typed_lit(ScalarValue::Boolean(Some(*b)), KustoType::Bool),
        LiteralKind::Int(v) => {
            let v = i32::try_from(*v).map_err(|_| format!("{v} is out of range for int"))?;
            typed_lit(ScalarValue::Int32(Some(v)), KustoType::Int)
        }
        LiteralKind::Long(v) => typed_lit(ScalarValue::Int64(Some(*v)), KustoType::Long),
        LiteralKind::Real(v) => typed_lit(ScalarValue::Float64(Some(*v)), KustoType::Real),
        LiteralKind::Decimal(text) => {
            let value = parse_decimal(text).ok_or_else(|| format!("invalid decimal '{text}'"))?;
            typed_lit(value, KustoType::Decimal)
        }
        LiteralKind::String(s) => typed_lit(ScalarValue::Utf8(Some(s.clone())), KustoType::String),
        LiteralKind::DateTime(text) => {
            // `datetime(2017 - 08 - 01)`: Kusto reads the date with spaces around the dashes.
            let nanos = parse_datetime_text(text)
                .or_else(|| parse_datetime_text(&text.replace(" - ", "-")))
                .ok_or_else(|| format!("invalid datetime literal '{text}'"))?;
            typed_lit(datetime_value(Some(nanos)), KustoType::DateTime)
        }
        LiteralKind::Timespan(ticks) => {
            let nanos = ticks
                .checked_mul(NANOS_PER_TICK)
                .ok_or_else(|| "timespan literal out of range".to_string())?;
            typed_lit(timespan_value(Some(nanos)), KustoType::TimeSpan)
        }
        LiteralKind::Guid(text) => {
            let normalized =
                normalize_guid(text).ok_or_else(|| format!("invalid guid literal '{text}'"))?;
            typed_lit(ScalarValue::Utf8(Some(normalized)), KustoType::Guid)
        }
        LiteralKind::Dynamic(value) => {
            let json = dynamic_to_json(value)?;
            if json.is_null() {
                null_of(KustoType::Dynamic)
            } else {
                typed_lit(
                    ScalarValue::Utf8(Some(json.to_string())),
                    KustoType::Dynamic,
                )
            }
        }
        LiteralKind::TypedNull(ty) => null_of(kusto_type_of_scalar(*ty)),
    })
}

/// A guid in Kusto's canonical form: 8-4-4-4-12 lower-case hex digits.
fn normalize_guid(text: &str) -> Option<String> {
    let text = text.trim();
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    (lengths == [8, 4, 4, 4, 12] && hex).then(|| text.to_ascii_lowercase())
}

fn parse_decimal(text: &str) -> Option<ScalarValue> {
    let DataType::Decimal128(precision, scale) = KustoType::Decimal.arrow_type() else {
        return None;
    };
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let scale_digits = usize::try_from(scale).ok()?;
    if fraction.len() > scale_digits
        || !(whole.chars().chain(fraction.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let padded = format!("{whole}{fraction:0<scale_digits$}");
    let raw: i128 = padded.parse().ok()?;
    Some(ScalarValue::Decimal128(
        Some(if negative { -raw } else { raw }),
        precision,
        scale,
    ))
}

/// A `dynamic(...)` literal as JSON. Typed scalars inside become their JSON rendering.
pub fn dynamic_to_json(value: &DynamicValue) -> Result<Value, String> {
    Ok(match value {
        DynamicValue::Null => Value::Null,
        DynamicValue::Bool(b) => Value::Bool(*b),
        DynamicValue::Long(v) => Value::from(*v),
        DynamicValue::Real(v) => crate::format::real_to_json(*v),
        DynamicValue::String(s) => Value::String(s.clone()),
        DynamicValue::Array(items) => Value::Array(
            items
                .iter()
                .map(dynamic_to_json)
                .collect::<Result<_, _>>()?,
        ),
        DynamicValue::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), dynamic_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        DynamicValue::Scalar(literal) => match &literal.kind {
            LiteralKind::DateTime(text) => {
                let nanos = parse_datetime_text(text)
                    .ok_or_else(|| format!("invalid datetime literal '{text}'"))?;
                Value::String(crate::time::format_datetime(nanos))
            }
            LiteralKind::Timespan(ticks) => Value::String(crate::time::format_timespan(
                ticks.saturating_mul(NANOS_PER_TICK),
            )),
            LiteralKind::Guid(text) => Value::String(text.to_ascii_lowercase()),
            LiteralKind::Decimal(text) => {
                text.parse::<f64>().map(Value::from).unwrap_or(Value::Null)
            }
            LiteralKind::Int(v) | LiteralKind::Long(v) => Value::from(*v),
            LiteralKind::Real(v) => crate::format::real_to_json(*v),
            LiteralKind::Bool(b) => Value::Bool(*b),
            LiteralKind::String(s) => Value::String(s.clone()),
            LiteralKind::Dynamic(inner) => dynamic_to_json(inner)?,
            LiteralKind::TypedNull(_) => Value::Null,
        },
    })
}

/// The constant value of a literal-only expression, used where Kusto requires a constant
/// (`take 10`, `range` bounds, datatable cells).
pub fn constant_value(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value.clone()),
        Expr::Alias(alias) => constant_value(&alias.expr),
        Expr::Negative(inner) => match constant_value(inner)? {
            ScalarValue::Int32(v) => Some(ScalarValue::Int32(v.map(|v| -v))),
            ScalarValue::Int64(v) => Some(ScalarValue::Int64(v.map(|v| -v))),
            ScalarValue::Float64(v) => Some(ScalarValue::Float64(v.map(|v| -v))),
            ScalarValue::DurationNanosecond(v) => {
                Some(ScalarValue::DurationNanosecond(v.map(|v| -v)))
            }
            ScalarValue::Decimal128(v, p, s) => Some(ScalarValue::Decimal128(v.map(|v| -v), p, s)),
            _ => None,
        },
        _ => None,
    }
}
