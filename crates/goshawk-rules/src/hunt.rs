//! `goshawk hunt`: runs every applicable rule over a catalog and turns the results into
//! [`Finding`]s and a [`HuntSummary`].
//!
//! * Sentinel hunting queries run as written; every result row is a finding.
//! * Sentinel analytic rules see only `[now - queryPeriod, now]` of every table (the tables are
//!   wrapped in a `TimeGenerated` filter), their trigger (`triggerOperator`/`triggerThreshold`
//!   over the number of results) decides whether they alert, and `eventGroupingSettings` decides
//!   between one alert for all results (`SingleAlert`, Sentinel's default) and one per result.
//! * Elastic `query` rules whose language is Kusto KQL see `[from, now]` and raise one alert per
//!   result row; other Elastic rule types are skipped with the reason.
//! * Elastic `machine_learning` rules ask an [`AnomalySource`] for their job's records in
//!   `[from, now]` and raise one alert per record scoring at least `anomaly_threshold`.
//!
//! A rule whose tables are not in the catalog is skipped; one that fails to parse, plan or run
//! is reported as failed; neither stops the others. Per-row alerts are capped at the rule's
//! `max_signals` (Elastic's default of 100 when it has none; Sentinel's 150 for
//! `AlertPerResult`), and the summary lists every cap that was hit.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::Column;
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
use datafusion::scalar::ScalarValue;
use goshawk_kql_engine::catalog::{Catalog, TableRef};
use goshawk_kql_engine::format::{KustoValue, json_at, kusto_string_at, value_at};
use goshawk_kql_engine::session::{QueryEngine, QueryError, QueryResult};
use goshawk_kql_engine::time::{format_datetime, parse_timespan};
use goshawk_kql_syntax::ast::{ExprKind, OperatorKind, Query, StatementKind};
use goshawk_kql_syntax::walk::summarize_query;
use goshawk_kql_syntax::{RenderOptions, parse_query};
use serde_json::{Map, Value, json};

use crate::anomaly::{AnomalyRecord, AnomalySource};
use crate::elastic::{ElasticRule, ElasticRuleFile};
use crate::embedded::{QueryLocation, RuleFormat, extract_query};
use crate::findings::{
    CapHit, Entity, Evidence, EvidenceColumn, Finding, HuntReport, HuntSummary, RuleKind,
    RuleRecord, RuleStatus, Severity, Window,
};
use crate::load::{LoadedRule, RuleDocument, RuleLoadError};
use crate::sentinel::SentinelRule;

/// Elastic's `max_signals` when a rule sets none; also the cap on a hunting query's findings.
pub const DEFAULT_MAX_SIGNALS: usize = 100;
/// Sentinel raises at most 150 alerts per run of an `AlertPerResult` rule.
pub const SENTINEL_MAX_ALERTS_PER_RUN: usize = 150;
/// Elastic requires `anomaly_threshold`; a rule without one is read with this value.
pub const DEFAULT_ANOMALY_THRESHOLD: u32 = 50;
/// Severity of a rule that states none (most Sentinel hunting queries).
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;

/// How to run a hunt.
pub struct HuntOptions<'a> {
    /// The instant `now()`, `ago()`, query periods and `from` are relative to (Unix ns, UTC).
    pub now_nanos: i64,
    /// Runs the ML jobs behind `machine_learning` rules; without one they are skipped.
    pub anomalies: Option<&'a dyn AnomalySource>,
    /// Report machine_learning anomalies from this instant instead of the rule's own look-back
    /// (`from`). A retro-hunt over history wants every record the rule's scheduled runs would
    /// have alerted on; with a 15-minute schedule and a 2-hour look-back, each record falls in
    /// some run's window, so one run over `[since, now]` gives the same alerts.
    pub ml_since_nanos: Option<i64>,
    /// Where the rules' queries run: a session connected to a cluster; `None` runs them in
    /// this process.
    pub session: Option<datafusion::prelude::SessionContext>,
}

/// Runs every rule in `content` (ML jobs and datafeeds there are looked up by the
/// `machine_learning` rules) over `catalog`. `load_errors` are the content files that did not
/// load; they are listed in the summary.
pub async fn hunt(
    catalog: &dyn Catalog,
    content: &[LoadedRule],
    load_errors: &[RuleLoadError],
    options: &HuntOptions<'_>,
) -> HuntReport {
    let started = Instant::now();
    let mut rules: Vec<RuleMeta<'_>> = content.iter().filter_map(RuleMeta::new).collect();
    rules.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let mut findings = Vec::new();
    let mut records = Vec::new();
    let mut caps = Vec::new();
    for rule in &rules {
        let outcome = run_rule(catalog, content, rule, options).await;
        let mut record = RuleRecord {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            rule_kind: rule.kind,
            rule_source: rule.source.clone(),
            status: RuleStatus::Ran,
            results: 0,
            findings: 0,
            reason: None,
            page_html: crate::page::rule_page_html(rule.rule, content),
        };
        match outcome {
            Outcome::Ran {
                results,
                findings: mut raised,
                note,
                cap,
            } => {
                record.results = results;
                record.findings = raised.len();
                record.reason = note;
                if let Some(max_signals) = cap {
                    caps.push(CapHit {
                        rule_id: rule.id.clone(),
                        rule_name: rule.name.clone(),
                        max_signals,
                        results,
                    });
                }
                findings.append(&mut raised);
            }
            Outcome::Skipped(reason) => {
                record.status = RuleStatus::Skipped;
                record.reason = Some(reason);
            }
            Outcome::Failed(reason) => {
                record.status = RuleStatus::Failed;
                record.reason = Some(reason);
            }
        }
        records.push(record);
    }
    // Rules ran in name order, so a stable sort by severity keeps each rule's findings
    // together and in its own result order.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let summary = HuntSummary::build(
        format_datetime(options.now_nanos),
        &findings,
        records,
        caps,
        load_errors.iter().map(ToString::to_string).collect(),
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    HuntReport { findings, summary }
}

/// What a rule says about itself, in one shape for both formats.
struct RuleMeta<'a> {
    rule: &'a LoadedRule,
    id: String,
    name: String,
    kind: RuleKind,
    source: String,
    severity: Severity,
    risk_score: u32,
    tactics: Vec<String>,
    techniques: Vec<String>,
    description: String,
    guide: Option<String>,
}

impl<'a> RuleMeta<'a> {
    fn new(rule: &'a LoadedRule) -> Option<RuleMeta<'a>> {
        let source = rule.path.display().to_string();
        match &rule.document {
            RuleDocument::Sentinel(sentinel) => {
                let severity = sentinel
                    .severity
                    .as_deref()
                    .and_then(Severity::parse)
                    .unwrap_or(DEFAULT_SEVERITY);
                Some(RuleMeta {
                    rule,
                    id: sentinel.id.clone(),
                    name: sentinel.name.clone(),
                    kind: if sentinel.is_analytic_rule() {
                        RuleKind::SentinelAnalytic
                    } else {
                        RuleKind::SentinelHunting
                    },
                    source,
                    severity,
                    risk_score: severity.default_risk_score(),
                    tactics: sentinel.tactics.clone(),
                    techniques: sentinel.relevant_techniques.clone(),
                    description: sentinel.description.trim().to_string(),
                    guide: Some(sentinel.description.trim().to_string())
                        .filter(|text| !text.is_empty()),
                })
            }
            RuleDocument::Elastic(file) => {
                let elastic = &file.rule;
                let severity = elastic
                    .severity
                    .as_deref()
                    .and_then(Severity::parse)
                    .unwrap_or(DEFAULT_SEVERITY);
                let mut tactics = Vec::new();
                let mut techniques = Vec::new();
                for threat in &elastic.threat {
                    push_unique(&mut tactics, tactic_name(&threat.tactic.name));
                    for technique in &threat.technique {
                        push_unique(&mut techniques, technique.id.clone());
                        for sub in &technique.subtechnique {
                            push_unique(&mut techniques, sub.id.clone());
                        }
                    }
                }
                let kind = match elastic.rule_type.as_str() {
                    "query" => RuleKind::ElasticQuery,
                    "machine_learning" => RuleKind::ElasticMachineLearning,
                    _ => RuleKind::ElasticOther,
                };
                Some(RuleMeta {
                    rule,
                    id: elastic.rule_id.clone(),
                    name: elastic.name.clone(),
                    kind,
                    source,
                    severity,
                    risk_score: elastic
                        .risk_score
                        .unwrap_or_else(|| severity.default_risk_score()),
                    tactics,
                    techniques,
                    description: elastic.description.trim().to_string(),
                    guide: elastic
                        .note
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                })
            }
            RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => None,
        }
    }

    fn finding(&self, window: &Window, rows: &ResultRows, indices: &[usize]) -> Finding {
        let mut first: Option<i64> = None;
        let mut last: Option<i64> = None;
        for &row in indices {
            for &time in &rows.times[row] {
                first = Some(first.map_or(time, |f| f.min(time)));
                last = Some(last.map_or(time, |l| l.max(time)));
            }
        }
        let mut entities = Vec::new();
        for &row in indices {
            for entity in rows.entities(row, &self.entity_sources()) {
                if !entities.contains(&entity) {
                    entities.push(entity);
                }
            }
        }
        Finding {
            rule_id: self.id.clone(),
            rule_name: self.name.clone(),
            rule_kind: self.kind,
            rule_source: self.source.clone(),
            severity: self.severity,
            risk_score: self.risk_score,
            tactics: self.tactics.clone(),
            techniques: self.techniques.clone(),
            first_seen: first.map(format_datetime),
            last_seen: last.map(format_datetime),
            window: window.clone(),
            entities,
            evidence: Evidence {
                columns: rows.columns.clone(),
                rows: indices.iter().map(|&i| rows.values[i].clone()).collect(),
            },
            description: self.description.clone(),
            investigation_guide: self.guide.clone(),
        }
    }

    /// Sentinel entity mappings: `(entity type, identifier, column)`.
    fn entity_sources(&self) -> EntitySources {
        match &self.rule.document {
            RuleDocument::Sentinel(sentinel) if !sentinel.entity_mappings.is_empty() => {
                EntitySources::Mapped(
                    sentinel
                        .entity_mappings
                        .iter()
                        .flat_map(|m| {
                            m.field_mappings.iter().map(|f| {
                                (
                                    m.entity_type.clone(),
                                    f.identifier.clone(),
                                    f.column_name.clone(),
                                )
                            })
                        })
                        .collect(),
                )
            }
            _ => EntitySources::GroupKeys,
        }
    }
}

enum EntitySources {
    Mapped(Vec<(String, String, String)>),
    /// The keys of the query's last `summarize ... by`, as found in its result.
    GroupKeys,
}

/// MITRE tactic names as Sentinel spells them: `Defense Evasion` becomes `DefenseEvasion`.
fn tactic_name(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

enum Outcome {
    Ran {
        results: usize,
        findings: Vec<Finding>,
        note: Option<String>,
        /// `Some(max_signals)` when the cap cut the alerts.
        cap: Option<usize>,
    },
    Skipped(String),
    Failed(String),
}

async fn run_rule(
    catalog: &dyn Catalog,
    content: &[LoadedRule],
    rule: &RuleMeta<'_>,
    options: &HuntOptions<'_>,
) -> Outcome {
    match &rule.rule.document {
        RuleDocument::Sentinel(sentinel) => run_sentinel(catalog, rule, sentinel, options).await,
        RuleDocument::Elastic(file) => match rule.kind {
            RuleKind::ElasticQuery => run_elastic_query(catalog, rule, file, options).await,
            RuleKind::ElasticMachineLearning => {
                run_machine_learning(catalog, content, rule, &file.rule, options).await
            }
            _ => Outcome::Skipped(format!(
                "Elastic rule type '{}' is not supported: goshawk runs `query` rules written in \
                 Kusto KQL and `machine_learning` rules",
                file.rule.rule_type
            )),
        },
        RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => Outcome::Skipped("not a rule".into()),
    }
}

async fn run_sentinel(
    catalog: &dyn Catalog,
    rule: &RuleMeta<'_>,
    sentinel: &SentinelRule,
    options: &HuntOptions<'_>,
) -> Outcome {
    let now = options.now_nanos;
    let analytic = sentinel.is_analytic_rule();
    let start = if analytic {
        let Some(period) = sentinel.query_period.as_deref() else {
            return Outcome::Failed("analytic rule without a queryPeriod".into());
        };
        match parse_timespan(period) {
            Some(span) if span > 0 => Some(now.saturating_sub(span)),
            _ => {
                return Outcome::Failed(format!(
                    "queryPeriod '{period}' is not a positive timespan such as 1h or 14d"
                ));
            }
        }
    } else {
        None
    };
    let window = Window {
        start: start.map(format_datetime),
        end: format_datetime(now),
    };
    let rows = match run_query(catalog, rule, &sentinel.query, start, options).await {
        Ok(rows) => rows,
        Err(outcome) => return outcome,
    };
    let results = rows.len();
    if !analytic {
        return per_row(rule, &window, &rows, DEFAULT_MAX_SIGNALS, None);
    }
    let operator = sentinel.trigger_operator.as_deref().unwrap_or("gt");
    let threshold = sentinel.trigger_threshold.unwrap_or(0);
    let count = i64::try_from(results).unwrap_or(i64::MAX);
    let triggered = match operator.to_ascii_lowercase().as_str() {
        "gt" | "greaterthan" => count > threshold,
        "lt" | "lessthan" => count < threshold,
        "eq" | "equal" | "equals" => count == threshold,
        "ne" | "notequal" | "notequals" => count != threshold,
        other => {
            return Outcome::Failed(format!(
                "triggerOperator '{other}' is not one of gt, lt, eq, ne"
            ));
        }
    };
    if !triggered {
        // No results is the usual quiet run; only results that stayed under the trigger are
        // worth a note.
        return Outcome::Ran {
            results,
            findings: Vec::new(),
            note: (results > 0).then(|| {
                format!(
                    "trigger not met: {results} results, the rule alerts when the count is {operator} {threshold}"
                )
            }),
            cap: None,
        };
    }
    let per_result = sentinel
        .event_grouping_settings
        .as_ref()
        .is_some_and(|g| g.aggregation_kind.eq_ignore_ascii_case("AlertPerResult"));
    if per_result {
        per_row(rule, &window, &rows, SENTINEL_MAX_ALERTS_PER_RUN, None)
    } else {
        let all: Vec<usize> = (0..results).collect();
        let findings = if results == 0 {
            Vec::new()
        } else {
            vec![rule.finding(&window, &rows, &all)]
        };
        Outcome::Ran {
            results,
            findings,
            note: None,
            cap: None,
        }
    }
}

async fn run_elastic_query(
    catalog: &dyn Catalog,
    rule: &RuleMeta<'_>,
    file: &ElasticRuleFile,
    options: &HuntOptions<'_>,
) -> Outcome {
    let now = options.now_nanos;
    let elastic = &file.rule;
    if let Some(language) = &elastic.language
        && !matches!(language.to_ascii_lowercase().as_str(), "kql" | "kusto")
    {
        return Outcome::Skipped(format!(
            "query language '{language}' is not Kusto KQL; only `language = \"kql\"` or \
             `\"kusto\"` query rules can run"
        ));
    }
    let Some(query) = elastic.query.as_deref().filter(|q| !q.trim().is_empty()) else {
        return Outcome::Failed("query rule without a `query`".into());
    };
    let start = match elastic_window_start(elastic, now) {
        Ok(start) => start,
        Err(reason) => return Outcome::Failed(reason),
    };
    let window = Window {
        start: Some(format_datetime(start)),
        end: format_datetime(now),
    };
    match run_query(catalog, rule, query, Some(start), options).await {
        Ok(rows) => per_row(rule, &window, &rows, max_signals(elastic), None),
        Err(outcome) => outcome,
    }
}

fn max_signals(elastic: &ElasticRule) -> usize {
    elastic
        .max_signals
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(DEFAULT_MAX_SIGNALS)
}

/// The start of an Elastic rule's window from `from` (`now-2h`; Elastic date math with units
/// s, m, h, H, d, w), or `now - 6m` (Elastic's default `from`) when it has none.
fn elastic_window_start(elastic: &ElasticRule, now: i64) -> Result<i64, String> {
    let from = elastic.from.as_deref().unwrap_or("now-6m");
    let invalid = || format!("`from = \"{from}\"` is not of the form now-<number><s|m|h|d|w>");
    let span = from.trim().strip_prefix("now-").ok_or_else(invalid)?.trim();
    let split = span
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = span.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let unit_seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "H" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(unit_seconds)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .map(|nanos| now.saturating_sub(nanos))
        .ok_or_else(invalid)
}

/// One finding per row, at most `cap` of them.
fn per_row(
    rule: &RuleMeta<'_>,
    window: &Window,
    rows: &ResultRows,
    cap: usize,
    note: Option<String>,
) -> Outcome {
    let results = rows.len();
    let findings = (0..results.min(cap))
        .map(|row| rule.finding(window, rows, &[row]))
        .collect();
    Outcome::Ran {
        results,
        findings,
        note: if results > cap {
            Some(format!(
                "max_signals: {cap} of {results} results raised alerts"
            ))
        } else {
            note
        },
        cap: (results > cap).then_some(cap),
    }
}

async fn run_machine_learning(
    catalog: &dyn Catalog,
    content: &[LoadedRule],
    rule: &RuleMeta<'_>,
    elastic: &ElasticRule,
    options: &HuntOptions<'_>,
) -> Outcome {
    let now = options.now_nanos;
    let job_ids = elastic
        .machine_learning_job_id
        .as_ref()
        .map(|j| j.to_vec())
        .unwrap_or_default();
    if job_ids.is_empty() {
        return Outcome::Failed("machine_learning rule without machine_learning_job_id".into());
    }
    let mut jobs = Vec::new();
    for job_id in &job_ids {
        let job = content.iter().find_map(|c| match &c.document {
            RuleDocument::MlJob(job) if &job.job_id == job_id => Some(job.as_ref()),
            _ => None,
        });
        let Some(job) = job else {
            return Outcome::Skipped(format!(
                "its anomaly detection job '{job_id}' is not among the loaded content (give its \
                 job JSON with --rules)"
            ));
        };
        let datafeed = content.iter().find_map(|c| match &c.document {
            RuleDocument::Datafeed(feed) if &feed.job_id == job_id => Some(feed.as_ref()),
            _ => None,
        });
        if let Some(kql) = datafeed.and_then(|d| d.kql.as_deref()) {
            match parse_query(kql) {
                Ok(ast) => {
                    let missing = missing_tables(catalog, &ast);
                    if !missing.is_empty() {
                        return Outcome::Skipped(missing_reason(&missing));
                    }
                }
                Err(diagnostic) => {
                    return Outcome::Failed(format!(
                        "the datafeed of job '{job_id}': {}",
                        diagnostic.render(kql, &RenderOptions::default()).trim_end()
                    ));
                }
            }
        }
        jobs.push((job, datafeed));
    }
    let Some(source) = options.anomalies else {
        return Outcome::Skipped(
            "machine_learning rules need the ML engine, which this run does not have".into(),
        );
    };
    let start = match options.ml_since_nanos {
        Some(since) => since,
        None => match elastic_window_start(elastic, now) {
            Ok(start) => start,
            Err(reason) => return Outcome::Failed(reason),
        },
    };
    let threshold = f64::from(
        elastic
            .anomaly_threshold
            .unwrap_or(DEFAULT_ANOMALY_THRESHOLD),
    );
    let mut records: Vec<AnomalyRecord> = Vec::new();
    for (job, datafeed) in jobs {
        match source.anomalies(job, datafeed, start, now).await {
            Ok(found) => records.extend(found.into_iter().filter(|r| r.record_score >= threshold)),
            Err(err) => {
                return Outcome::Failed(format!("anomaly job '{}': {err}", job.job_id));
            }
        }
    }
    records.sort_by(|a, b| {
        a.bucket_start_nanos
            .cmp(&b.bucket_start_nanos)
            .then(b.record_score.total_cmp(&a.record_score))
            .then_with(|| record_key(a).cmp(&record_key(b)))
    });
    let window = Window {
        start: Some(format_datetime(start)),
        end: format_datetime(now),
    };
    let rows = ResultRows::from_anomalies(&records);
    per_row(rule, &window, &rows, max_signals(elastic), None)
}

fn record_key(record: &AnomalyRecord) -> (String, String, String, String) {
    let value = |f: &Option<crate::anomaly::FieldValue>| {
        f.as_ref().map(|v| v.value.clone()).unwrap_or_default()
    };
    (
        record.job_id.clone(),
        value(&record.partition_field),
        value(&record.over_field),
        value(&record.by_field),
    )
}

/// Parses, checks the tables and runs a rule's query; on failure, the outcome to report.
async fn run_query(
    catalog: &dyn Catalog,
    rule: &RuleMeta<'_>,
    query: &str,
    window_start: Option<i64>,
    hunt: &HuntOptions<'_>,
) -> Result<ResultRows, Outcome> {
    let now = hunt.now_nanos;
    let options = render_options(rule);
    let origin = options.origin.clone();
    let render = RenderOptions {
        origin: &origin,
        line_offset: options.line_offset,
        column_offset: options.column_offset,
    };
    let ast = parse_query(query)
        .map_err(|diagnostic| Outcome::Failed(diagnostic.render(query, &render)))?;
    let missing = missing_tables(catalog, &ast);
    if !missing.is_empty() {
        return Err(Outcome::Skipped(missing_reason(&missing)));
    }
    let windowed;
    let catalog: &dyn Catalog = match window_start {
        Some(start) => {
            windowed = WindowedCatalog {
                inner: catalog,
                start,
                end: now,
            };
            &windowed
        }
        None => catalog,
    };
    let mut engine = QueryEngine::new(catalog, now);
    if let Some(session) = &hunt.session {
        engine = engine.with_context(session.clone());
    }
    let result = engine.query(query).await.map_err(|err| {
        Outcome::Failed(match &err {
            QueryError::Plan(diagnostic) => diagnostic.render(query, &render),
            QueryError::Execution(_) => err.render(query, &origin),
        })
    })?;
    let ordered = query_is_ordered(&ast);
    Ok(ResultRows::from_result(&result, group_keys(&ast), ordered))
}

struct OwnedRender {
    origin: String,
    line_offset: usize,
    column_offset: usize,
}

/// Where the query sits in its file, so that errors point at the file's line and column. The
/// built-in pack is not on disk: its positions are relative to the query.
fn render_options(rule: &RuleMeta<'_>) -> OwnedRender {
    let path = &rule.rule.path;
    let fallback = OwnedRender {
        origin: format!("{} (query)", path.display()),
        line_offset: 0,
        column_offset: 0,
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return fallback;
    };
    match extract_query(RuleFormat::from_path(Path::new(path)), &text) {
        Ok(Ok(embedded)) => match embedded.location {
            QueryLocation::Exact { first_line, indent } => OwnedRender {
                origin: path.display().to_string(),
                line_offset: first_line.saturating_sub(1),
                column_offset: indent,
            },
            QueryLocation::KeyLine { line } => OwnedRender {
                origin: format!("{} (query at line {line})", path.display()),
                line_offset: 0,
                column_offset: 0,
            },
        },
        _ => fallback,
    }
}

/// The tables a query reads that the catalog does not have. A wildcard (`union Sign*`) is
/// missing when no table matches it.
fn missing_tables(catalog: &dyn Catalog, query: &Query) -> Vec<String> {
    let tables = summarize_query(query).tables;
    let mut names: Option<Vec<String>> = None;
    let mut missing = Vec::new();
    for table in tables {
        let present = if table.contains('*') {
            let names = names.get_or_insert_with(|| catalog.table_names());
            names.iter().any(|name| wildcard_match(&table, name))
        } else {
            catalog.table(&table).is_some()
        };
        if !present {
            missing.push(table);
        }
    }
    missing
}

fn missing_reason(missing: &[String]) -> String {
    format!(
        "{} {} not in the lake",
        if missing.len() == 1 {
            "table"
        } else {
            "tables"
        },
        missing.join(", ") + if missing.len() == 1 { " is" } else { " are" }
    )
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The query's own order is kept when it sorts; otherwise rows are sorted by their values so
/// the report does not depend on DataFusion's partitioning.
fn query_is_ordered(query: &Query) -> bool {
    summarize_query(query)
        .operators
        .iter()
        .any(|op| matches!(op.as_str(), "sort" | "top" | "top-nested" | "serialize"))
}

/// The keys of the last `summarize ... by` in the query's result statement: names as written,
/// or the column a key such as `bin(TimeGenerated, 1h)` is named after.
fn group_keys(query: &Query) -> Vec<String> {
    let Some(tabular) = query.statements.iter().rev().find_map(|s| match &s.kind {
        StatementKind::Tabular(tabular) => Some(tabular),
        _ => None,
    }) else {
        return Vec::new();
    };
    let Some(by) = tabular
        .operators
        .iter()
        .rev()
        .find_map(|op| match &op.kind {
            OperatorKind::Summarize { by, .. } => Some(by),
            _ => None,
        })
    else {
        return Vec::new();
    };
    by.iter()
        .filter_map(|key| {
            if let Some(name) = key.names.first() {
                return Some(name.name.clone());
            }
            match &key.expr.kind {
                ExprKind::Name(ident) => Some(ident.name.clone()),
                ExprKind::Call(call) => call.args.first().and_then(|a| match &a.value.kind {
                    ExprKind::Name(ident) => Some(ident.name.clone()),
                    _ => None,
                }),
                _ => None,
            }
        })
        .collect()
}

/// A result in the shapes findings need: typed JSON cells, their text, and each row's datetimes.
struct ResultRows {
    columns: Vec<EvidenceColumn>,
    values: Vec<Vec<Value>>,
    texts: Vec<Vec<String>>,
    times: Vec<Vec<i64>>,
    /// `(entity type, identifier, column index)` of the group keys found in the result.
    group_keys: Vec<(String, String, usize)>,
    /// For anomaly records, each row's entities (empty for query results).
    anomaly_entities: Vec<Vec<Entity>>,
}

impl ResultRows {
    fn len(&self) -> usize {
        self.values.len()
    }

    fn from_result(result: &QueryResult, keys: Vec<String>, ordered: bool) -> ResultRows {
        let columns: Vec<EvidenceColumn> = result
            .columns
            .iter()
            .map(|c| EvidenceColumn {
                name: c.name.clone(),
                kusto_type: c.ty.name().to_string(),
            })
            .collect();
        let mut rows: Vec<(Vec<Value>, Vec<String>, Vec<i64>)> = Vec::new();
        for batch in &result.batches {
            for row in 0..batch.num_rows() {
                let mut values = Vec::with_capacity(columns.len());
                let mut texts = Vec::with_capacity(columns.len());
                let mut times = Vec::new();
                for (i, column) in result.columns.iter().enumerate() {
                    let array = batch.column(i).as_ref();
                    values.push(json_at(array, row, column.ty));
                    texts.push(kusto_string_at(array, row, column.ty));
                    if let Some(KustoValue::DateTime(nanos)) = value_at(array, row, column.ty) {
                        times.push(nanos);
                    }
                }
                rows.push((values, texts, times));
            }
        }
        if !ordered {
            rows.sort_by_cached_key(|(values, _, _)| Value::Array(values.clone()).to_string());
        }
        let group_keys = keys
            .into_iter()
            .filter_map(|key| {
                let index = result.columns.iter().position(|c| c.name == key)?;
                let datetime = result.columns[index].ty.name() == "datetime";
                (!datetime).then(|| ("GroupKey".to_string(), key, index))
            })
            .collect();
        let mut out = ResultRows {
            columns,
            values: Vec::with_capacity(rows.len()),
            texts: Vec::with_capacity(rows.len()),
            times: Vec::with_capacity(rows.len()),
            group_keys,
            anomaly_entities: Vec::new(),
        };
        for (values, texts, times) in rows {
            out.values.push(values);
            out.texts.push(texts);
            out.times.push(times);
        }
        out
    }

    /// Anomaly records as rows, one per record; entities are the by/over/partition values and
    /// the influencers, as Elastic puts them on its alerts.
    fn from_anomalies(records: &[AnomalyRecord]) -> ResultRows {
        let names = [
            ("timestamp", "datetime"),
            ("job_id", "string"),
            ("function", "string"),
            ("partition_field", "dynamic"),
            ("over_field", "dynamic"),
            ("by_field", "dynamic"),
            ("record_score", "real"),
            ("initial_record_score", "real"),
            ("probability", "real"),
            ("bucket_span", "timespan"),
            ("influencers", "dynamic"),
            ("explanation", "string"),
        ];
        let columns = names
            .iter()
            .map(|(name, ty)| EvidenceColumn {
                name: (*name).to_string(),
                kusto_type: (*ty).to_string(),
            })
            .collect();
        let field = |f: &Option<crate::anomaly::FieldValue>| match f {
            Some(f) => json!({"name": f.name, "value": f.value}),
            None => Value::Null,
        };
        let mut out = ResultRows {
            columns,
            values: Vec::new(),
            texts: Vec::new(),
            times: Vec::new(),
            group_keys: Vec::new(),
            anomaly_entities: Vec::new(),
        };
        for record in records {
            let influencers: Map<String, Value> = record
                .influencers
                .iter()
                .map(|i| (i.field_name.clone(), json!(i.values)))
                .collect();
            let span = record.bucket_span_seconds.saturating_mul(1_000_000_000);
            out.values.push(vec![
                json!(format_datetime(record.bucket_start_nanos)),
                json!(record.job_id),
                json!(record.function),
                field(&record.partition_field),
                field(&record.over_field),
                field(&record.by_field),
                goshawk_kql_engine::format::real_to_json(record.record_score),
                goshawk_kql_engine::format::real_to_json(record.initial_record_score),
                goshawk_kql_engine::format::real_to_json(record.probability),
                json!(goshawk_kql_engine::time::format_timespan(span)),
                Value::Object(influencers),
                json!(record.explanation),
            ]);
            out.texts.push(Vec::new());
            out.times.push(vec![
                record.bucket_start_nanos,
                record.bucket_start_nanos.saturating_add(span),
            ]);
            let mut entities = Vec::new();
            for f in [
                &record.partition_field,
                &record.over_field,
                &record.by_field,
            ]
            .into_iter()
            .flatten()
            {
                entities.push(Entity {
                    entity_type: f.name.clone(),
                    identifier: "field".into(),
                    value: f.value.clone(),
                });
            }
            for influencer in &record.influencers {
                for value in &influencer.values {
                    entities.push(Entity {
                        entity_type: influencer.field_name.clone(),
                        identifier: "influencer".into(),
                        value: value.clone(),
                    });
                }
            }
            out.anomaly_entities.push(entities);
        }
        out
    }

    fn entities(&self, row: usize, sources: &EntitySources) -> Vec<Entity> {
        if let Some(entities) = self.anomaly_entities.get(row) {
            return entities.clone();
        }
        let text = |index: usize| self.texts[row].get(index).cloned().unwrap_or_default();
        let mut out = Vec::new();
        match sources {
            EntitySources::Mapped(mappings) => {
                for (entity_type, identifier, column) in mappings {
                    let Some(index) = self.columns.iter().position(|c| &c.name == column) else {
                        continue;
                    };
                    out.push(Entity {
                        entity_type: entity_type.clone(),
                        identifier: identifier.clone(),
                        value: text(index),
                    });
                }
            }
            EntitySources::GroupKeys => {
                for (entity_type, identifier, index) in &self.group_keys {
                    out.push(Entity {
                        entity_type: entity_type.clone(),
                        identifier: identifier.clone(),
                        value: text(*index),
                    });
                }
            }
        }
        // Sentinel drops an entity whose identifier is empty.
        out.retain(|e| !e.value.is_empty());
        out
    }
}

/// A catalog whose tables hold only `[start, end]` of `TimeGenerated`: the window a scheduled
/// rule's run sees. Tables without a `TimeGenerated` datetime column are passed through.
struct WindowedCatalog<'a> {
    inner: &'a dyn Catalog,
    start: i64,
    end: i64,
}

impl Catalog for WindowedCatalog<'_> {
    fn table(&self, name: &str) -> Option<TableRef> {
        let table = self.inner.table(name)?;
        Some(window_table(&table, self.start, self.end).unwrap_or(table))
    }

    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }
}

fn window_table(table: &TableRef, start: i64, end: i64) -> Option<TableRef> {
    let schema = table.provider.schema();
    let field = schema.field_with_name("TimeGenerated").ok()?;
    let bound = |nanos: i64| -> Option<ScalarValue> {
        match field.data_type() {
            DataType::Timestamp(TimeUnit::Nanosecond, tz) => {
                Some(ScalarValue::TimestampNanosecond(Some(nanos), tz.clone()))
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Some(
                ScalarValue::TimestampMicrosecond(Some(nanos.div_euclid(1_000)), tz.clone()),
            ),
            DataType::Timestamp(TimeUnit::Millisecond, tz) => Some(
                ScalarValue::TimestampMillisecond(Some(nanos.div_euclid(1_000_000)), tz.clone()),
            ),
            _ => None,
        }
    };
    let column = Expr::Column(Column::new_unqualified("TimeGenerated"));
    let filter = column
        .clone()
        .gt_eq(lit(bound(start)?))
        .and(column.lt_eq(lit(bound(end)?)));
    let plan = LogicalPlanBuilder::scan(
        table.name.clone(),
        provider_as_source(Arc::clone(&table.provider)),
        None,
    )
    .ok()?
    .filter(filter)
    .ok()?
    .build()
    .ok()?;
    Some(TableRef {
        name: table.name.clone(),
        provider: Arc::new(ViewTable::new(plan, None)),
        columns: table.columns.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tactic_names_follow_sentinel_spelling() {
        assert_eq!(tactic_name("Defense Evasion"), "DefenseEvasion");
        assert_eq!(tactic_name("Command and Control"), "CommandAndControl");
        assert_eq!(tactic_name("Discovery"), "Discovery");
    }

    #[test]
    fn wildcards_match_table_names() {
        assert!(wildcard_match("Signin*", "SigninLogs"));
        assert!(wildcard_match("*Logs", "AuditLogs"));
        assert!(wildcard_match("A*D*Logs", "AADProvisioningLogs"));
        assert!(!wildcard_match("Signin*", "AuditLogs"));
        assert!(!wildcard_match("A*Logs*x", "ALogs"));
    }
}
