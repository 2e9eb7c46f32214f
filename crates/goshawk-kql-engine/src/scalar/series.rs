//! Element-wise series functions over dynamic arrays of numbers: `series_abs`, `series_sign`,
//! `series_ceiling`, `series_floor`, `series_exp`, `series_log`, the trigonometric ones, and the
//! binary `series_add`, `series_subtract`, `series_multiply`, `series_divide`, `series_pow`,
//! `series_greater`, `series_greater_equals`, `series_less`, `series_less_equals`,
//! `series_equals`, `series_not_equals`. A binary operand may be a scalar, which is used
//! against every element; elements that are not numbers give `null`.
//!
//! Also the series reductions `series_sum`, `series_product`, `series_dot_product`,
//! `series_cosine_similarity`, `series_pearson_correlation`, and the gap fillers
//! `series_fill_const`, `series_fill_forward`, `series_fill_backward`.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use goshawk_types::KustoType;
use serde_json::{Number, Value};

use super::{Call, KustoScalar, returns};
use crate::format::{json_at, string_value};

/// One operand of one row: an array of numbers (non-numbers as `None`) or a single number.
pub(super) enum Operand {
    Series(Vec<Option<f64>>),
    Scalar(Option<f64>),
}

impl Operand {
    fn len(&self) -> Option<usize> {
        match self {
            Operand::Series(values) => Some(values.len()),
            Operand::Scalar(_) => None,
        }
    }

    fn at(&self, index: usize) -> Option<f64> {
        match self {
            Operand::Series(values) => values.get(index).copied().flatten(),
            Operand::Scalar(value) => *value,
        }
    }
}

pub(super) fn operands(call: &Call<'_>, index: usize) -> Vec<Operand> {
    let (array, ty) = (&call.args[index], call.types[index]);
    (0..call.rows)
        .map(|row| {
            let value = if ty == KustoType::Dynamic {
                string_value(array.as_ref(), row).map_or(Value::Null, crate::dynamic::parse_lenient)
            } else {
                json_at(array.as_ref(), row, ty)
            };
            match value {
                Value::Array(items) => Operand::Series(items.iter().map(Value::as_f64).collect()),
                other => Operand::Scalar(other.as_f64()),
            }
        })
        .collect()
}

pub(super) fn number(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// Integral results of integer-valued arithmetic stay integers, as Kusto's `long` series do.
fn integral_or_real(value: f64, integral_inputs: bool) -> Value {
    if integral_inputs && value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::Number(Number::from(value as i64))
    } else {
        number(value)
    }
}

pub(super) fn dynamic_column(values: Vec<Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

fn unary(name: &'static str, f: fn(f64) -> f64) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let rows = operands(call, 0)
                .into_iter()
                .map(|operand| match operand {
                    Operand::Series(values) => Some(Value::Array(
                        values
                            .into_iter()
                            .map(|v| v.map_or(Value::Null, |v| number(f(v))))
                            .collect(),
                    )),
                    Operand::Scalar(_) => None,
                })
                .collect();
            Ok(dynamic_column(rows))
        }),
    )
}

#[derive(Clone, Copy)]
enum Output {
    /// Arithmetic; `true` keeps integral results of integer inputs as integers.
    Number(bool),
    Bool,
}

fn binary(name: &'static str, kind: Output, f: fn(f64, f64) -> Option<f64>) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(2),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let left = operands(call, 0);
            let right = operands(call, 1);
            let integral = |index: usize| {
                matches!(call.types[index], KustoType::Int | KustoType::Long)
                    || call.types[index] == KustoType::Dynamic
            };
            let rows = left
                .iter()
                .zip(&right)
                .map(|(a, b)| {
                    let len = match (a.len(), b.len()) {
                        (Some(x), Some(y)) => x.max(y),
                        (Some(x), None) | (None, Some(x)) => x,
                        (None, None) => return None,
                    };
                    let items = (0..len)
                        .map(|i| {
                            let (Some(x), Some(y)) = (a.at(i), b.at(i)) else {
                                return Value::Null;
                            };
                            let Some(value) = f(x, y) else {
                                return Value::Null;
                            };
                            match kind {
                                Output::Bool => Value::Bool(value != 0.0),
                                Output::Number(keep_integers) => {
                                    let integral_inputs = keep_integers
                                        && integral(0)
                                        && integral(1)
                                        && x.fract() == 0.0
                                        && y.fract() == 0.0;
                                    integral_or_real(value, integral_inputs)
                                }
                            }
                        })
                        .collect();
                    Some(Value::Array(items))
                })
                .collect();
            Ok(dynamic_column(rows))
        }),
    )
}

fn truth(value: bool) -> Option<f64> {
    Some(if value { 1.0 } else { 0.0 })
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

/// A reduction of one or two series to a real (`None`: no result for that row).
fn reduction(
    name: &'static str,
    arity: usize,
    f: fn(&[Option<f64>], &Operand) -> Option<f64>,
) -> KustoScalar {
    KustoScalar::new(
        name,
        arity,
        Some(arity),
        returns(KustoType::Real),
        Arc::new(move |call| {
            let first = operands(call, 0);
            let second = if arity > 1 {
                operands(call, 1)
            } else {
                (0..call.rows).map(|_| Operand::Scalar(None)).collect()
            };
            let values: Float64Array = first
                .iter()
                .zip(&second)
                .map(|(a, b)| match a {
                    Operand::Series(values) => f(values, b),
                    Operand::Scalar(_) => None,
                })
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

/// The pairs of a series with a second series (or a scalar), over the longer length.
fn pairs(a: &[Option<f64>], b: &Operand) -> Vec<(f64, f64)> {
    let len = b.len().map_or(a.len(), |n| n.max(a.len()));
    (0..len)
        .filter_map(|i| Some((a.get(i).copied().flatten()?, b.at(i)?)))
        .collect()
}

fn pearson(a: &[Option<f64>], b: &Operand) -> Option<f64> {
    let pairs = pairs(a, b);
    let n = pairs.len() as f64;
    if pairs.is_empty() {
        return None;
    }
    let (mean_x, mean_y) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let var_x: f64 = pairs.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let var_y: f64 = pairs.iter().map(|(_, y)| (y - mean_y).powi(2)).sum();
    Some(cov / (var_x * var_y).sqrt())
}

fn cosine(a: &[Option<f64>], b: &Operand) -> Option<f64> {
    let pairs = pairs(a, b);
    let dot: f64 = pairs.iter().map(|(x, y)| x * y).sum();
    let norm_x: f64 = pairs.iter().map(|(x, _)| x * x).sum::<f64>().sqrt();
    let norm_y: f64 = pairs.iter().map(|(_, y)| y * y).sum::<f64>().sqrt();
    Some(dot / (norm_x * norm_y))
}

/// The JSON elements of every row's array argument `index`, unparsed.
pub(super) fn raw_arrays(call: &Call<'_>, index: usize) -> Vec<Option<Vec<Value>>> {
    let (array, ty) = (&call.args[index], call.types[index]);
    (0..call.rows)
        .map(|row| {
            let value = if ty == KustoType::Dynamic {
                string_value(array.as_ref(), row).map_or(Value::Null, crate::dynamic::parse_lenient)
            } else {
                json_at(array.as_ref(), row, ty)
            };
            match value {
                Value::Array(items) => Some(items),
                _ => None,
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Fill {
    Const,
    Forward,
    Backward,
}

/// Replaces the missing (null) elements: with a constant (default 0), or with the previous or
/// next present element.
fn fill(name: &'static str, how: Fill) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let arrays = raw_arrays(call, 0);
            let constants: Vec<Value> = if call.args.len() > 1 {
                (0..call.rows)
                    .map(|row| json_at(call.args[1].as_ref(), row, call.types[1]))
                    .collect()
            } else {
                vec![Value::from(0); call.rows]
            };
            let rows = arrays
                .into_iter()
                .zip(constants)
                .map(|(items, constant)| {
                    let mut items = items?;
                    match how {
                        Fill::Const => {
                            for item in items.iter_mut().filter(|v| v.is_null()) {
                                *item = constant.clone();
                            }
                        }
                        Fill::Forward => {
                            let mut last = Value::Null;
                            for item in items.iter_mut() {
                                if item.is_null() {
                                    *item = last.clone();
                                } else {
                                    last = item.clone();
                                }
                            }
                        }
                        Fill::Backward => {
                            let mut next = Value::Null;
                            for item in items.iter_mut().rev() {
                                if item.is_null() {
                                    *item = next.clone();
                                } else {
                                    next = item.clone();
                                }
                            }
                        }
                    }
                    Some(Value::Array(items))
                })
                .collect();
            Ok(dynamic_column(rows))
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        reduction("series_sum", 1, |a, _| Some(a.iter().flatten().sum())),
        reduction("series_product", 1, |a, _| {
            Some(a.iter().flatten().product())
        }),
        reduction("series_dot_product", 2, |a, b| {
            Some(pairs(a, b).iter().map(|(x, y)| x * y).sum())
        }),
        reduction("series_cosine_similarity", 2, cosine),
        reduction("series_pearson_correlation", 2, pearson),
        fill("series_fill_const", Fill::Const),
        fill("series_fill_forward", Fill::Forward),
        fill("series_fill_backward", Fill::Backward),
        unary("series_abs", f64::abs),
        unary("series_sign", sign),
        unary("series_ceiling", f64::ceil),
        unary("series_floor", f64::floor),
        unary("series_exp", f64::exp),
        unary("series_log", f64::ln),
        unary("series_sin", f64::sin),
        unary("series_cos", f64::cos),
        unary("series_tan", f64::tan),
        unary("series_asin", f64::asin),
        unary("series_acos", f64::acos),
        unary("series_atan", f64::atan),
        binary("series_add", Output::Number(true), |a, b| Some(a + b)),
        binary("series_subtract", Output::Number(true), |a, b| Some(a - b)),
        binary("series_multiply", Output::Number(true), |a, b| Some(a * b)),
        binary("series_divide", Output::Number(false), |a, b| Some(a / b)),
        binary("series_pow", Output::Number(false), |a, b| Some(a.powf(b))),
        binary("series_greater", Output::Bool, |a, b| truth(a > b)),
        binary("series_greater_equals", Output::Bool, |a, b| truth(a >= b)),
        binary("series_less", Output::Bool, |a, b| truth(a < b)),
        binary("series_less_equals", Output::Bool, |a, b| truth(a <= b)),
        binary("series_equals", Output::Bool, |a, b| truth(a == b)),
        binary("series_not_equals", Output::Bool, |a, b| truth(a != b)),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{call, eval, lit_str};

    fn arr(text: &str) -> datafusion::logical_expr::Expr {
        call("parse_json", vec![lit_str(text)])
    }

    #[tokio::test]
    async fn element_wise_series_arithmetic_and_comparisons() {
        assert_eq!(
            eval("series_abs", vec![arr("[-6.5,0,8.2]")]).await,
            ["[6.5,0.0,8.2]"]
        );
        assert_eq!(
            eval("series_multiply", vec![arr("[1,2,4]"), arr("[4,2,1]")]).await,
            ["[4,4,4]"]
        );
        assert_eq!(
            eval("series_divide", vec![arr("[1,2,4]"), arr("[4,2,1]")]).await,
            ["[0.25,1.0,4.0]"]
        );
        assert_eq!(
            eval("series_add", vec![arr("[1,2,\"x\"]"), lit(10_i64)]).await,
            ["[11,12,null]"]
        );
        assert_eq!(
            eval("series_greater", vec![arr("[1,2,4]"), arr("[4,2,1]")]).await,
            ["[false,false,true]"]
        );
    }

    #[tokio::test]
    async fn series_reductions_and_fills() {
        assert_eq!(eval("series_sum", vec![arr("[1,2,3,4]")]).await, ["10"]);
        assert_eq!(
            eval("series_dot_product", vec![arr("[1,2,4]"), lit(2_i64)]).await,
            ["14"]
        );
        assert_eq!(
            eval(
                "series_pearson_correlation",
                vec![arr("[1,2,3]"), arr("[2,4,6]")]
            )
            .await,
            ["1"]
        );
        assert_eq!(
            eval("series_fill_forward", vec![arr("[null,1,null,2,null]")]).await,
            ["[null,1,1,2,2]"]
        );
        assert_eq!(
            eval("series_fill_const", vec![arr("[1,null]"), lit(-1_i64)]).await,
            ["[1,-1]"]
        );
    }
}
