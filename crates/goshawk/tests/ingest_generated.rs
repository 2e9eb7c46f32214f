//! `goshawk generate` output ingests completely: N generated records give exactly N lake rows
//! with zero rejects, and every planted bad record is in the rejects at its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, generate};
use goshawk_ingest::Lake;
use serde_json::Value;

fn ingest(paths: &[&Path], lake: &Path) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .arg("ingest")
        .args(paths)
        .arg("--data")
        .arg(lake)
        .args(["--format", "json", "--quiet"])
        .output()
        .expect("goshawk runs");
    let summary = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), summary)
}

#[test]
fn generated_logs_ingest_row_for_row() {
    let out = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let gen_dir = out.path().join("gen");
    let summary = generate(&GenerateOptions {
        out_dir: gen_dir.clone(),
        days: 21,
        end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        scale: 1,
        seed: 7,
        with_bad_records: true,
    })
    .expect("generator runs");
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for stream in &summary.streams {
        *expected.entry(stream.table.to_string()).or_default() += stream.records;
    }
    assert!(expected.values().sum::<u64>() > 1000);

    let (code, report) = ingest(
        &[&gen_dir.join("activity"), &gen_dir.join("provisioning")],
        lake.path(),
    );
    assert_eq!(report["rejected"], 0, "{report:#}");
    assert_eq!(code, 0);
    for (table, records) in &expected {
        assert_eq!(report["tables"][table]["ingested"], *records, "{table}");
    }
    let lake_reader = Lake::open(lake.path()).unwrap();
    for table in lake_reader.tables().unwrap() {
        assert_eq!(
            table.stats().unwrap().rows,
            expected[table.name()],
            "{} rows in the Parquet footers",
            table.name()
        );
    }

    // The planted bad records: each one rejected at the file and line the generator lists.
    let (code, report) = ingest(&[&gen_dir.join("bad-records")], lake.path());
    assert_eq!(code, 3, "rejects give exit code 3");
    let listed: Vec<Value> = std::fs::read_to_string(gen_dir.join("bad_records.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["kind"] != "empty_file")
        .collect();
    assert_eq!(report["rejected"], listed.len() as u64, "{report:#}");
    let mut rejected = BTreeSet::new();
    for entry in std::fs::read_dir(lake.path().join("_rejects")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let reject: Value = serde_json::from_str(line).unwrap();
            let source = reject["source"].as_str().unwrap().to_string();
            rejected.insert((source, reject["line"].as_u64().unwrap()));
        }
    }
    for bad in &listed {
        let file = gen_dir.join(bad["file"].as_str().unwrap());
        let key = (file.display().to_string(), bad["line"].as_u64().unwrap());
        assert!(
            rejected.contains(&key),
            "{bad} not rejected; rejects: {rejected:?}"
        );
    }
}
