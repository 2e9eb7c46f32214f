//! The built-in detection pack: every file loads with complete metadata, every query plans
//! against the compiled-in table schemas, every query rule fires on a small crafted dataset and
//! stays quiet on a benign look-alike (`tests/fixtures/pack/<rule file>/{fires,quiet}/`), and
//! the AADProvisioningLogs and AzureActivity rules behave on generated data as
//! `ground_truth.jsonl` says they should.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use goshawk_kql_engine::catalog::{Catalog, FileCatalog, LakeCatalog, MemoryCatalog};
use goshawk_kql_engine::session::{QueryEngine, QueryResult};
use goshawk_kql_engine::time::parse_datetime;
use goshawk_rules::builtin::builtin_rules;
use goshawk_rules::elastic::ElasticRule;
use goshawk_rules::lint::SENTINEL_TACTICS;
use goshawk_rules::sentinel::SentinelRule;
use goshawk_rules::{LoadedRule, RuleDocument};

const NOW: &str = "2026-05-01T00:00:00Z";
/// The tables the pack reads; each has a compiled-in schema.
const TABLES: [&str; 4] = [
    "AADProvisioningLogs",
    "AzureActivity",
    "SigninLogs",
    "AuditLogs",
];

fn now() -> i64 {
    parse_datetime(NOW).expect("NOW is a datetime")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn pack() -> Vec<LoadedRule> {
    let (rules, errors) = builtin_rules();
    assert!(
        errors.is_empty(),
        "built-in files that do not load: {errors:?}"
    );
    rules
}

fn sentinel_rules() -> Vec<(String, SentinelRule)> {
    pack()
        .into_iter()
        .filter_map(|rule| match rule.document {
            RuleDocument::Sentinel(sentinel) => Some((file_stem(&rule.path), *sentinel)),
            _ => None,
        })
        .collect()
}

fn elastic_rules() -> Vec<ElasticRule> {
    pack()
        .into_iter()
        .filter_map(|rule| match rule.document {
            RuleDocument::Elastic(file) => Some(file.rule),
            _ => None,
        })
        .collect()
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("a built-in origin has a file name")
        .to_string()
}

fn is_technique_id(id: &str) -> bool {
    let Some(digits) = id.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = digits.split_once('.').unwrap_or((digits, "000"));
    main.len() == 4 && sub.len() == 3 && main.chars().chain(sub.chars()).all(|c| c.is_ascii_digit())
}

fn is_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn the_pack_has_the_required_rules_with_complete_metadata() {
    let rules = pack();
    let ids: BTreeSet<&str> = rules.iter().map(LoadedRule::id).collect();
    assert_eq!(ids.len(), rules.len(), "rule ids must be unique");

    let sentinel = sentinel_rules();
    let elastic = elastic_rules();
    // HUNT-01, the Rare Azure Activity Logs Event Failures rule and at least ten more.
    assert!(sentinel.len() + elastic.len() >= 12, "{ids:?}");
    let mut tables = BTreeSet::new();
    for (stem, rule) in &sentinel {
        let context = format!("{stem}.yaml");
        assert!(
            rule.id == goshawk_rules::builtin::HUNT01_ID || is_guid(&rule.id),
            "{context}: id"
        );
        assert!(!rule.name.is_empty(), "{context}: name");
        assert!(rule.description.len() > 200, "{context}: description");
        assert!(
            matches!(
                rule.severity.as_deref(),
                Some("Informational" | "Low" | "Medium" | "High")
            ),
            "{context}: severity"
        );
        assert!(!rule.tactics.is_empty(), "{context}: tactics");
        for tactic in &rule.tactics {
            assert!(
                SENTINEL_TACTICS.contains(&tactic.as_str()),
                "{context}: {tactic}"
            );
        }
        assert!(
            !rule.relevant_techniques.is_empty(),
            "{context}: techniques"
        );
        for technique in &rule.relevant_techniques {
            assert!(is_technique_id(technique), "{context}: {technique}");
        }
        assert!(
            !rule.entity_mappings.is_empty(),
            "{context}: entityMappings"
        );
        let data_types = rule.data_types();
        assert!(!data_types.is_empty(), "{context}: requiredDataConnectors");
        for table in &data_types {
            assert!(
                rule.query.contains(table.as_str()),
                "{context}: declares {table} but does not read it"
            );
        }
        tables.extend(data_types);
        if rule.is_analytic_rule() {
            assert_eq!(rule.kind.as_deref(), Some("Scheduled"), "{context}");
            assert!(rule.query_frequency.is_some(), "{context}: queryFrequency");
            assert!(rule.query_period.is_some(), "{context}: queryPeriod");
            assert!(
                rule.trigger_operator.is_some(),
                "{context}: triggerOperator"
            );
            assert!(
                rule.trigger_threshold.is_some(),
                "{context}: triggerThreshold"
            );
            // A retro-hunt widens the window by rebinding it (see `widened` below).
            assert!(
                rule.query.starts_with("let window = "),
                "{context}: an analytic rule's query starts with `let window = ...;`"
            );
        }
    }
    assert_eq!(
        tables,
        TABLES
            .iter()
            .map(|t| t.to_string())
            .collect::<BTreeSet<_>>()
    );

    let jobs: BTreeSet<String> = rules
        .iter()
        .filter_map(|rule| match &rule.document {
            RuleDocument::MlJob(job) => Some(job.job_id.clone()),
            _ => None,
        })
        .collect();
    for rule in &elastic {
        assert_eq!(rule.rule_type, "machine_learning", "{}", rule.name);
        let job_ids = rule
            .machine_learning_job_id
            .as_ref()
            .map(|j| j.to_vec())
            .unwrap_or_default();
        assert!(!job_ids.is_empty(), "{}: no job", rule.name);
        for job in job_ids {
            assert!(
                jobs.contains(&job),
                "{}: job {job} is not built in",
                rule.name
            );
        }
        assert!(is_guid(&rule.rule_id), "{}", rule.name);
        assert!(
            rule.note.as_deref().is_some_and(|n| n.len() > 500),
            "{}",
            rule.name
        );
        assert!(
            rule.setup.is_some() && !rule.false_positives.is_empty(),
            "{}",
            rule.name
        );
        assert_eq!(rule.author, ["goshawk"]);
        assert_eq!(rule.license.as_deref(), Some("Apache-2.0"));
        for threat in &rule.threat {
            assert_eq!(threat.framework, "MITRE ATT&CK");
            assert!(threat.tactic.reference.is_some(), "{}", rule.name);
            for technique in &threat.technique {
                assert!(is_technique_id(&technique.id), "{}", rule.name);
            }
        }
    }
}

#[test]
fn rare_azure_activity_failures_is_as_the_issue_specifies() {
    let rule = elastic_rules()
        .into_iter()
        .find(|r| r.rule_id == "c17ffbf9-595a-4c0b-a126-aacedb6dd179")
        .expect("the rule is built in");
    assert_eq!(rule.name, "Rare Azure Activity Logs Event Failures");
    assert_eq!(rule.rule_type, "machine_learning");
    assert_eq!(rule.severity.as_deref(), Some("low"));
    assert_eq!(rule.risk_score, Some(21));
    assert_eq!(rule.interval.as_deref(), Some("15m"));
    assert_eq!(rule.from.as_deref(), Some("now-2h"));
    assert_eq!(rule.anomaly_threshold, Some(50));
    assert_eq!(rule.max_signals, Some(100));
    assert_eq!(
        rule.machine_learning_job_id.map(|j| j.to_vec()),
        Some(vec!["azure_activitylogs_rare_event_failures".to_string()])
    );
    let threat: Vec<(String, String, Vec<String>)> = rule
        .threat
        .iter()
        .map(|t| {
            (
                t.tactic.id.clone(),
                t.tactic.name.clone(),
                t.technique.iter().map(|x| x.id.clone()).collect(),
            )
        })
        .collect();
    let expected = [
        ("TA0007", "Discovery", vec!["T1526", "T1580"]),
        ("TA0004", "Privilege Escalation", vec![]),
        ("TA0005", "Defense Evasion", vec![]),
        ("TA0008", "Lateral Movement", vec![]),
        ("TA0003", "Persistence", vec![]),
        ("TA0009", "Collection", vec![]),
    ]
    .map(|(id, name, techniques)| {
        (
            id.to_string(),
            name.to_string(),
            techniques.into_iter().map(String::from).collect(),
        )
    });
    assert_eq!(threat, expected);
    let note = rule.note.expect("an investigation guide");
    for topic in [
        "discovery or privileged writes",
        "principal and the scope",
        "sign-in telemetry",
        "role, PIM and consent changes",
        "policy denies and locks",
        "service principal credential changes",
        "New automation doing wide discovery",
        "Governance rollouts",
        "Contain the identity",
        "Remove persistence",
        "Restore",
        "Escalate",
        "Harden",
    ] {
        assert!(
            note.to_lowercase().contains(&topic.to_lowercase()),
            "the guide lacks {topic:?}"
        );
    }
}

/// Empty tables with the compiled-in schemas.
fn schema_catalog() -> MemoryCatalog {
    let mut catalog = MemoryCatalog::new();
    for table in TABLES {
        let schema = goshawk_types::table_schema(table).expect("a compiled-in schema");
        catalog
            .add_batches(table, schema.lake_arrow_schema(), Vec::new())
            .expect("an empty table");
    }
    catalog
}

#[test]
fn every_query_plans_against_the_table_schemas() {
    let catalog = schema_catalog();
    let engine = QueryEngine::new(&catalog, now());
    for (stem, rule) in sentinel_rules() {
        if let Err(err) = engine.plan(&rule.query) {
            panic!("{stem}: {}", err.render(&rule.query, &stem));
        }
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pack")
}

/// The tables of one fixture case; tables it has no file for are empty.
fn fixture_catalog(dir: &Path) -> FileCatalog {
    let mut catalog = FileCatalog::new();
    for table in TABLES {
        let path = dir.join(format!("{table}.jsonl"));
        if path.exists() {
            catalog
                .add_file(table, &path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        }
    }
    catalog
}

fn run(catalog: &dyn Catalog, query: &str, context: &str) -> QueryResult {
    let with_empty_tables = Layered {
        first: catalog,
        empty: schema_catalog(),
    };
    let engine = QueryEngine::new(&with_empty_tables, now());
    runtime()
        .block_on(engine.query(query))
        .unwrap_or_else(|err| panic!("{context}: {}", err.render(query, context)))
}

/// A fixture catalog backed by empty schema tables, so a case only lists the tables it fills.
struct Layered<'a> {
    first: &'a dyn Catalog,
    empty: MemoryCatalog,
}

impl Catalog for Layered<'_> {
    fn table(&self, name: &str) -> Option<goshawk_kql_engine::catalog::TableRef> {
        self.first.table(name).or_else(|| self.empty.table(name))
    }

    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }
}

#[test]
fn every_query_rule_fires_on_its_attack_and_not_on_the_look_alike() {
    for (stem, rule) in sentinel_rules() {
        if rule.id == goshawk_rules::builtin::HUNT01_ID {
            // HUNT-01 is checked on generated data against an independent computation by the
            // hunt tests.
            continue;
        }
        for (case, should_fire) in [("fires", true), ("quiet", false)] {
            let dir = fixture_dir().join(&stem).join(case);
            assert!(dir.is_dir(), "{stem}: missing fixture {}", dir.display());
            let context = format!("{stem}/{case}");
            let result = run(&fixture_catalog(&dir), &rule.query, &context);
            assert_eq!(
                result.row_count() > 0,
                should_fire,
                "{context}: {} row(s)",
                result.row_count()
            );
        }
    }
}

/// A scale-1 generated lake (21 days ending `NOW`) and its ground truth, built once per test
/// binary.
fn generated() -> &'static (tempfile::TempDir, Vec<serde_json::Value>) {
    static LAKE: OnceLock<(tempfile::TempDir, Vec<serde_json::Value>)> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let raw = dir.path().join("raw");
        let end = chrono::DateTime::parse_from_rfc3339(NOW)
            .expect("NOW is RFC 3339")
            .with_timezone(&chrono::Utc);
        // 21 days (the generator's minimum) hold every scenario and keep the test fast.
        let options = goshawk_generate::GenerateOptions {
            days: 21,
            ..goshawk_generate::GenerateOptions::new(&raw, end)
        };
        goshawk_generate::generate(&options).expect("generating");
        let inputs = goshawk_ingest::expand_inputs(&[raw.display().to_string()]).expect("listing");
        let summary = goshawk_ingest::ingest(
            &dir.path().join("lake"),
            &inputs.files,
            &goshawk_ingest::IngestOptions::default(),
            &goshawk_ingest::Progress::default(),
        )
        .expect("ingesting");
        assert!(summary.is_complete());
        let truth = std::fs::read_to_string(raw.join("ground_truth.jsonl"))
            .expect("ground truth")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        (dir, truth)
    })
}

fn scenario<'a>(truth: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    truth
        .iter()
        .find(|s| s["scenario"] == id)
        .unwrap_or_else(|| panic!("scenario {id} in the ground truth"))
}

/// The rule's query evaluated over the whole generated window: the `window` binding widened to
/// 30 days. The threshold rules summarize per hour bin, so this equals running them every hour.
fn widened(stem: &str) -> String {
    let (_, rule) = sentinel_rules()
        .into_iter()
        .find(|(s, _)| s == stem)
        .unwrap_or_else(|| panic!("{stem} is built in"));
    let query = rule
        .query
        .strip_prefix("let window = 1h;")
        .unwrap_or_else(|| panic!("{stem}: the query starts with its window"));
    format!("let window = 30d;{query}")
}

fn column(result: &QueryResult, name: &str) -> Vec<String> {
    let index = result
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("column {name}"));
    result
        .batches
        .iter()
        .flat_map(|batch| {
            let array = batch.column(index);
            (0..batch.num_rows()).map(move |row| {
                datafusion::arrow::util::display::array_value_to_string(array, row)
                    .expect("a printable value")
            })
        })
        .collect()
}

#[test]
fn on_generated_data_the_burst_rules_find_scenario_c_and_nothing_else() {
    let (dir, truth) = generated();
    let lake = LakeCatalog::open(dir.path().join("lake")).expect("the lake");

    // (b) is a low-and-slow campaign: a threshold rule must not see it, and (a) never exceeds
    // two failures an hour either; nothing in the background bursts.
    let burst = run(
        &lake,
        &widened("aadprov_failure_burst"),
        "aadprov_failure_burst",
    );
    assert_eq!(burst.row_count(), 0, "{:?}", column(&burst, "JobId"));
    let b = scenario(truth, "b");
    assert_eq!(
        b["detections"]
            .as_array()
            .expect("detections")
            .iter()
            .find(|d| d["detection"] == "threshold-burst-rule")
            .expect("the burst expectation")["should_fire"],
        false
    );

    let removals = run(
        &lake,
        &widened("aadprov_mass_deprovisioning"),
        "aadprov_mass_deprovisioning",
    );
    assert_eq!(removals.row_count(), 0);

    // (c): the compromised identity is denied on four operations within half an hour; the
    // benign rollouts (d1: one new identity denied on two routine operations, d2: policy
    // denies) must not fire.
    let denied = run(
        &lake,
        &widened("az_access_denied_burst"),
        "az_access_denied_burst",
    );
    let c = scenario(truth, "c");
    let callers: Vec<String> = c["entities"]["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .map(|v| v.as_str().expect("a caller").to_string())
        .collect();
    assert_eq!(column(&denied, "Caller"), callers);
    assert_eq!(
        column(&denied, "CallerIpAddress"),
        [c["entities"]["ips"][0].as_str().expect("an IP")]
    );
    let hour = &c["time_start"].as_str().expect("a start")[..13];
    assert!(column(&denied, "Hour")[0].starts_with(hour));
    for benign in ["d1", "d2"] {
        for caller in scenario(truth, benign)["entities"]["callers"]
            .as_array()
            .expect("callers")
        {
            let caller = caller.as_str().expect("a caller");
            assert!(!column(&denied, "Caller").iter().any(|c| c == caller));
        }
    }
}
