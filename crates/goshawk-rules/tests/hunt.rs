//! `hunt()` over a small AzureActivity table: hunting queries, analytic rules (window, trigger,
//! event grouping), Elastic query rules (window, max_signals) and machine_learning rules (a fake
//! anomaly source), plus the rules that are skipped or fail while the others still run.

use std::path::Path;
use std::sync::Mutex;

use goshawk_kql_engine::catalog::FileCatalog;
use goshawk_kql_engine::time::parse_datetime;
use goshawk_rules::anomaly::{
    AnomalyRecord, AnomalySource, AnomalySourceError, FieldValue, Influencer,
};
use goshawk_rules::elastic::{Datafeed, MlJob};
use goshawk_rules::findings::{HuntReport, RuleStatus, Severity};
use goshawk_rules::hunt::{HuntOptions, hunt};
use goshawk_rules::report::{ReportFormat, write_report};
use goshawk_rules::{LoadedRule, load_str};

const NOW: &str = "2026-05-01T00:00:00Z";

/// Five failures in the last two hours (alice 3, bob 2), one success, and two old failures of
/// alice's three days earlier.
const ACTIVITY: &str = r#"{"TimeGenerated":"2026-04-30T22:10:00Z","Caller":"alice@contoso.com","CallerIpAddress":"10.0.0.1","OperationNameValue":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-30T22:20:00Z","Caller":"alice@contoso.com","CallerIpAddress":"10.0.0.1","OperationNameValue":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-30T23:30:00Z","Caller":"alice@contoso.com","CallerIpAddress":"10.0.0.1","OperationNameValue":"MICROSOFT.KEYVAULT/VAULTS/READ","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-30T23:40:00Z","Caller":"bob@contoso.com","CallerIpAddress":"10.0.0.2","OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-30T23:50:00Z","Caller":"bob@contoso.com","CallerIpAddress":"10.0.0.2","OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-30T23:55:00Z","Caller":"carol@contoso.com","CallerIpAddress":"10.0.0.3","OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/READ","ActivityStatusValue":"Success"}
{"TimeGenerated":"2026-04-27T10:00:00Z","Caller":"alice@contoso.com","CallerIpAddress":"10.0.0.1","OperationNameValue":"MICROSOFT.KEYVAULT/VAULTS/READ","ActivityStatusValue":"Failure"}
{"TimeGenerated":"2026-04-27T10:05:00Z","Caller":"alice@contoso.com","CallerIpAddress":"10.0.0.1","OperationNameValue":"MICROSOFT.KEYVAULT/VAULTS/READ","ActivityStatusValue":"Failure"}
"#;

fn now() -> i64 {
    parse_datetime(NOW).expect("NOW is a datetime")
}

fn catalog(dir: &Path) -> FileCatalog {
    let path = dir.join("activity.jsonl");
    std::fs::write(&path, ACTIVITY).unwrap();
    let mut catalog = FileCatalog::new();
    catalog.add_file("AzureActivity", &path).unwrap();
    catalog
}

fn rule(name: &str, text: &str) -> LoadedRule {
    load_str(Path::new(name), text).unwrap_or_else(|err| panic!("{err}"))
}

fn hunting_by_caller() -> LoadedRule {
    rule(
        "rules/failures-by-caller.yaml",
        r#"id: 00000000-0000-0000-0000-00000000000a
name: A failures by caller
description: Callers with failed operations.
severity: Low
tactics: [Discovery]
relevantTechniques: [T1526]
query: |
  AzureActivity
  | where ActivityStatusValue == "Failure"
  | summarize Failures = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated) by Caller
  | order by Failures desc
"#,
    )
}

fn analytic(name: &str, id: &str, trigger: &str, grouping: &str) -> LoadedRule {
    rule(
        &format!("rules/{id}.yaml"),
        &format!(
            r#"id: {id}
name: {name}
description: Failed operations per caller in the last two hours.
severity: High
kind: Scheduled
queryFrequency: 1h
queryPeriod: 2h
{trigger}
{grouping}
tactics: [PrivilegeEscalation]
relevantTechniques: [T1098]
query: |
  AzureActivity
  | where ActivityStatusValue == "Failure"
  | summarize Failures = count() by Caller, CallerIpAddress
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: FullName
        columnName: Caller
  - entityType: IP
    fieldMappings:
      - identifier: Address
        columnName: CallerIpAddress
"#
        ),
    )
}

fn elastic_query() -> LoadedRule {
    rule(
        "rules/recent-failures.toml",
        r#"[metadata]
creation_date = "2026/01/01"

[rule]
rule_id = "e0000000-0000-0000-0000-00000000000e"
name = "E recent failures"
description = "Every failed operation."
type = "query"
language = "kql"
severity = "medium"
risk_score = 50
from = "now-2h"
interval = "1h"
max_signals = 2
note = "Ask the caller."
query = '''
AzureActivity
| where ActivityStatusValue == "Failure"
| project TimeGenerated, Caller
| order by TimeGenerated asc
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0005"
name = "Defense Evasion"
reference = "https://attack.mitre.org/tactics/TA0005/"
[[rule.threat.technique]]
id = "T1562"
name = "Impair Defenses"
reference = "https://attack.mitre.org/techniques/T1562/"
[[rule.threat.technique.subtechnique]]
id = "T1562.008"
name = "Disable or Modify Cloud Logs"
reference = "https://attack.mitre.org/techniques/T1562/008/"
"#,
    )
}

fn machine_learning(job: &str) -> LoadedRule {
    rule(
        "rules/rare.toml",
        &format!(
            r#"[rule]
rule_id = "m0000000-0000-0000-0000-00000000000m"
name = "M rare failures"
description = "Rare failed operations."
type = "machine_learning"
severity = "low"
risk_score = 21
from = "now-2h"
interval = "15m"
machine_learning_job_id = "{job}"
anomaly_threshold = 50
note = "Classify the failing operations."

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0007"
name = "Discovery"
"#
        ),
    )
}

fn ml_job() -> LoadedRule {
    rule(
        "rules/rare-job.json",
        r#"{"job_id": "rare_failures", "analysis_config": {"bucket_span": "60m",
            "detectors": [{"function": "rare", "by_field_name": "event.action"}],
            "influencers": ["user.email"]}}"#,
    )
}

/// Records with scores 30, 60 and 90; remembers the window it was asked for.
#[derive(Default)]
struct FakeAnomalies {
    asked: Mutex<Vec<(String, i64, i64)>>,
}

#[async_trait::async_trait]
impl AnomalySource for FakeAnomalies {
    async fn anomalies(
        &self,
        job: &MlJob,
        _datafeed: Option<&Datafeed>,
        window_start_nanos: i64,
        now_nanos: i64,
    ) -> Result<Vec<AnomalyRecord>, AnomalySourceError> {
        self.asked
            .lock()
            .unwrap()
            .push((job.job_id.clone(), window_start_nanos, now_nanos));
        let record = |hour: &str, action: &str, score: f64, user: &str| AnomalyRecord {
            job_id: job.job_id.clone(),
            bucket_start_nanos: parse_datetime(hour).unwrap(),
            bucket_span_seconds: 3600,
            function: "rare".into(),
            by_field: Some(FieldValue {
                name: "event.action".into(),
                value: action.into(),
            }),
            over_field: None,
            partition_field: None,
            probability: 0.001,
            record_score: score,
            initial_record_score: score,
            influencers: vec![Influencer {
                field_name: "user.email".into(),
                values: vec![user.into()],
            }],
            explanation: format!("{action} is rare"),
        };
        Ok(vec![
            record(
                "2026-04-30T23:00:00Z",
                "MICROSOFT.KEYVAULT/VAULTS/READ",
                90.0,
                "alice@contoso.com",
            ),
            record("2026-04-30T22:00:00Z", "LOW/SCORE", 30.0, "bob@contoso.com"),
            record(
                "2026-04-30T22:00:00Z",
                "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
                60.0,
                "alice@contoso.com",
            ),
        ])
    }
}

fn all_rules() -> Vec<LoadedRule> {
    vec![
        hunting_by_caller(),
        analytic(
            "B per result",
            "b",
            "triggerOperator: gt\ntriggerThreshold: 0",
            "eventGroupingSettings:\n  aggregationKind: AlertPerResult",
        ),
        analytic(
            "C trigger not met",
            "c",
            "triggerOperator: gt\ntriggerThreshold: 5",
            "",
        ),
        analytic(
            "D single alert",
            "d",
            "triggerOperator: gt\ntriggerThreshold: 1",
            "",
        ),
        rule(
            "rules/signin.yaml",
            "id: f\nname: F sign-ins\nquery: |\n  SigninLogs | where ResultType != 0\n",
        ),
        rule(
            "rules/broken.yaml",
            "id: g\nname: G broken\nquery: |\n  AzureActivity\n  | where (\n",
        ),
        rule(
            "rules/eql.toml",
            "[rule]\nrule_id = \"h\"\nname = \"H eql\"\ntype = \"eql\"\nlanguage = \"eql\"\nquery = \"process where true\"\n",
        ),
        elastic_query(),
        machine_learning("rare_failures"),
        ml_job(),
    ]
}

async fn run(rules: &[LoadedRule], anomalies: Option<&dyn AnomalySource>) -> HuntReport {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path());
    hunt(
        &catalog,
        rules,
        &[],
        &HuntOptions {
            now_nanos: now(),
            anomalies,
            ml_since_nanos: None,
            session: None,
        },
    )
    .await
}

fn status_of<'a>(report: &'a HuntReport, name: &str) -> &'a goshawk_rules::findings::RuleRecord {
    report
        .summary
        .rules
        .iter()
        .find(|r| r.rule_name == name)
        .unwrap_or_else(|| panic!("no rule {name}"))
}

#[tokio::test]
async fn every_rule_kind_runs_and_bad_rules_do_not_stop_the_others() {
    let fake = FakeAnomalies::default();
    let report = run(&all_rules(), Some(&fake)).await;
    let summary = &report.summary;

    // A hunting query: one finding per row, in the query's order, over all the data.
    let a: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_name == "A failures by caller")
        .collect();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].severity, Severity::Low);
    assert_eq!(
        a[0].risk_score, 21,
        "Sentinel rules get the severity's score"
    );
    assert_eq!(a[0].evidence.rows[0][1], 5, "all of alice's failures");
    assert_eq!(
        a[0].entities[0].identifier, "Caller",
        "group keys are entities"
    );
    assert_eq!(a[0].entities[0].value, "alice@contoso.com");
    assert_eq!(
        a[0].first_seen.as_deref(),
        Some("2026-04-27T10:00:00.0000000Z")
    );
    assert_eq!(
        a[0].last_seen.as_deref(),
        Some("2026-04-30T23:30:00.0000000Z")
    );
    assert_eq!(a[0].window.start, None);

    // An analytic rule sees only its query period: alice's old failures are outside it.
    let b: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_name == "B per result")
        .collect();
    assert_eq!(b.len(), 2, "AlertPerResult: one alert per row");
    assert_eq!(b[0].evidence.rows[0][2], 3);
    assert_eq!(
        b[0].window.start.as_deref(),
        Some("2026-04-30T22:00:00.0000000Z")
    );
    let kinds: Vec<(&str, &str, &str)> = b[0]
        .entities
        .iter()
        .map(|e| {
            (
                e.entity_type.as_str(),
                e.identifier.as_str(),
                e.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Account", "FullName", "alice@contoso.com"),
            ("IP", "Address", "10.0.0.1")
        ]
    );

    let c = status_of(&report, "C trigger not met");
    assert_eq!(
        (c.status.clone(), c.results, c.findings),
        (RuleStatus::Ran, 2, 0)
    );
    assert!(c.reason.as_deref().unwrap().contains("trigger not met"));

    let d: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_name == "D single alert")
        .collect();
    assert_eq!(d.len(), 1, "SingleAlert: one alert for all rows");
    assert_eq!(d[0].evidence.rows.len(), 2);
    assert_eq!(d[0].entities.len(), 4);

    let f = status_of(&report, "F sign-ins");
    assert_eq!(f.status, RuleStatus::Skipped);
    assert_eq!(
        f.reason.as_deref(),
        Some("table SigninLogs is not in the lake")
    );
    let g = status_of(&report, "G broken");
    assert_eq!(g.status, RuleStatus::Failed);
    assert!(
        g.reason
            .as_deref()
            .unwrap()
            .contains("--> rules/broken.yaml (query):"),
        "{g:?}"
    );
    let h = status_of(&report, "H eql");
    assert_eq!(h.status, RuleStatus::Skipped);
    assert!(h.reason.as_deref().unwrap().contains("'eql'"));

    // An Elastic query rule: its window, its risk score, max_signals.
    let e: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_name == "E recent failures")
        .collect();
    assert_eq!(e.len(), 2, "max_signals = 2");
    assert_eq!(e[0].risk_score, 50);
    assert_eq!(e[0].tactics, ["DefenseEvasion"]);
    assert_eq!(e[0].techniques, ["T1562", "T1562.008"]);
    assert_eq!(e[0].investigation_guide.as_deref(), Some("Ask the caller."));
    assert_eq!(summary.max_signals_hit.len(), 1);
    assert_eq!(summary.max_signals_hit[0].max_signals, 2);
    assert_eq!(summary.max_signals_hit[0].results, 5);

    // A machine_learning rule: records at or above the threshold, in time order.
    let m: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_name == "M rare failures")
        .collect();
    assert_eq!(m.len(), 2);
    assert_eq!(
        m[0].entities[0].value,
        "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"
    );
    assert_eq!(m[0].entities[1].entity_type, "user.email");
    assert_eq!(
        m[0].first_seen.as_deref(),
        Some("2026-04-30T22:00:00.0000000Z")
    );
    assert_eq!(
        m[0].last_seen.as_deref(),
        Some("2026-04-30T23:00:00.0000000Z")
    );
    let asked = fake.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [(
            "rare_failures".to_string(),
            now() - 2 * 3_600_000_000_000,
            now()
        )]
    );

    assert_eq!(summary.rules.len(), 9, "the ML job is content, not a rule");
    assert_eq!(
        (
            summary.rules_run,
            summary.rules_skipped,
            summary.rules_failed
        ),
        (6, 2, 1)
    );
    assert_eq!(summary.findings, 2 + 2 + 1 + 2 + 2);
    // Findings are ordered by severity, most severe first.
    assert!(
        report
            .findings
            .windows(2)
            .all(|w| w[0].severity >= w[1].severity)
    );
}

#[tokio::test]
async fn machine_learning_rules_are_skipped_without_a_source_or_a_job() {
    let report = run(&[machine_learning("rare_failures"), ml_job()], None).await;
    let m = status_of(&report, "M rare failures");
    assert_eq!(m.status, RuleStatus::Skipped);
    assert!(m.reason.as_deref().unwrap().contains("ML engine"), "{m:?}");

    let fake = FakeAnomalies::default();
    let report = run(&[machine_learning("no_such_job")], Some(&fake)).await;
    let m = status_of(&report, "M rare failures");
    assert_eq!(m.status, RuleStatus::Skipped);
    assert!(
        m.reason.as_deref().unwrap().contains("'no_such_job'"),
        "{m:?}"
    );
    assert!(fake.asked.lock().unwrap().is_empty());
}

/// The JSON report is stable: same input, same bytes (apart from the elapsed time).
#[tokio::test]
async fn json_report_snapshot() {
    let fake = FakeAnomalies::default();
    let report = run(&all_rules(), Some(&fake)).await;
    let mut json = Vec::new();
    write_report(&report, ReportFormat::Json, &mut json).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    value["summary"]["elapsed_ms"] = 0.into();
    insta::assert_json_snapshot!("hunt_report", value);

    let mut lines = Vec::new();
    write_report(&report, ReportFormat::JsonLines, &mut lines).unwrap();
    let lines = String::from_utf8(lines).unwrap();
    assert_eq!(lines.lines().count(), report.findings.len());
    for (line, finding) in lines
        .lines()
        .zip(&value["findings"].as_array().unwrap().clone())
    {
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(&parsed, finding);
    }

    let mut csv = Vec::new();
    write_report(&report, ReportFormat::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("rule_id,rule_name,rule_kind,"));

    let mut table = Vec::new();
    write_report(&report, ReportFormat::Table, &mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert_eq!(table.lines().count(), 2 + report.findings.len());

    let mut html = Vec::new();
    write_report(&report, ReportFormat::Html, &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<svg") && html.contains("id=\"findings\""));
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
    assert!(!html.contains("<script src") && !html.contains("<link"));
}
