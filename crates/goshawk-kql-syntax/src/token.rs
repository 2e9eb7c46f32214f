//! Tokens produced by the lexer. A token is only a kind and a span: text is read back from the
//! source on demand, so lexing allocates nothing per token.

use crate::span::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name, a keyword (keywords are contextual), or `$left` / `$right`.
    Ident,
    /// Decimal or hexadecimal integer.
    Int,
    /// Number with a fraction or an exponent.
    Real,
    /// A number immediately followed by letters, e.g. `10m` or `1.5d`: a timespan candidate.
    NumberWithSuffix,
    /// Any string literal form; the parser decodes it from the source text.
    String,
    UnterminatedString,
    /// A character that cannot start any token.
    Unknown,
    Pipe,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Dot,
    DotDot,
    Colon,
    Assign,
    EqEq,
    NotEq,
    /// `<>`, an old spelling of `!=`.
    LtGt,
    EqTilde,
    BangTilde,
    Tilde,
    Bang,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    FatArrow,
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl TokenKind {
    /// How the token is named in "expected ..." messages.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Ident => "a name",
            TokenKind::Int | TokenKind::Real => "a number",
            TokenKind::NumberWithSuffix => "a timespan",
            TokenKind::String | TokenKind::UnterminatedString => "a string",
            TokenKind::Unknown => "an unknown character",
            TokenKind::Pipe => "'|'",
            TokenKind::LParen => "'('",
            TokenKind::RParen => "')'",
            TokenKind::LBracket => "'['",
            TokenKind::RBracket => "']'",
            TokenKind::LBrace => "'{'",
            TokenKind::RBrace => "'}'",
            TokenKind::Comma => "','",
            TokenKind::Semicolon => "';'",
            TokenKind::Dot => "'.'",
            TokenKind::DotDot => "'..'",
            TokenKind::Colon => "':'",
            TokenKind::Assign => "'='",
            TokenKind::EqEq => "'=='",
            TokenKind::NotEq => "'!='",
            TokenKind::LtGt => "'<>'",
            TokenKind::EqTilde => "'=~'",
            TokenKind::BangTilde => "'!~'",
            TokenKind::Tilde => "'~'",
            TokenKind::Bang => "'!'",
            TokenKind::Lt => "'<'",
            TokenKind::Le => "'<='",
            TokenKind::Gt => "'>'",
            TokenKind::Ge => "'>='",
            TokenKind::Plus => "'+'",
            TokenKind::Minus => "'-'",
            TokenKind::Star => "'*'",
            TokenKind::Slash => "'/'",
            TokenKind::Percent => "'%'",
            TokenKind::FatArrow => "'=>'",
            TokenKind::Eof => "end of query",
        }
    }
}
