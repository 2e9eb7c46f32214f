//! A JSON tree that borrows its strings from the input text.
//!
//! Parsing a record into `serde_json::Value` allocates a `String` per key and per string value
//! and an index map per object; for the 1 to 3 kB Azure Activity records of an Event Hub export
//! that was the largest single cost of ingesting (a fifth of the CPU time in malloc and free).
//! [`JsonRef`] keeps strings without escapes as slices of the record and objects as plain
//! vectors. It reproduces `Value`'s semantics exactly where the mapping can observe them: a
//! repeated member name keeps its first position and its last value, [`ObjectRef::remove`]
//! perturbs the order like `serde_json::Map::remove` under the workspace's `preserve_order`
//! feature (swap-remove), and serialisation gives the same compact text as `Value`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum JsonRef<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<JsonRef<'a>>),
    Object(ObjectRef<'a>),
}

/// Members in source order; a repeated name was merged into its first position on parsing.
#[derive(Debug, Clone, Default)]
pub struct ObjectRef<'a> {
    entries: Vec<(Cow<'a, str>, JsonRef<'a>)>,
    /// The object's source text, when it is exactly its compact JSON text (see `jsonparse`)
    /// and the object has not been changed since.
    raw: Option<&'a str>,
}

impl PartialEq for ObjectRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// Past this many members, repeated names are found with a hash map instead of a linear scan,
/// so that a hostile record with a huge object costs linear time.
const LINEAR_LOOKUP_MEMBERS: usize = 32;

impl<'a> JsonRef<'a> {
    pub fn parse(bytes: &'a [u8]) -> serde_json::Result<Self> {
        match crate::jsonparse::parse(bytes) {
            Some(value) => Ok(value),
            // Whatever the fast parser is not sure of, and every error message.
            None => serde_json::from_slice(bytes),
        }
    }

    /// The equivalent `serde_json::Value`, for the mapping code that works on values.
    pub fn into_value(self) -> Value {
        match self {
            JsonRef::Null => Value::Null,
            JsonRef::Bool(b) => Value::Bool(b),
            JsonRef::Number(n) => Value::Number(n),
            JsonRef::Str(s) => Value::String(s.into_owned()),
            JsonRef::Array(items) => {
                Value::Array(items.into_iter().map(Self::into_value).collect())
            }
            JsonRef::Object(object) => Value::Object(object.into_map()),
        }
    }

    /// Compact JSON text, byte for byte what `serde_json::to_string` writes for the `Value`.
    pub fn to_json_text(&self) -> String {
        let mut text = String::new();
        self.write_json_text(&mut text);
        text
    }

    /// Appends the compact JSON text (as [`Self::to_json_text`]) to `out`. Written by hand
    /// rather than through `serde_json::to_writer` because that writes bytes, which the
    /// column builders then validate as UTF-8 again, and escapes strings byte by byte even
    /// though nearly all of them need no escape at all.
    pub fn write_json_text(&self, out: &mut String) {
        match self {
            JsonRef::Null => out.push_str("null"),
            JsonRef::Bool(true) => out.push_str("true"),
            JsonRef::Bool(false) => out.push_str("false"),
            // serde_json's `Display` for numbers uses the same itoa / zmij formatting as its
            // serialiser (numbers parsed from JSON are finite).
            JsonRef::Number(n) => {
                use std::fmt::Write as _;
                // Writing into a String cannot fail.
                let _ = write!(out, "{n}");
            }
            JsonRef::Str(s) => write_json_string(s, out),
            JsonRef::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json_text(out);
                }
                out.push(']');
            }
            JsonRef::Object(ObjectRef { raw: Some(raw), .. }) => out.push_str(raw),
            JsonRef::Object(object) => {
                out.push('{');
                for (i, (key, value)) in object.entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(key, out);
                    out.push(':');
                    value.write_json_text(out);
                }
                out.push('}');
            }
        }
    }

    /// The value's source text, when it is an object whose source text is its compact JSON
    /// text (what [`Self::write_json_text`] writes).
    pub fn compact_source(&self) -> Option<&'a str> {
        match self {
            JsonRef::Object(object) => object.raw,
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string, when it is a slice of the input (it had no escapes).
    pub fn as_borrowed_str(&self) -> Option<&'a str> {
        match self {
            JsonRef::Str(Cow::Borrowed(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_container(&self) -> bool {
        matches!(self, JsonRef::Array(_) | JsonRef::Object(_))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JsonRef::Null => "null",
            JsonRef::Bool(_) => "a boolean",
            JsonRef::Number(_) => "a number",
            JsonRef::Str(_) => "a string",
            JsonRef::Array(_) => "an array",
            JsonRef::Object(_) => "an object",
        }
    }
}

/// Whether a byte must be escaped in a JSON string: `"`, `\\` and the control characters.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// A JSON string literal escaped exactly like serde_json's compact formatter: `\"`, `\\`,
/// the short forms `\b \f \n \r \t`, `\u00xx` (lower-case hex) for the other control
/// characters, everything else (including `/`, DEL and non-ASCII) as is.
pub(crate) fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    // Checked 32 bytes at a time without an early exit, which the compiler vectorises: almost
    // every string needs no escape and is copied whole.
    let bytes = text.as_bytes();
    let clean = bytes.chunks(32).all(|chunk| {
        !chunk
            .iter()
            .fold(false, |found, &b| found | needs_escape(b))
    });
    if clean {
        out.push_str(text);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut start = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            if !needs_escape(byte) {
                continue;
            }
            // `i` is at an ASCII byte, so on a character boundary.
            out.push_str(&text[start..i]);
            match byte {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                _ => {
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 0xf)]));
                }
            }
            start = i + 1;
        }
        out.push_str(&text[start..]);
    }
    out.push('"');
}

impl fmt::Display for JsonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_text())
    }
}

impl<'a> ObjectRef<'a> {
    pub(crate) fn from_parts(
        entries: Vec<(Cow<'a, str>, JsonRef<'a>)>,
        raw: Option<&'a str>,
    ) -> Self {
        ObjectRef { entries, raw }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&JsonRef<'a>> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes a member the way `serde_json::Map::remove` does with `preserve_order`: the last
    /// member takes the removed one's place.
    pub fn remove(&mut self, key: &str) -> Option<JsonRef<'a>> {
        let i = self.position(key)?;
        self.raw = None;
        Some(self.entries.swap_remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn into_entries(self) -> Vec<(Cow<'a, str>, JsonRef<'a>)> {
        self.entries
    }

    pub fn into_map(self) -> Map<String, Value> {
        let mut map = Map::new();
        for (key, value) in self.entries {
            map.insert(key.into_owned(), value.into_value());
        }
        map
    }
}

impl<'de> Deserialize<'de> for JsonRef<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonRefVisitor)
    }
}

struct JsonRefVisitor;

impl<'de> Visitor<'de> for JsonRefVisitor {
    type Value = JsonRef<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonRef::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonRef::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JsonRef::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // As serde_json's own Value: a float JSON cannot hold becomes null.
        Ok(Number::from_f64(v).map_or(JsonRef::Null, JsonRef::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonRef::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(JsonRef::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonRef::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, JsonRef<'de>)> = Vec::new();
        let mut index: Option<HashMap<Cow<'de, str>, usize, ahash::RandomState>> = None;
        while let Some(key) = access.next_key_seed(KeySeed)? {
            let value: JsonRef<'de> = access.next_value()?;
            let existing = match &mut index {
                Some(index) => index.get(key.as_ref()).copied(),
                None => entries.iter().position(|(k, _)| *k == key),
            };
            match existing {
                // serde_json's Value (an index map) keeps a repeated member's first position
                // and its last value.
                Some(i) => entries[i].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), entries.len());
                    }
                    entries.push((key, value));
                    if index.is_none() && entries.len() > LINEAR_LOOKUP_MEMBERS {
                        index = Some(
                            entries
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(JsonRef::Object(ObjectRef { entries, raw: None }))
    }
}

/// A member name, borrowed from the input unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_value(text: &str) {
        let value: Value = serde_json::from_str(text).unwrap();
        let borrowed = JsonRef::parse(text.as_bytes()).unwrap();
        assert_eq!(
            borrowed.to_json_text(),
            serde_json::to_string(&value).unwrap(),
            "{text}"
        );
        assert_eq!(borrowed.into_value(), value, "{text}");
    }

    #[test]
    fn serialises_like_serde_json_values() {
        same_as_value(
            r#"{"b":1,"a":[true,null,-2,3.5,1e3,18446744073709551615],"c":{"z":"x\"y\u00e9\u0001"}}"#,
        );
        same_as_value(r#"  [ {"k" : "v\/w"} , "\ud83d\ude00" ]  "#);
        // Every escape serde_json writes, before and after the 32-byte blocks of the clean check.
        same_as_value(
            r#"["\b\f\n\r\t\u0000\u001f\u007f\"\\ ä","0123456789abcdef0123456789abcdef0123456789\u000bend"]"#,
        );
        same_as_value(r#"{"\n key":[-0,-0.0,0.1,1.5e300,-12,1E-7,123456789012345678901234]}"#);
        // A repeated member keeps its first position and its last value, as in Value.
        same_as_value(r#"{"a":1,"b":2,"a":3}"#);
        let many: Vec<String> = (0..100).map(|i| format!("\"k{}\":{i}", i % 70)).collect();
        same_as_value(&format!("{{{}}}", many.join(",")));
    }

    #[test]
    fn remove_perturbs_order_like_serde_json_map() {
        let text = r#"{"a":1,"b":2,"c":3,"d":4}"#;
        let mut map: Map<String, Value> = serde_json::from_str(text).unwrap();
        let JsonRef::Object(mut object) = JsonRef::parse(text.as_bytes()).unwrap() else {
            panic!("an object")
        };
        for key in ["b", "x", "a"] {
            assert_eq!(map.remove(key), object.remove(key).map(JsonRef::into_value));
        }
        assert_eq!(object.into_map(), map);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"c":3,"d":4}"#,
            "the workspace builds serde_json with preserve_order"
        );
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(JsonRef::parse(b"{\"a\":").is_err());
        assert!(JsonRef::parse(b"{\"a\":1} x").is_err());
    }
}
