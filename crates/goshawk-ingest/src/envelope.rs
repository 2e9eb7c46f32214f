//! The fast path for the most common input: one well-formed envelope per file
//! (`{"records":[{...},{...}]}`: an Event Hub message, a storage `PT1H.json` blob), held in
//! memory. The records are parsed where they lie in the text, without the streaming scanner's
//! byte-by-byte state machine and copies, and handed over one by one.
//!
//! Anything unusual (other members before the array, elements that are not objects, a stray
//! comma, text after the envelope, a record over the size limit or not valid JSON) makes
//! [`split`] stop, and the caller reads the file with the streaming scanner instead, skipping
//! the records it was handed already. Those are always the first records the scanner finds, at
//! the same lines and offsets: an element is cut at the same bytes because both track strings
//! and nesting the same way.

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

/// Hands each element of `text` to `each`, parsed, as long as `text` is exactly
/// `{"records":[` objects `]}` (or `"value"`, as a Graph page without paging members),
/// surrounded by whitespace only, every element is valid JSON and none is longer than
/// `max_record`. Returns whether all of `text` was such an envelope; when it was not, the
/// elements handed over so far are the first records the streaming scanner finds in `text`.
///
/// Each record is stored while its tree is still in the cache: parsing every record of a
/// message first and mapping them afterwards took a fifth longer.
pub fn split<'t, E>(
    text: &'t [u8],
    max_record: usize,
    mut each: impl FnMut(Element<'t>, JsonRef<'t>) -> Result<(), E>,
) -> Result<bool, E> {
    // Valid UTF-8 once for the whole text rather than record by record.
    let Ok(whole) = std::str::from_utf8(text) else {
        return Ok(false);
    };
    let mut i = skip_space(text, 0);
    if text.get(i) != Some(&b'{') {
        return Ok(false);
    }
    i = skip_space(text, i + 1);
    let key_end = [&b"\"records\""[..], &b"\"value\""[..]]
        .iter()
        .find(|key| text[i..].starts_with(key))
        .map(|key| i + key.len());
    let Some(key_end) = key_end else {
        return Ok(false);
    };
    i = skip_space(text, key_end);
    if text.get(i) != Some(&b':') {
        return Ok(false);
    }
    i = skip_space(text, i + 1);
    if text.get(i) != Some(&b'[') {
        return Ok(false);
    }
    i = skip_space(text, i + 1);
    // Lines are counted incrementally: `line` is the line of byte `counted`.
    let (mut line, mut counted) = (1u64, 0usize);
    if text.get(i) != Some(&b']') {
        loop {
            if text.get(i) != Some(&b'{') {
                return Ok(false);
            }
            // The record is parsed where it lies, which also finds its end; whatever the fast
            // parser declines goes to serde_json.
            let (value, end) = match jsonparse::parse_at(whole, i) {
                Some(parsed) => parsed,
                None => {
                    let parsed = object_end(text, i)
                        .and_then(|end| Some((serde_json::from_slice(&text[i..end]).ok()?, end)));
                    let Some(parsed) = parsed else {
                        return Ok(false);
                    };
                    parsed
                }
            };
            if end - i > max_record {
                return Ok(false);
            }
            line += memchr::memchr_iter(b'\n', &text[counted..i]).count() as u64;
            counted = i;
            let element = Element {
                line,
                offset: i as u64,
                bytes: &text[i..end],
            };
            each(element, value)?;
            i = skip_space(text, end);
            match text.get(i) {
                Some(b',') => i = skip_space(text, i + 1),
                Some(b']') => break,
                _ => return Ok(false),
            }
        }
    }
    i = skip_space(text, i + 1);
    if text.get(i) != Some(&b'}') {
        return Ok(false);
    }
    Ok(skip_space(text, i + 1) == text.len())
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

    /// The first `count` records the streaming scanner finds, with their positions.
    fn scanned(text: &[u8], count: usize) -> Vec<(u64, u64, Vec<u8>)> {
        JsonScanner::new(text, 1 << 20, 1 << 10)
            .take(count)
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

    /// The elements `split` hands over, and whether it took the whole text.
    fn split_all(text: &[u8], max_record: usize) -> (Vec<(u64, u64, Vec<u8>)>, bool) {
        let mut elements = Vec::new();
        let whole = split(text, max_record, |e, value| {
            assert_eq!(JsonRef::parse(e.bytes).unwrap(), value);
            elements.push((e.line, e.offset, e.bytes.to_vec()));
            Ok::<(), ()>(())
        })
        .unwrap();
        (elements, whole)
    }

    fn same_as_scanner(text: &str) {
        let (split, whole) = split_all(text.as_bytes(), 1 << 20);
        assert!(whole, "declined: {text}");
        assert_eq!(split, scanned(text.as_bytes(), usize::MAX), "{text}");
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
            let (elements, whole) = split_all(text.as_bytes(), 1 << 20);
            assert!(!whole, "{text}");
            // What was handed over before the text stopped being an envelope is what the
            // scanner finds first.
            assert_eq!(elements, scanned(text.as_bytes(), elements.len()), "{text}");
        }
        assert!(!split_all(br#"{"records":[{"a":12345}]}"#, 8).1);
    }
}
