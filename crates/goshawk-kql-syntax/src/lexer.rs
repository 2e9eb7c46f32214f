//! Byte-oriented lexer. It never fails: malformed input becomes an `Unknown` or
//! `UnterminatedString` token that the parser reports when (and only if) it reaches it, because
//! some contexts (`datetime(...)`, `guid(...)`) re-read the raw text and skip the tokens inside.

use crate::span::Span;
use crate::token::{Token, TokenKind};

pub fn tokenize(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        bytes: source.as_bytes(),
        pos: 0,
    };
    // About one token per 6 to 8 bytes of real queries; growing past that is amortised.
    let mut tokens = Vec::with_capacity(source.len() / 8 + 16);
    loop {
        let token = lexer.next_token();
        tokens.push(token);
        if token.kind == TokenKind::Eof {
            return tokens;
        }
    }
}

struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

pub fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

pub fn is_ident_continue(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0c => self.pos += 1,
                b'/' if self.peek(1) == b'/' => {
                    let rest = &self.bytes[self.pos..];
                    self.pos += rest
                        .iter()
                        .position(|&byte| byte == b'\n')
                        .unwrap_or(rest.len());
                }
                // U+00A0 (no-break space) and U+FEFF (byte-order mark) appear in pasted queries.
                0xC2 if self.peek(1) == 0xA0 => self.pos += 2,
                0xEF if self.peek(1) == 0xBB && self.peek(2) == 0xBF => self.pos += 3,
                0x80.. => match self.unicode_whitespace_len() {
                    Some(len) => self.pos += len,
                    None => return,
                },
                _ => return,
            }
        }
    }

    /// Length of the Unicode whitespace character (em space, ideographic space, ...) at the
    /// cursor, if there is one.
    fn unicode_whitespace_len(&self) -> Option<usize> {
        let len = utf8_len(self.peek(0));
        let bytes = self.bytes.get(self.pos..self.pos + len)?;
        let ch = std::str::from_utf8(bytes).ok()?.chars().next()?;
        ch.is_whitespace().then_some(len)
    }

    fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.pos;
        let kind = if self.pos >= self.bytes.len() {
            TokenKind::Eof
        } else {
            self.lex_kind()
        };
        Token {
            kind,
            span: Span::new(start as u32, self.pos as u32),
        }
    }

    fn lex_kind(&mut self) -> TokenKind {
        let byte = self.peek(0);
        let next = self.peek(1);
        match byte {
            b'"' | b'\'' => self.lex_quoted(byte, true),
            b'`' if next == b'`' && self.peek(2) == b'`' => self.lex_fenced(b'`'),
            b'~' if next == b'~' && self.peek(2) == b'~' => self.lex_fenced(b'~'),
            b'@' if next == b'"' || next == b'\'' => {
                self.pos += 1;
                self.lex_quoted(next, false)
            }
            b'h' | b'H' if next == b'"' || next == b'\'' => {
                self.pos += 1;
                self.lex_quoted(next, true)
            }
            b'h' | b'H' if next == b'@' && matches!(self.peek(2), b'"' | b'\'') => {
                let quote = self.peek(2);
                self.pos += 2;
                self.lex_quoted(quote, false)
            }
            b'0'..=b'9' => self.lex_number(),
            b'.' if next.is_ascii_digit() => self.lex_number(),
            _ if is_ident_start(byte) || (byte == b'$' && is_ident_start(next)) => {
                self.pos += 1;
                while is_ident_continue(self.peek(0)) {
                    self.pos += 1;
                }
                TokenKind::Ident
            }
            _ => self.lex_punct(byte, next),
        }
    }

    fn lex_punct(&mut self, byte: u8, next: u8) -> TokenKind {
        let (kind, len) = match (byte, next) {
            (b'=', b'=') => (TokenKind::EqEq, 2),
            (b'=', b'~') => (TokenKind::EqTilde, 2),
            (b'=', b'>') => (TokenKind::FatArrow, 2),
            (b'=', _) => (TokenKind::Assign, 1),
            (b'!', b'=') => (TokenKind::NotEq, 2),
            (b'!', b'~') => (TokenKind::BangTilde, 2),
            (b'!', _) => (TokenKind::Bang, 1),
            (b'<', b'=') => (TokenKind::Le, 2),
            (b'<', b'>') => (TokenKind::LtGt, 2),
            (b'<', _) => (TokenKind::Lt, 1),
            (b'>', b'=') => (TokenKind::Ge, 2),
            (b'>', _) => (TokenKind::Gt, 1),
            (b'.', b'.') => (TokenKind::DotDot, 2),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'|', _) => (TokenKind::Pipe, 1),
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b'[', _) => (TokenKind::LBracket, 1),
            (b']', _) => (TokenKind::RBracket, 1),
            (b'{', _) => (TokenKind::LBrace, 1),
            (b'}', _) => (TokenKind::RBrace, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b';', _) => (TokenKind::Semicolon, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b'~', _) => (TokenKind::Tilde, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'%', _) => (TokenKind::Percent, 1),
            _ => (TokenKind::Unknown, utf8_len(byte)),
        };
        self.pos = (self.pos + len).min(self.bytes.len());
        kind
    }

    /// `'...'` / `"..."` (escapes when `escapes`, verbatim otherwise). The position is at the quote.
    fn lex_quoted(&mut self, quote: u8, escapes: bool) -> TokenKind {
        self.pos += 1;
        while self.pos < self.bytes.len() {
            let byte = self.bytes[self.pos];
            if byte == quote {
                // Verbatim strings write a quote by doubling it.
                if !escapes && self.peek(1) == quote {
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return TokenKind::String;
            }
            if byte == b'\n' {
                return TokenKind::UnterminatedString;
            }
            if escapes && byte == b'\\' && self.pos + 1 < self.bytes.len() {
                self.pos += 1;
            }
            self.pos += 1;
        }
        TokenKind::UnterminatedString
    }

    fn lex_fenced(&mut self, fence: u8) -> TokenKind {
        self.pos += 3;
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == fence && self.peek(1) == fence && self.peek(2) == fence {
                self.pos += 3;
                return TokenKind::String;
            }
            self.pos += 1;
        }
        TokenKind::UnterminatedString
    }

    fn lex_number(&mut self) -> TokenKind {
        if self.peek(0) == b'0'
            && matches!(self.peek(1), b'x' | b'X')
            && self.peek(2).is_ascii_hexdigit()
        {
            self.pos += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            return self.finish_number(TokenKind::Int);
        }
        let mut kind = TokenKind::Int;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        // `1..5` is a range, not the number `1.`.
        if self.peek(0) == b'.' && self.peek(1) != b'.' && !is_ident_start(self.peek(1)) {
            kind = TokenKind::Real;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
            if self.peek(1 + sign).is_ascii_digit() {
                kind = TokenKind::Real;
                self.pos += 1 + sign;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
        }
        self.finish_number(kind)
    }

    fn finish_number(&mut self, kind: TokenKind) -> TokenKind {
        if is_ident_continue(self.peek(0)) {
            while is_ident_continue(self.peek(0)) {
                self.pos += 1;
            }
            return TokenKind::NumberWithSuffix;
        }
        kind
    }
}

fn utf8_len(first_byte: u8) -> usize {
    match first_byte {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
