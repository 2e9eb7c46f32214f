//! The HTTP API in process (no socket): auth, bad requests, Kusto v1/v2 shapes, alerts, rules,
//! metrics. The lake is a small generated one.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use goshawk_generate::{
    ACTIVITY_EVENT_HUB_DIR, ACTIVITY_STORAGE_DIR, GRAPH_DIR, GenerateOptions, generate,
};
use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};
use goshawk_serve::scheduler::{RuleRunner, Scheduler};
use goshawk_serve::store::{AlertStatus, NewAlert};
use goshawk_serve::{AppState, Limits, ServeConfig, Server, api};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "test-token-0123456789";
const NOW: &str = "2026-05-01T00:00:00Z";

/// A lake with two days of generated logs, made once for every test of this file.
fn lake() -> &'static Path {
    static LAKE: OnceLock<tempfile::TempDir> = OnceLock::new();
    LAKE.get_or_init(|| {
        let logs = tempfile::tempdir().expect("tempdir");
        generate(&GenerateOptions {
            out_dir: logs.path().join("gen"),
            days: 21,
            end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
            scale: 1,
            seed: 7,
            with_bad_records: false,
        })
        .expect("generate");
        let lake = tempfile::tempdir().expect("tempdir");
        // A few files of each shape keep the fixture quick in a debug build.
        let mut files = Vec::new();
        for dir in [GRAPH_DIR, ACTIVITY_EVENT_HUB_DIR, ACTIVITY_STORAGE_DIR] {
            let inputs = expand_inputs(&[logs.path().join("gen").join(dir).display().to_string()])
                .expect("inputs");
            files.extend(inputs.files.into_iter().take(4));
        }
        let summary = ingest(
            lake.path(),
            &files,
            &IngestOptions::default(),
            &Progress::default(),
        )
        .expect("ingest");
        assert!(summary.ingested > 0 && summary.is_complete());
        lake
    })
    .path()
}

struct Fixture {
    state: Arc<AppState>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn fixture(limits: Limits) -> Fixture {
    // Each test gets its own state directory (alerts) over the shared lake: copy the lake's
    // manifest and link its table directories.
    let data = tempfile::tempdir().expect("tempdir");
    copy_dir(lake(), data.path());
    let inbox = tempfile::tempdir().expect("tempdir");
    let token_file = data.path().join("token.txt");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
    let server = Server::start(ServeConfig {
        data: data.path().to_path_buf(),
        inbox: inbox.path().to_path_buf(),
        rule_paths: Vec::new(),
        builtin_rules: true,
        listen: "127.0.0.1:0".parse().unwrap(),
        token_file: Some(token_file),
        limits,
        inbox_poll: Duration::from_millis(50),
        inbox_settle: Duration::from_millis(0),
        schedule_tick: Duration::from_secs(1),
    })
    .await
    .expect("server starts");
    Fixture {
        state: server.state().clone(),
        _dirs: (data, inbox),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `@message` of a Kusto error body.
    fn message(&self) -> String {
        self.json()["error"]["@message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(
    fixture: &Fixture,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: impl Into<Body>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = api::router(fixture.state.clone())
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply { status, body }
}

const BEARER: Option<&str> = Some("Bearer test-token-0123456789");

fn query_body(csl: &str) -> String {
    json!({
        "db": "goshawk",
        "csl": csl,
        "properties": json!({"Options": {"query_now": NOW}}).to_string(),
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_right_token_are_refused() {
    let fixture = fixture(Limits::default()).await;
    let body = query_body("print 1");
    let none = send(&fixture, "POST", "/v2/rest/query", None, body.clone()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.message().contains("no bearer token"),
        "{}",
        none.text()
    );
    let wrong = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        Some("Bearer test-token-0123456780"),
        body.clone(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.message().contains("not valid"), "{}", wrong.text());
    let basic = send(&fixture, "GET", "/metrics", Some("Basic abc"), "").await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert!(
        basic.message().contains("Bearer <token>"),
        "{}",
        basic.text()
    );
    // /healthz is open; everything else is not.
    let health = send(&fixture, "GET", "/healthz", None, "").await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok\n")
    );
    for (method, uri) in [
        ("GET", "/api/alerts"),
        ("GET", "/api/rules"),
        ("GET", "/metrics"),
    ] {
        let reply = send(&fixture, method, uri, None, "").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let metrics = send(&fixture, "GET", "/metrics", BEARER, "").await;
    assert!(
        metrics
            .text()
            .contains("goshawk_requests_unauthorized_total 6\n"),
        "{}",
        metrics.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_4xx() {
    let fixture = fixture(Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    })
    .await;
    let malformed = send(&fixture, "POST", "/v2/rest/query", BEARER, "{\"csl\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.message().contains("not valid JSON"),
        "{}",
        malformed.text()
    );

    let huge = query_body(&format!("print '{}'", "x".repeat(10_000)));
    let too_big = send(&fixture, "POST", "/v2/rest/query", BEARER, huge).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        too_big.message().contains("larger than the server's limit"),
        "{}",
        too_big.text()
    );

    let syntax = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body("AzureActivity\n| where ResultType == "),
    )
    .await;
    assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
    let error = &syntax.json()["error"];
    assert_eq!(error["@type"], "Kusto.Data.Exceptions.SyntaxException");
    assert_eq!(error["@line"], 2);
    assert!(
        syntax
            .message()
            .starts_with("Syntax error: line 2, column "),
        "{}",
        syntax.text()
    );

    let semantic = send(
        &fixture,
        "POST",
        "/v1/rest/query",
        BEARER,
        query_body("AzureActivity | where NoSuchColumn > 1"),
    )
    .await;
    assert_eq!(semantic.status, StatusCode::BAD_REQUEST);
    assert!(
        semantic
            .message()
            .starts_with("Semantic error: line 1, column 23: "),
        "{}",
        semantic.text()
    );

    let mgmt = send(
        &fixture,
        "POST",
        "/v1/rest/mgmt",
        BEARER,
        query_body(".show tables"),
    )
    .await;
    assert_eq!(mgmt.status, StatusCode::BAD_REQUEST);
    let missing = send(&fixture, "GET", "/v3/nothing", BEARER, "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // The server still answers.
    let ok = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body("print x = 1"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v2_responses_have_kustos_shape() {
    let fixture = fixture(Limits::default()).await;
    let csl = "AzureActivity | summarize n = count(), earliest = min(TimeGenerated) by \
               CategoryValue | order by CategoryValue asc | extend d = dynamic({\"a\": [1]}), \
               r = 1.5, s = 1s";
    let v1 = send(&fixture, "POST", "/v1/rest/query", BEARER, query_body(csl)).await;
    assert_eq!(v1.status, StatusCode::OK, "{}", v1.text());
    let v1 = v1.json();
    let table = &v1["Tables"][0];
    assert_eq!(table["TableName"], "Table_0");
    let columns: Vec<(String, String, String)> = table["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["ColumnName"].as_str().unwrap().to_string(),
                c["DataType"].as_str().unwrap().to_string(),
                c["ColumnType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("CategoryValue", "String", "string"),
        ("n", "Int64", "long"),
        ("earliest", "DateTime", "datetime"),
        ("d", "Object", "dynamic"),
        ("r", "Double", "real"),
        ("s", "TimeSpan", "timespan"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(columns, expected);
    let v1_rows = table["Rows"].as_array().unwrap().clone();
    assert!(!v1_rows.is_empty());
    assert_eq!(
        v1_rows[0][3], "{\"a\":[1]}",
        "v1 sends dynamic values as JSON text"
    );
    assert_eq!(v1_rows[0][5], "00:00:01");

    let v2 = send(&fixture, "POST", "/v2/rest/query", BEARER, query_body(csl)).await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.text());
    let frames = v2.json();
    let kinds: Vec<String> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}{}",
                f["FrameType"].as_str().unwrap(),
                f["TableKind"]
                    .as_str()
                    .map(|k| format!(":{k}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "DataSetHeader",
            "DataTable:PrimaryResult",
            "DataTable:QueryCompletionInformation",
            "DataSetCompletion"
        ]
    );
    let primary = &frames[1];
    assert_eq!(
        primary["Columns"][2],
        json!({"ColumnName": "earliest", "ColumnType": "datetime"})
    );
    let v2_rows = primary["Rows"].as_array().unwrap();
    assert_eq!(v2_rows.len(), v1_rows.len());
    assert_eq!(
        v2_rows[0][3],
        json!({"a": [1]}),
        "v2 sends dynamic values as JSON"
    );
    assert_eq!(
        v2_rows[0].as_array().unwrap()[..3],
        v1_rows[0].as_array().unwrap()[..3]
    );
    assert_eq!(frames[2]["Rows"][0][5], 4, "Level 4: no errors");
    assert_eq!(frames[3]["HasErrors"], false);

    // Progressive mode splits the primary result into header, fragment and completion.
    let progressive = json!({
        "csl": "print a = 1, b = 'x'",
        "properties": {"Options": {"results_progressive_enabled": true}},
    })
    .to_string();
    let reply = send(&fixture, "POST", "/v2/rest/query", BEARER, progressive).await;
    let frames = reply.json();
    let types: Vec<&str> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FrameType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "DataSetHeader",
            "TableHeader",
            "TableFragment",
            "TableCompletion",
            "DataTable",
            "DataSetCompletion"
        ]
    );
    assert_eq!(frames[2]["Rows"], json!([[1, "x"]]));
    assert_eq!(frames[3]["RowCount"], 1);

    // A chart request comes back as @ExtendedProperties, as Kusto sends it.
    let chart = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body("print x = 1 | render timechart"),
    )
    .await;
    let frames = chart.json();
    assert_eq!(frames[1]["TableKind"], "QueryProperties");
    assert_eq!(frames[1]["TableName"], "@ExtendedProperties");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_stop_a_query_with_a_clear_error() {
    let fixture = fixture(Limits {
        query_memory_bytes: 64 << 10,
        ..Limits::default()
    })
    .await;
    let memory = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body(
            "range i from 1 to 3000000 step 1 | summarize count() by k = i % 1000000 \
             | order by k asc",
        ),
    )
    .await;
    assert_eq!(memory.status, StatusCode::BAD_REQUEST, "{}", memory.text());
    assert!(
        memory.message().contains("memory limit"),
        "{}",
        memory.text()
    );

    let fixture = fixture_with_timeout().await;
    let slow = send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body("range i from 1 to 10000000 step 1 | summarize count() by k = i % 7"),
    )
    .await;
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT, "{}", slow.text());
    assert!(slow.message().contains("timeout"), "{}", slow.text());
    let metrics = send(&fixture, "GET", "/metrics", BEARER, "").await;
    assert!(
        metrics
            .text()
            .contains("goshawk_queries_timed_out_total 1\n"),
        "{}",
        metrics.text()
    );
}

async fn fixture_with_timeout() -> Fixture {
    fixture(Limits {
        query_timeout: Duration::from_millis(100),
        ..Limits::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_filtered_paged_and_worked() {
    let fixture = fixture(Limits::default()).await;
    for (i, entity) in ["alice", "bob", "carol"].iter().enumerate() {
        let alert = NewAlert {
            rule_id: if i == 2 { "R-2" } else { "R-1" }.into(),
            rule_name: "A rule".into(),
            severity: "Medium".into(),
            tactics: vec!["Persistence".into()],
            techniques: vec![],
            description: String::new(),
            entity: (*entity).into(),
            window_start: 0,
            window_end: 1_000_000_000 * (i as i64 + 1),
            evidence: json!([]),
            entities: json!([]),
        };
        fixture
            .state
            .store()
            .insert_alert(&alert, 1)
            .expect("insert")
            .expect("new alert");
    }
    let all = send(&fixture, "GET", "/api/alerts", BEARER, "")
        .await
        .json();
    assert_eq!(all["total"], 3);
    let id = all["alerts"][0]["id"].as_i64().unwrap();
    assert_eq!(all["alerts"][0]["entity"], "carol");

    let page = send(
        &fixture,
        "GET",
        "/api/alerts?rule_id=R-1&limit=1&offset=1",
        BEARER,
        "",
    )
    .await
    .json();
    assert_eq!(
        (page["total"].as_u64(), page["alerts"][0]["entity"].as_str()),
        (Some(2), Some("alice"))
    );

    let acked = send(
        &fixture,
        "POST",
        &format!("/api/alerts/{id}/status"),
        BEARER,
        r#"{"status": "acknowledged"}"#,
    )
    .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text());
    assert_eq!(acked.json()["status"], "acknowledged");
    let new = send(&fixture, "GET", "/api/alerts?status=new", BEARER, "")
        .await
        .json();
    assert_eq!(new["total"], 2);
    assert_eq!(
        fixture.state.store().alert(id).unwrap().unwrap().status,
        AlertStatus::Acknowledged
    );

    for (uri, body, status, says) in [
        (
            "/api/alerts/999/status",
            r#"{"status":"closed"}"#,
            StatusCode::NOT_FOUND,
            "no alert 999",
        ),
        (
            "/api/alerts/abc/status",
            r#"{"status":"closed"}"#,
            StatusCode::BAD_REQUEST,
            "not an alert id",
        ),
        (
            "/api/alerts/1/status",
            r#"{"status":"done"}"#,
            StatusCode::BAD_REQUEST,
            "not an alert status",
        ),
        (
            "/api/alerts/1/status",
            "{",
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
    ] {
        let reply = send(&fixture, "POST", uri, BEARER, body).await;
        assert_eq!(reply.status, status, "{uri} {body}: {}", reply.text());
        assert!(reply.message().contains(says), "{}", reply.text());
    }
    for (query, says) in [
        ("status=open", "not an alert status"),
        ("limit=0", "limit"),
        ("since=yesterday", "not a datetime"),
        ("colour=red", "unknown parameter 'colour'"),
    ] {
        let reply = send(&fixture, "GET", &format!("/api/alerts?{query}"), BEARER, "").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(reply.message().contains(says), "{}", reply.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_metrics_are_served() {
    let fixture = fixture(Limits::default()).await;
    let rules = send(&fixture, "GET", "/api/rules", BEARER, "").await.json();
    let list = rules["rules"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|r| r["id"].as_str().is_some() && r["source"] == "built-in"),
        "{rules}"
    );
    send(
        &fixture,
        "POST",
        "/v2/rest/query",
        BEARER,
        query_body("print 1"),
    )
    .await;
    let metrics = send(&fixture, "GET", "/metrics", BEARER, "").await;
    let text = metrics.text();
    assert!(
        text.contains("# TYPE goshawk_query_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("goshawk_query_duration_seconds_count 1\n"),
        "{text}"
    );
}

/// Always raises the same alert and counts its calls.
struct FakeRunner {
    calls: std::sync::atomic::AtomicUsize,
    fail: bool,
}

#[async_trait::async_trait]
impl RuleRunner for FakeRunner {
    async fn run(
        &self,
        _state: &AppState,
        rule: &goshawk_rules::LoadedRule,
        now_nanos: i64,
        lookback_nanos: i64,
    ) -> Result<Vec<NewAlert>, String> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(lookback_nanos, 14 * 24 * HOUR);
        assert_eq!(now_nanos % HOUR, 0, "runs are aligned to the frequency");
        if self.fail {
            return Err("the lake is on fire".into());
        }
        Ok(vec![NewAlert {
            rule_id: rule.id().to_string(),
            rule_name: rule.name().to_string(),
            severity: "High".into(),
            tactics: vec![],
            techniques: vec![],
            description: String::new(),
            entity: "account:alice".into(),
            window_start: 0,
            window_end: HOUR,
            evidence: json!([]),
            entities: json!([]),
        }])
    }
}

const HOUR: i64 = 3_600_000_000_000;

fn hourly_rule() -> goshawk_rules::LoadedRule {
    goshawk_rules::load_str(
        Path::new("hourly.yaml"),
        "id: 5b0c6d0e-0000-4000-8000-000000000002\nname: Hourly\nkind: Scheduled\n\
         severity: High\nqueryFrequency: 1h\nqueryPeriod: 14d\ntriggerOperator: gt\n\
         triggerThreshold: 0\nquery: |\n  AzureActivity | take 1\n",
    )
    .expect("loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_each_instant_once_and_catches_up_once() {
    let fixture = fixture(Limits::default()).await;
    let state = &fixture.state;
    let runner = Arc::new(FakeRunner {
        calls: Default::default(),
        fail: false,
    });
    let rules = [hourly_rule()];
    let scheduler = Scheduler::new(&rules, runner.clone());
    assert_eq!(scheduler.len(), 1);
    let reports = scheduler.tick(state, 10 * HOUR + 5, None).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].run_at, reports[0].outcome.clone()),
        (10 * HOUR, Ok(1))
    );
    assert!(scheduler.tick(state, 10 * HOUR + 50, None).await.is_empty());

    // A restart: a new scheduler over the same store does not repeat the run.
    let scheduler = Scheduler::new(&rules, runner.clone());
    assert!(scheduler.tick(state, 10 * HOUR + 60, None).await.is_empty());
    // Five instants missed: one run, at the latest; its alert is already stored.
    let reports = scheduler.tick(state, 15 * HOUR + 1, None).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].run_at, reports[0].outcome.clone()),
        (15 * HOUR, Ok(0))
    );
    assert_eq!(runner.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    let alerts = send(&fixture, "GET", "/api/alerts", BEARER, "")
        .await
        .json();
    assert_eq!(alerts["total"], 1);

    // A failing rule is counted and retried at its next instant, not in a loop.
    let failing = Arc::new(FakeRunner {
        calls: Default::default(),
        fail: true,
    });
    let scheduler = Scheduler::new(&rules, failing.clone());
    let reports = scheduler.tick(state, 16 * HOUR, None).await;
    assert_eq!(reports[0].outcome, Err("the lake is on fire".to_string()));
    assert!(scheduler.tick(state, 16 * HOUR + 1, None).await.is_empty());
    let metrics = send(&fixture, "GET", "/metrics", BEARER, "").await.text();
    assert!(metrics.contains("goshawk_rule_runs_total 3\n"), "{metrics}");
    assert!(
        metrics.contains("goshawk_rule_failures_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("goshawk_alerts_created_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_jobs_advance_as_their_buckets_close_without_a_rule() {
    let fixture = fixture(Limits::default()).await;
    let state = &fixture.state;
    let source = Arc::new(goshawk_ml::LakeAnomalySource::new(state.lake_dir.clone()));
    let mut jobs = goshawk_serve::ml_jobs::MlJobs::new(&state.loaded_rules, source);
    // The built-in pack's four jobs, all with KQL datafeeds.
    assert_eq!(jobs.len(), 4, "{:?}", jobs.unschedulable);
    let now = goshawk_kql_engine::time::parse_datetime(NOW).unwrap();

    let reports = jobs.tick(state, now, None).await;
    assert_eq!(reports.len(), 4);
    for report in &reports {
        assert_eq!(report.outcome, Ok(()), "{}", report.job_id);
        // Each job's model is saved up to its last final bucket.
        let saved = goshawk_ml::state::load(&state.lake_dir, &report.job_id)
            .unwrap()
            .expect("a saved model");
        assert_eq!(saved.next_bucket_start, Some(report.complete_until));
        assert!(saved.buckets > 0, "{} learnt nothing", report.job_id);
    }
    // Nothing new has closed a minute later.
    assert!(
        jobs.tick(state, now + 60_000_000_000, None)
            .await
            .is_empty()
    );
    // An hour and the query delay later, every hourly job advances by one bucket.
    let later = now + HOUR + 15 * 60_000_000_000;
    let reports = jobs.tick(state, later, None).await;
    assert!(!reports.is_empty());
    for report in &reports {
        assert_eq!(report.outcome, Ok(()), "{}", report.job_id);
        let saved = goshawk_ml::state::load(&state.lake_dir, &report.job_id)
            .unwrap()
            .unwrap();
        assert_eq!(saved.next_bucket_start, Some(report.complete_until));
    }
    let metrics = send(&fixture, "GET", "/metrics", BEARER, "").await.text();
    assert!(
        metrics.contains(&format!(
            "goshawk_ml_job_runs_total {}\n",
            4 + reports.len()
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("goshawk_ml_job_failures_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_files_one_at_a_time_are_compacted_once_a_day_has_many() {
    let logs = tempfile::tempdir().expect("tempdir");
    generate(&GenerateOptions {
        days: 21,
        ..GenerateOptions::new(
            logs.path().join("gen"),
            Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        )
    })
    .expect("generate");
    let files = expand_inputs(&[logs
        .path()
        .join("gen")
        .join(ACTIVITY_STORAGE_DIR)
        .display()
        .to_string()])
    .expect("inputs")
    .files;
    // Hourly storage blobs of the last day: every ingest run adds a file to the same partition.
    let files: Vec<_> = files
        .into_iter()
        .filter(|f| f.display().to_string().contains("/d=30/"))
        .collect();
    let wanted = goshawk_serve::inbox::COMPACT_MIN_FILES + 2;
    assert!(files.len() >= wanted, "only {} files", files.len());

    let data = tempfile::tempdir().expect("tempdir");
    let inbox = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServeConfig {
        data: data.path().to_path_buf(),
        inbox: inbox.path().to_path_buf(),
        rule_paths: Vec::new(),
        builtin_rules: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        token_file: None,
        limits: Limits::default(),
        inbox_poll: Duration::from_millis(50),
        inbox_settle: Duration::from_millis(0),
        schedule_tick: Duration::from_secs(1),
    })
    .await
    .expect("server starts");
    let state = server.state().clone();
    // As the inbox sees them: one file per ingest run, each adding a file to its day.
    for file in files.iter().take(wanted) {
        let copy = inbox.path().join(file.file_name().unwrap());
        std::fs::copy(file, &copy).unwrap();
        let outcomes = goshawk_serve::inbox::ingest_files(&state, inbox.path(), &[copy]).await;
        assert!(matches!(
            outcomes[0].1,
            goshawk_serve::inbox::Outcome::Processed { .. }
        ));
    }
    let parquet_files = |dir: &Path| -> usize {
        walk_files(&dir.join("AzureActivity"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .count()
    };
    let count = |state: Arc<AppState>| async move {
        let catalog = state.catalog();
        let engine = goshawk_kql_engine::session::QueryEngine::new(catalog.as_ref(), 0);
        let result = engine.query("AzureActivity | count").await.expect("query");
        let mut out = Vec::new();
        goshawk_kql_engine::output::write_csv(&result, &mut out).expect("csv");
        String::from_utf8(out).expect("utf-8")
    };
    let before_files = parquet_files(data.path());
    assert!(before_files >= wanted, "{before_files} data files");
    let rows = count(state.clone()).await;

    goshawk_serve::inbox::compact_small_files(&state).await;
    let after_files = parquet_files(data.path());
    assert!(
        after_files < before_files / 4,
        "{before_files} data files became {after_files}"
    );
    assert_eq!(
        count(state.clone()).await,
        rows,
        "compaction lost or added rows"
    );
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk_files(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
