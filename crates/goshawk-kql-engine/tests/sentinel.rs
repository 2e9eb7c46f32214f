//! Every AADProvisioningLogs reference query of the Sentinel corpus plans and runs on the
//! HUNT-01 fixture table.

use std::path::Path;

use goshawk_kql_engine::catalog::FileCatalog;
use goshawk_kql_engine::session::QueryEngine;

#[tokio::test]
async fn aadprovisioninglogs_reference_queries_run() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let path = corpus.join("sentinel/aadprovisioninglogs_reference.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the shared corpus is missing: cannot read {}: {err}",
            path.display()
        )
    });
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt01_aadprovisioning.jsonl");
    let mut catalog = FileCatalog::new();
    catalog
        .add_file("AADProvisioningLogs", &fixture)
        .expect("fixture loads");
    let now = goshawk_kql_engine::time::parse_datetime("2026-11-22T12:00:00Z").unwrap_or(0);
    let engine = QueryEngine::new(&catalog, now);
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
        let name = case["name"].as_str().unwrap_or("?");
        let query = case["query"].as_str().unwrap_or("");
        count += 1;
        if let Err(err) = engine.query(query).await {
            failures.push(format!("{name}:\n{}", err.render(query, name)));
        }
    }
    assert_eq!(count, 13, "expected the 13 reference queries");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
