//! Literals: numbers, timespans, strings (all quoting forms), typed literals such as
//! `datetime(...)` / `int(null)` / `real(nan)`, and `dynamic(...)` values.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::{Token, TokenKind};

pub const TICKS_PER_MICROSECOND: i64 = 10;
pub const TICKS_PER_MILLISECOND: i64 = 10_000;
pub const TICKS_PER_SECOND: i64 = 10_000_000;
pub const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
pub const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

fn timespan_unit(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => TICKS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => TICKS_PER_HOUR,
        "m" | "min" | "minute" | "minutes" => TICKS_PER_MINUTE,
        "s" | "sec" | "second" | "seconds" => TICKS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => TICKS_PER_MILLISECOND,
        "microsecond" | "microseconds" => TICKS_PER_MICROSECOND,
        "tick" | "ticks" => 1,
        _ => return None,
    })
}

/// `digits[.digits]` times `unit` ticks, exactly when the fraction allows.
fn scaled_ticks(number: &str, unit: i64) -> Option<i64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole_value: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut ticks = whole_value.checked_mul(unit)?;
    if !fraction.is_empty() {
        let digits = &fraction[..fraction.len().min(18)];
        let numerator: i128 = digits.parse().ok()?;
        let denominator = 10_i128.pow(digits.len() as u32);
        let part = (numerator * i128::from(unit) + denominator / 2) / denominator;
        ticks = ticks.checked_add(i64::try_from(part).ok()?)?;
    }
    Some(ticks)
}

/// Parses a timespan written as `1.5d`, `10 seconds`, `2` (days) or `[d.]hh:mm[:ss[.fffffff]]`.
pub fn parse_timespan_text(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let ticks = if text.contains(':') {
        let (days, clock) = match text.split_once(':') {
            Some((head, _)) if head.contains('.') => {
                let (days, _) = head.split_once('.')?;
                (days.parse::<i64>().ok()?, &text[days.len() + 1..])
            }
            _ => (0, text),
        };
        let mut fields = clock.split(':');
        let hours: i64 = fields.next()?.parse().ok()?;
        let minutes: i64 = fields.next()?.parse().ok()?;
        let seconds = match fields.next() {
            Some(seconds) => scaled_ticks(seconds, TICKS_PER_SECOND)?,
            None => 0,
        };
        if fields.next().is_some() || minutes >= 60 {
            return None;
        }
        days.checked_mul(TICKS_PER_DAY)?
            .checked_add(hours.checked_mul(TICKS_PER_HOUR)?)?
            .checked_add(minutes * TICKS_PER_MINUTE)?
            .checked_add(seconds)?
    } else {
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit = unit.trim();
        let unit_ticks = if unit.is_empty() {
            TICKS_PER_DAY
        } else {
            timespan_unit(unit)?
        };
        scaled_ticks(number, unit_ticks)?
    };
    Some(if negative { -ticks } else { ticks })
}

impl Parser<'_> {
    /// Decodes one string token (any quoting form) into its value.
    pub(crate) fn decode_string_token(&self, token: Token) -> PResult<String> {
        let raw = self.text(token);
        let body = raw.strip_prefix(['h', 'H']).unwrap_or(raw);
        if let Some(verbatim) = body.strip_prefix('@') {
            let quote = &verbatim[..1];
            let inner = &verbatim[1..verbatim.len() - 1];
            let doubled = format!("{quote}{quote}");
            return Ok(inner.replace(&doubled, quote));
        }
        if body.starts_with("```") || body.starts_with("~~~") {
            return Ok(body[3..body.len() - 3].to_string());
        }
        let inner = &body[1..body.len() - 1];
        if !inner.contains('\\') {
            return Ok(inner.to_string());
        }
        let inner_start = token.span.end - 1 - inner.len() as u32;
        decode_escapes(inner, inner_start)
    }

    /// One or more adjacent string tokens: `"a" "b"` is `"ab"`.
    pub(crate) fn parse_string_literal(&mut self) -> PResult<Literal> {
        let first = self.expect(TokenKind::String, "")?;
        let mut value = self.decode_string_token(first)?;
        while self.at(TokenKind::String) {
            let next = self.bump();
            value.push_str(&self.decode_string_token(next)?);
        }
        Ok(Literal {
            kind: LiteralKind::String(value),
            span: self.span_from(first.span.start),
        })
    }

    /// Numbers, timespans and strings.
    pub(crate) fn parse_plain_literal(&mut self) -> PResult<Literal> {
        let token = self.peek();
        let text = self.text(token);
        let kind = match token.kind {
            TokenKind::String => return self.parse_string_literal(),
            TokenKind::Int => LiteralKind::Long(parse_int(text, token.span)?),
            TokenKind::Real => LiteralKind::Real(parse_real(text, token.span)?),
            TokenKind::NumberWithSuffix => {
                LiteralKind::Timespan(parse_timespan_token(text, token.span)?)
            }
            _ => return Err(self.expected("a literal", "")),
        };
        self.bump();
        Ok(Literal {
            kind,
            span: token.span,
        })
    }

    /// `true`, `false`, and typed literals `datetime(...)`, `int(...)`, `dynamic(...)`, ...
    /// Returns `None` when `word` is an ordinary name.
    pub(crate) fn try_keyword_literal(&mut self, word: &str) -> PResult<Option<Literal>> {
        let start = self.start();
        match word {
            "true" | "false" => {
                let token = self.bump();
                return Ok(Some(Literal {
                    kind: LiteralKind::Bool(word == "true"),
                    span: token.span,
                }));
            }
            _ => {}
        }
        if self.kind_at(1) != TokenKind::LParen {
            return Ok(None);
        }
        let Some(ty) = ScalarType::from_name(word) else {
            return Ok(None);
        };
        // `date`, `double`, `float`, `uuid` etc. are also ordinary function names.
        let literal_spelling = matches!(
            word,
            "bool"
                | "boolean"
                | "datetime"
                | "decimal"
                | "dynamic"
                | "guid"
                | "int"
                | "long"
                | "real"
                | "double"
                | "time"
                | "timespan"
        );
        if !literal_spelling {
            return Ok(None);
        }
        self.bump();
        let open = self.bump();
        let kind = if ty == ScalarType::Dynamic {
            let value = self.parse_dynamic_value()?;
            self.expect_close(open, "the dynamic literal")?;
            LiteralKind::Dynamic(value)
        } else {
            self.typed_literal_body(ty, open)?
        };
        Ok(Some(Literal {
            kind,
            span: self.span_from(start),
        }))
    }

    /// The contents of `type(...)` for a non-dynamic type, read as raw text up to `)`.
    fn typed_literal_body(&mut self, ty: ScalarType, open: Token) -> PResult<LiteralKind> {
        let type_name = ty.name();
        // `datetime("2020-01-01")` and friends: a quoted form.
        if self.at(TokenKind::String) && self.kind_at(1) == TokenKind::RParen {
            let string = self.bump();
            let text = self.decode_string_token(string)?;
            self.bump();
            return self.typed_value(ty, text.trim(), string.span);
        }
        let content_start = open.span.end as usize;
        let Some(close_rel) = self.src[content_start..].find(')') else {
            return Err(
                Diagnostic::new(format!("unterminated {type_name} literal"), open.span)
                    .with_expected(vec!["')'".to_string()]),
            );
        };
        let close = content_start + close_rel;
        let content = &self.src[content_start..close];
        if content.contains(['(', '\n', '"', '\'']) {
            return Err(Diagnostic::new(
                format!("malformed {type_name} literal"),
                Span::new(open.span.start, close as u32 + 1),
            ));
        }
        let content_span = Span::new(content_start as u32, close as u32);
        self.seek_to_offset(close as u32, &format!("{type_name} literal"), content_span)?;
        self.bump();
        self.typed_value(ty, content.trim(), content_span)
    }

    fn typed_value(&self, ty: ScalarType, text: &str, span: Span) -> PResult<LiteralKind> {
        if text == "null" {
            return Ok(LiteralKind::TypedNull(ty));
        }
        let invalid = || Diagnostic::new(format!("invalid {} literal '{text}'", ty.name()), span);
        Ok(match ty {
            ScalarType::DateTime => {
                if text.is_empty() {
                    return Err(invalid());
                }
                LiteralKind::DateTime(text.to_string())
            }
            ScalarType::Guid => {
                let hex_digits = text.bytes().filter(u8::is_ascii_hexdigit).count();
                if hex_digits != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                    return Err(invalid());
                }
                LiteralKind::Guid(text.to_string())
            }
            ScalarType::Timespan => {
                LiteralKind::Timespan(parse_timespan_text(text).ok_or_else(invalid)?)
            }
            ScalarType::Bool => match text {
                "true" => LiteralKind::Bool(true),
                "false" => LiteralKind::Bool(false),
                _ => return Err(invalid()),
            },
            ScalarType::Int | ScalarType::Long => {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let (negative, digits) = match compact.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, compact.strip_prefix('+').unwrap_or(&compact)),
                };
                let value = if negative && digits == "9223372036854775808" {
                    i64::MIN
                } else {
                    let magnitude = parse_int(digits, span).map_err(|_| invalid())?;
                    if negative {
                        magnitude.wrapping_neg()
                    } else {
                        magnitude
                    }
                };
                if ty == ScalarType::Int {
                    let is_hex = digits.starts_with("0x") || digits.starts_with("0X");
                    if is_hex && (0..=i64::from(u32::MAX)).contains(&value) {
                        // Hex denotes the 32-bit pattern: int(0xFFFFFFFF) is -1.
                        return Ok(LiteralKind::Int(i64::from(value as u32 as i32)));
                    }
                    if i32::try_from(value).is_err() {
                        return Err(Diagnostic::new(
                            format!("int literal '{text}' does not fit in 32 bits"),
                            span,
                        ));
                    }
                    LiteralKind::Int(value)
                } else {
                    LiteralKind::Long(value)
                }
            }
            ScalarType::Real => {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let value = match compact.as_str() {
                    "nan" | "NaN" => f64::NAN,
                    "inf" | "+inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    number => number.parse::<f64>().map_err(|_| invalid())?,
                };
                LiteralKind::Real(value)
            }
            ScalarType::Decimal => {
                let valid = !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
                if !valid && !matches!(text, "nan" | "NaN") {
                    return Err(invalid());
                }
                LiteralKind::Decimal(text.to_string())
            }
            ScalarType::String | ScalarType::Dynamic => LiteralKind::String(text.to_string()),
        })
    }

    /// A JSON-like value inside `dynamic(...)`.
    pub(crate) fn parse_dynamic_value(&mut self) -> PResult<DynamicValue> {
        self.nested(Self::dynamic_value_inner)
    }

    fn dynamic_value_inner(&mut self) -> PResult<DynamicValue> {
        let token = self.peek();
        match token.kind {
            TokenKind::LBracket => {
                let open = self.bump();
                let mut items = Vec::new();
                while !self.at(TokenKind::RBracket) {
                    items.push(self.parse_dynamic_value()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the dynamic array")?;
                Ok(DynamicValue::Array(items))
            }
            TokenKind::LBrace => {
                let open = self.bump();
                let mut members = Vec::new();
                while !self.at(TokenKind::RBrace) {
                    let key = if self.at(TokenKind::String) {
                        let key = self.bump();
                        self.decode_string_token(key)?
                    } else if self.at(TokenKind::Ident) {
                        {
                            let token = self.bump();
                            self.text(token)
                        }
                        .to_string()
                    } else {
                        return Err(self.expected("a property name", "in the dynamic object"));
                    };
                    self.expect(TokenKind::Colon, "after the property name")?;
                    members.push((key, self.parse_dynamic_value()?));
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the dynamic object")?;
                Ok(DynamicValue::Object(members))
            }
            TokenKind::String => {
                let literal = self.parse_string_literal()?;
                match literal.kind {
                    LiteralKind::String(value) => Ok(DynamicValue::String(value)),
                    _ => Ok(DynamicValue::Scalar(Box::new(literal))),
                }
            }
            TokenKind::Minus | TokenKind::Plus
                if matches!(self.kind_at(1), TokenKind::Int | TokenKind::Real) =>
            {
                let negative = self.bump().kind == TokenKind::Minus;
                let number = self.bump();
                let text = self.text(number);
                if number.kind == TokenKind::Real {
                    let value = parse_real(text, number.span)?;
                    return Ok(DynamicValue::Real(if negative { -value } else { value }));
                }
                if negative && text == "9223372036854775808" {
                    return Ok(DynamicValue::Long(i64::MIN));
                }
                let value = parse_int(text, number.span)?;
                Ok(DynamicValue::Long(if negative {
                    value.wrapping_neg()
                } else {
                    value
                }))
            }
            TokenKind::Int => {
                self.bump();
                Ok(DynamicValue::Long(parse_int(self.text(token), token.span)?))
            }
            TokenKind::Real => {
                self.bump();
                Ok(DynamicValue::Real(parse_real(
                    self.text(token),
                    token.span,
                )?))
            }
            TokenKind::NumberWithSuffix => {
                let literal = self.parse_plain_literal()?;
                Ok(DynamicValue::Scalar(Box::new(literal)))
            }
            TokenKind::Ident => {
                let word = self.text(token);
                match word {
                    "null" => {
                        self.bump();
                        Ok(DynamicValue::Null)
                    }
                    "true" | "false" => {
                        self.bump();
                        Ok(DynamicValue::Bool(word == "true"))
                    }
                    _ => match self.try_keyword_literal(word)? {
                        Some(literal) => Ok(DynamicValue::Scalar(Box::new(literal))),
                        None => Err(self.expected("a constant value", "in the dynamic literal")),
                    },
                }
            }
            _ => Err(self.expected("a constant value", "in the dynamic literal")),
        }
    }
}

fn parse_int(text: &str, span: Span) -> PResult<i64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        // Hex literals denote the 64-bit pattern, so 0xFFFFFFFFFFFFFFFF is -1.
        return u64::from_str_radix(hex, 16)
            .map(|value| value as i64)
            .map_err(|_| {
                Diagnostic::new(
                    format!("hexadecimal literal '{text}' does not fit in 64 bits"),
                    span,
                )
            });
    }
    text.parse::<i64>().map_err(|_| {
        Diagnostic::new(
            format!("integer literal '{text}' does not fit in a long (64 bits)"),
            span,
        )
        .with_hint("write it as a real number, e.g. real(1e20), if a floating value is meant")
    })
}

fn parse_real(text: &str, span: Span) -> PResult<f64> {
    text.parse::<f64>()
        .map_err(|_| Diagnostic::new(format!("invalid number '{text}'"), span))
}

/// Whether a number-with-letters token is written as a timespan (`10m`, `2days`), in range or
/// not; anything else made of letters, digits and `_` is a name.
pub(crate) fn is_timespan_shaped(text: &str) -> bool {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    timespan_unit(&text[split..]).is_some()
}

fn parse_timespan_token(text: &str, span: Span) -> PResult<i64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Some(unit_ticks) = timespan_unit(unit) else {
        return Err(
            Diagnostic::new(format!("invalid timespan literal '{text}'"), span).with_hint(format!(
                "'{unit}' is not a timespan unit; use d, h, m, s, ms, microsecond or tick \
                 (e.g. 30m, 1.5h)"
            )),
        );
    };
    scaled_ticks(number, unit_ticks)
        .ok_or_else(|| Diagnostic::new(format!("timespan literal '{text}' is out of range"), span))
}

fn decode_escapes(inner: &str, inner_start: u32) -> PResult<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((index, ch)) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let Some((_, escaped)) = chars.next() else {
            break;
        };
        match escaped {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' | '\'' | '"' | '`' | '?' | '/' => out.push(escaped),
            'u' | 'x' | 'U' => {
                let width = match escaped {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let digits: String = chars.clone().take(width).map(|(_, c)| c).collect();
                let code = (digits.len() == width)
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(decoded) = code else {
                    let start = inner_start + index as u32;
                    return Err(Diagnostic::new(
                        format!("invalid escape sequence '\\{escaped}{digits}'"),
                        Span::new(start, start + 2),
                    ));
                };
                for _ in 0..width {
                    chars.next();
                }
                out.push(decoded);
            }
            other => {
                let start = inner_start + index as u32;
                return Err(Diagnostic::new(
                    format!("invalid escape sequence '\\{other}' in a string literal"),
                    Span::new(start, start + 1 + other.len_utf8() as u32),
                )
                .with_hint(
                    "write a backslash as '\\\\', or use a verbatim string such as @\"C:\\path\"",
                ));
            }
        }
    }
    Ok(out)
}
