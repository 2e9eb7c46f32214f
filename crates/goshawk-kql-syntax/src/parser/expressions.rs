//! Scalar expressions (Pratt / precedence climbing), calls, named expressions, and the glue
//! between scalar and tabular expressions.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::TokenKind;

/// Binding strength, loosest first.
const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_COMPARE: u8 = 3;
const PREC_ADD: u8 = 4;
const PREC_MUL: u8 = 5;

/// Longest chain of infix or postfix operators in one expression (`a + b + ...`, `a.b.c...`).
/// Each link nests the tree one level deeper, and dropping or walking a very deep tree recurses
/// once per level, so absurd chains are rejected instead of risking the stack later.
pub const MAX_OPERATOR_CHAIN: usize = 1000;

enum InfixOp {
    Binary(BinaryOp),
    List(ListOp),
    Between { negated: bool },
}

struct Infix {
    op: InfixOp,
    precedence: u8,
    /// Tokens the operator spans (`!has` is two, `matches regex` two, `!in~` three).
    token_count: usize,
}

impl Parser<'_> {
    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.nested(|p| p.parse_binary(PREC_OR))
    }

    /// An expression that may also be a tabular expression: call arguments, `in (...)` lists,
    /// parenthesised expressions, let values and statements.
    pub(crate) fn parse_expr_or_tabular(&mut self) -> PResult<Expr> {
        if self.at_tabular_operator_source() {
            let tabular = self.parse_tabular()?;
            return Ok(Expr {
                span: tabular.span,
                kind: ExprKind::Tabular(Box::new(tabular)),
            });
        }
        let expr = self.parse_expr()?;
        if !self.at(TokenKind::Pipe) {
            return Ok(expr);
        }
        if !is_source_like(&expr) {
            // Leave the '|' to the caller, whose "expected ')' to close ... opened at" is the
            // better message for `f(a > 1 | ...`.
            return Ok(expr);
        }
        let Some(source) = self.expr_to_source(expr) else {
            return Err(self.expected("a tabular expression", "before '|'"));
        };
        let tabular = self.parse_pipeline_rest(Some(source))?;
        Ok(Expr {
            span: tabular.span,
            kind: ExprKind::Tabular(Box::new(tabular)),
        })
    }

    /// Reinterprets a scalar-looking expression as the source of a pipeline.
    pub(crate) fn expr_to_source(&self, expr: Expr) -> Option<Source> {
        let span = expr.span;
        let kind = match expr.kind {
            ExprKind::Name(ident) => SourceKind::Name(ident),
            ExprKind::Call(call) => SourceKind::Call(call),
            ExprKind::Tabular(tabular) => SourceKind::Parenthesized(tabular),
            ExprKind::Paren(inner) => match inner.kind {
                ExprKind::Tabular(tabular) => SourceKind::Parenthesized(tabular),
                _ => {
                    let source = self.expr_to_source(*inner)?;
                    SourceKind::Parenthesized(Box::new(TabularExpr {
                        span: source.span,
                        source: Some(Box::new(source)),
                        operators: Vec::new(),
                    }))
                }
            },
            ExprKind::Member { .. } | ExprKind::MethodCall { .. } => {
                let mut parts = Vec::new();
                collect_path(expr, &mut parts)?;
                SourceKind::Path(parts)
            }
            _ => return None,
        };
        Some(Source { kind, span })
    }

    fn parse_binary(&mut self, min_precedence: u8) -> PResult<Expr> {
        let mut left = self.parse_unary()?;
        let mut chain = 0;
        while let Some(infix) = self.peek_infix() {
            if infix.precedence < min_precedence {
                break;
            }
            chain += 1;
            if chain > MAX_OPERATOR_CHAIN {
                return Err(self.chain_too_long());
            }
            let op_start = self.start();
            let op_token = self.peek();
            for _ in 0..infix.token_count {
                self.bump();
            }
            let op_span = self.span_from(op_start);
            left = match infix.op {
                InfixOp::Binary(op) => {
                    if self.at_expr_end() {
                        return Err(self.missing_operand(op_token));
                    }
                    let right = self.parse_binary(infix.precedence + 1)?;
                    Expr {
                        span: left.span.to(right.span),
                        kind: ExprKind::Binary {
                            op: Spanned {
                                value: op,
                                span: op_span,
                            },
                            left: Box::new(left),
                            right: Box::new(right),
                        },
                    }
                }
                InfixOp::List(op) => self.finish_list_op(
                    left,
                    Spanned {
                        value: op,
                        span: op_span,
                    },
                )?,
                InfixOp::Between { negated } => self.finish_between(left, negated)?,
            };
        }
        Ok(left)
    }

    fn at_expr_end(&self) -> bool {
        matches!(
            self.peek().kind,
            TokenKind::Eof
                | TokenKind::Pipe
                | TokenKind::Semicolon
                | TokenKind::RParen
                | TokenKind::RBracket
                | TokenKind::RBrace
                | TokenKind::Comma
        )
    }

    fn missing_operand(&self, op_token: crate::token::Token) -> Diagnostic {
        if let Some(lexical) = self.lexical_error() {
            return lexical;
        }
        let op_text = self.operator_text_ending_with(op_token);
        let next = self.peek();
        let line_break =
            self.src[op_token.span.end as usize..next.span.start as usize].contains('\n');
        // At the end of the input or of the line, point right after the operator itself.
        let span = if next.kind == TokenKind::Eof || line_break {
            Span::new(op_token.span.end, op_token.span.end)
        } else {
            next.span
        };
        Diagnostic::new(format!("expected an expression after '{op_text}'"), span)
            .with_expected(vec!["an expression".to_string()])
    }

    /// The text of `token`, extended backwards over a hyphenated operator name so that the
    /// message says `'mv-expand'` rather than `'expand'`.
    fn operator_text_ending_with(&self, token: crate::token::Token) -> &str {
        let Some(index) = self.tokens.iter().rposition(|t| t.span == token.span) else {
            return self.text(token);
        };
        let mut first = index;
        while first >= 2
            && token.kind == TokenKind::Ident
            && self.tokens[first - 1].kind == TokenKind::Minus
            && self.tokens[first - 2].kind == TokenKind::Ident
            && self.tokens[first - 2].span.end == self.tokens[first - 1].span.start
            && self.tokens[first - 1].span.end == self.tokens[first].span.start
        {
            first -= 2;
        }
        &self.src[self.tokens[first].span.start as usize..token.span.end as usize]
    }

    fn peek_infix(&self) -> Option<Infix> {
        let token = self.peek();
        let binary = |op, precedence| {
            Some(Infix {
                op: InfixOp::Binary(op),
                precedence,
                token_count: 1,
            })
        };
        match token.kind {
            TokenKind::EqEq => binary(BinaryOp::Eq, PREC_COMPARE),
            TokenKind::NotEq | TokenKind::LtGt => binary(BinaryOp::NotEq, PREC_COMPARE),
            TokenKind::Lt => binary(BinaryOp::Lt, PREC_COMPARE),
            TokenKind::Le => binary(BinaryOp::Le, PREC_COMPARE),
            TokenKind::Gt => binary(BinaryOp::Gt, PREC_COMPARE),
            TokenKind::Ge => binary(BinaryOp::Ge, PREC_COMPARE),
            TokenKind::EqTilde => binary(BinaryOp::EqCi, PREC_COMPARE),
            TokenKind::BangTilde => binary(BinaryOp::NotEqCi, PREC_COMPARE),
            TokenKind::Plus => binary(BinaryOp::Add, PREC_ADD),
            TokenKind::Minus => binary(BinaryOp::Sub, PREC_ADD),
            TokenKind::Star => binary(BinaryOp::Mul, PREC_MUL),
            TokenKind::Slash => binary(BinaryOp::Div, PREC_MUL),
            TokenKind::Percent => binary(BinaryOp::Mod, PREC_MUL),
            TokenKind::Colon if self.allow_search_colon => {
                binary(BinaryOp::SearchColon, PREC_COMPARE)
            }
            TokenKind::Ident => self.word_infix(self.text(token), false),
            TokenKind::Bang if self.kind_at(1) == TokenKind::Ident && self.adjacent(0) => {
                let word = self.text(self.peek_at(1));
                self.word_infix(word, true).map(|mut infix| {
                    infix.token_count += 1;
                    infix
                })
            }
            _ => None,
        }
    }

    /// Word operators; the cursor (plus one when `negated`) is at the word.
    fn word_infix(&self, word: &str, negated: bool) -> Option<Infix> {
        let word_index = usize::from(negated);
        let list = |op| {
            Some(Infix {
                op: InfixOp::List(op),
                precedence: PREC_COMPARE,
                token_count: 1,
            })
        };
        match word {
            "and" if !negated => Some(Infix {
                op: InfixOp::Binary(BinaryOp::And),
                precedence: PREC_AND,
                token_count: 1,
            }),
            "or" if !negated => Some(Infix {
                op: InfixOp::Binary(BinaryOp::Or),
                precedence: PREC_OR,
                token_count: 1,
            }),
            "in" => {
                let case_insensitive =
                    self.kind_at(word_index + 1) == TokenKind::Tilde && self.adjacent(word_index);
                let op = match (negated, case_insensitive) {
                    (false, false) => ListOp::In,
                    (true, false) => ListOp::NotIn,
                    (false, true) => ListOp::InCi,
                    (true, true) => ListOp::NotInCi,
                };
                let after = word_index + 1 + usize::from(case_insensitive);
                if self.kind_at(after) != TokenKind::LParen {
                    return None;
                }
                Some(Infix {
                    op: InfixOp::List(op),
                    precedence: PREC_COMPARE,
                    token_count: 1 + usize::from(case_insensitive),
                })
            }
            "has_any" if !negated => list(ListOp::HasAny),
            "has_all" if !negated => list(ListOp::HasAll),
            "between" => Some(Infix {
                op: InfixOp::Between { negated },
                precedence: PREC_COMPARE,
                token_count: 1,
            }),
            "matches" if !negated && self.word_at(1) == Some("regex") => Some(Infix {
                op: InfixOp::Binary(BinaryOp::MatchesRegex),
                precedence: PREC_COMPARE,
                token_count: 2,
            }),
            _ => BinaryOp::WORDS
                .iter()
                .find(|(spelling, _, _)| *spelling == word)
                .map(|&(_, positive, negative)| Infix {
                    op: InfixOp::Binary(if negated { negative } else { positive }),
                    precedence: PREC_COMPARE,
                    token_count: 1,
                }),
        }
    }

    fn finish_list_op(&mut self, value: Expr, op: Spanned<ListOp>) -> PResult<Expr> {
        let mut list = Vec::new();
        if let Some(open) = self.eat(TokenKind::LParen) {
            while !self.at(TokenKind::RParen) {
                list.push(self.parse_expr_or_tabular()?);
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the value list")?;
        } else {
            list.push(self.parse_binary(PREC_ADD)?);
        }
        Ok(Expr {
            span: self.span_from(value.span.start),
            kind: ExprKind::InList {
                op,
                value: Box::new(value),
                list,
            },
        })
    }

    fn finish_between(&mut self, value: Expr, negated: bool) -> PResult<Expr> {
        let open = self.expect(TokenKind::LParen, "after 'between'")?;
        let low = self.parse_expr()?;
        self.expect(TokenKind::DotDot, "between the bounds of 'between'")?;
        let high = self.parse_expr()?;
        self.expect_close(open, "the 'between' range")?;
        Ok(Expr {
            span: self.span_from(value.span.start),
            kind: ExprKind::Between {
                value: Box::new(value),
                negated,
                low: Box::new(low),
                high: Box::new(high),
            },
        })
    }

    pub(crate) fn parse_unary(&mut self) -> PResult<Expr> {
        let op = match self.peek().kind {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Plus => UnaryOp::Plus,
            _ => return self.parse_postfix(),
        };
        let op_token = self.bump();
        if op == UnaryOp::Neg && self.at(TokenKind::Int) {
            // `-9223372036854775808` is a valid long although its magnitude alone is not.
            let text = self.text(self.peek());
            if text == "9223372036854775808" {
                let token = self.bump();
                let span = op_token.span.to(token.span);
                return Ok(Expr {
                    span,
                    kind: ExprKind::Literal(Literal {
                        kind: LiteralKind::Long(i64::MIN),
                        span,
                    }),
                });
            }
        }
        if self.at_expr_end() {
            return Err(self.missing_operand(op_token));
        }
        let operand = self.nested(Self::parse_unary)?;
        Ok(Expr {
            span: op_token.span.to(operand.span),
            kind: ExprKind::Unary {
                op: Spanned {
                    value: op,
                    span: op_token.span,
                },
                operand: Box::new(operand),
            },
        })
    }

    fn chain_too_long(&self) -> Diagnostic {
        Diagnostic::new(
            format!("the expression chains more than {MAX_OPERATOR_CHAIN} operators"),
            self.peek().span,
        )
        .with_hint(
            "split it with `let` statements, or use `in (...)` / `has_any (...)` for long lists",
        )
    }

    pub(crate) fn parse_postfix(&mut self) -> PResult<Expr> {
        let mut expr = self.parse_primary()?;
        let mut chain = 0;
        loop {
            chain += 1;
            if chain > MAX_OPERATOR_CHAIN {
                return Err(self.chain_too_long());
            }
            match self.peek().kind {
                TokenKind::Dot
                    if self.kind_at(1) == TokenKind::LBracket && !self.at_bracket_ident(1) =>
                {
                    self.bump();
                    expr = self.finish_index(expr)?;
                }
                TokenKind::Dot if self.at_ident_after_dot() => {
                    self.bump();
                    let member = self.parse_ident("after '.'")?;
                    if self.at(TokenKind::LParen) {
                        let call = self.finish_call(member)?;
                        expr = Expr {
                            span: expr.span.to(call.span),
                            kind: ExprKind::MethodCall {
                                target: Box::new(expr),
                                call,
                            },
                        };
                    } else {
                        expr = Expr {
                            span: expr.span.to(member.span),
                            kind: ExprKind::Member {
                                target: Box::new(expr),
                                member,
                            },
                        };
                    }
                }
                TokenKind::LBracket => expr = self.finish_index(expr)?,
                // `database('d').*` is a wildcard pattern, read by the union/find operand.
                TokenKind::Dot if self.kind_at(1) != TokenKind::Star => {
                    self.bump();
                    return Err(self.expected("a name or '['", "after '.'"));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn at_ident_after_dot(&self) -> bool {
        self.kind_at(1) == TokenKind::Ident || self.at_bracket_ident(1)
    }

    fn finish_index(&mut self, target: Expr) -> PResult<Expr> {
        let open = self.bump();
        let index = self.parse_expr()?;
        self.expect_close(open, "the index")?;
        Ok(Expr {
            span: self.span_from(target.span.start),
            kind: ExprKind::Index {
                target: Box::new(target),
                index: Box::new(index),
            },
        })
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let token = self.peek();
        match token.kind {
            TokenKind::NumberWithSuffix if self.at_digit_name(0) => {
                let name = self.parse_ident("")?;
                if self.at(TokenKind::LParen) {
                    let call = self.finish_call(name)?;
                    return Ok(Expr {
                        span: call.span,
                        kind: ExprKind::Call(call),
                    });
                }
                Ok(Expr {
                    span: name.span,
                    kind: ExprKind::Name(name),
                })
            }
            TokenKind::Int | TokenKind::Real | TokenKind::NumberWithSuffix | TokenKind::String => {
                let literal = self.parse_plain_literal()?;
                Ok(Expr {
                    span: literal.span,
                    kind: ExprKind::Literal(literal),
                })
            }
            TokenKind::Ident => {
                let word = self.text(token);
                if let Some(literal) = self.try_keyword_literal(word)? {
                    return Ok(Expr {
                        span: literal.span,
                        kind: ExprKind::Literal(literal),
                    });
                }
                if word == "typeof" && self.kind_at(1) == TokenKind::LParen {
                    return self.parse_typeof();
                }
                let name = self.parse_ident("")?;
                if self.at(TokenKind::LParen) {
                    let call = self.finish_call(name)?;
                    return Ok(Expr {
                        span: call.span,
                        kind: ExprKind::Call(call),
                    });
                }
                Ok(Expr {
                    span: name.span,
                    kind: ExprKind::Name(name),
                })
            }
            TokenKind::LBracket if self.at_bracket_ident(0) => {
                let name = self.parse_ident("")?;
                Ok(Expr {
                    span: name.span,
                    kind: ExprKind::Name(name),
                })
            }
            TokenKind::LParen => {
                let open = self.bump();
                let inner = self.parse_expr_or_tabular()?;
                self.expect_close(open, "the parenthesised expression")?;
                let span = self.span_from(open.span.start);
                Ok(Expr {
                    span,
                    kind: ExprKind::Paren(Box::new(inner)),
                })
            }
            TokenKind::Star => {
                self.bump();
                Ok(Expr {
                    span: token.span,
                    kind: ExprKind::Star,
                })
            }
            _ => {
                if self.pos > 0 {
                    let previous = self.tokens[self.pos - 1];
                    if !matches!(previous.kind, TokenKind::Pipe | TokenKind::Semicolon) {
                        return Err(self.missing_operand(previous));
                    }
                }
                Err(self.expected("an expression", ""))
            }
        }
    }

    /// `typeof(type)` or `typeof(*, name:type, ...)`; the cursor is at `typeof`.
    fn parse_typeof(&mut self) -> PResult<Expr> {
        let start = self.bump().span.start;
        let is_scalar = self.kind_at(1) == TokenKind::Ident && self.kind_at(2) == TokenKind::RParen;
        let arg = if is_scalar {
            let open = self.bump();
            let ty = self.type_name()?;
            self.expect_close(open, "typeof")?;
            TypeOfArg::Scalar(ty)
        } else {
            TypeOfArg::Schema(self.tabular_schema()?)
        };
        Ok(Expr {
            kind: ExprKind::TypeOf(arg),
            span: self.span_from(start),
        })
    }

    /// `name(args)`; the cursor is at `(`.
    pub(crate) fn finish_call(&mut self, name: Ident) -> PResult<FunctionCall> {
        let open = self.bump();
        let mut args = Vec::new();
        while !self.at(TokenKind::RParen) {
            let start = self.start();
            let arg_name = if (self.kind_at(0) == TokenKind::Ident || self.at_digit_name(0))
                && self.kind_at(1) == TokenKind::Assign
            {
                let name = self.parse_ident("")?;
                self.bump();
                Some(name)
            } else {
                None
            };
            let value = self.parse_expr_or_tabular()?;
            args.push(Argument {
                name: arg_name,
                value,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, "the argument list")?;
        Ok(FunctionCall {
            span: self.span_from(name.span.start),
            name,
            args,
        })
    }

    /// `[name =] expr` or `(a, b) = expr`.
    pub(crate) fn parse_named_expr(&mut self) -> PResult<NamedExpr> {
        let start = self.start();
        let mut names = Vec::new();
        if self.at_tuple_assignment() {
            let open = self.bump();
            while !self.at(TokenKind::RParen) {
                names.push(self.parse_ident("in the column list")?);
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the column list")?;
            self.bump();
        } else if ((self.at(TokenKind::Ident) || self.at_digit_name(0))
            && self.kind_at(1) == TokenKind::Assign)
            || (self.at_bracket_ident(0) && self.kind_at(3) == TokenKind::Assign)
        {
            names.push(self.parse_ident("")?);
            self.bump();
        }
        let expr = self.parse_expr()?;
        Ok(NamedExpr {
            names,
            expr,
            span: self.span_from(start),
        })
    }

    fn at_tuple_assignment(&self) -> bool {
        if !self.at(TokenKind::LParen) {
            return false;
        }
        let mut ahead = 1;
        loop {
            if self.kind_at(ahead) == TokenKind::Ident {
                ahead += 1;
            } else if self.at_bracket_ident(ahead) {
                ahead += 3;
            } else {
                return false;
            }
            match self.kind_at(ahead) {
                TokenKind::Comma => ahead += 1,
                TokenKind::RParen => return self.kind_at(ahead + 1) == TokenKind::Assign,
                _ => return false,
            }
        }
    }

    pub(crate) fn parse_named_list(&mut self) -> PResult<Vec<NamedExpr>> {
        let mut items = vec![self.parse_named_expr()?];
        while self.eat(TokenKind::Comma).is_some() {
            // Kusto tolerates a trailing comma before the end of the operator.
            if matches!(
                self.peek().kind,
                TokenKind::Pipe | TokenKind::Semicolon | TokenKind::Eof | TokenKind::RParen
            ) {
                break;
            }
            items.push(self.parse_named_expr()?);
        }
        Ok(items)
    }

    pub(crate) fn parse_expr_list(&mut self) -> PResult<Vec<Expr>> {
        let mut items = vec![self.parse_expr()?];
        while self.eat(TokenKind::Comma).is_some() {
            items.push(self.parse_expr()?);
        }
        Ok(items)
    }

    /// `expr [asc|desc] [nulls first|last]`, comma-separated.
    pub(crate) fn parse_sort_keys(&mut self) -> PResult<Vec<SortKey>> {
        let mut keys = Vec::new();
        loop {
            let start = self.start();
            let expr = self.parse_expr()?;
            let order = self.parse_sort_order();
            let nulls = if self.at_word("nulls") {
                let nulls_token = self.bump();
                let value = match self.word_at(0) {
                    Some("first") => NullsOrder::First,
                    Some("last") => NullsOrder::Last,
                    _ => return Err(self.expected("'first' or 'last'", "after 'nulls'")),
                };
                let token = self.bump();
                Some(Spanned {
                    value,
                    span: nulls_token.span.to(token.span),
                })
            } else {
                None
            };
            keys.push(SortKey {
                expr,
                order,
                nulls,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                return Ok(keys);
            }
        }
    }

    pub(crate) fn parse_sort_order(&mut self) -> Option<Spanned<SortOrder>> {
        let value = match self.word_at(0) {
            Some("asc") => SortOrder::Asc,
            Some("desc") => SortOrder::Desc,
            _ => return None,
        };
        let token = self.bump();
        Some(Spanned {
            value,
            span: token.span,
        })
    }
}

/// Whether `expr` can be read as a pipeline source (a name, call, dotted path or
/// parenthesised query).
fn is_source_like(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Name(_) | ExprKind::Call(_) | ExprKind::Tabular(_) => true,
        ExprKind::Paren(inner) => is_source_like(inner),
        ExprKind::Member { target, .. } | ExprKind::MethodCall { target, .. } => {
            is_source_like(target)
        }
        _ => false,
    }
}

fn collect_path(expr: Expr, parts: &mut Vec<PathPart>) -> Option<()> {
    match expr.kind {
        ExprKind::Name(ident) => parts.push(PathPart::Name(ident)),
        ExprKind::Call(call) => parts.push(PathPart::Call(call)),
        ExprKind::Member { target, member } => {
            collect_path(*target, parts)?;
            parts.push(PathPart::Name(member));
        }
        ExprKind::MethodCall { target, call } => {
            collect_path(*target, parts)?;
            parts.push(PathPart::Call(call));
        }
        _ => return None,
    }
    Some(())
}
