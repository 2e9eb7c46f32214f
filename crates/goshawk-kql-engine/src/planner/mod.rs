//! Semantic analysis and lowering of goshawk's KQL syntax tree to DataFusion logical plans.
//!
//! Every intermediate table is a [`Tab`]: a logical plan whose output columns are unqualified
//! and listed, in order, with their Kusto types. Arrow types alone cannot tell `string` from
//! `guid` or `dynamic`, so the Kusto type travels next to the plan and in the field metadata.
//! Errors are [`Diagnostic`]s with the span of the offending node, rendered with a caret.

mod aggregate;
mod bag_unpack;
mod column_fns;
mod expr;
mod fold;
mod geo_lookup;
pub mod literal;
mod make_series;
mod materialize;
mod mv_apply;
mod ops;
mod parse_kv;
mod patterns;
mod percentiles;
mod plugins;
mod portable;
mod project_by_names;
mod scan;
mod series_columns;
mod udf;
#[cfg(test)]
mod whole_input_tests;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::Column;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use goshawk_kql_syntax::Diagnostic;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{
    self, FunctionCall, FunctionDef, LetValue, Operator, OperatorKind, ParamType, PathPart, Source,
    SourceKind, Statement, StatementKind, TabularExpr,
};
use goshawk_types::KustoType;

use crate::catalog::{Catalog, KustoColumn, TableRef};
use literal::kusto_metadata;
pub use materialize::session_context;
pub use portable::{rewrite_expressions, without_literal_metadata};
pub use udf::{library_udfs, planner_udf_from_json, planner_udf_to_json};

/// A planned query: the logical plan, the Kusto schema of its result, and the `render`
/// request if the query ended with one.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub plan: LogicalPlan,
    pub columns: Vec<KustoColumn>,
    pub render: Option<RenderSpec>,
}

/// A `render` operator: the chart kind and its `with (...)` properties as source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSpec {
    pub visualization: String,
    pub properties: Vec<(String, String)>,
}

/// Plans KQL queries against a catalog, with a fixed "now" for `now()` and `ago()`.
pub struct Planner<'a> {
    catalog: &'a dyn Catalog,
    now_nanos: i64,
}

/// A lowered scalar expression with its Kusto type.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: Expr,
    pub ty: KustoType,
}

/// A planned tabular expression.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub plan: LogicalPlan,
    pub columns: Vec<KustoColumn>,
    pub render: Option<RenderSpec>,
}

impl Tab {
    pub fn column(&self, name: &str) -> Option<&KustoColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}

/// What a `let` name stands for.
#[derive(Debug, Clone)]
pub(crate) enum Binding {
    Scalar(Typed),
    Tabular(Tab),
    Function(Arc<FunctionDef>, Env),
}

/// The `let` bindings visible at a point of the query.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    bindings: HashMap<String, Binding>,
    /// The names bound to `view`s, which `union withsource=` names by name.
    views: std::collections::HashSet<String>,
    /// `declare pattern` declarations.
    patterns: HashMap<String, Arc<ast::DeclarePattern>>,
}

impl Env {
    pub fn get(&self, name: &str) -> Option<&Binding> {
        self.bindings.get(name)
    }

    pub fn bind(&mut self, name: &str, binding: Binding) {
        self.views.remove(name);
        self.bindings.insert(name.to_string(), binding);
    }

    /// Binds a `view`: a function that `union` treats as a table.
    pub fn bind_view(&mut self, name: &str, binding: Binding) {
        self.bind(name, binding);
        self.views.insert(name.to_string());
    }

    pub fn is_view(&self, name: &str) -> bool {
        self.views.contains(name)
    }

    pub fn pattern(&self, name: &str) -> Option<&Arc<ast::DeclarePattern>> {
        self.patterns.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.bindings.keys()
    }
}

pub(crate) type PlanResult<T> = Result<T, Diagnostic>;

pub(crate) fn error(message: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::new(message, span)
}

/// `unknown X 'name'` with a "did you mean" hint from the closest candidate.
pub(crate) fn unknown<'c>(
    what: &str,
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'c String>,
) -> Diagnostic {
    let best = candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, candidate)) => error(
            format!("unknown {what} '{name}' (did you mean '{candidate}'?)"),
            span,
        ),
        None => error(format!("unknown {what} '{name}'"), span),
    }
}

/// Words Kusto reserves: a bare one cannot name a new column (the real engine rejects
/// `extend first = 1`, `parse s with from:string ...`); `['first']` can.
const RESERVED_NAMES: &[&str] = &[
    "and", "or", "by", "on", "with", "where", "from", "to", "step", "asc", "desc", "first", "last",
    "nulls", "has", "contains", "in", "between", "true", "false", "let", "typeof",
];

/// Rejects a bare reserved word used as the name of a new column.
pub(crate) fn check_new_name(ident: &ast::Ident) -> PlanResult<()> {
    // A bracketed name (`['first']`) is longer in the source than the name itself.
    let bare = ident.span.len() as usize == ident.name.len();
    if bare && RESERVED_NAMES.contains(&ident.name.as_str()) {
        return Err(error(
            format!(
                "'{0}' is a reserved word and cannot name a column; write ['{0}']",
                ident.name
            ),
            ident.span,
        ));
    }
    Ok(())
}

pub(crate) fn unsupported(what: &str, span: Span) -> Diagnostic {
    error(format!("{what} is not supported yet"), span)
}

/// An unqualified column reference; Kusto names may contain dots and spaces.
pub(crate) fn col(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// `expr AS name`, with the Kusto type recorded in the output field.
pub(crate) fn named(expr: Expr, name: &str, ty: KustoType) -> Expr {
    expr.alias_with_metadata(name, Some(kusto_metadata(ty)))
}

/// Wraps a DataFusion error raised while building a plan as a diagnostic at `span`.
pub(crate) fn df_error(err: datafusion::error::DataFusionError, span: Span) -> Diagnostic {
    error(format!("cannot plan this: {}", err.strip_backtrace()), span)
}

impl<'a> Planner<'a> {
    /// A planner over `catalog`; `now_nanos` is the instant `now()` returns (ns since epoch).
    pub fn new(catalog: &'a dyn Catalog, now_nanos: i64) -> Planner<'a> {
        Planner { catalog, now_nanos }
    }

    /// Parses and plans a query text.
    pub fn plan_text(&self, text: &str) -> PlanResult<PlannedQuery> {
        let query = goshawk_kql_syntax::parse_query(text)?;
        self.plan_query(&query)
    }

    /// Plans a parsed query: `let` statements, then exactly one tabular result statement.
    pub fn plan_query(&self, query: &ast::Query) -> PlanResult<PlannedQuery> {
        let mut env = Env::default();
        let tab = self.plan_statements(&query.statements, &mut env, query.span)?;
        Ok(PlannedQuery {
            plan: tab.plan,
            columns: tab.columns,
            render: tab.render,
        })
    }

    pub(super) fn plan_statements(
        &self,
        statements: &[Statement],
        env: &mut Env,
        whole: Span,
    ) -> PlanResult<Tab> {
        let mut result: Option<Tab> = None;
        for statement in statements {
            match &statement.kind {
                StatementKind::Let(let_statement) => self.plan_let(let_statement, env)?,
                StatementKind::Tabular(tabular) => {
                    if result.is_some() {
                        return Err(unsupported(
                            "a query with more than one result (several tabular statements)",
                            statement.span,
                        ));
                    }
                    result = Some(self.plan_tabular(tabular, env, None)?);
                }
                StatementKind::Set { .. } => {}
                // A bare name of a tabular `let` (often the last line of a function body) is
                // a tabular statement.
                StatementKind::Scalar(expr)
                    if result.is_none()
                        && matches!(
                            &expr.kind,
                            ast::ExprKind::Name(ident) if matches!(
                                env.get(&ident.name),
                                Some(Binding::Tabular(_) | Binding::Function(..))
                            )
                        ) =>
                {
                    if let ast::ExprKind::Name(ident) = &expr.kind {
                        result = Some(self.resolve_table_name(&ident.name, ident.span, env)?);
                    }
                }
                // `foo1(1, 100, step)` as the body of another function: a call of a tabular
                // function is a tabular statement.
                StatementKind::Scalar(expr)
                    if result.is_none()
                        && matches!(
                            &expr.kind,
                            ast::ExprKind::Call(call) if matches!(
                                env.get(&call.name.name),
                                Some(Binding::Function(..))
                            )
                        ) =>
                {
                    if let ast::ExprKind::Call(call) = &expr.kind {
                        result = self.try_tabular_call(call, env)?;
                    }
                }
                StatementKind::Scalar(_) => {
                    return Err(error(
                        "a query must end with a tabular expression, not a scalar",
                        statement.span,
                    ));
                }
                StatementKind::DeclareQueryParameters(_) => {
                    return Err(unsupported("'declare query_parameters'", statement.span));
                }
                StatementKind::AliasDatabase { .. } => {
                    return Err(unsupported("'alias database'", statement.span));
                }
                StatementKind::DeclarePattern(pattern) => {
                    env.patterns
                        .insert(pattern.name.name.clone(), Arc::new(pattern.clone()));
                }
                StatementKind::RestrictAccess(_) => {
                    return Err(unsupported("'restrict access'", statement.span));
                }
            }
        }
        result.ok_or_else(|| error("the query has no tabular expression to return", whole))
    }

    fn plan_let(&self, statement: &ast::LetStatement, env: &mut Env) -> PlanResult<()> {
        let name = &statement.name.name;
        let binding = match &statement.value {
            LetValue::Tabular(tabular) => Binding::Tabular(self.plan_tabular(tabular, env, None)?),
            LetValue::Function(def) | LetValue::View(def) => {
                Binding::Function(Arc::new(def.clone()), env.clone())
            }
            LetValue::Expr(value) => self.plan_let_expr(value, env)?,
        };
        if matches!(statement.value, LetValue::View(_)) {
            env.bind_view(name, binding);
        } else {
            env.bind(name, binding);
        }
        Ok(())
    }

    /// `let x = <expr>`: a bare name or call may be tabular (a table, a tabular let, a
    /// function returning a table, `materialize(...)`); anything else is a scalar constant.
    fn plan_let_expr(&self, value: &ast::Expr, env: &Env) -> PlanResult<Binding> {
        // `let T = (Table | where ...);` is as tabular as it is without the parentheses.
        let mut inner = value;
        while let ast::ExprKind::Paren(wrapped) = &inner.kind {
            inner = wrapped;
        }
        match &inner.kind {
            ast::ExprKind::Name(ident) => {
                if let Some(binding) = env.get(&ident.name) {
                    return Ok(binding.clone());
                }
                if let Some(table) = self.catalog.table(&ident.name) {
                    return Ok(Binding::Tabular(self.scan(&table, ident.span)?));
                }
            }
            ast::ExprKind::Call(call) => {
                if let Some(tab) = self.try_tabular_call(call, env)? {
                    return Ok(Binding::Tabular(tab));
                }
            }
            ast::ExprKind::Tabular(tabular) => {
                return Ok(Binding::Tabular(self.plan_tabular(tabular, env, None)?));
            }
            _ => {}
        }
        let typed = self.lower_expr(value, &[], env)?;
        Ok(Binding::Scalar(typed))
    }

    /// Plans `source | op | op ...`; `input` feeds sub-queries that have no source.
    pub(crate) fn plan_tabular(
        &self,
        tabular: &TabularExpr,
        env: &Env,
        input: Option<Tab>,
    ) -> PlanResult<Tab> {
        let mut tab = match (&tabular.source, input) {
            (Some(source), _) => self.plan_source(source, env)?,
            (None, Some(input)) => input,
            (None, None) => {
                return Err(error("this sub-query has no input table", tabular.span));
            }
        };
        // `| as Name` makes the table so far visible to the rest of the pipeline.
        let mut scope: Option<Env> = None;
        for operator in &tabular.operators {
            tab = self.plan_operator(tab, operator, scope.as_ref().unwrap_or(env))?;
            if let OperatorKind::As { name, .. } = &operator.kind {
                scope
                    .get_or_insert_with(|| env.clone())
                    .bind(&name.name, Binding::Tabular(tab.clone()));
            }
        }
        Ok(tab)
    }

    fn plan_source(&self, source: &Source, env: &Env) -> PlanResult<Tab> {
        match &source.kind {
            SourceKind::Name(ident) => self.resolve_table_name(&ident.name, ident.span, env),
            SourceKind::Call(call) if let Some(pattern) = env.pattern(&call.name.name) => {
                self.invoke_pattern(pattern, &call.args, None, env, source.span)
            }
            // `country("Canada").Alberta`
            SourceKind::Path(parts)
                if let [PathPart::Call(call), PathPart::Name(path)] = parts.as_slice()
                    && let Some(pattern) = env.pattern(&call.name.name) =>
            {
                self.invoke_pattern(pattern, &call.args, Some(&path.name), env, source.span)
            }
            SourceKind::Call(call) => match self.try_tabular_call(call, env)? {
                Some(tab) => Ok(tab),
                None => Err(unknown(
                    "tabular function",
                    &call.name.name,
                    call.name.span,
                    env.names(),
                )),
            },
            SourceKind::Parenthesized(inner) => self.plan_tabular(inner, env, None),
            SourceKind::Operator(operator) => self.plan_source_operator(operator, env),
            SourceKind::Path(_) => Err(unsupported(
                "cross-cluster and cross-database references",
                source.span,
            )),
        }
    }

    pub(crate) fn resolve_table_name(&self, name: &str, span: Span, env: &Env) -> PlanResult<Tab> {
        match env.get(name) {
            Some(Binding::Tabular(tab)) => return Ok(tab.clone()),
            Some(Binding::Function(def, captured)) => {
                return self.invoke_tabular_function(name, def, captured, &[], env, span, None);
            }
            Some(Binding::Scalar(_)) => {
                return Err(error(format!("'{name}' is a scalar, not a table"), span));
            }
            None => {}
        }
        match self.catalog.table(name) {
            Some(table) => self.scan(&table, span),
            None => {
                let mut candidates = self.catalog.table_names();
                candidates.extend(env.names().cloned());
                Err(unknown("table", name, span, candidates.iter()))
            }
        }
    }

    /// `table('x')`, `materialize(T)`, `view`s and user functions used as a source. `None`
    /// when `call` names no tabular function.
    fn try_tabular_call(&self, call: &FunctionCall, env: &Env) -> PlanResult<Option<Tab>> {
        let name = call.name.name.as_str();
        match name {
            "table" | "materialize" => {
                let [argument] = call.args.as_slice() else {
                    return Err(error(format!("{name}() expects 1 argument"), call.span));
                };
                let tab = match &argument.value.kind {
                    ast::ExprKind::Literal(ast::Literal {
                        kind: ast::LiteralKind::String(table),
                        ..
                    }) if name == "table" => {
                        self.resolve_table_name(table, argument.value.span, env)?
                    }
                    ast::ExprKind::Tabular(tabular) => self.plan_tabular(tabular, env, None)?,
                    // `table(tableName)` inside a function: a constant string parameter.
                    ast::ExprKind::Name(ident) => match env.get(&ident.name) {
                        Some(Binding::Scalar(typed)) if name == "table" => {
                            let Some(datafusion::scalar::ScalarValue::Utf8(Some(table))) =
                                literal::constant_value(&typed.expr)
                            else {
                                return Err(error(
                                    format!("table(): '{}' is not a constant string", ident.name),
                                    ident.span,
                                ));
                            };
                            self.resolve_table_name(&table, ident.span, env)?
                        }
                        _ => self.resolve_table_name(&ident.name, ident.span, env)?,
                    },
                    _ => {
                        return Err(error(
                            format!("{name}() expects a table or a tabular expression"),
                            argument.span,
                        ));
                    }
                };
                Ok(Some(tab))
            }
            _ => match env.get(name) {
                Some(Binding::Function(def, captured)) => Ok(Some(self.invoke_tabular_function(
                    name, def, captured, &call.args, env, call.span, None,
                )?)),
                Some(Binding::Tabular(tab)) if call.args.is_empty() => Ok(Some(tab.clone())),
                _ => Ok(None),
            },
        }
    }

    /// Binds a user function's parameters (arguments or defaults) in its captured scope.
    /// Scalar arguments are lowered against `columns` (the caller's row).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bind_arguments(
        &self,
        name: &str,
        def: &FunctionDef,
        captured: &Env,
        args: &[ast::Argument],
        caller_env: &Env,
        columns: &[KustoColumn],
        span: Span,
        implicit_input: Option<Tab>,
    ) -> PlanResult<Env> {
        let mut scope = captured.clone();
        // Recursion through the captured scope is impossible: a function sees only the names
        // bound before it, plus itself is not in scope.
        // `f(c=7, a=12)`: named arguments bind their parameter, the others go in order to the
        // parameters not named.
        let named_arg = |param: &str| {
            args.iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == param))
        };
        if let Some(unknown_arg) = args.iter().find_map(|a| {
            a.name
                .as_ref()
                .filter(|n| !def.params.iter().any(|p| p.name.name == n.name))
        }) {
            return Err(error(
                format!("{name}() has no parameter '{}'", unknown_arg.name),
                unknown_arg.span,
            ));
        }
        let mut args_iter = args.iter().filter(|a| a.name.is_none());
        let mut implicit = implicit_input;
        let required = def.params.iter().filter(|p| p.default.is_none()).count();
        let given = args.len() + usize::from(implicit.is_some());
        if given < required || given > def.params.len() {
            return Err(error(
                format!(
                    "{name}() expects {} argument{}, got {}",
                    if required == def.params.len() {
                        required.to_string()
                    } else {
                        format!("{required} to {}", def.params.len())
                    },
                    if def.params.len() == 1 { "" } else { "s" },
                    given
                ),
                span,
            ));
        }
        for param in &def.params {
            let binding = match &param.ty {
                ParamType::Tabular(_) => {
                    if let Some(tab) = implicit.take() {
                        Binding::Tabular(tab)
                    } else {
                        let Some(arg) = named_arg(&param.name.name).or_else(|| args_iter.next())
                        else {
                            return Err(error(
                                format!("{name}(): missing table argument '{}'", param.name.name),
                                span,
                            ));
                        };
                        // `f((range x from 1 to 3 step 1))`: parentheses around a table.
                        let mut value = &arg.value;
                        while let ast::ExprKind::Paren(inner) = &value.kind {
                            value = inner;
                        }
                        match self.plan_let_expr(value, caller_env)? {
                            Binding::Tabular(tab) => Binding::Tabular(tab),
                            _ => {
                                return Err(error(
                                    format!(
                                        "{name}(): parameter '{}' expects a table",
                                        param.name.name
                                    ),
                                    arg.span,
                                ));
                            }
                        }
                    }
                }
                ParamType::Scalar(ty) => {
                    let wanted = literal::kusto_type_of_scalar(ty.value);
                    let typed = match named_arg(&param.name.name).or_else(|| args_iter.next()) {
                        Some(arg) => self.lower_expr(&arg.value, columns, caller_env)?,
                        None => match &param.default {
                            Some(default) => self.lower_expr(default, &[], captured)?,
                            None => {
                                return Err(error(
                                    format!("{name}(): missing argument '{}'", param.name.name),
                                    span,
                                ));
                            }
                        },
                    };
                    Binding::Scalar(expr::convert_to(typed, wanted))
                }
            };
            scope.bind(&param.name.name, binding);
        }
        Ok(scope)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn invoke_tabular_function(
        &self,
        name: &str,
        def: &FunctionDef,
        captured: &Env,
        args: &[ast::Argument],
        caller_env: &Env,
        span: Span,
        implicit_input: Option<Tab>,
    ) -> PlanResult<Tab> {
        let mut scope = self.bind_arguments(
            name,
            def,
            captured,
            args,
            caller_env,
            &[],
            span,
            implicit_input,
        )?;
        self.plan_statements(&def.body.statements, &mut scope, def.body.span)
    }

    /// Scans a catalog table. Kusto strings are never null, so nulls read from files become "".
    pub(crate) fn scan(&self, table: &TableRef, span: Span) -> PlanResult<Tab> {
        let builder = LogicalPlanBuilder::scan(
            table.name.as_str(),
            provider_as_source(table.provider.clone()),
            None,
        )
        .map_err(|e| df_error(e, span))?;
        let exprs: Vec<Expr> = table
            .columns
            .iter()
            .map(|c| {
                let column = col(&c.name);
                let value = if c.ty == KustoType::String {
                    datafusion::functions::core::expr_fn::coalesce(vec![
                        column,
                        datafusion::prelude::lit(""),
                    ])
                } else {
                    column
                };
                named(value, &c.name, c.ty)
            })
            .collect();
        let plan = builder
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns: table.columns.clone(),
            render: None,
        })
    }

    fn plan_source_operator(&self, operator: &Operator, env: &Env) -> PlanResult<Tab> {
        match &operator.kind {
            OperatorKind::Print { columns } => self.plan_print(columns, env, operator.span),
            OperatorKind::Range {
                column,
                from,
                to,
                step,
            } => self.plan_range(column, from, to, step, env, operator.span),
            OperatorKind::Datatable { schema, values } => {
                self.plan_datatable(schema, values, env, operator.span)
            }
            OperatorKind::ExternalData { schema, uris, .. } => {
                self.plan_external_data(schema, uris, operator.span)
            }
            OperatorKind::Search {
                params,
                tables,
                predicate,
            } => {
                let names: Vec<String> = match tables {
                    Some(patterns) => {
                        let all = self.catalog.table_names();
                        let mut names = Vec::new();
                        for pattern in patterns {
                            if pattern.has_wildcard() {
                                names.extend(
                                    all.iter()
                                        .filter(|n| ops::wildcard_match(&pattern.pattern, n))
                                        .cloned(),
                                );
                            } else {
                                names.push(pattern.pattern.clone());
                            }
                        }
                        names
                    }
                    None => self.catalog.table_names(),
                };
                let mut parts = Vec::new();
                for name in names {
                    let tab = self.resolve_table_name(&name, operator.span, env)?;
                    let filtered =
                        self.plan_search_filter(tab, params, predicate, env, operator.span)?;
                    parts.push(self.with_table_column(filtered, &name, operator.span)?);
                }
                self.union_tabs(parts, operator.span)
            }
            OperatorKind::Union { params, operands } => {
                self.plan_union(None, params, operands, env, operator.span)
            }
            other => Err(unsupported(
                &format!("the '{}' operator", other.name()),
                operator.span,
            )),
        }
    }
}
