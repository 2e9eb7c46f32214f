//! `goshawk demo`, the README's first command: the whole pipeline on synthetic logs must run the
//! built-in detections and meet every expectation of the generator's answer key: HUNT-01 finds
//! scenarios (a) and (b), the rare-failure ML rule finds (c), and neither fires on the benign
//! look-alikes (d1, d2) nor the threshold rule on the low-and-slow campaign (b).

use std::process::Command;

use serde_json::Value;

#[test]
fn demo_meets_the_answer_key_and_hunt_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("demo");
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(["demo", "--keep"])
        .arg(&kept)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("ingested"), "{stderr}");
    assert!(stderr.contains("0 failed"), "{stderr}");
    for expected in [
        "(a) schema-drift-connector-failure\n      ok   HUNT-01: should fire, fired (1 finding)",
        "(b) low-and-slow-scim-campaign\n      ok   HUNT-01: should fire, fired (1 finding)",
        "ok   Provisioning failure burst (threshold rule): should not fire, did not fire",
        "(c) compromised-identity-enumeration\n      ok   Rare Azure Activity Logs Event Failures: should fire, fired",
        "11 of 11 expectations met.",
        // The service principal name comes from parse_json(ServicePrincipal).Name.
        "SPName: ServiceNow · ResultSignature: SchemaAttributeNotFound",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("MISS"), "{stdout}");
    assert!(kept.join("lake/AADProvisioningLogs").is_dir());

    // `goshawk hunt` over the kept lake gives the same findings, as JSON.
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(["hunt", "--data"])
        .arg(kept.join("lake"))
        .args([
            "--now",
            "2026-05-01T00:00:00Z",
            "--ml-since",
            "30d",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    // Exit 3: the hunt ran and raised findings.
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let of_rule = |id: &str| -> Vec<&Value> {
        findings
            .iter()
            .filter(|f| f["rule_id"].as_str() == Some(id))
            .collect()
    };
    assert_eq!(of_rule("aa1f0001-2001-4201-9201-aadprov-hunt01").len(), 2);
    let rare = of_rule("c17ffbf9-595a-4c0b-a126-aacedb6dd179");
    assert!(!rare.is_empty(), "{report:#}");
    for finding in rare {
        let evidence = &finding["evidence"];
        let score_column = evidence["columns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c["name"] == "record_score")
            .unwrap();
        let score = evidence["rows"][0][score_column].as_f64().unwrap();
        assert!(score >= 50.0, "{finding:#}");
        assert!(
            finding.to_string().contains("megan.bowen@contoso.com"),
            "the compromised identity is an influencer: {finding:#}"
        );
    }
}

#[test]
fn demo_refuses_a_non_empty_keep_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), "x").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(["demo", "--keep"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be new or empty"));
}
