//! Loading Sentinel and Elastic content: typed fields, unknown fields kept, and bad files
//! reported with path, line and reason while the others still load.

use std::path::{Path, PathBuf};

use goshawk_rules::{RuleDocument, load_paths};

fn content(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/content")
        .join(dir)
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap()
}

#[test]
fn sentinel_rules_load_with_every_field() {
    let (loaded, errors) = load_paths(&[content("sentinel")]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(loaded.len(), 2);
    let RuleDocument::Sentinel(analytic) = &loaded[1].document else {
        panic!("{loaded:?}")
    };
    assert_eq!(
        file_name(&loaded[1].path),
        "role_assignment_new_principal.yaml"
    );
    assert!(analytic.is_analytic_rule());
    assert_eq!(analytic.severity.as_deref(), Some("Medium"));
    assert_eq!(analytic.query_frequency.as_deref(), Some("1h"));
    assert_eq!(analytic.query_period.as_deref(), Some("14d"));
    assert_eq!(analytic.trigger_operator.as_deref(), Some("gt"));
    assert_eq!(analytic.trigger_threshold, Some(0));
    assert_eq!(analytic.tactics, ["PrivilegeEscalation", "Persistence"]);
    assert_eq!(analytic.relevant_techniques, ["T1098"]);
    assert_eq!(analytic.data_types(), ["AzureActivity"]);
    assert_eq!(analytic.entity_mappings.len(), 2);
    assert_eq!(
        analytic.entity_mappings[1].field_mappings[0].column_name,
        "CallerIpAddress"
    );
    assert_eq!(analytic.custom_details["FirstSeen"], "FirstSeen");
    assert_eq!(
        analytic
            .alert_details_override
            .as_ref()
            .unwrap()
            .alert_display_name_format
            .as_deref(),
        Some("New role assigner {{Caller}}")
    );
    assert!(
        analytic
            .query
            .starts_with("let lookback = 14d;\nAzureActivity\n")
    );
    // Fields goshawk does not model are kept as written.
    assert!(
        analytic.extra.contains_key("metadata"),
        "{:?}",
        analytic.extra.keys()
    );

    let RuleDocument::Sentinel(hunting) = &loaded[0].document else {
        panic!()
    };
    assert!(!hunting.is_analytic_rule());
    assert_eq!(hunting.data_types(), ["AADProvisioningLogs"]);
}

#[test]
fn elastic_rule_job_and_datafeed_load() {
    let (loaded, errors) = load_paths(&[content("elastic")]);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = loaded.iter().map(|l| file_name(&l.path)).collect();
    assert_eq!(
        names,
        [
            "rare_failures.toml",
            "rare_failures_datafeed.json",
            "rare_failures_job.json"
        ]
    );

    let RuleDocument::Elastic(file) = &loaded[0].document else {
        panic!()
    };
    let rule = &file.rule;
    assert_eq!(rule.rule_id, "c17ffbf9-595a-4c0b-a126-aacedb6dd179");
    assert_eq!(rule.rule_type, "machine_learning");
    assert_eq!(
        (rule.severity.as_deref(), rule.risk_score),
        (Some("low"), Some(21))
    );
    assert_eq!(
        (rule.interval.as_deref(), rule.from.as_deref()),
        (Some("15m"), Some("now-2h"))
    );
    assert_eq!(rule.anomaly_threshold, Some(50));
    assert_eq!(
        rule.machine_learning_job_id.as_ref().unwrap().to_vec(),
        ["azure_activitylogs_rare_event_failures"]
    );
    assert_eq!(rule.max_signals, None);
    assert!(rule.note.as_deref().unwrap().starts_with("## Triage"));
    assert_eq!(rule.threat[0].tactic.id, "TA0007");
    let techniques: Vec<&str> = rule.threat[0]
        .technique
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(techniques, ["T1526", "T1580"]);
    assert_eq!(rule.extra["custom_field"].as_str(), Some("kept"));
    assert!(file.metadata.contains_key("maturity"));

    let RuleDocument::Datafeed(feed) = &loaded[1].document else {
        panic!()
    };
    assert_eq!(
        feed.kql.as_deref(),
        Some("AzureActivity | where ActivityStatusValue == \"Failure\"")
    );
    let RuleDocument::MlJob(job) = &loaded[2].document else {
        panic!()
    };
    assert_eq!(job.analysis_config.bucket_span, "60m");
    let detector = &job.analysis_config.detectors[0];
    assert_eq!(
        (
            detector.function.as_str(),
            detector.by_field_name.as_deref()
        ),
        ("rare", Some("event.action"))
    );
    assert_eq!(job.analysis_config.influencers.len(), 5);
    assert!(job.extra.contains_key("model_plot_config"));
}

#[test]
fn bad_files_are_reported_with_position_and_do_not_stop_the_others() {
    let (loaded, errors) = load_paths(&[content("bad"), content("sentinel")]);
    assert_eq!(loaded.len(), 2, "the good files still load");
    let report: Vec<String> = errors
        .iter()
        .map(|e| {
            e.to_string()
                .replace(&content("bad").display().to_string(), "bad")
        })
        .collect();
    assert_eq!(report.len(), 4, "{report:#?}");
    assert!(report[0].starts_with("bad/broken.toml:3:"), "{report:#?}");
    assert!(
        report[1].starts_with("bad/no_query.yaml: no `query`"),
        "{report:#?}"
    );
    assert!(
        report[2].starts_with("bad/not_a_job.json: not an Elastic anomaly-detection job"),
        "{report:#?}"
    );
    assert!(
        report[3].starts_with("bad/wrong_type.yaml:4:"),
        "{report:#?}"
    );
    assert_eq!(
        report[3],
        "bad/wrong_type.yaml:4:3: tactics: invalid type: map, expected a sequence"
    );
}

#[test]
fn a_missing_path_is_an_error_not_a_panic() {
    let (loaded, errors) = load_paths(&[PathBuf::from("/no/such/rules.yaml")]);
    assert!(loaded.is_empty());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .starts_with("/no/such/rules.yaml: cannot read:")
    );
}
