//! Math functions: `abs`, `sign`, `sqrt`, `pow`, `exp`/`exp2`/`exp10`, `log`/`log2`/`log10`,
//! trigonometry, `ceiling`, `round`, `isnan`/`isinf`/`isfinite`, `max_of`/`min_of`.
//!
//! Kusto computes in IEEE doubles, so NaN and infinities come out as such (`sqrt(-1)` is NaN,
//! `exp(1000)` is infinity); the exception is the logarithms, which give null for negative
//! arguments.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, DurationNanosecondArray, Float64Array, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;

use super::{
    Call, KustoScalar, ReturnRule, common_type, is_numeric, returns, to_datetime_array,
    to_real_array, to_timespan_array,
};
use crate::error::EngineError;

fn reals(call: &Call<'_>, index: usize) -> DFResult<Float64Array> {
    to_real_array(&call.args[index], call.types[index])
}

/// Return rule for functions whose arguments must all be numeric.
fn numeric_args(result: impl Fn(KustoType) -> KustoType + Send + Sync + 'static) -> ReturnRule {
    Arc::new(move |name, args| {
        for (position, ty) in args.iter().enumerate() {
            if !is_numeric(*ty) && *ty != KustoType::Dynamic {
                return Err(EngineError::ArgumentType {
                    name: name.to_string(),
                    position: position + 1,
                    expected: "a number".to_string(),
                    got: ty.to_string(),
                });
            }
        }
        Ok(result(args.first().copied().unwrap_or(KustoType::Real)))
    })
}

/// A one-argument function on doubles returning a double.
fn unary_real(name: &'static str, op: fn(f64) -> Option<f64>) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        numeric_args(|_| KustoType::Real),
        Arc::new(move |call| {
            let result: Float64Array = reals(call, 0)?.iter().map(|v| op(v?)).collect();
            Ok(Arc::new(result))
        }),
    )
}

/// A one-argument test on doubles (`isnan`, ...): null in, null out.
fn real_test(name: &'static str, test: fn(f64) -> bool) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        numeric_args(|_| KustoType::Bool),
        Arc::new(move |call| {
            let result: BooleanArray = reals(call, 0)?.iter().map(|v| v.map(test)).collect();
            Ok(Arc::new(result))
        }),
    )
}

/// Logarithms are null, not NaN, for negative arguments in Kusto.
fn logarithm(v: f64, log: fn(f64) -> f64) -> Option<f64> {
    (v.is_nan() || v >= 0.0).then(|| log(v))
}

/// Kusto rounds halves away from zero (`round(-2.5)` is -3); `digits` may be negative.
pub fn round_half_away(value: f64, digits: i64) -> f64 {
    let digits = digits.clamp(-308, 308) as i32;
    let scale = 10_f64.powi(digits.abs());
    if digits >= 0 {
        let scaled = value * scale;
        if scaled.is_finite() {
            scaled.round() / scale
        } else {
            value
        }
    } else {
        (value / scale).round() * scale
    }
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn abs_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    Ok(match call.types[0] {
        KustoType::Int | KustoType::Long => {
            let values = call.longs(0)?;
            Arc::new(
                values
                    .iter()
                    .map(|v| v?.checked_abs())
                    .collect::<Int64Array>(),
            )
        }
        KustoType::TimeSpan => {
            let values = to_timespan_array(&call.args[0], call.types[0])?;
            Arc::new(
                values
                    .iter()
                    .map(|v| v?.checked_abs())
                    .collect::<DurationNanosecondArray>(),
            )
        }
        _ => Arc::new(
            reals(call, 0)?
                .iter()
                .map(|v| v.map(f64::abs))
                .collect::<Float64Array>(),
        ),
    })
}

fn abs_return(name: &str, args: &[KustoType]) -> Result<KustoType, EngineError> {
    match args.first().copied() {
        Some(KustoType::TimeSpan) => Ok(KustoType::TimeSpan),
        Some(KustoType::Dynamic) => Ok(KustoType::Real),
        Some(ty) if is_numeric(ty) => Ok(ty),
        Some(other) => Err(EngineError::ArgumentType {
            name: name.to_string(),
            position: 1,
            expected: "a number or timespan".to_string(),
            got: other.to_string(),
        }),
        None => Ok(KustoType::Real),
    }
}

/// `ceiling` and `round` keep integer types and give doubles otherwise.
fn integer_or_real(ty: KustoType) -> KustoType {
    match ty {
        KustoType::Int | KustoType::Long | KustoType::Decimal => ty,
        _ => KustoType::Real,
    }
}

fn ceiling_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    Ok(match call.types[0] {
        KustoType::Int | KustoType::Long => Arc::new(call.longs(0)?),
        _ => Arc::new(
            reals(call, 0)?
                .iter()
                .map(|v| v.map(f64::ceil))
                .collect::<Float64Array>(),
        ),
    })
}

fn round_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let digits = if call.args.len() > 1 {
        call.longs(1)?
    } else {
        Int64Array::from(vec![0; call.rows])
    };
    Ok(match call.types[0] {
        KustoType::Int | KustoType::Long => {
            let values = call.longs(0)?;
            let rounded: Int64Array = values
                .iter()
                .zip(digits.iter())
                .map(|(v, d)| {
                    let (v, d) = (v?, d?);
                    if d >= 0 {
                        return Some(v);
                    }
                    let scale = 10_i64.checked_pow(u32::try_from(-d).ok()?)?;
                    let half = scale / 2;
                    let magnitude = (v.unsigned_abs() + half as u64) / scale as u64 * scale as u64;
                    let magnitude = i64::try_from(magnitude).ok()?;
                    Some(if v < 0 { -magnitude } else { magnitude })
                })
                .collect();
            Arc::new(rounded)
        }
        _ => {
            let values = reals(call, 0)?;
            let rounded: Float64Array = values
                .iter()
                .zip(digits.iter())
                .map(|(v, d)| Some(round_half_away(v?, d?)))
                .collect();
            Arc::new(rounded)
        }
    })
}

fn extreme_return(name: &str, args: &[KustoType]) -> Result<KustoType, EngineError> {
    let ty = common_type(args);
    let comparable = is_numeric(ty)
        || matches!(
            ty,
            KustoType::DateTime | KustoType::TimeSpan | KustoType::String | KustoType::Dynamic
        );
    if !comparable {
        return Err(EngineError::ArgumentType {
            name: name.to_string(),
            position: 1,
            expected: "numbers, datetimes, timespans or strings".to_string(),
            got: ty.to_string(),
        });
    }
    Ok(if ty == KustoType::Dynamic {
        KustoType::Real
    } else {
        ty
    })
}

/// `max_of`/`min_of`: the extreme of the non-null arguments; a NaN argument makes the result
/// NaN, as in Kusto.
fn extreme_kernel(call: &Call<'_>, wanted: Ordering) -> DFResult<ArrayRef> {
    let ty = extreme_return(call.name, call.types)?;
    let pick = |current: Option<i64>, v: Option<i64>| match (current, v) {
        (Some(c), Some(v)) => Some(if v.cmp(&c) == wanted { v } else { c }),
        (c, v) => c.or(v),
    };
    let count = call.args.len();
    Ok(match ty {
        KustoType::Int | KustoType::Long => {
            let columns: Vec<Int64Array> =
                (0..count).map(|i| call.longs(i)).collect::<DFResult<_>>()?;
            let result: Int64Array = (0..call.rows)
                .map(|row| {
                    columns
                        .iter()
                        .fold(None, |c, col| pick(c, nullable(col, row)))
                })
                .collect();
            Arc::new(result)
        }
        KustoType::DateTime | KustoType::TimeSpan => {
            let columns: Vec<Int64Array> = (0..count)
                .map(|i| -> DFResult<Int64Array> {
                    Ok(if ty == KustoType::DateTime {
                        to_datetime_array(&call.args[i], call.types[i])?
                            .iter()
                            .collect()
                    } else {
                        to_timespan_array(&call.args[i], call.types[i])?
                            .iter()
                            .collect()
                    })
                })
                .collect::<DFResult<_>>()?;
            let picked = (0..call.rows).map(|row| {
                columns
                    .iter()
                    .fold(None, |c, col| pick(c, nullable(col, row)))
            });
            if ty == KustoType::DateTime {
                Arc::new(
                    picked
                        .collect::<TimestampNanosecondArray>()
                        .with_timezone("UTC"),
                )
            } else {
                Arc::new(picked.collect::<DurationNanosecondArray>())
            }
        }
        KustoType::String => {
            let columns: Vec<StringArray> = (0..count).map(|i| call.strings(i)).collect();
            let result: StringArray = (0..call.rows)
                .map(|row| {
                    columns.iter().fold(None::<&str>, |c, col| {
                        let v = (!col.is_null(row)).then(|| col.value(row));
                        match (c, v) {
                            (Some(c), Some(v)) => Some(if v.cmp(c) == wanted { v } else { c }),
                            (c, v) => c.or(v),
                        }
                    })
                })
                .collect();
            Arc::new(result)
        }
        _ => {
            let columns: Vec<Float64Array> = (0..count)
                .map(|i| reals(call, i))
                .collect::<DFResult<_>>()?;
            let result: Float64Array = (0..call.rows)
                .map(|row| {
                    columns.iter().fold(None::<f64>, |c, col| {
                        let v = (!col.is_null(row)).then(|| col.value(row));
                        match (c, v) {
                            (Some(c), _) if c.is_nan() => Some(c),
                            (_, Some(v)) if v.is_nan() => Some(v),
                            (Some(c), Some(v)) => Some(if v.partial_cmp(&c) == Some(wanted) {
                                v
                            } else {
                                c
                            }),
                            (c, v) => c.or(v),
                        }
                    })
                })
                .collect();
            Arc::new(result)
        }
    })
}

fn nullable(array: &Int64Array, row: usize) -> Option<i64> {
    (!array.is_null(row)).then(|| array.value(row))
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "abs",
            1,
            Some(1),
            Arc::new(abs_return),
            Arc::new(abs_kernel),
        ),
        unary_real("sign", |v| Some(sign(v))),
        unary_real("sqrt", |v| Some(v.sqrt())),
        unary_real("exp", |v| Some(v.exp())),
        unary_real("exp2", |v| Some(v.exp2())),
        unary_real("exp10", |v| Some(10_f64.powf(v))),
        unary_real("log", |v| logarithm(v, f64::ln)),
        unary_real("log2", |v| logarithm(v, f64::log2)),
        unary_real("log10", |v| logarithm(v, f64::log10)),
        unary_real("sin", |v| Some(v.sin())),
        unary_real("cos", |v| Some(v.cos())),
        unary_real("tan", |v| Some(v.tan())),
        unary_real("asin", |v| Some(v.asin())),
        unary_real("acos", |v| Some(v.acos())),
        unary_real("atan", |v| Some(v.atan())),
        unary_real("cot", |v| Some(1.0 / v.tan())),
        unary_real("degrees", |v| Some(v.to_degrees())),
        unary_real("radians", |v| Some(v.to_radians())),
        KustoScalar::new(
            "pi",
            0,
            Some(0),
            returns(KustoType::Real),
            Arc::new(|call| {
                Ok(Arc::new(Float64Array::from(vec![
                    std::f64::consts::PI;
                    call.rows
                ])))
            }),
        ),
        KustoScalar::new(
            "pow",
            2,
            Some(2),
            numeric_args(|_| KustoType::Real),
            Arc::new(|call| {
                let result: Float64Array = reals(call, 0)?
                    .iter()
                    .zip(reals(call, 1)?.iter())
                    .map(|(b, e)| Some(b?.powf(e?)))
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
        KustoScalar::new(
            "atan2",
            2,
            Some(2),
            numeric_args(|_| KustoType::Real),
            Arc::new(|call| {
                let result: Float64Array = reals(call, 0)?
                    .iter()
                    .zip(reals(call, 1)?.iter())
                    .map(|(y, x)| Some(y?.atan2(x?)))
                    .collect();
                Ok(Arc::new(result))
            }),
        ),
        real_test("isnan", f64::is_nan),
        real_test("isinf", f64::is_infinite),
        real_test("isfinite", f64::is_finite),
        KustoScalar::new(
            "ceiling",
            1,
            Some(1),
            numeric_args(integer_or_real),
            Arc::new(ceiling_kernel),
        ),
        KustoScalar::new(
            "round",
            1,
            Some(2),
            numeric_args(integer_or_real),
            Arc::new(round_kernel),
        ),
        KustoScalar::new(
            "max_of",
            2,
            Some(64),
            Arc::new(extreme_return),
            Arc::new(|call| extreme_kernel(call, Ordering::Greater)),
        ),
        KustoScalar::new(
            "min_of",
            2,
            Some(64),
            Arc::new(extreme_return),
            Arc::new(|call| extreme_kernel(call, Ordering::Less)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::eval;

    #[tokio::test]
    async fn abs_keeps_the_argument_type() {
        assert_eq!(eval("abs", vec![lit(-5_i64)]).await, ["5"]);
        assert_eq!(eval("abs", vec![lit(-5.5_f64)]).await, ["5.5"]);
        assert_eq!(
            eval("abs", vec![lit(ScalarValue::Int64(None))]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn special_values_follow_kusto() {
        assert_eq!(eval("sqrt", vec![lit(-1.0_f64)]).await, ["NaN"]);
        assert_eq!(eval("log", vec![lit(-1.0_f64)]).await, ["null"]);
        assert_eq!(eval("log", vec![lit(0.0_f64)]).await, ["-Infinity"]);
        assert_eq!(eval("exp", vec![lit(1000.0_f64)]).await, ["Infinity"]);
        assert_eq!(eval("pow", vec![lit(2_i64), lit(10_i64)]).await, ["1024"]);
        assert_eq!(
            eval("pow", vec![lit(-8_i64), lit(1.0 / 3.0)]).await,
            ["NaN"]
        );
        assert_eq!(eval("log10", vec![lit(1000_i64)]).await, ["3"]);
        assert_eq!(eval("exp2", vec![lit(3_i64)]).await, ["8"]);
        assert_eq!(eval("sign", vec![lit(f64::NAN)]).await, ["0"]);
        assert_eq!(eval("sign", vec![lit(-3_i64)]).await, ["-1"]);
    }

    #[tokio::test]
    async fn nan_tests_pass_nulls_through() {
        assert_eq!(eval("isnan", vec![lit(f64::NAN)]).await, ["True"]);
        assert_eq!(eval("isinf", vec![lit(f64::NEG_INFINITY)]).await, ["True"]);
        assert_eq!(eval("isfinite", vec![lit(f64::INFINITY)]).await, ["False"]);
        assert_eq!(
            eval("isnan", vec![lit(ScalarValue::Float64(None))]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn round_goes_half_away_from_zero() {
        assert_eq!(eval("round", vec![lit(2.5_f64)]).await, ["3"]);
        assert_eq!(eval("round", vec![lit(-0.5_f64)]).await, ["-1"]);
        assert_eq!(
            eval("round", vec![lit(1.23456_f64), lit(2_i64)]).await,
            ["1.23"]
        );
        assert_eq!(
            eval("round", vec![lit(1250_i64), lit(-2_i64)]).await,
            ["1300"]
        );
        assert_eq!(eval("ceiling", vec![lit(-1.5_f64)]).await, ["-1"]);
        assert_eq!(eval("ceiling", vec![lit(7_i64)]).await, ["7"]);
    }

    #[tokio::test]
    async fn max_of_skips_nulls_and_propagates_nan() {
        let null_long = lit(ScalarValue::Int64(None));
        assert_eq!(
            eval("max_of", vec![lit(1_i64), null_long.clone(), lit(3_i64)]).await,
            ["3"]
        );
        assert_eq!(eval("min_of", vec![null_long, lit(5_i64)]).await, ["5"]);
        assert_eq!(
            eval("max_of", vec![lit(f64::NAN), lit(1.0_f64)]).await,
            ["NaN"]
        );
        assert_eq!(eval("min_of", vec![lit(1_i64), lit(2.5_f64)]).await, ["1"]);
        assert_eq!(
            eval("max_of", vec![lit("b".to_string()), lit("a".to_string())]).await,
            ["b"]
        );
    }
}
