//! The Tables, Keywords and Operators lists of a rule page, read from the AST.

use std::collections::{BTreeSet, HashSet};

use goshawk_kql_syntax::ast::*;
use goshawk_kql_syntax::walk::{self, Visitor, summarize_query};

use super::is_aggregate_function;

/// Sources the query reads: tables, `table('x')` targets, union wildcards and functions in
/// source position (let-bound names excluded).
pub fn tables(query: &Query) -> Vec<String> {
    summarize_query(query).tables
}

/// Columns the query reads from its sources: every column it references, less those it
/// defines itself (extend, summarize and project names, parse captures...) and let-bound names.
pub fn source_columns(query: &Query) -> Vec<String> {
    let mut defined = HashSet::new();
    let mut collector = DefinedNames {
        defined: &mut defined,
    };
    walk::walk_query(&mut collector, query);
    summarize_query(query)
        .columns
        .into_iter()
        .filter(|column| !defined.contains(column) && !column.contains('*'))
        .collect()
}

struct DefinedNames<'a> {
    defined: &'a mut HashSet<String>,
}

impl DefinedNames<'_> {
    fn named(&mut self, items: &[NamedExpr]) {
        for item in items {
            for name in &item.names {
                self.defined.insert(name.name.clone());
            }
        }
    }
}

impl Visitor for DefinedNames<'_> {
    fn visit_operator(&mut self, operator: &Operator) {
        match &operator.kind {
            OperatorKind::Extend { columns }
            | OperatorKind::Project { columns }
            | OperatorKind::Serialize { columns }
            | OperatorKind::Print { columns }
            | OperatorKind::Distinct { columns, .. } => {
                // `project A` names A without defining it; only `project B = expr` defines B.
                for item in columns {
                    if !matches!(item.expr.kind, ExprKind::Name(_)) {
                        self.named(std::slice::from_ref(item));
                    }
                }
            }
            OperatorKind::Summarize { aggregates, by, .. } => {
                self.named(aggregates);
                for item in by {
                    if !matches!(item.expr.kind, ExprKind::Name(_)) {
                        self.named(std::slice::from_ref(item));
                    }
                }
            }
            OperatorKind::ProjectRename { columns } => {
                for column in columns {
                    self.defined.insert(column.new_name.name.clone());
                }
            }
            OperatorKind::Parse(parse) | OperatorKind::ParseWhere(parse) => {
                for part in &parse.pattern {
                    if let ParsePatternPart::Capture { name, .. } = part {
                        self.defined.insert(name.name.clone());
                    }
                }
            }
            OperatorKind::ParseKv { captures, .. } => {
                for capture in captures {
                    self.defined.insert(capture.name.name.clone());
                }
            }
            OperatorKind::MakeSeries { aggregates, .. } => {
                for aggregate in aggregates {
                    self.named(std::slice::from_ref(&aggregate.aggregate));
                }
            }
            OperatorKind::MvExpand { items, .. } | OperatorKind::MvApply { items, .. } => {
                for item in items {
                    self.named(std::slice::from_ref(&item.column));
                }
            }
            OperatorKind::Range { column, .. } => {
                self.defined.insert(column.name.clone());
            }
            OperatorKind::Datatable { schema, .. } => {
                for column in schema {
                    self.defined.insert(column.name.name.clone());
                }
            }
            OperatorKind::Scan { declare, .. } => {
                for declaration in declare {
                    self.defined.insert(declaration.column.name.name.clone());
                }
            }
            _ => {}
        }
        walk::walk_operator(self, operator);
    }
}

/// The Operators list. Order: the tabular operators in query order, each followed by the
/// aggregation functions it computes (and the plugin it evaluates) and then by `by` when it has
/// a `by` clause; after all of them the scalar functions, in query order. Every name appears
/// once (first occurrence wins); `sort`/`order` are named `sort by`/`order by` as written, and
/// let-bound functions are left out (they are the query's own, not KQL's).
pub fn operators(source: &str, query: &Query) -> Vec<String> {
    let mut bound = BTreeSet::new();
    collect_function_names(&query.statements, &mut bound);
    let mut collector = OperatorCollector {
        source,
        bound,
        tabular: Vec::new(),
        scalars: Vec::new(),
        aggregate_calls: HashSet::new(),
    };
    walk::walk_query(&mut collector, query);
    let mut seen = HashSet::new();
    collector
        .tabular
        .into_iter()
        .chain(collector.scalars)
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

fn collect_function_names(statements: &[Statement], bound: &mut BTreeSet<String>) {
    for statement in statements {
        if let StatementKind::Let(let_statement) = &statement.kind {
            bound.insert(let_statement.name.name.clone());
            if let LetValue::Function(def) | LetValue::View(def) = &let_statement.value {
                collect_function_names(&def.body.statements, bound);
            }
        }
    }
}

struct OperatorCollector<'a> {
    source: &'a str,
    bound: BTreeSet<String>,
    tabular: Vec<String>,
    scalars: Vec<String>,
    /// Spans of calls already listed as aggregation functions or plugins.
    aggregate_calls: HashSet<(u32, u32)>,
}

impl OperatorCollector<'_> {
    fn aggregates_of(&mut self, expr: &Expr) {
        let mut found = Vec::new();
        aggregate_calls(expr, &mut found);
        for call in found {
            self.aggregate_calls
                .insert((call.span.start, call.span.end));
            self.tabular.push(call.name.name.to_ascii_lowercase());
        }
    }

    /// The keyword as written, for the operators with two spellings.
    fn keyword(&self, operator: &Operator) -> String {
        let written = operator
            .span
            .text(self.source)
            .trim_start()
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match &operator.kind {
            OperatorKind::Sort { .. } => {
                if written == "order" {
                    "order by".to_string()
                } else {
                    "sort by".to_string()
                }
            }
            OperatorKind::Take { .. } if written == "limit" => written,
            OperatorKind::Where { .. } if written == "filter" => written,
            kind => kind.name().to_string(),
        }
    }
}

/// The calls of aggregation functions in an aggregate expression, outermost first: in
/// `round(avg(x), 2)` that is `avg` (`round` is scalar); arguments of an aggregation function
/// are scalar context, so `dcount(startofday(t))` yields only `dcount`.
pub(super) fn aggregate_calls<'e>(expr: &'e Expr, found: &mut Vec<&'e FunctionCall>) {
    match &expr.kind {
        ExprKind::Call(call) if is_aggregate_function(&call.name.name) => found.push(call),
        ExprKind::Call(call) => {
            for arg in &call.args {
                aggregate_calls(&arg.value, found);
            }
        }
        ExprKind::Paren(inner) | ExprKind::Unary { operand: inner, .. } => {
            aggregate_calls(inner, found);
        }
        ExprKind::Member { target, .. } => aggregate_calls(target, found),
        ExprKind::Index { target, index } => {
            aggregate_calls(target, found);
            aggregate_calls(index, found);
        }
        ExprKind::Binary { left, right, .. } => {
            aggregate_calls(left, found);
            aggregate_calls(right, found);
        }
        _ => {}
    }
}

impl Visitor for OperatorCollector<'_> {
    /// A call in source position (`table('x')`, `_GetWatchlist('w')`, `cluster('c')`) reads
    /// rows: it is a table, not an operator; only its arguments are searched.
    fn visit_source(&mut self, source: &Source) {
        match &source.kind {
            SourceKind::Call(call) => walk::walk_call(self, call),
            SourceKind::Path(parts) => {
                for part in parts {
                    if let PathPart::Call(call) = part {
                        walk::walk_call(self, call);
                    }
                }
            }
            _ => walk::walk_source(self, source),
        }
    }

    fn visit_operator(&mut self, operator: &Operator) {
        let keyword = self.keyword(operator);
        self.tabular.push(keyword);
        let has_by = match &operator.kind {
            OperatorKind::Summarize { aggregates, by, .. } => {
                for aggregate in aggregates {
                    self.aggregates_of(&aggregate.expr);
                }
                !by.is_empty()
            }
            OperatorKind::MakeSeries { aggregates, by, .. } => {
                for aggregate in aggregates {
                    self.aggregates_of(&aggregate.aggregate.expr);
                }
                !by.is_empty()
            }
            OperatorKind::TopNested { levels } => {
                for level in levels {
                    self.aggregates_of(&level.by.expr);
                }
                true
            }
            OperatorKind::Evaluate { plugin, .. } => {
                self.aggregate_calls
                    .insert((plugin.span.start, plugin.span.end));
                self.tabular.push(plugin.name.name.to_ascii_lowercase());
                false
            }
            OperatorKind::Top { .. }
            | OperatorKind::TopHitters { by: Some(_), .. }
            | OperatorKind::Partition { .. }
            | OperatorKind::Reduce { .. } => true,
            _ => false,
        };
        if has_by {
            self.tabular.push("by".to_string());
        }
        walk::walk_operator(self, operator);
    }

    fn visit_call(&mut self, call: &FunctionCall) {
        let listed = self
            .aggregate_calls
            .contains(&(call.span.start, call.span.end));
        if !listed && !self.bound.contains(&call.name.name) {
            self.scalars.push(call.name.name.to_ascii_lowercase());
        }
        walk::walk_call(self, call);
    }
}
