//! Kusto `dynamic` values.
//!
//! In the engine a dynamic value is what the lake stores: compact JSON text in a Utf8 column
//! tagged `dynamic` (see docs/engine-types.md for the measurements behind this choice). A
//! dynamic null is an Arrow null. Accessors parse the text with `serde_json` (object key order
//! preserved, as Kusto keeps it) and re-serialise only the part they return.

use serde_json::Value;

/// One step of a dynamic member/index path: `.name`, `["name"]` or `[index]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// Member access on a property bag.
    Key(String),
    /// Element access on an array; negative indexes count from the end, as in Kusto.
    Index(i64),
}

/// Parses dynamic text as JSON. Text that is not JSON is kept as a JSON string, which is what
/// Kusto's `parse_json` does with it.
pub fn parse_lenient(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Parses stored dynamic text (always valid JSON when goshawk wrote it).
pub fn parse_stored(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// Compact JSON text of a value, the storage form of a dynamic.
pub fn to_text(value: &Value) -> String {
    value.to_string()
}

/// Follows `path` into `value`; `None` (a dynamic null) when a step does not exist.
pub fn get_path<'a>(value: &'a Value, path: &[PathStep]) -> Option<&'a Value> {
    let mut current = value;
    for step in path {
        current = match (step, current) {
            (PathStep::Key(key), Value::Object(map)) => map.get(key)?,
            (PathStep::Index(index), Value::Array(items)) => {
                let len = items.len() as i64;
                let position = if *index < 0 { len + index } else { *index };
                items.get(usize::try_from(position).ok()?)?
            }
            _ => return None,
        };
    }
    if current.is_null() {
        None
    } else {
        Some(current)
    }
}

/// Kusto's `tostring()` of a dynamic value: a string element gives its text, null gives "",
/// anything else its compact JSON.
pub fn value_to_kusto_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Kusto's `gettype()` of a dynamic value.
pub fn gettype(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "long",
        Value::Number(_) => "real",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "dictionary",
    }
}

/// Kusto's `array_length()`: the element count of an array, `None` for anything else.
pub fn array_length(value: &Value) -> Option<i64> {
    value.as_array().map(|items| items.len() as i64)
}

/// Kusto's `bag_keys()`: the keys of a property bag in their stored order, `None` otherwise.
pub fn bag_keys(value: &Value) -> Option<Value> {
    value
        .as_object()
        .map(|map| Value::Array(map.keys().map(|key| Value::String(key.clone())).collect()))
}

/// The canonical text used to decide whether two dynamic values are the same set member.
pub fn identity_key(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_members_and_indexes() {
        let value = parse_lenient(r#"{"a":1,"nested":{"deep":[true,false]}}"#);
        let path = [
            PathStep::Key("nested".into()),
            PathStep::Key("deep".into()),
            PathStep::Index(0),
        ];
        assert_eq!(get_path(&value, &path), Some(&Value::Bool(true)));
        let last = [
            PathStep::Key("nested".into()),
            PathStep::Key("deep".into()),
            PathStep::Index(-1),
        ];
        assert_eq!(get_path(&value, &last), Some(&Value::Bool(false)));
        assert_eq!(get_path(&value, &[PathStep::Key("missing".into())]), None);
        assert_eq!(get_path(&value, &[PathStep::Index(0)]), None);
    }

    #[test]
    fn non_json_text_becomes_a_dynamic_string() {
        assert_eq!(parse_lenient("hello"), Value::String("hello".into()));
        assert_eq!(gettype(&parse_lenient("123")), "long");
        assert_eq!(gettype(&parse_lenient("1.5")), "real");
        assert_eq!(gettype(&parse_lenient(r#""x""#)), "string");
        assert_eq!(gettype(&parse_lenient("{}")), "dictionary");
    }

    #[test]
    fn bag_keys_keep_insertion_order() {
        let value = parse_lenient(r#"{"name":"alice","age":30}"#);
        assert_eq!(
            bag_keys(&value).map(|v| v.to_string()).as_deref(),
            Some(r#"["name","age"]"#)
        );
        assert_eq!(array_length(&value), None);
        assert_eq!(bag_keys(&parse_lenient("[1]")), None);
    }
}
