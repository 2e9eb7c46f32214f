//! The fast path of [`JsonRef::parse`]: a JSON parser written for the records of Azure log
//! exports, which also notes, for every object, whether its source text is already the compact
//! text serde_json would write for it. Such an object is later stored by copying its source
//! text instead of walking the tree to write it again (claims, authorization and properties are
//! most of an Activity record's bytes).
//!
//! It accepts only what it is sure of and gives up (returns `None`) on everything else:
//! invalid JSON, a repeated member name, floats and integers outside 64 bits (parsed by
//! serde_json so that the value is exactly serde_json's), nesting deeper than
//! [`MAX_DEPTH`], lone surrogates. The caller then parses the record with serde_json, which
//! gives the same tree or the error message with its line and column.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Number;

use crate::jsonref::{JsonRef, ObjectRef};

/// Below serde_json's recursion limit (128), so that deeper input gets serde_json's error.
const MAX_DEPTH: usize = 100;

/// Past this many members, repeated names are found with a hash set instead of a linear scan.
const LINEAR_LOOKUP_MEMBERS: usize = 32;

pub(crate) fn parse(bytes: &[u8]) -> Option<JsonRef<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = skip_whitespace(bytes, 0);
    let (value, end) = parse_at(text, start)?;
    (skip_whitespace(bytes, end) == bytes.len()).then_some(value)
}

/// The value that starts at byte `start` of `text` and the index just after it, whatever
/// follows it.
pub(crate) fn parse_at(text: &str, start: usize) -> Option<(JsonRef<'_>, usize)> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: start,
        depth: 0,
    };
    let mut value = JsonRef::Null;
    parser.value_into(&mut value)?;
    Some((value, parser.pos))
}

fn skip_whitespace(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// Skips JSON whitespace; whether there was any.
    fn skip_whitespace(&mut self) -> bool {
        let start = self.pos;
        self.pos = skip_whitespace(self.bytes, start);
        self.pos > start
    }

    /// Parses a value into `slot` (its place in the parent's vector: a value returned through
    /// every level was copied on the stack at each, a visible share of the parse time); returns
    /// whether its text is what serde_json would write for it.
    fn value_into(&mut self, slot: &mut JsonRef<'a>) -> Option<bool> {
        let (value, canonical) = match *self.bytes.get(self.pos)? {
            b'{' => return self.object_into(slot),
            b'[' => return self.array_into(slot),
            b'"' => {
                let (text, canonical) = self.string()?;
                (JsonRef::Str(text), canonical)
            }
            b't' => (self.literal("true", JsonRef::Bool(true))?, true),
            b'f' => (self.literal("false", JsonRef::Bool(false))?, true),
            b'n' => (self.literal("null", JsonRef::Null)?, true),
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        *slot = value;
        Some(canonical)
    }

    fn literal(&mut self, word: &str, value: JsonRef<'a>) -> Option<JsonRef<'a>> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Some(value)
        } else {
            None
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn object_into(&mut self, slot: &mut JsonRef<'a>) -> Option<bool> {
        self.enter()?;
        let start = self.pos;
        self.pos += 1;
        let mut canonical = !self.skip_whitespace();
        // Most objects of a record have a handful to a dozen members.
        let mut entries: Vec<(Cow<'a, str>, JsonRef<'a>)> = Vec::with_capacity(8);
        let mut names: Option<HashSet<Cow<'a, str>, ahash::RandomState>> = None;
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.bytes.get(self.pos) != Some(&b'"') {
                    return None;
                }
                let (key, key_canonical) = self.string()?;
                canonical &= key_canonical & !self.skip_whitespace();
                if self.bytes.get(self.pos) != Some(&b':') {
                    return None;
                }
                self.pos += 1;
                canonical &= !self.skip_whitespace();
                // A repeated name: serde_json's merging rules apply, so serde_json parses it.
                match &mut names {
                    Some(names) => {
                        if !names.insert(key.clone()) {
                            return None;
                        }
                    }
                    None => {
                        if entries.iter().any(|(k, _)| *k == key) {
                            return None;
                        }
                        if entries.len() >= LINEAR_LOOKUP_MEMBERS {
                            let mut set: HashSet<_, _> =
                                entries.iter().map(|(k, _)| k.clone()).collect();
                            set.insert(key.clone());
                            names = Some(set);
                        }
                    }
                }
                entries.push((key, JsonRef::Null));
                let slot = &mut entries.last_mut()?.1;
                let value_canonical = self.value_into(slot)?;
                canonical &= value_canonical & !self.skip_whitespace();
                if !self.next_or_close(b'}', &mut canonical)? {
                    break;
                }
            }
        }
        self.depth -= 1;
        let raw = canonical.then(|| &self.text[start..self.pos]);
        *slot = JsonRef::Object(ObjectRef::from_parts(entries, raw));
        Some(canonical)
    }

    /// After a member or an element: a comma (another one follows: `true`) or the closing
    /// bracket (`false`).
    fn next_or_close(&mut self, close: u8, canonical: &mut bool) -> Option<bool> {
        match *self.bytes.get(self.pos)? {
            b',' => {
                self.pos += 1;
                *canonical &= !self.skip_whitespace();
                Some(true)
            }
            byte if byte == close => {
                self.pos += 1;
                Some(false)
            }
            _ => None,
        }
    }

    fn array_into(&mut self, slot: &mut JsonRef<'a>) -> Option<bool> {
        self.enter()?;
        self.pos += 1;
        let mut canonical = !self.skip_whitespace();
        let mut items = Vec::new();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
        } else {
            loop {
                items.push(JsonRef::Null);
                let item_canonical = self.value_into(items.last_mut()?)?;
                canonical &= item_canonical & !self.skip_whitespace();
                if !self.next_or_close(b']', &mut canonical)? {
                    break;
                }
            }
        }
        self.depth -= 1;
        *slot = JsonRef::Array(items);
        Some(canonical)
    }

    /// A string at the opening quote: borrowed when it has no escapes.
    fn string(&mut self) -> Option<(Cow<'a, str>, bool)> {
        let start = self.pos + 1;
        let end = find_special(self.bytes, start);
        match *self.bytes.get(end)? {
            b'"' => {
                self.pos = end + 1;
                Some((Cow::Borrowed(&self.text[start..end]), true))
            }
            b'\\' => self.escaped_string(start, end),
            // A raw control character: invalid JSON.
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `escape`.
    fn escaped_string(&mut self, start: usize, mut escape: usize) -> Option<(Cow<'a, str>, bool)> {
        let mut out = String::with_capacity(escape - start + 16);
        out.push_str(&self.text[start..escape]);
        let mut canonical = true;
        loop {
            // self.bytes[escape] is a backslash.
            let code = *self.bytes.get(escape + 1)?;
            let mut next = escape + 2;
            match code {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => {
                    out.push('/');
                    canonical = false;
                }
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let unit = hex4(self.bytes.get(next..next + 4)?)?;
                    next += 4;
                    let c = match unit {
                        0xD800..=0xDBFF => {
                            if self.bytes.get(next..next + 2)? != b"\\u" {
                                return None;
                            }
                            let low = hex4(self.bytes.get(next + 2..next + 6)?)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return None;
                            }
                            next += 6;
                            canonical = false;
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => {
                            // serde_json writes `\u00xx` in lower case for the control characters
                            // without a short form, and every other character as itself.
                            let written = &self.bytes[escape + 2..escape + 6];
                            canonical &= unit < 0x20
                                && !matches!(unit, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
                                && !written.iter().any(u8::is_ascii_uppercase);
                            char::from_u32(unit)?
                        }
                    };
                    out.push(c);
                }
                _ => return None,
            }
            let end = find_special(self.bytes, next);
            out.push_str(self.text.get(next..end)?);
            match *self.bytes.get(end)? {
                b'"' => {
                    self.pos = end + 1;
                    return Some((Cow::Owned(out), canonical));
                }
                b'\\' => escape = end,
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<(JsonRef<'a>, bool)> {
        let start = self.pos;
        let negative = self.bytes[start] == b'-';
        let digits_start = start + usize::from(negative);
        let mut end = digits_start;
        while self.bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let digits = &self.bytes[digits_start..end];
        let integer = !matches!(self.bytes.get(end), Some(b'.' | b'e' | b'E'));
        let plain = integer
            && !digits.is_empty()
            && (digits[0] != b'0' || digits.len() == 1)
            && !(negative && digits == b"0");
        if plain && let Some(magnitude) = parse_u64(digits) {
            let number = if !negative {
                Some(Number::from(magnitude))
            } else if magnitude <= 1 << 63 {
                Some(Number::from(0i64.wrapping_sub_unsigned(magnitude)))
            } else {
                None
            };
            if let Some(number) = number {
                self.pos = end;
                return Some((JsonRef::Number(number), true));
            }
        }
        // Floats, big integers, -0: serde_json's own number parsing, so that the value is the
        // same to the last bit; serde_json may write them differently from the source.
        while self
            .bytes
            .get(end)
            .is_some_and(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            end += 1;
        }
        let token = &self.text[start..end];
        let value = match serde_json::from_str::<serde_json::Value>(token).ok()? {
            serde_json::Value::Number(number) => JsonRef::Number(number),
            serde_json::Value::Null => JsonRef::Null,
            _ => return None,
        };
        self.pos = end;
        Some((value, false))
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn hex4(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |n, d| Some(n * 16 + char::from(*d).to_digit(16)?))
}

/// The index of the first `"`, `\` or control character at or after `from` (or the length).
fn find_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    fn has_zero(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGH
    }
    let mut i = from;
    // Eight bytes at a time: strings are mostly plain, many tens of bytes long.
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let special = has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            // Bytes below 0x20 (the high bit of a byte >= 0x80 is masked by `!word`).
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if special != 0 {
            // The lowest flagged byte is always a true match (a false positive can only follow
            // one, through the borrow), and the word is little-endian.
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The fast parser, where it accepts `text`, gives serde_json's tree and serde_json's
    /// compact text; returns whether it accepted.
    fn agrees_with_serde(text: &str) -> bool {
        let fast = parse(text.as_bytes());
        let serde: serde_json::Result<Value> = serde_json::from_str(text);
        match (fast, serde) {
            (Some(fast), Ok(value)) => {
                assert_eq!(
                    fast.to_json_text(),
                    serde_json::to_string(&value).unwrap(),
                    "{text}"
                );
                assert_eq!(fast.into_value(), value, "{text}");
                true
            }
            (Some(fast), Err(err)) => panic!("accepted invalid JSON {text:?} ({err}): {fast:?}"),
            (None, _) => false,
        }
    }

    #[test]
    fn records_parse_like_serde_json() {
        for text in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-12,"g":""}"#,
            r#"{"time":"2026-05-01T07:08:47.1719583Z","identity":{"claims":{"http://x/upn":"u@c.com"}}}"#,
            r#" { "a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] } "#,
            r#"{"quote":"a\"b\\c\/d\n\t\u0001\u001F\u00e9\ud83d\ude00"}"#,
            r#"[18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809]"#,
            r#"[0,-0,0.0,-0.0,1e3,1E-7,2.5,-1.5e300,123456789012345678901234]"#,
            "\"\u{7f}\u{e9}\u{10348}\"",
            r#"{"":{"":[[[[]]]]}}"#,
            "true",
            "null",
        ] {
            assert!(agrees_with_serde(text), "declined {text}");
        }
    }

    #[test]
    fn declines_what_it_cannot_be_sure_of() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1"#,
            r#"{"a":1} x"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"b"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ude00"}"#,
            r#"{"a":1e400}"#,
            r#"{a:1}"#,
            r#"[1,]"#,
            r#"{"a":1,}"#,
            "",
        ] {
            assert!(!agrees_with_serde(text), "accepted {text}");
        }
        assert!(parse(b"{\"a\":\"\xff\"}").is_none());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!agrees_with_serde(&deep));
        let shallow = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(agrees_with_serde(&shallow));
    }

    #[test]
    fn keeps_source_text_only_where_it_is_serde_jsons() {
        let raw_of = |text: &str| match parse(text.as_bytes()) {
            Some(value @ JsonRef::Object(_)) => value.compact_source().map(str::to_string),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            raw_of(r#"{"a":[1,"x"]}"#).as_deref(),
            Some(r#"{"a":[1,"x"]}"#)
        );
        assert_eq!(
            raw_of(r#"{"a":"\"\\\n\u0001"}"#).as_deref(),
            Some(r#"{"a":"\"\\\n\u0001"}"#)
        );
        for text in [
            r#"{"a": 1}"#,
            r#"{"a":[1, 2]}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"a":"\u001F"}"#,
            r#"{"a":"\u000a"}"#,
            r#"{"a":1.5}"#,
            r#"{"a":{"b":1e2}}"#,
            r#"{"\u0062":1}"#,
        ] {
            assert_eq!(raw_of(text), None, "{text}");
            assert!(agrees_with_serde(text));
        }
    }

    /// Random documents with the whitespace, escapes, numbers and repeated names real exports
    /// have, and single-byte corruptions of them.
    #[test]
    fn random_documents_agree_with_serde_json() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        const ATOMS: &[&str] = &[
            "0",
            "-1",
            "42",
            "1.25",
            "-3e5",
            "18446744073709551615",
            "99999999999999999999",
            "true",
            "false",
            "null",
            "\"\"",
            "\"plain\"",
            "\"a\\\"b\"",
            "\"\\u00e9\\/\"",
            "\"\\ud83d\\ude00\"",
            "\"tab\\tnew\\nline\"",
            "\"\\u0000\"",
            "\"é😀\"",
        ];
        const KEYS: &[&str] = &["a", "b", "claims", "http://x/y", "k\\\"q", "\\u0061"];
        fn document(next: &mut impl FnMut(u64) -> u64, depth: u32, out: &mut String) {
            let space = |next: &mut dyn FnMut(u64) -> u64, out: &mut String| {
                if next(6) == 0 {
                    out.push_str([" ", "\n", "\t ", "\r\n"][next(4) as usize]);
                }
            };
            match if depth > 4 { 2 } else { next(3) } {
                0 => {
                    out.push('{');
                    let members = next(6);
                    for i in 0..members {
                        if i > 0 {
                            out.push(',');
                        }
                        space(next, out);
                        out.push('"');
                        out.push_str(KEYS[next(KEYS.len() as u64) as usize]);
                        out.push('"');
                        space(next, out);
                        out.push(':');
                        document(next, depth + 1, out);
                    }
                    space(next, out);
                    out.push('}');
                }
                1 => {
                    out.push('[');
                    for i in 0..next(5) {
                        if i > 0 {
                            out.push(',');
                        }
                        document(next, depth + 1, out);
                    }
                    out.push(']');
                }
                _ => out.push_str(ATOMS[next(ATOMS.len() as u64) as usize]),
            }
            space(next, out);
        }
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            document(&mut next, 0, &mut text);
            accepted += usize::from(agrees_with_serde(&text));
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let at = next(bytes.len() as u64) as usize;
                let corruptions = b"{}[],:\"\\ -.e0x";
                bytes[at] = corruptions[next(corruptions.len() as u64) as usize];
                if let Ok(corrupt) = String::from_utf8(bytes) {
                    agrees_with_serde(&corrupt);
                }
            }
        }
        // Most documents have no repeated name, and those the parser takes itself.
        assert!(accepted > 10_000, "{accepted}");
    }
}
