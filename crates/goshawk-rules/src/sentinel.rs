//! Microsoft Sentinel content in its YAML format: hunting queries and scheduled (or NRT)
//! analytic rules, as published in the Azure-Sentinel repository. Fields goshawk does not model
//! are kept in `extra`, so nothing the author wrote is lost.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_norway::Value;

/// One Sentinel YAML file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentinelRule {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Informational, Low, Medium or High.
    #[serde(default)]
    pub severity: Option<String>,
    /// `Scheduled` or `NRT` for analytic rules; absent for hunting queries.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub required_data_connectors: Vec<DataConnector>,
    /// How often an analytic rule runs, e.g. `1h`, `5m`, `1d`.
    #[serde(default)]
    pub query_frequency: Option<String>,
    /// How far back each run looks.
    #[serde(default)]
    pub query_period: Option<String>,
    /// `gt`, `lt`, `eq`, `ne` (also spelled `GreaterThan`, ...).
    #[serde(default)]
    pub trigger_operator: Option<String>,
    #[serde(default)]
    pub trigger_threshold: Option<i64>,
    #[serde(default)]
    pub suppression_enabled: Option<bool>,
    #[serde(default)]
    pub suppression_duration: Option<String>,
    #[serde(default)]
    pub tactics: Vec<String>,
    #[serde(default)]
    pub relevant_techniques: Vec<String>,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub entity_mappings: Vec<EntityMapping>,
    #[serde(default)]
    pub event_grouping_settings: Option<EventGroupingSettings>,
    /// Alert field name to result column.
    #[serde(default)]
    pub custom_details: BTreeMap<String, String>,
    #[serde(default)]
    pub alert_details_override: Option<AlertDetailsOverride>,
    #[serde(default)]
    pub incident_configuration: Option<Value>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub tags: Vec<Value>,
    /// Everything else in the file (`metadata`, `status`, `author`...), kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataConnector {
    #[serde(default)]
    pub connector_id: String,
    #[serde(default)]
    pub data_types: Vec<String>,
}

/// Which result column fills an entity identifier (Account.FullName, IP.Address, ...).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityMapping {
    pub entity_type: String,
    #[serde(default)]
    pub field_mappings: Vec<FieldMapping>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMapping {
    pub identifier: String,
    pub column_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGroupingSettings {
    /// `SingleAlert` or `AlertPerResult`.
    pub aggregation_kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertDetailsOverride {
    #[serde(default)]
    pub alert_display_name_format: Option<String>,
    #[serde(default)]
    pub alert_description_format: Option<String>,
    #[serde(default)]
    pub alert_severity_column_name: Option<String>,
    #[serde(default)]
    pub alert_tactics_column_name: Option<String>,
}

impl SentinelRule {
    /// A hunting query has no schedule; an analytic rule has a `kind` or a `queryFrequency`.
    pub fn is_analytic_rule(&self) -> bool {
        self.kind.is_some() || self.query_frequency.is_some()
    }

    /// The tables the rule declares it needs (`requiredDataConnectors[].dataTypes`), without
    /// qualifiers such as `SecurityAlert (ASC)`.
    pub fn data_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .required_data_connectors
            .iter()
            .flat_map(|c| &c.data_types)
            .map(|t| t.split_whitespace().next().unwrap_or("").to_string())
            .filter(|t| !t.is_empty())
            .collect();
        types.sort();
        types.dedup();
        types
    }
}
