//! Kusto's rendering of values of every type: `tostring()`, the text the result formatter
//! prints, and the JSON value used for `--format json` and for building dynamic arrays.

use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::datatypes::{
    DataType, Decimal128Type, DurationNanosecondType, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampNanosecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use goshawk_types::KustoType;
use serde_json::Value;

use crate::dynamic;
use crate::time::{format_datetime, format_timespan, real_to_kusto_string};

/// A single non-null value pulled out of an Arrow array, typed the Kusto way.
#[derive(Clone, Debug, PartialEq)]
pub enum KustoValue {
    /// `bool`
    Bool(bool),
    /// `int` and `long`
    Long(i64),
    /// `real`
    Real(f64),
    /// `decimal`, as its exact text (`1.5`)
    Decimal(String),
    /// `string` and `guid`
    String(String),
    /// `datetime`, nanoseconds since the epoch
    DateTime(i64),
    /// `timespan`, nanoseconds
    TimeSpan(i64),
    /// `dynamic`, parsed
    Dynamic(Value),
}

fn decimal_text(raw: i128, scale: i8) -> String {
    if scale <= 0 {
        return (raw * 10_i128.pow(u32::from(scale.unsigned_abs()))).to_string();
    }
    let scale = scale as u32;
    let divisor = 10_i128.pow(scale);
    let sign = if raw < 0 { "-" } else { "" };
    let whole = (raw / divisor).unsigned_abs();
    let fraction = (raw % divisor).unsigned_abs();
    let fraction = format!("{fraction:0width$}", width = scale as usize);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// Reads row `row` of `array` as a Kusto value of type `kusto_type` (the column's type, from
/// [`KustoType::from_field`]). `None` for a null, for a dynamic null, and for an Arrow type the
/// engine does not read.
pub fn value_at(array: &dyn Array, row: usize, kusto_type: KustoType) -> Option<KustoValue> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Boolean => KustoValue::Bool(array.as_boolean().value(row)),
        DataType::Int8 => KustoValue::Long(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => KustoValue::Long(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => KustoValue::Long(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => KustoValue::Long(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => KustoValue::Long(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => KustoValue::Long(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => KustoValue::Long(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => KustoValue::Long(array.as_primitive::<UInt64Type>().value(row) as i64),
        DataType::Float32 => {
            KustoValue::Real(array.as_primitive::<Float32Type>().value(row).into())
        }
        DataType::Float64 => KustoValue::Real(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, scale) => KustoValue::Decimal(decimal_text(
            array.as_primitive::<Decimal128Type>().value(row),
            *scale,
        )),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            KustoValue::DateTime(array.as_primitive::<TimestampNanosecondType>().value(row))
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            KustoValue::TimeSpan(array.as_primitive::<DurationNanosecondType>().value(row))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = string_value(array, row)?;
            if kusto_type == KustoType::Dynamic {
                KustoValue::Dynamic(dynamic::parse_stored(text)?).non_null()?
            } else {
                KustoValue::String(text.to_string())
            }
        }
        other => {
            // Other temporal units: normalise through a cast of this one row.
            let target = match other {
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
                    KustoType::DateTime.arrow_type()
                }
                DataType::Duration(_) => KustoType::TimeSpan.arrow_type(),
                _ => return None,
            };
            let single = array.slice(row, 1);
            let cast = arrow::compute::cast(&single, &target).ok()?;
            return value_at(cast.as_ref(), 0, kusto_type);
        }
    })
}

impl KustoValue {
    fn non_null(self) -> Option<KustoValue> {
        match self {
            KustoValue::Dynamic(Value::Null) => None,
            other => Some(other),
        }
    }

    /// Kusto's `tostring()` of this value.
    pub fn to_kusto_string(&self) -> String {
        match self {
            KustoValue::Bool(true) => "True".to_string(),
            KustoValue::Bool(false) => "False".to_string(),
            KustoValue::Long(v) => v.to_string(),
            KustoValue::Real(v) => real_to_kusto_string(*v),
            KustoValue::Decimal(text) | KustoValue::String(text) => text.clone(),
            KustoValue::DateTime(nanos) => format_datetime(*nanos),
            KustoValue::TimeSpan(nanos) => format_timespan(*nanos),
            KustoValue::Dynamic(value) => dynamic::value_to_kusto_string(value),
        }
    }

    /// The value as a JSON value: how it appears inside a dynamic (`make_list`, `pack`) and in
    /// `--format json` output. Datetimes and timespans become their Kusto strings, NaN and the
    /// infinities the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn to_json(&self) -> Value {
        match self {
            KustoValue::Bool(v) => Value::Bool(*v),
            KustoValue::Long(v) => Value::from(*v),
            KustoValue::Real(v) => real_to_json(*v),
            KustoValue::Decimal(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.clone()), Value::Number),
            KustoValue::String(text) => Value::String(text.clone()),
            KustoValue::DateTime(nanos) => Value::String(format_datetime(*nanos)),
            KustoValue::TimeSpan(nanos) => Value::String(format_timespan(*nanos)),
            KustoValue::Dynamic(value) => value.clone(),
        }
    }
}

/// A real as JSON: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`, which JSON cannot hold.
pub fn real_to_json(value: f64) -> Value {
    match serde_json::Number::from_f64(value) {
        Some(number) => Value::Number(number),
        None if value.is_nan() => Value::String("NaN".into()),
        None if value > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// The text of a string-like array at `row` (Utf8, LargeUtf8 or Utf8View), ignoring nulls.
pub fn string_value(array: &dyn Array, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// Kusto's `tostring()` of row `row`; nulls give "" because Kusto strings are never null.
pub fn kusto_string_at(array: &dyn Array, row: usize, kusto_type: KustoType) -> String {
    match kusto_type {
        // Fast path: no parse for plain strings and guids.
        KustoType::String | KustoType::Guid => string_value(array, row)
            .map(str::to_string)
            .unwrap_or_else(|| {
                value_at(array, row, kusto_type)
                    .map(|v| v.to_kusto_string())
                    .unwrap_or_default()
            }),
        KustoType::Dynamic if array.data_type() != &DataType::Null => string_value(array, row)
            .map(dynamic::text_to_kusto_string)
            .unwrap_or_default(),
        _ => value_at(array, row, kusto_type)
            .map(|v| v.to_kusto_string())
            .unwrap_or_default(),
    }
}

/// Kusto's `tostring()` of a whole column: a non-null Utf8 array.
pub fn to_kusto_strings(array: &ArrayRef, kusto_type: KustoType) -> StringArray {
    if matches!(kusto_type, KustoType::String | KustoType::Guid)
        && array.data_type() == &DataType::Utf8
        && array.null_count() == 0
    {
        return array.as_string::<i32>().clone();
    }
    let mut builder = StringBuilder::with_capacity(array.len(), array.len() * 8);
    for row in 0..array.len() {
        builder.append_value(kusto_string_at(array.as_ref(), row, kusto_type));
    }
    builder.finish()
}

/// The JSON rendering of row `row` (`null` for nulls), for `--format json` output.
pub fn json_at(array: &dyn Array, row: usize, kusto_type: KustoType) -> Value {
    value_at(array, row, kusto_type).map_or(Value::Null, |v| v.to_json())
}

/// The text a result table shows for row `row`: Kusto's `tostring()` except that reals use
/// .NET's round-trip form (`15`, not `15.0`) and nulls of non-string types show as `None`.
pub fn display_at(array: &dyn Array, row: usize, kusto_type: KustoType) -> Option<String> {
    let value = value_at(array, row, kusto_type)?;
    Some(match value {
        KustoValue::Real(v) => crate::time::format_real(v),
        KustoValue::Dynamic(v) => v.to_string(),
        other => other.to_kusto_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Decimal128Array, DurationNanosecondArray, Float64Array, Int32Array,
        TimestampNanosecondArray,
    };

    use super::*;
    use crate::time::parse_datetime;

    #[test]
    fn tostring_of_every_type_matches_the_oracle() {
        let ts = parse_datetime("2020-01-01").unwrap_or_default();
        let columns: Vec<(ArrayRef, KustoType, &str)> = vec![
            (Arc::new(Int32Array::from(vec![123])), KustoType::Int, "123"),
            (
                Arc::new(Float64Array::from(vec![1.5])),
                KustoType::Real,
                "1.5",
            ),
            (
                Arc::new(BooleanArray::from(vec![true])),
                KustoType::Bool,
                "True",
            ),
            (
                Arc::new(TimestampNanosecondArray::from(vec![ts]).with_timezone("UTC")),
                KustoType::DateTime,
                "2020-01-01T00:00:00.0000000Z",
            ),
            (
                Arc::new(DurationNanosecondArray::from(vec![
                    crate::time::NANOS_PER_DAY,
                ])),
                KustoType::TimeSpan,
                "1.00:00:00",
            ),
            (
                Arc::new(StringArray::from(vec![r#""x""#])),
                KustoType::Dynamic,
                "x",
            ),
            (
                Arc::new(StringArray::from(vec![r#"{"a":1}"#])),
                KustoType::Dynamic,
                r#"{"a":1}"#,
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![1_500_000_000_000_000_000])
                        .with_precision_and_scale(38, 18)
                        .unwrap_or_else(|e| panic!("{e}")),
                ),
                KustoType::Decimal,
                "1.5",
            ),
        ];
        for (array, ty, expected) in columns {
            assert_eq!(to_kusto_strings(&array, ty).value(0), expected, "{ty}");
        }
    }

    #[test]
    fn nulls_become_empty_strings() {
        for ty in [
            KustoType::Int,
            KustoType::Real,
            KustoType::Dynamic,
            KustoType::String,
        ] {
            let array: ArrayRef = arrow::array::new_null_array(&ty.arrow_type(), 1);
            assert_eq!(to_kusto_strings(&array, ty).value(0), "", "{ty}");
        }
        let dynamic_null: ArrayRef = Arc::new(StringArray::from(vec!["null"]));
        assert_eq!(
            to_kusto_strings(&dynamic_null, KustoType::Dynamic).value(0),
            ""
        );
    }

    #[test]
    fn json_rendering_spells_out_non_finite_reals() {
        let reals: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, f64::INFINITY, 2.5]));
        let rendered: Vec<String> = (0..3)
            .map(|r| json_at(reals.as_ref(), r, KustoType::Real).to_string())
            .collect();
        assert_eq!(rendered, [r#""NaN""#, r#""Infinity""#, "2.5"]);
        let dyns: ArrayRef = Arc::new(StringArray::from(vec![Some("[1,2]"), None]));
        assert_eq!(
            json_at(dyns.as_ref(), 0, KustoType::Dynamic).to_string(),
            "[1,2]"
        );
        assert_eq!(json_at(dyns.as_ref(), 1, KustoType::Dynamic), Value::Null);
        assert_eq!(
            display_at(reals.as_ref(), 2, KustoType::Real).as_deref(),
            Some("2.5")
        );
    }
}
