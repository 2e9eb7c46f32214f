//! End to end on generated data: `goshawk generate` (scale 1, 30 days) → ingest → the built-in
//! rare jobs. Scenario (c)'s never-failing operations must alert (record_score >= 50) and the
//! benign look-alikes (d1, d2) must alert less; precision and recall are printed for docs/ml.md.

use std::path::Path;

use chrono::{DateTime, Utc};
use goshawk_ml::results::AnomaliesCatalog;
use goshawk_ml::state::StoredRecord;
use goshawk_ml::{JobSpec, RunOptions, builtin_job, run_job};

const END: &str = "2026-05-01T00:00:00Z";
const ALERT: f64 = 50.0;

struct Scenario {
    id: String,
    start: i64,
    end: i64,
    failing: Vec<String>,
    ips: Vec<String>,
}

fn nanos(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn scenarios(dir: &Path) -> Vec<Scenario> {
    let text = std::fs::read_to_string(dir.join("ground_truth.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|v| v["table"] == "AzureActivity")
        .map(|v| {
            let strings = |key: &str| -> Vec<String> {
                v["entities"][key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            Scenario {
                id: v["scenario"].as_str().unwrap().to_string(),
                start: nanos(v["time_start"].as_str().unwrap()),
                end: nanos(v["time_end"].as_str().unwrap()),
                failing: strings("failing_operations"),
                ips: strings("ips"),
            }
        })
        .collect()
}

/// The scenario an alert belongs to: its bucket overlaps the scenario's window, its operation
/// is one the scenario makes fail, and the scenario's IP is among its influencers.
fn label<'a>(record: &StoredRecord, span: i64, scenarios: &'a [Scenario]) -> Option<&'a str> {
    let ips: Vec<&String> = record
        .influencers
        .iter()
        .filter(|(name, _)| name == "source.ip")
        .flat_map(|(_, values)| values)
        .collect();
    scenarios
        .iter()
        .find(|s| {
            record.bucket_start < s.end
                && record.bucket_start + span > s.start
                && record
                    .by_field_value
                    .as_ref()
                    .is_some_and(|v| s.failing.contains(v))
                && s.ips.iter().any(|ip| ips.contains(&ip))
        })
        .map(|s| s.id.as_str())
}

struct Quality {
    alerts: usize,
    by_scenario: std::collections::BTreeMap<String, usize>,
    c_operations_found: usize,
    c_operations: usize,
}

fn quality(records: &[StoredRecord], span: i64, scenarios: &[Scenario]) -> Quality {
    let mut by_scenario = std::collections::BTreeMap::new();
    let mut found = std::collections::BTreeSet::new();
    let alerts: Vec<&StoredRecord> = records.iter().filter(|r| r.record_score >= ALERT).collect();
    for record in &alerts {
        let id = label(record, span, scenarios).unwrap_or("none");
        *by_scenario.entry(id.to_string()).or_insert(0) += 1;
        if id == "c" {
            found.insert(record.by_field_value.clone().unwrap_or_default());
        }
    }
    let c = scenarios.iter().find(|s| s.id == "c").unwrap();
    Quality {
        alerts: alerts.len(),
        by_scenario,
        c_operations_found: found.len(),
        c_operations: c.failing.len(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn scenario_c_alerts_and_the_look_alikes_alert_less() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    let lake = work.path().join("lake");
    let end: DateTime<Utc> = END.parse().unwrap();
    let started = std::time::Instant::now();
    goshawk_generate::generate(&goshawk_generate::GenerateOptions::new(&logs, end)).unwrap();
    let inputs = goshawk_ingest::expand_inputs(&[logs.display().to_string()]).unwrap();
    goshawk_ingest::ingest(
        &lake,
        &inputs.files,
        &goshawk_ingest::IngestOptions::default(),
        &goshawk_ingest::Progress::default(),
    )
    .unwrap();
    eprintln!("generated and ingested in {:?}", started.elapsed());
    let truth = scenarios(&logs);
    let end_nanos = nanos(END);
    for job_id in [
        "azure_activitylogs_rare_event_failures",
        "azure_activitylogs_rare_event_failures_by_caller",
    ] {
        let definition = builtin_job(job_id).unwrap();
        let spec = JobSpec::new(&definition.job, definition.datafeed.as_ref().unwrap()).unwrap();
        // Two runs: the first stops a day before the end, the second resumes from its snapshot.
        let first = RunOptions {
            start: None,
            end: end_nanos - 86_400 * 1_000_000_000,
            reset: false,
            target_partitions: None,
        };
        run_job(&lake, &spec, &first).await.unwrap();
        let second = RunOptions {
            start: None,
            end: end_nanos,
            reset: false,
            target_partitions: None,
        };
        let (state, summary) = run_job(&lake, &spec, &second).await.unwrap();
        eprintln!("{job_id} ran in {:?}", started.elapsed());
        assert_eq!(summary.buckets, 24, "the second run resumes: {summary:?}");
        let span = spec.bucket_span_seconds * 1_000_000_000;
        let q = quality(&state.records, span, &truth);
        let c = q.by_scenario.get("c").copied().unwrap_or(0);
        let d: usize = ["d1", "d2"]
            .iter()
            .map(|id| q.by_scenario.get(*id).copied().unwrap_or(0))
            .sum();
        eprintln!(
            "{job_id}: {} records, {} alerts (score >= {ALERT}): {:?}; scenario c operations alerted {}/{}; precision {:.2}",
            state.records.len(),
            q.alerts,
            q.by_scenario,
            q.c_operations_found,
            q.c_operations,
            c as f64 / q.alerts.max(1) as f64
        );
        for record in &state.records {
            eprintln!(
                "  {} {:.1} {}",
                goshawk_ml::time::format_seconds(record.bucket_start),
                record.record_score,
                record.explanation
            );
        }
        assert!(
            d < c.max(1),
            "{job_id}: look-alikes alert {d} times, (c) {c}"
        );
        if job_id == "azure_activitylogs_rare_event_failures" {
            assert_eq!(
                q.c_operations_found, q.c_operations,
                "every one of (c)'s failing operations alerts"
            );
        }
    }
    // The records are queryable with KQL.
    let catalog = AnomaliesCatalog::open(&lake).unwrap();
    let engine = goshawk_kql_engine::session::QueryEngine::new(&catalog, end_nanos);
    let result = engine
        .query("MLAnomalies | where RecordScore >= 50 and ByFieldValue == 'Microsoft.Authorization/roleAssignments/write' | summarize count() by JobId")
        .await
        .unwrap();
    assert!(result.row_count() >= 1);
}
