//! `parse_xml(text)`: XML as a dynamic value, with the conversion Kusto documents:
//!
//! * `<e/>` is `{"e": null}` and `<e>text</e>` is `{"e": "text"}`;
//! * attributes are members named `@name`, namespace declarations `@xmlns` / `@xmlns:p`;
//! * text next to attributes or child elements is the member `#text`;
//! * child elements are members by name, and repeated ones an array in document order
//!   (`<Data Name="a">1</Data><Data Name="b">2</Data>` is `"Data": [{...}, {...}]`).
//!
//! Text that is not well-formed XML gives null. Whitespace-only text between elements,
//! comments and processing instructions are dropped.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use goshawk_types::KustoType;
use roxmltree::{Document, Node};
use serde_json::{Map, Value};

use super::{KustoScalar, returns};
use crate::format::string_value;

/// `prefix:local` when the element or attribute's namespace has a prefix in scope.
fn qualified(node: Node<'_, '_>, local: &str, namespace: Option<&str>) -> String {
    match namespace.and_then(|uri| node.lookup_prefix(uri)) {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}:{local}"),
        _ => local.to_string(),
    }
}

/// Adds `value` under `key`, turning a repeated key into an array.
fn add_member(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            map.insert(key, value);
        }
    }
}

fn element_json(node: Node<'_, '_>) -> Value {
    let mut map = Map::new();
    let inherited: Vec<(Option<String>, String)> = node
        .parent_element()
        .map(|p| {
            p.namespaces()
                .map(|ns| (ns.name().map(str::to_string), ns.uri().to_string()))
                .collect()
        })
        .unwrap_or_default();
    for ns in node.namespaces() {
        let declared = (ns.name().map(str::to_string), ns.uri().to_string());
        if inherited.contains(&declared) || ns.name() == Some("xml") {
            continue;
        }
        let key = match ns.name() {
            Some(prefix) => format!("@xmlns:{prefix}"),
            None => "@xmlns".to_string(),
        };
        map.insert(key, Value::from(ns.uri()));
    }
    for attribute in node.attributes() {
        let name = qualified(node, attribute.name(), attribute.namespace());
        map.insert(format!("@{name}"), Value::from(attribute.value()));
    }
    let mut text: Option<String> = None;
    let mut has_children = false;
    for child in node.children() {
        if child.is_element() {
            has_children = true;
            let tag = child.tag_name();
            add_member(
                &mut map,
                qualified(child, tag.name(), tag.namespace()),
                element_json(child),
            );
        } else if child.is_text() {
            let piece = child.text().unwrap_or_default();
            if piece.trim().is_empty() {
                continue;
            }
            match &mut text {
                Some(all) => all.push_str(piece),
                None => {
                    text = Some(piece.to_string());
                    // Kept in document order among the members; filled in below.
                    map.insert("#text".to_string(), Value::Null);
                }
            }
        }
    }
    if map.len() == usize::from(text.is_some()) && !has_children {
        // No attributes and no children: the element is its text (or null).
        return text.map_or(Value::Null, Value::String);
    }
    if let Some(text) = text {
        map.insert("#text".to_string(), Value::String(text));
    }
    Value::Object(map)
}

/// The dynamic value of an XML document; `None` if it is not well-formed.
pub fn parse_xml(text: &str) -> Option<Value> {
    let document = Document::parse(text).ok()?;
    let root = document.root_element();
    let tag = root.tag_name();
    let mut map = Map::new();
    map.insert(
        qualified(root, tag.name(), tag.namespace()),
        element_json(root),
    );
    Some(Value::Object(map))
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![KustoScalar::new(
        "parse_xml",
        1,
        Some(1),
        returns(KustoType::Dynamic),
        Arc::new(|call| {
            let texts = call.strings(0);
            let values: StringArray = (0..call.rows)
                .map(|row| Some(parse_xml(string_value(&texts, row)?)?.to_string()))
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )]
}

#[cfg(test)]
mod tests {
    use super::parse_xml;

    fn json(text: &str) -> String {
        parse_xml(text).map_or_else(|| "null".to_string(), |v| v.to_string())
    }

    #[test]
    fn the_documented_conversions() {
        assert_eq!(json("<e/>"), r#"{"e":null}"#);
        assert_eq!(json("<e>text</e>"), r#"{"e":"text"}"#);
        assert_eq!(json(r#"<e name="value" />"#), r#"{"e":{"@name":"value"}}"#);
        assert_eq!(
            json(r#"<e name="value">text</e>"#),
            r##"{"e":{"@name":"value","#text":"text"}}"##
        );
        assert_eq!(
            json("<e> <a>text</a> <b>text</b> </e>"),
            r#"{"e":{"a":"text","b":"text"}}"#
        );
        assert_eq!(
            json("<e><a>text</a><a>text</a></e>"),
            r#"{"e":{"a":["text","text"]}}"#
        );
        assert_eq!(
            json("<e>text<a>text</a></e>"),
            r##"{"e":{"#text":"text","a":"text"}}"##
        );
        assert_eq!(json("<e><unclosed></e>"), "null");
    }

    #[test]
    fn windows_event_data() {
        let event = r#"<?xml version="1.0" encoding="UTF-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System><EventID>4624</EventID></System>
  <EventData>
    <Data Name="TargetUserName">alice</Data>
    <Data Name="LogonType">3</Data>
  </EventData>
</Event>"#;
        assert_eq!(
            json(event),
            r##"{"Event":{"@xmlns":"http://schemas.microsoft.com/win/2004/08/events/event","System":{"EventID":"4624"},"EventData":{"Data":[{"@Name":"TargetUserName","#text":"alice"},{"@Name":"LogonType","#text":"3"}]}}}"##
        );
    }
}
