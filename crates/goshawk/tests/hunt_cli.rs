//! `goshawk hunt` on the generator's lake: HUNT-01 reports the planted scenarios (a) and (b);
//! its numbers equal DuckDB SQL over the same Parquet files; the JSON and JSON Lines outputs are
//! stable (snapshots); the HTML report renders in headless Chromium.
//!
//! DuckDB and Chromium come from `.ci/setup-test-tools` (override with GOSHAWK_TEST_PYTHON and
//! GOSHAWK_TEST_CHROMIUM). Without them these checks fail when CI is set and are skipped with a
//! message otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use goshawk_generate::{GROUND_TRUTH, GenerateOptions, generate};
use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};
use goshawk_kql_engine::time::parse_datetime;
use serde_json::Value;

const HUNT01_ID: &str = "aa1f0001-2001-4201-9201-aadprov-hunt01";
const NOW: &str = "2026-05-01T00:00:00Z";

/// Generated logs (with their ground truth) and the lake they were ingested into.
struct Fixture {
    _dir: tempfile::TempDir,
    raw: PathBuf,
    lake: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let lake = dir.path().join("lake");
    generate(&GenerateOptions {
        out_dir: raw.clone(),
        days: 30,
        end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        scale: 1,
        seed: 1,
        with_bad_records: false,
    })
    .expect("the generator runs");
    let inputs = expand_inputs(&[raw.display().to_string()]).unwrap();
    let summary = ingest(
        &lake,
        &inputs.files,
        &IngestOptions::default(),
        &Progress::default(),
    )
    .expect("the generated logs ingest");
    assert!(summary.is_complete());
    Fixture {
        _dir: dir,
        raw,
        lake,
    }
}

fn hunt(lake: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .arg("hunt")
        .arg("--data")
        .arg(lake)
        .args(["--now", NOW])
        .args(extra)
        .output()
        .expect("goshawk runs")
}

fn hunt_json(lake: &Path) -> Value {
    let output = hunt(lake, &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "exit {:?}: {stderr}",
        output.status.code()
    );
    assert!(stderr.contains("Results summary"), "{stderr}");
    serde_json::from_slice(&output.stdout).expect("valid JSON")
}

fn hunt01_findings(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == HUNT01_ID)
        .cloned()
        .collect()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test tool: the env override, else the first existing default; `None` (after saying why)
/// means skip, and under CI a missing tool fails the test.
fn tool(env: &str, defaults: &[PathBuf]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = defaults.iter().find(|p| p.exists()) {
        return Some(found.clone());
    }
    let message =
        format!("{env} is not set and none of {defaults:?} exists: run .ci/setup-test-tools");
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// One lake for every check: generating and ingesting it is most of the test's time.
#[test]
fn hunt_on_the_generated_lake() {
    let fixture = fixture();
    let report = hunt_json(&fixture.lake);
    planted_scenarios_and_stable_json_and_jsonl(&fixture, &report);
    hunt01_numbers_equal_duckdb_over_the_same_parquet_files(&fixture, &report);
    html_report_renders_in_headless_chromium(&fixture);
}

/// A set's order is up to the engine (in Kusto too) and varies between runs, so sets are
/// compared sorted; and `make_set(x, 5)` over a group with more than 5 values keeps 5 of them,
/// which ones also varying, so a capped set is compared by size (the DuckDB check tests its
/// members).
fn without_capped_sets(findings: &[Value]) -> Vec<Value> {
    let mut findings = findings.to_vec();
    for finding in &mut findings {
        let columns: Vec<String> = finding["evidence"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        for row in finding["evidence"]["rows"].as_array_mut().unwrap() {
            for (cell, name) in row.as_array_mut().unwrap().iter_mut().zip(&columns) {
                let cap = match name.as_str() {
                    "ErrorMessages" => 5,
                    "Operations" => 10,
                    _ => continue,
                };
                if let Some(set) = cell.as_array_mut() {
                    if set.len() == cap {
                        *cell = Value::String(format!("{cap} values chosen by make_set"));
                    } else {
                        set.sort_by_key(ToString::to_string);
                    }
                }
            }
        }
    }
    findings
}

fn planted_scenarios_and_stable_json_and_jsonl(fixture: &Fixture, report: &Value) {
    let findings = hunt01_findings(report);
    assert!(!findings.is_empty());

    // Every planted provisioning scenario's job is among HUNT-01's findings.
    let truth = std::fs::read_to_string(fixture.raw.join(GROUND_TRUTH)).unwrap();
    let mut planted = Vec::new();
    for line in truth.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        if let Some(job) = entry["entities"]["job_id"].as_str() {
            planted.push((
                entry["scenario"].as_str().unwrap().to_string(),
                job.to_string(),
            ));
        }
    }
    let scenarios: Vec<&str> = planted.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(scenarios, ["a", "b"]);
    for (scenario, job) in &planted {
        assert!(
            findings
                .iter()
                .any(|f| f["evidence"]["rows"][0][0] == job.as_str()),
            "scenario ({scenario}) job {job} is not among the findings"
        );
    }
    let hunt01 = report["summary"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == HUNT01_ID)
        .unwrap();
    assert_eq!(hunt01["status"], "ran");
    let findings = without_capped_sets(&findings);
    insta::assert_json_snapshot!("hunt01_findings", findings);

    // JSON Lines: one finding per line, the same objects in the same order.
    let output = hunt(&fixture.lake, &["--format", "jsonl"]);
    assert_eq!(output.status.code(), Some(3), "findings were raised");
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), report["findings"].as_array().unwrap().len());
    let jsonl_hunt01: Vec<Value> = without_capped_sets(
        &lines
            .into_iter()
            .filter(|f| f["rule_id"] == HUNT01_ID)
            .collect::<Vec<_>>(),
    );
    assert_eq!(jsonl_hunt01, findings);
    let text: String = jsonl_hunt01.iter().map(|f| format!("{f}\n")).collect();
    insta::assert_snapshot!("hunt01_findings_jsonl", text);

    // The same run twice gives the same report, apart from the elapsed time and capped sets.
    let normalise = |report: &Value| {
        let mut report = report.clone();
        report["summary"]["elapsed_ms"] = 0.into();
        let findings = without_capped_sets(report["findings"].as_array().unwrap());
        report["findings"] = Value::Array(findings);
        report
    };
    assert_eq!(normalise(report), normalise(&hunt_json(&fixture.lake)));
}

/// HUNT-01 in DuckDB SQL, written from the rule's text, not from goshawk's plan: Kusto's `=~`
/// is a case-insensitive equality, `tostring(parse_json(x).Name)` is "" when x is not JSON or
/// has no Name, and `dcount` is exact here (DuckDB's `count(DISTINCT ...)`; every count is
/// below 1,000, where goshawk's dcount is exact too).
const DUCKDB_HUNT01: &str = r#"
import json, sys, duckdb
con = duckdb.connect()
rows = con.execute("""
WITH failures AS (
  SELECT
    coalesce(JobId, '') AS JobId,
    CASE WHEN ServicePrincipal IS NOT NULL AND json_valid(ServicePrincipal)
              AND json_type(ServicePrincipal) = 'OBJECT'
         THEN coalesce(json_extract_string(ServicePrincipal, '$.Name'), '')
         ELSE '' END AS SPName,
    coalesce(ResultSignature, '') AS ResultSignature,
    TargetIdentity, ResultDescription, OperationName, TimeGenerated
  FROM read_parquet(?)
  WHERE epoch_ns(TimeGenerated) > ? - 30 * 86400000000000
    AND lower(ResultType) = 'failure'
)
SELECT JobId, SPName, ResultSignature,
  count(*) AS Failures,
  count(DISTINCT TargetIdentity) AS AffectedTargets,
  list(DISTINCT coalesce(ResultDescription, '')) AS ErrorMessages,
  list(DISTINCT coalesce(OperationName, '')) AS Operations,
  count(DISTINCT epoch_ns(TimeGenerated) // 86400000000000) AS DistinctDays,
  min(epoch_ns(TimeGenerated)) AS FirstSeen,
  max(epoch_ns(TimeGenerated)) AS LastSeen
FROM failures
GROUP BY JobId, SPName, ResultSignature
HAVING count(*) >= 10
ORDER BY Failures DESC
""", [sys.argv[1], int(sys.argv[2])]).fetchall()
names = ["JobId", "SPName", "ResultSignature", "Failures", "AffectedTargets",
         "ErrorMessages", "Operations", "DistinctDays", "FirstSeen", "LastSeen"]
print(json.dumps([dict(zip(names, row)) for row in rows]))
"#;

fn hunt01_numbers_equal_duckdb_over_the_same_parquet_files(fixture: &Fixture, report: &Value) {
    let default_python = workspace_root().join(".venv-ci/bin/python");
    let Some(python) = tool("GOSHAWK_TEST_PYTHON", &[default_python]) else {
        return;
    };
    let findings = hunt01_findings(report);

    let glob = fixture.lake.join("AADProvisioningLogs/**/*.parquet");
    let output = Command::new(&python)
        .args(["-c", DUCKDB_HUNT01])
        .arg(&glob)
        .arg(parse_datetime(NOW).unwrap().to_string())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(!expected.is_empty());

    // Each finding is one HUNT-01 row; compare them by group key (ties in Failures may come in
    // either order).
    let columns: Vec<String> = findings[0]["evidence"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        columns,
        [
            "JobId",
            "SPName",
            "ResultSignature",
            "Failures",
            "AffectedTargets",
            "ErrorMessages",
            "Operations",
            "DistinctDays",
            "FirstSeen",
            "LastSeen",
            "Sustained"
        ]
    );
    let mut actual: BTreeMap<(String, String, String), BTreeMap<String, Value>> = BTreeMap::new();
    for finding in &findings {
        let rows = finding["evidence"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "a hunting query raises one finding per row");
        let row: BTreeMap<String, Value> = columns
            .iter()
            .cloned()
            .zip(rows[0].as_array().unwrap().iter().cloned())
            .collect();
        let key = (
            row["JobId"].as_str().unwrap().to_string(),
            row["SPName"].as_str().unwrap().to_string(),
            row["ResultSignature"].as_str().unwrap().to_string(),
        );
        assert!(actual.insert(key, row).is_none(), "duplicate group");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "groups: goshawk {actual:#?}\nDuckDB {expected:#?}"
    );

    let failures: Vec<i64> = findings
        .iter()
        .map(|f| f["evidence"]["rows"][0][3].as_i64().unwrap())
        .collect();
    assert!(
        failures.windows(2).all(|w| w[0] >= w[1]),
        "order by Failures desc"
    );

    for want in &expected {
        let key = (
            want["JobId"].as_str().unwrap().to_string(),
            want["SPName"].as_str().unwrap().to_string(),
            want["ResultSignature"].as_str().unwrap().to_string(),
        );
        let got = actual
            .get(&key)
            .unwrap_or_else(|| panic!("goshawk has no group {key:?}"));
        for exact in ["Failures", "AffectedTargets", "DistinctDays"] {
            assert!(
                want[exact].as_i64().unwrap() < 1000,
                "dcount exactness holds below 1,000"
            );
            assert_eq!(got[exact], want[exact], "{exact} of {key:?}");
        }
        for (column, limit) in [("ErrorMessages", 5), ("Operations", 10)] {
            let all: Vec<&Value> = want[column].as_array().unwrap().iter().collect();
            let set = got[column].as_array().unwrap();
            assert_eq!(
                set.len(),
                all.len().min(limit),
                "{column} of {key:?}: {set:?} vs {all:?}"
            );
            for value in set {
                assert!(
                    all.contains(&value),
                    "{column} of {key:?}: {value} is not in {all:?}"
                );
                assert_eq!(
                    set.iter().filter(|v| *v == value).count(),
                    1,
                    "a set has no repeats"
                );
            }
        }
        for column in ["FirstSeen", "LastSeen"] {
            let nanos = parse_datetime(got[column].as_str().unwrap()).unwrap();
            assert_eq!(nanos, want[column].as_i64().unwrap(), "{column} of {key:?}");
        }
        assert_eq!(
            got["Sustained"],
            Value::Bool(want["DistinctDays"].as_i64().unwrap() >= 3),
            "Sustained of {key:?}"
        );
    }
}

fn html_report_renders_in_headless_chromium(fixture: &Fixture) {
    let Some(chromium) = tool(
        "GOSHAWK_TEST_CHROMIUM",
        &[PathBuf::from("/usr/bin/chromium")],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let output = hunt(
        &fixture.lake,
        &["--format", "html", "--output", report.to_str().unwrap()],
    );
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Provisioning Failures by Job and Error (30d)"));
    assert!(html.contains("<svg"), "the timeline chart");
    assert!(
        !html.contains("<script src") && !html.contains("<link "),
        "self-contained"
    );

    let screenshot = dir.path().join("report.png");
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium runs");
    assert!(
        screenshot.exists(),
        "no screenshot; chromium said: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&screenshot).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 900));
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut dark = 0usize;
    for pixel in pixels.chunks(channels) {
        colours.insert(pixel[..3.min(channels)].to_vec());
        if pixel[..3.min(channels)].iter().all(|&c| c < 80) {
            dark += 1;
        }
    }
    // A blank page is one colour; the report has a dark header, text, badges and the chart.
    assert!(colours.len() > 20, "only {} colours", colours.len());
    assert!(dark > 1280 * 20, "too little dark ink: {dark} pixels");
}
