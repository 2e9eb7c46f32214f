//! Tabular expressions: sources, pipelines and every tabular operator.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::token::TokenKind;

/// Operators that may follow `|`, for "did you mean" suggestions.
pub const PIPE_OPERATORS: &[&str] = &[
    "as",
    "consume",
    "count",
    "distinct",
    "evaluate",
    "extend",
    "facet",
    "filter",
    "fork",
    "getschema",
    "graph-mark-components",
    "graph-match",
    "graph-merge",
    "graph-shortest-paths",
    "graph-to-table",
    "invoke",
    "join",
    "limit",
    "lookup",
    "make-graph",
    "make-series",
    "mv-apply",
    "mv-expand",
    "mvapply",
    "mvexpand",
    "order",
    "parse",
    "parse-kv",
    "parse-where",
    "partition",
    "project",
    "project-away",
    "project-by-names",
    "project-keep",
    "project-rename",
    "project-reorder",
    "reduce",
    "render",
    "sample",
    "sample-distinct",
    "scan",
    "search",
    "serialize",
    "sort",
    "summarize",
    "take",
    "top",
    "top-hitters",
    "top-nested",
    "union",
    "where",
];

/// Operators that produce rows without an input and can start a pipeline.
const SOURCE_OPERATORS: &[&str] = &[
    "datatable",
    "externaldata",
    "external_data",
    "inline_external_table",
    "print",
    "range",
    "union",
    "find",
    "search",
    "evaluate",
];

const SQL_HINTS: &[(&str, &str)] = &[
    ("select", "KQL chooses columns with 'project'"),
    ("group", "KQL groups with 'summarize ... by ...'"),
    ("having", "filter after 'summarize' with 'where'"),
    ("from", "a KQL query starts with the table name"),
];

impl Parser<'_> {
    /// Whether the cursor is at an operator that starts a pipeline by itself (`print`, `range x
    /// from ...`, `datatable(...)`, ...), as opposed to a name or call.
    pub(crate) fn at_tabular_operator_source(&self) -> bool {
        let Some(word) = self.word_at(0) else {
            return false;
        };
        if word == "macro" {
            return self.at_macro_expand();
        }
        if !SOURCE_OPERATORS.contains(&word) {
            return false;
        }
        let next = self.kind_at(1);
        // A following token that ends an operand means the word is a column or table name.
        let ends_a_name = matches!(
            next,
            TokenKind::Pipe
                | TokenKind::RParen
                | TokenKind::RBracket
                | TokenKind::Comma
                | TokenKind::Semicolon
                | TokenKind::Eof
                | TokenKind::Assign
                | TokenKind::EqEq
                | TokenKind::Dot
        );
        match word {
            "datatable" | "externaldata" | "external_data" => next == TokenKind::LParen,
            "inline_external_table" => matches!(next, TokenKind::LParen | TokenKind::Ident),
            "range" | "evaluate" => next == TokenKind::Ident,
            // `find(...)` / `search(...)` would be calls of functions with those names.
            "find" | "search" => !ends_a_name && next != TokenKind::LParen,
            // A bare `print` (statement end) is the operator with no columns.
            "print" => {
                !ends_a_name
                    || matches!(
                        next,
                        TokenKind::Eof | TokenKind::Semicolon | TokenKind::Pipe
                    )
            }
            _ => !ends_a_name,
        }
    }

    /// `macro-expand` written without spaces (otherwise `macro - expand` is a subtraction).
    fn at_macro_expand(&self) -> bool {
        self.at_word("macro")
            && self.kind_at(1) == TokenKind::Minus
            && self.word_at(2) == Some("expand")
            && self.adjacent(0)
            && self.adjacent(1)
    }

    /// A pipeline with a source.
    pub(crate) fn parse_tabular(&mut self) -> PResult<TabularExpr> {
        self.nested(Self::tabular_inner)
    }

    fn tabular_inner(&mut self) -> PResult<TabularExpr> {
        let source = self.parse_source()?;
        self.parse_pipeline_rest(Some(source))
    }

    pub(crate) fn parse_source(&mut self) -> PResult<Source> {
        let start = self.start();
        if self.at_tabular_operator_source() {
            let operator = self.parse_operator(true)?;
            return Ok(Source {
                span: operator.span,
                kind: SourceKind::Operator(Box::new(operator)),
            });
        }
        let expr = self.parse_postfix()?;
        let span = expr.span;
        self.expr_to_source(expr)
            .ok_or_else(|| {
                Diagnostic::new(
                    "expected a tabular expression (a table name, a call or a query)",
                    span,
                )
            })
            .map(|mut source| {
                source.span = self.span_from(start);
                source
            })
    }

    /// `| op | op ...` after `source`.
    pub(crate) fn parse_pipeline_rest(&mut self, source: Option<Source>) -> PResult<TabularExpr> {
        let start = source.as_ref().map_or(self.start(), |s| s.span.start);
        let mut operators = Vec::new();
        while self.eat(TokenKind::Pipe).is_some() {
            operators.push(self.parse_operator(false)?);
        }
        Ok(TabularExpr {
            source: source.map(Box::new),
            operators,
            span: self.span_from(start),
        })
    }

    /// A sub-query that runs on the input of its operator (`mv-apply ... on (...)`, fork
    /// branches, ...): operators without a source, or a full pipeline.
    fn parse_input_subquery(&mut self) -> PResult<TabularExpr> {
        self.nested(Self::input_subquery_inner)
    }

    fn input_subquery_inner(&mut self) -> PResult<TabularExpr> {
        if self.at_pipe_operator_name() {
            let start = self.start();
            let mut operators = vec![self.parse_operator(false)?];
            while self.eat(TokenKind::Pipe).is_some() {
                operators.push(self.parse_operator(false)?);
            }
            Ok(TabularExpr {
                source: None,
                operators,
                span: self.span_from(start),
            })
        } else {
            self.tabular_inner()
        }
    }

    fn at_pipe_operator_name(&self) -> bool {
        let Some(word) = self.word_at(0) else {
            return false;
        };
        if matches!(self.kind_at(1), TokenKind::Pipe | TokenKind::RParen)
            && word != "count"
            && word != "getschema"
            && word != "serialize"
        {
            return false;
        }
        let hyphenated = self.kind_at(1) == TokenKind::Minus && self.adjacent(0);
        PIPE_OPERATORS.contains(&word)
            || (hyphenated
                && PIPE_OPERATORS
                    .iter()
                    .any(|op| op.starts_with(&format!("{word}-"))))
    }

    /// The operator name, joining hyphenated spellings (`project-away`, `graph-shortest-paths`).
    fn operator_name(&mut self) -> PResult<(String, crate::span::Span)> {
        if !self.at(TokenKind::Ident) {
            return Err(self.expected("an operator", "after '|'").with_hint(
                "operators include where, extend, project, summarize, join, sort, take",
            ));
        }
        let first = self.bump();
        let mut name = self.text(first).to_string();
        while self.at(TokenKind::Minus)
            && self.kind_at(1) == TokenKind::Ident
            && self.tokens[self.pos - 1].span.end == self.peek().span.start
            && self.adjacent(0)
        {
            let candidate = format!("{name}-{}", self.text(self.peek_at(1)));
            if !PIPE_OPERATORS
                .iter()
                .chain(["project-smart", "macro-expand"].iter())
                .any(|op| *op == candidate || op.starts_with(&format!("{candidate}-")))
            {
                break;
            }
            self.bump();
            self.bump();
            name = candidate;
        }
        Ok((name, self.span_from(first.span.start)))
    }

    /// Options `name=value` whose name is in `names` or starts with `hint.`.
    fn parse_params(&mut self, names: &[&str]) -> PResult<Vec<OperatorParam>> {
        let mut params = Vec::new();
        while let Some(word) = self.word_at(0) {
            let is_hint = word == "hint"
                && self.kind_at(1) == TokenKind::Dot
                && self.kind_at(2) == TokenKind::Ident
                && self.kind_at(3) == TokenKind::Assign;
            let is_named = names.contains(&word) && self.kind_at(1) == TokenKind::Assign;
            if !is_hint && !is_named {
                break;
            }
            params.push(self.parse_one_param()?);
        }
        Ok(params)
    }

    fn parse_one_param(&mut self) -> PResult<OperatorParam> {
        let start = self.start();
        let name = self.dotted_name()?;
        self.expect(TokenKind::Assign, "after the option name")?;
        let value = self.parse_param_value()?;
        Ok(OperatorParam {
            name,
            value,
            span: self.span_from(start),
        })
    }

    /// An option value: a literal or a bare name (never a call, so `hint.strategy=broadcast (`
    /// leaves the parenthesis to the operator).
    fn parse_param_value(&mut self) -> PResult<Expr> {
        if let Some(word) = self.word_at(0)
            && let Some(literal) = self.try_keyword_literal(word)?
        {
            return Ok(Expr {
                span: literal.span,
                kind: ExprKind::Literal(literal),
            });
        }
        if self.at_ident() {
            let name = self.parse_ident("")?;
            return Ok(Expr {
                span: name.span,
                kind: ExprKind::Name(name),
            });
        }
        self.parse_unary()
    }

    /// `( name = value, ... )` property lists; list values such as `ycolumns = a, b` become
    /// `ExprKind::List`.
    fn parse_property_list(&mut self, what: &str) -> PResult<Vec<OperatorParam>> {
        let open = self.expect(TokenKind::LParen, &format!("to start {what}"))?;
        let mut properties = Vec::new();
        while !self.at(TokenKind::RParen) {
            let start = self.start();
            let name = self.dotted_name()?;
            self.expect(TokenKind::Assign, "after the property name")?;
            let value = self.parse_property_value()?;
            properties.push(OperatorParam {
                name,
                value,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_close(open, what)?;
        Ok(properties)
    }

    fn parse_property_value(&mut self) -> PResult<Expr> {
        let first = self.parse_expr()?;
        let mut items = Vec::new();
        while self.at(TokenKind::Comma)
            && !(self.kind_at(1) == TokenKind::Ident && self.kind_at(2) == TokenKind::Assign)
            && !(self.kind_at(1) == TokenKind::Ident
                && self.kind_at(2) == TokenKind::Dot
                && self.kind_at(4) == TokenKind::Assign)
            && self.kind_at(1) != TokenKind::RParen
        {
            self.bump();
            items.push(self.parse_expr()?);
        }
        if items.is_empty() {
            return Ok(first);
        }
        let start = first.span.start;
        items.insert(0, first);
        Ok(Expr {
            kind: ExprKind::List(items),
            span: self.span_from(start),
        })
    }

    fn unknown_operator(&self, name: &str, span: crate::span::Span) -> Diagnostic {
        let mut diagnostic = Diagnostic::new(format!("unknown operator '{name}'"), span);
        let lower = name.to_ascii_lowercase();
        if let Some((_, hint)) = SQL_HINTS.iter().find(|(word, _)| *word == lower) {
            diagnostic.message = format!("unknown operator '{name}' (SQL is not KQL)");
            return diagnostic.with_hint(*hint);
        }
        let best = PIPE_OPERATORS
            .iter()
            .map(|op| (strsim::damerau_levenshtein(&lower, op), *op))
            .min_by_key(|(distance, _)| *distance);
        if let Some((0, op)) = best {
            diagnostic.message = format!("unknown operator '{name}'; did you mean '{op}'?");
            return diagnostic.with_hint("operator names are case-sensitive");
        }
        if let Some((distance, op)) = best
            && distance <= (name.len() / 3).max(1)
        {
            diagnostic.message = format!("unknown operator '{name}'; did you mean '{op}'?");
            return diagnostic.with_hint(format!("did you mean '{op}'?"));
        }
        diagnostic
            .with_hint("operators include where, extend, project, summarize, join, sort, top, take")
    }

    pub(crate) fn parse_operator(&mut self, as_source: bool) -> PResult<Operator> {
        let start = self.start();
        let (name, name_span) = self.operator_name()?;
        let kind = self.operator_body(&name, name_span, as_source)?;
        Ok(Operator {
            kind,
            span: self.span_from(start),
        })
    }

    fn operator_body(
        &mut self,
        name: &str,
        name_span: crate::span::Span,
        as_source: bool,
    ) -> PResult<OperatorKind> {
        Ok(match name {
            "where" | "filter" => {
                let predicate = self.parse_expr()?;
                if self.at(TokenKind::Assign) {
                    return Err(Diagnostic::new(
                        "'=' is not a comparison operator",
                        self.peek().span,
                    )
                    .with_expected(vec!["'=='".to_string()])
                    .with_hint("use '==' to compare values (or '=~' to ignore case)"));
                }
                OperatorKind::Where { predicate }
            }
            "extend" => OperatorKind::Extend {
                columns: self.parse_named_list()?,
            },
            "project" => OperatorKind::Project {
                columns: self.parse_named_list()?,
            },
            "project-away" => OperatorKind::ProjectAway {
                columns: self.pattern_list()?,
            },
            "project-by-names" => OperatorKind::ProjectByNames {
                columns: self.parse_expr_list()?,
            },
            "macro-expand" if as_source => self.macro_expand()?,
            "macro-expand" => {
                return Err(Diagnostic::new(
                    "'macro-expand' starts a query; it cannot follow '|'",
                    name_span,
                )
                .with_hint("write `macro-expand Group as X (X.T | ...)` and pipe its result"));
            }
            "project-keep" => OperatorKind::ProjectKeep {
                columns: self.pattern_list()?,
            },
            "project-rename" => {
                let mut columns = Vec::new();
                loop {
                    let start = self.start();
                    let new_name = self.parse_ident("in project-rename")?;
                    self.expect(TokenKind::Assign, "after the new column name")?;
                    let old_name = self.parse_ident("after '='")?;
                    columns.push(RenameColumn {
                        new_name,
                        old_name,
                        span: self.span_from(start),
                    });
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                OperatorKind::ProjectRename { columns }
            }
            "project-reorder" => {
                let mut columns = Vec::new();
                loop {
                    let start = self.start();
                    let pattern = self.parse_name_pattern("in project-reorder")?;
                    let order = match self.word_at(0) {
                        Some("asc" | "desc") => Some(self.parse_ident("")?),
                        Some("granny") if self.kind_at(1) == TokenKind::Minus => {
                            let first = self.bump();
                            self.bump();
                            let suffix = self.parse_ident("after 'granny-'")?;
                            Some(Ident {
                                name: format!("granny-{}", suffix.name),
                                span: first.span.to(suffix.span),
                            })
                        }
                        _ => None,
                    };
                    columns.push(ReorderColumn {
                        pattern,
                        order,
                        span: self.span_from(start),
                    });
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                OperatorKind::ProjectReorder { columns }
            }
            "summarize" => {
                let params = self.parse_params(&[])?;
                let aggregates = if self.at_by() || self.at_operator_end() {
                    Vec::new()
                } else {
                    self.parse_named_list()?
                };
                let by = if self.eat_word("by").is_some() {
                    self.parse_named_list()?
                } else {
                    Vec::new()
                };
                OperatorKind::Summarize {
                    params,
                    aggregates,
                    by,
                }
            }
            "count" => OperatorKind::Count {
                params: self.parse_params(&[])?,
            },
            "distinct" => {
                let params = self.parse_params(&[])?;
                OperatorKind::Distinct {
                    params,
                    columns: self.parse_named_list()?,
                }
            }
            "take" | "limit" => {
                let params = self.parse_params(&[])?;
                OperatorKind::Take {
                    params,
                    count: self.parse_expr()?,
                }
            }
            "top" => {
                let params = self.parse_params(&[])?;
                let count = self.parse_expr()?;
                self.expect_word("by", "after the number of rows in 'top'")?;
                OperatorKind::Top {
                    params,
                    count,
                    by: self.parse_sort_keys()?,
                }
            }
            "top-nested" => self.top_nested()?,
            "top-hitters" => {
                let count = self.parse_expr()?;
                self.expect_word("of", "after the number of rows in 'top-hitters'")?;
                let of = self.parse_expr()?;
                let by = if self.eat_word("by").is_some() {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                OperatorKind::TopHitters { count, of, by }
            }
            "sort" | "order" => {
                let params = self.parse_params(&[])?;
                self.expect_word("by", &format!("after '{name}'"))?;
                OperatorKind::Sort {
                    params,
                    keys: self.parse_sort_keys()?,
                }
            }
            "join" => OperatorKind::Join(self.join_body("join")?),
            "lookup" => OperatorKind::Lookup(self.join_body("lookup")?),
            "union" => {
                let params = self.parse_params(&["kind", "withsource", "isfuzzy"])?;
                let mut operands = Vec::new();
                loop {
                    operands.push(self.union_operand()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                OperatorKind::Union { params, operands }
            }
            "mv-expand" | "mvexpand" => {
                let params = self.parse_params(&["bagexpansion", "with_itemindex", "kind"])?;
                let items = self.mv_items()?;
                let limit = if self.eat_word("limit").is_some() {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                OperatorKind::MvExpand {
                    params,
                    items,
                    limit,
                }
            }
            "mv-apply" | "mvapply" => {
                let params = self.parse_params(&["with_itemindex", "bagexpansion", "kind"])?;
                let items = self.mv_items()?;
                let limit = if self.eat_word("limit").is_some() {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                self.expect_word("on", "before the mv-apply sub-query")?;
                let open = self.expect(TokenKind::LParen, "to start the mv-apply sub-query")?;
                let subquery = self.parse_input_subquery()?;
                self.expect_close(open, "the mv-apply sub-query")?;
                OperatorKind::MvApply {
                    params,
                    items,
                    limit,
                    subquery: Box::new(subquery),
                }
            }
            "parse" => OperatorKind::Parse(self.parse_body()?),
            "parse-where" => OperatorKind::ParseWhere(self.parse_body()?),
            "parse-kv" => {
                let input = self.parse_expr()?;
                self.expect_word("as", "after the parse-kv input")?;
                let captures = self.column_decl_list("the parse-kv columns")?;
                let properties = if self.eat_word("with").is_some() {
                    self.parse_property_list("the parse-kv options")?
                } else {
                    Vec::new()
                };
                OperatorKind::ParseKv {
                    input,
                    captures,
                    properties,
                }
            }
            "make-series" => self.make_series()?,
            "evaluate" => {
                let params = self.parse_params(&[])?;
                let plugin_name = self.parse_ident("after 'evaluate'")?;
                if !self.at(TokenKind::LParen) {
                    return Err(self.expected("'('", "after the plugin name"));
                }
                let plugin = self.finish_call(plugin_name)?;
                let output_schema = if self.eat(TokenKind::Colon).is_some() {
                    if !self.at(TokenKind::LParen) {
                        return Err(self.expected("'('", "to start the plugin output schema"));
                    }
                    Some(self.tabular_schema()?)
                } else {
                    None
                };
                OperatorKind::Evaluate {
                    params,
                    plugin,
                    output_schema,
                }
            }
            "render" => {
                let visualization = self.parse_ident("after 'render'")?;
                let mut properties = Vec::new();
                if self.eat_word("with").is_some() {
                    properties = self.parse_property_list("the render properties")?;
                } else {
                    while self.at(TokenKind::Ident) && self.kind_at(1) == TokenKind::Assign {
                        let start = self.start();
                        let name = self.parse_ident("")?;
                        self.bump();
                        let value = self.parse_property_value()?;
                        properties.push(OperatorParam {
                            name,
                            value,
                            span: self.span_from(start),
                        });
                    }
                }
                OperatorKind::Render {
                    visualization,
                    properties,
                }
            }
            "search" => {
                let params = self.parse_params(&["kind"])?;
                let tables = if self.at_word("in") && self.kind_at(1) == TokenKind::LParen {
                    self.bump();
                    let open = self.bump();
                    let mut tables = Vec::new();
                    while !self.at(TokenKind::RParen) {
                        tables.push(self.parse_name_pattern("in the table list")?);
                        if self.eat(TokenKind::Comma).is_none() {
                            break;
                        }
                    }
                    self.expect_close(open, "the table list")?;
                    Some(tables)
                } else {
                    None
                };
                let predicate = self.search_predicate()?;
                OperatorKind::Search {
                    params,
                    tables,
                    predicate,
                }
            }
            "find" => self.find()?,
            "facet" => {
                self.expect_word("by", "after 'facet'")?;
                let mut columns = vec![self.parse_ident("after 'facet by'")?];
                while self.eat(TokenKind::Comma).is_some() {
                    columns.push(self.parse_ident("in the facet columns")?);
                }
                let with = if self.eat_word("with").is_some() {
                    if let Some(open) = self.eat(TokenKind::LParen) {
                        let subquery = self.parse_input_subquery()?;
                        self.expect_close(open, "the facet sub-query")?;
                        Some(Box::new(subquery))
                    } else {
                        let start = self.start();
                        let operator = self.parse_operator(false)?;
                        Some(Box::new(TabularExpr {
                            source: None,
                            operators: vec![operator],
                            span: self.span_from(start),
                        }))
                    }
                } else {
                    None
                };
                OperatorKind::Facet { columns, with }
            }
            "fork" => {
                let mut branches = Vec::new();
                while self.at(TokenKind::LParen)
                    || (self.at(TokenKind::Ident)
                        && self.kind_at(1) == TokenKind::Assign
                        && self.kind_at(2) == TokenKind::LParen)
                {
                    let start = self.start();
                    let name = if self.at(TokenKind::Ident) {
                        let name = self.parse_ident("")?;
                        self.bump();
                        Some(name)
                    } else {
                        None
                    };
                    let open = self.bump();
                    let body = self.parse_input_subquery()?;
                    self.expect_close(open, "the fork branch")?;
                    branches.push(ForkBranch {
                        name,
                        body,
                        span: self.span_from(start),
                    });
                }
                if branches.is_empty() {
                    return Err(self.expected("'('", "to start a fork branch"));
                }
                OperatorKind::Fork { branches }
            }
            "partition" => {
                let params = self.parse_params(&[])?;
                self.expect_word("by", "after 'partition'")?;
                let column = self.parse_ident("after 'partition by'")?;
                let by = Expr {
                    span: column.span,
                    kind: ExprKind::Name(column),
                };
                let subquery = if let Some(open) = self.eat(TokenKind::LParen) {
                    let subquery = self.parse_input_subquery()?;
                    self.expect_close(open, "the partition sub-query")?;
                    subquery
                } else if let Some(open) = self.eat(TokenKind::LBrace) {
                    let subquery = self.parse_tabular()?;
                    self.expect_close(open, "the partition sub-query")?;
                    subquery
                } else {
                    return Err(self.expected("'(' or '{'", "to start the partition sub-query"));
                };
                OperatorKind::Partition {
                    params,
                    by,
                    subquery: Box::new(subquery),
                }
            }
            "scan" => self.scan()?,
            "as" => {
                let params = self.parse_params(&[])?;
                OperatorKind::As {
                    params,
                    name: self.parse_ident("after 'as'")?,
                }
            }
            "invoke" => {
                let name = self.parse_ident("after 'invoke'")?;
                if !self.at(TokenKind::LParen) {
                    return Err(self.expected("'('", "after the function name"));
                }
                OperatorKind::Invoke {
                    function: self.finish_call(name)?,
                }
            }
            "serialize" => {
                let columns = if self.at_operator_end() {
                    Vec::new()
                } else {
                    self.parse_named_list()?
                };
                OperatorKind::Serialize { columns }
            }
            "sample" => {
                let params = self.parse_params(&[])?;
                OperatorKind::Sample {
                    params,
                    count: self.parse_expr()?,
                }
            }
            "sample-distinct" => {
                let params = self.parse_params(&[])?;
                let count = self.parse_expr()?;
                self.expect_word("of", "after the number of values in 'sample-distinct'")?;
                OperatorKind::SampleDistinct {
                    params,
                    count,
                    of: self.parse_expr()?,
                }
            }
            "getschema" => OperatorKind::GetSchema,
            "consume" => OperatorKind::Consume {
                params: self.parse_params(&["decodeblocks"])?,
            },
            "reduce" => {
                let params = self.parse_params(&["kind"])?;
                self.expect_word("by", "after 'reduce'")?;
                let by = self.parse_expr()?;
                let mut with = Vec::new();
                if self.eat_word("with").is_some() {
                    loop {
                        with.push(self.parse_one_param()?);
                        if self.eat(TokenKind::Comma).is_none() {
                            break;
                        }
                    }
                }
                OperatorKind::Reduce { params, by, with }
            }
            "print" if as_source => {
                let columns = if self.at_operator_end() {
                    Vec::new()
                } else {
                    self.parse_named_list()?
                };
                OperatorKind::Print { columns }
            }
            "range" if as_source => {
                let column = self.parse_ident("after 'range'")?;
                self.expect_word("from", "after the range column")?;
                let from = self.parse_expr()?;
                self.expect_word("to", "after the range start")?;
                let to = self.parse_expr()?;
                self.expect_word("step", "after the range end")?;
                let step = self.parse_expr()?;
                OperatorKind::Range {
                    column,
                    from,
                    to,
                    step,
                }
            }
            "datatable" if as_source => {
                let schema = self.column_decl_list("the datatable schema")?;
                let open = self.expect(TokenKind::LBracket, "to start the datatable values")?;
                // Generated datatables sometimes put the separator first: `[ , "a", "b"`.
                self.eat(TokenKind::Comma);
                let mut values = Vec::new();
                while !self.at(TokenKind::RBracket) {
                    values.push(self.parse_expr()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the datatable values")?;
                OperatorKind::Datatable { schema, values }
            }
            "inline_external_table" if as_source => {
                // The schema is optional (delta tables carry their own).
                let has_schema = self.at(TokenKind::LParen)
                    && self.kind_at(1) == TokenKind::Ident
                    && self.kind_at(2) == TokenKind::Colon;
                let schema = if has_schema {
                    self.column_decl_list("the inline_external_table schema")?
                } else {
                    Vec::new()
                };
                let params = self.parse_params(&["kind", "dataformat"])?;
                let open = self.expect(TokenKind::LParen, "to start the storage URIs")?;
                let mut uris = Vec::new();
                while !self.at(TokenKind::RParen) {
                    uris.push(self.parse_string_literal()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the storage URIs")?;
                let properties = if self.eat_word("with").is_some() {
                    self.parse_property_list("the inline_external_table properties")?
                } else {
                    Vec::new()
                };
                OperatorKind::InlineExternalTable {
                    schema,
                    params,
                    uris,
                    properties,
                }
            }
            "externaldata" | "external_data" if as_source => {
                let schema = self.column_decl_list("the externaldata schema")?;
                let open = self.expect(TokenKind::LBracket, "to start the externaldata URIs")?;
                let mut uris = Vec::new();
                while !self.at(TokenKind::RBracket) {
                    uris.push(self.parse_string_literal()?);
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                self.expect_close(open, "the externaldata URIs")?;
                let properties = if self.eat_word("with").is_some() {
                    self.parse_property_list("the externaldata properties")?
                } else {
                    Vec::new()
                };
                OperatorKind::ExternalData {
                    schema,
                    uris,
                    properties,
                }
            }
            "make-graph" => self.make_graph()?,
            "graph-match" | "graph-shortest-paths" => {
                let params = self.parse_params(&["cycles", "output"])?;
                let mut patterns = vec![self.graph_pattern()?];
                while self.eat(TokenKind::Comma).is_some() {
                    patterns.push(self.graph_pattern()?);
                }
                let predicate = if self.eat_word("where").is_some() {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                let project = if self.eat_word("project").is_some() {
                    self.parse_named_list()?
                } else {
                    Vec::new()
                };
                if name == "graph-match" {
                    OperatorKind::GraphMatch {
                        params,
                        patterns,
                        predicate,
                        project,
                    }
                } else {
                    OperatorKind::GraphShortestPaths {
                        params,
                        patterns,
                        predicate,
                        project,
                    }
                }
            }
            "graph-mark-components" => OperatorKind::GraphMarkComponents {
                params: self.parse_params(&["kind", "with_component_id"])?,
            },
            "graph-to-table" => {
                let mut parts = Vec::new();
                loop {
                    let start = self.start();
                    let entity = self.parse_ident("in graph-to-table")?;
                    if entity.name != "nodes" && entity.name != "edges" {
                        return Err(Diagnostic::new(
                            format!("expected 'nodes' or 'edges', found '{}'", entity.name),
                            entity.span,
                        ));
                    }
                    let alias = if self.eat_word("as").is_some() {
                        Some(self.parse_ident("after 'as'")?)
                    } else {
                        None
                    };
                    let params =
                        self.parse_params(&["with_node_id", "with_source_id", "with_target_id"])?;
                    parts.push(GraphToTablePart {
                        entity,
                        alias,
                        params,
                        span: self.span_from(start),
                    });
                    if self.eat(TokenKind::Comma).is_none() {
                        break;
                    }
                }
                OperatorKind::GraphToTable { parts }
            }
            "graph-merge" => {
                let right = self.join_right_side()?;
                let on = if self.eat_word("on").is_some() {
                    self.join_keys()?
                } else {
                    Vec::new()
                };
                OperatorKind::GraphMerge {
                    right: Box::new(right),
                    on,
                }
            }
            _ => return Err(self.unknown_operator(name, name_span)),
        })
    }

    fn at_by(&self) -> bool {
        self.at_word("by") && self.kind_at(1) != TokenKind::Assign
    }

    fn at_operator_end(&self) -> bool {
        matches!(
            self.peek().kind,
            TokenKind::Pipe
                | TokenKind::Semicolon
                | TokenKind::Eof
                | TokenKind::RParen
                | TokenKind::RBrace
        )
    }

    fn pattern_list(&mut self) -> PResult<Vec<NamePattern>> {
        let mut columns = vec![self.parse_name_pattern("")?];
        while self.eat(TokenKind::Comma).is_some() {
            columns.push(self.parse_name_pattern("")?);
        }
        Ok(columns)
    }

    fn top_nested(&mut self) -> PResult<OperatorKind> {
        let mut levels = Vec::new();
        loop {
            let start = self.start();
            let count = if self.at_word("of") {
                None
            } else {
                Some(self.parse_expr()?)
            };
            self.expect_word("of", "in top-nested")?;
            let of = self.parse_named_expr()?;
            let with_others = if self.at_word("with") && self.word_at(1) == Some("others") {
                self.bump();
                self.bump();
                self.expect(TokenKind::Assign, "after 'with others'")?;
                Some(self.parse_expr()?)
            } else {
                None
            };
            self.expect_word("by", "in top-nested")?;
            let by = self.parse_named_expr()?;
            let order = self.parse_sort_order();
            levels.push(TopNestedLevel {
                count,
                of,
                with_others,
                by,
                order,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                return Ok(OperatorKind::TopNested { levels });
            }
            // Every level after the first repeats the operator name.
            if self.at_word("top")
                && self.kind_at(1) == TokenKind::Minus
                && self.word_at(2) == Some("nested")
            {
                self.bump();
                self.bump();
                self.bump();
            }
        }
    }

    fn join_body(&mut self, operator: &str) -> PResult<Join> {
        let mut params = Vec::new();
        let mut kind = None;
        loop {
            if self.at_word("kind") && self.kind_at(1) == TokenKind::Assign {
                let start = self.start();
                self.bump();
                self.bump();
                let value = self.parse_ident("after 'kind='")?;
                let Some(&(_, join_kind)) = JoinKind::NAMES
                    .iter()
                    .find(|(spelling, _)| *spelling == value.name)
                else {
                    let names: Vec<&str> = JoinKind::NAMES.iter().map(|(n, _)| *n).collect();
                    let mut diagnostic =
                        Diagnostic::new(format!("unknown join kind '{}'", value.name), value.span)
                            .with_expected(names.iter().map(|n| format!("'{n}'")).collect());
                    if let Some(best) = names.iter().min_by_key(|n| {
                        strsim::damerau_levenshtein(&value.name.to_ascii_lowercase(), n)
                    }) {
                        diagnostic = diagnostic.with_hint(format!("did you mean '{best}'?"));
                    }
                    return Err(diagnostic);
                };
                kind = Some(Spanned {
                    value: join_kind,
                    span: self.span_from(start),
                });
                continue;
            }
            let more = self.parse_params(&["withsource"])?;
            if more.is_empty() {
                break;
            }
            params.extend(more);
        }
        let right = self.join_right_side()?;
        if !self.at_word("on") {
            return Err(self.expected("'on'", &format!("after the right side of '{operator}'")));
        }
        self.bump();
        let on = self.join_keys()?;
        Ok(Join {
            kind,
            params,
            right: Box::new(right),
            on,
        })
    }

    fn join_right_side(&mut self) -> PResult<TabularExpr> {
        if let Some(open) = self.eat(TokenKind::LParen) {
            let inner = self.nested(Self::parse_expr_or_tabular)?;
            self.expect_close(open, "the right side of the join")?;
            return self.expr_into_tabular(inner);
        }
        let start = self.start();
        let source = self.parse_source()?;
        Ok(TabularExpr {
            source: Some(Box::new(source)),
            operators: Vec::new(),
            span: self.span_from(start),
        })
    }

    fn expr_into_tabular(&self, expr: Expr) -> PResult<TabularExpr> {
        if let ExprKind::Tabular(tabular) = expr.kind {
            return Ok(*tabular);
        }
        let span = expr.span;
        match self.expr_to_source(expr) {
            Some(source) => Ok(TabularExpr {
                span: source.span,
                source: Some(Box::new(source)),
                operators: Vec::new(),
            }),
            None => Err(Diagnostic::new("expected a tabular expression", span)),
        }
    }

    fn join_keys(&mut self) -> PResult<Vec<JoinKey>> {
        let mut keys = Vec::new();
        loop {
            let expr = self.parse_expr()?;
            split_join_condition(expr, &mut keys);
            if self.eat(TokenKind::Comma).is_none() {
                return Ok(keys);
            }
        }
    }

    pub(crate) fn union_operand(&mut self) -> PResult<UnionOperand> {
        if self.at_wildcard_pattern() {
            return Ok(UnionOperand::Pattern(
                self.parse_name_pattern("in the union")?,
            ));
        }
        if let Some(open) = self.eat(TokenKind::LParen) {
            let inner = self.nested(Self::parse_expr_or_tabular)?;
            self.expect_close(open, "the union operand")?;
            let start = open.span.start;
            let mut tabular = self.expr_into_tabular(inner)?;
            if tabular.operators.is_empty() && tabular.source.is_some() {
                tabular.span = self.span_from(start);
            }
            return Ok(UnionOperand::Tabular(tabular));
        }
        let start = self.start();
        let source = self.parse_source()?;
        if let Some(operand) = self.scoped_pattern(&source, start)? {
            return Ok(operand);
        }
        Ok(UnionOperand::Tabular(TabularExpr {
            source: Some(Box::new(source)),
            operators: Vec::new(),
            span: self.span_from(start),
        }))
    }

    /// `database('d').*` or `database('d').T*` right after the source `database('d')` (or,
    /// since `.T` was read as a member, `database('d').T` followed by an adjacent `*`).
    fn scoped_pattern(&mut self, source: &Source, start: u32) -> PResult<Option<UnionOperand>> {
        let mut scope = match &source.kind {
            SourceKind::Path(parts) => parts.clone(),
            SourceKind::Call(call) => vec![PathPart::Call(call.clone())],
            _ => return Ok(None),
        };
        let pattern = if self.at(TokenKind::Dot) && self.at_wildcard_pattern_from(1) {
            self.bump();
            self.parse_name_pattern("")?
        } else if self.at(TokenKind::Star)
            && self.tokens[self.pos - 1].span.end == self.peek().span.start
            && matches!(scope.last(), Some(PathPart::Name(_)))
        {
            let Some(PathPart::Name(prefix)) = scope.pop() else {
                return Ok(None);
            };
            let rest = self.parse_name_pattern("")?;
            NamePattern {
                pattern: format!("{}{}", prefix.name, rest.pattern),
                span: prefix.span.to(rest.span),
            }
        } else {
            return Ok(None);
        };
        Ok(Some(UnionOperand::ScopedPattern {
            scope,
            pattern,
            span: self.span_from(start),
        }))
    }

    fn mv_items(&mut self) -> PResult<Vec<MvExpandItem>> {
        let mut items = Vec::new();
        loop {
            let start = self.start();
            let column = self.parse_named_expr()?;
            let to_type = if self.at_word("to") && self.word_at(1) == Some("typeof") {
                self.bump();
                self.bump();
                let open = self.expect(TokenKind::LParen, "after 'typeof'")?;
                let ty = self.type_name()?;
                self.expect_close(open, "typeof")?;
                Some(ty)
            } else {
                None
            };
            items.push(MvExpandItem {
                column,
                to_type,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                return Ok(items);
            }
        }
    }

    fn parse_body(&mut self) -> PResult<Parse> {
        let mut params = Vec::new();
        let mut kind = None;
        loop {
            if self.at_word("kind") && self.kind_at(1) == TokenKind::Assign {
                let start = self.start();
                self.bump();
                self.bump();
                let value = self.parse_ident("after 'kind='")?;
                let parse_kind = match value.name.as_str() {
                    "simple" => ParseKind::Simple,
                    "regex" => ParseKind::Regex,
                    "relaxed" => ParseKind::Relaxed,
                    other => {
                        return Err(Diagnostic::new(
                            format!("unknown parse kind '{other}'"),
                            value.span,
                        )
                        .with_expected(vec![
                            "'simple'".into(),
                            "'regex'".into(),
                            "'relaxed'".into(),
                        ]));
                    }
                };
                kind = Some(Spanned {
                    value: parse_kind,
                    span: self.span_from(start),
                });
                continue;
            }
            let more = self.parse_params(&["flags"])?;
            if more.is_empty() {
                break;
            }
            params.extend(more);
        }
        let input = self.parse_expr()?;
        self.expect_word("with", "after the input of 'parse'")?;
        let mut pattern = Vec::new();
        loop {
            match self.peek().kind {
                TokenKind::String => {
                    pattern.push(ParsePatternPart::Literal(self.parse_string_literal()?))
                }
                TokenKind::Star => pattern.push(ParsePatternPart::Wildcard(self.bump().span)),
                TokenKind::Ident | TokenKind::LBracket if self.at_ident() => {
                    let start = self.start();
                    let name = self.parse_ident("")?;
                    let ty = if self.eat(TokenKind::Colon).is_some() {
                        Some(self.type_name()?)
                    } else {
                        None
                    };
                    pattern.push(ParsePatternPart::Capture {
                        name,
                        ty,
                        span: self.span_from(start),
                    });
                }
                TokenKind::Comma => {
                    self.bump();
                }
                _ => break,
            }
        }
        if pattern.is_empty() {
            return Err(self.expected("a parse pattern", "after 'with'"));
        }
        Ok(Parse {
            kind,
            params,
            input,
            pattern,
        })
    }

    fn make_series(&mut self) -> PResult<OperatorKind> {
        let params = self.parse_params(&["kind"])?;
        let mut aggregates = Vec::new();
        loop {
            let start = self.start();
            let aggregate = self.parse_named_expr()?;
            let default = if self.at_word("default") && self.kind_at(1) == TokenKind::Assign {
                self.bump();
                self.bump();
                Some(self.parse_expr()?)
            } else {
                None
            };
            aggregates.push(MakeSeriesAggregate {
                aggregate,
                default,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect_word("on", "after the make-series aggregations")?;
        let on = self.parse_expr()?;
        let range = if self.at_word("in") && self.word_at(1) == Some("range") {
            self.bump();
            self.bump();
            let open = self.expect(TokenKind::LParen, "after 'range'")?;
            let start = self.parse_expr()?;
            self.expect(TokenKind::Comma, "in range(start, stop, step)")?;
            let stop = self.parse_expr()?;
            self.expect(TokenKind::Comma, "in range(start, stop, step)")?;
            let step = self.parse_expr()?;
            self.expect_close(open, "range(...)")?;
            MakeSeriesRange::InRange { start, stop, step }
        } else {
            let from = if self.eat_word("from").is_some() {
                Some(self.parse_expr()?)
            } else {
                None
            };
            let to = if self.eat_word("to").is_some() {
                Some(self.parse_expr()?)
            } else {
                None
            };
            self.expect_word("step", "in make-series")?;
            MakeSeriesRange::FromTo {
                from,
                to,
                step: self.parse_expr()?,
            }
        };
        let by = if self.eat_word("by").is_some() {
            self.parse_named_list()?
        } else {
            Vec::new()
        };
        Ok(OperatorKind::MakeSeries {
            params,
            aggregates,
            on,
            range,
            by,
        })
    }

    fn search_predicate(&mut self) -> PResult<Expr> {
        let saved = self.allow_search_colon;
        self.allow_search_colon = true;
        let result = self.parse_expr();
        self.allow_search_colon = saved;
        result
    }

    fn find(&mut self) -> PResult<OperatorKind> {
        let params = self.parse_params(&["withsource", "datascope", "hint.materialized"])?;
        let tables = if self.at_word("in") && self.kind_at(1) == TokenKind::LParen {
            self.bump();
            let open = self.bump();
            let mut tables = Vec::new();
            while !self.at(TokenKind::RParen) {
                tables.push(self.union_operand()?);
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the table list")?;
            Some(tables)
        } else {
            None
        };
        self.eat_word("where");
        let predicate = self.search_predicate()?;
        let projection = if self.at_word("project")
            && self.kind_at(1) == TokenKind::Minus
            && self.word_at(2) == Some("smart")
        {
            let start = self.start();
            self.bump();
            self.bump();
            self.bump();
            Some(FindProjection::Smart(self.span_from(start)))
        } else if self.eat_word("project").is_some() {
            Some(self.find_columns()?)
        } else {
            None
        };
        Ok(OperatorKind::Find {
            params,
            tables,
            predicate,
            projection,
        })
    }

    /// `project A, B:type, ...` of `find`: a plain list unless some column has a type.
    fn find_columns(&mut self) -> PResult<FindProjection> {
        let mut columns = Vec::new();
        loop {
            let start = self.start();
            let expr = self.parse_expr()?;
            let ty = match self.eat(TokenKind::Colon) {
                Some(_) => Some(self.type_name()?),
                None => None,
            };
            columns.push(FindColumn {
                expr,
                ty,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        if columns.iter().any(|column| column.ty.is_some()) {
            return Ok(FindProjection::Typed(columns));
        }
        Ok(FindProjection::Columns(
            columns.into_iter().map(|column| column.expr).collect(),
        ))
    }

    /// `macro-expand [kind=...] [isfuzzy=...] Group as X ( subquery )`, after the name.
    fn macro_expand(&mut self) -> PResult<OperatorKind> {
        let params = self.parse_params(&["kind", "isfuzzy"])?;
        let entity_group = if self.at_word("entity_group") && self.kind_at(1) == TokenKind::LBracket
        {
            let start = self.bump().span.start;
            let open = self.bump();
            let mut entities = Vec::new();
            while !self.at(TokenKind::RBracket) {
                entities.push(self.parse_expr()?);
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the entity group")?;
            EntityGroup::Inline {
                entities,
                span: self.span_from(start),
            }
        } else {
            EntityGroup::Name(self.parse_ident("after 'macro-expand'")?)
        };
        self.expect_word("as", "after the entity group")?;
        let alias = self.parse_ident("after 'as'")?;
        let open = self.expect(TokenKind::LParen, "to start the macro-expand subquery")?;
        let subquery = self.parse_tabular()?;
        self.expect_close(open, "the macro-expand subquery")?;
        Ok(OperatorKind::MacroExpand {
            params,
            entity_group,
            alias,
            subquery: Box::new(subquery),
        })
    }

    fn scan(&mut self) -> PResult<OperatorKind> {
        let params = self.parse_params(&["with_match_id"])?;
        let mut declare = Vec::new();
        if self.eat_word("declare").is_some() {
            let open = self.expect(TokenKind::LParen, "after 'declare'")?;
            while !self.at(TokenKind::RParen) {
                let start = self.start();
                let column = self.column_decl()?;
                let default = if self.eat(TokenKind::Assign).is_some() {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                declare.push(ScanDeclaration {
                    column,
                    default,
                    span: self.span_from(start),
                });
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_close(open, "the scan declarations")?;
        }
        self.expect_word("with", "before the scan steps")?;
        let open = self.expect(TokenKind::LParen, "to start the scan steps")?;
        let mut steps = Vec::new();
        while self.at_word("step") {
            let start = self.bump().span.start;
            let name = self.parse_ident("after 'step'")?;
            let output = if self.at_word("output") && self.kind_at(1) == TokenKind::Assign {
                self.bump();
                self.bump();
                Some(self.parse_ident("after 'output='")?)
            } else {
                None
            };
            self.expect(TokenKind::Colon, "after the step name")?;
            let condition = self.parse_expr()?;
            let assignments = if self.eat(TokenKind::FatArrow).is_some() {
                self.parse_named_list()?
            } else {
                Vec::new()
            };
            steps.push(ScanStep {
                name,
                output,
                condition,
                assignments,
                span: self.span_from(start),
            });
            if self.eat(TokenKind::Semicolon).is_none() {
                break;
            }
        }
        if steps.is_empty() {
            return Err(self.expected("'step'", "in the scan steps"));
        }
        self.expect_close(open, "the scan steps")?;
        Ok(OperatorKind::Scan {
            params,
            declare,
            steps,
        })
    }

    fn make_graph(&mut self) -> PResult<OperatorKind> {
        let mut params = self.parse_params(&["with_node_id"])?;
        let source_column = self.parse_ident("after 'make-graph'")?;
        self.expect(TokenKind::Minus, "in the edge direction '-->' or '--'")?;
        self.expect(TokenKind::Minus, "in the edge direction '-->' or '--'")?;
        let directed = self.eat(TokenKind::Gt).is_some();
        let target_column = self.parse_ident("after the edge direction")?;
        let mut nodes = Vec::new();
        params.extend(self.parse_params(&["with_node_id"])?);
        if self.eat_word("with").is_some() {
            loop {
                let start = self.start();
                let table = self.join_right_side()?;
                self.expect_word("on", "after the nodes table")?;
                let key = self.parse_ident("after 'on'")?;
                nodes.push(MakeGraphNodes {
                    table,
                    key,
                    span: self.span_from(start),
                });
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
        }
        let partitioned_by = if self.at_word("partitioned")
            && self.kind_at(1) == TokenKind::Minus
            && self.word_at(2) == Some("by")
            && self.adjacent(0)
            && self.adjacent(1)
        {
            let start = self.bump().span.start;
            self.bump();
            self.bump();
            let column = self.parse_ident("after 'partitioned-by'")?;
            let open = self.expect(TokenKind::LParen, "to start the per-partition subquery")?;
            let subquery = self.parse_input_subquery()?;
            self.expect_close(open, "the per-partition subquery")?;
            Some(MakeGraphPartition {
                column,
                subquery: Box::new(subquery),
                span: self.span_from(start),
            })
        } else {
            None
        };
        Ok(OperatorKind::MakeGraph {
            params,
            source_column,
            directed,
            target_column,
            nodes,
            partitioned_by,
        })
    }

    fn graph_pattern(&mut self) -> PResult<GraphPattern> {
        let start = self.start();
        let mut elements = vec![self.graph_node()?];
        while matches!(self.peek().kind, TokenKind::Minus | TokenKind::Lt) {
            elements.push(self.graph_edge()?);
            elements.push(self.graph_node()?);
        }
        Ok(GraphPattern {
            elements,
            span: self.span_from(start),
        })
    }

    fn graph_node(&mut self) -> PResult<GraphPatternElement> {
        let open = self.expect(TokenKind::LParen, "to start a graph node")?;
        let name = if self.at_ident() {
            Some(self.parse_ident("")?)
        } else {
            None
        };
        let label = if self.eat(TokenKind::Colon).is_some() {
            Some(self.parse_ident("after ':'")?)
        } else {
            None
        };
        self.expect_close(open, "the graph node")?;
        Ok(GraphPatternElement::Node {
            name,
            label,
            span: self.span_from(open.span.start),
        })
    }

    fn graph_edge(&mut self) -> PResult<GraphPatternElement> {
        let start = self.start();
        let backward = self.eat(TokenKind::Lt).is_some();
        self.expect(TokenKind::Minus, "in the graph edge")?;
        let mut name = None;
        let mut min_hops = None;
        let mut max_hops = None;
        if let Some(open) = self.eat(TokenKind::LBracket) {
            if self.at_ident() {
                name = Some(self.parse_ident("")?);
            }
            if self.eat(TokenKind::Star).is_some() {
                min_hops = Some(self.parse_postfix()?);
                if self.eat(TokenKind::DotDot).is_some() {
                    max_hops = Some(self.parse_postfix()?);
                }
            }
            self.expect_close(open, "the graph edge")?;
        }
        self.expect(TokenKind::Minus, "in the graph edge")?;
        let forward = self.eat(TokenKind::Gt).is_some();
        let direction = match (backward, forward) {
            (true, false) => EdgeDirection::Backward,
            (false, true) => EdgeDirection::Forward,
            (false, false) => EdgeDirection::Any,
            (true, true) => {
                return Err(Diagnostic::new(
                    "a graph edge cannot point both ways",
                    self.span_from(start),
                ));
            }
        };
        Ok(GraphPatternElement::Edge {
            name,
            direction,
            min_hops,
            max_hops,
            span: self.span_from(start),
        })
    }
}

/// Splits `a == b and c == d` join conditions into keys.
fn split_join_condition(expr: Expr, keys: &mut Vec<JoinKey>) {
    match expr.kind {
        ExprKind::Name(ident) => keys.push(JoinKey::Column(ident)),
        ExprKind::Binary { op, left, right } if op.value == BinaryOp::And => {
            split_join_condition(*left, keys);
            split_join_condition(*right, keys);
        }
        ExprKind::Binary { op, left, right } if op.value == BinaryOp::Eq => {
            match (side_column(&left), side_column(&right)) {
                (Some(("$left", l)), Some(("$right", r)))
                | (Some(("$right", r)), Some(("$left", l))) => {
                    keys.push(JoinKey::Equal {
                        left: l,
                        right: r,
                        span: expr.span,
                    });
                }
                _ => keys.push(JoinKey::Other(Expr {
                    kind: ExprKind::Binary { op, left, right },
                    span: expr.span,
                })),
            }
        }
        kind => keys.push(JoinKey::Other(Expr {
            kind,
            span: expr.span,
        })),
    }
}

/// `$left.Col` -> ("$left", Col)
fn side_column(expr: &Expr) -> Option<(&str, Ident)> {
    let ExprKind::Member { target, member } = &expr.kind else {
        return None;
    };
    let ExprKind::Name(side) = &target.kind else {
        return None;
    };
    match side.name.as_str() {
        "$left" => Some(("$left", member.clone())),
        "$right" => Some(("$right", member.clone())),
        _ => None,
    }
}
