//! Tabular operators: each takes the input [`Tab`] and returns the output one.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::Schema;
use datafusion::common::JoinType;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{
    self, ColumnDecl, ExprKind, Join, JoinKey, JoinKind, NamePattern, NamedExpr, NullsOrder,
    OperatorKind, OperatorParam, ParseKind, ParsePatternPart, SortKey, SortOrder, UnionOperand,
};
use goshawk_types::KustoType;

use super::expr::{align_to, convert_to};
use super::literal::{constant_value, kusto_type_of_scalar, null_of, typed_lit};
use super::{
    Env, PlanResult, Planner, RenderSpec, Tab, Typed, col, df_error, error, named, unknown,
    unsupported,
};
use crate::catalog::KustoColumn;

/// Matches a Kusto wildcard pattern (`*` for any run of characters) against a name.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            let Some(stripped) = rest.strip_prefix(part) else {
                return false;
            };
            rest = stripped;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn build(
    builder: datafusion::error::Result<LogicalPlanBuilder>,
    span: Span,
) -> PlanResult<LogicalPlan> {
    builder
        .and_then(|b| b.build())
        .map_err(|e| df_error(e, span))
}

/// The name Kusto gives an unnamed expression: a column keeps its name, `a.b` becomes `a_b`.
pub(crate) fn implicit_name(expr: &ast::Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(ident) => Some(ident.name.clone()),
        ExprKind::Paren(inner) => implicit_name(inner),
        ExprKind::Member { target, member } => {
            Some(format!("{}_{}", implicit_name(target)?, member.name))
        }
        ExprKind::Index { target, index } => match &index.kind {
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::String(key),
                ..
            }) => Some(format!("{}_{key}", implicit_name(target)?)),
            _ => None,
        },
        // Functions over a sketch are named after it: `dcount_hll(merged)` is
        // `dcount_hll_merged`.
        ExprKind::Call(call)
            if matches!(
                call.name.name.as_str(),
                "percentile_tdigest" | "percentiles_array_tdigest" | "dcount_hll"
            ) =>
        {
            let sketch = call.args.first().and_then(|a| implicit_name(&a.value))?;
            Some(format!("{}_{sketch}", call.name.name))
        }
        _ => None,
    }
}

/// The name Kusto derives from a conversion of one column: `tostring(tag)` is `tag` (other
/// functions, like `isnull(x)`, give no name).
pub(crate) fn call_column_name(expr: &ast::Expr) -> Option<String> {
    const CONVERSIONS: &[&str] = &[
        "tostring",
        "toint",
        "tolong",
        "toreal",
        "todouble",
        "todecimal",
        "tobool",
        "toboolean",
        "todatetime",
        "totimespan",
        "toguid",
    ];
    match &expr.kind {
        ExprKind::Call(call) if CONVERSIONS.contains(&call.name.name.as_str()) => call
            .args
            .iter()
            .find_map(|a| implicit_name(&a.value).or_else(|| call_column_name(&a.value))),
        ExprKind::Paren(inner) => call_column_name(inner),
        _ => None,
    }
}

/// `mv-expand todynamic(Entities)` expands into `Entities`, as Kusto names it.
fn dynamic_call_column_name(expr: &ast::Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Call(call)
            if matches!(
                call.name.name.as_str(),
                "todynamic" | "parse_json" | "parsejson" | "toobject"
            ) =>
        {
            call.args.first().and_then(|a| implicit_name(&a.value))
        }
        ExprKind::Paren(inner) => dynamic_call_column_name(inner),
        _ => call_column_name(expr),
    }
}

pub(super) fn constant_count(
    planner: &Planner<'_>,
    expr: &ast::Expr,
    env: &Env,
) -> PlanResult<usize> {
    let typed = planner.lower_expr(expr, &[], env)?;
    match super::fold::fold_constant(&typed.expr) {
        Some(ScalarValue::Int64(Some(n))) => Ok(usize::try_from(n).unwrap_or(0)),
        Some(ScalarValue::Int32(Some(n))) => Ok(usize::try_from(n).unwrap_or(0)),
        _ => Err(error("expected a constant integer row count", expr.span)),
    }
}

impl Planner<'_> {
    /// Replaces the table's columns by `items` (expression, output column), in order.
    pub(crate) fn project_tab(
        &self,
        tab: Tab,
        items: Vec<(Expr, KustoColumn)>,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut seen = std::collections::HashSet::new();
        for (_, column) in &items {
            if !seen.insert(column.name.clone()) {
                return Err(error(
                    format!("duplicate column name '{}'", column.name),
                    span,
                ));
            }
        }
        let exprs: Vec<Expr> = items
            .iter()
            .map(|(e, c)| named(e.clone(), &c.name, c.ty))
            .collect();
        let plan = build(LogicalPlanBuilder::from(tab.plan).project(exprs), span)?;
        Ok(Tab {
            plan,
            columns: items.into_iter().map(|(_, c)| c).collect(),
            render: tab.render,
        })
    }

    fn keep_columns(&self, tab: Tab, names: &[String], span: Span) -> PlanResult<Tab> {
        let items = names
            .iter()
            .filter_map(|n| tab.column(n).cloned())
            .map(|c| (col(&c.name), c))
            .collect();
        self.project_tab(tab, items, span)
    }

    fn match_patterns(&self, tab: &Tab, patterns: &[NamePattern]) -> PlanResult<Vec<String>> {
        let mut matched = Vec::new();
        for pattern in patterns {
            let hits: Vec<String> = tab
                .columns
                .iter()
                .filter(|c| wildcard_match(&pattern.pattern, &c.name))
                .map(|c| c.name.clone())
                .collect();
            if hits.is_empty() && !pattern.has_wildcard() {
                return Err(unknown(
                    "column",
                    &pattern.pattern,
                    pattern.span,
                    tab.names().iter(),
                ));
            }
            for hit in hits {
                if !matched.contains(&hit) {
                    matched.push(hit);
                }
            }
        }
        Ok(matched)
    }

    pub(crate) fn plan_operator(
        &self,
        tab: Tab,
        operator: &ast::Operator,
        env: &Env,
    ) -> PlanResult<Tab> {
        let span = operator.span;
        match &operator.kind {
            OperatorKind::Where { predicate } => {
                let typed = self.lower_expr(predicate, &tab.columns, env)?;
                if !matches!(typed.ty, KustoType::Bool | KustoType::Dynamic) {
                    return Err(error(
                        format!("the 'where' predicate must be a bool, this is {}", typed.ty),
                        predicate.span,
                    ));
                }
                let predicate_expr = convert_to(typed, KustoType::Bool).expr;
                let plan = build(
                    LogicalPlanBuilder::from(tab.plan).filter(predicate_expr),
                    span,
                )?;
                Ok(Tab { plan, ..tab })
            }
            OperatorKind::Extend { columns } => self.plan_extend(tab, columns, env),
            OperatorKind::Project { columns } => self.plan_project(tab, columns, env, span),
            OperatorKind::ProjectAway { columns } => {
                let away = self.match_patterns(&tab, columns)?;
                let keep: Vec<String> = tab
                    .names()
                    .into_iter()
                    .filter(|n| !away.contains(n))
                    .collect();
                self.keep_columns(tab, &keep, span)
            }
            OperatorKind::ProjectKeep { columns } => {
                let keep = self.match_patterns(&tab, columns)?;
                let ordered: Vec<String> = tab
                    .names()
                    .into_iter()
                    .filter(|n| keep.contains(n))
                    .collect();
                self.keep_columns(tab, &ordered, span)
            }
            OperatorKind::ProjectRename { columns } => {
                let mut items: Vec<(Expr, KustoColumn)> = tab
                    .columns
                    .iter()
                    .map(|c| (col(&c.name), c.clone()))
                    .collect();
                for rename in columns {
                    let Some(position) = tab
                        .columns
                        .iter()
                        .position(|c| c.name == rename.old_name.name)
                    else {
                        return Err(unknown(
                            "column",
                            &rename.old_name.name,
                            rename.old_name.span,
                            tab.names().iter(),
                        ));
                    };
                    items[position].1.name = rename.new_name.name.clone();
                }
                self.project_tab(tab, items, span)
            }
            OperatorKind::ProjectByNames { columns } => {
                self.plan_project_by_names(tab, columns, env, span)
            }
            OperatorKind::ProjectReorder { columns } => {
                let mut first: Vec<String> = Vec::new();
                for reorder in columns {
                    if reorder.order.is_some() {
                        return Err(unsupported("project-reorder with asc/desc", reorder.span));
                    }
                    let hits = self.match_patterns(&tab, std::slice::from_ref(&reorder.pattern))?;
                    for hit in hits {
                        if !first.contains(&hit) {
                            first.push(hit);
                        }
                    }
                }
                let mut order = first.clone();
                order.extend(tab.names().into_iter().filter(|n| !first.contains(n)));
                self.keep_columns(tab, &order, span)
            }
            OperatorKind::Summarize {
                params,
                aggregates,
                by,
            } => {
                self.reject_params(params)?;
                self.plan_summarize(tab, aggregates, by, env, span)
            }
            OperatorKind::Count { params } => {
                self.reject_params(params)?;
                let count = datafusion::functions_aggregate::expr_fn::count(
                    datafusion::logical_expr::lit(1_i64),
                );
                let plan = build(
                    LogicalPlanBuilder::from(tab.plan).aggregate(
                        Vec::<Expr>::new(),
                        vec![named(count, "Count", KustoType::Long)],
                    ),
                    span,
                )?;
                Ok(Tab {
                    plan,
                    columns: vec![KustoColumn::new("Count", KustoType::Long)],
                    render: tab.render,
                })
            }
            OperatorKind::Distinct { params, columns } => {
                self.reject_params(params)?;
                // `distinct a, tostring(b)`: expressions are computed (and named) as by `project`
                // first, then the distinct rows of the result are kept.
                let computed = columns.iter().any(|item| {
                    !item.names.is_empty()
                        || !matches!(item.expr.kind, ExprKind::Name(_) | ExprKind::Star)
                });
                let tab = if computed {
                    self.plan_project(tab, columns, env, span)?
                } else {
                    tab
                };
                let by: Vec<KustoColumn> = if computed
                    || matches!(columns.as_slice(), [e] if e.expr.kind == ExprKind::Star)
                {
                    tab.columns.clone()
                } else {
                    let mut by = Vec::new();
                    for item in columns {
                        let expr = &item.expr;
                        let ExprKind::Name(ident) = &expr.kind else {
                            return Err(unsupported(
                                "expressions in distinct (use column names)",
                                expr.span,
                            ));
                        };
                        let Some(column) = tab.column(&ident.name) else {
                            return Err(unknown(
                                "column",
                                &ident.name,
                                ident.span,
                                tab.names().iter(),
                            ));
                        };
                        by.push(column.clone());
                    }
                    by
                };
                let groups: Vec<Expr> = by.iter().map(|c| col(&c.name)).collect();
                let plan = build(
                    LogicalPlanBuilder::from(tab.plan).aggregate(groups, Vec::<Expr>::new()),
                    span,
                )?;
                // Re-tag the Kusto types: grouping keeps the fields, this is for clarity.
                let tab = Tab {
                    plan,
                    columns: by,
                    render: tab.render,
                };
                let items = tab
                    .columns
                    .iter()
                    .map(|c| (col(&c.name), c.clone()))
                    .collect();
                self.project_tab(tab, items, span)
            }
            OperatorKind::Take { params, count } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                let plan = build(LogicalPlanBuilder::from(tab.plan).limit(0, Some(n)), span)?;
                Ok(Tab { plan, ..tab })
            }
            OperatorKind::Top { params, count, by } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                let sorted = self.plan_sort(tab, by, env, span)?;
                let plan = build(
                    LogicalPlanBuilder::from(sorted.plan).limit(0, Some(n)),
                    span,
                )?;
                Ok(Tab { plan, ..sorted })
            }
            OperatorKind::Sort { params, keys } => {
                self.reject_params(params)?;
                self.plan_sort(tab, keys, env, span)
            }
            OperatorKind::Join(join) => self.plan_join(tab, join, env, span, false),
            OperatorKind::Evaluate {
                plugin,
                output_schema: None,
                ..
            } if plugin.name.name == "ipv4_lookup" => self.plan_ipv4_lookup(tab, plugin, env, span),
            OperatorKind::Evaluate {
                plugin,
                output_schema: None,
                ..
            } if matches!(
                plugin.name.name.as_str(),
                "geo_polygon_lookup" | "geo_line_lookup"
            ) =>
            {
                self.plan_geo_lookup(tab, plugin, env, span)
            }
            OperatorKind::Evaluate {
                params,
                plugin,
                output_schema: None,
            } => self.plan_plugin(tab, params, plugin, env),
            OperatorKind::Lookup(join) => self.plan_join(tab, join, env, span, true),
            OperatorKind::Search {
                params,
                tables: None,
                predicate,
            } => {
                let filtered = self.plan_search_filter(tab, params, predicate, env, span)?;
                self.with_table_column(filtered, "search_arg0", span)
            }
            OperatorKind::TopNested { levels } => self.plan_top_nested(tab, levels, env, span),
            OperatorKind::Union { params, operands } => {
                self.plan_union(Some(tab), params, operands, env, span)
            }
            OperatorKind::MvExpand {
                params,
                items,
                limit,
            } => self.plan_mv_expand(tab, params, items, limit.as_ref(), env, span),
            OperatorKind::ParseKv {
                input,
                captures,
                properties,
            } => self.plan_parse_kv(tab, input, captures, properties, env, span),
            // `sample n`: n rows picked at random; `sample-distinct n of c`: n distinct values.
            OperatorKind::Sample { params, count } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                let random = datafusion::functions::math::expr_fn::random().sort(true, false);
                let plan = build(
                    LogicalPlanBuilder::from(tab.plan)
                        .sort(vec![random])
                        .and_then(|b| b.limit(0, Some(n))),
                    span,
                )?;
                Ok(Tab { plan, ..tab })
            }
            OperatorKind::SampleDistinct { params, count, of } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                let typed = self.lower_expr(of, &tab.columns, env)?;
                let name = implicit_name(of)
                    .ok_or_else(|| error("sample-distinct needs a column", of.span))?;
                let plan = build(
                    LogicalPlanBuilder::from(tab.plan)
                        .aggregate(vec![named(typed.expr, &name, typed.ty)], Vec::<Expr>::new())
                        .and_then(|b| b.limit(0, Some(n))),
                    span,
                )?;
                Ok(Tab {
                    plan,
                    columns: vec![KustoColumn::new(name, typed.ty)],
                    render: tab.render,
                })
            }
            OperatorKind::Scan {
                params,
                declare,
                steps,
            } => self.plan_scan(tab, params, declare, steps, env, span),
            OperatorKind::MvApply {
                params,
                items,
                limit,
                subquery,
            } => self.plan_mv_apply(tab, params, items, limit.as_ref(), subquery, env, span),
            OperatorKind::MakeSeries {
                params,
                aggregates,
                on,
                range,
                by,
            } => {
                self.reject_params(params)?;
                self.plan_make_series(tab, aggregates, on, range, by, env, span)
            }
            OperatorKind::Parse(parse) => self.plan_parse(tab, parse, env, false, span),
            OperatorKind::ParseWhere(parse) => self.plan_parse(tab, parse, env, true, span),
            OperatorKind::Render {
                visualization,
                properties,
            } => {
                let properties = properties
                    .iter()
                    .map(|p| (p.name.name.clone(), self.property_text(&p.value)))
                    .collect();
                Ok(Tab {
                    render: Some(RenderSpec {
                        visualization: visualization.name.clone(),
                        properties,
                    }),
                    ..tab
                })
            }
            OperatorKind::As { .. } => Ok(tab),
            OperatorKind::Serialize { columns } => {
                // A limit without a row count marks the rows as serialized for the window
                // functions after it (see `is_serialized`); the optimizer drops it.
                let plan = build(LogicalPlanBuilder::from(tab.plan).limit(0, None), span)?;
                let tab = Tab { plan, ..tab };
                if columns.is_empty() {
                    Ok(tab)
                } else {
                    self.plan_extend(tab, columns, env)
                }
            }
            OperatorKind::GetSchema => self.plan_getschema(&tab, span),
            OperatorKind::Invoke { function } => {
                let name = function.name.name.as_str();
                match env.get(name) {
                    Some(super::Binding::Function(def, captured)) => self.invoke_tabular_function(
                        name,
                        def,
                        captured,
                        &function.args,
                        env,
                        function.span,
                        Some(tab),
                    ),
                    _ => Err(unknown("function", name, function.name.span, env.names())),
                }
            }
            OperatorKind::Print { .. }
            | OperatorKind::Range { .. }
            | OperatorKind::Datatable { .. } => Err(error(
                format!(
                    "'{}' starts a query; it cannot follow '|'",
                    operator.kind.name()
                ),
                span,
            )),
            other => Err(unsupported(
                &format!("the '{}' operator", other.name()),
                span,
            )),
        }
    }

    fn property_text(&self, value: &ast::Expr) -> String {
        match &value.kind {
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::String(s),
                ..
            }) => s.clone(),
            ExprKind::Name(ident) => ident.name.clone(),
            ExprKind::List(items) => items
                .iter()
                .map(|i| self.property_text(i))
                .collect::<Vec<_>>()
                .join(","),
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::Long(v),
                ..
            }) => v.to_string(),
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::Real(v),
                ..
            }) => v.to_string(),
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::Bool(v),
                ..
            }) => v.to_string(),
            _ => String::new(),
        }
    }

    /// Hints and options that only tune execution are accepted; others are reported.
    pub(super) fn reject_params(&self, params: &[OperatorParam]) -> PlanResult<()> {
        for param in params {
            if !param.name.name.starts_with("hint.") {
                return Err(unsupported(
                    &format!("the '{}' option", param.name.name),
                    param.span,
                ));
            }
        }
        Ok(())
    }

    fn single_name<'n>(&self, item: &'n NamedExpr) -> PlanResult<Option<&'n str>> {
        match item.names.as_slice() {
            [] => Ok(None),
            [one] => {
                super::check_new_name(one)?;
                Ok(Some(one.name.as_str()))
            }
            _ => Err(unsupported(
                "assigning to several columns at once",
                item.span,
            )),
        }
    }

    pub(super) fn plan_extend(
        &self,
        mut tab: Tab,
        columns: &[NamedExpr],
        env: &Env,
    ) -> PlanResult<Tab> {
        let expanded = super::series_columns::expand_multi_output(columns)?;
        let columns = expanded.as_deref().unwrap_or(columns);
        let mut unnamed = 0;
        let input = tab.names();
        let input_columns = tab.columns.clone();
        // Kusto evaluates every expression of one `extend` against its input: a column the
        // same operator adds is not visible to the expressions after it, and one it replaces
        // still reads its input value (`extend a = c, c = a` swaps).
        let mut added: Vec<String> = Vec::new();
        let mut outputs: Vec<(String, Typed)> = Vec::new();
        for item in columns {
            if let Some(ident) = first_reference(&item.expr, &added) {
                return Err(error(
                    format!(
                        "column '{}' is defined by this same extend and cannot be used in it; \
                         use it in a second extend",
                        ident.name
                    ),
                    ident.span,
                ));
            }
            let typed = self.lower_expr(&item.expr, &input_columns, env)?;
            let (windowed, typed) = self.with_windows(tab, typed, item.span)?;
            tab = windowed;
            let name = match self.single_name(item)? {
                Some(name) => name.to_string(),
                None => match implicit_name(&item.expr) {
                    Some(name) => name,
                    None => {
                        unnamed += 1;
                        format!("Column{unnamed}")
                    }
                },
            };
            if !input.contains(&name) {
                added.push(name.clone());
            }
            match outputs.iter_mut().find(|(n, _)| *n == name) {
                Some(existing) => existing.1 = typed,
                None => outputs.push((name, typed)),
            }
        }
        let Some(span) = columns.first().map(|c| c.span) else {
            return Ok(tab);
        };
        let mut items: Vec<(Expr, KustoColumn)> = Vec::with_capacity(input.len() + outputs.len());
        for column in &input_columns {
            match outputs.iter().position(|(n, _)| *n == column.name) {
                Some(index) => {
                    let (name, typed) = &outputs[index];
                    items.push((typed.expr.clone(), KustoColumn::new(name, typed.ty)));
                }
                None => items.push((col(&column.name), column.clone())),
            }
        }
        for (name, typed) in outputs {
            if !input.contains(&name) {
                items.push((typed.expr, KustoColumn::new(&name, typed.ty)));
            }
        }
        self.project_tab(tab, items, span)
    }

    /// Evaluates the window functions (`row_number()`, `prev()`, ...) inside `typed` in a
    /// window node over `tab`, returning the new input and the expression reading their results.
    fn with_windows(&self, mut tab: Tab, typed: Typed, span: Span) -> PlanResult<(Tab, Typed)> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        let mut expr = typed.expr;
        let mut checked = false;
        // Innermost windows first: a restart condition (`row_number(1, g != prev(g))`) puts
        // windows inside the partition of another.
        loop {
            let windows = leaf_windows(&expr);
            if windows.is_empty() {
                break;
            }
            if !checked && !is_serialized(&tab.plan) {
                return Err(error(
                    "row_number(), prev(), next() and row_cumsum() need serialized rows: add \
                     '| serialize' or '| sort by ...' before this operator",
                    span,
                ));
            }
            checked = true;
            // Kusto numbers rows in the order of the serialized input. A window without ORDER
            // BY leaves DataFusion free to drop or ignore an earlier sort, so the sort's keys
            // are given to the window functions explicitly.
            let ordering = input_ordering(&tab.plan);
            let ordered: Vec<Expr> = windows
                .iter()
                .map(|window| match (window, &ordering) {
                    (Expr::WindowFunction(function), Some(keys))
                        if function.params.order_by.is_empty() =>
                    {
                        let mut function = function.as_ref().clone();
                        function.params.order_by = keys.clone();
                        Expr::WindowFunction(Box::new(function))
                    }
                    _ => window.clone(),
                })
                .collect();
            // Another expression of the same extend may have computed the same window already.
            let missing: Vec<Expr> = ordered
                .iter()
                .filter(|w| {
                    !tab.plan
                        .schema()
                        .has_column_with_unqualified_name(&w.schema_name().to_string())
                })
                .cloned()
                .collect();
            if !missing.is_empty() {
                let plan = LogicalPlanBuilder::window_plan(tab.plan, missing)
                    .map_err(|e| df_error(e, span))?;
                tab = Tab { plan, ..tab };
            }
            expr = expr
                .transform_up(|node| {
                    if let Some(index) = windows.iter().position(|w| *w == node) {
                        let name = ordered[index].schema_name().to_string();
                        return Ok(Transformed::yes(Expr::Column(
                            datafusion::common::Column::new_unqualified(name),
                        )));
                    }
                    Ok(Transformed::no(node))
                })
                .map_err(|e| df_error(e, span))?
                .data;
        }
        Ok((tab, Typed { expr, ty: typed.ty }))
    }

    pub(super) fn plan_project(
        &self,
        tab: Tab,
        columns: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let expanded = super::series_columns::expand_multi_output(columns)?;
        let columns = expanded.as_deref().unwrap_or(columns);
        let mut items = Vec::new();
        let mut unnamed = 0;
        let mut tab = tab;
        for item in columns {
            let typed = self.lower_expr(&item.expr, &tab.columns, env)?;
            let (windowed, typed) = self.with_windows(tab, typed, item.span)?;
            tab = windowed;
            let name = match self.single_name(item)? {
                Some(name) => name.to_string(),
                None => match implicit_name(&item.expr) {
                    Some(name) => name,
                    None => {
                        unnamed += 1;
                        format!("Column{unnamed}")
                    }
                },
            };
            items.push((typed.expr, KustoColumn::new(name, typed.ty)));
        }
        self.project_tab(tab, items, span)
    }

    fn plan_sort(&self, tab: Tab, keys: &[SortKey], env: &Env, span: Span) -> PlanResult<Tab> {
        let sorts = self.sort_exprs(&tab, keys, env)?;
        let plan = build(LogicalPlanBuilder::from(tab.plan).sort(sorts), span)?;
        Ok(Tab { plan, ..tab })
    }

    /// The DataFusion sort keys of `sort by` keys (Kusto sorts descending by default).
    pub(super) fn sort_exprs(
        &self,
        tab: &Tab,
        keys: &[SortKey],
        env: &Env,
    ) -> PlanResult<Vec<SortExpr>> {
        let mut sorts: Vec<SortExpr> = Vec::new();
        for key in keys {
            let typed = self.lower_expr(&key.expr, &tab.columns, env)?;
            if typed.ty == KustoType::Dynamic {
                return Err(error(
                    "cannot sort by a dynamic value; convert it first",
                    key.expr.span,
                ));
            }
            let ascending = matches!(key.order.as_ref().map(|o| o.value), Some(SortOrder::Asc));
            let nulls_first = match key.nulls.as_ref().map(|n| n.value) {
                Some(NullsOrder::First) => true,
                Some(NullsOrder::Last) => false,
                None => ascending,
            };
            sorts.push(typed.expr.sort(ascending, nulls_first));
        }
        Ok(sorts)
    }

    pub(super) fn plan_summarize(
        &self,
        tab: Tab,
        aggregates: &[NamedExpr],
        by: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut output: Vec<KustoColumn> = Vec::new();
        let mut group_exprs = Vec::new();
        let mut unnamed = 0;
        let mut taken: Vec<String> = Vec::new();
        for item in by {
            let typed = self.lower_expr(&item.expr, &tab.columns, env)?;
            let name = match self.single_name(item)? {
                Some(name) => name.to_string(),
                None => match &item.expr.kind {
                    // `bin(TimeGenerated, 1h)` keeps the column's name.
                    ExprKind::Call(call)
                        if matches!(call.name.name.as_str(), "bin" | "floor" | "bin_at")
                            && call
                                .args
                                .first()
                                .and_then(|a| implicit_name(&a.value))
                                .is_some() =>
                    {
                        call.args
                            .first()
                            .and_then(|a| implicit_name(&a.value))
                            .unwrap_or_default()
                    }
                    _ => match implicit_name(&item.expr).or_else(|| call_column_name(&item.expr)) {
                        Some(name) => name,
                        None => {
                            unnamed += 1;
                            format!("Column{unnamed}")
                        }
                    },
                },
            };
            if typed.ty == KustoType::Dynamic {
                return Err(error(
                    "cannot group by a dynamic value; convert it with tostring() first",
                    item.expr.span,
                ));
            }
            taken.push(name.clone());
            group_exprs.push(named(typed.expr, &name, typed.ty));
            output.push(KustoColumn::new(name, typed.ty));
        }
        let mut aggregate_exprs = Vec::new();
        let mut post: Vec<(String, ast::Expr, Vec<KustoColumn>)> = Vec::new();
        for item in aggregates {
            let call = match &item.expr.kind {
                ExprKind::Call(call) if super::expr::is_aggregate(&call.name.name) => call,
                _ => {
                    // An expression over aggregates (`countif(x) * 100 / count()`): compute
                    // each aggregate as a hidden column, then the expression over them.
                    let mut rewritten = item.expr.clone();
                    let mut calls = Vec::new();
                    extract_aggregates(&mut rewritten, &mut calls, post.len());
                    if calls.is_empty() {
                        return Err(error(
                            "a summarize expression must use an aggregation function",
                            item.expr.span,
                        ));
                    }
                    let mut hidden = Vec::new();
                    for (hidden_name, call) in calls {
                        let lowered = self.lower_aggregate(&call, &tab.columns, env)?;
                        aggregate_exprs.push(named(lowered.expr, &hidden_name, lowered.ty));
                        hidden.push(KustoColumn::new(hidden_name, lowered.ty));
                    }
                    let name = match self.single_name(item)? {
                        Some(name) => name.to_string(),
                        None => {
                            unnamed += 1;
                            format!("Column{unnamed}")
                        }
                    };
                    taken.push(name.clone());
                    post.push((name, rewritten, hidden));
                    continue;
                }
            };
            let several = match call.name.name.as_str() {
                "arg_max" | "arg_min" => {
                    let explicit = self.single_name(item)?.map(str::to_string);
                    Some(self.lower_arg_extreme(call, explicit, by, &tab, env)?)
                }
                "percentiles" if call.args.len() > 2 || item.names.len() > 1 => {
                    Some(self.lower_percentiles(call, &item.names, &tab.columns, env)?)
                }
                "percentilesw" => {
                    Some(self.lower_percentiles(call, &item.names, &tab.columns, env)?)
                }
                _ => None,
            };
            if let Some(outputs) = several {
                for (name, expr, ty) in outputs {
                    let mut unique = name.clone();
                    let mut suffix = 0;
                    while taken.contains(&unique) {
                        suffix += 1;
                        unique = format!("{name}{suffix}");
                    }
                    taken.push(unique.clone());
                    aggregate_exprs.push(named(expr, &unique, ty));
                    output.push(KustoColumn::new(unique, ty));
                }
                continue;
            }
            let lowered = self.lower_aggregate(call, &tab.columns, env)?;
            let name = match self.single_name(item)? {
                Some(name) => name.to_string(),
                None => {
                    let mut name = lowered.default_name.clone();
                    let mut suffix = 0;
                    while taken.contains(&name) {
                        suffix += 1;
                        name = format!("{}{suffix}", lowered.default_name);
                    }
                    name
                }
            };
            if taken.contains(&name) {
                return Err(error(format!("duplicate column name '{name}'"), item.span));
            }
            taken.push(name.clone());
            aggregate_exprs.push(named(lowered.expr, &name, lowered.ty));
            output.push(KustoColumn::new(name, lowered.ty));
        }
        let plan = build(
            LogicalPlanBuilder::from(tab.plan).aggregate(group_exprs, aggregate_exprs),
            span,
        )?;
        if post.is_empty() {
            return Ok(Tab {
                plan,
                columns: output,
                render: tab.render,
            });
        }
        // Second step: the expressions over aggregates, in their place among the columns.
        let mut visible: Vec<KustoColumn> = output.clone();
        for (_, _, hidden) in &post {
            visible.extend(hidden.iter().cloned());
        }
        let aggregated = Tab {
            plan,
            columns: visible.clone(),
            render: tab.render,
        };
        let mut items: Vec<(Expr, KustoColumn)> =
            output.iter().map(|c| (col(&c.name), c.clone())).collect();
        for (name, rewritten, _) in &post {
            let typed = self.lower_expr(rewritten, &visible, env)?;
            items.push((typed.expr, KustoColumn::new(name, typed.ty)));
        }
        // Keep Kusto's column order: by-columns, then the aggregates as written.
        let order: Vec<String> = by_and_aggregate_names(&output, &post, aggregates, self)?;
        items.sort_by_key(|(_, c)| {
            order
                .iter()
                .position(|n| n == &c.name)
                .unwrap_or(usize::MAX)
        });
        self.project_tab(aggregated, items, span)
    }

    /// `arg_max(x, a, b)` / `arg_min(x, *)`: the extreme of `x` and the other columns of the
    /// row holding it, as (name, aggregate, type) triples; `*` means every column that is not
    /// a `by` column or `x` itself.
    fn lower_arg_extreme(
        &self,
        call: &ast::FunctionCall,
        explicit: Option<String>,
        by: &[NamedExpr],
        tab: &Tab,
        env: &Env,
    ) -> PlanResult<Vec<(String, Expr, KustoType)>> {
        use datafusion::functions_aggregate::expr_fn::first_value;
        let function = call.name.name.as_str();
        let Some((target, returned)) = call.args.split_first() else {
            return Err(error(
                format!("{function}() expects at least 2 arguments"),
                call.span,
            ));
        };
        if returned.is_empty() {
            return Err(error(
                format!("{function}() expects at least 2 arguments"),
                call.span,
            ));
        }
        let key = self.lower_expr(&target.value, &tab.columns, env)?;
        if key.ty == KustoType::Dynamic {
            return Err(error(
                format!("{function}(): cannot order by a dynamic value"),
                target.span,
            ));
        }
        let descending = function == "arg_max";
        let order = vec![key.expr.clone().sort(!descending, false)];
        let key_name = implicit_name(&target.value)
            .or_else(|| call_column_name(&target.value))
            .unwrap_or_else(|| format!("{}_", &function[4..]));
        let mut outputs = vec![(
            explicit.unwrap_or_else(|| key_name.clone()),
            first_value(key.expr.clone(), order.clone()),
            key.ty,
        )];
        let by_names: Vec<String> = by.iter().filter_map(|b| implicit_name(&b.expr)).collect();
        for argument in returned {
            if argument.value.kind == ExprKind::Star {
                for column in &tab.columns {
                    if by_names.contains(&column.name) || column.name == key_name {
                        continue;
                    }
                    outputs.push((
                        column.name.clone(),
                        first_value(col(&column.name), order.clone()),
                        column.ty,
                    ));
                }
                continue;
            }
            let value = self.lower_expr(&argument.value, &tab.columns, env)?;
            let name = match &argument.name {
                Some(name) => name.name.clone(),
                None => implicit_name(&argument.value)
                    .or_else(|| call_column_name(&argument.value))
                    .unwrap_or_else(|| "Column1".to_string()),
            };
            outputs.push((name, first_value(value.expr, order.clone()), value.ty));
        }
        Ok(outputs)
    }

    pub(crate) fn plan_print(
        &self,
        columns: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut items = Vec::new();
        for (index, item) in columns.iter().enumerate() {
            let typed = self.lower_expr(&item.expr, &[], env)?;
            let name = match self.single_name(item)? {
                Some(name) => name.to_string(),
                None => format!("print_{index}"),
            };
            items.push((typed.expr, KustoColumn::new(name, typed.ty)));
        }
        let empty = Tab {
            plan: build(Ok(LogicalPlanBuilder::empty(true)), span)?,
            columns: Vec::new(),
            render: None,
        };
        self.project_tab(empty, items, span)
    }

    /// A table from constant record batches.
    fn constant_table(
        &self,
        name: &str,
        columns: Vec<KustoColumn>,
        arrays: Vec<ArrayRef>,
        span: Span,
    ) -> PlanResult<Tab> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| c.ty.field(&c.name))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| error(format!("cannot build the table: {e}"), span))?;
        let provider =
            MemTable::try_new(schema, vec![vec![batch]]).map_err(|e| df_error(e, span))?;
        let table = crate::catalog::TableRef {
            name: name.to_string(),
            provider: Arc::new(provider),
            columns,
        };
        let builder =
            LogicalPlanBuilder::scan(name, provider_as_source(table.provider.clone()), None)
                .map_err(|e| df_error(e, span))?;
        let exprs: Vec<Expr> = table
            .columns
            .iter()
            .map(|c| named(col(&c.name), &c.name, c.ty))
            .collect();
        let plan = build(builder.project(exprs), span)?;
        Ok(Tab {
            plan,
            columns: table.columns,
            render: None,
        })
    }

    pub(crate) fn plan_datatable(
        &self,
        schema: &[ColumnDecl],
        values: &[ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        if schema.is_empty() {
            return Err(error("datatable needs at least one column", span));
        }
        if !values.len().is_multiple_of(schema.len()) {
            return Err(error(
                format!(
                    "datatable has {} values, not a multiple of its {} columns",
                    values.len(),
                    schema.len()
                ),
                span,
            ));
        }
        for declaration in schema {
            super::check_new_name(&declaration.name)?;
        }
        let columns: Vec<KustoColumn> = schema
            .iter()
            .map(|d| KustoColumn::new(&d.name.name, kusto_type_of_scalar(d.ty.value)))
            .collect();
        let mut cells: Vec<Vec<ScalarValue>> = vec![Vec::new(); columns.len()];
        for (index, value) in values.iter().enumerate() {
            let column = &columns[index % columns.len()];
            let typed = self.lower_expr(value, &[], env)?;
            let scalar = self.cell_value(typed, column.ty, value.span)?;
            cells[index % columns.len()].push(scalar);
        }
        let mut arrays = Vec::new();
        for (column, column_cells) in columns.iter().zip(cells) {
            let array = if column_cells.is_empty() {
                arrow::array::new_empty_array(&column.ty.arrow_type())
            } else {
                ScalarValue::iter_to_array(column_cells)
                    .map_err(|e| error(format!("column '{}': {e}", column.name), span))?
            };
            arrays.push(array);
        }
        self.constant_table("datatable", columns, arrays, span)
    }

    /// `externaldata (schema) [uris]`: the declared schema plans, but goshawk runs offline, so
    /// reading the data fails with a message saying how to supply it instead.
    pub(crate) fn plan_external_data(
        &self,
        schema: &[ColumnDecl],
        uris: &[ast::Literal],
        span: Span,
    ) -> PlanResult<Tab> {
        if schema.is_empty() {
            return Err(error("externaldata needs at least one column", span));
        }
        for declaration in schema {
            super::check_new_name(&declaration.name)?;
        }
        let columns: Vec<KustoColumn> = schema
            .iter()
            .map(|d| KustoColumn::new(&d.name.name, kusto_type_of_scalar(d.ty.value)))
            .collect();
        let arrays = columns
            .iter()
            .map(|c| arrow::array::new_null_array(&c.ty.arrow_type(), 1))
            .collect();
        let tab = self.constant_table("externaldata", columns, arrays, span)?;
        let first = uris
            .iter()
            .find_map(|uri| match &uri.kind {
                ast::LiteralKind::String(text) => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let message = format!(
            "externaldata: goshawk runs offline and does not fetch '{first}'; download it and \
             pass it with --table NAME=FILE"
        );
        let plan = build(
            LogicalPlanBuilder::from(tab.plan).filter(super::udf::unavailable(message)),
            span,
        )?;
        Ok(Tab { plan, ..tab })
    }

    /// A constant cell of a datatable, converted to the column's type as Kusto does.
    fn cell_value(&self, typed: Typed, ty: KustoType, span: Span) -> PlanResult<ScalarValue> {
        let Some(value) = constant_value(&typed.expr) else {
            return Err(error("datatable values must be constants", span));
        };
        if value.is_null() {
            return ScalarValue::try_from(&ty.arrow_type()).map_err(|e| df_error(e, span));
        }
        if typed.ty == ty {
            return Ok(value);
        }
        let allowed = matches!(
            (typed.ty, ty),
            (
                KustoType::Int | KustoType::Long | KustoType::Real,
                KustoType::Int | KustoType::Long | KustoType::Real | KustoType::Decimal
            ) | (KustoType::String, KustoType::Guid | KustoType::Dynamic)
                | (_, KustoType::Dynamic)
        );
        if !allowed {
            return Err(error(
                format!("a {} value in a {ty} column", typed.ty),
                span,
            ));
        }
        if ty == KustoType::Dynamic {
            let json = crate::format::json_at(
                value.to_array().map_err(|e| df_error(e, span))?.as_ref(),
                0,
                typed.ty,
            );
            return Ok(ScalarValue::Utf8(Some(json.to_string())));
        }
        value
            .cast_to(&ty.arrow_type())
            .map_err(|e| df_error(e, span))
    }

    pub(crate) fn plan_range(
        &self,
        column: &ast::Ident,
        from: &ast::Expr,
        to: &ast::Expr,
        step: &ast::Expr,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        const MAX_ROWS: usize = 10_000_000;
        let from_t = self.lower_expr(from, &[], env)?;
        let to_t = self.lower_expr(to, &[], env)?;
        let step_t = self.lower_expr(step, &[], env)?;
        let constant = |t: &Typed, e: &ast::Expr| {
            super::fold::fold_constant(&t.expr)
                .ok_or_else(|| error("range bounds must be constants", e.span))
        };
        let (a, b, s) = (
            constant(&from_t, from)?,
            constant(&to_t, to)?,
            constant(&step_t, step)?,
        );
        let as_i64 = |v: &ScalarValue| -> Option<i64> {
            match v {
                ScalarValue::Int64(Some(x)) | ScalarValue::DurationNanosecond(Some(x)) => Some(*x),
                ScalarValue::TimestampNanosecond(Some(x), _) => Some(*x),
                ScalarValue::Int32(Some(x)) => Some(i64::from(*x)),
                _ => None,
            }
        };
        let too_many = || {
            error(
                format!("range would produce more than {MAX_ROWS} rows"),
                span,
            )
        };
        let (ty, array): (KustoType, ArrayRef) = match (from_t.ty, step_t.ty) {
            (KustoType::Real, _) | (_, KustoType::Real) => {
                let to_f = |v: &ScalarValue| {
                    v.cast_to(&arrow::datatypes::DataType::Float64)
                        .ok()
                        .and_then(|v| match v {
                            ScalarValue::Float64(x) => x,
                            _ => None,
                        })
                };
                let (Some(a), Some(b), Some(s)) = (to_f(&a), to_f(&b), to_f(&s)) else {
                    return Err(error("range bounds must be numbers", span));
                };
                if s == 0.0 {
                    return Err(error("range step must not be zero", step.span));
                }
                let mut values = Vec::new();
                let mut x = a;
                while (s > 0.0 && x <= b) || (s < 0.0 && x >= b) {
                    values.push(x);
                    if values.len() > MAX_ROWS {
                        return Err(too_many());
                    }
                    x += s;
                }
                (
                    KustoType::Real,
                    Arc::new(arrow::array::Float64Array::from(values)),
                )
            }
            (
                ty @ (KustoType::Int | KustoType::Long | KustoType::DateTime | KustoType::TimeSpan),
                _,
            ) => {
                let (Some(a), Some(b), Some(s)) = (as_i64(&a), as_i64(&b), as_i64(&s)) else {
                    return Err(error(
                        "range bounds and step must be constants of matching types",
                        span,
                    ));
                };
                if s == 0 {
                    return Err(error("range step must not be zero", step.span));
                }
                let mut values = Vec::new();
                let mut x = a;
                while (s > 0 && x <= b) || (s < 0 && x >= b) {
                    values.push(x);
                    if values.len() > MAX_ROWS {
                        return Err(too_many());
                    }
                    match x.checked_add(s) {
                        Some(next) => x = next,
                        None => break,
                    }
                }
                let ty = if ty == KustoType::Int {
                    KustoType::Long
                } else {
                    ty
                };
                let array: ArrayRef = match ty {
                    KustoType::DateTime => Arc::new(
                        arrow::array::TimestampNanosecondArray::from(values).with_timezone("UTC"),
                    ),
                    KustoType::TimeSpan => {
                        Arc::new(arrow::array::DurationNanosecondArray::from(values))
                    }
                    _ => Arc::new(arrow::array::Int64Array::from(values)),
                };
                (ty, array)
            }
            (other, _) => return Err(error(format!("range over {other} values"), from.span)),
        };
        self.constant_table(
            "range",
            vec![KustoColumn::new(&column.name, ty)],
            vec![array],
            span,
        )
    }

    fn plan_getschema(&self, tab: &Tab, span: Span) -> PlanResult<Tab> {
        let names: Vec<String> = tab.names();
        let ordinals: Vec<i32> = (0..names.len())
            .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        let dotnet: Vec<&str> = tab.columns.iter().map(|c| c.ty.dotnet_name()).collect();
        let kinds: Vec<&str> = tab.columns.iter().map(|c| c.ty.name()).collect();
        self.constant_table(
            "getschema",
            vec![
                KustoColumn::new("ColumnName", KustoType::String),
                KustoColumn::new("ColumnOrdinal", KustoType::Int),
                KustoColumn::new("DataType", KustoType::String),
                KustoColumn::new("ColumnType", KustoType::String),
            ],
            vec![
                Arc::new(arrow::array::StringArray::from(names)),
                Arc::new(arrow::array::Int32Array::from(ordinals)),
                Arc::new(arrow::array::StringArray::from(dotnet)),
                Arc::new(arrow::array::StringArray::from(kinds)),
            ],
            span,
        )
    }

    /// `search`: bare string terms match any column with `has` (`*` at the end or start makes
    /// it a prefix or suffix match), `Col:"x"` one column; other predicates are ordinary.
    pub(crate) fn plan_search_filter(
        &self,
        tab: Tab,
        params: &[OperatorParam],
        predicate: &ast::Expr,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut case_sensitive = false;
        for param in params {
            match (param.name.name.as_str(), &param.value.kind) {
                ("kind", ExprKind::Name(v)) if v.name == "case_sensitive" => case_sensitive = true,
                ("kind", ExprKind::Name(v)) if v.name == "case_insensitive" => {}
                _ => {
                    return Err(unsupported(
                        &format!("the search option '{}'", param.name.name),
                        param.span,
                    ));
                }
            }
        }
        let condition = self.search_condition(&tab, predicate, case_sensitive, env)?;
        let plan = build(
            LogicalPlanBuilder::from(tab.plan).filter(condition.expr),
            span,
        )?;
        Ok(Tab {
            plan,
            columns: tab.columns,
            render: tab.render,
        })
    }

    fn search_term(
        &self,
        columns: &[KustoColumn],
        term: &str,
        case_sensitive: bool,
        span: Span,
    ) -> PlanResult<Typed> {
        let (op, needle) = match (term.strip_suffix('*'), term.strip_prefix('*')) {
            (Some(prefix), _) if !prefix.contains('*') => (
                if case_sensitive {
                    ast::BinaryOp::HasPrefixCs
                } else {
                    ast::BinaryOp::HasPrefix
                },
                prefix,
            ),
            (_, Some(suffix)) if !suffix.contains('*') => (
                if case_sensitive {
                    ast::BinaryOp::HasSuffixCs
                } else {
                    ast::BinaryOp::HasSuffix
                },
                suffix,
            ),
            _ => (
                if case_sensitive {
                    ast::BinaryOp::HasCs
                } else {
                    ast::BinaryOp::Has
                },
                term,
            ),
        };
        let needle = typed_lit(
            ScalarValue::Utf8(Some(needle.to_string())),
            KustoType::String,
        );
        let mut any: Option<Expr> = None;
        for column in columns {
            let value = convert_to(
                Typed {
                    expr: col(&column.name),
                    ty: column.ty,
                },
                KustoType::String,
            );
            let test = self.lower_binary(op, value, needle.clone(), span)?.expr;
            any = Some(match any {
                None => test,
                Some(acc) => acc.or(test),
            });
        }
        Ok(Typed {
            expr: any.unwrap_or_else(|| datafusion::logical_expr::lit(false)),
            ty: KustoType::Bool,
        })
    }

    fn search_condition(
        &self,
        tab: &Tab,
        expr: &ast::Expr,
        case_sensitive: bool,
        env: &Env,
    ) -> PlanResult<Typed> {
        match &expr.kind {
            ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::String(term),
                ..
            }) => self.search_term(&tab.columns, term, case_sensitive, expr.span),
            ExprKind::Paren(inner) => self.search_condition(tab, inner, case_sensitive, env),
            ExprKind::Binary { op, left, right }
                if matches!(op.value, ast::BinaryOp::And | ast::BinaryOp::Or) =>
            {
                let l = self.search_condition(tab, left, case_sensitive, env)?;
                let r = self.search_condition(tab, right, case_sensitive, env)?;
                self.lower_binary(op.value, l, r, op.span)
            }
            ExprKind::Binary { op, left, right } if op.value == ast::BinaryOp::SearchColon => {
                let ExprKind::Name(column) = &left.kind else {
                    return Err(error("expected a column name before ':'", left.span));
                };
                let Some(found) = tab.column(&column.name) else {
                    return Err(unknown(
                        "column",
                        &column.name,
                        column.span,
                        tab.names().iter(),
                    ));
                };
                let ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::String(term),
                    ..
                }) = &right.kind
                else {
                    return Err(error("expected a string after ':'", right.span));
                };
                self.search_term(std::slice::from_ref(found), term, case_sensitive, expr.span)
            }
            ExprKind::Call(call) if call.name.name == "not" && call.args.len() == 1 => {
                let inner = self.search_condition(tab, &call.args[0].value, case_sensitive, env)?;
                Ok(Typed {
                    expr: Expr::Not(Box::new(inner.expr)),
                    ty: KustoType::Bool,
                })
            }
            _ => {
                let typed = self.lower_expr(expr, &tab.columns, env)?;
                if typed.ty != KustoType::Bool {
                    return Err(error(
                        format!("a search condition must be a bool, this is {}", typed.ty),
                        expr.span,
                    ));
                }
                Ok(typed)
            }
        }
    }

    /// `top-nested N of Key by Agg [asc|desc], ...`: per level, the top N keys by the aggregate
    /// within each kept combination of the previous levels' keys; one row per leaf.
    fn plan_top_nested(
        &self,
        tab: Tab,
        levels: &[ast::TopNestedLevel],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        use datafusion::functions_window::expr_fn::row_number;
        use datafusion::logical_expr::ExprFunctionExt;
        let mut input = tab;
        let mut previous_keys: Vec<KustoColumn> = Vec::new();
        let mut result: Option<Tab> = None;
        for (depth, level) in levels.iter().enumerate() {
            if let Some(others) = &level.with_others {
                return Err(unsupported("top-nested 'with others'", others.span));
            }
            let key = self.lower_expr(&level.of.expr, &input.columns, env)?;
            let key_name = match self.single_name(&level.of)? {
                Some(name) => name.to_string(),
                None => {
                    implicit_name(&level.of.expr).unwrap_or_else(|| format!("Column{}", depth + 1))
                }
            };
            let ExprKind::Call(call) = &level.by.expr.kind else {
                return Err(error(
                    "top-nested ranks by an aggregation call",
                    level.by.expr.span,
                ));
            };
            let aggregate = self.lower_aggregate(call, &input.columns, env)?;
            let aggregate_name = match self.single_name(&level.by)? {
                Some(name) => name.to_string(),
                None => format!("aggregated_{key_name}"),
            };
            // The key becomes a column of the input so that deeper levels can group by it.
            if input.column(&key_name).is_none_or(
                |c| !matches!(&level.of.expr.kind, ExprKind::Name(n) if n.name == c.name),
            ) {
                let mut items: Vec<(Expr, KustoColumn)> = input
                    .columns
                    .iter()
                    .filter(|c| c.name != key_name)
                    .map(|c| (col(&c.name), c.clone()))
                    .collect();
                items.push((key.expr.clone(), KustoColumn::new(&key_name, key.ty)));
                input = self.project_tab(input, items, level.span)?;
            }
            let mut groups: Vec<Expr> = previous_keys.iter().map(|k| col(&k.name)).collect();
            groups.push(col(&key_name));
            let grouped = build(
                LogicalPlanBuilder::from(input.plan.clone()).aggregate(
                    groups,
                    vec![named(aggregate.expr, &aggregate_name, aggregate.ty)],
                ),
                level.span,
            )?;
            let ascending = matches!(level.order.as_ref().map(|o| o.value), Some(SortOrder::Asc));
            let mut level_plan = grouped;
            if let Some(count) = &level.count {
                let n = constant_count(self, count, env)?;
                let rank = row_number()
                    .partition_by(previous_keys.iter().map(|k| col(&k.name)).collect())
                    .order_by(vec![col(&aggregate_name).sort(ascending, false)])
                    .build()
                    .map_err(|e| df_error(e, level.span))?;
                let rank_name = rank.schema_name().to_string();
                level_plan = build(
                    LogicalPlanBuilder::window_plan(level_plan, vec![rank])
                        .map(LogicalPlanBuilder::from)
                        .and_then(|b| {
                            b.filter(
                                Expr::Column(datafusion::common::Column::new_unqualified(
                                    rank_name,
                                ))
                                .lt_eq(
                                    datafusion::logical_expr::lit(
                                        i64::try_from(n).unwrap_or(i64::MAX),
                                    ),
                                ),
                            )
                        }),
                    level.span,
                )?;
            }
            let key_column = KustoColumn::new(&key_name, key.ty);
            let aggregate_column = KustoColumn::new(&aggregate_name, aggregate.ty);
            // Rename the parent keys of this level so that they can be joined to the result.
            let mut items: Vec<(Expr, KustoColumn)> = previous_keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        col(&k.name),
                        KustoColumn::new(format!("__goshawk_parent{i}"), k.ty),
                    )
                })
                .collect();
            items.push((col(&key_name), key_column.clone()));
            items.push((col(&aggregate_name), aggregate_column.clone()));
            let level_tab = self.project_tab(
                Tab {
                    plan: level_plan,
                    columns: Vec::new(),
                    render: None,
                },
                items,
                level.span,
            )?;
            result = Some(match result {
                None => level_tab,
                Some(parent) => {
                    let left_keys: Vec<datafusion::common::Column> = previous_keys
                        .iter()
                        .map(|k| datafusion::common::Column::new_unqualified(&k.name))
                        .collect();
                    let right_keys: Vec<datafusion::common::Column> = (0..previous_keys.len())
                        .map(|i| {
                            datafusion::common::Column::new_unqualified(format!(
                                "__goshawk_parent{i}"
                            ))
                        })
                        .collect();
                    let plan = build(
                        LogicalPlanBuilder::from(parent.plan).join_detailed(
                            level_tab.plan,
                            JoinType::Inner,
                            (left_keys, right_keys),
                            None,
                            datafusion::common::NullEquality::NullEqualsNull,
                        ),
                        level.span,
                    )?;
                    let mut columns = parent.columns.clone();
                    columns.push(key_column.clone());
                    columns.push(aggregate_column.clone());
                    let joined = Tab {
                        plan,
                        columns: Vec::new(),
                        render: None,
                    };
                    let items = columns.iter().map(|c| (col(&c.name), c.clone())).collect();
                    self.project_tab(joined, items, level.span)?
                }
            });
            previous_keys.push(key_column);
        }
        let mut result =
            result.ok_or_else(|| error("top-nested needs at least one level", span))?;
        result.render = input.render;
        Ok(result)
    }

    /// Prepends search's `$table` column.
    pub(crate) fn with_table_column(&self, tab: Tab, name: &str, span: Span) -> PlanResult<Tab> {
        let mut items = vec![(
            typed_lit(ScalarValue::Utf8(Some(name.to_string())), KustoType::String).expr,
            KustoColumn::new("$table", KustoType::String),
        )];
        items.extend(tab.columns.iter().map(|c| (col(&c.name), c.clone())));
        self.project_tab(tab, items, span)
    }

    pub(crate) fn plan_union(
        &self,
        input: Option<Tab>,
        params: &[OperatorParam],
        operands: &[UnionOperand],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut inner = false;
        let mut source_column: Option<String> = None;
        for param in params {
            match param.name.name.as_str() {
                "kind" => {
                    inner = matches!(&param.value.kind, ExprKind::Name(i) if i.name == "inner");
                }
                "withsource" => {
                    let ExprKind::Name(ident) = &param.value.kind else {
                        return Err(error("withsource expects a column name", param.value.span));
                    };
                    source_column = Some(ident.name.clone());
                }
                "isfuzzy" => {}
                other => {
                    return Err(unsupported(
                        &format!("the union option '{other}'"),
                        param.span,
                    ));
                }
            }
        }
        let mut parts: Vec<(String, Tab)> = Vec::new();
        if let Some(input) = input {
            parts.push(("union_arg0".to_string(), input));
        }
        for operand in operands {
            match operand {
                UnionOperand::Pattern(pattern) if pattern.has_wildcard() => {
                    let names: Vec<String> = self
                        .catalog
                        .table_names()
                        .into_iter()
                        .filter(|n| wildcard_match(&pattern.pattern, n))
                        .collect();
                    for name in names {
                        let tab = self.resolve_table_name(&name, pattern.span, env)?;
                        parts.push((name, tab));
                    }
                }
                UnionOperand::Pattern(pattern) => {
                    let tab = self.resolve_table_name(&pattern.pattern, pattern.span, env)?;
                    // Kusto names let-bound inputs by position, catalog tables and views by
                    // name.
                    let name =
                        if env.get(&pattern.pattern).is_some() && !env.is_view(&pattern.pattern) {
                            format!("union_arg{}", parts.len())
                        } else {
                            pattern.pattern.clone()
                        };
                    parts.push((name, tab));
                }
                UnionOperand::ScopedPattern { span, .. } => {
                    return Err(unsupported("tables of other databases or clusters", *span));
                }
                UnionOperand::Tabular(tabular) => {
                    let alias = match tabular.operators.last().map(|o| &o.kind) {
                        Some(OperatorKind::As { name, .. }) => Some(name.name.clone()),
                        _ => None,
                    };
                    let name = match tabular.source.as_deref().map(|s| &s.kind) {
                        // `(... | as T1)` names its rows T1.
                        _ if let Some(alias) = alias => alias,
                        Some(ast::SourceKind::Name(ident))
                            if tabular.operators.is_empty()
                                && (env.get(&ident.name).is_none() || env.is_view(&ident.name)) =>
                        {
                            ident.name.clone()
                        }
                        _ => format!("union_arg{}", parts.len()),
                    };
                    parts.push((name, self.plan_tabular(tabular, env, None)?));
                }
            }
        }
        if parts.is_empty() {
            return Err(error(
                "union has no tables to combine (no table matches the pattern)",
                span,
            ));
        }
        // Output columns: by name; a name with different types in different inputs becomes
        // one column per type, named `name_type`.
        self.union_parts(parts, inner, source_column, span)
    }

    /// The outer union of tables (search's per-table results).
    pub(crate) fn union_tabs(&self, tabs: Vec<Tab>, span: Span) -> PlanResult<Tab> {
        if tabs.is_empty() {
            return Err(error(
                "no table to search (the catalog is empty or nothing matches)",
                span,
            ));
        }
        let parts = tabs.into_iter().map(|t| (String::new(), t)).collect();
        self.union_parts(parts, false, None, span)
    }

    fn union_parts(
        &self,
        parts: Vec<(String, Tab)>,
        inner: bool,
        source_column: Option<String>,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut output: Vec<KustoColumn> = Vec::new();
        // (input name, type) -> output name.
        let mut renamed: Vec<((String, KustoType), String)> = Vec::new();
        let all: Vec<&KustoColumn> = parts.iter().flat_map(|(_, t)| t.columns.iter()).collect();
        for column in &all {
            let key = (column.name.clone(), column.ty);
            if renamed.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let conflicting = all
                .iter()
                .any(|c| c.name == column.name && c.ty != column.ty);
            let name = if conflicting {
                // `x` of two types is `x_long` and `x_int`; if an input has its own `x_long`
                // column, the renamed one is `x_long1`.
                let base = format!("{}_{}", column.name, column.ty);
                let mut name = base.clone();
                let mut suffix = 0;
                while all.iter().any(|c| c.name == name) || renamed.iter().any(|(_, n)| *n == name)
                {
                    suffix += 1;
                    name = format!("{base}{suffix}");
                }
                name
            } else {
                column.name.clone()
            };
            renamed.push((key, name.clone()));
            if !output.iter().any(|c| c.name == name) {
                output.push(KustoColumn::new(name, column.ty));
            }
        }
        if inner {
            output.retain(|c| {
                parts.iter().all(|(_, t)| {
                    t.columns
                        .iter()
                        .any(|tc| tc.name == c.name && tc.ty == c.ty)
                })
            });
        }
        if let Some(source) = &source_column {
            output.insert(0, KustoColumn::new(source, KustoType::String));
        }
        let mut plans = Vec::new();
        for (name, tab) in parts {
            let items: Vec<(Expr, KustoColumn)> = output
                .iter()
                .map(|out| {
                    if Some(&out.name) == source_column.as_ref() {
                        return (
                            typed_lit(ScalarValue::Utf8(Some(name.clone())), KustoType::String)
                                .expr,
                            out.clone(),
                        );
                    }
                    let found = tab.columns.iter().find(|c| {
                        renamed
                            .iter()
                            .any(|((n, t), o)| *n == c.name && *t == c.ty && *o == out.name)
                    });
                    match found {
                        Some(c) => (col(&c.name), out.clone()),
                        None => (null_of(out.ty).expr, out.clone()),
                    }
                })
                .collect();
            plans.push(self.project_tab(tab, items, span)?.plan);
        }
        let mut plans = plans.into_iter();
        let Some(first) = plans.next() else {
            return Err(error("union has no inputs", span));
        };
        let mut builder = LogicalPlanBuilder::from(first);
        for plan in plans {
            builder = builder.union(plan).map_err(|e| df_error(e, span))?;
        }
        let plan = build(Ok(builder), span)?;
        Ok(Tab {
            plan,
            columns: output,
            render: None,
        })
    }

    /// `evaluate ipv4_lookup(Lookup, SourceIp, LookupNetwork [, return_unmatched])`: each row
    /// joined with the lookup rows whose IPv4 network (CIDR) contains its address; unmatched
    /// rows are dropped unless `return_unmatched` is true. Clashing lookup columns are renamed
    /// as by `join` (`Name1`).
    fn plan_ipv4_lookup(
        &self,
        source: Tab,
        plugin: &ast::FunctionCall,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut positional = Vec::new();
        let mut return_unmatched = false;
        for arg in &plugin.args {
            match &arg.name {
                Some(name) if name.name == "return_unmatched" => {
                    let value = self.lower_expr(&arg.value, &[], env)?;
                    return_unmatched = match constant_value(&value.expr) {
                        Some(ScalarValue::Boolean(Some(b))) => b,
                        _ => return Err(error("return_unmatched must be true or false", arg.span)),
                    };
                }
                Some(name) => {
                    return Err(unsupported(
                        &format!("the ipv4_lookup argument '{}'", name.name),
                        name.span,
                    ));
                }
                None => positional.push(&arg.value),
            }
        }
        if let Some(extra) = positional.get(3) {
            let value = self.lower_expr(extra, &[], env)?;
            return_unmatched = match constant_value(&value.expr) {
                Some(ScalarValue::Boolean(Some(b))) => b,
                _ => return Err(error("return_unmatched must be true or false", extra.span)),
            };
        }
        let [table, source_ip, network, ..] = positional.as_slice() else {
            return Err(error(
                "ipv4_lookup expects (lookup table, source IP column, lookup network column)",
                plugin.span,
            ));
        };
        let lookup = match &table.kind {
            ExprKind::Name(ident) => self.resolve_table_name(&ident.name, ident.span, env)?,
            ExprKind::Tabular(tabular) => self.plan_tabular(tabular, env, None)?,
            _ => return Err(error("ipv4_lookup expects a lookup table", table.span)),
        };
        let ip = self.lower_expr(source_ip, &source.columns, env)?;
        let net_ref = match &network.kind {
            ExprKind::Name(ident) if lookup.column(&ident.name).is_some() => ident.name.clone(),
            ExprKind::Name(ident) => {
                return Err(unknown(
                    "column",
                    &ident.name,
                    ident.span,
                    lookup.names().iter(),
                ));
            }
            _ => {
                return Err(error(
                    "ipv4_lookup expects a lookup column name",
                    network.span,
                ));
            }
        };
        let (lookup, renamed, net_name) =
            self.rename_lookup_side(&source, lookup, &net_ref, true, span)?;
        let in_range = super::udf::lookup("ipv4_is_in_range")
            .ok_or_else(|| unsupported("ipv4_is_in_range", span))?;
        let ip = convert_to(ip, KustoType::String);
        let condition = super::udf::call(in_range, vec![ip.expr, col(&net_name)]);
        self.join_lookup_side(source, lookup, renamed, condition, return_unmatched, span)
    }

    /// The lookup table of a lookup plugin (`ipv4_lookup`, `geo_polygon_lookup`, ...), its
    /// columns renamed past the source's names as Kusto does (`x`, `x1`, `x2`, ...). Returns it,
    /// the lookup columns the result shows (without `key` unless `keep_key`) and `key`'s new
    /// name.
    pub(super) fn rename_lookup_side(
        &self,
        source: &Tab,
        lookup: Tab,
        key: &str,
        keep_key: bool,
        span: Span,
    ) -> PlanResult<(Tab, Vec<KustoColumn>, String)> {
        let mut used: Vec<String> = source.names();
        let mut items = Vec::new();
        let mut shown = Vec::new();
        let mut key_name = key.to_string();
        for column in &lookup.columns {
            let mut name = column.name.clone();
            let mut suffix = 0;
            while used.contains(&name) {
                suffix += 1;
                name = format!("{}{suffix}", column.name);
            }
            used.push(name.clone());
            let out = KustoColumn::new(name.clone(), column.ty);
            items.push((col(&column.name), out.clone()));
            if column.name == key {
                key_name = name;
                if !keep_key {
                    continue;
                }
            }
            shown.push(out);
        }
        Ok((self.project_tab(lookup, items, span)?, shown, key_name))
    }

    /// Every source row joined to the lookup rows `condition` matches (kept without a match when
    /// `return_unmatched`), showing the source's columns and `shown`.
    pub(super) fn join_lookup_side(
        &self,
        source: Tab,
        lookup: Tab,
        shown: Vec<KustoColumn>,
        condition: Expr,
        return_unmatched: bool,
        span: Span,
    ) -> PlanResult<Tab> {
        let join_type = if return_unmatched {
            JoinType::Left
        } else {
            JoinType::Inner
        };
        let plan = build(
            LogicalPlanBuilder::from(source.plan).join_detailed(
                lookup.plan,
                join_type,
                (
                    Vec::<datafusion::common::Column>::new(),
                    Vec::<datafusion::common::Column>::new(),
                ),
                Some(condition),
                datafusion::common::NullEquality::NullEqualsNothing,
            ),
            span,
        )?;
        let columns: Vec<KustoColumn> = source.columns.iter().chain(&shown).cloned().collect();
        let items = columns
            .iter()
            .map(|c| {
                // Unmatched rows have nulls; Kusto strings are never null.
                let value = if c.ty == KustoType::String {
                    datafusion::functions::core::expr_fn::coalesce(vec![
                        col(&c.name),
                        datafusion::logical_expr::lit(""),
                    ])
                } else {
                    col(&c.name)
                };
                (value, c.clone())
            })
            .collect();
        let tab = Tab {
            plan,
            columns,
            render: source.render,
        };
        self.project_tab(tab, items, span)
    }

    fn plan_join(
        &self,
        left: Tab,
        join: &Join,
        env: &Env,
        span: Span,
        lookup: bool,
    ) -> PlanResult<Tab> {
        let kind = join.kind.as_ref().map(|k| k.value).unwrap_or(if lookup {
            JoinKind::LeftOuter
        } else {
            JoinKind::InnerUnique
        });
        for param in &join.params {
            if !param.name.name.starts_with("hint.") && param.name.name != "kind" {
                return Err(unsupported(
                    &format!("the join option '{}'", param.name.name),
                    param.span,
                ));
            }
        }
        if lookup && !matches!(kind, JoinKind::LeftOuter | JoinKind::Inner) {
            return Err(error(
                "lookup supports only kind=leftouter and kind=inner",
                span,
            ));
        }
        let right = self.plan_tabular(&join.right, env, None)?;
        let mut keys: Vec<(KustoColumn, KustoColumn)> = Vec::new();
        for key in &join.on {
            let (left_name, left_span, right_name, right_span) = match key {
                JoinKey::Column(ident) => (&ident.name, ident.span, &ident.name, ident.span),
                JoinKey::Equal { left, right, .. } => {
                    (&left.name, left.span, &right.name, right.span)
                }
                JoinKey::Other(expr) => {
                    return Err(error(
                        "join conditions must be column names or '$left.A == $right.B'",
                        expr.span,
                    ));
                }
            };
            let Some(l) = left.column(left_name) else {
                return Err(unknown("column", left_name, left_span, left.names().iter()));
            };
            let Some(r) = right.column(right_name) else {
                return Err(unknown(
                    "column",
                    right_name,
                    right_span,
                    right.names().iter(),
                ));
            };
            let comparable = l.ty == r.ty
                || (crate::scalar::is_numeric(l.ty) && crate::scalar::is_numeric(r.ty));
            if !comparable {
                return Err(error(
                    format!(
                        "join key types differ: {} is {}, {} is {}",
                        l.name, l.ty, r.name, r.ty
                    ),
                    left_span.to(right_span),
                ));
            }
            keys.push((l.clone(), r.clone()));
        }
        if keys.is_empty() {
            return Err(error("join needs at least one 'on' key", span));
        }
        // innerunique keeps one arbitrary left row per key before joining.
        let left = if kind == JoinKind::InnerUnique {
            let groups: Vec<Expr> = keys.iter().map(|(l, _)| col(&l.name)).collect();
            let others: Vec<Expr> = left
                .columns
                .iter()
                .filter(|c| !keys.iter().any(|(l, _)| l.name == c.name))
                .map(|c| {
                    named(
                        datafusion::functions_aggregate::expr_fn::first_value(col(&c.name), vec![]),
                        &c.name,
                        c.ty,
                    )
                })
                .collect();
            let plan = build(
                LogicalPlanBuilder::from(left.plan).aggregate(groups, others),
                span,
            )?;
            let regrouped = Tab {
                plan,
                columns: left.columns.clone(),
                render: left.render,
            };
            let items = left
                .columns
                .iter()
                .map(|c| (col(&c.name), c.clone()))
                .collect();
            self.project_tab(regrouped, items, span)?
        } else {
            left
        };
        // Rename the right side so that every column name is unique across both sides;
        // clashing names get Kusto's numeric suffix (`Name1`).
        let mut used: Vec<String> = left.names();
        let mut right_items = Vec::new();
        let mut renamed: Vec<KustoColumn> = Vec::new();
        for column in &right.columns {
            let mut name = column.name.clone();
            let mut suffix = 0;
            while used.contains(&name) {
                suffix += 1;
                name = format!("{}{suffix}", column.name);
            }
            used.push(name.clone());
            // A right key of another numeric type is cast to the left key's type.
            let key_type = keys
                .iter()
                .find(|(_, r)| r.name == column.name)
                .map(|(l, _)| l.ty);
            let (value, ty) = match key_type {
                Some(ty) if ty != column.ty => (
                    align_to(
                        Typed {
                            expr: col(&column.name),
                            ty: column.ty,
                        },
                        ty,
                    )
                    .expr,
                    ty,
                ),
                _ => (col(&column.name), column.ty),
            };
            let out = KustoColumn::new(name, ty);
            right_items.push((value, out.clone()));
            renamed.push(out);
        }
        let renamed_right = self.project_tab(right.clone(), right_items, span)?;
        let original_of = |renamed_name: &str| -> String {
            right
                .columns
                .iter()
                .zip(&renamed)
                .find(|(_, r)| r.name == renamed_name)
                .map_or_else(|| renamed_name.to_string(), |(o, _)| o.name.clone())
        };
        let right_key_names: Vec<String> = keys
            .iter()
            .map(|(_, r)| {
                right
                    .columns
                    .iter()
                    .zip(&renamed)
                    .find(|(o, _)| o.name == r.name)
                    .map_or_else(|| r.name.clone(), |(_, n)| n.name.clone())
            })
            .collect();
        let join_type = match kind {
            JoinKind::InnerUnique | JoinKind::Inner => JoinType::Inner,
            JoinKind::LeftOuter => JoinType::Left,
            JoinKind::RightOuter => JoinType::Right,
            JoinKind::FullOuter => JoinType::Full,
            JoinKind::LeftAnti | JoinKind::LeftAntiSemi => JoinType::LeftAnti,
            JoinKind::RightAnti | JoinKind::RightAntiSemi => JoinType::RightAnti,
            JoinKind::LeftSemi => JoinType::LeftSemi,
            JoinKind::RightSemi => JoinType::RightSemi,
        };
        let left_keys: Vec<datafusion::common::Column> = keys
            .iter()
            .map(|(l, _)| datafusion::common::Column::new_unqualified(&l.name))
            .collect();
        let right_keys: Vec<datafusion::common::Column> = right_key_names
            .iter()
            .map(datafusion::common::Column::new_unqualified)
            .collect();
        // Kusto matches null keys with null keys.
        let plan = build(
            LogicalPlanBuilder::from(left.plan.clone()).join_detailed(
                renamed_right.plan,
                join_type,
                (left_keys, right_keys),
                None,
                datafusion::common::NullEquality::NullEqualsNull,
            ),
            span,
        )?;
        let mut columns: Vec<KustoColumn> = match join_type {
            JoinType::LeftAnti | JoinType::LeftSemi => left.columns.clone(),
            JoinType::RightAnti | JoinType::RightSemi => renamed.clone(),
            _ => left.columns.iter().chain(renamed.iter()).cloned().collect(),
        };
        if lookup {
            columns.retain(|c| !right_key_names.contains(&c.name));
        }
        let tab = Tab {
            plan,
            columns: columns.clone(),
            render: left.render,
        };
        // Semi/anti joins on the right keep the right side's original names.
        let items = columns
            .iter()
            .map(|c| {
                let mut out = c.clone();
                if matches!(join_type, JoinType::RightAnti | JoinType::RightSemi) {
                    out.name = original_of(&c.name);
                }
                // Unmatched rows of outer joins have nulls; Kusto strings are never null.
                let value = if c.ty == KustoType::String {
                    datafusion::functions::core::expr_fn::coalesce(vec![
                        col(&c.name),
                        datafusion::logical_expr::lit(""),
                    ])
                } else {
                    col(&c.name)
                };
                (value, out)
            })
            .collect();
        self.project_tab(tab, items, span)
    }

    pub(super) fn plan_mv_expand(
        &self,
        tab: Tab,
        params: &[OperatorParam],
        items: &[ast::MvExpandItem],
        limit: Option<&ast::Expr>,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut bag_as_array = false;
        let mut index_column: Option<String> = None;
        for param in params {
            match (param.name.name.as_str(), &param.value.kind) {
                ("bagexpansion" | "kind", ExprKind::Name(value)) if value.name == "array" => {
                    bag_as_array = true
                }
                ("bagexpansion" | "kind", ExprKind::Name(value)) if value.name == "bag" => {
                    bag_as_array = false
                }
                ("with_itemindex", ExprKind::Name(value)) => {
                    index_column = Some(value.name.clone())
                }
                ("kind", _) => {}
                (name, _) if name.starts_with("hint.") => {}
                (name, _) => {
                    return Err(unsupported(
                        &format!("the mv-expand option '{name}'"),
                        param.span,
                    ));
                }
            }
        }
        let limit = match limit {
            Some(expr) => constant_count(self, expr, env)?,
            None => usize::MAX,
        };
        // Several columns expand side by side (DataFusion's unnest pads the shorter arrays
        // with nulls, as Kusto does); the item index counts along the longest.
        struct Expansion {
            target: String,
            items: String,
            ty: KustoType,
        }
        const INDEXES: &str = "__goshawk_mv_indexes";
        let mut exprs: Vec<Expr> = tab.columns.iter().map(|c| col(&c.name)).collect();
        let mut unnest = Vec::new();
        let mut expansions: Vec<Expansion> = Vec::new();
        for (position, item) in items.iter().enumerate() {
            let value = self.lower_expr(&item.column.expr, &tab.columns, env)?;
            let target = match self.single_name(&item.column)? {
                Some(name) => name.to_string(),
                None => implicit_name(&item.column.expr)
                    .or_else(|| dynamic_call_column_name(&item.column.expr))
                    .ok_or_else(|| {
                        error(
                            "mv-expand needs a column name or 'Name = expression'",
                            item.column.expr.span,
                        )
                    })?,
            };
            if value.ty != KustoType::Dynamic {
                return Err(error(
                    format!(
                        "mv-expand needs a dynamic array or property bag, this is {}",
                        value.ty
                    ),
                    item.column.expr.span,
                ));
            }
            if expansions.iter().any(|e| e.target == target) {
                return Err(error(
                    format!("mv-expand names the column '{target}' twice"),
                    item.column.expr.span,
                ));
            }
            let items_name = format!("__goshawk_mv_items_{position}");
            if position == 0 && index_column.is_some() {
                exprs.push(
                    super::udf::expand_items(
                        value.expr.clone(),
                        bag_as_array,
                        limit,
                        super::udf::ExpandOutput::Indexes,
                    )
                    .alias(INDEXES),
                );
                unnest.push(datafusion::common::Column::new_unqualified(INDEXES));
            }
            exprs.push(
                super::udf::expand_items(
                    value.expr,
                    bag_as_array,
                    limit,
                    super::udf::ExpandOutput::Values,
                )
                .alias(&items_name),
            );
            unnest.push(datafusion::common::Column::new_unqualified(&items_name));
            expansions.push(Expansion {
                target,
                items: items_name,
                ty: item
                    .to_type
                    .as_ref()
                    .map_or(KustoType::Dynamic, |t| kusto_type_of_scalar(t.value)),
            });
        }
        if expansions.len() > 1 && index_column.is_some() {
            return Err(unsupported(
                "with_itemindex with several mv-expand columns",
                span,
            ));
        }
        let plan = build(
            LogicalPlanBuilder::from(tab.plan.clone())
                .project(exprs)
                .and_then(|b| {
                    b.unnest_columns_with_options(
                        unnest,
                        datafusion::common::UnnestOptions::default(),
                    )
                }),
            span,
        )?;
        let expanded_of = |expansion: &Expansion| {
            convert_to(
                Typed {
                    expr: super::udf::tag(col(&expansion.items), KustoType::Dynamic),
                    ty: KustoType::Dynamic,
                },
                expansion.ty,
            )
        };
        let mut out: Vec<(Expr, KustoColumn)> = Vec::new();
        for column in &tab.columns {
            match expansions.iter().find(|e| e.target == column.name) {
                Some(expansion) => out.push((
                    expanded_of(expansion).expr,
                    KustoColumn::new(&expansion.target, expansion.ty),
                )),
                None => out.push((col(&column.name), column.clone())),
            }
        }
        for expansion in &expansions {
            if !tab.columns.iter().any(|c| c.name == expansion.target) {
                out.push((
                    expanded_of(expansion).expr,
                    KustoColumn::new(&expansion.target, expansion.ty),
                ));
            }
        }
        if let Some(index) = index_column {
            out.push((col(INDEXES), KustoColumn::new(index, KustoType::Long)));
        }
        let unnested = Tab {
            plan,
            columns: tab.columns.clone(),
            render: tab.render,
        };
        self.project_tab(unnested, out, span)
    }

    fn plan_parse(
        &self,
        tab: Tab,
        parse: &ast::Parse,
        env: &Env,
        filter: bool,
        span: Span,
    ) -> PlanResult<Tab> {
        let kind = parse.kind.as_ref().map_or(ParseKind::Simple, |k| k.value);
        let mut pattern = String::from("^");
        for param in &parse.params {
            // `flags=Ui`: regex flags (U ungreedy, i case-insensitive, m multi-line, s dot
            // matches newline), which the regex crate spells the same way.
            let flags = match &param.value.kind {
                ExprKind::Name(ident) => Some(ident.name.clone()),
                ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::String(text),
                    ..
                }) => Some(text.clone()),
                _ => None,
            };
            match flags {
                Some(flags)
                    if param.name.name == "flags"
                        && kind == ParseKind::Regex
                        && !flags.is_empty()
                        && flags.chars().all(|c| "Uims".contains(c)) =>
                {
                    pattern = format!("^(?{flags})");
                }
                _ => {
                    return Err(unsupported(
                        &format!("the parse option '{}'", param.name.name),
                        param.span,
                    ));
                }
            }
        }
        let input = convert_to(
            self.lower_expr(&parse.input, &tab.columns, env)?,
            KustoType::String,
        );
        // (column, type, capture group index); regex literals may hold groups of their own.
        let mut captures: Vec<(String, KustoType, usize)> = Vec::new();
        let count = parse.pattern.len();
        for (index, part) in parse.pattern.iter().enumerate() {
            let last = index + 1 == count;
            match part {
                ParsePatternPart::Literal(literal) => {
                    let ast::LiteralKind::String(text) = &literal.kind else {
                        return Err(error(
                            "parse patterns contain string literals",
                            literal.span,
                        ));
                    };
                    if kind == ParseKind::Regex {
                        pattern.push_str(text);
                    } else {
                        pattern.push_str(&regex::escape(text));
                    }
                }
                ParsePatternPart::Capture { name, ty, .. } => {
                    super::check_new_name(name)?;
                    let ty = ty
                        .as_ref()
                        .map_or(KustoType::String, |t| kusto_type_of_scalar(t.value));
                    let group = match (ty, last) {
                        (_, true) if kind != ParseKind::Regex => "(.*)",
                        (KustoType::String, _) if kind == ParseKind::Regex => "(.*)",
                        // Relaxed: a value that does not convert becomes null instead of
                        // failing the whole match.
                        (KustoType::Int | KustoType::Long, _) if kind == ParseKind::Relaxed => {
                            r"(-?\d+|.*?)"
                        }
                        (KustoType::Real, _) if kind == ParseKind::Relaxed => {
                            r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|.*?)"
                        }
                        (KustoType::Int | KustoType::Long, _) => r"(-?\d+)",
                        (KustoType::Real, _) => r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)",
                        _ => "(.*?)",
                    };
                    let before = regex::Regex::new(&pattern)
                        .map(|r| r.captures_len() - 1)
                        .unwrap_or(captures.len());
                    pattern.push_str(group);
                    captures.push((name.name.clone(), ty, before + 1));
                }
                ParsePatternPart::Wildcard(_) => pattern.push_str(".*?"),
            }
        }
        if let Err(err) = regex::Regex::new(&pattern) {
            return Err(error(format!("invalid parse pattern: {err}"), span));
        }
        let extract = super::udf::lookup("extract")
            .ok_or_else(|| unsupported("parse (the library has no extract())", span))?;
        let matches = super::udf::lookup("matches regex")
            .ok_or_else(|| unsupported("parse (the library has no 'matches regex')", span))?;
        let pattern_lit = typed_lit(ScalarValue::Utf8(Some(pattern.clone())), KustoType::String);
        let matched = super::udf::call(matches, vec![input.expr.clone(), pattern_lit.expr.clone()]);
        let mut items: Vec<(Expr, KustoColumn)> = Vec::new();
        let mut new_columns = Vec::new();
        for (name, ty, group) in &captures {
            let group = typed_lit(
                ScalarValue::Int64(Some(i64::try_from(*group).unwrap_or(1))),
                KustoType::Long,
            );
            let text = Typed {
                expr: super::udf::call(
                    extract.clone(),
                    vec![pattern_lit.expr.clone(), group.expr, input.expr.clone()],
                ),
                ty: KustoType::String,
            };
            let value = convert_to(text, *ty);
            // Without a match every capture is empty (strings) or null (other types).
            let value = if *ty == KustoType::String {
                value.expr
            } else {
                datafusion::logical_expr::when(matched.clone(), value.expr)
                    .otherwise(null_of(*ty).expr)
                    .map_err(|e| df_error(e, span))?
            };
            new_columns.push((value, KustoColumn::new(name, *ty)));
        }
        for column in &tab.columns {
            match new_columns.iter().position(|(_, c)| c.name == column.name) {
                Some(_) => {}
                None => items.push((col(&column.name), column.clone())),
            }
        }
        items.extend(new_columns);
        let tab = if filter {
            let plan = build(LogicalPlanBuilder::from(tab.plan).filter(matched), span)?;
            Tab { plan, ..tab }
        } else {
            tab
        };
        self.project_tab(tab, items, span)
    }
}

/// Replaces every aggregation call inside `expr` by a reference to a hidden column, collecting
/// the calls with the hidden names.
fn extract_aggregates(
    expr: &mut ast::Expr,
    calls: &mut Vec<(String, ast::FunctionCall)>,
    item: usize,
) {
    match &mut expr.kind {
        ExprKind::Call(call) if super::expr::is_aggregate(&call.name.name) => {
            // Unique across the summarize's expressions (`item`) and within one.
            let name = format!("__goshawk_aggregate{item}_{}", calls.len());
            calls.push((name.clone(), call.clone()));
            expr.kind = ExprKind::Name(ast::Ident {
                name,
                span: expr.span,
            });
        }
        ExprKind::Call(call) => {
            for argument in &mut call.args {
                extract_aggregates(&mut argument.value, calls, item);
            }
        }
        ExprKind::Paren(inner) => extract_aggregates(inner, calls, item),
        ExprKind::Unary { operand, .. } => extract_aggregates(operand, calls, item),
        ExprKind::Binary { left, right, .. } => {
            extract_aggregates(left, calls, item);
            extract_aggregates(right, calls, item);
        }
        ExprKind::Member { target, .. } => extract_aggregates(target, calls, item),
        ExprKind::Index { target, index } => {
            extract_aggregates(target, calls, item);
            extract_aggregates(index, calls, item);
        }
        ExprKind::InList { value, list, .. } => {
            extract_aggregates(value, calls, item);
            for element in list {
                extract_aggregates(element, calls, item);
            }
        }
        ExprKind::Between {
            value, low, high, ..
        } => {
            extract_aggregates(value, calls, item);
            extract_aggregates(low, calls, item);
            extract_aggregates(high, calls, item);
        }
        _ => {}
    }
}

/// The output column names of a summarize in Kusto's order: by-columns first, then one or
/// more per aggregate item, as written.
fn by_and_aggregate_names(
    output: &[KustoColumn],
    post: &[(String, ast::Expr, Vec<KustoColumn>)],
    aggregates: &[NamedExpr],
    _planner: &Planner<'_>,
) -> PlanResult<Vec<String>> {
    // `output` already holds the by-columns and the direct aggregates in order; the computed
    // items go where they were written: insert each after the columns of the items before it.
    let mut names: Vec<String> = output.iter().map(|c| c.name.clone()).collect();
    let direct_count = |upto: usize| -> usize {
        aggregates[..upto]
            .iter()
            .filter(|a| matches!(&a.expr.kind, ExprKind::Call(c) if super::expr::is_aggregate(&c.name.name)))
            .count()
    };
    let by_count = output.len() - direct_count(aggregates.len());
    let mut computed = post.iter();
    let mut inserted = 0;
    for (index, item) in aggregates.iter().enumerate() {
        let direct =
            matches!(&item.expr.kind, ExprKind::Call(c) if super::expr::is_aggregate(&c.name.name));
        if !direct && let Some((name, _, _)) = computed.next() {
            let at = (by_count + direct_count(index) + inserted).min(names.len());
            names.insert(at, name.clone());
            inserted += 1;
        }
    }
    Ok(names)
}

/// The first column reference in `expr` (outside nested tabular expressions) to one of `names`.
fn first_reference(expr: &ast::Expr, names: &[String]) -> Option<ast::Ident> {
    struct Finder<'n> {
        names: &'n [String],
        found: Option<ast::Ident>,
    }
    impl goshawk_kql_syntax::walk::Visitor for Finder<'_> {
        fn visit_expr(&mut self, expr: &ast::Expr) {
            if self.found.is_some() {
                return;
            }
            if let ExprKind::Name(ident) = &expr.kind
                && self.names.contains(&ident.name)
            {
                self.found = Some(ident.clone());
                return;
            }
            goshawk_kql_syntax::walk::walk_expr(self, expr);
        }
        // A nested query has its own columns.
        fn visit_tabular(&mut self, _: &ast::TabularExpr) {}
    }
    if names.is_empty() {
        return None;
    }
    let mut finder = Finder { names, found: None };
    goshawk_kql_syntax::walk::Visitor::visit_expr(&mut finder, expr);
    finder.found
}

/// The window functions in `expr` that contain no other window function, without repeats.
fn leaf_windows(expr: &Expr) -> Vec<Expr> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let is_window = |e: &Expr| matches!(e, Expr::WindowFunction(_));
    let mut found: Vec<Expr> = Vec::new();
    let _ = expr.apply(|node| {
        if is_window(node) {
            let mut windows = 0;
            let _ = node.apply(|inner| {
                if is_window(inner) {
                    windows += 1;
                }
                Ok(TreeNodeRecursion::Continue)
            });
            if windows == 1 && !found.contains(node) {
                found.push(node.clone());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Whether a plan's rows are serialized in Kusto's sense: they come from `sort`, `top`,
/// `range`, `print` or `serialize`, seen through operators that keep the order (`where`,
/// `extend`, `project`, `take`, `parse`, `mv-expand`). `datatable`, tables, `summarize`,
/// `join`, `union` and `distinct` produce unserialized rows.
fn is_serialized(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Sort(_) | LogicalPlan::EmptyRelation(_) => true,
        LogicalPlan::Limit(limit) if limit.fetch.is_none() => true,
        LogicalPlan::Limit(limit) => is_serialized(&limit.input),
        LogicalPlan::Projection(projection) => is_serialized(&projection.input),
        LogicalPlan::Filter(filter) => is_serialized(&filter.input),
        LogicalPlan::Window(window) => is_serialized(&window.input),
        LogicalPlan::SubqueryAlias(alias) => is_serialized(&alias.input),
        LogicalPlan::Unnest(unnest) => is_serialized(&unnest.input),
        LogicalPlan::TableScan(scan) => scan.table_name.table() == "range",
        _ => false,
    }
}

/// The sort order of a plan's rows, if the plan is a sort seen through operators that keep row
/// order (projections, filters, limits) and the sort's columns are still in its output.
fn input_ordering(plan: &LogicalPlan) -> Option<Vec<SortExpr>> {
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::Sort(sort) => {
                let visible = sort.expr.iter().all(|key| {
                    key.expr
                        .column_refs()
                        .iter()
                        .all(|c| plan.schema().has_column_with_unqualified_name(&c.name))
                });
                return visible.then(|| sort.expr.clone());
            }
            LogicalPlan::Projection(projection) => node = projection.input.as_ref(),
            LogicalPlan::Filter(filter) => node = filter.input.as_ref(),
            LogicalPlan::Limit(limit) => node = limit.input.as_ref(),
            LogicalPlan::SubqueryAlias(alias) => node = alias.input.as_ref(),
            LogicalPlan::Window(window) => node = window.input.as_ref(),
            _ => return None,
        }
    }
}
