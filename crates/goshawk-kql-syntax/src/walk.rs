//! A read-only visitor over the syntax tree, and a summary of what a query uses (tables read,
//! operators in order, functions called, columns referenced).

use std::collections::BTreeSet;

use crate::ast::*;

/// Override the `visit_*` methods you care about; call the matching `walk_*` function inside to
/// keep descending.
pub trait Visitor {
    fn visit_statement(&mut self, statement: &Statement) {
        walk_statement(self, statement);
    }
    fn visit_tabular(&mut self, tabular: &TabularExpr) {
        walk_tabular(self, tabular);
    }
    fn visit_source(&mut self, source: &Source) {
        walk_source(self, source);
    }
    fn visit_operator(&mut self, operator: &Operator) {
        walk_operator(self, operator);
    }
    fn visit_expr(&mut self, expr: &Expr) {
        walk_expr(self, expr);
    }
    fn visit_call(&mut self, call: &FunctionCall) {
        walk_call(self, call);
    }
    /// A column named outside an expression (`project-away C`, `project-rename A = B`, ...).
    fn visit_column_name(&mut self, _name: &str) {}
}

pub fn walk_query<V: Visitor + ?Sized>(visitor: &mut V, query: &Query) {
    for statement in &query.statements {
        visitor.visit_statement(statement);
    }
}

pub fn walk_statement<V: Visitor + ?Sized>(visitor: &mut V, statement: &Statement) {
    match &statement.kind {
        StatementKind::Let(let_statement) => match &let_statement.value {
            LetValue::Expr(expr) => visitor.visit_expr(expr),
            LetValue::Tabular(tabular) => visitor.visit_tabular(tabular),
            LetValue::Function(def) | LetValue::View(def) => walk_function_def(visitor, def),
        },
        StatementKind::Set { value, .. } => {
            if let Some(value) = value {
                visitor.visit_expr(value);
            }
        }
        StatementKind::DeclareQueryParameters(params) => walk_params(visitor, params),
        StatementKind::AliasDatabase { target, .. } => visitor.visit_expr(target),
        StatementKind::DeclarePattern(pattern) => {
            for definition in &pattern.definitions {
                walk_exprs(visitor, &definition.args);
                walk_exprs(visitor, &definition.path_args);
                walk_body(visitor, &definition.body);
            }
        }
        StatementKind::RestrictAccess(entities) => {
            for entity in entities {
                if let UnionOperand::Tabular(tabular) = entity {
                    visitor.visit_tabular(tabular);
                }
            }
        }
        StatementKind::Tabular(tabular) => visitor.visit_tabular(tabular),
        StatementKind::Scalar(expr) => visitor.visit_expr(expr),
    }
}

fn walk_function_def<V: Visitor + ?Sized>(visitor: &mut V, def: &FunctionDef) {
    walk_params(visitor, &def.params);
    walk_body(visitor, &def.body);
}

fn walk_body<V: Visitor + ?Sized>(visitor: &mut V, body: &FunctionBody) {
    for statement in &body.statements {
        visitor.visit_statement(statement);
    }
}

fn walk_params<V: Visitor + ?Sized>(visitor: &mut V, params: &[Parameter]) {
    for param in params {
        if let Some(default) = &param.default {
            visitor.visit_expr(default);
        }
    }
}

fn walk_exprs<V: Visitor + ?Sized>(visitor: &mut V, exprs: &[Expr]) {
    for expr in exprs {
        visitor.visit_expr(expr);
    }
}

fn walk_named<V: Visitor + ?Sized>(visitor: &mut V, items: &[NamedExpr]) {
    for item in items {
        visitor.visit_expr(&item.expr);
    }
}

fn walk_op_params<V: Visitor + ?Sized>(visitor: &mut V, params: &[OperatorParam]) {
    for param in params {
        visitor.visit_expr(&param.value);
    }
}

fn walk_sort_keys<V: Visitor + ?Sized>(visitor: &mut V, keys: &[SortKey]) {
    for key in keys {
        visitor.visit_expr(&key.expr);
    }
}

fn walk_join_keys<V: Visitor + ?Sized>(visitor: &mut V, keys: &[JoinKey]) {
    for key in keys {
        match key {
            JoinKey::Column(ident) => visitor.visit_column_name(&ident.name),
            JoinKey::Equal { left, right, .. } => {
                visitor.visit_column_name(&left.name);
                visitor.visit_column_name(&right.name);
            }
            JoinKey::Other(expr) => visitor.visit_expr(expr),
        }
    }
}

pub fn walk_tabular<V: Visitor + ?Sized>(visitor: &mut V, tabular: &TabularExpr) {
    if let Some(source) = &tabular.source {
        visitor.visit_source(source);
    }
    for operator in &tabular.operators {
        visitor.visit_operator(operator);
    }
}

pub fn walk_source<V: Visitor + ?Sized>(visitor: &mut V, source: &Source) {
    match &source.kind {
        SourceKind::Name(_) => {}
        SourceKind::Call(call) => visitor.visit_call(call),
        SourceKind::Path(parts) => {
            for part in parts {
                if let PathPart::Call(call) = part {
                    visitor.visit_call(call);
                }
            }
        }
        SourceKind::Parenthesized(tabular) => visitor.visit_tabular(tabular),
        SourceKind::Operator(operator) => visitor.visit_operator(operator),
    }
}

pub fn walk_call<V: Visitor + ?Sized>(visitor: &mut V, call: &FunctionCall) {
    for arg in &call.args {
        visitor.visit_expr(&arg.value);
    }
}

pub fn walk_operator<V: Visitor + ?Sized>(visitor: &mut V, operator: &Operator) {
    match &operator.kind {
        OperatorKind::Where { predicate } => visitor.visit_expr(predicate),
        OperatorKind::Extend { columns }
        | OperatorKind::Project { columns }
        | OperatorKind::Serialize { columns }
        | OperatorKind::Print { columns } => walk_named(visitor, columns),
        OperatorKind::ProjectAway { columns } | OperatorKind::ProjectKeep { columns } => {
            for column in columns {
                visitor.visit_column_name(&column.pattern);
            }
        }
        OperatorKind::ProjectRename { columns } => {
            for column in columns {
                visitor.visit_column_name(&column.old_name.name);
            }
        }
        OperatorKind::ProjectReorder { columns } => {
            for column in columns {
                visitor.visit_column_name(&column.pattern.pattern);
            }
        }
        OperatorKind::Summarize {
            params,
            aggregates,
            by,
        } => {
            walk_op_params(visitor, params);
            walk_named(visitor, aggregates);
            walk_named(visitor, by);
        }
        OperatorKind::Count { params }
        | OperatorKind::Consume { params }
        | OperatorKind::GraphMarkComponents { params } => walk_op_params(visitor, params),
        OperatorKind::Distinct { params, columns } => {
            walk_op_params(visitor, params);
            walk_named(visitor, columns);
        }
        OperatorKind::Take { params, count } | OperatorKind::Sample { params, count } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(count);
        }
        OperatorKind::Top { params, count, by } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(count);
            walk_sort_keys(visitor, by);
        }
        OperatorKind::TopNested { levels } => {
            for level in levels {
                if let Some(count) = &level.count {
                    visitor.visit_expr(count);
                }
                visitor.visit_expr(&level.of.expr);
                if let Some(others) = &level.with_others {
                    visitor.visit_expr(others);
                }
                visitor.visit_expr(&level.by.expr);
            }
        }
        OperatorKind::TopHitters { count, of, by } => {
            visitor.visit_expr(count);
            visitor.visit_expr(of);
            if let Some(by) = by {
                visitor.visit_expr(by);
            }
        }
        OperatorKind::Sort { params, keys } => {
            walk_op_params(visitor, params);
            walk_sort_keys(visitor, keys);
        }
        OperatorKind::Join(join) | OperatorKind::Lookup(join) => {
            walk_op_params(visitor, &join.params);
            visitor.visit_tabular(&join.right);
            walk_join_keys(visitor, &join.on);
        }
        OperatorKind::Union { params, operands } => {
            walk_op_params(visitor, params);
            for operand in operands {
                if let UnionOperand::Tabular(tabular) = operand {
                    visitor.visit_tabular(tabular);
                }
            }
        }
        OperatorKind::MvExpand {
            params,
            items,
            limit,
        } => {
            walk_op_params(visitor, params);
            for item in items {
                visitor.visit_expr(&item.column.expr);
            }
            if let Some(limit) = limit {
                visitor.visit_expr(limit);
            }
        }
        OperatorKind::MvApply {
            params,
            items,
            limit,
            subquery,
        } => {
            walk_op_params(visitor, params);
            for item in items {
                visitor.visit_expr(&item.column.expr);
            }
            if let Some(limit) = limit {
                visitor.visit_expr(limit);
            }
            visitor.visit_tabular(subquery);
        }
        OperatorKind::Parse(parse) | OperatorKind::ParseWhere(parse) => {
            walk_op_params(visitor, &parse.params);
            visitor.visit_expr(&parse.input);
        }
        OperatorKind::ParseKv {
            input, properties, ..
        } => {
            visitor.visit_expr(input);
            walk_op_params(visitor, properties);
        }
        OperatorKind::MakeSeries {
            params,
            aggregates,
            on,
            range,
            by,
        } => {
            walk_op_params(visitor, params);
            for aggregate in aggregates {
                visitor.visit_expr(&aggregate.aggregate.expr);
                if let Some(default) = &aggregate.default {
                    visitor.visit_expr(default);
                }
            }
            visitor.visit_expr(on);
            match range {
                MakeSeriesRange::FromTo { from, to, step } => {
                    for bound in [from, to].into_iter().flatten() {
                        visitor.visit_expr(bound);
                    }
                    visitor.visit_expr(step);
                }
                MakeSeriesRange::InRange { start, stop, step } => {
                    walk_exprs(visitor, &[start.clone(), stop.clone(), step.clone()]);
                }
            }
            walk_named(visitor, by);
        }
        OperatorKind::Evaluate { params, plugin, .. } => {
            walk_op_params(visitor, params);
            visitor.visit_call(plugin);
        }
        OperatorKind::Render { properties, .. } => walk_op_params(visitor, properties),
        OperatorKind::Search {
            params, predicate, ..
        } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(predicate);
        }
        OperatorKind::Find {
            params,
            tables,
            predicate,
            projection,
        } => {
            walk_op_params(visitor, params);
            for operand in tables.iter().flatten() {
                if let UnionOperand::Tabular(tabular) = operand {
                    visitor.visit_tabular(tabular);
                }
            }
            visitor.visit_expr(predicate);
            match projection {
                Some(FindProjection::Columns(columns)) => walk_exprs(visitor, columns),
                Some(FindProjection::Typed(columns)) => {
                    for column in columns {
                        visitor.visit_expr(&column.expr);
                    }
                }
                Some(FindProjection::Smart(_)) | None => {}
            }
        }
        OperatorKind::Facet { columns, with } => {
            for column in columns {
                visitor.visit_column_name(&column.name);
            }
            if let Some(with) = with {
                visitor.visit_tabular(with);
            }
        }
        OperatorKind::Fork { branches } => {
            for branch in branches {
                visitor.visit_tabular(&branch.body);
            }
        }
        OperatorKind::Partition {
            params,
            by,
            subquery,
        } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(by);
            visitor.visit_tabular(subquery);
        }
        OperatorKind::Scan {
            params,
            declare,
            steps,
        } => {
            walk_op_params(visitor, params);
            for declaration in declare {
                if let Some(default) = &declaration.default {
                    visitor.visit_expr(default);
                }
            }
            for step in steps {
                visitor.visit_expr(&step.condition);
                walk_named(visitor, &step.assignments);
            }
        }
        OperatorKind::As { params, .. } => walk_op_params(visitor, params),
        OperatorKind::Invoke { function } => visitor.visit_call(function),
        OperatorKind::SampleDistinct { params, count, of } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(count);
            visitor.visit_expr(of);
        }
        OperatorKind::GetSchema => {}
        OperatorKind::Reduce { params, by, with } => {
            walk_op_params(visitor, params);
            visitor.visit_expr(by);
            walk_op_params(visitor, with);
        }
        OperatorKind::Range { from, to, step, .. } => {
            visitor.visit_expr(from);
            visitor.visit_expr(to);
            visitor.visit_expr(step);
        }
        OperatorKind::Datatable { values, .. } => walk_exprs(visitor, values),
        OperatorKind::ExternalData { properties, .. } => walk_op_params(visitor, properties),
        OperatorKind::InlineExternalTable {
            params, properties, ..
        } => {
            walk_op_params(visitor, params);
            walk_op_params(visitor, properties);
        }
        OperatorKind::MakeGraph {
            params,
            source_column,
            target_column,
            nodes,
            partitioned_by,
            ..
        } => {
            walk_op_params(visitor, params);
            visitor.visit_column_name(&source_column.name);
            visitor.visit_column_name(&target_column.name);
            for node in nodes {
                visitor.visit_tabular(&node.table);
            }
            if let Some(partition) = partitioned_by {
                visitor.visit_column_name(&partition.column.name);
                visitor.visit_tabular(&partition.subquery);
            }
        }
        OperatorKind::GraphMatch {
            params,
            predicate,
            project,
            ..
        }
        | OperatorKind::GraphShortestPaths {
            params,
            predicate,
            project,
            ..
        } => {
            walk_op_params(visitor, params);
            if let Some(predicate) = predicate {
                visitor.visit_expr(predicate);
            }
            walk_named(visitor, project);
        }
        OperatorKind::GraphToTable { parts } => {
            for part in parts {
                walk_op_params(visitor, &part.params);
            }
        }
        OperatorKind::GraphMerge { right, on } => {
            visitor.visit_tabular(right);
            walk_join_keys(visitor, on);
        }
        OperatorKind::ProjectByNames { columns } => walk_exprs(visitor, columns),
        OperatorKind::MacroExpand {
            params,
            entity_group,
            subquery,
            ..
        } => {
            walk_op_params(visitor, params);
            if let EntityGroup::Inline { entities, .. } = entity_group {
                walk_exprs(visitor, entities);
            }
            visitor.visit_tabular(subquery);
        }
    }
}

pub fn walk_expr<V: Visitor + ?Sized>(visitor: &mut V, expr: &Expr) {
    match &expr.kind {
        ExprKind::Literal(_) | ExprKind::Name(_) | ExprKind::Star | ExprKind::TypeOf(_) => {}
        ExprKind::Paren(inner) => visitor.visit_expr(inner),
        ExprKind::Member { target, .. } => visitor.visit_expr(target),
        ExprKind::Index { target, index } => {
            visitor.visit_expr(target);
            visitor.visit_expr(index);
        }
        ExprKind::Call(call) => visitor.visit_call(call),
        ExprKind::MethodCall { target, call } => {
            visitor.visit_expr(target);
            visitor.visit_call(call);
        }
        ExprKind::Unary { operand, .. } => visitor.visit_expr(operand),
        ExprKind::Binary { left, right, .. } => {
            visitor.visit_expr(left);
            visitor.visit_expr(right);
        }
        ExprKind::InList { value, list, .. } => {
            visitor.visit_expr(value);
            walk_exprs(visitor, list);
        }
        ExprKind::Between {
            value, low, high, ..
        } => {
            visitor.visit_expr(value);
            visitor.visit_expr(low);
            visitor.visit_expr(high);
        }
        ExprKind::Tabular(tabular) => visitor.visit_tabular(tabular),
        ExprKind::List(items) => walk_exprs(visitor, items),
    }
}

/// What a query uses, each list de-duplicated and in order of first appearance (operators
/// keep every occurrence, in query order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySummary {
    /// Tables and other sources read: names, `table('x')` arguments, wildcard patterns and
    /// called functions in source position; let-bound names excluded.
    pub tables: Vec<String>,
    /// Operator names in the order they appear (`where`, `summarize`, ...).
    pub operators: Vec<String>,
    /// Scalar, aggregation and plugin functions called (not let-bound functions).
    pub functions: Vec<String>,
    /// Column names referenced (best effort: names not bound by `let` or parameters).
    pub columns: Vec<String>,
}

/// Summarises a parsed query: tables read, operators, functions and columns.
pub fn summarize_query(query: &Query) -> QuerySummary {
    let mut bound = BTreeSet::new();
    collect_bound_names(&query.statements, &mut bound);
    let mut collector = SummaryCollector {
        bound,
        summary: QuerySummary::default(),
    };
    walk_query(&mut collector, query);
    collector.summary
}

fn collect_bound_names(statements: &[Statement], bound: &mut BTreeSet<String>) {
    for statement in statements {
        match &statement.kind {
            StatementKind::Let(let_statement) => {
                bound.insert(let_statement.name.name.clone());
                if let LetValue::Function(def) | LetValue::View(def) = &let_statement.value {
                    for param in &def.params {
                        bound.insert(param.name.name.clone());
                    }
                    collect_bound_names(&def.body.statements, bound);
                }
            }
            StatementKind::DeclareQueryParameters(params) => {
                for param in params {
                    bound.insert(param.name.name.clone());
                }
            }
            StatementKind::DeclarePattern(pattern) => {
                bound.insert(pattern.name.name.clone());
            }
            _ => {}
        }
    }
}

struct SummaryCollector {
    bound: BTreeSet<String>,
    summary: QuerySummary,
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|existing| existing == value) {
        list.push(value.to_string());
    }
}

fn first_string_arg(call: &FunctionCall) -> Option<&str> {
    match &call.args.first()?.value.kind {
        ExprKind::Literal(Literal {
            kind: LiteralKind::String(value),
            ..
        }) => Some(value),
        _ => None,
    }
}

impl SummaryCollector {
    fn record_table_call(&mut self, call: &FunctionCall) {
        let name = call.name.name.as_str();
        match name {
            "table" | "external_table" | "materialized_view" => {
                if let Some(table) = first_string_arg(call) {
                    push_unique(&mut self.summary.tables, table);
                }
            }
            "materialize" | "cluster" | "database" | "toscalar" => {}
            _ if !self.bound.contains(name) => push_unique(&mut self.summary.tables, name),
            _ => {}
        }
    }
}

impl Visitor for SummaryCollector {
    fn visit_source(&mut self, source: &Source) {
        match &source.kind {
            SourceKind::Name(ident) if !self.bound.contains(&ident.name) => {
                push_unique(&mut self.summary.tables, &ident.name);
            }
            SourceKind::Call(call) => self.record_table_call(call),
            SourceKind::Path(parts) => {
                if let Some(last) = parts.last() {
                    match last {
                        PathPart::Name(ident) => push_unique(&mut self.summary.tables, &ident.name),
                        PathPart::Call(call) => self.record_table_call(call),
                    }
                }
            }
            _ => {}
        }
        walk_source(self, source);
    }

    fn visit_operator(&mut self, operator: &Operator) {
        self.summary
            .operators
            .push(operator.kind.name().to_string());
        if let OperatorKind::Union { operands, .. } = &operator.kind {
            for operand in operands {
                match operand {
                    UnionOperand::Pattern(pattern)
                    | UnionOperand::ScopedPattern { pattern, .. } => {
                        push_unique(&mut self.summary.tables, &pattern.pattern);
                    }
                    UnionOperand::Tabular(_) => {}
                }
            }
        }
        if let OperatorKind::Evaluate { plugin, .. } = &operator.kind {
            push_unique(&mut self.summary.functions, &plugin.name.name);
        }
        walk_operator(self, operator);
    }

    fn visit_call(&mut self, call: &FunctionCall) {
        if !self.bound.contains(&call.name.name) {
            push_unique(&mut self.summary.functions, &call.name.name);
        }
        walk_call(self, call);
    }

    fn visit_expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Name(ident)
                if !self.bound.contains(&ident.name) && !ident.name.starts_with('$') =>
            {
                push_unique(&mut self.summary.columns, &ident.name);
            }
            ExprKind::Member { target, member } => {
                if let ExprKind::Name(side) = &target.kind
                    && (side.name == "$left" || side.name == "$right")
                {
                    push_unique(&mut self.summary.columns, &member.name);
                    return;
                }
            }
            _ => {}
        }
        walk_expr(self, expr);
    }

    fn visit_column_name(&mut self, name: &str) {
        push_unique(&mut self.summary.columns, name);
    }
}
