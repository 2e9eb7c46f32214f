//! `goshawk demo`, the README's first command: the whole pipeline on synthetic logs must find the
//! planted provisioning scenarios (a) and (b) with HUNT-01, and nothing else goes wrong on the way.

use std::process::Command;

#[test]
fn demo_finds_the_planted_provisioning_scenarios() {
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
    assert!(
        stdout.contains("-> planted scenario (a) schema-drift-connector-failure"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-> planted scenario (b) low-and-slow-scim-campaign"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HUNT-01 found 2 of the 2 planted provisioning scenarios"),
        "{stdout}"
    );
    // The service principal name comes from parse_json(ServicePrincipal).Name.
    assert!(
        stdout.contains("#1  ServiceNow  SchemaAttributeNotFound"),
        "{stdout}"
    );
    assert!(kept.join("lake/AADProvisioningLogs").is_dir());

    // The raw result is the detection's table, as `goshawk query --format json` prints it.
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(["demo", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let columns: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
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
    assert_eq!(result["rows"].as_array().unwrap().len(), 2);
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
