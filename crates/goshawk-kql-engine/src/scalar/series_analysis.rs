//! Series analysis functions over dynamic arrays of numbers: `series_stats_dynamic`,
//! `series_fit_line_dynamic`, `series_iir`, `series_fir`, `series_seasonal` and
//! `series_fill_linear`. The multi-column forms (`series_stats`, `series_fit_line`) are the
//! planner's: it reads the fields of the `_dynamic` bag into columns.

use std::sync::Arc;

use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::series::{Operand, dynamic_column, number, operands, raw_arrays};
use super::{Call, KustoScalar, returns};
use crate::error::EngineError;
use crate::format::json_at;

/// Argument `index` of row `row` as JSON (`Null` when the argument is absent).
fn arg(call: &Call<'_>, index: usize, row: usize) -> Value {
    match call.args.get(index) {
        Some(array) => json_at(array.as_ref(), row, call.types[index]),
        None => Value::Null,
    }
}

/// The series of every row (`None` for a row whose value is not an array).
fn series(call: &Call<'_>, index: usize) -> Vec<Option<Vec<Option<f64>>>> {
    operands(call, index)
        .into_iter()
        .map(|operand| match operand {
            Operand::Series(values) => Some(values),
            Operand::Scalar(_) => None,
        })
        .collect()
}

/// Numbers of an array argument that is the same kind of value on every row (filter
/// coefficients): non-numbers count as 0.
fn coefficients(value: &Value) -> Option<Vec<f64>> {
    match value {
        Value::Array(items) => Some(items.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect()),
        Value::String(text) => match crate::dynamic::parse_lenient(text) {
            Value::Array(items) => Some(items.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect()),
            _ => None,
        },
        _ => None,
    }
}

/// `series_stats_dynamic(x)`: min, max (with their first index), average, sample standard
/// deviation and variance, sum and length; null elements are skipped.
pub(crate) fn stats(values: &[Option<f64>]) -> Value {
    let present: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| !v.is_nan()).map(|v| (i, v)))
        .collect();
    let mut bag = Map::new();
    let n = present.len() as f64;
    let (min_idx, min) = present
        .iter()
        .fold(None, |best: Option<(usize, f64)>, &(i, v)| match best {
            Some((_, b)) if b <= v => best,
            _ => Some((i, v)),
        })
        .map_or((Value::Null, Value::Null), |(i, v)| {
            (Value::from(i), number(v))
        });
    let (max_idx, max) = present
        .iter()
        .fold(None, |best: Option<(usize, f64)>, &(i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map_or((Value::Null, Value::Null), |(i, v)| {
            (Value::from(i), number(v))
        });
    let sum: f64 = present.iter().map(|(_, v)| v).sum();
    let avg = if present.is_empty() {
        f64::NAN
    } else {
        sum / n
    };
    let variance = if present.len() < 2 {
        0.0
    } else {
        present.iter().map(|(_, v)| (v - avg).powi(2)).sum::<f64>() / (n - 1.0)
    };
    bag.insert("min".into(), min);
    bag.insert("min_idx".into(), min_idx);
    bag.insert("max".into(), max);
    bag.insert("max_idx".into(), max_idx);
    bag.insert("avg".into(), number(avg));
    bag.insert("stdev".into(), number(variance.sqrt()));
    bag.insert("variance".into(), number(variance));
    bag.insert("sum".into(), number(sum));
    bag.insert("len".into(), Value::from(values.len()));
    Value::Object(bag)
}

/// `series_fit_line_dynamic(y)`: least-squares line over x = 1..n: R², slope, variance of y,
/// residual variance, intercept and the fitted values.
pub(crate) fn fit_line(values: &[Option<f64>]) -> Value {
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| ((i + 1) as f64, v)))
        .collect();
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    let intercept = mean_y - slope * mean_x;
    let total: f64 = points.iter().map(|(_, y)| (y - mean_y).powi(2)).sum();
    let residual: f64 = points
        .iter()
        .map(|(x, y)| (y - (intercept + slope * x)).powi(2))
        .sum();
    let dof = (n - 1.0).max(1.0);
    let rsquare = if total == 0.0 {
        1.0
    } else {
        1.0 - residual / total
    };
    let mut bag = Map::new();
    bag.insert("rsquare".into(), number(rsquare));
    bag.insert("slope".into(), number(slope));
    bag.insert("variance".into(), number(total / dof));
    bag.insert("rvariance".into(), number(residual / dof));
    bag.insert("interception".into(), number(intercept));
    bag.insert(
        "line_fit".into(),
        Value::Array(
            (1..=values.len())
                .map(|x| number(intercept + slope * x as f64))
                .collect(),
        ),
    );
    Value::Object(bag)
}

/// `series_iir(x, b, a)`: y[n] = (Σ b[i]·x[n-i] − Σ_{j≥1} a[j]·y[n-j]) / a[0]; missing
/// elements count as 0.
fn iir(x: &[Option<f64>], b: &[f64], a: &[f64]) -> Option<Vec<f64>> {
    let a0 = *a.first()?;
    if a0 == 0.0 {
        return None;
    }
    let mut y: Vec<f64> = Vec::with_capacity(x.len());
    for n in 0..x.len() {
        let mut acc = 0.0;
        for (i, bi) in b.iter().enumerate() {
            if let Some(xi) = n.checked_sub(i).and_then(|k| x[k]) {
                acc += bi * xi;
            }
        }
        for (j, aj) in a.iter().enumerate().skip(1) {
            if let Some(k) = n.checked_sub(j) {
                acc -= aj * y[k];
            }
        }
        y.push(acc / a0);
    }
    Some(y)
}

/// `series_fir(x, filter, normalize, center)`: the moving weighted sum, divided by the sum of
/// the weights when normalizing; centered puts the window's middle on each element.
fn fir(x: &[Option<f64>], filter: &[f64], normalize: bool, center: bool) -> Vec<f64> {
    let total: f64 = filter.iter().sum();
    let scale = if normalize && total != 0.0 {
        1.0 / total
    } else {
        1.0
    };
    let shift = if center { filter.len() / 2 } else { 0 };
    (0..x.len())
        .map(|n| {
            filter
                .iter()
                .enumerate()
                .filter_map(|(j, w)| {
                    let k = (n + shift).checked_sub(j)?;
                    Some(w * x.get(k).copied().flatten()?)
                })
                .sum::<f64>()
                * scale
        })
        .collect()
}

/// `series_seasonal(x, period)`: each element replaced by the median of the elements at the
/// same phase of the period.
fn seasonal(x: &[Option<f64>], period: usize) -> Vec<f64> {
    if period == 0 {
        return vec![0.0; x.len()];
    }
    let mut phases: Vec<Vec<f64>> = vec![Vec::new(); period];
    for (i, v) in x.iter().enumerate() {
        if let Some(v) = v.filter(|v| !v.is_nan()) {
            phases[i % period].push(v);
        }
    }
    let medians: Vec<f64> = phases
        .into_iter()
        .map(|mut values| {
            values.sort_by(f64::total_cmp);
            match values.len() {
                0 => 0.0,
                n if n % 2 == 1 => values[n / 2],
                n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
            }
        })
        .collect();
    (0..x.len()).map(|i| medians[i % period]).collect()
}

/// `series_fill_linear(x, missing, fill_edges, constant)`: missing elements between two present
/// ones are interpolated on the line between them; edges take the nearest present value (or
/// stay missing without `fill_edges`); an array with nothing present is all `constant`.
/// Integer arrays stay integers (interpolations are truncated).
fn fill_linear(items: &[Value], missing: &Value, fill_edges: bool, constant: &Value) -> Value {
    let is_missing = |v: &Value| v.is_null() || (!missing.is_null() && v == missing);
    let known: Vec<(usize, f64)> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| !is_missing(v))
        .filter_map(|(i, v)| v.as_f64().map(|f| (i, f)))
        .collect();
    if known.is_empty() {
        let fill = if constant.is_null() {
            number(0.0)
        } else {
            constant.clone()
        };
        return Value::Array(vec![fill; items.len()]);
    }
    let integral = items
        .iter()
        .filter(|v| !is_missing(v))
        .all(|v| v.is_i64() || v.is_u64());
    let emit = |v: f64| {
        if integral {
            Value::from(v.trunc() as i64)
        } else {
            number(v)
        }
    };
    let mut out: Vec<Value> = items.to_vec();
    for (i, item) in out.iter_mut().enumerate() {
        if !is_missing(item) {
            continue;
        }
        let before = known.iter().rev().find(|(k, _)| *k < i);
        let after = known.iter().find(|(k, _)| *k > i);
        *item = match (before, after) {
            (Some(&(i0, v0)), Some(&(i1, v1))) => {
                emit(v0 + (v1 - v0) * (i - i0) as f64 / (i1 - i0) as f64)
            }
            (Some(&(_, v)), None) | (None, Some(&(_, v))) if fill_edges => emit(v),
            _ => Value::Null,
        };
    }
    Value::Array(out)
}

fn invalid(name: &str, message: &str) -> datafusion::error::DataFusionError {
    EngineError::InvalidArgument {
        name: name.to_string(),
        message: message.to_string(),
    }
    .into()
}

fn reals(values: Vec<f64>) -> Value {
    Value::Array(values.into_iter().map(number).collect())
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "series_stats_dynamic",
            1,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let rows = series(call, 0)
                    .into_iter()
                    .map(|s| s.map(|s| stats(&s)))
                    .collect();
                Ok(dynamic_column(rows))
            }),
        ),
        KustoScalar::new(
            "series_fit_line_dynamic",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let rows = series(call, 0)
                    .into_iter()
                    .map(|s| s.map(|s| fit_line(&s)))
                    .collect();
                Ok(dynamic_column(rows))
            }),
        ),
        KustoScalar::new(
            "series_iir",
            3,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let rows = series(call, 0)
                    .into_iter()
                    .enumerate()
                    .map(|(row, s)| {
                        let b = coefficients(&arg(call, 1, row))?;
                        let a = coefficients(&arg(call, 2, row))?;
                        Some(reals(iir(&s?, &b, &a)?))
                    })
                    .collect();
                Ok(dynamic_column(rows))
            }),
        ),
        KustoScalar::new(
            "series_fir",
            2,
            Some(4),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let rows = series(call, 0)
                    .into_iter()
                    .enumerate()
                    .map(|(row, s)| {
                        let filter = coefficients(&arg(call, 1, row))?;
                        let normalize = arg(call, 2, row).as_bool().unwrap_or(true);
                        let center = arg(call, 3, row).as_bool().unwrap_or(false);
                        let s = s?;
                        let values = fir(&s, &filter, normalize, center);
                        // Integer series through an integer filter, not normalized, stay
                        // integers.
                        let integral = !normalize
                            && filter.iter().all(|w| w.fract() == 0.0)
                            && s.iter().flatten().all(|v| v.fract() == 0.0);
                        Some(if integral {
                            Value::Array(
                                values.into_iter().map(|v| Value::from(v as i64)).collect(),
                            )
                        } else {
                            reals(values)
                        })
                    })
                    .collect();
                Ok(dynamic_column(rows))
            }),
        ),
        KustoScalar::new(
            "series_seasonal",
            1,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let mut rows = Vec::with_capacity(call.rows);
                for (row, s) in series(call, 0).into_iter().enumerate() {
                    let Some(s) = s else {
                        rows.push(None);
                        continue;
                    };
                    let period = match arg(call, 1, row).as_f64() {
                        Some(p) if p >= 0.0 => p as usize,
                        _ => {
                            return Err(invalid(
                                call.name,
                                "automatic period detection is not supported: give the period",
                            ));
                        }
                    };
                    rows.push(Some(reals(seasonal(&s, period))));
                }
                Ok(dynamic_column(rows))
            }),
        ),
        KustoScalar::new(
            "series_fill_linear",
            1,
            Some(4),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let rows = raw_arrays(call, 0)
                    .into_iter()
                    .enumerate()
                    .map(|(row, items)| {
                        let missing = arg(call, 1, row);
                        let fill_edges = arg(call, 2, row).as_bool().unwrap_or(true);
                        let constant = arg(call, 3, row);
                        Some(fill_linear(&items?, &missing, fill_edges, &constant))
                    })
                    .collect();
                Ok(dynamic_column(rows))
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|v| Some(*v)).collect()
    }

    #[test]
    fn stats_match_the_docs_example() {
        let x = s(&[
            23.0, 46.0, 23.0, 87.0, 4.0, 8.0, 3.0, 75.0, 2.0, 56.0, 13.0, 75.0, 32.0, 16.0, 29.0,
        ]);
        let bag = stats(&x);
        assert_eq!(bag["min"], 2.0);
        assert_eq!(bag["min_idx"], 8);
        assert_eq!(bag["max"], 87.0);
        assert_eq!(bag["max_idx"], 3);
        assert_eq!(bag["avg"], 32.8);
        assert!((bag["variance"].as_f64().unwrap_or(0.0) - 812.457_142_857_142_9).abs() < 1e-9);
        assert_eq!(bag["len"], 15);
    }

    #[test]
    fn fit_line_matches_the_docs_example() {
        let y = s(&[
            2.0, 5.0, 6.0, 8.0, 11.0, 15.0, 17.0, 18.0, 25.0, 26.0, 30.0, 30.0,
        ]);
        let bag = fit_line(&y);
        let get = |k: &str| bag[k].as_f64().unwrap_or(f64::NAN);
        assert!((get("rsquare") - 0.982).abs() < 1e-3);
        assert!((get("slope") - 2.730).abs() < 1e-3);
        assert!((get("variance") - 98.628).abs() < 1e-3);
        assert!((get("rvariance") - 1.686).abs() < 1e-3);
        assert!((get("interception") + 1.666).abs() < 1e-3);
    }

    #[test]
    fn iir_with_a_running_sum_filter_is_the_cumulative_sum() {
        let y = iir(&s(&[0.0, 1.0, 2.0, 3.0, 4.0]), &[1.0], &[1.0, -1.0]);
        assert_eq!(y, Some(vec![0.0, 1.0, 3.0, 6.0, 10.0]));
    }

    #[test]
    fn fir_moving_average() {
        let y = fir(&s(&[0.0, 10.0, 20.0, 30.0]), &[1.0, 1.0], true, false);
        assert_eq!(y, vec![0.0, 5.0, 15.0, 25.0]);
    }

    #[test]
    fn seasonal_takes_the_median_of_each_phase() {
        let y = seasonal(&s(&[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]), 3);
        assert_eq!(y, vec![1.5, 3.5, 5.5, 1.5, 3.5, 5.5]);
        let y = seasonal(&s(&[1.0, 3.0, 5.0, 1.0, 3.0, 5.0, 2.0, 4.0, 6.0]), 3);
        assert_eq!(y, vec![1.0, 3.0, 5.0, 1.0, 3.0, 5.0, 1.0, 3.0, 5.0]);
    }

    #[test]
    fn fill_linear_interpolates_and_fills_edges() {
        let items: Vec<Value> =
            serde_json::from_str("[null,111,null,36,41,null,null,16,61,33,null,null]")
                .unwrap_or_default();
        let filled = fill_linear(&items, &Value::Null, true, &Value::Null);
        assert_eq!(
            filled.to_string(),
            "[111,111,73,36,41,32,24,16,61,33,33,33]"
        );
        let kept = fill_linear(&items, &Value::Null, false, &Value::Null);
        assert_eq!(
            kept.to_string(),
            "[null,111,73,36,41,32,24,16,61,33,null,null]"
        );
    }
}
