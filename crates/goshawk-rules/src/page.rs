//! A rule's catalogue page, as Sentinel's "Query Details" and Elastic's rule pages show it:
//! the rule's facts, its MITRE ATT&CK mapping with links, the ML job behind a
//! `machine_learning` rule in words, the query with the Tables / Keywords / Operators lists and
//! the explanation generated from the query. Rendered as text, JSON and a self-contained HTML
//! fragment (no scripts, styles or network references; every value escaped).

use std::fmt::Write as _;

use serde::Serialize;

use crate::elastic::{Datafeed, Detector, ElasticRule, MlJob, Threat};
use crate::explain::{Explanation, Step, StepKind, analyze_kql, span_adjective};
use crate::load::{LoadedRule, RuleDocument};
use crate::sentinel::SentinelRule;

/// Elastic's `max_signals` when a rule does not set it.
pub const DEFAULT_MAX_SIGNALS: u32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulePage {
    pub id: String,
    pub name: String,
    /// "Sentinel hunting query", "Elastic machine_learning rule", ...
    pub kind: String,
    /// The file the rule came from (`builtin/...` for built-in rules).
    pub source: String,
    pub description: String,
    /// Label and value, in display order.
    pub facts: Vec<Fact>,
    /// Tactics, with the techniques mapped under them (Elastic).
    pub tactics: Vec<AttackEntry>,
    /// Techniques not tied to a tactic (Sentinel's `relevantTechniques`).
    pub techniques: Vec<AttackEntry>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    /// Elastic's `false_positives`: known benign causes, one entry each.
    pub false_positives: Vec<String>,
    pub ml_jobs: Vec<MlJobSummary>,
    pub setup: Option<String>,
    /// Elastic's `note`: the investigation guide (Markdown, shown as written).
    pub investigation_guide: Option<String>,
    pub query: Option<QuerySection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// A MITRE ATT&CK tactic, technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttackEntry {
    /// `TA0007`, `T1526`, `T1556.001`; `None` for a tactic name ATT&CK has no id for.
    pub id: Option<String>,
    pub name: String,
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<AttackEntry>,
}

/// The anomaly-detection job behind a `machine_learning` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MlJobSummary {
    pub job_id: String,
    /// Whether the job is among the loaded content.
    pub found: bool,
    pub description: Option<String>,
    /// One line per detector: "rare event.action, 60-minute buckets, over ...; influencers ...".
    pub detectors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuerySection {
    /// `kql` for Kusto queries.
    pub language: String,
    pub text: String,
    pub tables: Vec<String>,
    /// Columns, connectors and data types referenced.
    pub keywords: Vec<String>,
    pub operators: Vec<String>,
    pub explanation: Option<Explanation>,
    /// Why there is no explanation (the parser's message with line and column).
    pub explanation_error: Option<String>,
}

/// Builds the page of `rule`; `content` is everything loaded (built-in and files), where a
/// `machine_learning` rule's job and datafeed are looked up.
pub fn rule_page(rule: &LoadedRule, content: &[LoadedRule]) -> RulePage {
    let source = rule.path.display().to_string();
    match &rule.document {
        RuleDocument::Sentinel(sentinel) => sentinel_page(sentinel, source),
        RuleDocument::Elastic(file) => elastic_page(&file.rule, content, source),
        RuleDocument::MlJob(job) => {
            let summary = job_summary(&job.job_id, content);
            let mut facts = vec![
                fact("Job id", &job.job_id),
                fact("Bucket span", &job.analysis_config.bucket_span),
            ];
            if !job.analysis_config.influencers.is_empty() {
                facts.push(fact(
                    "Influencers",
                    &job.analysis_config.influencers.join(", "),
                ));
            }
            if !job.groups.is_empty() {
                facts.push(fact("Groups", &job.groups.join(", ")));
            }
            RulePage {
                id: job.job_id.clone(),
                name: job.job_id.clone(),
                kind: "Elastic anomaly-detection job".to_string(),
                source,
                description: job.description.clone(),
                facts,
                tactics: Vec::new(),
                techniques: Vec::new(),
                references: Vec::new(),
                tags: Vec::new(),
                false_positives: Vec::new(),
                ml_jobs: vec![summary],
                setup: None,
                investigation_guide: None,
                query: None,
            }
        }
        RuleDocument::Datafeed(feed) => {
            let mut facts = vec![fact("Job id", &feed.job_id)];
            if !feed.indices.is_empty() {
                facts.push(fact("Indices", &feed.indices.join(", ")));
            }
            if let Some(delay) = &feed.query_delay {
                facts.push(fact("Query delay", delay));
            }
            RulePage {
                id: rule.id().to_string(),
                name: rule.name().to_string(),
                kind: "Elastic datafeed".to_string(),
                source,
                description: String::new(),
                facts,
                tactics: Vec::new(),
                techniques: Vec::new(),
                references: Vec::new(),
                tags: Vec::new(),
                false_positives: Vec::new(),
                ml_jobs: Vec::new(),
                setup: None,
                investigation_guide: None,
                query: feed
                    .kql
                    .as_deref()
                    .map(|kql| query_section(kql, Vec::new())),
            }
        }
    }
}

fn fact(label: &str, value: &str) -> Fact {
    Fact {
        label: label.to_string(),
        value: value.to_string(),
    }
}

fn sentinel_page(rule: &SentinelRule, source: String) -> RulePage {
    let kind = match (rule.is_analytic_rule(), rule.kind.as_deref()) {
        (false, _) => "Sentinel hunting query".to_string(),
        (true, Some(kind)) if kind.eq_ignore_ascii_case("nrt") => {
            "Sentinel NRT analytic rule".to_string()
        }
        (true, _) => "Sentinel scheduled analytic rule".to_string(),
    };
    let mut facts = vec![fact("Id", &rule.id)];
    if let Some(severity) = &rule.severity {
        facts.push(fact("Severity", severity));
    }
    if !rule.required_data_connectors.is_empty() {
        let connectors: Vec<String> = rule
            .required_data_connectors
            .iter()
            .map(|c| match c.data_types.as_slice() {
                [] => c.connector_id.clone(),
                types => format!("{} ({})", c.connector_id, types.join(", ")),
            })
            .collect();
        facts.push(fact("Required data connectors", &connectors.join("; ")));
    }
    let data_types = rule.data_types();
    if !data_types.is_empty() {
        facts.push(fact("Data types", &data_types.join(", ")));
    }
    if let Some(frequency) = &rule.query_frequency {
        facts.push(fact("Runs every", frequency));
    }
    if let Some(period) = &rule.query_period {
        facts.push(fact("Looks back", period));
    }
    if let (Some(operator), Some(threshold)) = (&rule.trigger_operator, rule.trigger_threshold) {
        facts.push(fact(
            "Alerts when",
            &format!("results {} {threshold}", trigger_words(operator)),
        ));
    }
    if let Some(version) = &rule.version {
        facts.push(fact("Version", version));
    }
    if let Some(author) = sentinel_author(rule) {
        facts.push(fact("Author", &author));
    }
    if let Some(released) = sentinel_released(rule) {
        facts.push(fact("Released", &released));
    }
    let tactics = rule
        .tactics
        .iter()
        .map(|name| {
            let (id, display) = tactic_by_name(name);
            AttackEntry {
                id: id.map(str::to_string),
                name: display,
                url: id.map(tactic_url),
                children: Vec::new(),
            }
        })
        .collect();
    let techniques = rule
        .relevant_techniques
        .iter()
        .map(|id| AttackEntry {
            id: Some(id.clone()),
            name: id.clone(),
            url: technique_url(id),
            children: Vec::new(),
        })
        .collect();
    let mut keywords: Vec<String> = rule
        .required_data_connectors
        .iter()
        .map(|c| c.connector_id.clone())
        .chain(data_types)
        .collect();
    let mut query = query_section(&rule.query, Vec::new());
    keywords.append(&mut query.keywords);
    query.keywords = dedup(keywords);
    RulePage {
        id: rule.id.clone(),
        name: rule.name.clone(),
        kind,
        source,
        description: rule.description.trim_end().to_string(),
        facts,
        tactics,
        techniques,
        references: Vec::new(),
        tags: rule.tags.iter().filter_map(yaml_scalar).collect(),
        false_positives: Vec::new(),
        ml_jobs: Vec::new(),
        setup: None,
        investigation_guide: None,
        query: Some(query),
    }
}

fn trigger_words(operator: &str) -> &str {
    match operator.to_ascii_lowercase().as_str() {
        "gt" | "greaterthan" => "more than",
        "lt" | "lessthan" => "fewer than",
        "eq" | "equal" => "exactly",
        "ne" | "notequal" => "not exactly",
        _ => operator,
    }
}

fn yaml_scalar(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(text) => Some(text.clone()),
        serde_norway::Value::Number(number) => Some(number.to_string()),
        serde_norway::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// `metadata.author.name` (the Azure-Sentinel repository's layout) or a top-level `author`.
fn sentinel_author(rule: &SentinelRule) -> Option<String> {
    let from_metadata = rule
        .extra
        .get("metadata")
        .and_then(|m| m.get("author"))
        .and_then(|a| a.get("name").or(Some(a)))
        .and_then(yaml_scalar);
    from_metadata.or_else(|| {
        let author = rule.extra.get("author")?;
        author
            .get("name")
            .and_then(yaml_scalar)
            .or_else(|| yaml_scalar(author))
    })
}

fn sentinel_released(rule: &SentinelRule) -> Option<String> {
    ["released", "createdDate", "releaseDate"]
        .iter()
        .find_map(|key| rule.extra.get(*key).and_then(yaml_scalar))
}

fn elastic_page(rule: &ElasticRule, content: &[LoadedRule], source: String) -> RulePage {
    let job_ids = rule
        .machine_learning_job_id
        .as_ref()
        .map(|ids| ids.to_vec())
        .unwrap_or_default();
    let mut facts = vec![
        fact("Rule id", &rule.rule_id),
        fact("Type", &rule.rule_type),
    ];
    if !rule.index.is_empty() {
        facts.push(fact("Indices", &rule.index.join(", ")));
    }
    if !job_ids.is_empty() {
        facts.push(fact("Machine learning job", &job_ids.join(", ")));
    }
    if let Some(threshold) = rule.anomaly_threshold {
        facts.push(fact("Anomaly threshold", &threshold.to_string()));
    }
    if let Some(severity) = &rule.severity {
        facts.push(fact("Severity", severity));
    }
    if let Some(risk) = rule.risk_score {
        facts.push(fact("Risk score", &risk.to_string()));
    }
    if let Some(interval) = &rule.interval {
        facts.push(fact("Runs every", interval));
    }
    if let Some(from) = &rule.from {
        facts.push(fact("Searches indices from", from));
    }
    facts.push(fact(
        "Maximum alerts per execution",
        &rule.max_signals.unwrap_or(DEFAULT_MAX_SIGNALS).to_string(),
    ));
    if let Some(version) = rule.version {
        facts.push(fact("Version", &version.to_string()));
    }
    if !rule.author.is_empty() {
        facts.push(fact("Authors", &rule.author.join(", ")));
    }
    if let Some(license) = &rule.license {
        facts.push(fact("License", license));
    }
    let query = rule.query.as_deref().map(|text| {
        let language = rule.language.as_deref().unwrap_or("kql");
        if language.eq_ignore_ascii_case("kql") {
            query_section(text, Vec::new())
        } else {
            QuerySection {
                language: language.to_string(),
                text: text.to_string(),
                tables: rule.index.clone(),
                keywords: Vec::new(),
                operators: Vec::new(),
                explanation: None,
                explanation_error: Some(format!(
                    "goshawk explains KQL queries; this query is {language}"
                )),
            }
        }
    });
    RulePage {
        id: rule.rule_id.clone(),
        name: rule.name.clone(),
        kind: format!("Elastic {} rule", rule.rule_type),
        source,
        description: rule.description.trim_end().to_string(),
        facts,
        tactics: rule.threat.iter().map(elastic_tactic).collect(),
        techniques: Vec::new(),
        references: rule.references.clone(),
        tags: rule.tags.clone(),
        false_positives: rule
            .false_positives
            .iter()
            .map(|entry| entry.trim().to_string())
            .collect(),
        ml_jobs: job_ids.iter().map(|id| job_summary(id, content)).collect(),
        setup: rule.setup.clone(),
        investigation_guide: rule.note.clone(),
        query,
    }
}

fn elastic_tactic(threat: &Threat) -> AttackEntry {
    AttackEntry {
        id: Some(threat.tactic.id.clone()),
        name: threat.tactic.name.clone(),
        url: threat
            .tactic
            .reference
            .clone()
            .or_else(|| Some(tactic_url(&threat.tactic.id))),
        children: threat
            .technique
            .iter()
            .map(|technique| AttackEntry {
                id: Some(technique.id.clone()),
                name: technique.name.clone(),
                url: technique
                    .reference
                    .clone()
                    .or_else(|| technique_url(&technique.id)),
                children: technique
                    .subtechnique
                    .iter()
                    .map(|sub| AttackEntry {
                        id: Some(sub.id.clone()),
                        name: sub.name.clone(),
                        url: sub.reference.clone().or_else(|| technique_url(&sub.id)),
                        children: Vec::new(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn job_summary(job_id: &str, content: &[LoadedRule]) -> MlJobSummary {
    let job = content.iter().find_map(|rule| match &rule.document {
        RuleDocument::MlJob(job) if job.job_id == job_id => Some(job.as_ref()),
        _ => None,
    });
    let feed = content.iter().find_map(|rule| match &rule.document {
        RuleDocument::Datafeed(feed) if feed.job_id == job_id => Some(feed.as_ref()),
        _ => None,
    });
    match job {
        Some(job) => MlJobSummary {
            job_id: job_id.to_string(),
            found: true,
            description: Some(job.description.clone()).filter(|d| !d.is_empty()),
            detectors: job
                .analysis_config
                .detectors
                .iter()
                .map(|detector| detector_words(detector, job, feed))
                .collect(),
        },
        None => MlJobSummary {
            job_id: job_id.to_string(),
            found: false,
            description: None,
            detectors: Vec::new(),
        },
    }
}

/// "rare event.action, 60-minute buckets, over the AzureActivity rows where activity status
/// value equals Failure; influencers: user.email, source.ip".
pub fn detector_words(detector: &Detector, job: &MlJob, feed: Option<&Datafeed>) -> String {
    let field = detector.field_name.as_deref();
    let by = detector.by_field_name.as_deref();
    let function = detector.function.as_str();
    let mut text = match (function, field, by) {
        ("rare", _, Some(by)) => format!("rare {by}"),
        ("freq_rare", _, Some(by)) => format!("frequently rare {by}"),
        _ => {
            let (adjective, base) = split_function(function);
            let mut text = format!("{adjective}{base}");
            if let Some(field) = field {
                text.push_str(&format!(" of {field}"));
            }
            if let Some(by) = by {
                text.push_str(&format!(" by {by}"));
            }
            text
        }
    };
    if let Some(over) = &detector.over_field_name {
        text.push_str(&format!(" over the population of {over}"));
    }
    if let Some(partition) = &detector.partition_field_name {
        text.push_str(&format!(", separately for each {partition}"));
    }
    let span = &job.analysis_config.bucket_span;
    match span_adjective(span) {
        Some(adjective) => text.push_str(&format!(", {adjective} buckets")),
        None => text.push_str(&format!(", buckets of {span}")),
    }
    if let Some(scope) = feed.and_then(feed_scope) {
        text.push_str(&format!(", over {scope}"));
    }
    if !job.analysis_config.influencers.is_empty() {
        text.push_str(&format!(
            "; influencers: {}",
            job.analysis_config.influencers.join(", ")
        ));
    }
    text
}

/// `high_count` -> ("unusually high ", "count of events").
fn split_function(function: &str) -> (&'static str, String) {
    let (adjective, base) = if let Some(base) = function.strip_prefix("high_") {
        ("unusually high ", base)
    } else if let Some(base) = function.strip_prefix("low_") {
        ("unusually low ", base)
    } else {
        ("", function)
    };
    let base = match base {
        "count" => "count of events".to_string(),
        "non_zero_count" => "count of events (non-zero buckets)".to_string(),
        "distinct_count" => "distinct count".to_string(),
        "mean" | "avg" => "mean".to_string(),
        "info_content" => "information content".to_string(),
        "time_of_day" => "time of day".to_string(),
        "time_of_week" => "time of week".to_string(),
        "lat_long" => "geographic location".to_string(),
        "varp" => "variance".to_string(),
        other => other.replace('_', " "),
    };
    (adjective, base)
}

/// The rows a datafeed's KQL selects, in words: "the AzureActivity rows where ...".
fn feed_scope(feed: &Datafeed) -> Option<String> {
    match &feed.kql {
        Some(kql) => {
            let analysis = analyze_kql(kql).ok()?;
            let mut conditions = Vec::new();
            collect_conditions(&analysis.explanation.steps, &mut conditions);
            let tables = analysis.tables.join(", ");
            Some(if conditions.is_empty() {
                format!("the {tables} rows")
            } else {
                format!("the {tables} rows where {}", conditions.join(" and "))
            })
        }
        None if !feed.indices.is_empty() => {
            Some(format!("the indices {}", feed.indices.join(", ")))
        }
        None => None,
    }
}

fn collect_conditions(steps: &[Step], out: &mut Vec<String>) {
    for step in steps {
        match step.kind {
            StepKind::Filter => out.push(
                step.text
                    .strip_prefix("keep the rows where ")
                    .unwrap_or(&step.text)
                    .to_string(),
            ),
            StepKind::TimeFrame => out.push(format!("in {}", step.text)),
            _ => {}
        }
    }
}

fn query_section(text: &str, keywords: Vec<String>) -> QuerySection {
    match analyze_kql(text) {
        Ok(analysis) => QuerySection {
            language: "kql".to_string(),
            text: text.to_string(),
            tables: analysis.tables,
            keywords: dedup(keywords.into_iter().chain(analysis.columns).collect()),
            operators: analysis.operators,
            explanation: Some(analysis.explanation),
            explanation_error: None,
        },
        Err(diagnostic) => {
            let position = goshawk_kql_syntax::line_col(text, diagnostic.span.start as usize);
            QuerySection {
                language: "kql".to_string(),
                text: text.to_string(),
                tables: Vec::new(),
                keywords,
                operators: Vec::new(),
                explanation: None,
                explanation_error: Some(format!(
                    "the query does not parse at line {}, column {}: {}",
                    position.line, position.column, diagnostic.message
                )),
            }
        }
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// MITRE ATT&CK Enterprise tactics by Sentinel's spelling: (id, display name).
const TACTICS: &[(&str, &str, &str)] = &[
    ("Reconnaissance", "TA0043", "Reconnaissance"),
    ("ResourceDevelopment", "TA0042", "Resource Development"),
    ("InitialAccess", "TA0001", "Initial Access"),
    ("Execution", "TA0002", "Execution"),
    ("Persistence", "TA0003", "Persistence"),
    ("PrivilegeEscalation", "TA0004", "Privilege Escalation"),
    ("DefenseEvasion", "TA0005", "Defense Evasion"),
    ("CredentialAccess", "TA0006", "Credential Access"),
    ("Discovery", "TA0007", "Discovery"),
    ("LateralMovement", "TA0008", "Lateral Movement"),
    ("Collection", "TA0009", "Collection"),
    ("Exfiltration", "TA0010", "Exfiltration"),
    ("CommandAndControl", "TA0011", "Command and Control"),
    ("Impact", "TA0040", "Impact"),
];

fn tactic_by_name(name: &str) -> (Option<&'static str>, String) {
    let squashed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    TACTICS
        .iter()
        .find(|(key, _, _)| key.eq_ignore_ascii_case(&squashed))
        .map_or((None, name.to_string()), |(_, id, display)| {
            (Some(*id), (*display).to_string())
        })
}

pub fn tactic_url(id: &str) -> String {
    format!("https://attack.mitre.org/tactics/{id}/")
}

/// `T1526` -> `.../techniques/T1526/`, `T1556.001` -> `.../techniques/T1556/001/`; `None` for
/// anything that is not a technique id.
pub fn technique_url(id: &str) -> Option<String> {
    let (technique, sub) = match id.split_once('.') {
        Some((technique, sub)) => (technique, Some(sub)),
        None => (id, None),
    };
    let valid =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    let number = technique.strip_prefix('T')?;
    if !valid(number, 4) || sub.is_some_and(|s| !valid(s, 3)) {
        return None;
    }
    Some(match sub {
        Some(sub) => format!("https://attack.mitre.org/techniques/{technique}/{sub}/"),
        None => format!("https://attack.mitre.org/techniques/{technique}/"),
    })
}

// ---- text -------------------------------------------------------------------------------------

impl RulePage {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.name);
        let _ = writeln!(out, "{}", "=".repeat(self.name.chars().count().max(3)));
        let mut facts = vec![fact("Kind", &self.kind)];
        facts.extend(self.facts.iter().cloned());
        facts.push(fact("Source", &self.source));
        let width = facts.iter().map(|f| f.label.len()).max().unwrap_or(0) + 1;
        for f in &facts {
            let _ = writeln!(out, "{:<width$} {}", format!("{}:", f.label), f.value);
        }
        if !self.tags.is_empty() {
            let _ = writeln!(out, "{:<width$} {}", "Tags:", self.tags.join(", "));
        }
        section(&mut out, "Description", &self.description);
        if !self.tactics.is_empty() || !self.techniques.is_empty() {
            heading(&mut out, "MITRE ATT&CK");
            for tactic in &self.tactics {
                attack_line(&mut out, "Tactic", tactic, 0);
                for technique in &tactic.children {
                    attack_line(&mut out, "Technique", technique, 2);
                    for sub in &technique.children {
                        attack_line(&mut out, "Sub-technique", sub, 4);
                    }
                }
            }
            for technique in &self.techniques {
                attack_line(&mut out, "Technique", technique, 0);
            }
        }
        for job in &self.ml_jobs {
            heading(&mut out, &format!("Machine learning job {}", job.job_id));
            if !job.found {
                let _ = writeln!(out, "(the job is not among the loaded content)");
            }
            if let Some(description) = &job.description {
                let _ = writeln!(out, "{description}");
            }
            for detector in &job.detectors {
                let _ = writeln!(out, "Detector: {detector}");
            }
        }
        if !self.references.is_empty() {
            heading(&mut out, "References");
            for reference in &self.references {
                let _ = writeln!(out, "- {reference}");
            }
        }
        if !self.false_positives.is_empty() {
            heading(&mut out, "False positives");
            for entry in &self.false_positives {
                let mut lines = entry.lines().map(str::trim);
                let _ = writeln!(out, "- {}", lines.next().unwrap_or(""));
                for line in lines {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if let Some(setup) = &self.setup {
            section(&mut out, "Setup", setup);
        }
        if let Some(guide) = &self.investigation_guide {
            section(&mut out, "Investigation guide", guide);
        }
        if let Some(query) = &self.query {
            heading(&mut out, &format!("Query ({})", query.language));
            for line in query.text.trim_end().lines() {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(out);
            let _ = writeln!(out, "Tables:    {}", query.tables.join(", "));
            let _ = writeln!(out, "Keywords:  {}", query.keywords.join(", "));
            let _ = writeln!(out, "Operators: {}", query.operators.join(", "));
            heading(&mut out, "Explanation");
            match (&query.explanation, &query.explanation_error) {
                (Some(explanation), _) => out.push_str(&explanation.to_text()),
                (None, Some(error)) => {
                    let _ = writeln!(out, "(no explanation: {error})");
                }
                (None, None) => {}
            }
        }
        out
    }
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out);
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{}", "-".repeat(title.chars().count()));
}

fn section(out: &mut String, title: &str, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    heading(out, title);
    let _ = writeln!(out, "{}", body.trim_end());
}

fn attack_line(out: &mut String, what: &str, entry: &AttackEntry, indent: usize) {
    let mut parts = vec![format!("{}{what}", " ".repeat(indent))];
    if let Some(id) = &entry.id {
        parts.push(id.clone());
    }
    if entry.id.as_deref() != Some(entry.name.as_str()) {
        parts.push(entry.name.clone());
    }
    if let Some(url) = &entry.url {
        parts.push(url.clone());
    }
    let _ = writeln!(out, "{}", parts.join(" "));
}

// ---- HTML -------------------------------------------------------------------------------------

/// The page as a self-contained HTML fragment (a `<section>`), for embedding in reports.
pub fn rule_page_html(rule: &LoadedRule, content: &[LoadedRule]) -> String {
    rule_page(rule, content).to_html()
}

impl RulePage {
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<section class=\"goshawk-rule\" data-rule-id=\"{}\">",
            escape(&self.id)
        );
        let _ = writeln!(out, "<h2>{}</h2>", escape(&self.name));
        let _ = writeln!(out, "<dl>");
        let mut facts = vec![fact("Kind", &self.kind)];
        facts.extend(self.facts.iter().cloned());
        facts.push(fact("Source", &self.source));
        if !self.tags.is_empty() {
            facts.push(fact("Tags", &self.tags.join(", ")));
        }
        for f in &facts {
            let _ = writeln!(
                out,
                "<dt>{}</dt><dd>{}</dd>",
                escape(&f.label),
                escape(&f.value)
            );
        }
        let _ = writeln!(out, "</dl>");
        if !self.description.trim().is_empty() {
            let _ = writeln!(
                out,
                "<h3>Description</h3>\n<p>{}</p>",
                escape(&self.description)
            );
        }
        if !self.tactics.is_empty() || !self.techniques.is_empty() {
            let _ = writeln!(out, "<h3>MITRE ATT&amp;CK</h3>\n<ul>");
            for entry in self.tactics.iter().chain(&self.techniques) {
                attack_html(&mut out, entry);
            }
            let _ = writeln!(out, "</ul>");
        }
        for job in &self.ml_jobs {
            let _ = writeln!(
                out,
                "<h3>Machine learning job <code>{}</code></h3>",
                escape(&job.job_id)
            );
            if !job.found {
                let _ = writeln!(out, "<p>The job is not among the loaded content.</p>");
            }
            if let Some(description) = &job.description {
                let _ = writeln!(out, "<p>{}</p>", escape(description));
            }
            if !job.detectors.is_empty() {
                let _ = writeln!(out, "<ul>");
                for detector in &job.detectors {
                    let _ = writeln!(out, "<li>Detector: {}</li>", escape(detector));
                }
                let _ = writeln!(out, "</ul>");
            }
        }
        if !self.references.is_empty() {
            let _ = writeln!(out, "<h3>References</h3>\n<ul>");
            for reference in &self.references {
                let _ = writeln!(out, "<li>{}</li>", link(reference, reference));
            }
            let _ = writeln!(out, "</ul>");
        }
        if !self.false_positives.is_empty() {
            let _ = writeln!(out, "<h3>False positives</h3>\n<ul>");
            for entry in &self.false_positives {
                let _ = writeln!(out, "<li>{}</li>", escape(entry));
            }
            let _ = writeln!(out, "</ul>");
        }
        for (title, body) in [
            ("Setup", &self.setup),
            ("Investigation guide", &self.investigation_guide),
        ] {
            if let Some(body) = body {
                // Markdown shown as written: rendering it would need a sanitiser for the raw
                // HTML Markdown allows.
                let _ = writeln!(
                    out,
                    "<h3>{title}</h3>\n<pre class=\"markdown\">{}</pre>",
                    escape(body.trim_end())
                );
            }
        }
        if let Some(query) = &self.query {
            let _ = writeln!(
                out,
                "<h3>Query</h3>\n<pre><code class=\"language-{}\">{}</code></pre>",
                escape(&query.language),
                escape(query.text.trim_end())
            );
            let _ = writeln!(out, "<dl>");
            for (label, items) in [
                ("Tables", &query.tables),
                ("Keywords", &query.keywords),
                ("Operators", &query.operators),
            ] {
                let _ = writeln!(
                    out,
                    "<dt>{label}</dt><dd>{}</dd>",
                    escape(&items.join(", "))
                );
            }
            let _ = writeln!(out, "</dl>");
            let _ = writeln!(out, "<h3>Explanation</h3>");
            match (&query.explanation, &query.explanation_error) {
                (Some(explanation), _) => steps_html(&mut out, &explanation.steps),
                (None, Some(error)) => {
                    let _ = writeln!(out, "<p>No explanation: {}</p>", escape(error));
                }
                (None, None) => {}
            }
        }
        let _ = writeln!(out, "</section>");
        out
    }
}

fn attack_html(out: &mut String, entry: &AttackEntry) {
    let label = match &entry.id {
        Some(id) if *id != entry.name => format!("{id} {}", entry.name),
        Some(id) => id.clone(),
        None => entry.name.clone(),
    };
    let shown = match &entry.url {
        Some(url) => link(url, &label),
        None => escape(&label),
    };
    let _ = write!(out, "<li>{shown}");
    if !entry.children.is_empty() {
        let _ = writeln!(out, "\n<ul>");
        for child in &entry.children {
            attack_html(out, child);
        }
        let _ = write!(out, "</ul>");
    }
    let _ = writeln!(out, "</li>");
}

fn steps_html(out: &mut String, steps: &[Step]) {
    let _ = writeln!(out, "<ol>");
    for step in steps {
        let _ = write!(
            out,
            "<li><strong>{}:</strong> {}{}",
            escape(step.kind.label()),
            escape(&step.text),
            if step.details.is_empty() { "" } else { ":" }
        );
        if !step.details.is_empty() {
            let _ = writeln!(out, "\n<ul>");
            for detail in &step.details {
                let _ = writeln!(out, "<li>{}</li>", escape(detail));
            }
            let _ = write!(out, "</ul>");
        }
        if !step.substeps.is_empty() {
            let _ = writeln!(out);
            steps_html(out, &step.substeps);
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ol>");
}

/// A link only for http(s) URLs; anything else (a `javascript:` URL in a rule file, say) is
/// shown as text.
fn link(url: &str, label: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape(url), escape(label))
    } else {
        escape(label)
    }
}

fn escape(text: &str) -> String {
    crate::html_text::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_links_follow_attack_urls() {
        assert_eq!(
            technique_url("T1526").as_deref(),
            Some("https://attack.mitre.org/techniques/T1526/")
        );
        assert_eq!(
            technique_url("T1556.001").as_deref(),
            Some("https://attack.mitre.org/techniques/T1556/001/")
        );
        assert_eq!(technique_url("T15"), None);
        assert_eq!(technique_url("X1556"), None);
        assert_eq!(tactic_by_name("DefenseEvasion").0, Some("TA0005"));
        assert_eq!(tactic_by_name("Command And Control").0, Some("TA0011"));
        assert_eq!(tactic_by_name("PreAttack"), (None, "PreAttack".to_string()));
    }

    #[test]
    fn html_escapes_and_links_only_web_urls() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert_eq!(
            link("https://e.com/?a=1&b=\"2\"", "e"),
            "<a href=\"https://e.com/?a=1&amp;b=&quot;2&quot;\">e</a>"
        );
    }
}
