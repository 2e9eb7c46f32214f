//! `goshawk ml`: list the built-in jobs, run them over a lake, read their records back.

use std::path::Path;
use std::process::Command;

fn goshawk(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A lake holding the corpus's real Azure Activity sample.
fn sample_lake(dir: &Path) -> String {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/samples/azure_activity/activity_log_records.json");
    let lake = dir.join("lake").display().to_string();
    let (code, _, stderr) = goshawk(&["ingest", &sample.display().to_string(), "--data", &lake]);
    assert_eq!(code, Some(0), "{stderr}");
    lake
}

#[test]
fn lists_the_four_builtin_jobs() {
    let (code, stdout, stderr) = goshawk(&["ml", "list", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["job_id"].to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "\"azure_activitylogs_rare_event_failures\"",
            "\"azure_activitylogs_rare_event_failures_by_caller\"",
            "\"azure_activitylogs_high_count_failures\"",
            "\"azure_activitylogs_rare_operation_for_user\"",
        ]
    );
}

#[test]
fn runs_resumes_and_shows_results() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let run = |end: &str| {
        goshawk(&[
            "ml",
            "run",
            "--data",
            &lake,
            "--job",
            "azure_activitylogs_rare_operation_for_user",
            "--end",
            end,
            "--format",
            "json",
        ])
    };
    let (code, stdout, stderr) = run("2030-01-01T00:00:00Z");
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(summary["events"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["buckets"].as_u64().unwrap() > 0, "{summary}");
    // Nothing new to learn: the second run resumes at the end of the first.
    let (code, stdout, stderr) = run("2030-01-01T00:00:00Z");
    assert_eq!(code, Some(0), "{stderr}");
    let again: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(again["buckets"], 0, "{again}");
    assert_eq!(again["records"], summary["records"]);

    let (code, stdout, stderr) = goshawk(&[
        "ml",
        "results",
        "--data",
        &lake,
        "-q",
        "MLAnomalies | summarize n = count()",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("{}", summary["records"])),
        "{stdout}"
    );

    let (code, stdout, _) = goshawk(&["ml", "list", "--data", &lake]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("azure_activitylogs_rare_operation_for_user  [60m] rare by event.action partition user.name  (processed until 2030-01-01T00:00:00Z"),
        "{stdout}"
    );
}

#[test]
fn a_job_file_with_its_datafeed_runs_and_bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        r#"{"job_id": "ops_per_caller", "analysis_config": {"bucket_span": "1d",
            "detectors": [{"function": "high_distinct_count", "field_name": "OperationNameValue",
            "partition_field_name": "Caller"}], "influencers": ["CallerIpAddress"]},
            "datafeed_config": {"kql": "AzureActivity | project TimeGenerated, OperationNameValue, Caller, CallerIpAddress"}}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = goshawk(&[
        "ml",
        "run",
        "--data",
        &lake,
        "--job",
        &job.display().to_string(),
        "--end",
        "2030-01-01",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("ops_per_caller: "), "{stdout}");

    let (code, _, stderr) = goshawk(&["ml", "run", "--data", &lake, "--job", "no_such_job"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no job named 'no_such_job'"), "{stderr}");
}
