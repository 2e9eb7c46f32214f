//! `parse-kv text as (key:type, ...) [with (pair_delimiter=..., kv_delimiter=..., quote=...,
//! escape=...)]`: one column per key with the value of the first pair naming it.
//!
//! With delimiters the text is split into pairs and each pair into key and value, outside
//! quotes. Without them each key is found in the text followed by `:` or `=`, and its value
//! runs to the next key (or is the quoted string that follows).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use datafusion::logical_expr::Expr;
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, ColumnDecl, ExprKind, OperatorParam};
use goshawk_types::KustoType;

use super::expr::convert_to;
use super::literal::{kusto_type_of_scalar, typed_lit};
use super::{Env, PlanResult, Planner, Tab, Typed, col, error, unsupported};
use crate::catalog::KustoColumn;
use crate::scalar::{KustoScalar, returns};

/// How pairs are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvFormat {
    /// `None`: no delimiters given, keys are located in the text.
    pub delimiters: Option<(String, String)>,
    /// (open, close) quote characters.
    pub quotes: Vec<(char, char)>,
    pub escape: Option<char>,
}

/// Splits `text` at `delimiter` outside quotes.
fn split_outside_quotes<'t>(text: &'t str, delimiter: &str, format: &KvFormat) -> Vec<&'t str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut closing: Option<char> = None;
    let mut escaped = false;
    let mut index = 0;
    while index < text.len() {
        let Some(c) = text[index..].chars().next() else {
            break;
        };
        if let Some(close) = closing {
            if escaped {
                escaped = false;
            } else if Some(c) == format.escape {
                escaped = true;
            } else if c == close {
                closing = None;
            }
        } else if let Some(&(_, close)) = format.quotes.iter().find(|(open, _)| *open == c) {
            closing = Some(close);
        } else if text[index..].starts_with(delimiter) {
            parts.push(&text[start..index]);
            index += delimiter.len();
            start = index;
            continue;
        }
        index += c.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

/// The byte offset of the first `needle` at or after `from` outside quotes.
fn find_outside_quotes(text: &str, needle: &str, from: usize, format: &KvFormat) -> Option<usize> {
    let parts = split_outside_quotes(&text[from..], needle, format);
    (parts.len() > 1).then(|| from + parts[0].len())
}

/// The (key, value) pairs of `text`: a key is the last word (per `pair`) before a `kv`, its
/// value runs from after the `kv` (spaces skipped) to the next `pair` outside quotes.
fn delimited_pairs(text: &str, pair: &str, kv: &str, format: &KvFormat) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut position = 0;
    while let Some(kv_at) = find_outside_quotes(text, kv, position, format) {
        let key_region = text[position..kv_at].trim_end();
        let key = split_outside_quotes(key_region, pair, format)
            .last()
            .map(|k| unquote(k, format))
            .unwrap_or_default();
        let after = kv_at + kv.len();
        let value_start = after + (text[after..].len() - text[after..].trim_start().len());
        let value_end = match text[value_start..].chars().next() {
            Some(first) if format.quotes.iter().any(|(open, _)| *open == first) => {
                let quoted = split_outside_quotes(&text[value_start..], pair, format);
                value_start + quoted[0].len()
            }
            _ => find_outside_quotes(text, pair, value_start, format).unwrap_or(text.len()),
        };
        pairs.push((key, unquote(&text[value_start..value_end], format)));
        if value_end <= position {
            break;
        }
        position = value_end;
    }
    pairs
}

/// A key or value without its quotes (escapes resolved), or trimmed as it is.
fn unquote(text: &str, format: &KvFormat) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    if let Some(first) = chars.next()
        && let Some(&(_, close)) = format.quotes.iter().find(|(open, _)| *open == first)
    {
        let mut out = String::new();
        let mut escaped = false;
        for c in chars {
            if escaped {
                out.push(c);
                escaped = false;
            } else if Some(c) == format.escape {
                escaped = true;
            } else if c == close {
                return out;
            } else {
                out.push(c);
            }
        }
        return out;
    }
    text.to_string()
}

/// The value of `key` in `text`.
pub(crate) fn kv_value(
    text: &str,
    key: &str,
    keys: &[String],
    format: &KvFormat,
) -> Option<String> {
    match &format.delimiters {
        Some((pair, kv)) => delimited_pairs(text, pair, kv, format)
            .into_iter()
            .find_map(|(name, value)| (name == key).then_some(value)),
        None => {
            let start = value_start(text, key)?;
            let end = keys
                .iter()
                .filter_map(|other| key_start_after(text, other, start))
                .min()
                .unwrap_or(text.len());
            let raw = text[start..end].trim();
            let first = raw.chars().next();
            if first.is_some_and(|f| format.quotes.iter().any(|(open, _)| *open == f)) {
                Some(unquote(raw, format))
            } else {
                Some(
                    raw.trim_end_matches(|c: char| c == ',' || c == ';' || c.is_whitespace())
                        .to_string(),
                )
            }
        }
    }
}

/// Where `key` stands as a word followed by `:` or `=`: the offset after the delimiter.
fn value_start(text: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(key) {
        let at = from + found;
        let before_ok = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let rest = &text[at + key.len()..];
        let trimmed = rest.trim_start();
        if before_ok && (trimmed.starts_with(':') || trimmed.starts_with('=')) {
            return Some(at + key.len() + (rest.len() - trimmed.len()) + 1);
        }
        from = at + key.len().max(1);
    }
    None
}

/// The start of the next `key:`/`key=` at or after `from`.
fn key_start_after(text: &str, key: &str, from: usize) -> Option<usize> {
    let start = value_start(&text[from..], key)?;
    let rest = &text[from..from + start];
    rest.rfind(key).map(|at| from + at)
}

fn parse_kv_udf(format: KvFormat, keys: Vec<String>) -> KustoScalar {
    KustoScalar::new(
        "parse_kv",
        2,
        Some(2),
        returns(KustoType::String),
        Arc::new(move |call| {
            let texts = call.strings(0);
            let wanted = call.strings(1);
            let values: StringArray = (0..call.rows)
                .map(|row| {
                    if texts.is_null(row) {
                        return None;
                    }
                    kv_value(texts.value(row), wanted.value(row), &keys, &format)
                })
                .collect();
            Ok(Arc::new(values) as ArrayRef)
        }),
    )
}

impl Planner<'_> {
    pub(super) fn plan_parse_kv(
        &self,
        tab: Tab,
        input: &ast::Expr,
        captures: &[ColumnDecl],
        properties: &[OperatorParam],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut pair_delimiter: Option<String> = None;
        let mut kv_delimiter: Option<String> = None;
        let mut quotes = Vec::new();
        let mut escape = None;
        for property in properties {
            let text = match &property.value.kind {
                ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::String(text),
                    ..
                }) => text.clone(),
                ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::Bool(value),
                    ..
                }) => value.to_string(),
                _ => {
                    return Err(error(
                        "parse-kv properties are string literals",
                        property.value.span,
                    ));
                }
            };
            match property.name.name.as_str() {
                "pair_delimiter" => pair_delimiter = Some(text),
                "kv_delimiter" => kv_delimiter = Some(text),
                "quote" => {
                    let chars: Vec<char> = text.chars().collect();
                    match chars.as_slice() {
                        [one] => quotes.push((*one, *one)),
                        [open, close] => quotes.push((*open, *close)),
                        _ => {
                            return Err(error(
                                "parse-kv: 'quote' is one character, or an opening and a \
                                 closing one",
                                property.value.span,
                            ));
                        }
                    }
                }
                "escape" => {
                    let mut chars = text.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => escape = Some(c),
                        _ => {
                            return Err(error(
                                "parse-kv: 'escape' is one character",
                                property.value.span,
                            ));
                        }
                    }
                }
                other => {
                    return Err(unsupported(
                        &format!("the parse-kv property '{other}'"),
                        property.span,
                    ));
                }
            }
        }
        let delimiters = match (pair_delimiter, kv_delimiter) {
            (Some(pair), Some(kv)) if !pair.is_empty() && !kv.is_empty() => Some((pair, kv)),
            (None, None) => None,
            _ => {
                return Err(error(
                    "parse-kv needs both pair_delimiter and kv_delimiter (non-empty), or neither",
                    span,
                ));
            }
        };
        let keys: Vec<String> = captures.iter().map(|c| c.name.name.clone()).collect();
        let udf = Arc::new(
            parse_kv_udf(
                KvFormat {
                    delimiters,
                    quotes,
                    escape,
                },
                keys,
            )
            .into_udf(),
        );
        let text = convert_to(
            self.lower_expr(input, &tab.columns, env)?,
            KustoType::String,
        );
        let mut new_columns = Vec::new();
        for capture in captures {
            super::check_new_name(&capture.name)?;
            let ty = kusto_type_of_scalar(capture.ty.value);
            let key = typed_lit(
                ScalarValue::Utf8(Some(capture.name.name.clone())),
                KustoType::String,
            );
            let call = super::udf::call(Arc::clone(&udf), vec![text.expr.clone(), key.expr]);
            let value = convert_to(
                Typed {
                    expr: call,
                    ty: KustoType::String,
                },
                ty,
            );
            new_columns.push((value.expr, KustoColumn::new(&capture.name.name, ty)));
        }
        let mut items: Vec<(Expr, KustoColumn)> = tab
            .columns
            .iter()
            .filter(|c| !new_columns.iter().any(|(_, n)| n.name == c.name))
            .map(|c| (col(&c.name), c.clone()))
            .collect();
        items.extend(new_columns);
        self.project_tab(tab, items, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pair: Option<(&str, &str)>, quote: &str, escape: Option<char>) -> KvFormat {
        let chars: Vec<char> = quote.chars().collect();
        KvFormat {
            delimiters: pair.map(|(p, k)| (p.to_string(), k.to_string())),
            quotes: match chars.as_slice() {
                [one] => vec![(*one, *one)],
                [open, close] => vec![(*open, *close)],
                _ => Vec::new(),
            },
            escape,
        }
    }

    #[test]
    fn delimited_pairs_with_quotes() {
        let text = r#"src=10.1.1.123 bytes=125 failure="connection aborted" "event time"=2021-01-01T10:00:54"#;
        let f = format(Some((" ", "=")), "\"", None);
        assert_eq!(kv_value(text, "bytes", &[], &f).as_deref(), Some("125"));
        assert_eq!(
            kv_value(text, "failure", &[], &f).as_deref(),
            Some("connection aborted")
        );
        assert_eq!(
            kv_value(text, "event time", &[], &f).as_deref(),
            Some("2021-01-01T10:00:54")
        );
    }

    #[test]
    fn bracket_quotes_and_escapes() {
        let f = format(Some((" ", "=")), "()", None);
        let text = "failure=(connection aborted) (event time)=(2021-01-01 10:00:54)";
        assert_eq!(
            kv_value(text, "event time", &[], &f).as_deref(),
            Some("2021-01-01 10:00:54")
        );
        let f = format(Some((" ", "=")), "\"", Some('\\'));
        let text = r#"failure="the remote host sent \"bye!\"" time=1"#;
        assert_eq!(
            kv_value(text, "failure", &[], &f).as_deref(),
            Some(r#"the remote host sent "bye!""#)
        );
    }

    #[test]
    fn spaces_around_the_kv_delimiter_are_skipped() {
        let f = format(Some((" ", "=")), "", None);
        assert_eq!(
            kv_value("  key  =  value  ", "key", &[], &f).as_deref(),
            Some("value")
        );
        let f = format(Some((",", "=")), "", None);
        assert_eq!(
            kv_value("a=1, b=2, c=3", "b", &[], &f).as_deref(),
            Some("2")
        );
    }

    #[test]
    fn unquoted_words_split_at_the_pair_delimiter() {
        let f = format(Some((" ", "=")), "", None);
        let text = "name=John Doe phone=555 5555 city=New York";
        assert_eq!(kv_value(text, "city", &[], &f).as_deref(), Some("New"));
    }

    #[test]
    fn without_delimiters_values_run_to_the_next_key() {
        let keys: Vec<String> = ["Text", "ThreadId", "Machine"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let f = format(None, "", None);
        let text = "2021-01-01T10:00:34 [INFO] ThreadId:458745723, Machine:Node001, Text: Started";
        assert_eq!(
            kv_value(text, "ThreadId", &keys, &f).as_deref(),
            Some("458745723")
        );
        assert_eq!(
            kv_value(text, "Machine", &keys, &f).as_deref(),
            Some("Node001")
        );
        assert_eq!(
            kv_value(text, "Text", &keys, &f).as_deref(),
            Some("Started")
        );
        let f = format(None, "'", Some('\\'));
        let text = r"ThreadId:4, Machine:N, Text: 'The service \' is up'";
        assert_eq!(
            kv_value(text, "Text", &keys, &f).as_deref(),
            Some("The service ' is up")
        );
    }
}
