//! Bitwise functions (`binary_and`, `binary_or`, `binary_xor`, `binary_not`,
//! `binary_shift_left`, `binary_shift_right`, `bitset_count_ones`) and property-bag editing
//! (`bag_has_key`, `bag_set_key`, `bag_remove_keys`, `bag_zip`, `parse_urlquery`).
//!
//! Bag keys may be plain names or JSONPath-like paths (`$.a.b`), as in Kusto.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{Call, KustoScalar, returns};
use crate::format::{json_at, string_value};

fn binary_long(name: &'static str, f: fn(i64, i64) -> Option<i64>) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(2),
        returns(KustoType::Long),
        Arc::new(move |call| {
            let (a, b) = (call.longs(0)?, call.longs(1)?);
            let values: Int64Array = a.iter().zip(b.iter()).map(|(x, y)| f(x?, y?)).collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

fn unary_long(name: &'static str, f: fn(i64) -> i64) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Long),
        Arc::new(move |call| {
            let values: Int64Array = call.longs(0)?.iter().map(|x| x.map(f)).collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

/// The JSON value of every row of argument `index`.
fn json_values(call: &Call<'_>, index: usize) -> Vec<Value> {
    let (array, ty) = (&call.args[index], call.types[index]);
    (0..call.rows)
        .map(|row| {
            if ty == KustoType::Dynamic {
                string_value(array.as_ref(), row).map_or(Value::Null, crate::dynamic::parse_lenient)
            } else {
                json_at(array.as_ref(), row, ty)
            }
        })
        .collect()
}

fn dynamic_column(values: impl IntoIterator<Item = Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.filter(|v| !v.is_null()).map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

/// `key` or `$.a.b` (also `$['a']`) as a list of property names.
fn key_path(key: &str) -> Vec<String> {
    let Some(rest) = key.strip_prefix('$') else {
        return vec![key.to_string()];
    };
    let mut parts = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            parts.push(after[..end].to_string());
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']").unwrap_or(after.len());
            parts.push(after[..end].to_string());
            rest = after.get(end + 2..).unwrap_or("");
        } else {
            parts.push(rest.to_string());
            break;
        }
    }
    parts
}

fn has_path(bag: &Value, path: &[String]) -> bool {
    let mut node = bag;
    for key in path {
        match node.as_object().and_then(|o| o.get(key)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    true
}

fn set_path(bag: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = bag;
    for key in parents {
        let Some(object) = node.as_object_mut() else {
            return;
        };
        node = object
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(object) = node.as_object_mut() {
        object.insert(last.clone(), value);
    }
}

fn remove_path(bag: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = bag;
    for key in parents {
        match node.as_object_mut().and_then(|o| o.get_mut(key)) {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(object) = node.as_object_mut() {
        object.shift_remove(last);
    }
}

fn key_text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// `d[k]` with a key known only per row: a bag property for a string key, an array element
/// for an integer (negative counts from the end). The planner lowers such indexes to this.
fn dynamic_index() -> KustoScalar {
    KustoScalar::new(
        "__goshawk_dynamic_index",
        2,
        Some(2),
        returns(KustoType::Dynamic),
        Arc::new(|call| {
            let values = json_values(call, 0);
            let keys = json_values(call, 1);
            Ok(dynamic_column(values.iter().zip(&keys).map(
                |(value, key)| match (value, key) {
                    (Value::Object(bag), Value::String(k)) => bag.get(k).cloned(),
                    (Value::Array(items), k) => {
                        let i = k.as_i64()?;
                        let len = items.len() as i64;
                        let i = if i < 0 { len + i } else { i };
                        usize::try_from(i).ok().and_then(|i| items.get(i)).cloned()
                    }
                    _ => None,
                },
            )))
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        dynamic_index(),
        binary_long("binary_and", |a, b| Some(a & b)),
        binary_long("binary_or", |a, b| Some(a | b)),
        binary_long("binary_xor", |a, b| Some(a ^ b)),
        binary_long("binary_shift_left", |a, b| {
            u32::try_from(b).ok().and_then(|b| a.checked_shl(b))
        }),
        binary_long("binary_shift_right", |a, b| {
            u32::try_from(b).ok().and_then(|b| a.checked_shr(b))
        }),
        unary_long("binary_not", |a| !a),
        unary_long("bitset_count_ones", |a| i64::from(a.count_ones())),
        KustoScalar::new(
            "bag_has_key",
            2,
            Some(2),
            returns(KustoType::Bool),
            Arc::new(|call| {
                let bags = json_values(call, 0);
                let keys = call.strings(1);
                let values: BooleanArray = bags
                    .iter()
                    .enumerate()
                    .map(|(row, bag)| {
                        let key = string_value(&keys, row)?;
                        bag.is_object().then(|| has_path(bag, &key_path(key)))
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "bag_set_key",
            3,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let bags = json_values(call, 0);
                let keys = call.strings(1);
                let values = json_values(call, 2);
                Ok(dynamic_column(
                    bags.into_iter()
                        .zip(values)
                        .enumerate()
                        .map(|(row, (mut bag, value))| {
                            let key = string_value(&keys, row)?;
                            if !bag.is_object() {
                                return None;
                            }
                            set_path(&mut bag, &key_path(key), value);
                            Some(bag)
                        }),
                ))
            }),
        ),
        KustoScalar::new(
            "bag_remove_keys",
            2,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let bags = json_values(call, 0);
                let keys = json_values(call, 1);
                Ok(dynamic_column(bags.into_iter().zip(keys).map(
                    |(mut bag, keys)| {
                        if !bag.is_object() {
                            return None;
                        }
                        for key in keys.as_array().into_iter().flatten().filter_map(key_text) {
                            remove_path(&mut bag, &key_path(&key));
                        }
                        Some(bag)
                    },
                )))
            }),
        ),
        KustoScalar::new(
            "bag_zip",
            2,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let keys = json_values(call, 0);
                let values = json_values(call, 1);
                Ok(dynamic_column(keys.into_iter().zip(values).map(
                    |(keys, values)| {
                        let keys = keys.as_array()?.clone();
                        let values = values.as_array().cloned().unwrap_or_default();
                        let mut bag = Map::new();
                        for (index, key) in keys.iter().enumerate() {
                            // Keys that are not strings are skipped, as in Kusto.
                            if let Some(key) = key_text(key) {
                                bag.insert(key, values.get(index).cloned().unwrap_or(Value::Null));
                            }
                        }
                        Some(Value::Object(bag))
                    },
                )))
            }),
        ),
        KustoScalar::new(
            "parse_urlquery",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let texts = call.strings(0);
                Ok(dynamic_column((0..call.rows).map(|row| {
                    let text = string_value(&texts, row).unwrap_or("");
                    let text = text.split_once('?').map_or(text, |(_, query)| query);
                    let mut parameters = Map::new();
                    for pair in text.split('&').filter(|p| !p.is_empty()) {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        parameters.insert(key.to_string(), Value::String(value.to_string()));
                    }
                    let mut result = Map::new();
                    result.insert("Query Parameters".into(), Value::Object(parameters));
                    Some(Value::Object(result))
                })))
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
    async fn dynamic_index_by_row_key() {
        let bag = json(r#"{"x":1,"y":[2,3]}"#);
        assert_eq!(
            eval("__goshawk_dynamic_index", vec![bag.clone(), lit_str("y")]).await,
            ["[2,3]"]
        );
        assert_eq!(
            eval(
                "__goshawk_dynamic_index",
                vec![json("[1,2,3]"), lit(-1_i64)]
            )
            .await,
            ["3"]
        );
        assert_eq!(
            eval("__goshawk_dynamic_index", vec![bag, lit_str("z")]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn bitwise_functions() {
        assert_eq!(eval("binary_or", vec![lit(5_i64), lit(3_i64)]).await, ["7"]);
        assert_eq!(
            eval("binary_xor", vec![lit(1_i64), lit(2_i64)]).await,
            ["3"]
        );
        assert_eq!(
            eval("binary_shift_right", vec![lit(1_i64), lit(2_i64)]).await,
            ["0"]
        );
        assert_eq!(eval("bitset_count_ones", vec![lit(42_i64)]).await, ["3"]);
    }

    #[tokio::test]
    async fn bag_keys_by_name_and_path() {
        let bag = r#"{"key1":123,"key2":{"prop1":"abc","prop2":"xyz"},"key3":[100,200]}"#;
        assert_eq!(
            eval("bag_has_key", vec![json(bag), lit_str("$.key2.prop1")]).await,
            ["True"]
        );
        assert_eq!(
            eval("bag_has_key", vec![json(bag), lit_str("key4")]).await,
            ["False"]
        );
        assert_eq!(
            eval(
                "bag_remove_keys",
                vec![json(bag), json(r#"["$.key2.prop1","key3"]"#)]
            )
            .await,
            [r#"{"key1":123,"key2":{"prop2":"xyz"}}"#]
        );
        assert_eq!(
            eval(
                "bag_set_key",
                vec![
                    json(r#"{"key1":123}"#),
                    lit_str("$.key2.prop1"),
                    lit_str("abc")
                ]
            )
            .await,
            [r#"{"key1":123,"key2":{"prop1":"abc"}}"#]
        );
        assert_eq!(
            eval(
                "bag_zip",
                vec![json(r#"["a","b","c"]"#), json(r#"[1,"2"]"#)]
            )
            .await,
            [r#"{"a":1,"b":"2","c":null}"#]
        );
    }
}
