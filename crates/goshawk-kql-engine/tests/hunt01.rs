//! The HUNT-01 seed query on a hand-checked AADProvisioningLogs fixture (JSON Lines).
//!
//! Fixture (tests/fixtures/hunt01_aadprovisioning.jsonl), with now = 2026-11-22T12:00:00Z so
//! the window is TimeGenerated > 2026-10-23T12:00:00Z:
//! * job-A / SP-Alpha / ERR1: 12 failures spelled Failure, failure and FAILURE over exactly 3
//!   days (4 a day), 7 distinct messages, operations Create/Update, targets user1..user4; plus
//!   one failure 1 s before the window, one exactly on its edge (not after it) and one
//!   success, all of which must be ignored.
//! * job-B / "" / ERR2: 10 failures over 2 days; ServicePrincipal is invalid JSON (5 rows),
//!   missing (3 rows) or JSON without a Name (2 rows), all giving SPName "".
//! * job-C / SP-Gamma / ERR3: 9 failures, under the threshold of 10.

use std::path::Path;

use goshawk_kql_engine::catalog::FileCatalog;
use goshawk_kql_engine::output::write_json;
use goshawk_kql_engine::session::QueryEngine;
use serde_json::{Value, json};

const HUNT01: &str = r#"AADProvisioningLogs
| where TimeGenerated > ago(30d)
| where ResultType =~ "Failure"
| extend SPName = tostring(parse_json(ServicePrincipal).Name)
| summarize
    Failures        = count(),
    AffectedTargets = dcount(TargetIdentity),
    ErrorMessages   = make_set(ResultDescription, 5),
    Operations      = make_set(OperationName, 10),
    DistinctDays    = dcount(startofday(TimeGenerated)),
    FirstSeen       = min(TimeGenerated),
    LastSeen        = max(TimeGenerated)
  by JobId, SPName, ResultSignature
| where Failures >= 10
| extend Sustained = DistinctDays >= 3
| order by Failures desc
"#;

fn now() -> i64 {
    goshawk_kql_engine::time::parse_datetime("2026-11-22T12:00:00Z").unwrap_or_default()
}

fn sorted_strings(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("<not a string>").to_string())
                .collect()
        })
        .unwrap_or_default();
    items.sort();
    items
}

#[tokio::test]
async fn hunt01_seed_query_matches_the_hand_computed_result() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt01_aadprovisioning.jsonl");
    let mut catalog = FileCatalog::new();
    catalog
        .add_file("AADProvisioningLogs", &fixture)
        .expect("fixture loads");
    let engine = QueryEngine::new(&catalog, now());
    let result = match engine.query(HUNT01).await {
        Ok(result) => result,
        Err(err) => panic!("{}", err.render(HUNT01, "hunt01")),
    };
    let mut out = Vec::new();
    write_json(&result, &mut out).expect("json");
    let document: Value = serde_json::from_slice(&out).expect("valid json");

    assert_eq!(
        document["columns"],
        json!([
            {"name": "JobId", "type": "string"},
            {"name": "SPName", "type": "string"},
            {"name": "ResultSignature", "type": "string"},
            {"name": "Failures", "type": "long"},
            {"name": "AffectedTargets", "type": "long"},
            {"name": "ErrorMessages", "type": "dynamic"},
            {"name": "Operations", "type": "dynamic"},
            {"name": "DistinctDays", "type": "long"},
            {"name": "FirstSeen", "type": "datetime"},
            {"name": "LastSeen", "type": "datetime"},
            {"name": "Sustained", "type": "bool"}
        ])
    );
    let rows = document["rows"].as_array().expect("rows");
    assert_eq!(
        rows.len(),
        2,
        "job-A (12) and job-B (10); job-C has only 9: {rows:?}"
    );

    let a = &rows[0];
    assert_eq!(a[0], json!("job-A"));
    assert_eq!(a[1], json!("SP-Alpha"));
    assert_eq!(a[2], json!("ERR1"));
    assert_eq!(
        a[3],
        json!(12),
        "the rows outside the window and the success are not counted"
    );
    assert_eq!(
        a[4],
        json!(4),
        "user9 (outside the window) and user8 (success) are not counted"
    );
    let messages = sorted_strings(&a[5]);
    assert_eq!(
        messages.len(),
        5,
        "make_set(..., 5) keeps 5 of the 7 messages: {messages:?}"
    );
    let all_messages: Vec<String> = (1..=7).map(|i| format!("Error {i}")).collect();
    assert!(
        messages.iter().all(|m| all_messages.contains(m)),
        "{messages:?}"
    );
    assert_eq!(sorted_strings(&a[6]), ["Create", "Update"]);
    assert_eq!(a[7], json!(3));
    assert_eq!(a[8], json!("2026-11-01T08:00:00.0000000Z"));
    assert_eq!(a[9], json!("2026-11-03T08:03:00.0000000Z"));
    assert_eq!(a[10], json!(true), "exactly 3 distinct days is sustained");

    let b = &rows[1];
    assert_eq!(b[0], json!("job-B"));
    assert_eq!(
        b[1],
        json!(""),
        "invalid, missing or Name-less ServicePrincipal gives \"\""
    );
    assert_eq!(b[2], json!("ERR2"));
    assert_eq!(
        b[3],
        json!(10),
        "a group of exactly 10 passes the threshold"
    );
    assert_eq!(b[4], json!(1));
    assert_eq!(sorted_strings(&b[5]), ["Quota", "Timeout"]);
    assert_eq!(sorted_strings(&b[6]), ["Sync"]);
    assert_eq!(b[7], json!(2));
    assert_eq!(b[8], json!("2026-11-10T10:00:00.0000000Z"));
    assert_eq!(b[9], json!("2026-11-11T10:04:00.0000000Z"));
    assert_eq!(b[10], json!(false));
}
