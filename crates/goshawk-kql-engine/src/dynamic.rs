//! Kusto `dynamic` values.
//!
//! In the engine a dynamic value is what the lake stores: compact JSON text in a Utf8 column
//! tagged `dynamic` (see docs/engine-types.md for the measurements behind this choice). A
//! dynamic null is an Arrow null (or the text `null`). The hot accessors (member/index paths,
//! `array_length`, `bag_keys`, `tostring`) walk the text lazily with `jiter`, skipping what they
//! do not need and returning slices of the input; functions that build values (sets, packs)
//! parse into `serde_json` trees with object key order preserved, as Kusto keeps it.

use jiter::{Jiter, Peek};
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

/// Follows `path` through JSON text without building a tree and returns the raw text of the
/// element, `None` when a step does not exist or the element is `null`. Negative indexes and
/// malformed text fall back to [`get_path`] on a parsed tree.
pub fn find_raw<'a>(text: &'a str, path: &[PathStep]) -> Option<std::borrow::Cow<'a, str>> {
    if path
        .iter()
        .any(|s| matches!(s, PathStep::Index(i) if *i < 0))
    {
        let value = parse_stored(text)?;
        return get_path(&value, path).map(|v| std::borrow::Cow::Owned(v.to_string()));
    }
    let mut jiter = Jiter::new(text.as_bytes());
    for step in path {
        match step {
            PathStep::Key(wanted) => {
                if jiter.peek().ok()? != Peek::Object {
                    return None;
                }
                let mut key = jiter.next_object().ok()?;
                loop {
                    if key? == wanted {
                        break;
                    }
                    jiter.next_skip().ok()?;
                    key = jiter.next_key().ok()?;
                }
            }
            PathStep::Index(wanted) => {
                if jiter.peek().ok()? != Peek::Array {
                    return None;
                }
                let mut element = jiter.next_array().ok()?;
                let mut index = 0;
                loop {
                    element?;
                    if index == *wanted {
                        break;
                    }
                    jiter.next_skip().ok()?;
                    element = jiter.array_step().ok()?;
                    index += 1;
                }
            }
        }
    }
    let peek = jiter.peek().ok()?;
    // peek() has consumed leading whitespace, so the value starts one byte back.
    let start = jiter.current_index();
    if peek == Peek::Null {
        return None;
    }
    jiter.known_skip(peek).ok()?;
    let raw = std::str::from_utf8(jiter.slice_to_current(start)).ok()?;
    Some(std::borrow::Cow::Borrowed(raw))
}

/// Kusto's `tostring()` of dynamic text: a JSON string gives its unescaped text, `null` gives
/// "", anything else its JSON text.
pub fn text_to_kusto_string(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.starts_with('"') {
        let mut jiter = Jiter::new(trimmed.as_bytes());
        if let Ok(unescaped) = jiter.next_str() {
            return unescaped.to_string();
        }
    }
    if trimmed == "null" {
        String::new()
    } else {
        trimmed.to_string()
    }
}

/// `array_length` of dynamic text, without building a tree.
pub fn text_array_length(text: &str) -> Option<i64> {
    let mut jiter = Jiter::new(text.as_bytes());
    if jiter.peek().ok()? != Peek::Array {
        return None;
    }
    let mut count = 0;
    let mut element = jiter.next_array().ok()?;
    while let Some(peek) = element {
        count += 1;
        jiter.known_skip(peek).ok()?;
        element = jiter.array_step().ok()?;
    }
    Some(count)
}

/// `bag_keys` of dynamic text as a JSON array, without building a tree.
pub fn text_bag_keys(text: &str) -> Option<Value> {
    let mut jiter = Jiter::new(text.as_bytes());
    if jiter.peek().ok()? != Peek::Object {
        return None;
    }
    let mut keys = Vec::new();
    let mut key = jiter.next_object().ok()?;
    while let Some(k) = key {
        keys.push(Value::String(k.to_string()));
        jiter.next_skip().ok()?;
        key = jiter.next_key().ok()?;
    }
    Some(Value::Array(keys))
}

/// Whether `text` is valid JSON that `serde_json` would write back byte for byte: no
/// whitespace, integers only (no floats, no `-0`, at most 18 digits), string escapes exactly as
/// `serde_json` writes them, no duplicate keys in an object. Such text is already the storage
/// form of a dynamic, so `parse_json` can keep it and path accessors can slice it instead of
/// building a tree. The check allocates nothing; `false` only means "take the slow path".
pub fn is_canonical(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut position = 0;
    canonical_value(bytes, &mut position, 0) && position == bytes.len()
}

/// Deeper than this, the tree path decides (serde_json's own recursion limit is 128).
const CANONICAL_MAX_DEPTH: usize = 64;
/// Objects with more keys take the tree path (the duplicate check is quadratic).
const CANONICAL_MAX_KEYS: usize = 32;

fn canonical_value(bytes: &[u8], position: &mut usize, depth: usize) -> bool {
    let Some(&first) = bytes.get(*position) else {
        return false;
    };
    match first {
        b'"' => canonical_string(bytes, position),
        b'{' => canonical_object(bytes, position, depth),
        b'[' => {
            if depth >= CANONICAL_MAX_DEPTH {
                return false;
            }
            *position += 1;
            if bytes.get(*position) == Some(&b']') {
                *position += 1;
                return true;
            }
            loop {
                if !canonical_value(bytes, position, depth + 1) {
                    return false;
                }
                match bytes.get(*position) {
                    Some(b',') => *position += 1,
                    Some(b']') => {
                        *position += 1;
                        return true;
                    }
                    _ => return false,
                }
            }
        }
        b't' => canonical_literal(bytes, position, b"true"),
        b'f' => canonical_literal(bytes, position, b"false"),
        b'n' => canonical_literal(bytes, position, b"null"),
        b'-' | b'0'..=b'9' => canonical_integer(bytes, position),
        _ => false,
    }
}

fn canonical_object(bytes: &[u8], position: &mut usize, depth: usize) -> bool {
    if depth >= CANONICAL_MAX_DEPTH {
        return false;
    }
    *position += 1;
    if bytes.get(*position) == Some(&b'}') {
        *position += 1;
        return true;
    }
    // Raw key texts: with canonical escapes, equal keys have equal raw text.
    let mut keys: [&[u8]; CANONICAL_MAX_KEYS] = [&[]; CANONICAL_MAX_KEYS];
    let mut key_count = 0;
    loop {
        let start = *position;
        if bytes.get(start) != Some(&b'"') || !canonical_string(bytes, position) {
            return false;
        }
        let key = &bytes[start..*position];
        if key_count == CANONICAL_MAX_KEYS || keys[..key_count].contains(&key) {
            return false;
        }
        keys[key_count] = key;
        key_count += 1;
        if bytes.get(*position) != Some(&b':') {
            return false;
        }
        *position += 1;
        if !canonical_value(bytes, position, depth + 1) {
            return false;
        }
        match bytes.get(*position) {
            Some(b',') => *position += 1,
            Some(b'}') => {
                *position += 1;
                return true;
            }
            _ => return false,
        }
    }
}

/// A string starting at `position` (the opening quote).
fn canonical_string(bytes: &[u8], position: &mut usize) -> bool {
    let mut i = *position + 1;
    loop {
        // Skip plain bytes fast; UTF-8 validity comes with `&str`.
        while let Some(&b) = bytes.get(i) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            i += 1;
        }
        match bytes.get(i) {
            Some(b'"') => {
                *position = i + 1;
                return true;
            }
            Some(b'\\') => {
                let ok = match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => {
                        i += 2;
                        true
                    }
                    // serde_json writes the other control characters as \u00xx, lower-case.
                    Some(b'u') => match bytes.get(i + 2..i + 6) {
                        Some([b'0', b'0', high @ (b'0' | b'1'), low]) => {
                            let digit = match low {
                                b'0'..=b'9' => Some(low - b'0'),
                                b'a'..=b'f' => Some(low - b'a' + 10),
                                _ => None,
                            };
                            i += 6;
                            digit.is_some_and(|d| {
                                let code = (high - b'0') * 16 + d;
                                !matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
                            })
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
            // A raw control character (invalid JSON) or the end of the text.
            _ => return false,
        }
    }
}

fn canonical_literal(bytes: &[u8], position: &mut usize, literal: &[u8]) -> bool {
    if bytes[*position..].starts_with(literal) {
        *position += literal.len();
        true
    } else {
        false
    }
}

/// An integer that serde_json reads as i64/u64 and writes back unchanged.
fn canonical_integer(bytes: &[u8], position: &mut usize) -> bool {
    let negative = bytes[*position] == b'-';
    let start = *position + usize::from(negative);
    let mut end = start;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let digits = end - start;
    let leading_zero = bytes.get(start) == Some(&b'0');
    let valid = match digits {
        0 => false,
        // "0" is canonical, "-0" reads back as 0, "01" is not JSON.
        1 if leading_zero => !negative,
        _ => !leading_zero && digits <= 18,
    };
    // A fraction or exponent makes a float, whose text serde_json may write differently.
    if !valid || matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
        return false;
    }
    *position = end;
    true
}

/// [`find_raw`] for text that is already canonical (see [`is_canonical`]): the slice is then the
/// element's storage form. `None` when the text is not canonical (use the tree instead);
/// `Some(None)` when the element is missing or null.
pub fn find_canonical<'a>(
    text: &'a str,
    path: &[PathStep],
) -> Option<Option<std::borrow::Cow<'a, str>>> {
    is_canonical(text).then(|| find_raw(text, path))
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
    fn lazy_accessors_agree_with_the_tree() {
        let text = r#"{"a":1,"nested":{"deep":[true,{"x":"q\"uote"}],"n":null},"arr":[1, 2 ,3]}"#;
        let steps = |s: &[PathStep]| find_raw(text, s).map(|c| c.into_owned());
        let key = |k: &str| PathStep::Key(k.to_string());
        assert_eq!(steps(&[key("a")]).as_deref(), Some("1"));
        assert_eq!(
            steps(&[key("nested"), key("deep"), PathStep::Index(1)]).as_deref(),
            Some(r#"{"x":"q\"uote"}"#)
        );
        let quoted = steps(&[key("nested"), key("deep"), PathStep::Index(1), key("x")]);
        assert_eq!(
            quoted.as_deref().map(text_to_kusto_string).as_deref(),
            Some("q\"uote")
        );
        assert_eq!(steps(&[key("nested"), key("n")]), None);
        assert_eq!(
            steps(&[key("arr"), PathStep::Index(2)]).as_deref(),
            Some("3")
        );
        assert_eq!(
            steps(&[key("arr"), PathStep::Index(-1)]).as_deref(),
            Some("3")
        );
        assert_eq!(steps(&[key("arr"), PathStep::Index(3)]), None);
        assert_eq!(steps(&[key("a"), key("b")]), None);
        assert_eq!(steps(&[PathStep::Index(0)]), None);
        assert_eq!(text_array_length(r#"[1,[2,3],{"a":[]}]"#), Some(3));
        assert_eq!(text_array_length("{}"), None);
        assert_eq!(
            text_bag_keys(r#"{"b":1,"a":{"c":2}}"#)
                .map(|v| v.to_string())
                .as_deref(),
            Some(r#"["b","a"]"#)
        );
        assert_eq!(text_to_kusto_string("null"), "");
        assert_eq!(text_to_kusto_string("[1,2]"), "[1,2]");
        assert_eq!(find_raw("not json", &[key("a")]), None);
    }

    #[test]
    fn canonical_text_is_exactly_what_serde_json_writes_back() {
        let canonical = [
            r#"{"Id":"a03874f2","Name":"ServiceNow"}"#,
            r#"{"a":[1,-2,0,true,false,null,"x"],"b":{}}"#,
            r#"[[],{},"",[{"k":"v"}]]"#,
            r#""q\"uote\\ back\n\t\r\b\f ctl\u001f\u0000 é 😀""#,
            "123456789012345678",
            "-5",
            "0",
            "true",
            r#"{"a":1,"A":2}"#,
        ];
        for text in canonical {
            assert!(is_canonical(text), "{text}");
            let reserialised = parse_stored(text).map(|v| to_text(&v));
            assert_eq!(reserialised.as_deref(), Some(text), "{text}");
        }
        let not_canonical = [
            r#"{"a": 1}"#,
            " [1]",
            "[1] ",
            "1.5",
            "1.0",
            "1e3",
            "-0",
            "01",
            "1234567890123456789",
            r#""\/""#,
            r#""\u0041""#,
            r#""\u001F""#,
            r#""\u000a""#,
            r#"{"a":1,"a":2}"#,
            "{\"a\":\"raw\u{1}control\"}",
            "not json",
            "",
            "[1,]",
            "{\"a\"}",
            "nul",
            "truex",
            r#"{"a":1"#,
            r#""open"#,
        ];
        for text in not_canonical {
            assert!(!is_canonical(text), "{text}");
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(!is_canonical(&deep));
        let shallow = format!("{}{}", "[".repeat(10), "]".repeat(10));
        assert!(is_canonical(&shallow));
    }

    #[test]
    fn canonical_paths_agree_with_the_tree() {
        let key = |k: &str| PathStep::Key(k.to_string());
        let text = r#"{"Id":"x","Name":"ServiceNow","n":null,"arr":[1,{"d":"e\"f"}]}"#;
        let paths = [
            vec![key("Name")],
            vec![key("missing")],
            vec![key("n")],
            vec![key("arr"), PathStep::Index(1)],
            vec![key("arr"), PathStep::Index(-1), key("d")],
            vec![key("arr"), PathStep::Index(5)],
            vec![PathStep::Index(0)],
        ];
        let tree = parse_lenient(text);
        for path in &paths {
            let expected = get_path(&tree, path).map(to_text);
            let found = find_canonical(text, path).map(|f| f.map(|c| c.into_owned()));
            assert_eq!(found, Some(expected), "{path:?}");
        }
        // Text that is not canonical is left to the tree.
        assert_eq!(find_canonical(r#"{"Name": "x"}"#, &[key("Name")]), None);
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
