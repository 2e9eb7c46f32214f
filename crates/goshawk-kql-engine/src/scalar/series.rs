//! Element-wise series functions over dynamic arrays of numbers: `series_abs`, `series_sign`,
//! `series_ceiling`, `series_floor`, `series_exp`, `series_log`, the trigonometric ones, and the
//! binary `series_add`, `series_subtract`, `series_multiply`, `series_divide`, `series_pow`,
//! `series_greater`, `series_greater_equals`, `series_less`, `series_less_equals`,
//! `series_equals`, `series_not_equals`. A binary operand may be a scalar, which is used
//! against every element; elements that are not numbers give `null`.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use goshawk_types::KustoType;
use serde_json::{Number, Value};

use super::{Call, KustoScalar, returns};
use crate::format::{json_at, string_value};

/// One operand of one row: an array of numbers (non-numbers as `None`) or a single number.
enum Operand {
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

fn operands(call: &Call<'_>, index: usize) -> Vec<Operand> {
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

fn number(value: f64) -> Value {
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

fn dynamic_column(values: Vec<Option<Value>>) -> ArrayRef {
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

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
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
}
