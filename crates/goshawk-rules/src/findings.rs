//! What `goshawk hunt` reports: one [`Finding`] per alert a rule raised, and a [`HuntSummary`]
//! of the whole run (findings per severity and tactic, top entities, which rules ran, were
//! skipped or failed, and where a rule's `max_signals` cap cut its results).
//!
//! Field order is the serialisation order, and every list is sorted by the hunt, so the JSON
//! and JSON Lines outputs are byte-for-byte stable for the same lake, rules and `--now`.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// A rule's severity on one scale for both formats: Sentinel's Informational/Low/Medium/High
/// and Elastic's low/medium/high/critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, most severe first (the order of summaries and reports).
    pub const DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];

    /// Reads either format's spelling, ignoring case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Some(Severity::Informational),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The risk score a rule without one gets (Sentinel rules have none): Elastic's defaults
    /// for low (21), medium (47), high (73) and critical (99), the top of each band of its
    /// 0-100 scale; Informational, which Elastic lacks, gets 0 (no risk on its own).
    pub fn default_risk_score(self) -> u32 {
        match self {
            Severity::Informational => 0,
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of content raised a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A Sentinel hunting query: no schedule; every result row is a finding.
    SentinelHunting,
    /// A Sentinel scheduled or NRT analytic rule.
    SentinelAnalytic,
    /// An Elastic `query` rule whose query is Kusto KQL.
    ElasticQuery,
    /// An Elastic `machine_learning` rule: findings are anomaly records of its job.
    ElasticMachineLearning,
    /// Elastic rule types goshawk cannot run (eql, esql, threshold, ...); always skipped.
    ElasticOther,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::SentinelHunting => "sentinel hunting query",
            RuleKind::SentinelAnalytic => "sentinel analytic rule",
            RuleKind::ElasticQuery => "elastic query rule",
            RuleKind::ElasticMachineLearning => "elastic machine_learning rule",
            RuleKind::ElasticOther => "elastic rule",
        }
    }
}

/// One entity a finding is about: an account, IP, application, or a group key's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Entity {
    /// Sentinel's entity type (`Account`, `IP`, `CloudApplication`...), the ML field name for
    /// anomaly influencers (`user.email`), or `GroupKey` for a summarize key.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The identifier or column the value came from (`FullName`, `Address`, `JobId`...).
    pub identifier: String,
    pub value: String,
}

/// A result column of a finding's evidence, with its Kusto type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kusto_type: String,
}

/// The result rows behind a finding, as Kusto-typed JSON values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub columns: Vec<EvidenceColumn>,
    pub rows: Vec<Vec<Value>>,
}

/// The data window a rule execution looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// `now - queryPeriod` (Sentinel analytic rules), `from` (Elastic rules); `None` for a
    /// hunting query, whose own filters choose its data.
    pub start: Option<String>,
    /// The hunt's `now`.
    pub end: String,
}

/// One alert raised by a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub rule_kind: RuleKind,
    /// The file the rule came from (`builtin/...` for the built-in pack).
    pub rule_source: String,
    pub severity: Severity,
    /// The rule's risk score, or [`Severity::default_risk_score`] when it has none.
    pub risk_score: u32,
    /// MITRE ATT&CK tactics, Sentinel-style names without spaces (`DefenseEvasion`).
    pub tactics: Vec<String>,
    /// MITRE ATT&CK technique and sub-technique ids (`T1556`, `T1078.004`).
    pub techniques: Vec<String>,
    /// The earliest and latest datetime value in the evidence (e.g. `FirstSeen`/`LastSeen`,
    /// `TimeGenerated`, an anomaly's bucket), or `None` when the evidence holds no datetime.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub window: Window,
    /// Entities from the rule's entity mappings, else the values of its summarize keys.
    pub entities: Vec<Entity>,
    pub evidence: Evidence,
    pub description: String,
    /// Elastic's `note`; for Sentinel content, which has no guide field, the description.
    pub investigation_guide: Option<String>,
}

/// What happened to one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Ran,
    Skipped,
    Failed,
}

/// One rule's line in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRecord {
    pub rule_id: String,
    pub rule_name: String,
    pub rule_kind: RuleKind,
    pub rule_source: String,
    pub status: RuleStatus,
    /// Result rows (or anomaly records above the threshold) the execution produced.
    pub results: usize,
    pub findings: usize,
    /// Why it was skipped or failed, or a note on a run (an unmet trigger, a cap).
    pub reason: Option<String>,
    /// The rule's page (`goshawk rules show`) as an HTML fragment, for the HTML report; the
    /// machine-readable formats leave it out: it is derived from the rule, not from the run.
    #[serde(skip)]
    pub page_html: String,
}

/// A rule execution that produced more alerts than its `max_signals` allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapHit {
    pub rule_id: String,
    pub rule_name: String,
    pub max_signals: usize,
    /// How many alerts the execution would have raised without the cap.
    pub results: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityCount {
    pub severity: Severity,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TacticCount {
    pub tactic: String,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityCount {
    #[serde(rename = "type")]
    pub entity_type: String,
    pub identifier: String,
    pub value: String,
    pub findings: usize,
}

/// The end-of-run summary, as Hayabusa prints one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuntSummary {
    /// The instant the hunt ran as (`--now`).
    pub now: String,
    pub findings: usize,
    /// Every severity, most severe first, zero counts included.
    pub by_severity: Vec<SeverityCount>,
    /// Tactics by findings, most first, then by name.
    pub by_tactic: Vec<TacticCount>,
    /// The entities in the most findings (at most [`TOP_ENTITIES`]).
    pub top_entities: Vec<EntityCount>,
    pub rules_run: usize,
    pub rules_skipped: usize,
    pub rules_failed: usize,
    pub max_signals_hit: Vec<CapHit>,
    /// Content files that did not load (`path:line:column: reason`).
    pub load_errors: Vec<String>,
    /// Every rule considered, by name then id.
    pub rules: Vec<RuleRecord>,
    /// Wall-clock time of the hunt, in milliseconds (the one field that differs between runs).
    pub elapsed_ms: u64,
}

/// How many entities the summary lists.
pub const TOP_ENTITIES: usize = 10;

/// The result of `goshawk hunt`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HuntReport {
    pub findings: Vec<Finding>,
    pub summary: HuntSummary,
}

impl HuntSummary {
    /// Builds the counts from the findings and rule records; `rules` and `findings` must
    /// already be in report order.
    pub fn build(
        now: String,
        findings: &[Finding],
        rules: Vec<RuleRecord>,
        max_signals_hit: Vec<CapHit>,
        load_errors: Vec<String>,
        elapsed_ms: u64,
    ) -> HuntSummary {
        let by_severity = Severity::DESCENDING
            .iter()
            .map(|&severity| SeverityCount {
                severity,
                findings: findings.iter().filter(|f| f.severity == severity).count(),
            })
            .collect();

        let mut tactics: std::collections::BTreeMap<&str, usize> = Default::default();
        for finding in findings {
            for tactic in &finding.tactics {
                *tactics.entry(tactic).or_default() += 1;
            }
        }
        let mut by_tactic: Vec<TacticCount> = tactics
            .into_iter()
            .map(|(tactic, findings)| TacticCount {
                tactic: tactic.to_string(),
                findings,
            })
            .collect();
        by_tactic.sort_by(|a, b| b.findings.cmp(&a.findings).then(a.tactic.cmp(&b.tactic)));

        // An entity counts once per finding, however many rows or identifiers repeat it.
        let mut entities: std::collections::BTreeMap<(&str, &str, &str), usize> =
            Default::default();
        for finding in findings {
            let mut seen: Vec<(&str, &str, &str)> = finding
                .entities
                .iter()
                .filter(|e| !e.value.is_empty())
                .map(|e| {
                    (
                        e.entity_type.as_str(),
                        e.identifier.as_str(),
                        e.value.as_str(),
                    )
                })
                .collect();
            seen.sort();
            seen.dedup();
            for key in seen {
                *entities.entry(key).or_default() += 1;
            }
        }
        let mut top_entities: Vec<EntityCount> = entities
            .into_iter()
            .map(|((entity_type, identifier, value), findings)| EntityCount {
                entity_type: entity_type.to_string(),
                identifier: identifier.to_string(),
                value: value.to_string(),
                findings,
            })
            .collect();
        top_entities.sort_by(|a, b| {
            b.findings
                .cmp(&a.findings)
                .then(a.entity_type.cmp(&b.entity_type))
                .then(a.identifier.cmp(&b.identifier))
                .then(a.value.cmp(&b.value))
        });
        top_entities.truncate(TOP_ENTITIES);

        let count = |status: RuleStatus| rules.iter().filter(|r| r.status == status).count();
        HuntSummary {
            now,
            findings: findings.len(),
            by_severity,
            by_tactic,
            top_entities,
            rules_run: count(RuleStatus::Ran),
            rules_skipped: count(RuleStatus::Skipped),
            rules_failed: count(RuleStatus::Failed),
            max_signals_hit,
            load_errors,
            rules,
            elapsed_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_both_spellings_and_map_to_risk_scores() {
        assert_eq!(Severity::parse("Medium"), Some(Severity::Medium));
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert_eq!(
            Severity::parse(" Informational "),
            Some(Severity::Informational)
        );
        assert_eq!(Severity::parse("severe"), None);
        assert_eq!(Severity::Low.default_risk_score(), 21);
        assert_eq!(Severity::Medium.default_risk_score(), 47);
        assert_eq!(Severity::High.default_risk_score(), 73);
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Informational);
    }
}
