//! Recursive-descent parser over the pre-lexed token vector. Each grammar area lives in its own
//! file; this one holds the token cursor, error helpers and statements.

mod expressions;
mod literals;
mod operators;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::tokenize;
use crate::span::{Span, line_col};
use crate::token::{Token, TokenKind};

pub(crate) type PResult<T> = Result<T, Diagnostic>;

/// Nesting limit for parentheses, sub-queries, unary operators, dynamic values and function
/// bodies: deep enough for any real query, shallow enough to never exhaust a 2 MiB thread stack.
pub const MAX_NESTING_DEPTH: u32 = 200;

const STACK_RED_ZONE: usize = 256 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
    /// `search` / `find` predicates accept `Column:"text"`.
    allow_search_colon: bool,
}

pub fn parse_query(source: &str) -> PResult<Query> {
    let mut parser = Parser::new(source)?;
    parser.query()
}

/// Checks what Kusto checks semantically about a whole query's statements: no statement is a
/// bare scalar expression, and the last statement is a tabular expression (the query's result).
/// [`parse_query`] accepts both, as Kusto's own parser does.
pub fn check_query_shape(query: &Query) -> PResult<()> {
    if let Some(statement) = query
        .statements
        .iter()
        .find(|statement| matches!(statement.kind, StatementKind::Scalar(_)))
    {
        return Err(Diagnostic::new(
            "expected a tabular expression (a table, a let-bound name or a query), found a \
             scalar expression",
            statement.span,
        )
        .with_expected(vec!["a tabular expression".to_string()])
        .with_hint("use `print` to compute a scalar value"));
    }
    match query.statements.last() {
        Some(Statement {
            kind: StatementKind::Tabular(_),
            ..
        }) => Ok(()),
        last => {
            let end = last.map_or(query.span.start, |statement| statement.span.end);
            Err(Diagnostic::new(
                "a query must end with a tabular expression",
                Span::new(end, end),
            )
            .with_expected(vec!["a tabular expression".to_string()])
            .with_hint(
                "end the query with its result, e.g. a table, or `print` for a scalar value",
            ))
        }
    }
}

pub fn parse_expression(source: &str) -> PResult<Expr> {
    let mut parser = Parser::new(source)?;
    let expr = parser.parse_expr()?;
    if !parser.at(TokenKind::Eof) {
        return Err(parser.unexpected("after the expression", &["end of input"]));
    }
    Ok(expr)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> PResult<Parser<'a>> {
        if src.len() >= u32::MAX as usize {
            return Err(Diagnostic::new(
                "query is too large (4 GiB or more)",
                Span::default(),
            ));
        }
        Ok(Parser {
            src,
            tokens: tokenize(src),
            pos: 0,
            depth: 0,
            allow_search_colon: false,
        })
    }

    // ----- cursor -----

    pub(crate) fn peek(&self) -> Token {
        self.peek_at(0)
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Token {
        let last = self.tokens.len() - 1;
        self.tokens[(self.pos + ahead).min(last)]
    }

    pub(crate) fn kind_at(&self, ahead: usize) -> TokenKind {
        self.peek_at(ahead).kind
    }

    pub(crate) fn at(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    pub(crate) fn bump(&mut self) -> Token {
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    pub(crate) fn text(&self, token: Token) -> &'a str {
        token.span.text(self.src)
    }

    pub(crate) fn word_at(&self, ahead: usize) -> Option<&'a str> {
        let token = self.peek_at(ahead);
        (token.kind == TokenKind::Ident).then(|| self.text(token))
    }

    pub(crate) fn at_word(&self, word: &str) -> bool {
        self.word_at(0) == Some(word)
    }

    pub(crate) fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        self.at(kind).then(|| self.bump())
    }

    pub(crate) fn eat_word(&mut self, word: &str) -> Option<Token> {
        self.at_word(word).then(|| self.bump())
    }

    /// End of the previous token: the end of the node just parsed.
    pub(crate) fn prev_end(&self) -> u32 {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    pub(crate) fn span_from(&self, start: u32) -> Span {
        Span::new(start, self.prev_end().max(start))
    }

    pub(crate) fn start(&self) -> u32 {
        self.peek().span.start
    }

    /// Two tokens written with nothing between them (for `!has`, `in~`, `project-away`).
    pub(crate) fn adjacent(&self, ahead: usize) -> bool {
        self.peek_at(ahead).span.end == self.peek_at(ahead + 1).span.start
    }

    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(Diagnostic::new(
                format!("the query is nested too deeply (more than {MAX_NESTING_DEPTH} levels)"),
                self.peek().span,
            )
            .with_hint("split the query with `let` statements"));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs a recursive step one nesting level deeper. Besides enforcing the depth limit it
    /// grows the stack on demand: unoptimised builds use frames of several kilobytes per level,
    /// which would exhaust a 2 MiB test thread long before the limit.
    pub(crate) fn nested<T>(&mut self, step: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.enter()?;
        let result = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || step(self));
        self.leave();
        result
    }

    /// Moves the cursor to the token that starts at byte `offset` (after re-reading raw text).
    pub(crate) fn seek_to_offset(&mut self, offset: u32, what: &str, span: Span) -> PResult<()> {
        while self.peek().span.start < offset && !self.at(TokenKind::Eof) {
            self.pos += 1;
        }
        if self.peek().span.start != offset {
            return Err(Diagnostic::new(format!("malformed {what}"), span));
        }
        Ok(())
    }

    // ----- errors -----

    pub(crate) fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Ident | TokenKind::Int | TokenKind::Real | TokenKind::NumberWithSuffix => {
                format!("'{}'", self.text(token))
            }
            TokenKind::String => "a string".to_string(),
            _ => token.kind.describe().to_string(),
        }
    }

    /// A lexical error at the current token, if there is one: it explains more than "unexpected".
    fn lexical_error(&self) -> Option<Diagnostic> {
        let token = self.peek();
        match token.kind {
            TokenKind::UnterminatedString => {
                let quote_len = self.text(token).chars().next().map_or(1, char::len_utf8) as u32;
                Some(
                    Diagnostic::new(
                        "unterminated string literal",
                        Span::new(token.span.start, token.span.start + quote_len),
                    )
                    .with_hint("close the string with the quote it starts with, on the same line"),
                )
            }
            TokenKind::Unknown => Some(Diagnostic::new(
                format!("unexpected character '{}'", self.text(token)),
                token.span,
            )),
            _ => None,
        }
    }

    /// "unexpected X <context>; expected A or B" at the current token.
    pub(crate) fn unexpected(&self, context: &str, expected: &[&str]) -> Diagnostic {
        if let Some(lexical) = self.lexical_error() {
            return lexical;
        }
        let token = self.peek();
        let described = self.describe(token);
        // "unexpected string", not "unexpected a string".
        let found = described
            .strip_prefix("a ")
            .or_else(|| described.strip_prefix("an "))
            .unwrap_or(&described);
        let message = if context.is_empty() {
            format!("unexpected {found}")
        } else {
            format!("unexpected {found} {context}")
        };
        let mut diagnostic = Diagnostic::new(message, token.span)
            .with_expected(expected.iter().map(|e| (*e).to_string()).collect());
        if token.kind == TokenKind::Assign {
            diagnostic =
                diagnostic.with_hint("use '==' to compare values; '=' only names a column");
        }
        diagnostic
    }

    /// "expected X <context>" at the current token.
    pub(crate) fn expected(&self, what: &str, context: &str) -> Diagnostic {
        if let Some(lexical) = self.lexical_error() {
            return lexical;
        }
        let token = self.peek();
        let found = self.describe(token);
        let message = if context.is_empty() {
            format!("expected {what}, found {found}")
        } else {
            format!("expected {what} {context}, found {found}")
        };
        Diagnostic::new(message, token.span).with_expected(vec![what.to_string()])
    }

    pub(crate) fn expect(&mut self, kind: TokenKind, context: &str) -> PResult<Token> {
        if self.at(kind) {
            return Ok(self.bump());
        }
        Err(self.expected(kind.describe(), context))
    }

    pub(crate) fn expect_word(&mut self, word: &str, context: &str) -> PResult<Token> {
        if self.at_word(word) {
            return Ok(self.bump());
        }
        Err(self.expected(&format!("'{word}'"), context))
    }

    /// Expects the bracket closing `open`, naming where it was opened when it is missing.
    pub(crate) fn expect_close(&mut self, open: Token, what: &str) -> PResult<Token> {
        let close = match open.kind {
            TokenKind::LParen => TokenKind::RParen,
            TokenKind::LBracket => TokenKind::RBracket,
            _ => TokenKind::RBrace,
        };
        if self.at(close) {
            return Ok(self.bump());
        }
        if let Some(lexical) = self.lexical_error() {
            return Err(lexical);
        }
        let opened = line_col(self.src, open.span.start as usize);
        let token = self.peek();
        Err(Diagnostic::new(
            format!(
                "expected {} to close {what} opened at {}:{}, found {}",
                close.describe(),
                opened.line,
                opened.column,
                self.describe(token)
            ),
            token.span,
        )
        .with_expected(vec![close.describe().to_string()]))
    }

    // ----- names -----

    /// A name: an identifier or `['quoted name']` / `["quoted name"]`.
    pub(crate) fn at_ident(&self) -> bool {
        self.at(TokenKind::Ident) || self.at_bracket_ident(0) || self.at_digit_name(0)
    }

    pub(crate) fn at_bracket_ident(&self, ahead: usize) -> bool {
        self.kind_at(ahead) == TokenKind::LBracket
            && self.kind_at(ahead + 1) == TokenKind::String
            && self.kind_at(ahead + 2) == TokenKind::RBracket
    }

    /// Kusto accepts names that start with digits, such as `90th_Percentile`, `5Minutebin` or
    /// `4xxrate`, where the text is not a number or timespan literal. A token with a `.` (`1.5x`)
    /// or an out-of-range timespan (`99999999999999999d`) stays a malformed literal.
    pub(crate) fn at_digit_name(&self, ahead: usize) -> bool {
        let token = self.peek_at(ahead);
        if token.kind != TokenKind::NumberWithSuffix {
            return false;
        }
        let text = self.text(token);
        text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !literals::is_timespan_shaped(text)
    }

    pub(crate) fn parse_ident(&mut self, context: &str) -> PResult<Ident> {
        if self.at(TokenKind::Ident) || self.at_digit_name(0) {
            let token = self.bump();
            return Ok(Ident {
                name: self.text(token).to_string(),
                span: token.span,
            });
        }
        if self.at_bracket_ident(0) {
            let open = self.bump();
            let string = self.bump();
            let name = self.decode_string_token(string)?;
            let close = self.bump();
            return Ok(Ident {
                name,
                span: open.span.to(close.span),
            });
        }
        Err(self.expected("a name", context))
    }

    /// `name` possibly containing `*` wildcards, written without spaces: `Sec*`, `*_CL`, `*`.
    pub(crate) fn parse_name_pattern(&mut self, context: &str) -> PResult<NamePattern> {
        if self.at_bracket_ident(0) {
            let ident = self.parse_ident(context)?;
            return Ok(NamePattern {
                pattern: ident.name,
                span: ident.span,
            });
        }
        let first = self.peek();
        if !matches!(first.kind, TokenKind::Ident | TokenKind::Star) && !self.at_digit_name(0) {
            return Err(self.expected("a column or table name", context));
        }
        let mut pattern = String::from({
            let token = self.bump();
            self.text(token)
        });
        while matches!(
            self.peek().kind,
            TokenKind::Ident | TokenKind::Star | TokenKind::Int
        ) && self.tokens[self.pos - 1].span.end == self.peek().span.start
        {
            pattern.push_str({
                let token = self.bump();
                self.text(token)
            });
        }
        Ok(NamePattern {
            pattern,
            span: self.span_from(first.span.start),
        })
    }

    /// Whether the tokens ahead are a wildcard pattern (`Sec*`) rather than an expression.
    pub(crate) fn at_wildcard_pattern(&self) -> bool {
        self.at_wildcard_pattern_from(0)
    }

    pub(crate) fn at_wildcard_pattern_from(&self, start: usize) -> bool {
        let mut ahead = start;
        let mut saw_star = false;
        while matches!(
            self.kind_at(ahead),
            TokenKind::Ident | TokenKind::Star | TokenKind::Int
        ) {
            saw_star |= self.kind_at(ahead) == TokenKind::Star;
            if !self.adjacent(ahead) {
                return saw_star;
            }
            ahead += 1;
        }
        saw_star
    }

    // ----- statements -----

    fn query(&mut self) -> PResult<Query> {
        if self.at(TokenKind::Dot) && self.kind_at(1) == TokenKind::Ident && self.adjacent(0) {
            let span = self.peek().span.to(self.peek_at(1).span);
            return Err(
                Diagnostic::new("management commands are not supported", span).with_hint(
                    "goshawk runs queries only; commands starting with '.' (such as .show or \
                 .create) administer a Kusto cluster",
                ),
            );
        }
        let looks_like_gql = self.at_word("match") && self.kind_at(1) == TokenKind::LParen;
        let statements = self
            .statement_list(TokenKind::Eof, false)
            .map_err(|diagnostic| {
                if looks_like_gql && diagnostic.hint.is_none() {
                    diagnostic.with_hint(
                        "this looks like GQL (`match (a)-[e]->(b) return ...`), which Kusto runs \
                         as a separate query language; in KQL use `graph(...) | graph-match`",
                    )
                } else {
                    diagnostic
                }
            })?;
        Ok(Query {
            statements,
            span: Span::new(0, self.src.len() as u32),
        })
    }

    /// Statements separated by `;` up to `close` (end of input or `}`).
    fn statement_list(&mut self, close: TokenKind, in_body: bool) -> PResult<Vec<Statement>> {
        let mut statements = Vec::new();
        loop {
            while self.eat(TokenKind::Semicolon).is_some() {}
            if self.at(close) || self.at(TokenKind::Eof) {
                return Ok(statements);
            }
            statements.push(self.statement(in_body)?);
            if self.eat(TokenKind::Semicolon).is_none() {
                // At a missing '}' the caller names the brace that was left open.
                if self.at(close) || self.at(TokenKind::Eof) {
                    return Ok(statements);
                }
                let expected: &[&str] = if close == TokenKind::Eof {
                    &["'|'", "';'", "end of query"]
                } else {
                    &["'|'", "';'", "'}'"]
                };
                let context = match &statements.last().map(|s| &s.kind) {
                    Some(StatementKind::Tabular(t)) => match t.operators.last() {
                        Some(op) => format!("after the '{}' operator", op.kind.name()),
                        None => "after the tabular expression".to_string(),
                    },
                    Some(StatementKind::Let(_)) => "after the let statement".to_string(),
                    _ => "after the statement".to_string(),
                };
                let mut diagnostic = self.unexpected(&context, expected);
                let ends_with_statement = matches!(
                    statements.last().map(|s| &s.kind),
                    Some(StatementKind::Let(_) | StatementKind::Set { .. })
                );
                if ends_with_statement && diagnostic.hint.is_none() {
                    diagnostic = diagnostic.with_hint("end each let or set statement with ';'");
                }
                return Err(diagnostic);
            }
        }
    }

    fn statement(&mut self, in_body: bool) -> PResult<Statement> {
        let start = self.start();
        let kind = match self.word_at(0) {
            Some("let") if self.at_ident_after(1) => self.let_statement()?,
            Some("set") if self.kind_at(1) == TokenKind::Ident => {
                self.bump();
                let name = self.dotted_name()?;
                let value = match self.eat(TokenKind::Assign) {
                    Some(_) => Some(self.parse_unary()?),
                    None => None,
                };
                StatementKind::Set { name, value }
            }
            Some("declare") if self.word_at(1) == Some("query_parameters") => {
                self.bump();
                self.bump();
                StatementKind::DeclareQueryParameters(self.parameter_list()?)
            }
            Some("declare") if self.word_at(1) == Some("pattern") => self.declare_pattern()?,
            Some("alias") if self.word_at(1) == Some("database") => {
                self.bump();
                self.bump();
                let name = self.parse_ident("after 'alias database'")?;
                self.expect(TokenKind::Assign, "after the alias name")?;
                let target = self.parse_expr()?;
                StatementKind::AliasDatabase { name, target }
            }
            Some("restrict") if self.word_at(1) == Some("access") => {
                self.bump();
                self.bump();
                self.expect_word("to", "after 'restrict access'")?;
                let open = self.expect(TokenKind::LParen, "after 'restrict access to'")?;
                let mut entities = Vec::new();
                loop {
                    entities.push(self.union_operand()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the entity list")?;
                StatementKind::RestrictAccess(entities)
            }
            Some(word) if is_sql_keyword(word) && self.looks_like_sql() => {
                return Err(
                    Diagnostic::new(format!("'{word}' is SQL, not KQL"), self.peek().span)
                        .with_hint(
                            "a KQL query starts with a table and pipes it through operators, e.g. \
                     `T | where A == 1 | project A, B`",
                        ),
                );
            }
            _ => {
                let expr = self.parse_expr_or_tabular()?;
                match expr.kind {
                    ExprKind::Tabular(tabular) => StatementKind::Tabular(*tabular),
                    _ if in_body => StatementKind::Scalar(expr),
                    // Kusto's grammar allows any expression as a statement; a scalar one is
                    // rejected only semantically, by `check_query_shape`.
                    _ => match self.expr_to_source(expr.clone()) {
                        Some(source) => StatementKind::Tabular(TabularExpr {
                            span: source.span,
                            source: Some(Box::new(source)),
                            operators: Vec::new(),
                        }),
                        None => StatementKind::Scalar(expr),
                    },
                }
            }
        };
        Ok(Statement {
            kind,
            span: self.span_from(start),
        })
    }

    fn at_ident_after(&self, ahead: usize) -> bool {
        self.kind_at(ahead) == TokenKind::Ident
            || self.at_bracket_ident(ahead)
            || self.at_digit_name(ahead)
    }

    fn looks_like_sql(&self) -> bool {
        !matches!(
            self.kind_at(1),
            TokenKind::Pipe | TokenKind::Semicolon | TokenKind::Eof | TokenKind::LParen
        )
    }

    /// `a.b.c` as one name (for `set` and `hint.strategy`-style options).
    pub(crate) fn dotted_name(&mut self) -> PResult<Ident> {
        let first = self.parse_ident("")?;
        let mut name = first.name;
        while self.at(TokenKind::Dot) && self.kind_at(1) == TokenKind::Ident {
            self.bump();
            name.push('.');
            name.push_str({
                let token = self.bump();
                self.text(token)
            });
        }
        Ok(Ident {
            name,
            span: self.span_from(first.span.start),
        })
    }

    fn let_statement(&mut self) -> PResult<StatementKind> {
        self.bump();
        let name = self.parse_ident("after 'let'")?;
        self.expect(TokenKind::Assign, "after the name in a let statement")?;
        let value = if self.at_word("view") && self.kind_at(1) == TokenKind::LParen {
            self.bump();
            LetValue::View(self.function_def()?)
        } else if self.at_function_def() {
            LetValue::Function(self.function_def()?)
        } else {
            let expr = self.parse_expr_or_tabular()?;
            match expr.kind {
                ExprKind::Tabular(tabular) => LetValue::Tabular(*tabular),
                ExprKind::Call(call) if call.name.name == "materialize" => {
                    LetValue::Tabular(TabularExpr {
                        span: expr.span,
                        source: Some(Box::new(Source {
                            kind: SourceKind::Call(call),
                            span: expr.span,
                        })),
                        operators: Vec::new(),
                    })
                }
                _ => LetValue::Expr(expr),
            }
        };
        Ok(StatementKind::Let(LetStatement { name, value }))
    }

    /// `(` `)` `{`, or `(` name `:` starts a function definition, not a parenthesised value.
    fn at_function_def(&self) -> bool {
        self.at(TokenKind::LParen)
            && ((self.kind_at(1) == TokenKind::RParen && self.kind_at(2) == TokenKind::LBrace)
                || (self.kind_at(1) == TokenKind::Ident && self.kind_at(2) == TokenKind::Colon))
    }

    fn function_def(&mut self) -> PResult<FunctionDef> {
        let start = self.start();
        let params = self.parameter_list()?;
        let body = self.function_body()?;
        Ok(FunctionDef {
            params,
            body,
            span: self.span_from(start),
        })
    }

    pub(crate) fn function_body(&mut self) -> PResult<FunctionBody> {
        let open = self.expect(TokenKind::LBrace, "to start the function body")?;
        let statements = self.nested(|p| p.statement_list(TokenKind::RBrace, true))?;
        self.expect_close(open, "the function body")?;
        Ok(FunctionBody {
            statements,
            span: self.span_from(open.span.start),
        })
    }

    /// `(name:type [= default], T:(*), U:(a:string, *))`
    pub(crate) fn parameter_list(&mut self) -> PResult<Vec<Parameter>> {
        let open = self.expect(TokenKind::LParen, "to start the parameter list")?;
        let mut params = Vec::new();
        while !self.at(TokenKind::RParen) {
            let start = self.start();
            let name = self.parse_ident("in the parameter list")?;
            self.expect(TokenKind::Colon, "after the parameter name")?;
            let ty = if self.at(TokenKind::LParen) {
                ParamType::Tabular(self.tabular_schema()?)
            } else {
                ParamType::Scalar(self.type_name()?)
            };
            let default = match self.eat(TokenKind::Assign) {
                Some(_) => Some(self.parse_expr()?),
                None => None,
            };
            params.push(Parameter {
                name,
                ty,
                default,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, "the parameter list")?;
        Ok(params)
    }

    pub(crate) fn tabular_schema(&mut self) -> PResult<TabularSchema> {
        let open = self.bump();
        let mut columns = Vec::new();
        let mut open_schema = false;
        while !self.at(TokenKind::RParen) {
            if self.eat(TokenKind::Star).is_some() {
                open_schema = true;
            } else {
                columns.push(self.column_decl()?);
            }
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, "the table schema")?;
        Ok(TabularSchema {
            columns,
            open: open_schema,
            span: self.span_from(open.span.start),
        })
    }

    pub(crate) fn column_decl(&mut self) -> PResult<ColumnDecl> {
        let start = self.start();
        let name = self.parse_ident("in the column list")?;
        self.expect(TokenKind::Colon, "after the column name")?;
        let ty = self.type_name()?;
        Ok(ColumnDecl {
            name,
            ty,
            span: self.span_from(start),
        })
    }

    /// `(a:string, b:long)`
    pub(crate) fn column_decl_list(&mut self, what: &str) -> PResult<Vec<ColumnDecl>> {
        let open = self.expect(TokenKind::LParen, &format!("to start {what}"))?;
        let mut columns = Vec::new();
        while !self.at(TokenKind::RParen) {
            columns.push(self.column_decl()?);
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, what)?;
        Ok(columns)
    }

    pub(crate) fn type_name(&mut self) -> PResult<TypeName> {
        if !self.at(TokenKind::Ident) {
            return Err(self.expected("a type name", ""));
        }
        let token = self.bump();
        let text = self.text(token);
        match ScalarType::from_name(text) {
            Some(ty) => Ok(Spanned {
                value: ty,
                span: token.span,
            }),
            None => Err(
                Diagnostic::new(format!("unknown type '{text}'"), token.span).with_hint(
                    "the scalar types are bool, datetime, decimal, dynamic, guid, int, long, real, \
                 string and timespan",
                ),
            ),
        }
    }

    fn declare_pattern(&mut self) -> PResult<StatementKind> {
        self.bump();
        self.bump();
        let name = self.parse_ident("after 'declare pattern'")?;
        let mut params = Vec::new();
        let mut path_params = Vec::new();
        let mut definitions = Vec::new();
        if self.eat(TokenKind::Assign).is_some() {
            params = self.parameter_list()?;
            if self.at(TokenKind::LBracket) {
                path_params = self.bracketed_parameters()?;
            }
            let open = self.expect(TokenKind::LBrace, "to start the pattern definitions")?;
            while !self.at(TokenKind::RBrace) {
                let start = self.start();
                let args_open = self.expect(TokenKind::LParen, "to start a pattern definition")?;
                let mut args = Vec::new();
                while !self.at(TokenKind::RParen) {
                    args.push(self.parse_expr()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(args_open, "the pattern arguments")?;
                let mut path_args = Vec::new();
                if self.eat(TokenKind::Dot).is_some() {
                    let path_open = self.expect(TokenKind::LBracket, "after '.'")?;
                    while !self.at(TokenKind::RBracket) {
                        path_args.push(self.parse_expr()?);
                        if self.eat(TokenKind::Comma).is_none() {
                            break;
                        }
                    }
                    self.expect_close(path_open, "the pattern path")?;
                }
                self.expect(TokenKind::Assign, "in the pattern definition")?;
                let body = self.function_body()?;
                definitions.push(PatternDefinition {
                    args,
                    path_args,
                    body,
                    span: self.span_from(start),
                });
                if self.eat(TokenKind::Semicolon).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the pattern definitions")?;
        }
        Ok(StatementKind::DeclarePattern(DeclarePattern {
            name,
            params,
            path_params,
            definitions,
        }))
    }

    fn bracketed_parameters(&mut self) -> PResult<Vec<Parameter>> {
        let open = self.bump();
        let mut params = Vec::new();
        while !self.at(TokenKind::RBracket) {
            let start = self.start();
            let name = self.parse_ident("in the pattern path parameters")?;
            self.expect(TokenKind::Colon, "after the parameter name")?;
            let ty = ParamType::Scalar(self.type_name()?);
            params.push(Parameter {
                name,
                ty,
                default: None,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, "the pattern path parameters")?;
        Ok(params)
    }
}

fn is_sql_keyword(word: &str) -> bool {
    ["select", "insert", "update", "delete"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
        && word.bytes().all(|b| b.is_ascii_uppercase())
        || word == "select"
}
