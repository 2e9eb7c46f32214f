//! `goshawk rules lint`: the built-in pack is clean; broken rules are reported with file:line
//! (text and JSONL); `--schemas` adds tables; exit status 0 / 1 / 2.

use std::path::Path;
use std::process::{Command, Output};

fn goshawk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .args(args)
        .output()
        .expect("goshawk runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn the_builtin_pack_is_clean() {
    let output = goshawk(&["rules", "lint"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout(&output), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0 problem(s)"), "{stderr}");
}

const BROKEN: &str = "id: 00000000-0000-4000-8000-000000000001
name: Broken rule
description: Several problems at once.
severity: Urgent
requiredDataConnectors:
  - connectorId: AzureActivity
    dataTypes:
      - AzureActivity
queryFrequency: 1d
queryPeriod: 1h
triggerOperator: gt
triggerThreshold: 0
tactics:
  - Discovery
  - Snooping
relevantTechniques:
  - T15
query: |
  AzureActivity
  | where TimeGenerated > ago(1h)
  | summarize Failures = count() by Caller
  | where NoSuchColumn > 3
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: FullName
        columnName: Caller
";

const UNKNOWN_TABLE: &str = "id: 00000000-0000-4000-8000-000000000002
name: Reads a table without a schema
severity: Low
tactics: [Discovery]
relevantTechniques: [T1526]
query: |
  ContosoWidgets_CL
  | take 10
";

const BAD_SYNTAX: &str = "id: 00000000-0000-4000-8000-000000000003
name: Does not parse
severity: Low
tactics: [Discovery]
relevantTechniques: [T1526]
query: |
  AzureActivity
  | where Caller = \"x\"
";

const ML_RULE: &str = r#"[rule]
rule_id = "00000000-0000-4000-8000-000000000004"
name = "Names a job nobody loaded"
description = "x"
type = "machine_learning"
severity = "low"
risk_score = 21
anomaly_threshold = 50
machine_learning_job_id = "no_such_job"
"#;

fn write_rules(dir: &Path) {
    std::fs::write(dir.join("broken.yaml"), BROKEN).unwrap();
    std::fs::write(dir.join("unknown_table.yaml"), UNKNOWN_TABLE).unwrap();
    std::fs::write(dir.join("syntax.yaml"), BAD_SYNTAX).unwrap();
    std::fs::write(dir.join("ml.toml"), ML_RULE).unwrap();
    std::fs::write(dir.join("not_yaml.yaml"), "id: [unclosed\n").unwrap();
}

#[test]
fn problems_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    let rules = dir.path().display().to_string();
    let output = goshawk(&["rules", "lint", "--no-builtin", &rules]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output).replace(&rules, "DIR");
    insta::assert_snapshot!(text);

    let output = goshawk(&["rules", "lint", "--no-builtin", "--format", "jsonl", &rules]);
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), text.lines().count());
    let syntax = lines
        .iter()
        .find(|l| l["code"] == "parse")
        .expect("the parse error");
    // Line 8 of the YAML file, where the query's `=` is.
    assert_eq!(syntax["line"], 8);
    assert_eq!(syntax["column"], 18);
}

#[test]
fn schemas_directory_adds_tables() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("unknown_table.yaml"), UNKNOWN_TABLE).unwrap();
    let schemas = tempfile::tempdir().unwrap();
    std::fs::write(
        schemas.path().join("widgets.json"),
        r#"{"table": "ContosoWidgets_CL", "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Widget", "type": "string"}]}"#,
    )
    .unwrap();
    let rules = rules.path().display().to_string();
    let without = goshawk(&["rules", "lint", "--no-builtin", &rules]);
    assert_eq!(without.status.code(), Some(1));
    assert!(stdout(&without).contains("unknown-table"));
    let with = goshawk(&[
        "rules",
        "lint",
        "--no-builtin",
        "--schemas",
        &schemas.path().display().to_string(),
        &rules,
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", stdout(&with));
}

#[test]
fn usage_errors_exit_2() {
    let output = goshawk(&["rules", "lint", "--schemas", "/no/such/dir"]);
    assert_eq!(output.status.code(), Some(2));
    let output = goshawk(&["rules", "lint", "--format", "xml"]);
    assert_eq!(output.status.code(), Some(2));
}
