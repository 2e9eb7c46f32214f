//! String functions and Kusto's string operators.
//!
//! Operators (`=~`, `has`, `contains`, ...) are UDFs named after the operator, negated forms
//! with a leading `!` (`!has`, `!contains_cs`). Case-insensitive forms compare per character
//! with simple lower-casing, which is what Kusto does: `café =~ CAFÉ` is true,
//! `Straße =~ STRASSE` is false. `has` matches whole terms: a term is a maximal run of
//! alphanumeric characters (Unicode letters and digits; `_` and punctuation separate terms).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use regex::Regex;
use serde_json::Value;

use super::{Call, KustoScalar, returns};
use crate::error::EngineError;

fn lower(text: &str) -> Cow<'_, str> {
    if text
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().flat_map(char::to_lowercase).collect())
    }
}

/// Kusto's `=~`: per-character case-insensitive equality.
pub fn equals_ci(a: &str, b: &str) -> bool {
    // Two ASCII strings compare byte by byte; a non-ASCII character can lower to an ASCII one
    // (the Kelvin sign to `k`), so anything else takes the per-character path.
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `needle` occurs in `hay` with term boundaries at the requested ends. A boundary is
/// only required where the needle itself starts/ends with a term character.
fn find_bounded(hay: &str, needle: &str, at_start: bool, at_end: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let need_start = at_start && needle.chars().next().is_some_and(is_term_char);
    let need_end = at_end && needle.chars().next_back().is_some_and(is_term_char);
    let mut from = 0;
    while let Some(found) = hay[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        let start_ok = !need_start || !hay[..start].chars().next_back().is_some_and(is_term_char);
        let end_ok = !need_end || !hay[end..].chars().next().is_some_and(is_term_char);
        if start_ok && end_ok {
            return true;
        }
        from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Kusto's `has` (whole-term match), case-sensitive or not.
pub fn has(hay: &str, needle: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        find_bounded(hay, needle, true, true)
    } else {
        find_bounded(&lower(hay), &lower(needle), true, true)
    }
}

#[derive(Clone, Copy)]
enum StringOp {
    Equals,
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
}

fn apply(op: StringOp, hay: &str, needle: &str) -> bool {
    match op {
        StringOp::Equals => hay == needle,
        StringOp::Has => find_bounded(hay, needle, true, true),
        StringOp::HasPrefix => find_bounded(hay, needle, true, false),
        StringOp::HasSuffix => find_bounded(hay, needle, false, true),
        StringOp::Contains => hay.contains(needle),
        StringOp::StartsWith => hay.starts_with(needle),
        StringOp::EndsWith => hay.ends_with(needle),
    }
}

fn operator(name: &'static str, op: StringOp, case_sensitive: bool, negate: bool) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(2),
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let hays = call.strings(0);
            let needles = call.strings(1);
            let mut cached: Option<(String, String)> = None;
            let result: BooleanArray = hays
                .iter()
                .zip(needles.iter())
                .map(|(hay, needle)| {
                    let (hay, needle) = (hay.unwrap_or(""), needle.unwrap_or(""));
                    let matched = if case_sensitive {
                        apply(op, hay, needle)
                    } else if matches!(op, StringOp::Equals) {
                        equals_ci(hay, needle)
                    } else {
                        if cached.as_ref().is_none_or(|(raw, _)| raw != needle) {
                            cached = Some((needle.to_string(), lower(needle).into_owned()));
                        }
                        let lowered = cached.as_ref().map_or("", |(_, l)| l.as_str());
                        apply(op, &lower(hay), lowered)
                    };
                    Some(matched != negate)
                })
                .collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

/// The constant values of arguments `from..`: a dynamic array contributes its elements.
fn constant_list(call: &Call<'_>, from: usize) -> DFResult<Vec<String>> {
    let mut values = Vec::new();
    for index in from..call.args.len() {
        let text = call.constant_string(index, "the list of values")?;
        if call.types[index] == KustoType::Dynamic {
            match crate::dynamic::parse_lenient(&text) {
                Value::Array(items) => {
                    values.extend(items.iter().map(crate::dynamic::value_to_kusto_string))
                }
                other => values.push(crate::dynamic::value_to_kusto_string(&other)),
            }
        } else {
            values.push(text);
        }
    }
    Ok(values)
}

fn list_operator(
    name: &'static str,
    test: fn(&str, &[String]) -> bool,
    negate: bool,
) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        None,
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let hays = call.strings(0);
            let needles: Vec<String> = constant_list(call, 1)?
                .iter()
                .map(|n| lower(n).into_owned())
                .collect();
            let result: BooleanArray = hays
                .iter()
                .map(|hay| Some(test(&lower(hay.unwrap_or("")), &needles) != negate))
                .collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

fn constant_regex(call: &Call<'_>, index: usize) -> DFResult<Regex> {
    let pattern = call.constant_string(index, "the regular expression")?;
    Regex::new(&pattern).map_err(|err| {
        EngineError::InvalidArgument {
            name: call.name.to_string(),
            message: format!("invalid regular expression '{pattern}': {err}"),
        }
        .into()
    })
}

fn char_substring(text: &str, start: i64, length: Option<i64>) -> String {
    let count = text.chars().count() as i64;
    let start = if start < 0 { count + start } else { start };
    if start < 0 || start >= count {
        return String::new();
    }
    let length = length.unwrap_or(count).max(0);
    text.chars()
        .skip(start as usize)
        .take(length as usize)
        .collect()
}

fn long_at(array: &Int64Array, row: usize) -> Option<i64> {
    use arrow::array::Array;
    (!array.is_null(row)).then(|| array.value(row))
}

fn strings_result(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(values.into_iter().map(Some).collect::<StringArray>())
}

fn dynamic_result(values: impl IntoIterator<Item = Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

/// Kusto's rewrite syntax uses `\1` for groups; the regex crate uses `${1}` and `$$`.
fn rewrite_template(rewrite: &str) -> String {
    let mut out = String::with_capacity(rewrite.len() + 4);
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("${");
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
                out.push('}');
            }
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

fn indexof(text: &str, lookup: &str, start: i64, length: i64, occurrence: i64) -> i64 {
    let chars: Vec<char> = text.chars().collect();
    let needle: Vec<char> = lookup.chars().collect();
    let count = chars.len() as i64;
    let start = if start < 0 {
        (count + start).max(0)
    } else {
        start
    };
    if start > count {
        return -1;
    }
    let width = needle.len() as i64;
    // The whole lookup must fit in the window; an empty one matches at its start.
    let fits = |at: i64, end: i64| {
        at + width <= end && chars[at as usize..(at + width) as usize] == needle[..]
    };
    if width == 0 {
        return if occurrence >= 1 { start } else { -1 };
    }
    super::dynamic_fns::index_of_occurrence(count, start, length, occurrence, fits)
}

/// Kusto's `ipv4_is_private`: whether an address (or a whole `a.b.c.d/prefix` range) lies in
/// 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16; `None` for text that is not IPv4.
pub fn ipv4_is_private(text: &str) -> Option<bool> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (
            address,
            prefix.trim().parse::<u8>().ok().filter(|p| *p <= 32)?,
        ),
        None => (text, 32),
    };
    let address: std::net::Ipv4Addr = address.trim().parse().ok()?;
    let bits = u32::from(address);
    let private = [
        (0x0A00_0000_u32, 8_u8),
        (0xAC10_0000, 12),
        (0xC0A8_0000, 16),
    ];
    Some(private.iter().any(|&(network, length)| {
        prefix >= length
            && (bits >> (32 - u32::from(length))) == (network >> (32 - u32::from(length)))
    }))
}

/// Occurrences of `lookup` in `text`, overlapping ones included (`countof("aaaa", "aa")` is 3).
fn count_overlapping(text: &str, lookup: &str) -> i64 {
    if lookup.is_empty() {
        return 0;
    }
    let mut count = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(lookup) {
        count += 1;
        let start = from + found;
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    count
}

fn trim_kernel(start: bool, end: bool) -> super::Kernel {
    Arc::new(move |call| {
        let pattern = call.constant_string(0, "the regular expression")?;
        let compile = |p: String| {
            Regex::new(&p).map_err(|err| EngineError::InvalidArgument {
                name: call.name.to_string(),
                message: format!("invalid regular expression '{pattern}': {err}"),
            })
        };
        let leading = compile(format!("^(?:{pattern})"))?;
        let trailing = compile(format!("(?:{pattern})$"))?;
        let values = call.strings(1);
        Ok(strings_result(values.iter().map(|v| {
            let mut text = v.unwrap_or("");
            if start && let Some(m) = leading.find(text) {
                text = &text[m.end()..];
            }
            if end && let Some(m) = trailing.find(text) {
                text = &text[..m.start()];
            }
            text.to_string()
        })))
    })
}

pub(super) fn functions() -> Vec<KustoScalar> {
    let mut all = vec![
        KustoScalar::new(
            "strcat",
            1,
            Some(64),
            returns(KustoType::String),
            Arc::new(|call| {
                let parts: Vec<StringArray> =
                    (0..call.args.len()).map(|i| call.strings(i)).collect();
                Ok(strings_result((0..call.rows).map(|row| {
                    parts.iter().map(|p| p.value(row)).collect::<String>()
                })))
            }),
        ),
        KustoScalar::new(
            "strcat_array",
            2,
            Some(2),
            returns(KustoType::String),
            Arc::new(|call| {
                let arrays = call.strings(0);
                let delimiters = call.strings(1);
                Ok(strings_result(arrays.iter().zip(delimiters.iter()).map(
                    |(a, d)| {
                        match crate::dynamic::parse_lenient(a.unwrap_or("")) {
                            Value::Array(items) => items
                                .iter()
                                .map(crate::dynamic::value_to_kusto_string)
                                .collect::<Vec<_>>()
                                .join(d.unwrap_or("")),
                            _ => String::new(),
                        }
                    },
                )))
            }),
        ),
        KustoScalar::new(
            "strcmp",
            2,
            Some(2),
            returns(KustoType::Int),
            Arc::new(|call| {
                let (left, right) = (call.strings(0), call.strings(1));
                // Ordinal comparison, as the oracle shows ("MiXeD" sorts before "y").
                let order: Int64Array = left
                    .iter()
                    .zip(right.iter())
                    .map(|(a, b)| {
                        Some(match a.unwrap_or("").cmp(b.unwrap_or("")) {
                            std::cmp::Ordering::Less => -1,
                            std::cmp::Ordering::Equal => 0,
                            std::cmp::Ordering::Greater => 1,
                        })
                    })
                    .collect();
                Ok(Arc::new(order) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "strlen",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| {
                let values = call.strings(0);
                let lengths: Int64Array = values
                    .iter()
                    .map(|v| Some(v.unwrap_or("").chars().count() as i64))
                    .collect();
                Ok(Arc::new(lengths) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "substring",
            2,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let values = call.strings(0);
                let starts = call.longs(1)?;
                let lengths = if call.args.len() > 2 {
                    Some(call.longs(2)?)
                } else {
                    None
                };
                Ok(strings_result((0..call.rows).map(|row| {
                    let Some(start) = long_at(&starts, row) else {
                        return String::new();
                    };
                    let length = lengths.as_ref().and_then(|l| long_at(l, row));
                    char_substring(values.value(row), start, length)
                })))
            }),
        ),
        KustoScalar::new(
            "tolower",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                Ok(strings_result(
                    call.strings(0)
                        .iter()
                        .map(|v| v.unwrap_or("").to_lowercase()),
                ))
            }),
        ),
        KustoScalar::new(
            "toupper",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                Ok(strings_result(
                    call.strings(0)
                        .iter()
                        .map(|v| v.unwrap_or("").to_uppercase()),
                ))
            }),
        ),
        KustoScalar::new(
            "trim",
            2,
            Some(2),
            returns(KustoType::String),
            trim_kernel(true, true),
        ),
        KustoScalar::new(
            "trim_start",
            2,
            Some(2),
            returns(KustoType::String),
            trim_kernel(true, false),
        ),
        KustoScalar::new(
            "trim_end",
            2,
            Some(2),
            returns(KustoType::String),
            trim_kernel(false, true),
        ),
        KustoScalar::new(
            "split",
            2,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let values = call.strings(0);
                let delimiters = call.strings(1);
                let indexes = if call.args.len() > 2 {
                    Some(call.longs(2)?)
                } else {
                    None
                };
                Ok(dynamic_result((0..call.rows).map(|row| {
                    let (text, delimiter) = (values.value(row), delimiters.value(row));
                    let parts: Vec<&str> = if delimiter.is_empty() {
                        vec![text]
                    } else {
                        text.split(delimiter).collect()
                    };
                    match &indexes {
                        None => Some(Value::from(parts)),
                        Some(indexes) => {
                            let index = long_at(indexes, row)?;
                            let part = parts.get(usize::try_from(index).ok()?)?;
                            Some(Value::from(vec![*part]))
                        }
                    }
                })))
            }),
        ),
        KustoScalar::new(
            "extract",
            3,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let regex = constant_regex(call, 0)?;
                let groups = call.longs(1)?;
                let values = call.strings(2);
                Ok(strings_result((0..call.rows).map(|row| {
                    let group = long_at(&groups, row).and_then(|g| usize::try_from(g).ok());
                    group
                        .and_then(|g| regex.captures(values.value(row))?.get(g))
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default()
                })))
            }),
        ),
        KustoScalar::new(
            "extract_all",
            2,
            Some(3),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let regex = constant_regex(call, 0)?;
                let wanted: Option<Vec<usize>> = if call.args.len() == 3 {
                    let text = call.constant_string(1, "the capture group list")?;
                    let groups = crate::dynamic::parse_lenient(&text);
                    Some(
                        groups
                            .as_array()
                            .map(|items| {
                                // Groups are chosen by number or by name (`(?P<first>...)`).
                                items
                                    .iter()
                                    .filter_map(|v| match v {
                                        Value::String(name) => regex
                                            .capture_names()
                                            .position(|n| n == Some(name.as_str())),
                                        other => other.as_u64().map(|v| v as usize),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    )
                } else {
                    None
                };
                let values = call.strings(call.args.len() - 1);
                let group_count = regex.captures_len() - 1;
                Ok(dynamic_result(values.iter().map(|text| {
                    let text = text.unwrap_or("");
                    let groups: Vec<usize> = match &wanted {
                        Some(list) => list.clone(),
                        None if group_count == 0 => vec![0],
                        None => (1..=group_count).collect(),
                    };
                    let matches: Vec<Value> = regex
                        .captures_iter(text)
                        .map(|caps| {
                            let mut cells: Vec<Value> = groups
                                .iter()
                                .map(|&g| Value::from(caps.get(g).map_or("", |m| m.as_str())))
                                .collect();
                            if cells.len() == 1 {
                                cells.remove(0)
                            } else {
                                Value::Array(cells)
                            }
                        })
                        .collect();
                    (!matches.is_empty()).then_some(Value::Array(matches))
                })))
            }),
        ),
        KustoScalar::new(
            "replace_string",
            3,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let (values, lookups, rewrites) =
                    (call.strings(0), call.strings(1), call.strings(2));
                Ok(strings_result((0..call.rows).map(|row| {
                    let lookup = lookups.value(row);
                    if lookup.is_empty() {
                        values.value(row).to_string()
                    } else {
                        values.value(row).replace(lookup, rewrites.value(row))
                    }
                })))
            }),
        ),
        KustoScalar::new(
            "replace_regex",
            3,
            Some(3),
            returns(KustoType::String),
            regex_replace_kernel(1, 2, 0),
        ),
        KustoScalar::new(
            "indexof",
            2,
            Some(5),
            returns(KustoType::Long),
            Arc::new(|call| {
                let (values, lookups) = (call.strings(0), call.strings(1));
                let optional = |index: usize, default: i64| -> DFResult<Vec<i64>> {
                    if call.args.len() > index {
                        Ok(call
                            .longs(index)?
                            .iter()
                            .map(|v| v.unwrap_or(default))
                            .collect())
                    } else {
                        Ok(vec![default; call.rows])
                    }
                };
                let (starts, lengths, occurrences) =
                    (optional(2, 0)?, optional(3, -1)?, optional(4, 1)?);
                let result: Int64Array = (0..call.rows)
                    .map(|row| {
                        Some(indexof(
                            values.value(row),
                            lookups.value(row),
                            starts[row],
                            lengths[row],
                            occurrences[row],
                        ))
                    })
                    .collect();
                Ok(Arc::new(result) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "strcat_delim",
            3,
            Some(65),
            returns(KustoType::String),
            Arc::new(|call| {
                let delimiters = call.strings(0);
                let parts: Vec<StringArray> =
                    (1..call.args.len()).map(|i| call.strings(i)).collect();
                Ok(strings_result((0..call.rows).map(|row| {
                    let values: Vec<&str> = parts.iter().map(|p| p.value(row)).collect();
                    values.join(delimiters.value(row))
                })))
            }),
        ),
        KustoScalar::new(
            "countof",
            2,
            Some(3),
            returns(KustoType::Long),
            Arc::new(|call| {
                let (values, lookups) = (call.strings(0), call.strings(1));
                let kind = if call.args.len() > 2 {
                    call.constant_string(2, "the kind (\"normal\" or \"regex\")")?
                } else {
                    "normal".to_string()
                };
                let counts: Int64Array = match kind.as_str() {
                    "regex" => {
                        let regex = constant_regex(call, 1)?;
                        values
                            .iter()
                            .map(|v| Some(regex.find_iter(v.unwrap_or("")).count() as i64))
                            .collect()
                    }
                    "normal" => (0..call.rows)
                        .map(|row| Some(count_overlapping(values.value(row), lookups.value(row))))
                        .collect(),
                    other => {
                        return Err(EngineError::InvalidArgument {
                            name: call.name.to_string(),
                            message: format!(
                                "kind must be \"normal\" or \"regex\", got \"{other}\""
                            ),
                        }
                        .into());
                    }
                };
                Ok(Arc::new(counts) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "reverse",
            1,
            Some(1),
            returns(KustoType::String),
            Arc::new(|call| {
                Ok(strings_result(
                    call.strings(0)
                        .iter()
                        .map(|v| v.unwrap_or("").chars().rev().collect()),
                ))
            }),
        ),
        KustoScalar::new(
            "string_size",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| {
                let sizes: Int64Array = call
                    .strings(0)
                    .iter()
                    .map(|v| Some(v.unwrap_or("").len() as i64))
                    .collect();
                Ok(Arc::new(sizes) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "strrep",
            2,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let values = call.strings(0);
                let counts = call.longs(1)?;
                let delimiters = if call.args.len() > 2 {
                    Some(call.strings(2))
                } else {
                    None
                };
                Ok(strings_result((0..call.rows).map(|row| {
                    let times = long_at(&counts, row).unwrap_or(0).clamp(0, 1 << 20) as usize;
                    let delimiter = delimiters.as_ref().map_or("", |d| d.value(row));
                    vec![values.value(row); times].join(delimiter)
                })))
            }),
        ),
        KustoScalar::new(
            "matches regex",
            2,
            Some(2),
            returns(KustoType::Bool),
            Arc::new(|call| {
                let regex = constant_regex(call, 1)?;
                let values = call.strings(0);
                let result: BooleanArray = values
                    .iter()
                    .map(|v| Some(regex.is_match(v.unwrap_or(""))))
                    .collect();
                Ok(Arc::new(result) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            // Deprecated `replace(regex, rewrite, text)`: replace_regex with another order.
            "replace",
            3,
            Some(3),
            returns(KustoType::String),
            regex_replace_kernel(0, 1, 2),
        ),
        KustoScalar::new(
            "ipv4_is_private",
            1,
            Some(1),
            returns(KustoType::Bool),
            Arc::new(|call| {
                let values = call.strings(0);
                let result: BooleanArray = values
                    .iter()
                    .map(|v| ipv4_is_private(v.unwrap_or("")))
                    .collect();
                Ok(Arc::new(result) as ArrayRef)
            }),
        ),
        list_operator(
            "has_any",
            |hay, needles| needles.iter().any(|n| find_bounded(hay, n, true, true)),
            false,
        ),
        list_operator(
            "has_all",
            |hay, needles| needles.iter().all(|n| find_bounded(hay, n, true, true)),
            false,
        ),
        list_operator(
            "in~",
            |hay, needles| needles.iter().any(|n| equals_ci(hay, n)),
            false,
        ),
        list_operator(
            "!in~",
            |hay, needles| needles.iter().any(|n| equals_ci(hay, n)),
            true,
        ),
    ];
    let ops: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        StringOp,
    ); 7] = [
        ("==", "!=", "=~", "!~", StringOp::Equals),
        ("has_cs", "!has_cs", "has", "!has", StringOp::Has),
        (
            "hasprefix_cs",
            "!hasprefix_cs",
            "hasprefix",
            "!hasprefix",
            StringOp::HasPrefix,
        ),
        (
            "hassuffix_cs",
            "!hassuffix_cs",
            "hassuffix",
            "!hassuffix",
            StringOp::HasSuffix,
        ),
        (
            "contains_cs",
            "!contains_cs",
            "contains",
            "!contains",
            StringOp::Contains,
        ),
        (
            "startswith_cs",
            "!startswith_cs",
            "startswith",
            "!startswith",
            StringOp::StartsWith,
        ),
        (
            "endswith_cs",
            "!endswith_cs",
            "endswith",
            "!endswith",
            StringOp::EndsWith,
        ),
    ];
    for (cs, not_cs, ci, not_ci, op) in ops {
        if cs != "==" {
            all.push(operator(cs, op, true, false));
            all.push(operator(not_cs, op, true, true));
        }
        all.push(operator(ci, op, false, false));
        all.push(operator(not_ci, op, false, true));
    }
    all
}

/// `replace_regex(text, regex, rewrite)` and the deprecated `replace(regex, rewrite, text)`: the
/// same kernel with the arguments at different positions.
fn regex_replace_kernel(regex_at: usize, rewrite_at: usize, text_at: usize) -> super::Kernel {
    Arc::new(move |call| {
        let regex = constant_regex(call, regex_at)?;
        let template = rewrite_template(&call.constant_string(rewrite_at, "the rewrite pattern")?);
        let values = call.strings(text_at);
        Ok(strings_result(values.iter().map(|v| {
            regex
                .replace_all(v.unwrap_or(""), template.as_str())
                .into_owned()
        })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::test_support::{call as kcall, eval, eval_on, lit_str};
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn case_insensitive_equality_is_per_character_on_both_paths() {
        assert!(equals_ci("Failure", "FAILURE"));
        assert!(!equals_ci("Failure", "Failures"));
        assert!(!equals_ci("a@b", "A`B"), "only letters fold");
        // Non-ASCII on either side: Unicode lowering per character.
        assert!(equals_ci("CAFÉ", "café"));
        assert!(
            equals_ci("\u{212A}elvin", "kelvin"),
            "the Kelvin sign lowers to k"
        );
        assert!(!equals_ci("Straße", "STRASSE"), "no full case folding");
    }

    async fn filter(op: &str, values: &[&str], needle: &str) -> Vec<String> {
        let column: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let flags = eval_on(
            vec![("s", KustoType::String, column)],
            kcall(op, vec![col("s"), lit_str(needle)]),
        )
        .await;
        values
            .iter()
            .zip(flags)
            .filter(|(_, f)| f == "True")
            .map(|(v, _)| v.to_string())
            .collect()
    }

    #[tokio::test]
    async fn has_matches_whole_terms_like_the_oracle() {
        let rows = [
            "hello world",
            "helloworld",
            "hello-world",
            "HELLO",
            "hi.world",
            "world hello",
            "a hello b",
        ];
        assert_eq!(
            filter("has", &rows, "hello").await,
            [
                "hello world",
                "hello-world",
                "HELLO",
                "world hello",
                "a hello b"
            ]
        );
        assert_eq!(
            filter("!has", &["hello world", "helloworld"], "hello").await,
            ["helloworld"]
        );
        let versions = ["version=1.2.3", "v1.2.3", "1.2.3-rc", "1_2_3"];
        assert_eq!(
            filter("has", &versions, "2.3").await,
            ["version=1.2.3", "v1.2.3", "1.2.3-rc"]
        );
        assert_eq!(filter("has", &["1_2_3"], "1").await, ["1_2_3"]);
        assert_eq!(
            filter("has", &["naïve", "naive", "NAÏVE"], "naïve").await,
            ["naïve", "NAÏVE"]
        );
        assert_eq!(filter("has", &["a b", "a\tb", "ab"], " ").await, ["a b"]);
        assert_eq!(filter("!has", &["", "x"], "").await, Vec::<String>::new());
        assert_eq!(
            filter("has_cs", &["Hello", "hello"], "hello").await,
            ["hello"]
        );
    }

    #[tokio::test]
    async fn prefix_suffix_contains_and_equality() {
        let words = ["cat", "category", "scatter", "cats", "a cat"];
        assert_eq!(
            filter("hasprefix", &words, "CAT").await,
            ["cat", "category", "cats", "a cat"]
        );
        assert_eq!(filter("contains", &words, "CAT").await, words);
        assert_eq!(
            filter("contains_cs", &words, "CAT").await,
            Vec::<String>::new()
        );
        let ends = ["end.", "end ", "end", "ending", "the end"];
        assert_eq!(
            filter("hassuffix", &ends, "end").await,
            ["end.", "end ", "end", "the end"]
        );
        assert_eq!(filter("endswith", &ends, "END").await, ["end", "the end"]);
        assert_eq!(
            filter("startswith_cs", &ends, "end").await,
            ["end.", "end ", "end", "ending"]
        );
        assert_eq!(
            filter("=~", &["café", "cafe", "CAFÉ", "Café"], "café").await,
            ["café", "CAFÉ", "Café"]
        );
        assert_eq!(
            filter("=~", &["Straße", "strasse", "STRASSE", "straße"], "straße").await,
            ["Straße", "straße"]
        );
        assert_eq!(filter("!~", &["A", "b"], "a").await, ["b"]);
    }

    #[tokio::test]
    async fn list_operators_take_values_and_dynamic_arrays() {
        let column: ArrayRef = Arc::new(StringArray::from(vec!["alpha", "Beta", "café", ""]));
        let cols = || vec![("s", KustoType::String, Arc::clone(&column))];
        let any = kcall("has_any", vec![col("s"), lit_str("alpha"), lit_str("beta")]);
        assert_eq!(
            eval_on(cols(), any).await,
            ["True", "True", "False", "False"]
        );
        let list = kcall("parse_json", vec![lit_str(r#"["CAFÉ","x"]"#)]);
        assert_eq!(
            eval_on(cols(), kcall("in~", vec![col("s"), list.clone()])).await,
            ["False", "False", "True", "False"]
        );
        assert_eq!(
            eval_on(cols(), kcall("!in~", vec![col("s"), list])).await,
            ["True", "True", "False", "True"]
        );
        let all = kcall(
            "has_all",
            vec![lit_str("a b c"), lit_str("a"), lit_str("c")],
        );
        assert_eq!(crate::scalar::test_support::eval_expr(all).await, ["True"]);
    }

    #[tokio::test]
    async fn substring_strlen_and_indexof() {
        let column: ArrayRef = Arc::new(StringArray::from(vec!["hello", "😀😀", ""]));
        let cols = || vec![("s", KustoType::String, Arc::clone(&column))];
        assert_eq!(
            eval_on(cols(), kcall("strlen", vec![col("s")])).await,
            ["5", "2", "0"]
        );
        assert_eq!(
            eval_on(
                cols(),
                kcall("substring", vec![col("s"), lit(-2_i64), lit(2_i64)])
            )
            .await,
            ["lo", "😀😀", ""]
        );
        assert_eq!(
            eval_on(
                cols(),
                kcall("substring", vec![col("s"), lit(-100_i64), lit(3_i64)])
            )
            .await,
            ["", "", ""]
        );
        assert_eq!(
            eval_on(cols(), kcall("substring", vec![col("s"), lit(1_i64)])).await,
            ["ello", "😀", ""]
        );
        assert_eq!(
            eval(
                "indexof",
                vec![lit_str("abcabcabc"), lit_str("a"), lit(2_i64)]
            )
            .await,
            ["3"]
        );
        assert_eq!(
            eval("indexof", vec![lit_str("xyz"), lit_str("a")]).await,
            ["-1"]
        );
        assert_eq!(
            eval(
                "indexof",
                vec![
                    lit_str("abcabc"),
                    lit_str("b"),
                    lit(0_i64),
                    lit(-1_i64),
                    lit(2_i64)
                ]
            )
            .await,
            ["4"]
        );
    }

    #[test]
    fn indexof_windows_match_the_docs() {
        let cases = [
            ("abcdefg", 1, 4, 1, 2),
            ("abcdefg", 1, 2, 1, -1),
            ("abcdefg", 3, 4, 1, -1),
            ("abcdefg", -5, -1, 1, 2),
            ("abcdefgabcdefg", 1, 10, 2, 9),
            ("abcdefgabcdefg", 1, -1, 3, -1),
        ];
        for (text, start, length, occurrence, expected) in cases {
            assert_eq!(
                indexof(text, "cde", start, length, occurrence),
                expected,
                "{text} {start} {length} {occurrence}"
            );
        }
    }

    #[tokio::test]
    async fn regex_functions_match_the_oracle() {
        assert_eq!(
            eval("trim", vec![lit_str("x"), lit_str("xxabcxx")]).await,
            ["xabcx"]
        );
        assert_eq!(
            eval("trim_start", vec![lit_str("x"), lit_str("xxabcxx")]).await,
            ["xabcxx"]
        );
        assert_eq!(
            eval("trim_end", vec![lit_str("_"), lit_str("__world__")]).await,
            ["__world_"]
        );
        assert_eq!(
            eval(
                "replace_regex",
                vec![lit_str("a-b-c"), lit_str(r"(\w+)"), lit_str(r"[\1]")]
            )
            .await,
            ["[a]-[b]-[c]"]
        );
        assert_eq!(
            eval(
                "replace_regex",
                vec![lit_str("wordword"), lit_str(r"(\w)(\w)"), lit_str(r"\2\1")]
            )
            .await,
            ["owdrowdr"]
        );
        // The deprecated spelling takes the text last.
        assert_eq!(
            eval(
                "replace",
                vec![lit_str(r"(\w+)"), lit_str(r"[\1]"), lit_str("a-b-c")]
            )
            .await,
            ["[a]-[b]-[c]"]
        );
        assert_eq!(
            eval(
                "replace_string",
                vec![lit_str("one two"), lit_str(" "), lit_str("_")]
            )
            .await,
            ["one_two"]
        );
        assert_eq!(
            eval(
                "extract",
                vec![lit_str(r"key:.?(\w+)"), lit(1_i64), lit_str("key:val")]
            )
            .await,
            ["al"]
        );
        assert_eq!(
            eval(
                "extract",
                vec![lit_str(r"<([a-z]+)"), lit(1_i64), lit_str("plain")]
            )
            .await,
            [""]
        );
        assert_eq!(
            eval(
                "extract_all",
                vec![lit_str(r"<(/?[a-z]+)"), lit_str("<tag>text</tag>")]
            )
            .await,
            [r#"["tag","/tag"]"#]
        );
        assert_eq!(
            eval(
                "extract_all",
                vec![lit_str(r"<(/?[a-z]+)"), lit_str("plain")]
            )
            .await,
            ["null"]
        );
        assert_eq!(
            eval(
                "extract_all",
                vec![lit_str(r"(\w)=(\d)"), lit_str("a=1 b=2")]
            )
            .await,
            [r#"[["a","1"],["b","2"]]"#]
        );
        assert_eq!(
            eval(
                "extract_all",
                vec![
                    lit_str(r"(?P<first>\w)(?P<middle>\w+)(?P<last>\w)"),
                    kcall("parse_json", vec![lit_str(r#"["first",2,"last"]"#)]),
                    lit_str("82b8be2d-dfa7"),
                ]
            )
            .await,
            [r#"[["8","2b8be2","d"],["d","fa","7"]]"#]
        );
        let err = crate::scalar::test_support::try_eval_expr(kcall(
            "extract",
            vec![lit_str("("), lit(1_i64), lit_str("x")],
        ))
        .await;
        assert!(
            err.err()
                .unwrap_or_default()
                .contains("invalid regular expression '('")
        );
    }

    #[tokio::test]
    async fn matches_regex_replace_and_private_addresses() {
        let rows = ["a1b2c3", "abc", "123", "a1", "9z9"];
        assert_eq!(
            filter("matches regex", &rows, "[a-z][0-9]").await,
            ["a1b2c3", "a1", "9z9"]
        );
        assert_eq!(
            filter("matches regex", &["\u{a0}nbsp", "plain"], r"\s").await,
            ["\u{a0}nbsp"]
        );
        assert_eq!(
            eval(
                "replace",
                vec![lit_str(r"(\w+)"), lit_str(r"[\1]"), lit_str("a-b")]
            )
            .await,
            ["[a]-[b]"]
        );
        for (ip, expected) in [
            ("192.168.1.1/24", Some(true)),
            ("10.1.2.3/24", Some(true)),
            ("202.1.2.3", Some(false)),
            ("127.0.0.1", Some(false)),
            ("172.31.255.255", Some(true)),
            ("172.32.0.1", Some(false)),
            ("10.0.0.0/7", Some(false)),
            ("not an ip", None),
        ] {
            assert_eq!(ipv4_is_private(ip), expected, "{ip}");
        }
    }

    #[tokio::test]
    async fn string_view_columns_work_like_utf8() {
        use crate::scalar::test_support::eval_on_view;
        let has = kcall("has", vec![col("s"), lit_str("hello")]);
        assert_eq!(
            eval_on_view(vec!["Hello world", "helloworld"], KustoType::String, has).await,
            ["True", "False"]
        );
        let path = kcall("dynamic_path", vec![col("s"), lit_str("a")]);
        assert_eq!(
            eval_on_view(vec![r#"{"a":[1]}"#, "null"], KustoType::Dynamic, path).await,
            ["[1]", "null"]
        );
        let text = kcall("tostring", vec![col("s")]);
        assert_eq!(
            eval_on_view(vec![r#""x""#, "{}"], KustoType::Dynamic, text).await,
            ["x", "{}"]
        );
    }

    #[tokio::test]
    async fn countof_reverse_strrep_and_strcat_delim() {
        assert_eq!(
            eval("countof", vec![lit_str("aaaa"), lit_str("aa")]).await,
            ["3"]
        );
        assert_eq!(
            eval(
                "countof",
                vec![lit_str("aaaa"), lit_str("aa"), lit_str("regex")]
            )
            .await,
            ["2"]
        );
        assert_eq!(
            eval("countof", vec![lit_str(r"double\\slash"), lit_str(r"\\")]).await,
            ["1"]
        );
        assert_eq!(eval("reverse", vec![lit_str("Hello")]).await, ["olleH"]);
        assert_eq!(eval("string_size", vec![lit_str("😀😀")]).await, ["8"]);
        assert_eq!(
            eval("strrep", vec![lit_str("ab"), lit(3_i64), lit_str(",")]).await,
            ["ab,ab,ab"]
        );
        let delim = eval(
            "strcat_delim",
            vec![lit_str(":"), lit_str("World"), lit(5_i64), lit_str("WORLD")],
        )
        .await;
        assert_eq!(delim, ["World:5:WORLD"]);
        let bad = kcall(
            "countof",
            vec![lit_str("a"), lit_str("a"), lit_str("fuzzy")],
        );
        let err = crate::scalar::test_support::try_eval_expr(bad)
            .await
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("kind must be \"normal\" or \"regex\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn split_strcat_and_case() {
        assert_eq!(
            eval("split", vec![lit_str("a,,b"), lit_str(",")]).await,
            [r#"["a","","b"]"#]
        );
        assert_eq!(
            eval("split", vec![lit_str("a=b=c"), lit_str("="), lit(1_i64)]).await,
            [r#"["b"]"#]
        );
        assert_eq!(
            eval("split", vec![lit_str("noequals"), lit_str("="), lit(1_i64)]).await,
            ["null"]
        );
        assert_eq!(
            eval(
                "strcat",
                vec![lit_str("a"), lit(1_i64), lit(1.5_f64), lit(true)]
            )
            .await,
            ["a11.5True"]
        );
        let arr = kcall("parse_json", vec![lit_str(r#"["a",1,true]"#)]);
        assert_eq!(
            eval("strcat_array", vec![arr, lit_str("-")]).await,
            ["a-1-true"]
        );
        assert_eq!(eval("toupper", vec![lit_str("café")]).await, ["CAFÉ"]);
        assert_eq!(eval("tolower", vec![lit_str("HeLLo")]).await, ["hello"]);
    }

    #[tokio::test]
    async fn strcmp_compares_ordinally() {
        for (a, b, expected) in [("MiXeD", "y", "-1"), ("where", "kw", "1"), ("", "", "0")] {
            assert_eq!(
                eval("strcmp", vec![lit_str(a), lit_str(b)]).await,
                [expected],
                "{a} {b}"
            );
        }
    }
}
