//! Runs a scheduled rule with `goshawk_rules::hunt::hunt`, the engine `goshawk hunt` uses, and
//! turns its findings into alerts.

use std::sync::Arc;

use async_trait::async_trait;
use goshawk_rules::anomaly::AnomalySource;
use goshawk_rules::findings::{Finding, RuleStatus};
use goshawk_rules::hunt::{HuntOptions, hunt};
use goshawk_rules::{LoadedRule, RuleDocument};

use crate::AppState;
use crate::scheduler::RuleRunner;
use crate::store::NewAlert;

/// Rule runs over the served lake; `machine_learning` rules read their jobs' anomalies from
/// `anomalies` (the ML jobs advance as their buckets close).
pub struct HuntRunner {
    anomalies: Option<Arc<dyn AnomalySource>>,
}

impl HuntRunner {
    pub fn new(anomalies: Option<Arc<dyn AnomalySource>>) -> HuntRunner {
        HuntRunner { anomalies }
    }
}

#[async_trait]
impl RuleRunner for HuntRunner {
    async fn run(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        now_nanos: i64,
        _lookback_nanos: i64,
    ) -> Result<Vec<NewAlert>, String> {
        // hunt() applies the rule's own lookback (queryPeriod, from) relative to `now_nanos`.
        let mut content = vec![rule.clone()];
        content.extend(
            state
                .loaded_rules
                .iter()
                .filter(|r| {
                    matches!(
                        r.document,
                        RuleDocument::MlJob(_) | RuleDocument::Datafeed(_)
                    )
                })
                .cloned(),
        );
        let _reading = state.lake_readers.read().await;
        let catalog = state.catalog();
        let report = hunt(
            catalog.as_ref(),
            &content,
            &[],
            &HuntOptions {
                now_nanos,
                anomalies: self.anomalies.as_deref(),
                ml_since_nanos: None,
                session: None,
            },
        )
        .await;
        if let Some(record) = report.summary.rules.iter().find(|r| r.rule_id == rule.id())
            && record.status == RuleStatus::Failed
        {
            return Err(record
                .reason
                .clone()
                .unwrap_or_else(|| "the rule failed".to_string()));
        }
        Ok(report
            .findings
            .iter()
            .filter(|f| f.rule_id == rule.id())
            .map(|f| alert_of(f, now_nanos))
            .collect())
    }
}

/// The alert for a finding. Its identity is the rule, the first entity and the event window:
/// the earliest and latest event times in the evidence, so the same events seen again by an
/// overlapping lookback give the same alert; without event times, the run's data window.
pub fn alert_of(finding: &Finding, now_nanos: i64) -> NewAlert {
    let parse = |text: &Option<String>| {
        text.as_deref()
            .and_then(goshawk_kql_engine::time::parse_datetime)
    };
    let (start, end) = match (parse(&finding.first_seen), parse(&finding.last_seen)) {
        (Some(first), Some(last)) => (first, last),
        _ => {
            let end =
                goshawk_kql_engine::time::parse_datetime(&finding.window.end).unwrap_or(now_nanos);
            (parse(&finding.window.start).unwrap_or(end), end)
        }
    };
    let entity = finding
        .entities
        .first()
        .map(|e| format!("{}:{}", e.entity_type, e.value))
        .unwrap_or_default();
    NewAlert {
        rule_id: finding.rule_id.clone(),
        rule_name: finding.rule_name.clone(),
        severity: serde_json::to_value(finding.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        tactics: finding.tactics.clone(),
        techniques: finding.techniques.clone(),
        description: finding.description.clone(),
        entity,
        window_start: start,
        window_end: end,
        evidence: serde_json::to_value(&finding.evidence).unwrap_or_default(),
        entities: serde_json::to_value(&finding.entities).unwrap_or_default(),
    }
}
