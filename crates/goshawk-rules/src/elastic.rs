//! Elastic Security content: detection-rule TOML (as in elastic/detection-rules) and
//! anomaly-detection job and datafeed JSON. Fields goshawk does not model are kept in `extra`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One Elastic detection-rule TOML file: `[metadata]` and `[rule]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ElasticRuleFile {
    #[serde(default)]
    pub metadata: BTreeMap<String, toml::Value>,
    pub rule: ElasticRule,
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ElasticRule {
    pub rule_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `query`, `eql`, `threshold`, `machine_learning`, `esql`, `new_terms`, ...
    #[serde(rename = "type")]
    pub rule_type: String,
    /// low, medium, high, critical.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub risk_score: Option<u32>,
    /// How often the rule runs, e.g. `15m`.
    #[serde(default)]
    pub interval: Option<String>,
    /// The start of each run's window, e.g. `now-2h`.
    #[serde(default)]
    pub from: Option<String>,
    /// At most this many alerts per run (Elastic's default is 100).
    #[serde(default)]
    pub max_signals: Option<u32>,
    #[serde(default)]
    pub index: Vec<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub author: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub false_positives: Vec<String>,
    /// The investigation guide (Markdown).
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub setup: Option<String>,
    #[serde(default)]
    pub threat: Vec<Threat>,
    /// One job id, or several (Elastic accepts both).
    #[serde(default)]
    pub machine_learning_job_id: Option<OneOrMany>,
    #[serde(default)]
    pub anomaly_threshold: Option<u32>,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

/// A MITRE ATT&CK mapping: one tactic and the techniques (with sub-techniques) under it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Threat {
    #[serde(default)]
    pub framework: String,
    pub tactic: ThreatEntry,
    #[serde(default)]
    pub technique: Vec<Technique>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ThreatEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Technique {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub subtechnique: Vec<ThreatEntry>,
}

/// An Elastic anomaly-detection job (the `analysis_config` is what goshawk runs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MlJob {
    pub job_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub analysis_config: AnalysisConfig,
    #[serde(default)]
    pub data_description: Option<serde_json::Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnalysisConfig {
    /// e.g. `60m`, `15m`, `1h`.
    pub bucket_span: String,
    pub detectors: Vec<Detector>,
    #[serde(default)]
    pub influencers: Vec<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Detector {
    /// `rare`, `freq_rare`, `count`, `high_count`, `low_count`, `distinct_count`, ...
    pub function: String,
    #[serde(default)]
    pub field_name: Option<String>,
    #[serde(default)]
    pub by_field_name: Option<String>,
    #[serde(default)]
    pub over_field_name: Option<String>,
    #[serde(default)]
    pub partition_field_name: Option<String>,
    #[serde(default)]
    pub detector_description: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// An Elastic datafeed. In goshawk the feed's query may be KQL over the lake (`kql`); an
/// Elasticsearch DSL `query` is kept but cannot run here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Datafeed {
    #[serde(default)]
    pub datafeed_id: Option<String>,
    pub job_id: String,
    #[serde(default)]
    pub indices: Vec<String>,
    #[serde(default)]
    pub kql: Option<String>,
    #[serde(default)]
    pub query: Option<serde_json::Value>,
    #[serde(default)]
    pub query_delay: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
