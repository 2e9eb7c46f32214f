//! `goshawk ingest` and `goshawk tables` as a user runs them: exit codes, help, summaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn goshawk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(args)
        .output()
        .expect("goshawk runs")
}

fn samples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/samples");
    assert!(
        dir.is_dir(),
        "the shared corpus is missing at {}",
        dir.display()
    );
    dir
}

#[test]
fn help_documents_the_exit_codes() {
    let output = goshawk(&["ingest", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("3 some records were rejected"), "{help}");
    assert!(help.contains("--table"));
}

#[test]
fn unknown_table_is_a_usage_error() {
    let lake = tempfile::tempdir().unwrap();
    let output = goshawk(&[
        "ingest",
        "x.json",
        "--data",
        lake.path().to_str().unwrap(),
        "--table",
        "Nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown table 'Nope'"));
}

#[test]
fn clean_input_exits_0_rejects_exit_3_and_tables_lists_the_lake() {
    let lake = tempfile::tempdir().unwrap();
    let data = lake.path().to_str().unwrap();
    let records = samples().join("azure_activity/activity_log_records.json");
    let output = goshawk(&[
        "ingest",
        records.to_str().unwrap(),
        "--data",
        data,
        "--format",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["ingested"], 7);

    // The same file again: a duplicate, nothing added, still a success.
    let output = goshawk(&[
        "ingest",
        records.to_str().unwrap(),
        "--data",
        data,
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(0));

    // A CSV export of a table goshawk does not store: every row rejected, exit 3, text summary.
    let office = samples().join("sentinel_training_lab/office_activity_inbox_rule.csv");
    let output = goshawk(&["ingest", office.to_str().unwrap(), "--data", data]);
    assert_eq!(output.status.code(), Some(3));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("2 rejected"), "{text}");
    assert!(text.contains("_rejects"), "{text}");

    let output = goshawk(&["tables", "--data", data, "--format", "json"]);
    assert!(output.status.success());
    let tables: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tables[0]["table"], "AzureActivity");
    assert_eq!(tables[0]["rows"], 7);
    assert_eq!(tables[0]["max_time"], "2025-04-15T10:16:32.9873441Z");
    let output = goshawk(&["tables", "--data", data]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("AzureActivity"));
}

#[test]
fn a_missing_file_does_not_stop_the_others() {
    let lake = tempfile::tempdir().unwrap();
    let records = samples().join("azure_activity/activity_log_records.json");
    let output = goshawk(&[
        "ingest",
        "/nonexistent/input.json",
        records.to_str().unwrap(),
        "--data",
        lake.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["ingested"], 7);
    assert_eq!(summary["unreadable_sources"], 1);
    assert!(
        summary["sources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/input.json")
    );
}
