//! Dynamic functions: `parse_json`/`todynamic`, `array_length`, `pack`/`bag_pack`,
//! `pack_array`, `bag_keys`, `set_union`, `set_intersect`, `set_difference`, `array_concat`,
//! and `dynamic_path`, the member/index access the planner lowers `x.a.b[0]` to.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, StringBuilder,
};
use arrow::datatypes::DataType;
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{Call, KustoScalar, is_numeric, returns, to_bool_array};
use crate::dynamic::{self, PathStep};
use crate::error::EngineError;
use crate::format::{json_at, string_value};

/// The JSON value of every row of argument `index` (`Value::Null` for nulls).
fn json_values(call: &Call<'_>, index: usize) -> Vec<Value> {
    let (array, ty) = (&call.args[index], call.types[index]);
    (0..call.rows)
        .map(|row| {
            if ty == KustoType::Dynamic {
                string_value(array.as_ref(), row).map_or(Value::Null, dynamic::parse_lenient)
            } else {
                json_at(array.as_ref(), row, ty)
            }
        })
        .collect()
}

/// `parse_json` of a string column. Text that is already canonical JSON (the common case for
/// log columns holding JSON) is copied as it is; other text goes through a `serde_json` tree,
/// non-JSON text becoming a dynamic string. `None` when `array` holds no strings.
fn parse_json_texts(array: &dyn Array) -> Option<ArrayRef> {
    if !matches!(
        array.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return None;
    }
    let mut builder = StringBuilder::with_capacity(array.len(), 0);
    for row in 0..array.len() {
        match string_value(array, row) {
            None | Some("null") => builder.append_null(),
            Some(text) if dynamic::is_canonical(text) => builder.append_value(text),
            Some(text) => match dynamic::parse_lenient(text) {
                Value::Null => builder.append_null(),
                value => builder.append_value(value.to_string()),
            },
        }
    }
    Some(Arc::new(builder.finish()))
}

fn dynamic_result(values: impl IntoIterator<Item = Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.filter(|v| !v.is_null()).map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

fn set_function(name: &'static str, combine: fn(&[Vec<Value>]) -> Vec<Value>) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(64),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let columns: Vec<Vec<Value>> =
                (0..call.args.len()).map(|i| json_values(call, i)).collect();
            Ok(dynamic_result((0..call.rows).map(|row| {
                let arrays: Option<Vec<Vec<Value>>> =
                    columns.iter().map(|c| c[row].as_array().cloned()).collect();
                arrays.map(|arrays| Value::Array(combine(&arrays)))
            })))
        }),
    )
}

fn distinct(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(dynamic::identity_key(v)))
        .collect()
}

fn keys(values: &[Value]) -> HashSet<String> {
    values.iter().map(dynamic::identity_key).collect()
}

/// The path steps of `dynamic_path`'s arguments 1.., which must be constants: numbers index
/// arrays, strings name members.
fn path_steps(call: &Call<'_>) -> DFResult<Vec<PathStep>> {
    (1..call.args.len())
        .map(|index| {
            let text = call.constant_string(index, "a path step")?;
            if is_numeric(call.types[index]) {
                let position = text
                    .parse::<i64>()
                    .map_err(|_| EngineError::InvalidArgument {
                        name: call.name.to_string(),
                        message: format!("array index '{text}' is not an integer"),
                    })?;
                Ok(PathStep::Index(position))
            } else {
                Ok(PathStep::Key(text))
            }
        })
        .collect()
}

/// Kusto's element order for `array_sort_*`: numbers, then strings, then everything else in
/// its original order; nulls go last (or first) as asked.
fn sort_rank(value: &Value) -> u8 {
    match value {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Null => 3,
        _ => 2,
    }
}

fn compare_elements(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.total_cmp(&y)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => sort_rank(a).cmp(&sort_rank(b)),
    }
}

/// The permutation that sorts `array` (stable), nulls last when `nulls_last`.
fn sort_order(array: &[Value], descending: bool, nulls_last: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..array.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&array[i], &array[j]);
        match (a.is_null(), b.is_null()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) if nulls_last => std::cmp::Ordering::Greater,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) if nulls_last => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) if sort_rank(a) != sort_rank(b) => sort_rank(a).cmp(&sort_rank(b)),
            (false, false) if descending => compare_elements(b, a),
            (false, false) => compare_elements(a, b),
        }
    });
    order
}

/// `array_sort_asc(array[, nulls_last])` / `array_sort_desc`: the array sorted, `null` for a
/// value that is not an array. Kusto's form that reorders further arrays alongside is not
/// supported (the argument count check rejects it).
fn array_sort(name: &'static str, descending: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        Arc::new(|name, args| {
            if let Some(ty) = args.get(1)
                && !matches!(ty, KustoType::Bool | KustoType::Dynamic)
            {
                return Err(EngineError::ArgumentType {
                    name: name.to_string(),
                    position: 2,
                    expected: "a bool (nulls_last)".to_string(),
                    got: ty.to_string(),
                });
            }
            Ok(KustoType::Dynamic)
        }),
        Arc::new(move |call| {
            let arrays = json_values(call, 0);
            let nulls_last = if call.args.len() > 1 {
                Some(to_bool_array(&call.args[1], call.types[1])?)
            } else {
                None
            };
            Ok(dynamic_result(arrays.iter().enumerate().map(
                |(row, value)| {
                    let array = value.as_array()?;
                    let nulls_last = match &nulls_last {
                        Some(flags) if flags.is_valid(row) => flags.value(row),
                        _ => true,
                    };
                    let order = sort_order(array, descending, nulls_last);
                    Some(Value::Array(
                        order.into_iter().map(|i| array[i].clone()).collect(),
                    ))
                },
            )))
        }),
    )
}

/// The position of the `occurrence`-th match among `count` positions, searching a window of
/// `length` positions (to the end when negative) from `start`; each further occurrence is
/// searched from just after the previous one over a window of the same length, as Kusto's
/// `indexof` and `array_index_of` do. `matches_at(at, end)` tests position `at` in a window
/// ending before `end`. -1 when there is none.
pub(super) fn index_of_occurrence(
    count: i64,
    mut start: i64,
    length: i64,
    occurrence: i64,
    matches_at: impl Fn(i64, i64) -> bool,
) -> i64 {
    if occurrence < 1 {
        return -1;
    }
    let mut seen = 0;
    loop {
        let end = if length < 0 {
            count
        } else {
            start.saturating_add(length).min(count)
        };
        let Some(at) = (start..end).find(|&at| matches_at(at, end)) else {
            return -1;
        };
        seen += 1;
        if seen == occurrence {
            return at;
        }
        start = at + 1;
    }
}

/// A bag per row from the key/value argument pairs starting at argument `first`; where
/// `skip_empty(row)`, null and "" values are left out (`pack_all(true)`).
fn pack_pairs(call: &Call<'_>, first: usize, skip_empty: impl Fn(usize) -> bool) -> ArrayRef {
    let keys: Vec<StringArray> = (first..call.args.len())
        .step_by(2)
        .map(|i| call.strings(i))
        .collect();
    let values: Vec<Vec<Value>> = (first + 1..call.args.len())
        .step_by(2)
        .map(|i| json_values(call, i))
        .collect();
    dynamic_result((0..call.rows).map(|row| {
        let skip = skip_empty(row);
        let mut bag = Map::new();
        for (k, v) in keys.iter().zip(&values) {
            let value = &v[row];
            if skip && (value.is_null() || value.as_str() == Some("")) {
                continue;
            }
            bag.insert(k.value(row).to_string(), value.clone());
        }
        Some(Value::Object(bag))
    }))
}

/// Kusto's `array_slice(array, start, end)`: `end` is inclusive; negative indexes count from
/// the end; out-of-range bounds are clamped, and an empty range gives `[]`.
pub fn array_slice(array: &[Value], start: i64, end: i64) -> Vec<Value> {
    let len = i64::try_from(array.len()).unwrap_or(i64::MAX);
    let resolve = |index: i64| if index < 0 { index + len } else { index };
    let start = resolve(start).max(0);
    let end = resolve(end).min(len - 1);
    if start > end {
        return Vec::new();
    }
    let (start, end) = (start as usize, end as usize);
    array[start..=end].to_vec()
}

/// A copy of `value` with every bag's keys sorted, as `dynamic_to_json` writes them.
fn with_sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(bag) => {
            let mut keys: Vec<&String> = bag.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), with_sorted_keys(&bag[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(with_sorted_keys).collect()),
        other => other.clone(),
    }
}

/// The rotation `array_rotate_left` (positive `by`) or `array_rotate_right` applies.
fn rotate(array: &[Value], by: i64) -> Vec<Value> {
    let mut rotated = array.to_vec();
    if let Ok(len) = i64::try_from(array.len())
        && len > 0
    {
        let shift = by.rem_euclid(len) as usize;
        rotated.rotate_left(shift);
    }
    rotated
}

/// `array_shift_left` (positive `by`) / `array_shift_right`: elements move and the vacated
/// places take `fill`.
fn shift(array: &[Value], by: i64, fill: &Value) -> Vec<Value> {
    let len = array.len();
    let moved = usize::try_from(by.unsigned_abs())
        .unwrap_or(usize::MAX)
        .min(len);
    let mut shifted = Vec::with_capacity(len);
    if by >= 0 {
        shifted.extend_from_slice(&array[moved..]);
        shifted.extend(std::iter::repeat_n(fill.clone(), moved));
    } else {
        shifted.extend(std::iter::repeat_n(fill.clone(), moved));
        shifted.extend_from_slice(&array[..len - moved]);
    }
    shifted
}

fn array_move(name: &'static str, left: bool, rotating: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(if rotating { 2 } else { 3 }),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let arrays = json_values(call, 0);
            let counts = call.longs(1)?;
            let fills = (call.args.len() > 2).then(|| json_values(call, 2));
            Ok(dynamic_result(arrays.iter().enumerate().map(
                |(row, value)| {
                    let array = value.as_array()?;
                    let count = counts.is_valid(row).then(|| counts.value(row))?;
                    let count = if left { count } else { count.checked_neg()? };
                    Some(Value::Array(if rotating {
                        rotate(array, count)
                    } else {
                        let fill = fills.as_ref().map_or(&Value::Null, |f| &f[row]);
                        shift(array, count, fill)
                    }))
                },
            )))
        }),
    )
}

/// `array_split(array, indices)`: the pieces between the split points (an index or an array of
/// indexes; negative ones count from the end).
fn split_at_indices(array: &[Value], indices: &Value) -> Option<Vec<Value>> {
    let len = i64::try_from(array.len()).ok()?;
    let points: Vec<i64> = match indices {
        Value::Array(items) => items.iter().map(Value::as_i64).collect::<Option<_>>()?,
        other => vec![other.as_i64()?],
    };
    let mut pieces = Vec::with_capacity(points.len() + 1);
    let mut start = 0_i64;
    for point in points {
        let point = if point < 0 { point + len } else { point }.clamp(start, len);
        pieces.push(Value::Array(array[start as usize..point as usize].to_vec()));
        start = point;
    }
    pieces.push(Value::Array(array[start as usize..].to_vec()));
    Some(pieces)
}

pub(super) fn functions() -> Vec<KustoScalar> {
    let parse = |name: &'static str| {
        KustoScalar::new(
            name,
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                if call.types[0] == KustoType::Dynamic {
                    return Ok(Arc::clone(&call.args[0]));
                }
                if let Some(parsed) = parse_json_texts(call.args[0].as_ref()) {
                    return Ok(parsed);
                }
                let values = json_values(call, 0);
                Ok(dynamic_result(values.into_iter().map(|v| match v {
                    Value::String(text) => Some(dynamic::parse_lenient(&text)),
                    other => Some(other),
                })))
            }),
        )
    };
    let pack = |name: &'static str| {
        KustoScalar::new(
            name,
            0,
            None,
            Arc::new(|name, args| {
                if args.len() % 2 == 1 {
                    return Err(EngineError::InvalidArgument {
                        name: name.to_string(),
                        message: format!(
                            "expects key/value pairs (an even number of arguments), got {}",
                            args.len()
                        ),
                    });
                }
                Ok(KustoType::Dynamic)
            }),
            Arc::new(|call| Ok(pack_pairs(call, 0, |_| false))),
        )
    };
    vec![
        array_move("array_rotate_left", true, true),
        array_move("array_rotate_right", false, true),
        array_move("array_shift_left", true, false),
        array_move("array_shift_right", false, false),
        KustoScalar::new(
            "array_reverse",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                Ok(dynamic_result(json_values(call, 0).into_iter().map(
                    |value| match value {
                        Value::Array(mut items) => {
                            items.reverse();
                            Some(Value::Array(items))
                        }
                        _ => None,
                    },
                )))
            }),
        ),
        KustoScalar::new(
            "array_split",
            2,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let arrays = json_values(call, 0);
                let indices = json_values(call, 1);
                Ok(dynamic_result(arrays.iter().zip(&indices).map(
                    |(value, at)| split_at_indices(value.as_array()?, at).map(Value::Array),
                )))
            }),
        ),
        KustoScalar::new(
            "array_index_of",
            2,
            Some(5),
            returns(KustoType::Long),
            Arc::new(|call| {
                let arrays = json_values(call, 0);
                let needles = json_values(call, 1);
                let optional = |index: usize, default: i64| -> DFResult<Vec<Option<i64>>> {
                    if call.args.len() > index {
                        Ok(call.longs(index)?.iter().collect())
                    } else {
                        Ok(vec![Some(default); call.rows])
                    }
                };
                let (starts, lengths, occurrences) =
                    (optional(2, 0)?, optional(3, -1)?, optional(4, 1)?);
                let found: Int64Array = (0..call.rows)
                    .map(|row| {
                        let array = arrays[row].as_array()?;
                        let len = i64::try_from(array.len()).ok()?;
                        let start = starts[row]?;
                        let start = if start < 0 { start + len } else { start };
                        if !(0..=len).contains(&start) {
                            return None;
                        }
                        let needle = dynamic::identity_key(&needles[row]);
                        Some(index_of_occurrence(
                            len,
                            start,
                            lengths[row]?,
                            occurrences[row]?,
                            |at, _| dynamic::identity_key(&array[at as usize]) == needle,
                        ))
                    })
                    .collect();
                Ok(Arc::new(found) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "set_has_element",
            2,
            Some(2),
            returns(KustoType::Bool),
            Arc::new(|call| {
                let arrays = json_values(call, 0);
                let needles = json_values(call, 1);
                let found: BooleanArray = arrays
                    .iter()
                    .zip(&needles)
                    .map(|(value, needle)| {
                        let needle = dynamic::identity_key(needle);
                        Some(
                            value
                                .as_array()?
                                .iter()
                                .any(|v| dynamic::identity_key(v) == needle),
                        )
                    })
                    .collect();
                Ok(Arc::new(found) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "jaccard_index",
            2,
            Some(2),
            returns(KustoType::Real),
            Arc::new(|call| {
                let (left, right) = (json_values(call, 0), json_values(call, 1));
                let indexes: Float64Array = left
                    .iter()
                    .zip(&right)
                    .map(|(a, b)| {
                        let (a, b) = (keys(a.as_array()?), keys(b.as_array()?));
                        let union = a.union(&b).count();
                        let common = a.intersection(&b).count();
                        (union > 0).then(|| common as f64 / union as f64)
                    })
                    .collect();
                Ok(Arc::new(indexes) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "array_iff",
            3,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let conditions = json_values(call, 0);
                let (when_true, when_false) = (json_values(call, 1), json_values(call, 2));
                let pick = |source: &Value, index: usize| match source {
                    Value::Array(items) => items.get(index).cloned().unwrap_or(Value::Null),
                    scalar => scalar.clone(),
                };
                Ok(dynamic_result((0..call.rows).map(|row| {
                    let conditions = conditions[row].as_array()?;
                    Some(Value::Array(
                        conditions
                            .iter()
                            .enumerate()
                            .map(|(i, condition)| match condition {
                                Value::Bool(true) => pick(&when_true[row], i),
                                Value::Bool(false) => pick(&when_false[row], i),
                                _ => Value::Null,
                            })
                            .collect(),
                    ))
                })))
            }),
        ),
        array_sort("array_sort_asc", false),
        array_sort("array_sort_desc", true),
        KustoScalar::new(
            "array_slice",
            3,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let arrays = json_values(call, 0);
                let (starts, ends) = (call.longs(1)?, call.longs(2)?);
                Ok(dynamic_result(arrays.iter().enumerate().map(
                    |(row, value)| {
                        let array = value.as_array()?;
                        if starts.is_null(row) || ends.is_null(row) {
                            return None;
                        }
                        Some(Value::Array(array_slice(
                            array,
                            starts.value(row),
                            ends.value(row),
                        )))
                    },
                )))
            }),
        ),
        KustoScalar::new(
            "array_sum",
            1,
            Some(1),
            returns(KustoType::Real),
            Arc::new(|call| {
                let sums: Float64Array = json_values(call, 0)
                    .iter()
                    .map(|value| {
                        let numbers: Vec<f64> =
                            value.as_array()?.iter().filter_map(Value::as_f64).collect();
                        (!numbers.is_empty()).then(|| numbers.iter().sum())
                    })
                    .collect();
                Ok(Arc::new(sums) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "dynamic_to_json",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                let texts: StringArray = json_values(call, 0)
                    .iter()
                    .map(|value| Some(with_sorted_keys(value).to_string()))
                    .collect();
                Ok(Arc::new(texts) as ArrayRef)
            }),
        ),
        parse("parse_json"),
        pack("pack"),
        KustoScalar::new(
            // The planner's `pack_all([ignore_null_empty])`: the flag, then a name/value pair
            // per column.
            "pack_all",
            1,
            None,
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let skip_empty = to_bool_array(&call.args[0], call.types[0])?;
                Ok(pack_pairs(call, 1, |row| {
                    skip_empty.is_valid(row) && skip_empty.value(row)
                }))
            }),
        ),
        KustoScalar::new(
            "pack_array",
            1,
            None,
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let columns: Vec<Vec<Value>> =
                    (0..call.args.len()).map(|i| json_values(call, i)).collect();
                Ok(dynamic_result((0..call.rows).map(|row| {
                    Some(Value::Array(
                        columns.iter().map(|c| c[row].clone()).collect(),
                    ))
                })))
            }),
        ),
        KustoScalar::new(
            "array_length",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| {
                let lengths: Int64Array = json_values(call, 0)
                    .iter()
                    .map(dynamic::array_length)
                    .collect();
                Ok(Arc::new(lengths) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "bag_keys",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                Ok(dynamic_result(
                    json_values(call, 0).iter().map(dynamic::bag_keys),
                ))
            }),
        ),
        set_function("set_union", |arrays| {
            distinct(arrays.iter().flatten().cloned())
        }),
        set_function("set_intersect", |arrays| {
            let others: Vec<HashSet<String>> = arrays[1..].iter().map(|a| keys(a)).collect();
            distinct(
                arrays[0]
                    .iter()
                    .filter(|v| others.iter().all(|o| o.contains(&dynamic::identity_key(v))))
                    .cloned(),
            )
        }),
        set_function("set_difference", |arrays| {
            let others: Vec<HashSet<String>> = arrays[1..].iter().map(|a| keys(a)).collect();
            distinct(
                arrays[0]
                    .iter()
                    .filter(|v| !others.iter().any(|o| o.contains(&dynamic::identity_key(v))))
                    .cloned(),
            )
        }),
        set_function("array_concat", |arrays| {
            arrays.iter().flatten().cloned().collect()
        }),
        KustoScalar::new(
            "bag_merge",
            2,
            Some(64),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let columns: Vec<Vec<Value>> =
                    (0..call.args.len()).map(|i| json_values(call, i)).collect();
                Ok(dynamic_result((0..call.rows).map(|row| {
                    // The first bag that has a key wins, as in the real engine.
                    let mut merged = Map::new();
                    for column in &columns {
                        for (key, value) in column[row].as_object()? {
                            merged.entry(key.clone()).or_insert_with(|| value.clone());
                        }
                    }
                    Some(Value::Object(merged))
                })))
            }),
        ),
        KustoScalar::new(
            "zip",
            2,
            Some(16),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let columns: Vec<Vec<Value>> =
                    (0..call.args.len()).map(|i| json_values(call, i)).collect();
                Ok(dynamic_result((0..call.rows).map(|row| {
                    let arrays: Vec<&Vec<Value>> = columns
                        .iter()
                        .map(|c| c[row].as_array())
                        .collect::<Option<_>>()?;
                    let longest = arrays.iter().map(|a| a.len()).max().unwrap_or(0);
                    let zipped = (0..longest)
                        .map(|i| {
                            Value::Array(
                                arrays
                                    .iter()
                                    .map(|a| a.get(i).cloned().unwrap_or(Value::Null))
                                    .collect(),
                            )
                        })
                        .collect();
                    Some(Value::Array(zipped))
                })))
            }),
        ),
        KustoScalar::new(
            "dynamic_path",
            1,
            None,
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let steps = path_steps(call)?;
                if call.types[0] == KustoType::Dynamic {
                    let array = call.args[0].as_ref();
                    let found: StringArray = (0..call.rows)
                        .map(|row| {
                            string_value(array, row).and_then(|t| dynamic::find_raw(t, &steps))
                        })
                        .collect();
                    return Ok(Arc::new(found) as ArrayRef);
                }
                let values = json_values(call, 0);
                Ok(dynamic_result(
                    values.iter().map(|v| dynamic::get_path(v, &steps).cloned()),
                ))
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{call, eval, lit_str};

    fn json(text: &str) -> datafusion::logical_expr::Expr {
        call("parse_json", vec![lit_str(text)])
    }

    #[tokio::test]
    async fn member_and_index_access() {
        let doc = json(r#"{"a":1,"nested":{"deep":[true,false]}}"#);
        let path = vec![doc.clone(), lit_str("nested"), lit_str("deep"), lit(0_i64)];
        assert_eq!(eval("dynamic_path", path).await, ["true"]);
        assert_eq!(
            eval("dynamic_path", vec![doc.clone(), lit_str("missing")]).await,
            ["null"]
        );
        let split = call("split", vec![lit_str("a,b,c,d"), lit_str(",")]);
        assert_eq!(
            eval("dynamic_path", vec![split.clone(), lit(2_i64)]).await,
            [r#""c""#]
        );
        assert_eq!(
            eval("dynamic_path", vec![split, lit(5_i64)]).await,
            ["null"]
        );
        let element = call("dynamic_path", vec![doc, lit_str("a")]);
        assert_eq!(eval("tostring", vec![element]).await, ["1"]);
    }

    #[tokio::test]
    async fn parse_json_keeps_non_json_as_string() {
        assert_eq!(
            eval("parse_json", vec![lit_str("hello")]).await,
            [r#""hello""#]
        );
        assert_eq!(
            eval("todynamic", vec![lit_str("[1,2,3]")]).await,
            ["[1,2,3]"]
        );
        assert_eq!(eval("array_length", vec![json("[1,2,3]")]).await, ["3"]);
        assert_eq!(eval("array_length", vec![json("{}")]).await, ["null"]);
        assert_eq!(eval("bag_keys", vec![json("{}")]).await, ["[]"]);
        assert_eq!(
            eval("bag_keys", vec![json(r#"{"a":1,"b":[1]}"#)]).await,
            [r#"["a","b"]"#]
        );
    }

    #[tokio::test]
    async fn parse_json_of_a_column_copies_canonical_text_and_normalises_the_rest() {
        use std::sync::Arc;

        use goshawk_types::KustoType;

        use crate::scalar::test_support::eval_on;

        let texts: Vec<Option<&str>> = vec![
            Some(r#"{"Id":"1","Name":"ServiceNow"}"#),
            Some(r#"{"Id": "1", "Name": "ServiceNow"}"#),
            Some(r#"{"a":1.50,"a":2}"#),
            Some("null"),
            None,
            Some("not json"),
            Some(""),
            Some("{}"),
        ];
        let column = Arc::new(arrow::array::StringArray::from(texts));
        let parsed = eval_on(
            vec![("s", KustoType::String, column)],
            call("parse_json", vec![datafusion::logical_expr::col("s")]),
        )
        .await;
        assert_eq!(
            parsed,
            [
                r#"{"Id":"1","Name":"ServiceNow"}"#,
                r#"{"Id":"1","Name":"ServiceNow"}"#,
                r#"{"a":2}"#,
                "null",
                "null",
                r#""not json""#,
                r#""""#,
                "{}",
            ]
        );
    }

    #[tokio::test]
    async fn pack_keeps_order_and_types() {
        let packed = eval(
            "pack",
            vec![
                lit_str("name"),
                lit_str("alice"),
                lit_str("age"),
                lit(30_i64),
            ],
        )
        .await;
        assert_eq!(packed, [r#"{"name":"alice","age":30}"#]);
        assert_eq!(
            eval("pack_array", vec![lit(1_i64), lit_str("x"), lit(2.5_f64)]).await,
            [r#"[1,"x",2.5]"#]
        );
        let odd =
            crate::scalar::test_support::try_eval_expr(call("bag_pack", vec![lit_str("k")])).await;
        assert!(
            odd.err()
                .unwrap_or_default()
                .contains("expects key/value pairs")
        );
    }

    #[tokio::test]
    async fn bag_merge_keeps_the_first_value_and_zip_pairs_elements() {
        let merged = eval(
            "bag_merge",
            vec![
                json(r#"{"a":1,"b":2}"#),
                json(r#"{"b":{"nested":true},"c":3}"#),
            ],
        )
        .await;
        assert_eq!(merged, [r#"{"a":1,"b":2,"c":3}"#]);
        assert_eq!(
            eval("zip", vec![json("[1,2,3]"), json("[4,5,6]")]).await,
            ["[[1,4],[2,5],[3,6]]"]
        );
        assert_eq!(
            eval("zip", vec![json("[1,2]"), json("[4]")]).await,
            ["[[1,4],[2,null]]"]
        );
    }

    #[tokio::test]
    async fn set_functions() {
        let (a, b) = (json("[1,2,3,2]"), json("[3,4]"));
        assert_eq!(
            eval("set_union", vec![a.clone(), b.clone()]).await,
            ["[1,2,3,4]"]
        );
        assert_eq!(
            eval("set_intersect", vec![a.clone(), b.clone()]).await,
            ["[3]"]
        );
        assert_eq!(
            eval("set_difference", vec![a.clone(), b.clone()]).await,
            ["[1,2]"]
        );
        assert_eq!(eval("array_concat", vec![a, b]).await, ["[1,2,3,2,3,4]"]);
        assert_eq!(
            eval("set_union", vec![json("[1]"), json("{}")]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn array_sorting_and_slicing_match_the_oracle() {
        let arr = |text: &str| call("parse_json", vec![lit_str(text)]);
        assert_eq!(
            eval("array_sort_asc", vec![arr("[3,null,1,\"b\",2,\"a\"]")]).await,
            [r#"[1,2,3,"a","b",null]"#]
        );
        assert_eq!(
            eval("array_sort_desc", vec![arr("[3,null,1,2]"), lit(false)]).await,
            ["[null,3,2,1]"]
        );
        assert_eq!(
            eval("array_sort_asc", vec![arr("{\"a\":1}")]).await,
            ["null"]
        );
        let d = "[1,2,3,4,5,6]";
        for (start, end, expected) in [
            (2, -2, "[3,4,5]"),
            (-3, -1, "[4,5,6]"),
            (0, 100, "[1,2,3,4,5,6]"),
            (4, 1, "[]"),
        ] {
            assert_eq!(
                eval("array_slice", vec![arr(d), lit(start), lit(end)]).await,
                [expected],
                "{start}..{end}"
            );
        }
    }

    #[tokio::test]
    async fn array_sum_and_dynamic_to_json() {
        let arr = |text: &str| call("parse_json", vec![lit_str(text)]);
        assert_eq!(eval("array_sum", vec![arr("[10,20,30.5]")]).await, ["60.5"]);
        assert_eq!(eval("array_sum", vec![arr("[]")]).await, ["null"]);
        assert_eq!(
            eval(
                "dynamic_to_json",
                vec![arr(r#"{"b":2,"a":{"d":1,"c":[1,2]}}"#)]
            )
            .await,
            [r#"{"a":{"c":[1,2],"d":1},"b":2}"#]
        );
    }

    #[tokio::test]
    async fn array_moves_splits_and_lookups() {
        let arr = |text: &str| call("parse_json", vec![lit_str(text)]);
        let words = || arr(r#"["this","is","an","example","an","example"]"#);
        let cases = [
            (
                "array_rotate_left",
                vec![arr("[10,20,30]"), lit(1_i64)],
                "[20,30,10]",
            ),
            (
                "array_rotate_right",
                vec![arr("[1,2,3,4,5]"), lit(2_i64)],
                "[4,5,1,2,3]",
            ),
            (
                "array_shift_right",
                vec![arr("[10,20,30]"), lit(1_i64)],
                "[null,10,20]",
            ),
            (
                "array_shift_left",
                vec![arr("[1,2,3]"), lit(1_i64), lit(-1_i64)],
                "[2,3,-1]",
            ),
            ("array_reverse", vec![arr("[1,2,3]")], "[3,2,1]"),
            (
                "array_split",
                vec![arr("[1,2,3,4,5,6,7,8]"), arr("[2,5]")],
                "[[1,2],[3,4,5],[6,7,8]]",
            ),
            ("array_index_of", vec![arr("[1,2,3]"), lit(2_i64)], "1"),
            ("array_index_of", vec![arr("[1,2,3]"), lit(99_i64)], "-1"),
            (
                "array_index_of",
                vec![words(), lit_str("example"), lit(1_i64), lit(3_i64)],
                "3",
            ),
            (
                "array_index_of",
                vec![words(), lit_str("example"), lit(1_i64), lit(2_i64)],
                "-1",
            ),
            (
                "array_index_of",
                vec![words(), lit_str("an"), lit(1_i64), lit(-1_i64), lit(2_i64)],
                "4",
            ),
            (
                "array_index_of",
                vec![words(), lit_str("an"), lit(-3_i64)],
                "4",
            ),
            (
                "array_index_of",
                vec![words(), lit_str("is"), lit(-4_i64)],
                "-1",
            ),
            ("set_has_element", vec![arr("[1,2,3]"), lit(2_i64)], "True"),
            (
                "set_has_element",
                vec![arr("[1,2,3]"), lit_str("2")],
                "False",
            ),
            (
                "jaccard_index",
                vec![arr("[1,2,3,4]"), arr("[3,4,5,6]")],
                "0.3333333333333333",
            ),
            (
                "array_iff",
                vec![arr("[true,false,true]"), arr("[1,2,3]"), arr("[0,0,0]")],
                "[1,0,3]",
            ),
        ];
        for (name, args, expected) in cases {
            let got = eval(name, args).await;
            assert_eq!(
                got.iter()
                    .map(|s| s.replace([' ', '\n'], ""))
                    .collect::<Vec<_>>(),
                [expected],
                "{name}"
            );
        }
    }
}
