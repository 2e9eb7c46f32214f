//! A plain-language, step-by-step explanation of a KQL query, generated from its syntax tree
//! (deterministic: the same query always reads the same, and the text can never drift from the
//! query), and the Tables / Keywords / Operators lists of a rule page.
//!
//! Each statement and each tabular operator becomes at least one step; what the explainer has
//! no special words for is still a step, naming the operator and quoting its text, so nothing
//! in the query is left out. `where` is split at its top-level `and`s into a time frame
//! (comparisons of a column with `ago()`, `now()`, `datetime()`...), thresholds (comparisons on
//! columns a `summarize` computed) and filters; `extend` columns become extracted fields
//! (JSON members, `extract`, `parse_json`...), derived flags (true/false expressions) or
//! computed values.

mod lists;
mod words;

use std::collections::{HashMap, HashSet};

use goshawk_kql_syntax::ast::*;
use goshawk_kql_syntax::{Diagnostic, parse_query};
use serde::Serialize;

pub use lists::{operators, source_columns, tables};
pub use words::{humanize, span_adjective, table_description};

/// Past this depth of nested expressions or sub-queries, the explainer quotes the source text
/// instead of descending, so that any query the parser accepts is explained without exhausting
/// the stack.
const MAX_DEPTH: u32 = 40;

/// The numbered steps of a query's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub steps: Vec<Step>,
}

/// One step: what kind of work it does and what it does, in words; `details` are one line per
/// item (an aggregate, an output column), `substeps` the steps of a nested query (a `let`
/// definition, the right side of a `join`, a `union` leg).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub substeps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Definition,
    Setting,
    DataSource,
    TimeFrame,
    Filter,
    Extract,
    Compute,
    Aggregate,
    Threshold,
    Flag,
    Columns,
    Join,
    Union,
    Expand,
    Parse,
    Distinct,
    Order,
    Limit,
    Render,
    Result,
    Other,
}

impl StepKind {
    /// The label a step starts with when shown to people.
    pub fn label(self) -> &'static str {
        match self {
            StepKind::Definition => "Definition",
            StepKind::Setting => "Setting",
            StepKind::DataSource => "Data source",
            StepKind::TimeFrame => "Time frame",
            StepKind::Filter => "Filter",
            StepKind::Extract => "Extract",
            StepKind::Compute => "Compute",
            StepKind::Aggregate => "Aggregate",
            StepKind::Threshold => "Threshold",
            StepKind::Flag => "Derived flag",
            StepKind::Columns => "Columns",
            StepKind::Join => "Join",
            StepKind::Union => "Union",
            StepKind::Expand => "Expand",
            StepKind::Parse => "Parse",
            StepKind::Distinct => "Distinct",
            StepKind::Order => "Order",
            StepKind::Limit => "Limit",
            StepKind::Render => "Render",
            StepKind::Result => "Result",
            StepKind::Other => "Operator",
        }
    }
}

impl Step {
    fn new(kind: StepKind, text: impl Into<String>) -> Step {
        Step {
            kind,
            text: text.into(),
            details: Vec::new(),
            substeps: Vec::new(),
        }
    }

    fn with_details(mut self, details: Vec<String>) -> Step {
        self.details = details;
        self
    }

    fn with_substeps(mut self, substeps: Vec<Step>) -> Step {
        self.substeps = substeps;
        self
    }
}

impl Explanation {
    /// Numbered lines: `1. Data source: ...`, details as `   - ...` and nested steps as
    /// `   1.1. ...`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        render_text(&self.steps, "", 0, &mut out);
        out
    }
}

fn render_text(steps: &[Step], prefix: &str, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (index, step) in steps.iter().enumerate() {
        let number = format!("{prefix}{}.", index + 1);
        let colon = if step.details.is_empty() { "" } else { ":" };
        out.push_str(&format!(
            "{pad}{number} {}: {}{colon}\n",
            step.kind.label(),
            step.text
        ));
        let inner = " ".repeat(indent + number.len() + 1);
        for detail in &step.details {
            out.push_str(&format!("{inner}- {detail}\n"));
        }
        render_text(&step.substeps, &number, indent + number.len() + 1, out);
    }
}

/// What a rule page shows about a query: its explanation and the three lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryAnalysis {
    pub tables: Vec<String>,
    /// Columns read from the sources.
    pub columns: Vec<String>,
    /// See [`operators`] for the order.
    pub operators: Vec<String>,
    pub explanation: Explanation,
}

/// Parses `source` and analyses it; the error is the parser's first diagnostic.
pub fn analyze_kql(source: &str) -> Result<QueryAnalysis, Box<Diagnostic>> {
    let query = parse_query(source).map_err(Box::new)?;
    Ok(analyze(source, &query))
}

/// Analyses a parsed query; `source` is the text it was parsed from.
pub fn analyze(source: &str, query: &Query) -> QueryAnalysis {
    QueryAnalysis {
        tables: tables(query),
        columns: source_columns(query),
        operators: operators(source, query),
        explanation: explain_query(source, query),
    }
}

/// The explanation of a parsed query; `source` is the text it was parsed from. Never empty.
pub fn explain_query(source: &str, query: &Query) -> Explanation {
    let mut explainer = Explainer {
        source,
        scalars: HashMap::new(),
        tabular_lets: HashSet::new(),
        params: HashSet::new(),
        columns: HashMap::new(),
        depth: 0,
    };
    let mut steps = explainer.statements(&query.statements);
    if steps.is_empty() {
        steps.push(Step::new(
            StepKind::Other,
            "the query has no statements (it is empty or only comments)",
        ));
    }
    Explanation { steps }
}

/// Kusto's aggregation functions, for telling `summarize` aggregates from scalar calls.
pub fn is_aggregate_function(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "count"
            | "countif"
            | "count_distinct"
            | "count_distinctif"
            | "dcount"
            | "dcountif"
            | "sum"
            | "sumif"
            | "avg"
            | "avgif"
            | "min"
            | "minif"
            | "max"
            | "maxif"
            | "arg_min"
            | "arg_max"
            | "any"
            | "anyif"
            | "take_any"
            | "take_anyif"
            | "make_set"
            | "make_set_if"
            | "makeset"
            | "make_list"
            | "make_list_if"
            | "makelist"
            | "make_list_with_nulls"
            | "make_bag"
            | "make_bag_if"
            | "percentile"
            | "percentiles"
            | "percentilew"
            | "percentilesw"
            | "percentiles_array"
            | "percentilesw_array"
            | "stdev"
            | "stdevif"
            | "stdevp"
            | "variance"
            | "varianceif"
            | "variancep"
            | "hll"
            | "hll_if"
            | "hll_merge"
            | "tdigest"
            | "tdigest_merge"
            | "merge_tdigest"
            | "buildschema"
            | "binary_all_and"
            | "binary_all_or"
            | "binary_all_xor"
    )
}

/// Where a column the query computes came from, for choosing words about it later.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Aggregate,
    Flag,
    /// An extracted field, with a friendly name (`service principal name`) when one follows
    /// from its definition.
    Extracted(Option<String>),
    Computed,
}

struct Explainer<'s> {
    source: &'s str,
    /// `let name = <scalar>`: the value, so that `ago(lookback)` reads "the last 14 days".
    scalars: HashMap<String, Expr>,
    tabular_lets: HashSet<String>,
    /// Function and query parameters, named as written.
    params: HashSet<String>,
    columns: HashMap<String, Origin>,
    depth: u32,
}

impl Explainer<'_> {
    fn text(&self, span: goshawk_kql_syntax::Span) -> String {
        words::code(span.text(self.source))
    }

    // ---- statements ------------------------------------------------------------------------

    fn statements(&mut self, statements: &[Statement]) -> Vec<Step> {
        let mut steps = Vec::new();
        for statement in statements {
            steps.extend(self.statement(statement));
        }
        steps
    }

    fn statement(&mut self, statement: &Statement) -> Vec<Step> {
        match &statement.kind {
            StatementKind::Let(let_statement) => vec![self.let_statement(let_statement)],
            StatementKind::Set { name, value } => {
                let value = value
                    .as_ref()
                    .map_or_else(|| "on".to_string(), |v| self.phrase(v));
                vec![Step::new(
                    StepKind::Setting,
                    format!("set the query option {} to {value}", name.name),
                )]
            }
            StatementKind::DeclareQueryParameters(params) => vec![Step::new(
                StepKind::Definition,
                format!(
                    "the query takes the parameters {}",
                    words::and_list(&self.parameters(params))
                ),
            )],
            StatementKind::Tabular(tabular) => self.tabular(tabular),
            StatementKind::Scalar(expr) => {
                vec![Step::new(StepKind::Result, self.phrase(expr))]
            }
            StatementKind::AliasDatabase { .. }
            | StatementKind::DeclarePattern(_)
            | StatementKind::RestrictAccess(_) => vec![Step::new(
                StepKind::Other,
                format!("statement {}", self.text(statement.span)),
            )],
        }
    }

    fn parameters(&mut self, params: &[Parameter]) -> Vec<String> {
        for param in params {
            self.params.insert(param.name.name.clone());
        }
        params
            .iter()
            .map(|param| {
                let ty = match &param.ty {
                    ParamType::Scalar(ty) => ty.value.name().to_string(),
                    ParamType::Tabular(_) => "table".to_string(),
                };
                match &param.default {
                    Some(default) => format!(
                        "{} ({ty}, default {})",
                        param.name.name,
                        self.phrase(default)
                    ),
                    None => format!("{} ({ty})", param.name.name),
                }
            })
            .collect()
    }

    fn let_statement(&mut self, statement: &LetStatement) -> Step {
        let name = &statement.name.name;
        match &statement.value {
            LetValue::Expr(expr) => {
                let step = match &expr.kind {
                    ExprKind::Name(target) if !self.scalars.contains_key(&target.name) => {
                        self.tabular_lets.insert(name.clone());
                        Step::new(
                            StepKind::Definition,
                            format!("{name} stands for {}", self.source_name(&target.name)),
                        )
                    }
                    _ => Step::new(
                        StepKind::Definition,
                        format!("{name} is {}", self.phrase(expr)),
                    ),
                };
                self.scalars.insert(name.clone(), expr.clone());
                step
            }
            LetValue::Tabular(tabular) => {
                let substeps = self.nested_tabular(tabular);
                self.tabular_lets.insert(name.clone());
                Step::new(
                    StepKind::Definition,
                    format!("{name} is the result of these steps"),
                )
                .with_substeps(substeps)
            }
            LetValue::Function(def) | LetValue::View(def) => {
                let params = self.parameters(&def.params);
                let substeps = self.nested(|this| this.statements(&def.body.statements));
                self.tabular_lets.insert(name.clone());
                let takes = if params.is_empty() {
                    "no parameters".to_string()
                } else {
                    format!("the parameters {}", words::and_list(&params))
                };
                Step::new(
                    StepKind::Definition,
                    format!("{name} is a function taking {takes}, which does these steps"),
                )
                .with_substeps(substeps)
            }
        }
    }

    /// Runs `f` one level deeper, or quotes nothing past [`MAX_DEPTH`].
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Vec<Step>) -> Vec<Step> {
        if self.depth >= MAX_DEPTH {
            return Vec::new();
        }
        self.depth += 1;
        let steps = f(self);
        self.depth -= 1;
        steps
    }

    fn nested_tabular(&mut self, tabular: &TabularExpr) -> Vec<Step> {
        let span = tabular.span;
        let steps = self.nested(|this| this.tabular(tabular));
        if steps.is_empty() {
            vec![Step::new(
                StepKind::Other,
                format!("the sub-query {}", self.text(span)),
            )]
        } else {
            steps
        }
    }

    // ---- pipelines -------------------------------------------------------------------------

    fn tabular(&mut self, tabular: &TabularExpr) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(source) = &tabular.source {
            steps.extend(self.source(source));
        }
        for operator in &tabular.operators {
            steps.extend(self.operator(operator));
        }
        steps
    }

    fn source_name(&self, name: &str) -> String {
        if self.tabular_lets.contains(name) || self.scalars.contains_key(name) {
            format!("{name} (defined above)")
        } else {
            match table_description(name) {
                Some(description) => format!("the {name} table ({description})"),
                None => format!("the {name} table"),
            }
        }
    }

    fn source(&mut self, source: &Source) -> Vec<Step> {
        let text = match &source.kind {
            SourceKind::Name(ident) => self.source_name(&ident.name),
            SourceKind::Call(call) => self.source_call(call),
            SourceKind::Path(_) => format!("the table {}", self.text(source.span)),
            SourceKind::Parenthesized(inner) => {
                let substeps = self.nested_tabular(inner);
                return vec![
                    Step::new(StepKind::DataSource, "the result of these steps")
                        .with_substeps(substeps),
                ];
            }
            SourceKind::Operator(operator) => return self.operator(operator),
        };
        vec![Step::new(StepKind::DataSource, text)]
    }

    fn source_call(&mut self, call: &FunctionCall) -> String {
        let first_string = call.args.first().and_then(|arg| match &arg.value.kind {
            ExprKind::Literal(Literal {
                kind: LiteralKind::String(value),
                ..
            }) => Some(value.clone()),
            _ => None,
        });
        match (call.name.name.as_str(), first_string) {
            ("table", Some(table)) => self.source_name(&table),
            ("_GetWatchlist", Some(watchlist)) => format!("the watchlist {watchlist}"),
            ("materialize", _) => match call.args.first().map(|a| &a.value.kind) {
                Some(ExprKind::Tabular(inner)) => {
                    format!("the result of {} (computed once)", self.text(inner.span))
                }
                _ => format!("the result of {}", self.text(call.span)),
            },
            _ if self.tabular_lets.contains(&call.name.name) => format!(
                "the result of the function {} defined above, called as {}",
                call.name.name,
                self.text(call.span)
            ),
            _ => format!("the rows returned by the function {}", self.text(call.span)),
        }
    }

    fn operator(&mut self, operator: &Operator) -> Vec<Step> {
        let span = operator.span;
        match &operator.kind {
            OperatorKind::Where { predicate } => self.where_steps(predicate),
            OperatorKind::Extend { columns } => self.extend_steps(columns),
            OperatorKind::Summarize { aggregates, by, .. } => {
                vec![self.summarize_step(aggregates, by)]
            }
            OperatorKind::Sort { keys, .. } => vec![Step::new(
                StepKind::Order,
                format!("sort by {}", self.sort_keys(keys)),
            )],
            OperatorKind::Top { count, by, .. } => vec![Step::new(
                StepKind::Limit,
                format!(
                    "keep the top {} rows, sorted by {}",
                    self.phrase(count),
                    self.sort_keys(by)
                ),
            )],
            OperatorKind::Take { count, .. } => vec![Step::new(
                StepKind::Limit,
                format!("keep at most {} rows (any rows)", self.phrase(count)),
            )],
            OperatorKind::Project { columns } => vec![self.project_step(columns)],
            OperatorKind::ProjectAway { columns } => vec![Step::new(
                StepKind::Columns,
                format!("drop the columns {}", patterns(columns)),
            )],
            OperatorKind::ProjectKeep { columns } => vec![Step::new(
                StepKind::Columns,
                format!("keep only the columns {}", patterns(columns)),
            )],
            OperatorKind::ProjectRename { columns } => {
                let renames: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} to {}", c.old_name.name, c.new_name.name))
                    .collect();
                for column in columns {
                    let origin = self
                        .columns
                        .get(&column.old_name.name)
                        .cloned()
                        .unwrap_or(Origin::Computed);
                    self.columns.insert(column.new_name.name.clone(), origin);
                }
                vec![Step::new(
                    StepKind::Columns,
                    format!("rename {}", words::and_list(&renames)),
                )]
            }
            OperatorKind::ProjectReorder { columns } => {
                let names: Vec<String> =
                    columns.iter().map(|c| c.pattern.pattern.clone()).collect();
                vec![Step::new(
                    StepKind::Columns,
                    format!("put the columns {} first", words::and_list(&names)),
                )]
            }
            OperatorKind::Distinct { columns, .. } => {
                let text = if matches!(columns.as_slice(), [one] if one.expr.kind == ExprKind::Star)
                {
                    "remove duplicate rows".to_string()
                } else {
                    format!(
                        "keep one row per distinct combination of {}",
                        self.named_list(columns)
                    )
                };
                vec![Step::new(StepKind::Distinct, text)]
            }
            OperatorKind::Count { .. } => vec![Step::new(
                StepKind::Aggregate,
                "count the rows (the result is one row with the column Count)",
            )],
            OperatorKind::Join(join) => vec![self.join_step(join, false)],
            OperatorKind::Lookup(join) => vec![self.join_step(join, true)],
            OperatorKind::Union { operands, .. } => vec![self.union_step(operands)],
            OperatorKind::MvExpand { items, limit, .. } => {
                let mut text = format!(
                    "one row per element of {}",
                    words::and_list(&self.expand_items(items))
                );
                if let Some(limit) = limit {
                    text.push_str(&format!(
                        ", at most {} rows per input row",
                        self.phrase(limit)
                    ));
                }
                vec![Step::new(StepKind::Expand, text)]
            }
            OperatorKind::MvApply {
                items, subquery, ..
            } => {
                let items = self.expand_items(items);
                let substeps = self.nested_tabular(subquery);
                vec![
                    Step::new(
                        StepKind::Expand,
                        format!(
                            "for each row, apply these steps to the elements of {}",
                            words::and_list(&items)
                        ),
                    )
                    .with_substeps(substeps),
                ]
            }
            OperatorKind::Parse(parse) => vec![self.parse_step(parse, false)],
            OperatorKind::ParseWhere(parse) => vec![self.parse_step(parse, true)],
            OperatorKind::ParseKv {
                input, captures, ..
            } => {
                let names: Vec<String> = captures.iter().map(|c| c.name.name.clone()).collect();
                for name in &names {
                    self.columns
                        .insert(name.clone(), Origin::Extracted(Some(humanize(name))));
                }
                vec![Step::new(
                    StepKind::Parse,
                    format!(
                        "read the key/value pairs {} from {}",
                        words::and_list(&names),
                        self.phrase(input)
                    ),
                )]
            }
            OperatorKind::MakeSeries {
                aggregates,
                on,
                range,
                by,
                ..
            } => {
                let details: Vec<String> = aggregates
                    .iter()
                    .map(|a| self.aggregate_line(&a.aggregate))
                    .collect();
                let range = match range {
                    MakeSeriesRange::FromTo { from, to, step } => {
                        let mut text = format!("in steps of {}", self.phrase(step));
                        if let Some(from) = from {
                            text.push_str(&format!(" from {}", self.phrase(from)));
                        }
                        if let Some(to) = to {
                            text.push_str(&format!(" to {}", self.phrase(to)));
                        }
                        text
                    }
                    MakeSeriesRange::InRange { start, stop, step } => format!(
                        "in steps of {} from {} to {}",
                        self.phrase(step),
                        self.phrase(start),
                        self.phrase(stop)
                    ),
                };
                let by = if by.is_empty() {
                    String::new()
                } else {
                    format!(", one series per {}", self.group_keys(by))
                };
                vec![
                    Step::new(
                        StepKind::Aggregate,
                        format!("make time series over {} {range}{by}, of", self.phrase(on)),
                    )
                    .with_details(details),
                ]
            }
            OperatorKind::Evaluate { plugin, .. } => vec![self.evaluate_step(plugin)],
            OperatorKind::Render { visualization, .. } => vec![Step::new(
                StepKind::Render,
                format!("show the result as a {}", visualization.name),
            )],
            OperatorKind::Search {
                tables, predicate, ..
            } => {
                let scope = match tables {
                    Some(tables) => format!("the tables {}", patterns(tables)),
                    None => "every table".to_string(),
                };
                vec![Step::new(
                    StepKind::Filter,
                    format!(
                        "search {scope} for rows where {}",
                        self.predicate(predicate)
                    ),
                )]
            }
            OperatorKind::Find {
                tables, predicate, ..
            } => {
                let scope = match tables {
                    Some(_) => "the listed tables".to_string(),
                    None => "every table".to_string(),
                };
                vec![Step::new(
                    StepKind::Filter,
                    format!(
                        "find, in {scope}, rows where {} ({})",
                        self.predicate(predicate),
                        self.text(span)
                    ),
                )]
            }
            OperatorKind::Fork { branches } => {
                let substeps = branches
                    .iter()
                    .map(|branch| {
                        let name = branch
                            .name
                            .as_ref()
                            .map_or("a branch".to_string(), |n| format!("branch {}", n.name));
                        let inner = self.nested_tabular(&branch.body);
                        Step::new(StepKind::Other, format!("{name} applies these steps"))
                            .with_substeps(inner)
                    })
                    .collect();
                vec![
                    Step::new(
                        StepKind::Other,
                        "fork: run several branches on the same rows, each a result of its own",
                    )
                    .with_substeps(substeps),
                ]
            }
            OperatorKind::Partition { by, subquery, .. } => {
                let substeps = self.nested_tabular(subquery);
                vec![
                    Step::new(
                        StepKind::Other,
                        format!(
                            "partition the rows by {} and apply these steps to each partition",
                            self.phrase(by)
                        ),
                    )
                    .with_substeps(substeps),
                ]
            }
            OperatorKind::As { name, .. } => {
                self.tabular_lets.insert(name.name.clone());
                vec![Step::new(
                    StepKind::Definition,
                    format!("name the result so far {}", name.name),
                )]
            }
            OperatorKind::Invoke { function } => vec![Step::new(
                StepKind::Other,
                format!("pass the rows to the function {}", self.text(function.span)),
            )],
            OperatorKind::Serialize { columns } => {
                let mut text = "fix the order of the rows (serialize)".to_string();
                if !columns.is_empty() {
                    text.push_str(&format!(", adding {}", self.named_list(columns)));
                }
                vec![Step::new(StepKind::Other, text)]
            }
            OperatorKind::Sample { count, .. } => vec![Step::new(
                StepKind::Limit,
                format!("keep {} rows chosen at random", self.phrase(count)),
            )],
            OperatorKind::SampleDistinct { count, of, .. } => vec![Step::new(
                StepKind::Distinct,
                format!(
                    "keep up to {} distinct values of {}",
                    self.phrase(count),
                    self.phrase(of)
                ),
            )],
            OperatorKind::GetSchema => vec![Step::new(
                StepKind::Result,
                "output the column names and types instead of the rows",
            )],
            OperatorKind::Print { columns } => vec![Step::new(
                StepKind::DataSource,
                format!("a single row with {}", self.named_list(columns)),
            )],
            OperatorKind::Range {
                column,
                from,
                to,
                step,
            } => vec![Step::new(
                StepKind::DataSource,
                format!(
                    "generated rows with {} from {} to {} in steps of {}",
                    column.name,
                    self.phrase(from),
                    self.phrase(to),
                    self.phrase(step)
                ),
            )],
            OperatorKind::Datatable { schema, values } => {
                let columns: Vec<String> = schema.iter().map(|c| c.name.name.clone()).collect();
                let rows = values.len() / schema.len().max(1);
                vec![Step::new(
                    StepKind::DataSource,
                    format!(
                        "an inline table of {rows} {} with the columns {}",
                        words::plural("row", rows as u64),
                        words::and_list(&columns)
                    ),
                )]
            }
            OperatorKind::ExternalData { schema, uris, .. }
            | OperatorKind::InlineExternalTable { schema, uris, .. } => {
                let columns: Vec<String> = schema.iter().map(|c| c.name.name.clone()).collect();
                let uris: Vec<String> = uris.iter().map(words::literal).collect();
                vec![Step::new(
                    StepKind::DataSource,
                    format!(
                        "external data from {} with the columns {}",
                        words::and_list(&uris),
                        words::and_list(&columns)
                    ),
                )]
            }
            _ => vec![Step::new(
                StepKind::Other,
                format!("the {} operator: {}", operator.kind.name(), self.text(span)),
            )],
        }
    }

    // ---- where -----------------------------------------------------------------------------

    fn where_steps(&mut self, predicate: &Expr) -> Vec<Step> {
        let mut conjuncts = Vec::new();
        split_and(predicate, &mut conjuncts);
        // One step per kind, in the order each kind first appears in the predicate.
        let mut groups: Vec<(StepKind, Vec<String>)> = Vec::new();
        for conjunct in conjuncts {
            let (kind, text) = if let Some(time) = self.time_frame(conjunct) {
                (StepKind::TimeFrame, time)
            } else if self.is_threshold(conjunct) {
                (StepKind::Threshold, self.predicate(conjunct))
            } else {
                (StepKind::Filter, self.predicate(conjunct))
            };
            match groups.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, texts)) => texts.push(text),
                None => groups.push((kind, vec![text])),
            }
        }
        groups
            .into_iter()
            .map(|(kind, texts)| {
                let joined = words::and_list(&texts);
                let text = match kind {
                    StepKind::TimeFrame => joined,
                    StepKind::Threshold => format!("keep only the groups where {joined}"),
                    _ => format!("keep the rows where {joined}"),
                };
                Step::new(kind, text)
            })
            .collect()
    }

    /// `TimeGenerated > ago(30d)` -> "the last 30 days (by time generated)".
    fn time_frame(&mut self, expr: &Expr) -> Option<String> {
        let expr = strip_parens(expr);
        match &expr.kind {
            ExprKind::Binary { op, left, right } => {
                let (column, bound, op) = if self.is_time_value(right) && !self.is_time_value(left)
                {
                    (left, right, op.value)
                } else if self.is_time_value(left) && !self.is_time_value(right) {
                    (right, left, flip(op.value))
                } else {
                    return None;
                };
                let by = self.phrase(column);
                let text = match op {
                    BinaryOp::Gt | BinaryOp::Ge => match self.since(bound) {
                        Some(window) => format!("the last {window}"),
                        None => format!("since {}", self.phrase(bound)),
                    },
                    BinaryOp::Lt | BinaryOp::Le => format!("before {}", self.phrase(bound)),
                    BinaryOp::Eq => format!("exactly {}", self.phrase(bound)),
                    _ => return None,
                };
                Some(format!("{text} (by {by})"))
            }
            ExprKind::Between {
                value,
                negated: false,
                low,
                high,
            } if self.is_time_value(low) && self.is_time_value(high) => {
                let by = self.phrase(value);
                let text = match (self.since(low), is_now(self.resolve(high))) {
                    (Some(window), true) => format!("the last {window}"),
                    _ => format!("from {} to {}", self.phrase(low), self.phrase(high)),
                };
                Some(format!("{text} (by {by})"))
            }
            _ => None,
        }
    }

    /// For `ago(d)` or `now() - d`, the duration `d` in words.
    fn since(&mut self, bound: &Expr) -> Option<String> {
        let bound = self.resolve(bound).clone();
        match &bound.kind {
            ExprKind::Call(call) if call.name.name == "ago" && call.args.len() == 1 => {
                Some(self.duration_phrase(&call.args[0].value))
            }
            ExprKind::Binary { op, left, right }
                if op.value == BinaryOp::Sub && is_now(self.resolve(left)) =>
            {
                Some(self.duration_phrase(right))
            }
            _ => None,
        }
    }

    /// A duration in words; a `let`-bound one names its variable: "14 days (lookback)".
    fn duration_phrase(&mut self, expr: &Expr) -> String {
        if let ExprKind::Name(ident) = &strip_parens(expr).kind
            && let Some(value) = self.scalars.get(&ident.name).cloned()
        {
            return format!("{} ({})", self.phrase(&value), ident.name);
        }
        self.phrase(expr)
    }

    fn resolve<'e>(&'e self, expr: &'e Expr) -> &'e Expr {
        let mut expr = strip_parens(expr);
        // Bounded: a let may refer to an earlier let, never to itself.
        for _ in 0..8 {
            match &expr.kind {
                ExprKind::Name(ident) => match self.scalars.get(&ident.name) {
                    Some(value) => expr = strip_parens(value),
                    None => break,
                },
                _ => break,
            }
        }
        expr
    }

    fn is_time_value(&self, expr: &Expr) -> bool {
        let expr = self.resolve(expr);
        match &expr.kind {
            ExprKind::Literal(Literal {
                kind: LiteralKind::DateTime(_),
                ..
            }) => true,
            ExprKind::Call(call) => match call.name.name.as_str() {
                "ago" | "now" => true,
                "startofday" | "startofweek" | "startofmonth" | "startofyear" | "endofday"
                | "endofweek" | "endofmonth" | "endofyear" | "bin" | "floor" | "datetime_add"
                | "todatetime" => call.args.first().is_some_and(|arg| {
                    self.is_time_value(&arg.value)
                        || matches!(
                            &arg.value.kind,
                            ExprKind::Literal(Literal {
                                kind: LiteralKind::String(_),
                                ..
                            })
                        )
                }),
                _ => false,
            },
            ExprKind::Binary { op, left, .. } => {
                matches!(op.value, BinaryOp::Add | BinaryOp::Sub) && self.is_time_value(left)
            }
            _ => false,
        }
    }

    /// A comparison of a column a `summarize` computed with a value: a threshold on groups.
    fn is_threshold(&self, expr: &Expr) -> bool {
        let expr = strip_parens(expr);
        let ExprKind::Binary { op, left, right } = &expr.kind else {
            return false;
        };
        if !matches!(
            op.value,
            BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Eq
        ) {
            return false;
        }
        self.mentions_aggregate(left) || self.mentions_aggregate(right)
    }

    fn mentions_aggregate(&self, expr: &Expr) -> bool {
        match &strip_parens(expr).kind {
            ExprKind::Name(ident) => self.columns.get(&ident.name) == Some(&Origin::Aggregate),
            ExprKind::Binary { left, right, .. } => {
                self.mentions_aggregate(left) || self.mentions_aggregate(right)
            }
            ExprKind::Call(call) => call.args.iter().any(|a| self.mentions_aggregate(&a.value)),
            _ => false,
        }
    }

    // ---- extend ----------------------------------------------------------------------------

    fn extend_steps(&mut self, columns: &[NamedExpr]) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for column in columns {
            let name = column_name(column, self.source);
            let (kind, line, origin) = if is_boolean(&column.expr) {
                (
                    StepKind::Flag,
                    format!("{name} is true when {}", self.predicate(&column.expr)),
                    Origin::Flag,
                )
            } else if is_extraction(&column.expr) {
                let friendly = friendly_extraction(&column.expr);
                let label = match &friendly {
                    Some(friendly) if humanize(&name) != *friendly => {
                        format!("{name} ({friendly})")
                    }
                    _ => name.clone(),
                };
                (
                    StepKind::Extract,
                    format!("{label} = {}", self.phrase(&column.expr)),
                    Origin::Extracted(friendly),
                )
            } else {
                (
                    StepKind::Compute,
                    format!("{name} = {}", self.phrase(&column.expr)),
                    Origin::Computed,
                )
            };
            for ident in &column.names {
                self.columns.insert(ident.name.clone(), origin.clone());
            }
            match steps.last_mut() {
                Some(last) if last.kind == kind => {
                    if last.details.is_empty() {
                        let first = std::mem::take(&mut last.text);
                        last.details.push(first);
                    }
                    last.details.push(line);
                    last.text = match kind {
                        StepKind::Flag => "add the true/false columns".to_string(),
                        StepKind::Extract => "add the extracted fields".to_string(),
                        _ => "add the computed columns".to_string(),
                    };
                }
                _ => steps.push(Step::new(kind, line)),
            }
        }
        steps
    }

    // ---- summarize -------------------------------------------------------------------------

    fn summarize_step(&mut self, aggregates: &[NamedExpr], by: &[NamedExpr]) -> Step {
        if aggregates.is_empty() {
            let keys = self.group_keys(by);
            for key in by {
                for ident in &key.names {
                    self.columns.insert(ident.name.clone(), Origin::Computed);
                }
            }
            return Step::new(
                StepKind::Distinct,
                format!("keep one row per distinct combination of {keys}"),
            );
        }
        let details: Vec<String> = aggregates.iter().map(|a| self.aggregate_line(a)).collect();
        let text = if by.is_empty() {
            "summarize all rows into one, computing".to_string()
        } else {
            format!(
                "group the rows by {} and compute, for each group",
                self.group_keys(by)
            )
        };
        for aggregate in aggregates {
            for ident in &aggregate.names {
                self.columns.insert(ident.name.clone(), Origin::Aggregate);
            }
            if aggregate.names.is_empty() {
                self.columns
                    .insert(implicit_name(&aggregate.expr), Origin::Aggregate);
            }
        }
        for key in by {
            for ident in &key.names {
                self.columns.insert(ident.name.clone(), Origin::Computed);
            }
        }
        Step::new(StepKind::Aggregate, text).with_details(details)
    }

    fn aggregate_line(&mut self, aggregate: &NamedExpr) -> String {
        if aggregate.names.is_empty()
            && let ExprKind::Call(call) = &strip_parens(&aggregate.expr).kind
            && matches!(call.name.name.as_str(), "arg_max" | "arg_min")
        {
            // Their output columns are the columns they pick, under their own names.
            return self.phrase(&aggregate.expr);
        }
        let name = if aggregate.names.is_empty() {
            implicit_name(&aggregate.expr)
        } else {
            aggregate
                .names
                .iter()
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("{name}: {}", self.phrase(&aggregate.expr))
    }

    fn group_keys(&mut self, by: &[NamedExpr]) -> String {
        let keys: Vec<String> = by
            .iter()
            .map(|key| {
                let phrase = self.group_key(&key.expr);
                match key.names.as_slice() {
                    [] => phrase,
                    names => {
                        let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
                        format!("{} ({phrase})", names.join(", "))
                    }
                }
            })
            .collect();
        words::and_list(&keys)
    }

    fn group_key(&mut self, expr: &Expr) -> String {
        if let ExprKind::Call(call) = &strip_parens(expr).kind
            && call.name.name == "bin"
            && call.args.len() == 2
        {
            let size = self.phrase(&call.args[1].value);
            return format!("{} in periods of {size}", self.phrase(&call.args[0].value));
        }
        self.phrase(expr)
    }

    fn aggregate_phrase(&mut self, call: &FunctionCall) -> String {
        let name = call.name.name.to_ascii_lowercase();
        let args: Vec<&Expr> = call.args.iter().map(|a| &a.value).collect();
        let arg = |this: &mut Self, i: usize| args.get(i).map(|e| this.phrase(e));
        match (name.as_str(), args.len()) {
            ("count", 0) => "the number of rows".to_string(),
            ("count", _) => format!(
                "the number of rows with a value of {}",
                arg(self, 0).unwrap_or_default()
            ),
            ("countif", 1) => format!("the number of rows where {}", self.predicate(args[0])),
            ("dcount" | "count_distinct", 1 | 2) => {
                format!("the number of {}", self.distinct_values(args[0]))
            }
            ("dcountif" | "count_distinctif", 2 | 3) => format!(
                "the number of {} among rows where {}",
                self.distinct_values(args[0]),
                self.predicate(args[1])
            ),
            ("make_set" | "makeset", 1 | 2) => {
                let mut text = format!("the set of distinct {} values", self.phrase(args[0]));
                if let Some(limit) = arg(self, 1) {
                    text.push_str(&format!(" (up to {limit})"));
                }
                text
            }
            ("make_list" | "makelist" | "make_list_with_nulls", 1 | 2) => {
                let mut text = format!("the list of {} values", self.phrase(args[0]));
                if let Some(limit) = arg(self, 1) {
                    text.push_str(&format!(" (up to {limit})"));
                }
                text
            }
            ("make_set_if" | "make_list_if", 2 | 3) => {
                let what = if name == "make_set_if" {
                    "the set of distinct"
                } else {
                    "the list of"
                };
                let mut text = format!(
                    "{what} {} values from rows where {}",
                    self.phrase(args[0]),
                    self.predicate(args[1])
                );
                if let Some(limit) = arg(self, 2) {
                    text.push_str(&format!(" (up to {limit})"));
                }
                text
            }
            ("make_bag", 1 | 2) => format!(
                "the property bags in {} merged into one",
                self.phrase(args[0])
            ),
            ("min", 1) if self.is_time_like(args[0]) => {
                format!("the earliest {} (first seen)", self.phrase(args[0]))
            }
            ("max", 1) if self.is_time_like(args[0]) => {
                format!("the latest {} (last seen)", self.phrase(args[0]))
            }
            ("min", 1) => format!("the smallest {}", self.phrase(args[0])),
            ("max", 1) => format!("the largest {}", self.phrase(args[0])),
            ("minif", 2) | ("maxif", 2) => format!(
                "the {} {} among rows where {}",
                if name == "minif" {
                    "smallest"
                } else {
                    "largest"
                },
                self.phrase(args[0]),
                self.predicate(args[1])
            ),
            ("sum", 1) => format!("the sum of {}", self.phrase(args[0])),
            ("sumif", 2) => format!(
                "the sum of {} over rows where {}",
                self.phrase(args[0]),
                self.predicate(args[1])
            ),
            ("avg", 1) => format!("the average of {}", self.phrase(args[0])),
            ("avgif", 2) => format!(
                "the average of {} over rows where {}",
                self.phrase(args[0]),
                self.predicate(args[1])
            ),
            ("stdev" | "stdevp", 1) => {
                format!("the standard deviation of {}", self.phrase(args[0]))
            }
            ("variance" | "variancep", 1) => format!("the variance of {}", self.phrase(args[0])),
            ("percentile", 2) => format!(
                "the {}th percentile of {}",
                self.phrase(args[1]),
                self.phrase(args[0])
            ),
            ("percentiles", n) if n >= 2 => {
                let ps: Vec<String> = args[1..].iter().map(|e| self.phrase(e)).collect();
                format!(
                    "the {} percentiles of {}",
                    words::and_list(&ps),
                    self.phrase(args[0])
                )
            }
            ("arg_max" | "arg_min", n) if n >= 2 => {
                let extreme = match (name.as_str(), self.is_time_like(args[0])) {
                    ("arg_max", true) => "latest",
                    ("arg_max", false) => "largest",
                    (_, true) => "earliest",
                    (_, false) => "smallest",
                };
                let of = self.phrase(args[0]);
                let columns = if matches!(args[1].kind, ExprKind::Star) {
                    "all columns".to_string()
                } else {
                    let cols: Vec<String> = args[1..].iter().map(|e| self.phrase(e)).collect();
                    words::and_list(&cols)
                };
                format!("{columns} of the row with the {extreme} {of}")
            }
            ("any" | "take_any", n) if n >= 1 => {
                let cols: Vec<String> = args.iter().map(|e| self.phrase(e)).collect();
                format!("any one value of {}", words::and_list(&cols))
            }
            _ => format!("the aggregate {}", self.text(call.span)),
        }
    }

    /// "distinct target identity values"; for `startofday(t)` "distinct days", for `bin(t, 1h)`
    /// "distinct 1 hour periods".
    fn distinct_values(&mut self, expr: &Expr) -> String {
        if let ExprKind::Call(call) = &strip_parens(expr).kind {
            let of = call.args.first().map(|a| a.value.clone());
            match (call.name.name.as_str(), of) {
                ("startofday", Some(of)) => {
                    return format!("distinct days (start of day of {})", self.phrase(&of));
                }
                ("bin", Some(of)) if call.args.len() == 2 => {
                    let size = self.phrase(&call.args[1].value);
                    return format!("distinct {size} periods of {}", self.phrase(&of));
                }
                _ => {}
            }
        }
        format!("distinct {} values", self.phrase(expr))
    }

    fn is_time_like(&self, expr: &Expr) -> bool {
        if self.is_time_value(expr) {
            return true;
        }
        match &strip_parens(expr).kind {
            ExprKind::Name(ident) => {
                let lower = ident.name.to_ascii_lowercase();
                lower.contains("time") || lower.contains("date") || lower == "timestamp"
            }
            ExprKind::Call(call) => {
                matches!(
                    call.name.name.as_str(),
                    "todatetime" | "startofday" | "bin" | "datetime_add"
                ) && call
                    .args
                    .first()
                    .is_some_and(|a| self.is_time_like(&a.value))
            }
            _ => false,
        }
    }

    // ---- other operators -------------------------------------------------------------------

    fn sort_keys(&mut self, keys: &[SortKey]) -> String {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| {
                let descending = key
                    .order
                    .as_ref()
                    .is_none_or(|o| o.value == SortOrder::Desc);
                let direction = match (descending, self.is_time_like(&key.expr)) {
                    (true, true) => "latest first",
                    (true, false) => "highest first",
                    (false, true) => "earliest first",
                    (false, false) => "lowest first",
                };
                format!("{}, {direction}", self.phrase(&key.expr))
            })
            .collect();
        keys.join("; then by ")
    }

    fn project_step(&mut self, columns: &[NamedExpr]) -> Step {
        let mut plain = Vec::new();
        let mut computed = Vec::new();
        for column in columns {
            match (&column.expr.kind, column.names.as_slice()) {
                (ExprKind::Name(ident), []) => plain.push(ident.name.clone()),
                _ => {
                    let name = column_name(column, self.source);
                    computed.push(format!("{name} = {}", self.phrase(&column.expr)));
                    for ident in &column.names {
                        self.columns.insert(ident.name.clone(), Origin::Computed);
                    }
                }
            }
        }
        let text = match (plain.is_empty(), computed.is_empty()) {
            (false, true) => format!("keep only the columns {}", words::and_list(&plain)),
            (true, _) => "output only these columns".to_string(),
            (false, false) => format!(
                "keep only the columns {}, and these",
                words::and_list(&plain)
            ),
        };
        Step::new(StepKind::Columns, text).with_details(computed)
    }

    fn named_list(&mut self, columns: &[NamedExpr]) -> String {
        let items: Vec<String> = columns
            .iter()
            .map(
                |column| match (&column.expr.kind, column.names.as_slice()) {
                    (ExprKind::Name(ident), []) => self.column_ref(&ident.name),
                    (_, []) => self.phrase(&column.expr),
                    (_, names) => {
                        let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
                        format!("{} = {}", names.join(", "), self.phrase(&column.expr))
                    }
                },
            )
            .collect();
        words::and_list(&items)
    }

    fn expand_items(&mut self, items: &[MvExpandItem]) -> Vec<String> {
        items
            .iter()
            .map(|item| {
                let mut text = self.phrase(&item.column.expr);
                if let Some(name) = item.column.names.first() {
                    text = format!("{text} (as {})", name.name);
                }
                if let Some(ty) = &item.to_type {
                    text.push_str(&format!(", as {}", ty.value.name()));
                }
                text
            })
            .collect()
    }

    fn join_step(&mut self, join: &Join, lookup: bool) -> Step {
        let kind = join.kind.as_ref().map(|k| k.value);
        let what = if lookup {
            match kind {
                Some(JoinKind::Inner) => {
                    "add the columns of the following to each row with a match (dropping rows without one)"
                }
                _ => "add the columns of the following to each row (rows without a match are kept)",
            }
        } else {
            match kind {
                None | Some(JoinKind::InnerUnique) => {
                    "join with the following (inner join, keeping one left row per key: Kusto's default)"
                }
                Some(JoinKind::Inner) => {
                    "join with the following (inner join: matching pairs only)"
                }
                Some(JoinKind::LeftOuter) => {
                    "join with the following (left outer: every row, plus the matching columns where found)"
                }
                Some(JoinKind::RightOuter) => {
                    "join with the following (right outer: every row of the following, plus matches)"
                }
                Some(JoinKind::FullOuter) => {
                    "join with the following (full outer: every row of both)"
                }
                Some(JoinKind::LeftAnti | JoinKind::LeftAntiSemi) => {
                    "keep only the rows with no match in the following (left anti join)"
                }
                Some(JoinKind::RightAnti | JoinKind::RightAntiSemi) => {
                    "keep only the rows of the following with no match (right anti join)"
                }
                Some(JoinKind::LeftSemi) => {
                    "keep only the rows with a match in the following (left semi join)"
                }
                Some(JoinKind::RightSemi) => {
                    "keep only the rows of the following with a match (right semi join)"
                }
            }
        };
        let keys: Vec<String> = join
            .on
            .iter()
            .map(|key| match key {
                JoinKey::Column(ident) => ident.name.clone(),
                JoinKey::Equal { left, right, .. } => {
                    format!("{} (left) = {} (right)", left.name, right.name)
                }
                JoinKey::Other(expr) => self.text(expr.span),
            })
            .collect();
        let on = if keys.is_empty() {
            String::new()
        } else {
            format!(", matching on {}", words::and_list(&keys))
        };
        let substeps = self.nested_tabular(&join.right);
        Step::new(StepKind::Join, format!("{what}{on}")).with_substeps(substeps)
    }

    fn union_step(&mut self, operands: &[UnionOperand]) -> Step {
        let mut names = Vec::new();
        let mut substeps = Vec::new();
        for operand in operands {
            match operand {
                UnionOperand::Pattern(pattern) if pattern.has_wildcard() => {
                    names.push(format!("every table matching {}", pattern.pattern));
                }
                UnionOperand::Pattern(pattern) => names.push(self.source_name(&pattern.pattern)),
                UnionOperand::ScopedPattern { span, .. } => names.push(self.text(*span)),
                UnionOperand::Tabular(tabular) => {
                    match (&tabular.source, tabular.operators.is_empty()) {
                        (Some(source), true) if matches!(source.kind, SourceKind::Name(_)) => {
                            if let SourceKind::Name(ident) = &source.kind {
                                names.push(self.source_name(&ident.name));
                            }
                        }
                        _ => {
                            names.push(format!("sub-query {}", substeps.len() + 1));
                            let inner = self.nested_tabular(tabular);
                            substeps.push(
                                Step::new(
                                    StepKind::DataSource,
                                    format!("sub-query {}", substeps.len() + 1),
                                )
                                .with_substeps(inner),
                            );
                        }
                    }
                }
            }
        }
        Step::new(
            StepKind::Union,
            format!("combine the rows with those of {}", words::and_list(&names)),
        )
        .with_substeps(substeps)
    }

    fn parse_step(&mut self, parse: &Parse, only_matching: bool) -> Step {
        let mut captures = Vec::new();
        for part in &parse.pattern {
            if let ParsePatternPart::Capture { name, ty, .. } = part {
                let ty = ty
                    .as_ref()
                    .map_or(String::new(), |t| format!(" ({})", t.value.name()));
                captures.push(format!("{}{ty}", name.name));
                self.columns.insert(
                    name.name.clone(),
                    Origin::Extracted(Some(humanize(&name.name))),
                );
            }
        }
        let how = match parse.kind.as_ref().map(|k| k.value) {
            Some(ParseKind::Regex) => "a regular expression",
            Some(ParseKind::Relaxed) => "a relaxed pattern",
            _ => "a pattern",
        };
        let mut text = format!(
            "extract {} from {} with {how}",
            words::and_list(&captures),
            self.phrase(&parse.input)
        );
        if only_matching {
            text.push_str(", keeping only the rows that match");
        }
        Step::new(StepKind::Parse, text)
    }

    fn evaluate_step(&mut self, plugin: &FunctionCall) -> Step {
        let name = plugin.name.name.as_str();
        match (name, plugin.args.first()) {
            ("bag_unpack", Some(arg)) => Step::new(
                StepKind::Extract,
                format!(
                    "unpack the properties of {} into columns of their own",
                    self.phrase(&arg.value)
                ),
            ),
            _ => Step::new(
                StepKind::Other,
                format!("run the {name} plugin: {}", self.text(plugin.span)),
            ),
        }
    }

    // ---- expressions -----------------------------------------------------------------------

    /// A column by name: the query's own columns as written, source columns in words.
    fn column_ref(&self, name: &str) -> String {
        match self.columns.get(name) {
            Some(Origin::Extracted(Some(friendly))) if humanize(name) != *friendly => {
                format!("{name} ({friendly})")
            }
            Some(_) => name.to_string(),
            None => match self.scalars.get(name) {
                // A let-bound constant shows its value: "deltaBetweenInviteEscalation (60)".
                Some(Expr {
                    kind: ExprKind::Literal(literal),
                    ..
                }) => format!("{name} ({})", words::literal(literal)),
                Some(_) => name.to_string(),
                None if self.tabular_lets.contains(name) || self.params.contains(name) => {
                    name.to_string()
                }
                None => humanize(name),
            },
        }
    }

    /// A condition in words.
    fn predicate(&mut self, expr: &Expr) -> String {
        match &strip_parens(expr).kind {
            // A true/false column reads best by its name: "IsAdmin is true".
            ExprKind::Name(ident) if !self.scalars.contains_key(&ident.name) => {
                format!("{} is true", ident.name)
            }
            ExprKind::Name(_) | ExprKind::Member { .. } | ExprKind::Index { .. } => {
                format!("{} is true", self.phrase(expr))
            }
            _ => self.phrase(expr),
        }
    }

    /// An expression in words. Unknown constructs are quoted as code.
    fn phrase(&mut self, expr: &Expr) -> String {
        if self.depth >= MAX_DEPTH {
            return self.text(expr.span);
        }
        self.depth += 1;
        let text = self.phrase_inner(expr);
        self.depth -= 1;
        text
    }

    fn phrase_inner(&mut self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Literal(literal) => words::literal(literal),
            ExprKind::Name(ident) => self.column_ref(&ident.name),
            ExprKind::Star => "all columns".to_string(),
            ExprKind::Paren(inner) => match &inner.kind {
                ExprKind::Binary { op, .. } if op.value == BinaryOp::Or => {
                    format!("({})", self.phrase(inner))
                }
                _ => self.phrase(inner),
            },
            ExprKind::Member { target, member } => {
                if let ExprKind::Name(side) = &target.kind
                    && (side.name == "$left" || side.name == "$right")
                {
                    return format!("{} ({} side)", member.name, &side.name[1..]);
                }
                format!("the {} field of {}", member.name, self.phrase(target))
            }
            ExprKind::Index { target, index } => match &index.kind {
                ExprKind::Literal(Literal {
                    kind: LiteralKind::String(key),
                    ..
                }) => format!("the {key} field of {}", self.phrase(target)),
                ExprKind::Literal(Literal {
                    kind: LiteralKind::Long(i) | LiteralKind::Int(i),
                    ..
                }) => format!("element {i} of {}", self.phrase(target)),
                _ => format!(
                    "the element {} of {}",
                    self.phrase(index),
                    self.phrase(target)
                ),
            },
            ExprKind::Call(call) => self.call_phrase(call),
            ExprKind::MethodCall { .. } | ExprKind::TypeOf(_) | ExprKind::List(_) => {
                self.text(expr.span)
            }
            ExprKind::Unary { op, operand } => match op.value {
                UnaryOp::Neg => format!("minus {}", self.phrase(operand)),
                UnaryOp::Plus => self.phrase(operand),
            },
            ExprKind::Binary { op, left, right } => self.binary_phrase(op.value, left, right),
            ExprKind::InList { op, value, list } => {
                let (verb, ignores_case) = words::list_op(op.value);
                let value = self.phrase(value);
                let list = self.list_phrase(list);
                let case = if ignores_case { ", ignoring case" } else { "" };
                format!("{value} {verb} {list}{case}")
            }
            ExprKind::Between {
                value,
                negated,
                low,
                high,
            } => format!(
                "{} is {}between {} and {}",
                self.phrase(value),
                if *negated { "not " } else { "" },
                self.phrase(low),
                self.phrase(high)
            ),
            ExprKind::Tabular(tabular) => format!("the result of {}", self.text(tabular.span)),
        }
    }

    fn binary_phrase(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> String {
        match op {
            BinaryOp::And => format!("{} and {}", self.predicate(left), self.predicate(right)),
            BinaryOp::Or => format!("{} or {}", self.predicate(left), self.predicate(right)),
            _ => {
                if let Some(word) = words::arithmetic(op) {
                    return format!("{} {word} {}", self.phrase(left), self.phrase(right));
                }
                let Some(comparison) = words::comparison(op) else {
                    return self.text(left.span.to(right.span));
                };
                let mut text = format!(
                    "{} {} {}",
                    self.phrase(left),
                    comparison.verb,
                    self.phrase(right)
                );
                if comparison.ignores_case {
                    text.push_str(", ignoring case");
                } else if comparison.case_sensitive_form {
                    text.push_str(" (case-sensitive)");
                }
                text
            }
        }
    }

    fn list_phrase(&mut self, list: &[Expr]) -> String {
        if let [single] = list {
            match &single.kind {
                ExprKind::Tabular(tabular) => {
                    return format!("the values returned by {}", self.text(tabular.span));
                }
                ExprKind::Name(ident)
                    if self.tabular_lets.contains(&ident.name)
                        || self.scalars.contains_key(&ident.name) =>
                {
                    return format!("the values in {}", ident.name);
                }
                _ => {}
            }
        }
        let items: Vec<String> = list.iter().map(|e| self.phrase(e)).collect();
        format!("({})", words::cut(&items.join(", ")))
    }

    fn call_phrase(&mut self, call: &FunctionCall) -> String {
        let name = call.name.name.as_str();
        if is_aggregate_function(name) {
            return self.aggregate_phrase(call);
        }
        let args: Vec<&Expr> = call.args.iter().map(|a| &a.value).collect();
        match (name, args.as_slice()) {
            ("ago", [span]) => format!("{} ago", self.duration_phrase(span)),
            ("now", []) => "now".to_string(),
            ("tostring", [e]) => {
                let inner = self.phrase(e);
                if inner.ends_with(", as text") {
                    inner
                } else {
                    format!("{inner}, as text")
                }
            }
            ("toint" | "tolong" | "toreal" | "todouble" | "todecimal", [e]) => {
                format!("{}, as a number", self.phrase(e))
            }
            ("todatetime", [e]) => format!("{}, as a date and time", self.phrase(e)),
            ("tobool" | "toboolean", [e]) => format!("{}, as true/false", self.phrase(e)),
            ("parse_json" | "todynamic" | "parsejson", [e]) => {
                // `parse_json(tostring(x))` is the JSON in x: the cast only feeds the parser.
                let inner = match &strip_parens(e).kind {
                    ExprKind::Call(cast)
                        if cast.name.name == "tostring" && cast.args.len() == 1 =>
                    {
                        &cast.args[0].value
                    }
                    _ => *e,
                };
                format!("the JSON in {}", self.phrase(inner))
            }
            ("tolower", [e]) => format!("{} in lower case", self.phrase(e)),
            ("toupper", [e]) => format!("{} in upper case", self.phrase(e)),
            ("startofday", [e]) => format!("the start of the day of {}", self.phrase(e)),
            ("startofweek", [e]) => format!("the start of the week of {}", self.phrase(e)),
            ("startofmonth", [e]) => format!("the start of the month of {}", self.phrase(e)),
            ("bin" | "floor", [e, size]) => format!(
                "{} rounded down to a multiple of {}",
                self.phrase(e),
                self.phrase(size)
            ),
            ("isempty", [e]) => format!("{} is empty", self.phrase(e)),
            ("isnotempty", [e]) => format!("{} is not empty", self.phrase(e)),
            ("isnull", [e]) => format!("{} is null", self.phrase(e)),
            ("isnotnull", [e]) => format!("{} is not null", self.phrase(e)),
            ("not", [e]) => format!("not ({})", self.phrase(e)),
            ("strlen", [e]) => format!("the length of {}", self.phrase(e)),
            ("array_length", [e]) => format!("the number of elements of {}", self.phrase(e)),
            ("iff" | "iif", [condition, then, otherwise]) => format!(
                "{} if {}, otherwise {}",
                self.phrase(then),
                self.phrase(condition),
                self.phrase(otherwise)
            ),
            ("coalesce", items) if !items.is_empty() => {
                let items: Vec<String> = items.iter().map(|e| self.phrase(e)).collect();
                format!("the first non-empty of {}", words::or_list(&items))
            }
            ("strcat", items) if !items.is_empty() => {
                let items: Vec<String> = items.iter().map(|e| self.phrase(e)).collect();
                format!(
                    "the text {} joined together",
                    words::cut(&items.join(" + "))
                )
            }
            ("extract", [regex, group, e, ..]) => format!(
                "the text captured by group {} of the regular expression {} in {}",
                self.phrase(group),
                self.phrase(regex),
                self.phrase(e)
            ),
            ("split", [e, delimiter]) => {
                format!("{} split at {}", self.phrase(e), self.phrase(delimiter))
            }
            ("datetime_diff", [part, a, b]) => format!(
                "the number of {}s from {} to {}",
                self.phrase(part),
                self.phrase(b),
                self.phrase(a)
            ),
            _ => self.text(call.span),
        }
    }
}

fn patterns(columns: &[NamePattern]) -> String {
    let names: Vec<String> = columns.iter().map(|c| c.pattern.clone()).collect();
    words::and_list(&names)
}

fn strip_parens(mut expr: &Expr) -> &Expr {
    while let ExprKind::Paren(inner) = &expr.kind {
        expr = inner;
    }
    expr
}

fn split_and<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &strip_parens(expr).kind {
        ExprKind::Binary { op, left, right } if op.value == BinaryOp::And => {
            split_and(left, out);
            split_and(right, out);
        }
        _ => out.push(expr),
    }
}

fn is_now(expr: &Expr) -> bool {
    matches!(&expr.kind, ExprKind::Call(call) if call.name.name == "now" && call.args.is_empty())
}

/// The comparison seen from the other side: `ago(1d) < T` is `T > ago(1d)`.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

fn is_boolean(expr: &Expr) -> bool {
    match &strip_parens(expr).kind {
        ExprKind::Binary { op, .. } => {
            words::comparison(op.value).is_some()
                || matches!(op.value, BinaryOp::And | BinaryOp::Or)
        }
        ExprKind::InList { .. } | ExprKind::Between { .. } => true,
        ExprKind::Literal(Literal {
            kind: LiteralKind::Bool(_),
            ..
        }) => true,
        ExprKind::Call(call) => matches!(
            call.name.name.as_str(),
            "isempty" | "isnotempty" | "isnull" | "isnotnull" | "not" | "tobool" | "toboolean"
        ),
        _ => false,
    }
}

/// Reads a field out of a value: a JSON member or element, `extract`, `parse_json`, `split`...
fn is_extraction(expr: &Expr) -> bool {
    match &strip_parens(expr).kind {
        ExprKind::Member { .. } | ExprKind::Index { .. } => true,
        ExprKind::Call(call) => {
            matches!(
                call.name.name.as_str(),
                "extract"
                    | "extract_all"
                    | "extractjson"
                    | "extract_json"
                    | "parse_json"
                    | "parsejson"
                    | "todynamic"
                    | "split"
                    | "parse_url"
                    | "parse_path"
                    | "parse_urlquery"
                    | "parse_user_agent"
                    | "parse_ipv4"
                    | "parse_ipv6"
                    | "parse_xml"
                    | "bag_keys"
            ) || call.args.iter().any(|a| is_extraction(&a.value))
        }
        _ => false,
    }
}

/// `tostring(parse_json(ServicePrincipal).Name)` -> "service principal name": a member path
/// under a column names the field it extracts.
fn friendly_extraction(expr: &Expr) -> Option<String> {
    let mut expr = strip_parens(expr);
    let mut path = Vec::new();
    loop {
        match &expr.kind {
            ExprKind::Call(call)
                if call.args.len() == 1
                    && matches!(
                        call.name.name.as_str(),
                        "tostring"
                            | "toint"
                            | "tolong"
                            | "toreal"
                            | "todouble"
                            | "todatetime"
                            | "tobool"
                            | "toguid"
                            | "parse_json"
                            | "parsejson"
                            | "todynamic"
                    ) =>
            {
                expr = strip_parens(&call.args[0].value);
            }
            ExprKind::Member { target, member } => {
                path.push(humanize(&member.name));
                expr = strip_parens(target);
            }
            ExprKind::Index { target, index } => {
                if let ExprKind::Literal(Literal {
                    kind: LiteralKind::String(key),
                    ..
                }) = &index.kind
                {
                    path.push(humanize(key));
                }
                expr = strip_parens(target);
            }
            ExprKind::Name(ident) if !path.is_empty() => {
                path.push(humanize(&ident.name));
                path.reverse();
                return Some(path.join(" "));
            }
            _ => return None,
        }
    }
}

/// The name Kusto gives an unnamed column: `count_`, `dcount_TargetIdentity`, or the column
/// itself for a plain reference.
fn implicit_name(expr: &Expr) -> String {
    match &strip_parens(expr).kind {
        ExprKind::Name(ident) => ident.name.clone(),
        ExprKind::Call(call) => match call.args.first().map(|a| &strip_parens(&a.value).kind) {
            Some(ExprKind::Name(ident)) => format!("{}_{}", call.name.name, ident.name),
            _ => format!("{}_", call.name.name),
        },
        ExprKind::Member { member, .. } => member.name.clone(),
        _ => "Column1".to_string(),
    }
}

fn column_name(column: &NamedExpr, source: &str) -> String {
    if column.names.is_empty() {
        match &strip_parens(&column.expr).kind {
            ExprKind::Name(ident) => ident.name.clone(),
            _ => words::code(column.expr.span.text(source)),
        }
    } else {
        column
            .names
            .iter()
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests;
