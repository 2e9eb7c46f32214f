//! `goshawk serve` as a process: the official Python Kusto client against it, the inbox,
//! SIGKILL during an ingest and SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, generate};
use serde_json::Value;

const TOKEN: &str = "serve-cli-test-token";
const NOW: &str = "2026-05-01T00:00:00Z";

struct Serve {
    child: Child,
    addr: String,
    stderr: mpsc::Receiver<String>,
}

impl Serve {
    /// Starts `goshawk serve` on a free port and waits until it listens.
    fn start(data: &Path, inbox: &Path, extra_env: &[(&str, &str)]) -> Serve {
        Serve::start_with(data, inbox, extra_env, &[])
    }

    fn start_with(
        data: &Path,
        inbox: &Path,
        extra_env: &[(&str, &str)],
        extra_args: &[&str],
    ) -> Serve {
        let token_file = data.with_extension("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_goshawk"));
        command
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--inbox")
            .arg(inbox)
            .args(["--listen", "127.0.0.1:0", "--no-builtin"])
            .args(["--inbox-poll-ms", "50", "--inbox-settle-ms", "100"])
            .arg("--token-file")
            .arg(&token_file)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("goshawk serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("goshawk serve: listening on http://") {
                        return Serve {
                            child,
                            addr: addr.to_string(),
                            stderr: rx,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("goshawk serve did not start: {seen:?}");
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One HTTP/1.1 request; the status and the body.
    fn request(&self, method: &str, path: &str, auth: bool, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if auth {
            head.push_str(&format!("Authorization: Bearer {TOKEN}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).expect("read reply");
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let (head, body) = reply.split_once("\r\n\r\n").expect("HTTP reply");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        (status, body.to_string())
    }

    /// Rows in `table`; 0 while the lake has none (the table is then unknown).
    fn count(&self, table: &str) -> i64 {
        let body = serde_json::json!({"csl": format!("{table} | count")}).to_string();
        let (status, reply) = self.request("POST", "/v1/rest/query", true, &body);
        if status == 400 && reply.contains(&format!("unknown table '{table}'")) {
            return 0;
        }
        assert_eq!(status, 200, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        reply["Tables"][0]["Rows"][0][0].as_i64().expect("a count")
    }

    fn sigterm(mut self) -> (bool, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exited = self.child.wait().expect("wait");
        let lines = self.stderr.try_iter().collect();
        (exited.success(), lines)
    }

    fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generated logs: `(directory, files, records)`.
fn logs(dir: &Path, days: u32) -> (Vec<PathBuf>, u64) {
    let summary = generate(&GenerateOptions {
        out_dir: dir.to_path_buf(),
        days,
        end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        scale: 1,
        seed: 11,
        with_bad_records: false,
    })
    .expect("generate");
    let records = summary.streams.iter().map(|s| s.records).sum();
    let mut files = Vec::new();
    for sub in ["activity", "provisioning"] {
        collect(&dir.join(sub), &mut files);
    }
    files.sort();
    (files, records)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Moves `files` into the inbox under unique names (write elsewhere, then rename, as a
/// well-behaved producer does).
fn drop_into(inbox: &Path, files: &[PathBuf]) {
    for (i, file) in files.iter().enumerate() {
        let name = format!("{i:04}-{}", file.file_name().unwrap().to_string_lossy());
        let staging = inbox.join(format!(".{name}.tmp"));
        std::fs::copy(file, &staging).unwrap();
        std::fs::rename(&staging, inbox.join(name)).unwrap();
    }
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn total_rows(serve: &Serve) -> i64 {
    serve.count("AzureActivity") + serve.count("AADProvisioningLogs")
}

#[test]
fn inbox_files_are_ingested_once_and_bad_ones_fail_with_a_reason() {
    let work = tempfile::tempdir().unwrap();
    let (files, records) = logs(&work.path().join("gen"), 21);
    let data = work.path().join("lake");
    let inbox = work.path().join("inbox");
    let serve = Serve::start(&data, &inbox, &[]);
    assert_eq!(total_rows(&serve), 0);

    drop_into(&inbox, &files);
    std::fs::write(inbox.join("broken.json.gz"), b"\x1f\x8bnot gzip at all").unwrap();
    // A file still being written (growing) is left alone until it settles.
    wait_until("the inbox to empty", Duration::from_secs(120), || {
        files_in(&inbox).is_empty()
    });
    let processed = files_in(&inbox.join("processed"));
    assert_eq!(processed.len(), files.len(), "{processed:?}");
    let failed = files_in(&inbox.join("failed"));
    assert_eq!(
        failed,
        ["broken.json.gz", "broken.json.gz.reason.txt"],
        "{failed:?}"
    );
    let reason = std::fs::read_to_string(inbox.join("failed/broken.json.gz.reason.txt")).unwrap();
    assert!(!reason.trim().is_empty());
    assert_eq!(total_rows(&serve) as u64, records);

    // The same content dropped again adds nothing.
    drop_into(&inbox, &files[..1]);
    wait_until("the duplicate to be moved", Duration::from_secs(60), || {
        files_in(&inbox).is_empty()
    });
    assert_eq!(total_rows(&serve) as u64, records);

    let (_, body) = serve.request("GET", "/metrics", true, "");
    assert!(
        body.contains(&format!("goshawk_records_ingested_total {records}\n")),
        "{body}"
    );
    let (clean, lines) = serve.sigterm();
    assert!(clean, "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "goshawk serve: stopped"),
        "{lines:?}"
    );
}

#[test]
fn sigkill_during_an_inbox_ingest_loses_and_duplicates_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (files, records) = logs(&work.path().join("gen"), 21);
    let data = work.path().join("lake");
    let inbox = work.path().join("inbox");
    // The ingest pauses after committing each file: kill it after the first commit, before the
    // file is moved out of the inbox.
    let serve = Serve::start(&data, &inbox, &[("GOSHAWK_INGEST_PAUSE_MS", "5000")]);
    drop_into(&inbox, &files);
    wait_until("the first commit", Duration::from_secs(60), || {
        goshawk_ingest::read_manifest(&data).is_ok_and(|m| !m.is_empty())
    });
    serve.sigkill();
    assert_eq!(files_in(&inbox).len(), files.len(), "nothing was moved yet");

    let serve = Serve::start(&data, &inbox, &[]);
    wait_until("the inbox to empty", Duration::from_secs(120), || {
        files_in(&inbox).is_empty()
    });
    assert_eq!(files_in(&inbox.join("processed")).len(), files.len());
    assert!(files_in(&inbox.join("failed")).is_empty());
    assert_eq!(total_rows(&serve) as u64, records);
}

/// The Python interpreter with `azure-kusto-data`: $GOSHAWK_TEST_PYTHON, else `.venv-ci`.
fn kusto_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = std::env::var_os("GOSHAWK_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join(".venv-ci/bin/python")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import azure.kusto.data"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    None
}

const CLIENT: &str = r#"
import datetime, json, sys
from azure.kusto.data import ClientRequestProperties, KustoClient, KustoConnectionStringBuilder
url, token, query, now = sys.argv[1:5]
client = KustoClient(KustoConnectionStringBuilder.with_token_provider(url, lambda: token))
properties = ClientRequestProperties()
properties.set_option("query_now", now)
response = client.execute_query("goshawk", query, properties)
table = response.primary_results[0]
def plain(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value
print(json.dumps({
    "columns": [[c.column_name, c.column_type] for c in table.columns],
    "rows": [[plain(v) for v in row] for row in table],
}))
try:
    client.execute_query("goshawk", "AzureActivity | where", properties)
    print("no error")
except Exception as error:
    print(type(error).__name__, error.get_api_error().description if hasattr(error, "get_api_error") else error)
"#;

/// goshawk's datetime text at the microsecond precision Python's datetime holds.
fn micros(text: &str) -> String {
    let nanos = goshawk_kql_engine::time::parse_datetime(text).expect("a datetime");
    Utc.timestamp_nanos(nanos)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

#[test]
fn the_official_python_client_gets_what_goshawk_query_prints() {
    let Some(python) = kusto_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "azure-kusto-data is missing: run .ci/setup-test-tools"
        );
        println!("skipped: run .ci/setup-test-tools");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (files, _) = logs(&work.path().join("gen"), 21);
    let data = work.path().join("lake");
    let ingest = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .arg("ingest")
        .args(&files)
        .arg("--data")
        .arg(&data)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{ingest:?}");
    let query = "AzureActivity | summarize n = count(), earliest = min(TimeGenerated) \
                 by CategoryValue, ResourceProviderValue \
                 | extend ok = n > 3, ratio = todouble(n) / 7 \
                 | order by n desc, CategoryValue asc, ResourceProviderValue asc";
    let cli = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .arg("query")
        .arg("--data")
        .arg(&data)
        .args(["--now", NOW, "--format", "json", "-q", query])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{cli:?}");
    let expected: Value = serde_json::from_slice(&cli.stdout).unwrap();

    let serve = Serve::start(&data, &work.path().join("inbox"), &[]);
    let client = Command::new(&python)
        .args(["-c", CLIENT, &serve.url(), TOKEN, query, NOW])
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let stdout = String::from_utf8_lossy(&client.stdout);
    let mut lines = stdout.lines();
    let got: Value = serde_json::from_str(lines.next().unwrap()).unwrap();

    let expected_columns: Vec<Value> = expected["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c["name"], c["type"]]))
        .collect();
    assert_eq!(got["columns"], Value::Array(expected_columns));
    let datetime_columns: Vec<usize> = expected["columns"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, c)| c["type"] == "datetime")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(datetime_columns.len(), 1);
    let mut expected_rows = expected["rows"].clone();
    for row in expected_rows.as_array_mut().unwrap() {
        for &i in &datetime_columns {
            row[i] = Value::String(micros(row[i].as_str().unwrap()));
        }
    }
    assert!(!expected_rows.as_array().unwrap().is_empty());
    assert_eq!(got["rows"], expected_rows);

    let error = lines.next().unwrap_or_default();
    assert!(
        error.starts_with("KustoApiError Syntax error: line 1, column "),
        "{error}"
    );
}

const HOURLY_RULE: &str = "id: 6a1e0000-0000-4000-8000-00000000abcd
name: Test alert every hour
kind: Scheduled
severity: High
queryFrequency: 1h
queryPeriod: 1h
triggerOperator: gt
triggerThreshold: 0
tactics:
  - Persistence
relevantTechniques:
  - T1098
query: |
  print Account = 'alice@contoso.com', EventTime = datetime(2026-01-01T00:00:00Z)
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: FullName
        columnName: Account
";

fn metric(serve: &Serve, name: &str) -> u64 {
    let (_, body) = serve.request("GET", "/metrics", true, "");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn hour_now() -> i64 {
    Utc::now().timestamp() / 3600
}

#[test]
fn scheduled_rules_raise_alerts_once_across_restarts() {
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("hourly.yaml"), HOURLY_RULE).unwrap();
    let data = work.path().join("lake");
    let inbox = work.path().join("inbox");
    let rules_arg = rules.display().to_string();
    let args = ["--rules", rules_arg.as_str()];
    let hour = hour_now();
    let serve = Serve::start_with(&data, &inbox, &[], &args);
    // The first start runs the rule at once (the latest hourly instant).
    wait_until("the first run", Duration::from_secs(60), || {
        metric(&serve, "goshawk_rule_runs_total") >= 1
    });
    assert_eq!(metric(&serve, "goshawk_rule_failures_total"), 0);
    let (status, body) = serve.request("GET", "/api/alerts", true, "");
    assert_eq!(status, 200, "{body}");
    let alerts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts["total"], 1, "{alerts}");
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["entity"], "Account:alice@contoso.com", "{alert}");
    assert_eq!(alert["rule_id"], "6a1e0000-0000-4000-8000-00000000abcd");
    assert_eq!(alert["status"], "new");
    let id = alert["id"].as_i64().unwrap();
    let (status, body) = serve.request(
        "POST",
        &format!("/api/alerts/{id}/status"),
        true,
        r#"{"status":"closed"}"#,
    );
    assert_eq!(status, 200, "{body}");

    // SIGKILL and restart: within the same hour the run is not repeated; across an hour
    // boundary it runs once more and finds its alert already stored.
    serve.sigkill();
    let serve = Serve::start_with(&data, &inbox, &[], &args);
    std::thread::sleep(Duration::from_secs(3));
    let runs = metric(&serve, "goshawk_rule_runs_total");
    let expected = u64::from(hour_now() != hour);
    assert_eq!(runs, expected, "runs after the restart");
    let (_, body) = serve.request("GET", "/api/alerts", true, "");
    let alerts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts["total"], 1, "{alerts}");
    assert_eq!(alerts["alerts"][0]["status"], "closed");
    let (status, body) = serve.request("GET", "/api/rules", true, "");
    assert_eq!(status, 200);
    assert!(body.contains("\"frequency\":\"1h\""), "{body}");
}

/// An hourly rule whose query takes seconds (three million rows summarized), so that a kill lands
/// in the middle of its run.
const SLOW_RULE: &str = "id: 6a1e0000-0000-4000-8000-00000000beef
name: Slow hourly rule
kind: Scheduled
severity: Medium
queryFrequency: 1h
queryPeriod: 1h
triggerOperator: gt
triggerThreshold: 0
query: |
  range i from 1 to 3000000 step 1
  | summarize n = count() by k = i % 300000
  | summarize groups = count()
  | extend Account = 'bob@contoso.com', EventTime = datetime(2026-01-01T00:00:00Z)
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: FullName
        columnName: Account
";

#[test]
fn sigkill_during_a_rule_run_then_restart_runs_it_once() {
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("slow.yaml"), SLOW_RULE).unwrap();
    let data = work.path().join("lake");
    let inbox = work.path().join("inbox");
    let rules_arg = rules.display().to_string();
    let args = ["--rules", rules_arg.as_str()];
    let store = data.join("_serve/goshawk.sqlite");
    let last_run = || -> Option<i64> {
        goshawk_serve::store::Store::open(&store)
            .expect("the alert store opens")
            .last_window_end("6a1e0000-0000-4000-8000-00000000beef")
            .expect("schedule state reads")
    };

    let hour = hour_now();
    let serve = Serve::start_with(&data, &inbox, &[], &args);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        metric(&serve, "goshawk_rule_runs_total"),
        0,
        "the run is still going when it is killed"
    );
    serve.sigkill();
    assert_eq!(last_run(), None, "a killed run leaves no schedule state");

    let serve = Serve::start_with(&data, &inbox, &[], &args);
    wait_until("the rerun", Duration::from_secs(120), || {
        metric(&serve, "goshawk_rule_runs_total") >= 1
    });
    assert_eq!(metric(&serve, "goshawk_rule_failures_total"), 0);
    let (_, body) = serve.request("GET", "/api/alerts", true, "");
    let alerts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts["total"], 1, "{alerts}");
    serve.sigkill();

    // Once finished, a restart in the same hour does not run it again.
    let serve = Serve::start_with(&data, &inbox, &[], &args);
    std::thread::sleep(Duration::from_secs(2));
    if hour_now() == hour {
        assert_eq!(metric(&serve, "goshawk_rule_runs_total"), 0);
    }
    let (_, body) = serve.request("GET", "/api/alerts", true, "");
    let alerts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts["total"], 1, "{alerts}");
}

#[test]
fn sigterm_lets_the_running_ingest_finish() {
    let work = tempfile::tempdir().unwrap();
    let (files, _) = logs(&work.path().join("gen"), 21);
    let files: Vec<PathBuf> = files.into_iter().step_by(200).take(6).collect();
    let data = work.path().join("lake");
    let inbox = work.path().join("inbox");
    // Each committed file is followed by a pause, so the SIGTERM lands mid-run.
    let serve = Serve::start(&data, &inbox, &[("GOSHAWK_INGEST_PAUSE_MS", "1500")]);
    drop_into(&inbox, &files);
    wait_until("the first commit", Duration::from_secs(60), || {
        goshawk_ingest::read_manifest(&data).is_ok_and(|m| !m.is_empty())
    });
    let (clean, lines) = serve.sigterm();
    assert!(clean, "{lines:?}");
    // Nothing is left half-done: each file the server took up is committed and moved, the
    // others are still waiting in the inbox.
    let committed = goshawk_ingest::read_manifest(&data).unwrap().len();
    let processed = files_in(&inbox.join("processed")).len();
    assert!(committed >= 1);
    assert_eq!(processed, committed);
    assert_eq!(processed + files_in(&inbox).len(), files.len());
}
