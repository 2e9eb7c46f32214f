//! The fast path for the most common input: one well-formed envelope per file
//! (`{"records":[{...},{...}]}`: an Event Hub message, a storage `PT1H.json` blob), held in
//! memory. The records are cut out of the text in place, without the streaming scanner's
//! byte-by-byte state machine and copies.
//!
//! Anything unusual (other members before the array, elements that are not objects, a stray
//! comma, text after the envelope, a record over the size limit) makes [`split`] decline, and
//! the caller uses the streaming scanner instead. So the records, and their lines and offsets,
//! are always the ones the scanner would find: an element is cut at the same bytes because both
//! track strings and nesting the same way, and an element that does not parse as JSON (where
//! the two could differ) also sends the file to the scanner, before anything was stored.

use memchr::memchr3;

use crate::jsonparse;
use crate::jsonref::JsonRef;

/// A record of the envelope: where it starts in the text (0-based byte offset, 1-based line)
/// and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub line: u64,
    pub offset: u64,
    pub bytes: &'a [u8],
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The elements of `text`, parsed, when it is exactly `{"records":[` objects `]}` (or
/// `"value"`, as a Graph page without paging members), surrounded by whitespace only; `None`
/// otherwise, and when an element is not valid JSON. No element is longer than `max_record`.
pub fn split(text: &[u8], max_record: usize) -> Option<Vec<(Element<'_>, JsonRef<'_>)>> {
    // Valid UTF-8 once for the whole text rather than record by record.
    let whole = std::str::from_utf8(text).ok()?;
    let mut i = skip_space(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_space(text, i + 1);
    let key_end = [&b"\"records\""[..], &b"\"value\""[..]]
        .iter()
        .find(|key| text[i..].starts_with(key))
        .map(|key| i + key.len())?;
    i = skip_space(text, key_end);
    if text.get(i) != Some(&b':') {
        return None;
    }
    i = skip_space(text, i + 1);
    if text.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_space(text, i + 1);
    let mut elements = Vec::new();
    // Lines are counted incrementally: `line` is the line of byte `counted`.
    let (mut line, mut counted) = (1u64, 0usize);
    if text.get(i) != Some(&b']') {
        loop {
            if text.get(i) != Some(&b'{') {
                return None;
            }
            // The record is parsed where it lies, which also finds its end; whatever the fast
            // parser declines goes to serde_json.
            let (value, end) = match jsonparse::parse_at(whole, i) {
                Some(parsed) => parsed,
                None => {
                    let end = object_end(text, i)?;
                    (serde_json::from_slice(&text[i..end]).ok()?, end)
                }
            };
            if end - i > max_record {
                return None;
            }
            line += memchr::memchr_iter(b'\n', &text[counted..i]).count() as u64;
            counted = i;
            let element = Element {
                line,
                offset: i as u64,
                bytes: &text[i..end],
            };
            elements.push((element, value));
            i = skip_space(text, end);
            match text.get(i) {
                Some(b',') => i = skip_space(text, i + 1),
                Some(b']') => break,
                _ => return None,
            }
        }
    }
    i = skip_space(text, i + 1);
    if text.get(i) != Some(&b'}') {
        return None;
    }
    (skip_space(text, i + 1) == text.len()).then_some(elements)
}

/// The end (exclusive) of the object or array that starts at `start`, by nesting depth outside
/// strings; `None` if the text ends first or a string holds a raw line break (which the
/// scanner reports as a truncated line).
fn object_end(text: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < text.len() {
        match text[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => i = string_end(text, i + 1)?,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string whose text starts at `i`.
fn string_end(text: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let at = i + memchr3(b'"', b'\\', b'\n', &text[i..])?;
        match text[at] {
            b'"' => return Some(at),
            b'\n' => return None,
            _ => {}
        }
        // A backslash escapes the next byte, whatever it is.
        i = at + 2;
        if i > text.len() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{JsonScanner, ScanItem};

    /// The records and positions the streaming scanner finds.
    fn scanned(text: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
        JsonScanner::new(text, 1 << 20, 1 << 10)
            .map(|item| match item.unwrap() {
                ScanItem::Record {
                    line,
                    offset,
                    bytes,
                } => (line, offset, bytes),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn same_as_scanner(text: &str) {
        let split: Vec<_> = split(text.as_bytes(), 1 << 20)
            .unwrap_or_else(|| panic!("declined: {text}"))
            .into_iter()
            .map(|(e, _)| (e.line, e.offset, e.bytes.to_vec()))
            .collect();
        assert_eq!(split, scanned(text.as_bytes()), "{text}");
    }

    #[test]
    fn records_and_positions_match_the_scanner() {
        same_as_scanner(r#"{"records":[{"a":1},{"b":"x}\"{"},{"c":[{"d":"\\"}]}]}"#);
        same_as_scanner(
            "\n {\n \"records\" : [\n  {\"a\": \"}\"},\n\n  {\"b\": [1, {}]}\n ]\n}\n\n",
        );
        same_as_scanner(r#"{"value":[{"id":"1"}]}"#);
        same_as_scanner(r#"{"records":[]}"#);
        same_as_scanner("{\"records\":[{\"k\":\"caf\u{e9} \\u00e9\"}]}");
    }

    #[test]
    fn anything_unusual_is_declined() {
        for text in [
            r#"{"@odata.context":"x","value":[{"a":1}]}"#,
            r#"{"records":[{"a":1}],"next":"x"}"#,
            r#"{"records":[{"a":1},,{"b":2}]}"#,
            r#"{"records":[{"a":1},[1]]}"#,
            r#"{"records":[{"a":1},2]}"#,
            r#"{"records":[{"a":1}]} {"records":[]}"#,
            r#"{"records":[{"a":1}]"#,
            r#"{"records":[{"a":"x"#,
            "{\"records\":[{\"a\":\"line\nbreak\"}]}",
            r#"[{"records":[{"a":1}]}]"#,
            r#"{"records":{"a":1}}"#,
            "",
        ] {
            assert_eq!(split(text.as_bytes(), 1 << 20), None, "{text}");
        }
        assert_eq!(split(br#"{"records":[{"a":12345}]}"#, 8), None);
    }
}
