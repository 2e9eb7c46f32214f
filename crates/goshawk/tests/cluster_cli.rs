//! `goshawk scheduler`, `goshawk executor` and `--cluster` (feature `distributed`): a scheduler
//! and two executors, separate processes on 127.0.0.1, run HUNT-01 and five queries with joins,
//! mv-expand and dynamic access over a generated lake and return exactly the local results;
//! the same lake read by URL (`file://`) gives the same results; an operator that only runs in
//! goshawk's process fails with its name; `hunt --cluster` raises HUNT-01's local findings.
#![cfg(feature = "distributed")]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, generate};
use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};
use serde_json::Value;

const NOW: &str = "2026-05-01T00:00:00Z";

const HUNT01: &str = include_str!("fixtures/check/hunt01.kql");

/// Queries with joins, mv-expand and dynamic access, each with the columns that order its
/// rows (empty: the row order is unspecified and rows compare as a multiset).
const QUERIES: &[(&str, &str)] = &[
    (
        "join: failure rate per job, failures joined to all runs",
        r#"AADProvisioningLogs
| where ResultType =~ "Failure"
| summarize Failures = count() by JobId
| join kind=inner (AADProvisioningLogs | summarize Runs = count() by JobId) on JobId
| project JobId, Failures, Runs, Rate = round(todouble(Failures) / Runs, 4)"#,
    ),
    (
        "mv-expand: modified property names of failed provisioning",
        r#"AADProvisioningLogs
| where ResultType =~ "Failure"
| mv-expand Property = parse_json(ModifiedProperties)
| extend PropertyName = tostring(Property.displayName)
| summarize Count = count() by PropertyName, ResultSignature"#,
    ),
    (
        "dynamic access: callers and their claims' issuers, failed operations",
        r#"AzureActivity
| where ActivityStatusValue =~ "Failure"
| extend Issuer = tostring(Claims_d.iss), Scope = tostring(Authorization_d.scope)
| summarize Failures = count(), Scopes = dcount(Scope) by Caller, Issuer, OperationNameValue"#,
    ),
    (
        "leftouter join on a dynamic key, then mv-expand of a set",
        r#"AzureActivity
| extend Role = tostring(Authorization_d.evidence.role)
| summarize Operations = make_set(OperationNameValue) by Caller, Role
| join kind=leftouter (
    AzureActivity
    | where ActivityStatusValue =~ "Failure"
    | summarize Failed = count() by Caller
  ) on Caller
| mv-expand Operation = Operations to typeof(string)
| project Caller, Role, Operation, Failed = coalesce(Failed, 0)"#,
    ),
    (
        "service principals of failures by day, a join of two summaries",
        r#"let failures = AADProvisioningLogs
    | where ResultType =~ "Failure"
    | extend SP = tostring(parse_json(ServicePrincipal).Name), Day = startofday(TimeGenerated)
    | summarize Failures = count() by SP, Day;
let targets = AADProvisioningLogs
    | extend SP = tostring(parse_json(ServicePrincipal).Name), Target = tostring(parse_json(TargetIdentity).Id)
    | summarize Targets = dcount(Target) by SP;
failures
| join kind=inner targets on SP
| project SP, Day, Failures, Targets"#,
    ),
    (
        "union of three inputs (two executors with two task slots each used to hang on it)",
        r#"union withsource=Source
    (AzureActivity | summarize Events = count() by Caller),
    (AADProvisioningLogs | summarize Events = count() by Caller = JobId),
    (AzureActivity | where ActivityStatusValue =~ "Failure" | summarize Events = count() by Caller)
| project Source, Caller, Events"#,
    ),
    (
        "union of three single-row inputs: one stage of three tasks that ran at once",
        r#"union withsource=Source (print x = 1), (print x = toint(2)), (print x_long = 3)"#,
    ),
    (
        "timespan arithmetic with reals: a constant-folded timespan literal times a real",
        r#"AzureActivity
| summarize Events = count() by Caller
| extend Weight = Events * 1.5
| extend Window = Weight * 1s, Half = 30m * 0.5, PerEvent = 1h / Events
| project Caller, Events, Window, Half, PerEvent"#,
    ),
];

struct Lake {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn lake() -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let path = dir.path().join("lake");
    generate(&GenerateOptions {
        out_dir: raw.clone(),
        days: 30,
        end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        scale: 1,
        seed: 7,
        with_bad_records: false,
    })
    .expect("the generator runs");
    let inputs = expand_inputs(&[raw.display().to_string()]).unwrap();
    let summary = ingest(
        &path,
        &inputs.files,
        &IngestOptions::default(),
        &Progress::default(),
    )
    .expect("the generated logs ingest");
    assert!(summary.is_complete());
    Lake { _dir: dir, path }
}

/// A process killed when the test ends, pass or fail.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port whose successor is free too (an executor listens on both).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports");
}

fn wait_listening(port: u16, what: &str, process: &mut Process) {
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("{what} exited with {status} before listening on {port}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Cluster {
    url: String,
    _processes: Vec<Process>,
}

fn start_cluster(work: &Path) -> Cluster {
    let goshawk = env!("CARGO_BIN_EXE_goshawk");
    let scheduler_port = free_port_pair();
    let mut scheduler = Process(
        Command::new(goshawk)
            .args([
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{scheduler_port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("goshawk scheduler starts"),
    );
    wait_listening(scheduler_port, "the scheduler", &mut scheduler);
    let mut processes = vec![scheduler];
    for index in 0..2 {
        let port = free_port_pair();
        let work_dir = work.join(format!("executor-{index}"));
        std::fs::create_dir_all(&work_dir).unwrap();
        let mut executor = Process(
            Command::new(goshawk)
                .arg("executor")
                .args(["--scheduler", &format!("127.0.0.1:{scheduler_port}")])
                .args(["--bind", &format!("127.0.0.1:{port}")])
                .args(["--concurrent-tasks", "2"])
                .arg("--work-dir")
                .arg(&work_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("goshawk executor starts"),
        );
        wait_listening(port, "an executor", &mut executor);
        processes.push(executor);
    }
    Cluster {
        url: format!("df://127.0.0.1:{scheduler_port}"),
        _processes: processes,
    }
}

fn query(data: &str, cluster: Option<&str>, text: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_goshawk"));
    command
        .args(["query", "--data", data, "--now", NOW, "--format", "jsonl"])
        .args(["-q", text]);
    if let Some(url) = cluster {
        command.args(["--cluster", url]);
    }
    command.output().expect("goshawk query runs")
}

/// The rows of a successful query (JSON Lines), as JSON objects.
fn rows(output: &Output, what: &str) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(!rows.is_empty(), "{what}: no rows, nothing is compared");
    assert!(
        rows.iter().all(Value::is_object),
        "{what}: rows are objects"
    );
    rows
}

/// Sets (`make_set`) have no order in Kusto: sorted, they compare by content.
fn canonical(row: &Value) -> String {
    fn sort_arrays(value: &Value) -> Value {
        match value {
            Value::Array(items) => {
                let mut items: Vec<Value> = items.iter().map(sort_arrays).collect();
                items.sort_by_key(|item| item.to_string());
                Value::Array(items)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), sort_arrays(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    sort_arrays(row).to_string()
}

fn assert_same(local: &[Value], distributed: &[Value], ordered_by: Option<&str>, what: &str) {
    assert_eq!(local.len(), distributed.len(), "{what}: row counts differ");
    if let Some(column) = ordered_by {
        let order =
            |rows: &[Value]| -> Vec<Value> { rows.iter().map(|row| row[column].clone()).collect() };
        assert_eq!(order(local), order(distributed), "{what}: order differs");
    }
    let sorted = |rows: &[Value]| -> Vec<String> {
        let mut rows: Vec<String> = rows.iter().map(canonical).collect();
        rows.sort();
        rows
    };
    assert_eq!(sorted(local), sorted(distributed), "{what}: rows differ");
}

/// Waits until the cluster runs a query: the executors register with the scheduler shortly
/// after they listen.
fn wait_ready(cluster: &Cluster, lake: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = query(lake, Some(&cluster.url), "AzureActivity | count");
        if output.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster does not run a query: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// HUNT-01's set columns are capped (`make_set(x, 5)`): which members a capped set keeps
/// depends on the order rows arrive in, which Kusto leaves open and which differs between any
/// two parallel plans. They are checked for their size and their members, the rest exactly.
const HUNT01_CAPPED_SETS: &[(&str, &str, usize)] = &[
    ("ErrorMessages", "make_set(ResultDescription, 5)", 5),
    ("Operations", "make_set(OperationName, 10)", 10),
];
const HUNT01_KEYS: &[&str] = &["JobId", "SPName", "ResultSignature"];

fn without_capped_sets(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let mut row = row.clone();
            for (column, _, _) in HUNT01_CAPPED_SETS {
                row[*column] = Value::Null;
            }
            row
        })
        .collect()
}

/// Every capped set has as many members as the uncapped set allows, all of them from it.
fn assert_capped_sets_are_subsets(rows: &[Value], uncapped: &[Value], what: &str) {
    let key = |row: &Value| -> Vec<Value> { HUNT01_KEYS.iter().map(|k| row[*k].clone()).collect() };
    for row in rows {
        let full = uncapped
            .iter()
            .find(|candidate| key(candidate) == key(row))
            .unwrap_or_else(|| panic!("{what}: no uncapped row for {row}"));
        for (column, _, cap) in HUNT01_CAPPED_SETS {
            let members = row[*column].as_array().expect("a set");
            let all = full[*column].as_array().expect("a set");
            assert_eq!(
                members.len(),
                all.len().min(*cap),
                "{what}: size of {column}"
            );
            for member in members {
                assert!(all.contains(member), "{what}: {member} is not in {column}");
            }
        }
    }
}

/// One cluster and one lake for every check: starting them is most of the test's time.
#[test]
fn a_scheduler_and_two_executors_return_the_local_results() {
    let lake = lake();
    let data = lake.path.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cluster = start_cluster(work.path());
    wait_ready(&cluster, data);

    let mut uncapped_query = HUNT01.to_string();
    for (_, call, _) in HUNT01_CAPPED_SETS {
        let (function, _) = call.split_once(',').unwrap();
        uncapped_query = uncapped_query.replace(call, &format!("{function})"));
    }
    let uncapped = rows(
        &query(data, None, &uncapped_query),
        "HUNT-01 uncapped (local)",
    );
    let hunt01_local = rows(&query(data, None, HUNT01), "HUNT-01 (local)");
    let hunt01_distributed = rows(
        &query(data, Some(&cluster.url), HUNT01),
        "HUNT-01 (cluster)",
    );
    assert_same(
        &without_capped_sets(&hunt01_local),
        &without_capped_sets(&hunt01_distributed),
        Some("Failures"),
        "HUNT-01",
    );
    assert_capped_sets_are_subsets(&hunt01_local, &uncapped, "HUNT-01 (local)");
    assert_capped_sets_are_subsets(&hunt01_distributed, &uncapped, "HUNT-01 (cluster)");

    for (what, text) in QUERIES {
        let ordered_by = None;
        let local = rows(&query(data, None, text), &format!("{what} (local)"));
        let distributed = rows(
            &query(data, Some(&cluster.url), text),
            &format!("{what} (cluster)"),
        );
        assert_same(&local, &distributed, ordered_by, what);
    }

    // The same lake by URL, read through object_store, on the cluster.
    let url = format!(
        "file://{}",
        std::path::absolute(&lake.path).unwrap().display()
    );
    let by_url = rows(
        &query(&url, Some(&cluster.url), HUNT01),
        "HUNT-01 (cluster, lake by URL)",
    );
    assert_same(
        &without_capped_sets(&hunt01_local),
        &without_capped_sets(&by_url),
        Some("Failures"),
        "HUNT-01 over a lake URL",
    );
    let by_url_locally = rows(&query(&url, None, HUNT01), "HUNT-01 (local, lake by URL)");
    assert_same(
        &without_capped_sets(&hunt01_local),
        &without_capped_sets(&by_url_locally),
        Some("Failures"),
        "HUNT-01 over a lake URL, locally",
    );
    assert_capped_sets_are_subsets(&by_url, &uncapped, "HUNT-01 (cluster, lake by URL)");

    // An operator computed in goshawk's own process is refused by name, never run locally.
    let refused = query(
        data,
        Some(&cluster.url),
        "AzureActivity | make-series n = count() on TimeGenerated step 1d by Caller",
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("make-series") && stderr.contains("cannot run on a cluster"),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty(), "no partial result: {refused:?}");

    hunt_on_the_cluster_raises_the_local_findings(data, &cluster);
}

/// The built-in pack's Sentinel rules (its machine_learning rules run in process only).
fn sentinel_rules(dir: &Path) {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../goshawk-rules/src/builtin/rules");
    for entry in std::fs::read_dir(pack).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn hunt_findings(data: &str, rules: &Path, cluster: Option<&str>) -> (Vec<String>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_goshawk"));
    command
        .args(["hunt", "--data", data, "--now", NOW, "--format", "jsonl"])
        .args(["--no-builtin", "--rules"])
        .arg(rules);
    if let Some(url) = cluster {
        command.args(["--cluster", url]);
    }
    let output = command.output().expect("goshawk hunt runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "hunt failed: {stderr}"
    );
    let mut findings: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            canonical(&without_set_members(
                serde_json::from_str(line).expect("a JSON line"),
            ))
        })
        .collect();
    findings.sort();
    (findings, stderr)
}

/// A finding with each dynamic evidence value that is an array replaced by its length: the
/// members of HUNT-01's capped sets depend on row order (see `HUNT01_CAPPED_SETS`).
fn without_set_members(mut finding: Value) -> Value {
    let dynamic: Vec<bool> = finding["evidence"]["columns"]
        .as_array()
        .map(|columns| columns.iter().map(|c| c["type"] == "dynamic").collect())
        .unwrap_or_default();
    if let Some(rows) = finding["evidence"]["rows"].as_array_mut() {
        for row in rows {
            let Some(cells) = row.as_array_mut() else {
                continue;
            };
            for (cell, is_dynamic) in cells.iter_mut().zip(&dynamic) {
                if let (true, Some(members)) = (is_dynamic, cell.as_array()) {
                    *cell = Value::from(members.len());
                }
            }
        }
    }
    finding
}

fn hunt_on_the_cluster_raises_the_local_findings(data: &str, cluster: &Cluster) {
    let rules = tempfile::tempdir().unwrap();
    sentinel_rules(rules.path());
    let (local, _) = hunt_findings(data, rules.path(), None);
    let (distributed, stderr) = hunt_findings(data, rules.path(), Some(&cluster.url));
    assert!(
        !local.is_empty(),
        "the built-in rules find the planted scenarios"
    );
    assert_eq!(local, distributed, "hunt findings differ; stderr: {stderr}");
}
