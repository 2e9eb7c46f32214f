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
