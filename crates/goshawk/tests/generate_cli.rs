//! `goshawk generate` as a user runs it: exit codes, summary on stderr, files on disk.

use std::path::Path;
use std::process::{Command, Output};

fn goshawk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(args)
        .output()
        .expect("run the goshawk binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn generate_writes_the_data_set_and_prints_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("lake-input");
    let output = goshawk(&[
        "generate",
        "--out",
        path_arg(&out),
        "--end",
        "2026-05-01T00:00:00Z",
        "--seed",
        "5",
        "--with-bad-records",
    ]);
    let err = stderr(&output);
    assert!(output.status.success(), "exit {:?}: {err}", output.status);
    assert!(
        output.stdout.is_empty(),
        "results only, and generate has none: {:?}",
        output.stdout
    );
    for expected in [
        "Graph API pages",
        "PT1H.json",
        "records/s",
        "5 scenarios",
        "bad records",
    ] {
        assert!(err.contains(expected), "summary lacks {expected:?}: {err}");
    }
    let truth = std::fs::read_to_string(out.join("ground_truth.jsonl")).expect("ground truth");
    let scenarios: Vec<serde_json::Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let ids: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["scenario"].as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d1", "d2"]);
    assert!(out.join("bad_records.jsonl").is_file());
    assert!(
        out.join("activity/storage-account/insights-activity-logs/resourceId=")
            .is_dir()
    );

    // The same arguments into another directory give the same ground truth, byte for byte.
    let again = dir.path().join("again");
    let output = goshawk(&[
        "generate",
        "--out",
        path_arg(&again),
        "--end",
        "2026-05-01",
        "--seed",
        "5",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let truth_again = std::fs::read_to_string(again.join("ground_truth.jsonl")).expect("truth");
    assert_eq!(truth, truth_again);
    assert!(!again.join("bad_records.jsonl").exists());
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let output = goshawk(&["generate", "--out", path_arg(&out), "--end", "yesterday"]);
    assert_eq!(output.status.code(), Some(2), "usage error");
    assert!(
        stderr(&output).contains("neither an RFC 3339 datetime"),
        "{}",
        stderr(&output)
    );

    let output = goshawk(&[
        "generate",
        "--out",
        path_arg(&out),
        "--end",
        "2026-05-01",
        "--days",
        "5",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--days"), "{}", stderr(&output));

    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "keep me").expect("write");
    let output = goshawk(&["generate", "--out", path_arg(&out), "--end", "2026-05-01"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not empty"), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt"))
            .ok()
            .as_deref(),
        Some("keep me")
    );
}

/// The contract with `goshawk ingest`: every listed bad record is rejected at its file and
/// line, and nothing else is. An empty file holds no record to reject, so it is only listed.
#[test]
fn ingest_rejects_exactly_the_listed_bad_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("generated");
    let output = goshawk(&[
        "generate",
        "--out",
        path_arg(&out),
        "--end",
        "2026-05-01",
        "--with-bad-records",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lake = dir.path().join("lake");
    // The whole output directory, as a user would: its .goshawkignore keeps the answer keys
    // (ground_truth.jsonl, bad_records.jsonl) out.
    let output = goshawk(&[
        "ingest",
        "--quiet",
        "--data",
        path_arg(&lake),
        path_arg(&out),
    ]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "some records rejected: {}",
        stderr(&output)
    );

    let manifest = std::fs::read_to_string(out.join("bad_records.jsonl")).expect("manifest");
    let mut expected = std::collections::BTreeSet::new();
    for line in manifest.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("manifest line");
        if entry["kind"] == "empty_file" {
            continue;
        }
        let file = out.join(entry["file"].as_str().expect("file"));
        expected.insert((
            file.display().to_string(),
            entry["line"].as_u64().expect("line"),
        ));
    }
    let mut rejected = std::collections::BTreeSet::new();
    let rejects = lake.join("_rejects");
    for file in std::fs::read_dir(&rejects).expect("the lake's rejects directory") {
        let text = std::fs::read_to_string(file.expect("entry").path()).expect("rejects file");
        for line in text.lines() {
            let reject: serde_json::Value = serde_json::from_str(line).expect("reject line");
            let source = reject["source"].as_str().expect("source").to_string();
            rejected.insert((source, reject["line"].as_u64().expect("line")));
        }
    }
    assert_eq!(rejected, expected);
}

/// Generated logs ingest with zero rejects, and every record lands in the lake: the summary's
/// per-table counts equal the generator's.
#[test]
fn the_whole_output_directory_ingests_with_zero_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("generated");
    let output = goshawk(&[
        "generate",
        "--out",
        path_arg(&out),
        "--end",
        "2026-05-01",
        "--days",
        "21",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    // "total: 1340 files, 3677 records, ..." on stderr.
    let summary_line = stderr(&output);
    let generated_records: u64 = summary_line
        .lines()
        .find_map(|l| l.strip_prefix("total: "))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|records| records.strip_suffix(" records"))
        .and_then(|n| n.parse().ok())
        .expect("the generator's summary gives its record count");
    let lake = dir.path().join("lake");
    let output = goshawk(&[
        "ingest",
        "--format",
        "json",
        "--data",
        path_arg(&lake),
        path_arg(&out),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("summary JSON");
    assert_eq!(summary["rejected"], 0);
    let ignored: Vec<&str> = summary["ignored_inputs"]
        .as_array()
        .expect("ignored inputs")
        .iter()
        .map(|p| p.as_str().expect("path").rsplit('/').next().expect("name"))
        .collect();
    assert_eq!(ignored, [".goshawkignore", "ground_truth.jsonl"]);

    let generated =
        String::from_utf8_lossy(&goshawk(&["tables", "--data", path_arg(&lake)]).stdout)
            .to_string();
    assert!(generated.contains("AADProvisioningLogs") && generated.contains("AzureActivity"));
    let ingested: u64 = summary["ingested"].as_u64().expect("ingested");
    let per_table: u64 = summary["tables"]
        .as_object()
        .expect("tables")
        .values()
        .map(|t| t["ingested"].as_u64().expect("count"))
        .sum();
    assert_eq!(ingested, per_table);
    assert_eq!(
        ingested, generated_records,
        "every generated record is in the lake"
    );
}
