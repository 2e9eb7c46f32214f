//! `goshawk rules lint`: checks detection content without running it. Each rule's query is
//! parsed (diagnostics point at the rule file's line and column) and planned against table
//! schemas: the ones compiled into goshawk, schema files in the shared corpus format, and a
//! lake's tables; its metadata is checked for what a hunt relies on (ids, severities, MITRE
//! tactic and technique ids, schedules, entity mappings, the ML job a rule names).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use datafusion::datasource::MemTable;
use goshawk_kql_engine::catalog::{Catalog, KustoColumn, TableRef};
use goshawk_kql_engine::session::{QueryEngine, QueryError};
use goshawk_kql_syntax::walk::summarize_query;
use goshawk_kql_syntax::{Diagnostic, check_query_shape, parse_query};
use goshawk_types::KustoType;
use serde::Serialize;

use crate::elastic::ElasticRule;
use crate::embedded::{QueryLocation, RuleFormat, extract_query};
use crate::load::{LoadedRule, RuleDocument, load_str};
use crate::sentinel::SentinelRule;

/// How much a problem matters: an error keeps the rule from running as written; a warning is
/// metadata a hunt report will lack or show wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LintLevel {
    Warning,
    Error,
}

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintProblem {
    pub path: PathBuf,
    /// 1-based position in the file, where known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub level: LintLevel,
    /// A stable name for the kind of problem: `load`, `parse`, `unknown-table`, `plan`,
    /// `metadata`, `entity-column`, `ml-job`.
    pub code: &'static str,
    pub message: String,
    /// The rule's id, when the file loaded far enough to have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
}

impl std::fmt::Display for LintProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let level = match self.level {
            LintLevel::Warning => "warning",
            LintLevel::Error => "error",
        };
        write!(f, ": {level}[{}]: {}", self.code, self.message)
    }
}

/// Why schema files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: table '{table}', column '{column}': unknown type '{ty}'")]
    UnknownType {
        path: PathBuf,
        table: String,
        column: String,
        ty: String,
    },
}

/// Table schemas to plan against, without data: each table is an empty in-memory table built
/// when the planner asks for it, so hundreds of schemas cost nothing until used.
#[derive(Debug, Clone, Default)]
pub struct SchemaCatalog {
    tables: BTreeMap<String, Vec<KustoColumn>>,
}

impl SchemaCatalog {
    /// The schemas compiled into goshawk (the tables it ingests, as stored in the lake).
    pub fn builtin() -> SchemaCatalog {
        let mut catalog = SchemaCatalog::default();
        for table in goshawk_types::ingested_tables() {
            catalog.tables.insert(
                table.name.to_string(),
                table
                    .lake_columns()
                    .map(|(name, ty)| KustoColumn::new(name, ty))
                    .collect(),
            );
        }
        catalog
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Adds the schemas of every `.json` file in `dir` (not recursive) in the shared corpus
    /// formats; files in neither format (e.g. function signatures) are skipped and returned.
    /// Tables already known keep their schema: the compiled-in ones win over the corpus's.
    pub fn add_schema_dir(&mut self, dir: &Path) -> Result<Vec<PathBuf>, SchemaError> {
        let io = |source| SchemaError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        files.retain(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        });
        files.sort();
        let mut skipped = Vec::new();
        for file in files {
            if self.add_schema_file(&file)? == 0 {
                skipped.push(file);
            }
        }
        Ok(skipped)
    }

    /// Adds the schemas in one file: either one table, `{"table": NAME, "columns": [{"name",
    /// "type"}, ...]}`, or many, `{NAME: [{"name", "type"}, ...], ...}`. Returns how many tables
    /// the file describes (0 for a JSON file in another format).
    pub fn add_schema_file(&mut self, path: &Path) -> Result<usize, SchemaError> {
        let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| SchemaError::Json {
                path: path.to_path_buf(),
                line: err.line(),
                column: err.column(),
                message: err.to_string(),
            })?;
        let mut found: Vec<(String, &Vec<serde_json::Value>)> = Vec::new();
        if let (Some(name), Some(columns)) = (
            value.get("table").and_then(|t| t.as_str()),
            value.get("columns").and_then(|c| c.as_array()),
        ) {
            found.push((name.to_string(), columns));
        } else if let Some(object) = value.as_object() {
            for (name, columns) in object {
                match columns.as_array() {
                    Some(columns) if columns.iter().all(is_column) => {
                        found.push((name.clone(), columns));
                    }
                    _ => return Ok(0),
                }
            }
        }
        let count = found.len();
        for (table, columns) in found {
            let mut typed = Vec::with_capacity(columns.len());
            for column in columns {
                let (Some(name), Some(ty)) = (
                    column.get("name").and_then(|n| n.as_str()),
                    column.get("type").and_then(|t| t.as_str()),
                ) else {
                    continue;
                };
                let ty = KustoType::from_str(ty).map_err(|_| SchemaError::UnknownType {
                    path: path.to_path_buf(),
                    table: table.clone(),
                    column: name.to_string(),
                    ty: ty.to_string(),
                })?;
                typed.push(KustoColumn::new(name, ty));
            }
            // Log Analytics gives every table its standard columns; schema files taken from
            // connector stubs often leave them out.
            for (name, ty) in STANDARD_COLUMNS {
                if !typed.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                    typed.push(KustoColumn::new(name, ty));
                }
            }
            self.tables.entry(table).or_insert(typed);
        }
        Ok(count)
    }
}

/// The standard columns of every Log Analytics table ("Standard columns in Azure Monitor
/// Logs"), less `_ResourceId` and `_SubscriptionId`: parsers in the corpus rename their own
/// resource id columns onto those names, which Microsoft's validation schemas allowed.
const STANDARD_COLUMNS: [(&str, KustoType); 7] = [
    ("TenantId", KustoType::String),
    ("TimeGenerated", KustoType::DateTime),
    ("_TimeReceived", KustoType::DateTime),
    ("Type", KustoType::String),
    ("_ItemId", KustoType::String),
    ("_IsBillable", KustoType::String),
    ("_BilledSize", KustoType::Real),
];

fn is_column(value: &serde_json::Value) -> bool {
    value.get("name").is_some_and(|n| n.is_string())
        && value.get("type").is_some_and(|t| t.is_string())
}

impl Catalog for SchemaCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        let columns = self.tables.get(name)?;
        let schema = goshawk_types::arrow_schema(columns.iter().map(|c| (c.name.as_str(), c.ty)));
        let provider = MemTable::try_new(schema, vec![Vec::new()]).ok()?;
        Some(TableRef {
            name: name.to_string(),
            provider: Arc::new(provider),
            columns: columns.clone(),
        })
    }

    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }
}

/// What became of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryCheck {
    /// It plans; these are its output columns.
    Plans(Vec<String>),
    /// It does not parse.
    Parse(Diagnostic),
    /// It reads tables (or calls functions in table position) that have no schema.
    UnknownTables(Vec<String>),
    /// It parses but does not plan.
    Plan(Diagnostic),
}

/// Checks rules against a catalog of table schemas.
pub struct Linter<'a> {
    catalog: &'a dyn Catalog,
    /// One engine for every query: building its session is far dearer than planning.
    engine: QueryEngine<'a>,
    /// ML job ids that a `machine_learning` rule may name.
    known_jobs: BTreeSet<String>,
}

/// Planning needs an instant for `now()` and `ago()`; linting does not depend on which.
const LINT_NOW_NANOS: i64 = 1_767_225_600_000_000_000;

impl<'a> Linter<'a> {
    pub fn new(catalog: &'a dyn Catalog) -> Linter<'a> {
        Linter {
            catalog,
            engine: QueryEngine::new(catalog, LINT_NOW_NANOS),
            known_jobs: BTreeSet::new(),
        }
    }

    /// Declares the ML jobs that are loaded (built in, or among the linted files).
    pub fn with_jobs(mut self, jobs: impl IntoIterator<Item = String>) -> Linter<'a> {
        self.known_jobs.extend(jobs);
        self
    }

    /// Parses and plans one query. Names in table position that neither the catalog nor a
    /// `let` in the query defines are reported before planning, so that a missing schema is
    /// told apart from a query the engine cannot plan.
    pub fn check_query(&self, text: &str) -> QueryCheck {
        let ast = match parse_query(text).and_then(|ast| check_query_shape(&ast).map(|()| ast)) {
            Ok(ast) => ast,
            Err(diagnostic) => return QueryCheck::Parse(diagnostic),
        };
        let known = self.catalog.table_names();
        let missing: Vec<String> = summarize_query(&ast)
            .tables
            .into_iter()
            .filter(|name| !name.contains('*') && !known.iter().any(|k| k == name))
            .collect();
        if !missing.is_empty() {
            return QueryCheck::UnknownTables(missing);
        }
        match self.engine.plan(text) {
            Ok(planned) => QueryCheck::Plans(planned.columns.into_iter().map(|c| c.name).collect()),
            Err(QueryError::Plan(diagnostic)) => QueryCheck::Plan(diagnostic),
            Err(QueryError::Execution(err)) => QueryCheck::Plan(Diagnostic::new(
                err.strip_backtrace(),
                goshawk_kql_syntax::Span::new(0, 0),
            )),
        }
    }

    /// Lints one content file given its text; `origin` names it and chooses its format.
    pub fn lint_source(&self, origin: &Path, text: &str) -> Vec<LintProblem> {
        let rule = match load_str(origin, text) {
            Ok(rule) => rule,
            Err(err) => {
                return vec![LintProblem {
                    path: origin.to_path_buf(),
                    line: err.line,
                    column: err.column,
                    level: LintLevel::Error,
                    code: "load",
                    message: err.reason,
                    rule_id: None,
                }];
            }
        };
        let mut out = Problems {
            path: origin,
            text,
            rule_id: rule.id().to_string(),
            problems: Vec::new(),
        };
        match &rule.document {
            RuleDocument::Sentinel(sentinel) => self.lint_sentinel(sentinel, &mut out),
            RuleDocument::Elastic(file) => self.lint_elastic(&file.rule, &mut out),
            RuleDocument::MlJob(job) => {
                if job.analysis_config.detectors.is_empty() {
                    out.metadata(None, "an ML job needs at least one detector".into());
                }
            }
            RuleDocument::Datafeed(feed) => {
                if let Some(kql) = &feed.kql {
                    self.lint_query_text(kql, None, &mut out);
                }
            }
        }
        out.problems
    }

    /// Lints a loaded rule, reading its file again for positions.
    pub fn lint_file(&self, rule: &LoadedRule) -> Vec<LintProblem> {
        match std::fs::read_to_string(&rule.path) {
            Ok(text) => self.lint_source(&rule.path, &text),
            Err(err) => vec![LintProblem {
                path: rule.path.clone(),
                line: None,
                column: None,
                level: LintLevel::Error,
                code: "load",
                message: format!("cannot read: {err}"),
                rule_id: Some(rule.id().to_string()),
            }],
        }
    }

    fn lint_sentinel(&self, rule: &SentinelRule, out: &mut Problems<'_>) {
        for (field, value) in [("id", &rule.id), ("name", &rule.name)] {
            if value.trim().is_empty() {
                out.metadata(Some(field), format!("missing `{field}`"));
            }
        }
        match rule.severity.as_deref() {
            None => out.metadata(None, "missing `severity`".into()),
            Some("Informational" | "Low" | "Medium" | "High") => {}
            Some(other) => out.metadata(
                Some("severity"),
                format!("severity '{other}' is not Informational, Low, Medium or High"),
            ),
        }
        for tactic in &rule.tactics {
            if !SENTINEL_TACTICS.contains(&tactic.as_str()) {
                out.metadata(
                    Some("tactics"),
                    format!(
                        "unknown tactic '{tactic}' (expected one of {})",
                        SENTINEL_TACTICS.join(", ")
                    ),
                );
            }
        }
        for technique in &rule.relevant_techniques {
            if !is_technique_id(technique) {
                out.metadata(
                    Some("relevantTechniques"),
                    format!(
                        "'{technique}' is not a MITRE ATT&CK technique id (T1234 or T1234.001)"
                    ),
                );
            }
        }
        if rule.is_analytic_rule() {
            let frequency =
                self.duration_field(rule.query_frequency.as_deref(), "queryFrequency", out);
            let period = self.duration_field(rule.query_period.as_deref(), "queryPeriod", out);
            if let (Some(frequency), Some(period)) = (frequency, period)
                && frequency > period
            {
                out.metadata(
                    Some("queryFrequency"),
                    format!(
                        "queryFrequency {} is longer than queryPeriod {}: events between runs are never looked at",
                        rule.query_frequency.as_deref().unwrap_or_default(),
                        rule.query_period.as_deref().unwrap_or_default()
                    ),
                );
            }
            match rule.trigger_operator.as_deref() {
                None => out.metadata(None, "an analytic rule needs `triggerOperator`".into()),
                Some(op)
                    if !matches!(
                        op.to_ascii_lowercase().as_str(),
                        "gt" | "lt"
                            | "eq"
                            | "ne"
                            | "greaterthan"
                            | "lessthan"
                            | "equal"
                            | "notequal"
                    ) =>
                {
                    out.metadata(
                        Some("triggerOperator"),
                        format!("unknown trigger operator '{op}'"),
                    )
                }
                Some(_) => {}
            }
            if rule.trigger_threshold.is_none() {
                out.metadata(None, "an analytic rule needs `triggerThreshold`".into());
            }
        }
        let columns = self.lint_query_file(RuleFormat::SentinelYaml, out);
        if let Some(columns) = columns {
            let mut referenced: Vec<(&str, &str)> = rule
                .entity_mappings
                .iter()
                .flat_map(|m| &m.field_mappings)
                .map(|f| ("entityMappings", f.column_name.as_str()))
                .collect();
            referenced.extend(
                rule.custom_details
                    .values()
                    .map(|c| ("customDetails", c.as_str())),
            );
            for (field, column) in referenced {
                if !columns.iter().any(|c| c == column) {
                    out.push(
                        out.key_line(field),
                        LintLevel::Error,
                        "entity-column",
                        format!("{field} names column '{column}', which the query does not return"),
                    );
                }
            }
        }
    }

    fn lint_elastic(&self, rule: &ElasticRule, out: &mut Problems<'_>) {
        match rule.severity.as_deref() {
            None => out.metadata(None, "missing `severity`".into()),
            Some("low" | "medium" | "high" | "critical") => {}
            Some(other) => out.metadata(
                Some("severity"),
                format!("severity '{other}' is not low, medium, high or critical"),
            ),
        }
        if rule.risk_score.is_some_and(|score| score > 100) {
            out.metadata(Some("risk_score"), "risk_score must be 0 to 100".into());
        }
        for threat in &rule.threat {
            if !is_tactic_id(&threat.tactic.id) {
                out.metadata(
                    Some("id"),
                    format!(
                        "'{}' is not a MITRE ATT&CK tactic id (TA0001)",
                        threat.tactic.id
                    ),
                );
            }
            for technique in &threat.technique {
                let ids = std::iter::once(&technique.id)
                    .chain(technique.subtechnique.iter().map(|s| &s.id));
                for id in ids {
                    if !is_technique_id(id) {
                        out.metadata(
                            Some("id"),
                            format!(
                                "'{id}' is not a MITRE ATT&CK technique id (T1234 or T1234.001)"
                            ),
                        );
                    }
                }
            }
        }
        for (field, value) in [("interval", &rule.interval)] {
            if let Some(value) = value
                && parse_duration(value).is_none()
            {
                out.metadata(
                    Some(field),
                    format!("'{value}' is not a duration such as 5m or 1h"),
                );
            }
        }
        if let Some(from) = &rule.from
            && from.strip_prefix("now-").and_then(parse_duration).is_none()
        {
            out.metadata(
                Some("from"),
                format!("'{from}' is not of the form now-<duration>"),
            );
        }
        if rule.rule_type == "machine_learning" {
            let jobs = rule
                .machine_learning_job_id
                .as_ref()
                .map(|j| j.to_vec())
                .unwrap_or_default();
            if jobs.is_empty() {
                out.metadata(
                    None,
                    "a machine_learning rule needs `machine_learning_job_id`".into(),
                );
            }
            for job in jobs {
                if !self.known_jobs.contains(&job) {
                    out.push(
                        out.key_line("machine_learning_job_id"),
                        LintLevel::Error,
                        "ml-job",
                        format!("ML job '{job}' is not loaded (not built in and not among the linted files)"),
                    );
                }
            }
            if rule.anomaly_threshold.is_none() {
                out.metadata(
                    None,
                    "a machine_learning rule needs `anomaly_threshold`".into(),
                );
            }
        } else {
            self.lint_query_file(RuleFormat::ElasticToml, out);
        }
    }

    fn duration_field(
        &self,
        value: Option<&str>,
        field: &str,
        out: &mut Problems<'_>,
    ) -> Option<u64> {
        let Some(value) = value else {
            out.metadata(None, format!("an analytic rule needs `{field}`"));
            return None;
        };
        let seconds = parse_duration(value);
        if seconds.is_none() {
            out.metadata(
                Some(field),
                format!("'{value}' is not a duration such as 5m, 1h or 14d"),
            );
        }
        seconds
    }

    /// Extracts the file's query with its position and checks it; the output columns if it
    /// plans.
    fn lint_query_file(&self, format: RuleFormat, out: &mut Problems<'_>) -> Option<Vec<String>> {
        let query = match extract_query(format, out.text) {
            Ok(Ok(query)) => query,
            // A rule type without a KQL query (e.g. Elastic `kuery`): nothing to plan.
            Ok(Err(_)) => return None,
            Err(err) => {
                let (line, column) = err
                    .position()
                    .map_or((None, None), |(l, c)| (Some(l), Some(c)));
                out.problems.push(LintProblem {
                    path: out.path.to_path_buf(),
                    line,
                    column,
                    level: LintLevel::Error,
                    code: "parse",
                    message: err.to_string(),
                    rule_id: Some(out.rule_id.clone()),
                });
                return None;
            }
        };
        self.lint_query_text(&query.text, Some(query.location), out)
    }

    fn lint_query_text(
        &self,
        text: &str,
        location: Option<QueryLocation>,
        out: &mut Problems<'_>,
    ) -> Option<Vec<String>> {
        let at = |diagnostic: &Diagnostic| {
            let position = diagnostic.line_col(text);
            match location {
                Some(QueryLocation::Exact { first_line, indent }) => (
                    Some(position.line + first_line - 1),
                    Some(position.column + indent),
                    String::new(),
                ),
                Some(QueryLocation::KeyLine { line }) => (
                    Some(line),
                    None,
                    format!(
                        " (query line {}, column {})",
                        position.line, position.column
                    ),
                ),
                None => (
                    None,
                    None,
                    format!(
                        " (query line {}, column {})",
                        position.line, position.column
                    ),
                ),
            }
        };
        let (code, diagnostic) = match self.check_query(text) {
            QueryCheck::Plans(columns) => return Some(columns),
            QueryCheck::UnknownTables(tables) => {
                let line = location.map(|l| match l {
                    QueryLocation::Exact { first_line, .. } => first_line,
                    QueryLocation::KeyLine { line } => line,
                });
                out.push(
                    line,
                    LintLevel::Error,
                    "unknown-table",
                    format!(
                        "no schema for {}: give a schema directory (--schemas) or a lake that has it (--data)",
                        tables
                            .iter()
                            .map(|t| format!("'{t}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                return None;
            }
            QueryCheck::Parse(diagnostic) => ("parse", diagnostic),
            QueryCheck::Plan(diagnostic) => ("plan", diagnostic),
        };
        let (line, column, suffix) = at(&diagnostic);
        out.problems.push(LintProblem {
            path: out.path.to_path_buf(),
            line,
            column,
            level: LintLevel::Error,
            code,
            message: format!("{}{suffix}", diagnostic.message),
            rule_id: Some(out.rule_id.clone()),
        });
        None
    }
}

/// Problems of one file, with what is needed to place them.
struct Problems<'t> {
    path: &'t Path,
    text: &'t str,
    rule_id: String,
    problems: Vec<LintProblem>,
}

impl Problems<'_> {
    fn push(&mut self, line: Option<usize>, level: LintLevel, code: &'static str, message: String) {
        self.problems.push(LintProblem {
            path: self.path.to_path_buf(),
            line,
            column: None,
            level,
            code,
            message,
            rule_id: Some(self.rule_id.clone()),
        });
    }

    /// A metadata problem at the line of `key`, when the file has that key.
    fn metadata(&mut self, key: Option<&str>, message: String) {
        let line = key.and_then(|k| self.key_line(k));
        self.push(line, LintLevel::Error, "metadata", message);
    }

    /// The first line that starts (after indentation) with `key:` or `key =`.
    fn key_line(&self, key: &str) -> Option<usize> {
        self.text
            .lines()
            .position(|line| {
                let rest = line.trim_start();
                rest.strip_prefix(key).is_some_and(|after| {
                    let after = after.trim_start();
                    after.starts_with(':') || after.starts_with('=')
                })
            })
            .map(|index| index + 1)
    }
}

/// The tactic names Sentinel accepts in `tactics`.
pub const SENTINEL_TACTICS: [&str; 17] = [
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "CommandAndControl",
    "Exfiltration",
    "Impact",
    "PreAttack",
    "ImpairProcessControl",
    "InhibitResponseFunction",
];

/// `T1234` or `T1234.001`.
pub fn is_technique_id(id: &str) -> bool {
    let Some(digits) = id.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = match digits.split_once('.') {
        Some((main, sub)) => (main, Some(sub)),
        None => (digits, None),
    };
    let all_digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(main, 4) && sub.is_none_or(|s| all_digits(s, 3))
}

fn is_tactic_id(id: &str) -> bool {
    id.strip_prefix("TA")
        .is_some_and(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Seconds in a Sentinel or Elastic duration: a whole number and one of `s`, `m`, `h`, `d`
/// (Sentinel also writes ISO 8601 such as `PT1H` and `P14D`).
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(iso) = text.strip_prefix('P') {
        let (days, time) = iso.split_once('T').unwrap_or((iso, ""));
        let mut seconds = 0u64;
        if !days.is_empty() {
            seconds += days.strip_suffix('D')?.parse::<u64>().ok()? * 86_400;
        }
        let mut number = String::new();
        for ch in time.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = match ch {
                'H' => 3_600,
                'M' => 60,
                'S' => 1,
                _ => return None,
            };
            seconds += std::mem::take(&mut number).parse::<u64>().ok()? * unit;
        }
        return (number.is_empty() && !iso.is_empty()).then_some(seconds);
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    Some(number.parse::<u64>().ok()? * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("14d"), Some(14 * 86_400));
        assert_eq!(parse_duration("PT1H"), Some(3_600));
        assert_eq!(parse_duration("P1DT2H"), Some(93_600));
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("P"), None);
    }

    #[test]
    fn schema_files_in_both_corpus_formats_gain_the_standard_columns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("one.json"),
            r#"{"table": "Widgets_CL", "columns": [{"name": "Widget", "type": "string"}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("many.json"),
            r#"{"Gadgets": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Size", "type": "long"}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("functions.json"),
            r#"{"f": {"parameters": []}}"#,
        )
        .unwrap();
        let mut catalog = SchemaCatalog::default();
        let skipped = catalog.add_schema_dir(dir.path()).unwrap();
        assert_eq!(skipped, [dir.path().join("functions.json")]);
        assert_eq!(catalog.table_names(), ["Gadgets", "Widgets_CL"]);
        let widgets = catalog.table("Widgets_CL").unwrap();
        assert!(
            widgets
                .columns
                .iter()
                .any(|c| c.name == "TimeGenerated" && c.ty == KustoType::DateTime)
        );
        let linter = Linter::new(&catalog);
        assert!(matches!(
            linter.check_query("Gadgets | where Size > 1 | project TimeGenerated, _ItemId"),
            QueryCheck::Plans(_)
        ));
        assert_eq!(
            linter.check_query("let T = Gadgets; T | join (Nope_CL) on Size"),
            QueryCheck::UnknownTables(vec!["Nope_CL".to_string()])
        );

        std::fs::write(
            dir.path().join("bad.json"),
            r#"{"table": "Bad", "columns": [{"name": "X", "type": "varchar"}]}"#,
        )
        .unwrap();
        let err = catalog
            .add_schema_file(&dir.path().join("bad.json"))
            .unwrap_err();
        assert!(err.to_string().contains("unknown type 'varchar'"), "{err}");
    }

    #[test]
    fn technique_ids() {
        assert!(is_technique_id("T1098"));
        assert!(is_technique_id("T1078.004"));
        assert!(!is_technique_id("T10"));
        assert!(!is_technique_id("1098"));
        assert!(!is_technique_id("T1078.4"));
    }
}
