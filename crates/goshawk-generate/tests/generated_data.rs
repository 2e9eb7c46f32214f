//! End-to-end checks of generated data sets: determinism, export shapes, documented
//! distributions, ground truth against the records, and the bad-record manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use goshawk_generate::{
    ACTIVITY_EVENT_HUB_DIR, ACTIVITY_STORAGE_DIR, BAD_RECORDS_MANIFEST, GRAPH_DIR, GROUND_TRUTH,
    GenerateError, GenerateOptions, PROVISIONING_EVENT_HUB_DIR, Profile, RunOptions, generate,
    generate_with,
};
use serde_json::Value;

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn options(dir: &Path, scale: u32, seed: u64) -> GenerateOptions {
    let mut opts = GenerateOptions::new(dir.join("out"), end());
    opts.scale = scale;
    opts.seed = seed;
    opts
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn time_of(value: &Value, key: &str, context: &str) -> DateTime<Utc> {
    let text = value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: {key} is not a string"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{context}: {key} {text:?}: {e}"))
        .with_timezone(&Utc)
}

/// Every record of a data set, by table, with the file it came from.
#[derive(Default)]
struct Records {
    /// Graph `provisioningObjectSummary` objects (from pages or from `properties`).
    provisioning: Vec<(PathBuf, Value)>,
    /// Diagnostic-settings envelopes of provisioning records.
    provisioning_envelopes: Vec<Value>,
    activity: Vec<(PathBuf, Value)>,
}

const PROVISIONING_KEYS: &[&str] = &[
    "id",
    "activityDateTime",
    "tenantId",
    "jobId",
    "cycleId",
    "changeId",
    "provisioningAction",
    "durationInMilliseconds",
    "initiatedBy",
    "servicePrincipal",
    "sourceSystem",
    "targetSystem",
    "sourceIdentity",
    "targetIdentity",
    "provisioningStatusInfo",
    "provisioningSteps",
    "modifiedProperties",
];

fn check_provisioning_object(object: &Value, context: &str) {
    for key in PROVISIONING_KEYS {
        assert!(object.get(key).is_some(), "{context}: missing {key}");
    }
    time_of(object, "activityDateTime", context);
    assert!(
        object["durationInMilliseconds"].is_i64(),
        "{context}: duration"
    );
    for key in [
        "servicePrincipal",
        "sourceSystem",
        "targetSystem",
        "sourceIdentity",
        "targetIdentity",
    ] {
        assert!(object[key]["id"].is_string(), "{context}: {key}.id");
        assert!(
            object[key]["displayName"].is_string(),
            "{context}: {key}.displayName"
        );
    }
    for key in ["sourceIdentity", "targetIdentity"] {
        let kind = object[key]["identityType"].as_str();
        assert!(
            matches!(kind, Some("User" | "Group")),
            "{context}: {key}.identityType {kind:?}"
        );
        assert!(
            object[key]["details"].is_object(),
            "{context}: {key}.details"
        );
    }
    let action = object["provisioningAction"].as_str().unwrap_or_default();
    assert!(
        [
            "create",
            "update",
            "delete",
            "disable",
            "stagedDelete",
            "other"
        ]
        .contains(&action),
        "{context}: provisioningAction {action}"
    );
    let status = &object["provisioningStatusInfo"];
    let result = status["status"].as_str().unwrap_or_default();
    assert!(
        ["success", "failure", "skipped", "warning"].contains(&result),
        "{context}: {result}"
    );
    let error = &status["errorInformation"];
    if result == "failure" {
        for key in [
            "errorCode",
            "reason",
            "additionalDetails",
            "errorCategory",
            "recommendedAction",
        ] {
            assert!(error[key].is_string(), "{context}: errorInformation.{key}");
        }
    } else {
        assert!(
            error.is_null(),
            "{context}: errorInformation on a {result} record"
        );
    }
    let steps = object["provisioningSteps"].as_array().expect("steps array");
    assert!(!steps.is_empty(), "{context}: no steps");
    for step in steps {
        for key in ["name", "description", "provisioningStepType", "status"] {
            assert!(step[key].is_string(), "{context}: step {key}");
        }
    }
    for property in object["modifiedProperties"]
        .as_array()
        .expect("modifiedProperties array")
    {
        assert!(
            property["displayName"].is_string(),
            "{context}: property name"
        );
        assert!(
            property["newValue"].is_string(),
            "{context}: property newValue"
        );
    }
}

const ACTIVITY_KEYS: &[&str] = &[
    "time",
    "resourceId",
    "operationName",
    "category",
    "resultType",
    "resultSignature",
    "durationMs",
    "callerIpAddress",
    "correlationId",
    "identity",
    "level",
    "location",
    "properties",
];

fn check_activity_record(record: &Value, context: &str) {
    for key in ACTIVITY_KEYS {
        assert!(record.get(key).is_some(), "{context}: missing {key}");
    }
    time_of(record, "time", context);
    let result = record["resultType"].as_str().unwrap_or_default();
    assert!(
        ["Start", "Accept", "Success", "Failure"].contains(&result),
        "{context}: {result}"
    );
    let category = record["category"].as_str().unwrap_or_default();
    assert!(
        ["Administrative", "Policy"].contains(&category),
        "{context}: {category}"
    );
    let operation = record["operationName"].as_str().unwrap_or_default();
    assert!(
        operation.starts_with("Microsoft."),
        "{context}: {operation}"
    );
    let resource = record["resourceId"].as_str().unwrap_or_default();
    assert!(
        resource.starts_with("/SUBSCRIPTIONS/"),
        "{context}: {resource}"
    );
    assert!(
        record["identity"]["authorization"]["scope"].is_string(),
        "{context}: scope"
    );
    assert!(
        record["identity"]["claims"]["appid"].is_string(),
        "{context}: claims"
    );
    assert!(
        record["properties"]["eventCategory"].is_string(),
        "{context}: eventCategory"
    );
    if result == "Failure" {
        let signature = record["resultSignature"].as_str().unwrap_or_default();
        assert!(signature.starts_with("Failed."), "{context}: {signature}");
        assert!(
            record["properties"]["statusMessage"].is_string(),
            "{context}: statusMessage"
        );
    }
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(out: &Path) -> Records {
    let mut records = Records::default();
    let graph_pages = files_under(&out.join(GRAPH_DIR));
    assert!(!graph_pages.is_empty(), "no Graph pages");
    // The backfill was exported a day at a time: one chain of pages per day folder, each page
    // but the day's last linking to the next with the day's filter.
    for (index, path) in graph_pages.iter().enumerate() {
        let page = read_json(path);
        assert!(
            page["@odata.context"]
                .as_str()
                .is_some_and(|c| c.ends_with("#auditLogs/provisioning"))
        );
        let day = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").is_ok(),
            "{}: not in a day folder",
            path.display()
        );
        let last_of_day = graph_pages
            .get(index + 1)
            .is_none_or(|next| next.parent() != path.parent());
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            None => assert!(last_of_day, "{}: no nextLink", path.display()),
            Some(link) => {
                assert!(
                    !last_of_day,
                    "{}: nextLink on the last page",
                    path.display()
                );
                assert!(
                    link.contains(&format!("activityDateTime%20ge%20{day}T00:00:00Z")),
                    "{}: {link}",
                    path.display()
                );
            }
        }
        for object in page["value"].as_array().expect("value array") {
            let context = path.display().to_string();
            check_provisioning_object(object, &context);
            assert!(
                object["activityDateTime"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&day)),
                "{context}: object outside its day"
            );
            records.provisioning.push((path.clone(), object.clone()));
        }
    }
    for path in files_under(&out.join(PROVISIONING_EVENT_HUB_DIR)) {
        let message = read_json(&path);
        let day = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let mut hours = BTreeSet::new();
        for envelope in message["records"].as_array().expect("records array") {
            let context = path.display().to_string();
            let time = envelope["time"].as_str().unwrap_or_default();
            assert!(time.starts_with(&day), "{context}: {time} outside {day}");
            hours.insert(time.get(..13).unwrap_or_default().to_string());
            assert_eq!(envelope["category"], "ProvisioningLogs", "{context}");
            assert_eq!(
                envelope["operationName"], "Provisioning activity",
                "{context}"
            );
            let resource = envelope["resourceId"].as_str().unwrap_or_default();
            assert!(
                resource.starts_with("/tenants/")
                    && resource.ends_with("/providers/Microsoft.aadiam")
            );
            let object = &envelope["properties"];
            check_provisioning_object(object, &context);
            let status = object["provisioningStatusInfo"]["status"]
                .as_str()
                .unwrap_or_default();
            let expected = match status {
                "success" | "warning" => "Success",
                "failure" => "Failure",
                "skipped" => "Skipped",
                other => panic!("{context}: status {other}"),
            };
            assert_eq!(envelope["resultType"], Value::from(expected), "{context}");
            assert_eq!(
                time_of(envelope, "time", &context),
                time_of(object, "activityDateTime", &context)
            );
            records.provisioning.push((path.clone(), object.clone()));
            records.provisioning_envelopes.push(envelope.clone());
        }
        assert_eq!(hours.len(), 1, "{}: a message spans hours", path.display());
    }
    for path in files_under(&out.join(ACTIVITY_EVENT_HUB_DIR)) {
        let message = read_json(&path);
        let batch = message["records"].as_array().expect("records array");
        assert!(
            !batch.is_empty() && batch.len() <= 100,
            "{}: {} records",
            path.display(),
            batch.len()
        );
        for record in batch {
            check_activity_record(record, &path.display().to_string());
            records.activity.push((path.clone(), record.clone()));
        }
    }
    for path in files_under(&out.join(ACTIVITY_STORAGE_DIR)) {
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("PT1H.json"));
        let text = fs::read_to_string(&path).expect("utf-8 blob");
        let relative = path
            .strip_prefix(out.join(ACTIVITY_STORAGE_DIR))
            .expect("under root");
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts[0], "resourceId=");
        assert_eq!(parts[1], "SUBSCRIPTIONS");
        assert_eq!(parts[7], "m=00");
        for (number, line) in text.lines().enumerate() {
            let context = format!("{}:{}", path.display(), number + 1);
            let record: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{context}: {e}"));
            check_activity_record(&record, &context);
            let resource = record["resourceId"].as_str().unwrap_or_default();
            let subscription = format!("/SUBSCRIPTIONS/{}", parts[2]);
            assert!(
                resource == subscription || resource.starts_with(&format!("{subscription}/")),
                "{context}: {resource}"
            );
            // Blobs are per hour of the operation's start; completion records may spill over.
            if record["resultType"] == "Start" || record["resultType"] == "Failure" {
                let time = time_of(&record, "time", &context);
                let folder = format!(
                    "y={}/m={:02}/d={:02}/h={:02}",
                    time.year(),
                    time.month(),
                    time.day(),
                    time.hour()
                );
                assert_eq!(parts[3..7].join("/"), folder, "{context}");
            }
            records.activity.push((path.clone(), record));
        }
    }
    records
}

fn ground_truth(out: &Path) -> Vec<Value> {
    let text = fs::read_to_string(out.join(GROUND_TRUTH)).expect("ground truth");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("ground truth line"))
        .collect()
}

fn scenario<'a>(truth: &'a [Value], id: &str) -> &'a Value {
    truth
        .iter()
        .find(|s| s["scenario"] == id)
        .unwrap_or_else(|| panic!("scenario {id} missing"))
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().map_or_else(BTreeSet::new, |items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = options(&dir.path().join("1"), 2, 42);
    first.with_bad_records = true;
    let mut second = first.clone();
    second.out_dir = dir.path().join("2/out");
    let mut other = first.clone();
    other.out_dir = dir.path().join("3/out");
    other.seed = 43;
    for opts in [&first, &second, &other] {
        generate(opts).expect("generate");
    }
    let a = listing(&first.out_dir);
    let b = listing(&second.out_dir);
    assert!(a.len() > 100, "only {} files", a.len());
    assert_eq!(a.len(), b.len());
    for ((path_a, bytes_a), (path_b, bytes_b)) in a.iter().zip(&b) {
        assert_eq!(path_a, path_b);
        assert!(
            bytes_a == bytes_b,
            "{} differs between two runs with one seed",
            path_a.display()
        );
    }
    let c = listing(&other.out_dir);
    let graph_a = a
        .iter()
        .find(|(p, _)| p.starts_with(GRAPH_DIR))
        .expect("graph page");
    let graph_c = c
        .iter()
        .find(|(p, _)| p.starts_with(GRAPH_DIR))
        .expect("graph page");
    assert_ne!(graph_a.1, graph_c.1, "another seed must give other records");
}

/// Every file with its bytes, relative to `root`.
fn listing(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(root)
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).expect("read");
            (
                path.strip_prefix(root).expect("prefix").to_path_buf(),
                bytes,
            )
        })
        .collect()
}

#[test]
fn output_does_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for threads in [1, 4] {
        let mut opts = options(&dir.path().join(threads.to_string()), 1, 5);
        opts.days = 22;
        // An end that is not midnight: the first and last days are partial chunks.
        opts.end = end() + chrono::Duration::hours(7) + chrono::Duration::minutes(30);
        let summary = generate_with(
            &opts,
            &RunOptions {
                profile: Profile::Standard,
                threads,
                dry_run: false,
            },
        )
        .expect("generate");
        outputs.push((threads, summary.records(), listing(&opts.out_dir)));
    }
    let (_, records, reference) = &outputs[0];
    assert!(reference.len() > 100, "only {} files", reference.len());
    for (threads, other_records, files) in &outputs[1..] {
        assert_eq!(records, other_records, "{threads} threads");
        assert_eq!(reference.len(), files.len(), "{threads} threads");
        for ((path_a, bytes_a), (path_b, bytes_b)) in reference.iter().zip(files) {
            assert_eq!(path_a, path_b, "{threads} threads");
            assert!(
                bytes_a == bytes_b,
                "{} differs between 1 and {threads} threads",
                path_a.display()
            );
        }
    }
}

#[test]
fn records_have_the_export_shapes_and_ground_truth_matches_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 1, 7);
    let summary = generate(&opts).expect("generate");
    let out = &opts.out_dir;
    let records = load(out);
    assert_eq!(
        summary.records(),
        (records.provisioning.len() + records.activity.len()) as u64,
        "summary counts"
    );
    // Scale 1 is a demo: small, yet both tables and every shape are present.
    assert!(
        summary.bytes < 20_000_000,
        "scale 1 wrote {} bytes",
        summary.bytes
    );
    assert!(summary.streams.iter().all(|s| s.records > 100), "{summary}");
    let window_start = end() - chrono::Duration::days(30);
    for (path, object) in &records.provisioning {
        let time = time_of(object, "activityDateTime", &path.display().to_string());
        assert!(
            time >= window_start && time < end(),
            "{}: {time}",
            path.display()
        );
    }
    let truth = ground_truth(out);
    assert_eq!(truth.len(), 5);

    // HUNT-01 computed from the files: exactly the planted (a) and (b) groups fire.
    let mut groups: BTreeMap<(String, String, String), Vec<DateTime<Utc>>> = BTreeMap::new();
    for (path, object) in &records.provisioning {
        let info = &object["provisioningStatusInfo"];
        if info["status"] != "failure" {
            continue;
        }
        let key = (
            object["jobId"].as_str().unwrap_or_default().to_string(),
            object["servicePrincipal"]["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            info["errorInformation"]["errorCode"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        groups.entry(key).or_default().push(time_of(
            object,
            "activityDateTime",
            &path.display().to_string(),
        ));
    }
    let firing: BTreeSet<(String, String, String)> = groups
        .iter()
        .filter(|(_, times)| {
            let days: BTreeSet<_> = times.iter().map(|t| t.date_naive()).collect();
            times.len() >= 10 && days.len() >= 3
        })
        .map(|(key, _)| key.clone())
        .collect();
    let mut expected = BTreeSet::new();
    for id in ["a", "b"] {
        let s = scenario(&truth, id);
        let entities = &s["entities"];
        let key = (
            entities["job_id"].as_str().unwrap_or_default().to_string(),
            entities["service_principal"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            entities["result_signature"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        assert!(s["detections"].as_array().is_some_and(|d| {
            d.iter()
                .any(|d| d["detection"] == "HUNT-01" && d["should_fire"] == true)
        }));
        // The planted records are in the files, once each, as failures of that group.
        let ids = strings(&s["record_ids"]);
        let planted: Vec<&Value> = records
            .provisioning
            .iter()
            .map(|(_, o)| o)
            .filter(|o| ids.contains(o["id"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(
            planted.len(),
            ids.len(),
            "scenario {id}: planted records in the files"
        );
        assert_eq!(s["failures"], Value::from(ids.len()));
        let times: Vec<DateTime<Utc>> = planted
            .iter()
            .map(|o| time_of(o, "activityDateTime", id))
            .collect();
        let days: BTreeSet<_> = times.iter().map(|t| t.date_naive()).collect();
        assert!(
            ids.len() >= 10 && days.len() >= 3,
            "scenario {id}: {} failures on {} days",
            ids.len(),
            days.len()
        );
        for object in &planted {
            assert_eq!(object["jobId"], entities["job_id"]);
            assert_eq!(
                object["provisioningStatusInfo"]["errorInformation"]["errorCode"],
                entities["result_signature"]
            );
        }
        if id == "b" {
            // Low and slow: never a burst.
            let mut per_day: BTreeMap<_, usize> = BTreeMap::new();
            let mut per_hour: BTreeMap<_, usize> = BTreeMap::new();
            for time in &times {
                *per_day.entry(time.date_naive()).or_default() += 1;
                *per_hour
                    .entry((time.date_naive(), time.hour()))
                    .or_default() += 1;
            }
            assert!(per_day.values().all(|&n| n <= 2), "{per_day:?}");
            assert!(per_hour.values().all(|&n| n == 1), "{per_hour:?}");
        } else {
            assert!(
                ids.len() >= 24,
                "schema drift should be dozens of failures, got {}",
                ids.len()
            );
        }
        expected.insert(key);
    }
    assert_eq!(firing, expected, "HUNT-01 must fire for (a) and (b) only");

    // Rare failing operation: (c) fails on operations the background never fails on, while the
    // benign look-alikes fail on routinely failing operations.
    let mut failing_before: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for (path, record) in &records.activity {
        if record["resultType"] == "Failure" {
            let time = time_of(record, "time", &path.display().to_string());
            let op = record["operationName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            failing_before
                .entry(op)
                .and_modify(|t| *t = (*t).min(time))
                .or_insert(time);
        }
    }
    let attack = scenario(&truth, "c");
    let attack_start = time_of(attack, "time_start", "c");
    let attack_ops = strings(&attack["entities"]["failing_operations"]);
    assert!(attack_ops.len() >= 3, "{attack_ops:?}");
    for op in &attack_ops {
        assert!(
            failing_before[op] >= attack_start,
            "{op} failed before the attack"
        );
    }
    let attacker_ip = goshawk_generate::ATTACKER_IP;
    let correlation = strings(&attack["correlation_ids"]);
    for (_, record) in &records.activity {
        let from_attacker = record["callerIpAddress"] == attacker_ip;
        let planted = correlation.contains(record["correlationId"].as_str().unwrap_or_default());
        assert_eq!(
            from_attacker, planted,
            "the attacker IP appears exactly on the attack"
        );
    }
    let role_write = records.activity.iter().any(|(_, r)| {
        r["callerIpAddress"] == attacker_ip
            && r["operationName"] == "Microsoft.Authorization/roleAssignments/write"
            && r["resultType"] == "Failure"
    });
    assert!(
        role_write,
        "the attack ends with a failed role assignment write"
    );
    for id in ["d1", "d2"] {
        let lookalike = scenario(&truth, id);
        let start = time_of(lookalike, "time_start", id);
        for op in strings(&lookalike["entities"]["failing_operations"]) {
            assert!(
                failing_before[&op] < start - chrono::Duration::days(7),
                "{id}: {op} is not routine"
            );
        }
    }
    let policy = records
        .activity
        .iter()
        .filter(|(_, r)| r["category"] == "Policy")
        .count();
    assert!(policy > 18, "policy records: {policy}");
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    numerator as f64 / denominator.max(1) as f64
}

#[test]
fn documented_distributions_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 4, 11);
    generate(&opts).expect("generate");
    let out = &opts.out_dir;
    let records = load(out);
    let truth = ground_truth(out);
    let planted: BTreeSet<String> = truth
        .iter()
        .flat_map(|s| strings(&s["record_ids"]))
        .collect();
    let background: Vec<&Value> = records
        .provisioning
        .iter()
        .map(|(_, o)| o)
        .filter(|o| !planted.contains(o["id"].as_str().unwrap_or_default()))
        .collect();
    assert!(
        background.len() > 3000,
        "{} provisioning records",
        background.len()
    );

    // Status mix: 85.5% success, 8.5% skipped, 3.5% failure, 2.5% warning.
    let count = |status: &str| {
        background
            .iter()
            .filter(|o| o["provisioningStatusInfo"]["status"] == status)
            .count()
    };
    let total = background.len();
    for (status, share, tolerance) in [
        ("success", 0.855, 0.02),
        ("skipped", 0.085, 0.015),
        ("failure", 0.035, 0.008),
        ("warning", 0.025, 0.008),
    ] {
        let observed = ratio(count(status), total);
        assert!(
            (observed - share).abs() < tolerance,
            "{status}: {observed:.4} vs {share}"
        );
    }
    // Action mix: update 50%, create 16%, other 12%, disable 9%, stagedDelete 7%, delete 6%.
    for (action, share) in [
        ("update", 0.5),
        ("create", 0.16),
        ("other", 0.12),
        ("disable", 0.09),
        ("stagedDelete", 0.07),
        ("delete", 0.06),
    ] {
        let observed = ratio(
            background
                .iter()
                .filter(|o| o["provisioningAction"] == action)
                .count(),
            total,
        );
        assert!(
            (observed - share).abs() < 0.025,
            "{action}: {observed:.4} vs {share}"
        );
    }
    // Error codes: outbound SCIM apps fail mostly with SCIM bad responses, never with
    // on-premises mastering errors; the cloud sync agent never with SCIM errors.
    let mut scim_codes: BTreeMap<String, usize> = BTreeMap::new();
    for object in &background {
        if object["provisioningStatusInfo"]["status"] != "failure" {
            continue;
        }
        let code = object["provisioningStatusInfo"]["errorInformation"]["errorCode"]
            .as_str()
            .unwrap_or_default();
        let job = object["jobId"].as_str().unwrap_or_default();
        if job.starts_with("AD2AADProvisioning") {
            assert!(!code.starts_with("SystemForCrossDomain"), "{job}: {code}");
        } else if !job.starts_with("workdayToAD") {
            assert_ne!(
                code, "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises",
                "{job}"
            );
            *scim_codes.entry(code.to_string()).or_default() += 1;
        }
    }
    let scim_total: usize = scim_codes.values().sum();
    let bad_response = ratio(
        scim_codes
            .get("SystemForCrossDomainIdentityManagementBadResponse")
            .copied()
            .unwrap_or(0),
        scim_total,
    );
    assert!(
        (0.35..0.65).contains(&bad_response),
        "SCIM bad response share {bad_response:.3} of {scim_codes:?}"
    );

    // Cycles every 40 minutes: within a job, cycles start on a 40-minute grid (plus < 2 min).
    let mut cycles: BTreeMap<&str, BTreeMap<&str, DateTime<Utc>>> = BTreeMap::new();
    for (path, object) in &records.provisioning {
        let time = time_of(object, "activityDateTime", &path.display().to_string());
        let job = object["jobId"].as_str().unwrap_or_default();
        let cycle = object["cycleId"].as_str().unwrap_or_default();
        let first = cycles.entry(job).or_default().entry(cycle).or_insert(time);
        *first = (*first).min(time);
    }
    let mut gaps = 0;
    for starts in cycles.values() {
        let mut times: Vec<_> = starts.values().copied().collect();
        times.sort();
        for pair in times.windows(2) {
            let seconds = (pair[1] - pair[0]).num_seconds();
            let off_grid = (seconds + 120).rem_euclid(2400);
            assert!(
                off_grid <= 240,
                "cycle gap of {seconds} s is not a multiple of 40 min"
            );
            assert!(seconds >= 2400 - 120, "two cycles {seconds} s apart");
            gaps += 1;
        }
    }
    assert!(gaps > 1000, "{gaps} cycle gaps");

    // Diurnal and weekly shape of human-driven activity (successful operations).
    let mut by_hour = [0usize; 24];
    let mut weekday_ops = 0;
    let mut weekend_ops = 0;
    for (path, record) in &records.activity {
        if record["resultType"] == "Failure"
            || record["resultType"] == "Start"
            || record["category"] == "Policy"
        {
            continue;
        }
        let time = time_of(record, "time", &path.display().to_string());
        by_hour[time.hour() as usize] += 1;
        if time.weekday().number_from_monday() >= 6 {
            weekend_ops += 1;
        } else {
            weekday_ops += 1;
        }
    }
    let business: usize = by_hour[8..17].iter().sum();
    let night: usize = by_hour[0..5].iter().sum();
    let business_rate = business as f64 / 9.0;
    let night_rate = night as f64 / 5.0;
    assert!(
        business_rate > 4.0 * night_rate,
        "business {business_rate:.1}/h vs night {night_rate:.1}/h"
    );
    // 30 days ending 2026-05-01 hold 22 weekdays and 8 weekend days; weekend factor 0.35.
    let weekend_ratio = (weekend_ops as f64 / 8.0) / (weekday_ops as f64 / 22.0);
    assert!(
        (0.2..0.55).contains(&weekend_ratio),
        "weekend/weekday per day {weekend_ratio:.2}"
    );

    // Two to three distinct failing operations per hour in the background.
    let lookalikes: BTreeSet<String> = truth
        .iter()
        .flat_map(|s| strings(&s["correlation_ids"]))
        .collect();
    let mut failing: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (path, record) in &records.activity {
        if record["resultType"] != "Failure"
            || lookalikes.contains(record["correlationId"].as_str().unwrap_or_default())
        {
            continue;
        }
        let time = time_of(record, "time", &path.display().to_string());
        let op = record["operationName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        failing
            .entry(time.timestamp().div_euclid(3600))
            .or_default()
            .insert(op);
    }
    let hours = 30 * 24;
    let distinct: usize = failing.values().map(BTreeSet::len).sum();
    let mean = distinct as f64 / f64::from(hours);
    assert!(
        (2.3..2.7).contains(&mean),
        "mean distinct failing operations per hour {mean:.2}"
    );
    assert!(
        failing.len() >= hours as usize - 2,
        "hours with failures: {}",
        failing.len()
    );
    assert!(failing.values().all(|ops| (1..=3).contains(&ops.len())));
}

#[test]
fn bad_records_are_listed_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path(), 1, 3);
    opts.with_bad_records = true;
    let summary = generate(&opts).expect("generate");
    let out = &opts.out_dir;
    let manifest = fs::read_to_string(out.join(BAD_RECORDS_MANIFEST)).expect("manifest");
    let entries: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).expect("entry"))
        .collect();
    assert_eq!(entries.len() as u64, summary.bad_records);
    let kinds: BTreeSet<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "truncated_json",
        "wrong_type",
        "impossible_date",
        "binary_garbage",
        "empty_file",
    ] {
        assert!(kinds.contains(kind), "no {kind} record");
    }
    for entry in &entries {
        let file = out.join(entry["file"].as_str().expect("file"));
        let bytes = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let line = entry["line"].as_u64().expect("line") as usize;
        let text: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        match entry["kind"].as_str() {
            Some("empty_file") => assert!(bytes.is_empty()),
            Some("truncated_json") if bytes.iter().filter(|&&b| b == b'\n').count() == 0 => {
                assert!(
                    serde_json::from_slice::<Value>(&bytes).is_err(),
                    "{}",
                    file.display()
                );
            }
            Some("truncated_json" | "binary_garbage") => {
                assert!(
                    serde_json::from_slice::<Value>(text[line - 1]).is_err(),
                    "{}:{line}",
                    file.display()
                );
            }
            _ => {
                // Parses as JSON (modulo the separator comma) but violates the shape.
                let raw = String::from_utf8_lossy(text[line - 1]);
                let value: Value =
                    serde_json::from_str(raw.trim_end_matches(',')).expect("bad line is JSON");
                let shape_ok = std::panic::catch_unwind(|| {
                    if value.get("activityDateTime").is_some() {
                        check_provisioning_object(&value, "bad");
                    } else if value.get("category") == Some(&Value::from("ProvisioningLogs")) {
                        time_of(&value, "time", "bad");
                        check_provisioning_object(&value["properties"], "bad");
                    } else {
                        check_activity_record(&value, "bad");
                        assert!(value["durationMs"].is_i64() || value["durationMs"].is_string());
                    }
                });
                assert!(
                    shape_ok.is_err(),
                    "{}:{line} passes the shape checks",
                    file.display()
                );
            }
        }
    }
    // Lines of the bad JSON Lines file that are not listed are valid records.
    let listed: BTreeSet<u64> = entries
        .iter()
        .filter(|e| e["file"] == "bad-records/activity/PT1H.json")
        .filter_map(|e| e["line"].as_u64())
        .collect();
    let blob = fs::read(out.join("bad-records/activity/PT1H.json")).expect("blob");
    for (index, line) in blob.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || listed.contains(&(index as u64 + 1)) {
            continue;
        }
        let value: Value = serde_json::from_slice(line).expect("unlisted line is valid JSON");
        check_activity_record(&value, &format!("line {}", index + 1));
    }
}

#[test]
fn invalid_options_are_rejected_with_the_option_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path(), 1, 1);
    opts.days = 7;
    let err = generate(&opts).expect_err("7 days is too short");
    assert!(
        matches!(
            err,
            GenerateError::InvalidOption {
                option: "--days",
                ..
            }
        ),
        "{err}"
    );
    opts.days = 30;
    opts.scale = 0;
    assert!(matches!(
        generate(&opts),
        Err(GenerateError::InvalidOption {
            option: "--scale",
            ..
        })
    ));
    opts.scale = 1;
    fs::create_dir_all(&opts.out_dir).expect("mkdir");
    fs::write(opts.out_dir.join("keep.txt"), "x").expect("write");
    let err = generate(&opts).expect_err("non-empty directory");
    assert!(err.to_string().contains("not empty"), "{err}");
}

fn corpus() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        path.join("samples/azure_activity/activity_log_records.json")
            .is_file(),
        "the shared test corpus is missing at {} (expected shared/ beside the repository)",
        path.display()
    );
    path
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map_or_else(BTreeSet::new, |map| map.keys().cloned().collect())
}

#[test]
fn activity_records_use_the_keys_of_real_exports() {
    let samples = read_json(&corpus().join("samples/azure_activity/activity_log_records.json"));
    let mut top = BTreeSet::new();
    let mut authorization = BTreeSet::new();
    let mut evidence = BTreeSet::new();
    let mut claims = BTreeSet::new();
    let mut properties = BTreeSet::new();
    for record in samples["records"].as_array().expect("records") {
        top.extend(keys(record));
        authorization.extend(keys(&record["identity"]["authorization"]));
        evidence.extend(keys(&record["identity"]["authorization"]["evidence"]));
        claims.extend(keys(&record["identity"]["claims"]));
        properties.extend(keys(&record["properties"]));
    }
    // Documented members the seven samples happen not to show: the managed identity's resource
    // id claim and the policy event properties.
    claims.insert("xms_mirid".to_string());
    for key in [
        "isComplianceCheck",
        "resourceLocation",
        "ancestors",
        "policies",
    ] {
        properties.insert(key.to_string());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 1, 9);
    generate(&opts).expect("generate");
    let records = load(&opts.out_dir);
    let mut seen_claims = BTreeSet::new();
    for (path, record) in &records.activity {
        let context = path.display().to_string();
        let subset = |found: BTreeSet<String>, known: &BTreeSet<String>, what: &str| {
            let unknown: Vec<_> = found.difference(known).collect();
            assert!(
                unknown.is_empty(),
                "{context}: {what} keys absent from real exports: {unknown:?}"
            );
        };
        subset(keys(record), &top, "record");
        subset(
            keys(&record["identity"]["authorization"]),
            &authorization,
            "authorization",
        );
        subset(
            keys(&record["identity"]["authorization"]["evidence"]),
            &evidence,
            "evidence",
        );
        subset(keys(&record["identity"]["claims"]), &claims, "claims");
        subset(keys(&record["properties"]), &properties, "properties");
        seen_claims.extend(keys(&record["identity"]["claims"]));
    }
    for claim in [
        "name",
        "appid",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    ] {
        assert!(
            seen_claims.contains(claim),
            "no record carries the {claim} claim"
        );
    }
}

#[test]
fn provisioning_objects_carry_every_graph_property_the_schema_notes_map() {
    let schema = read_json(&corpus().join("schemas/AADProvisioningLogs.json"));
    let notes = schema["notes"].as_array().expect("notes");
    let graph_note = notes
        .iter()
        .filter_map(Value::as_str)
        .find(|note| note.contains("provisioningObjectSummary"))
        .expect("the note on the Graph object");
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 1, 9);
    generate(&opts).expect("generate");
    let records = load(&opts.out_dir);
    let (_, object) = records.provisioning.first().expect("a provisioning record");
    // Every camelCase property named in "a -> B" mappings of the note exists in our objects.
    let mut mapped = 0;
    for part in graph_note.split(['(', ',']) {
        let Some((graph, _column)) = part.split_once(" -> ") else {
            continue;
        };
        let graph = graph.trim().split('.').next().unwrap_or_default().trim();
        if graph.is_empty() || graph.contains(' ') {
            continue;
        }
        assert!(
            object.get(graph).is_some(),
            "Graph property {graph} is missing"
        );
        mapped += 1;
    }
    assert!(mapped >= 14, "only {mapped} mappings found in the note");
    let result_types: BTreeSet<&str> = records
        .provisioning_envelopes
        .iter()
        .filter_map(|e| e["resultType"].as_str())
        .collect();
    let documented: BTreeSet<&str> = ["Success", "Failure", "Skipped"].into_iter().collect();
    assert_eq!(result_types, documented, "ResultType values");
}
