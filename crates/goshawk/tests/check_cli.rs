//! `goshawk check` end to end: output, positions inside rule files, and exit codes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn goshawk(args: &[&str], stdin: Option<&str>) -> Output {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check");
    let mut command = Command::new(env!("CARGO_BIN_EXE_goshawk"));
    command
        .current_dir(&fixtures)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = command.spawn().expect("goshawk runs");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn valid_inputs_print_ok_and_exit_zero() {
    let output = goshawk(
        &["check", "hunt01.kql", "rule_ok.yaml", "ml_rule.toml"],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn a_misspelled_operator_is_reported_with_a_hint_and_exit_one() {
    let output = goshawk(&["check", "hunt01.kql", "broken.kql"], None);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("broken.kql:3:3"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn errors_inside_yaml_and_toml_rules_point_at_the_rule_file_line() {
    let output = goshawk(&["check", "rule_with_error.yaml", "kql_rule.toml"], None);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    // The unterminated string opens on line 3 of the query: line 7 of the YAML file, whose
    // block is indented by 2, so query column 32 is file column 34.
    assert!(text.contains("rule_with_error.yaml:7:34"), "{text}");
    assert!(text.contains("kql_rule.toml:11:82"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn jsonl_output_has_one_object_per_input() {
    let output = goshawk(
        &[
            "check",
            "--format",
            "jsonl",
            "hunt01.kql",
            "broken.kql",
            "ml_rule.toml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["errors"], serde_json::json!([]));
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["errors"][0]["line"], 3);
    assert_eq!(lines[1]["errors"][0]["column"], 3);
    assert!(
        lines[1]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("summerize")
    );
    assert_eq!(lines[2]["ok"], true);
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn standard_input_and_missing_files() {
    let output = goshawk(&["check", "-"], Some("print x = 1"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "<stdin>: ok\n");

    let output = goshawk(&["check", "no-such-file.kql"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("no-such-file.kql: error: cannot read no-such-file.kql"));
}

#[test]
fn management_commands_are_refused_clearly() {
    let output = goshawk(&["check", "-"], Some(".show tables"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("management commands are not supported"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn usage_errors_exit_two() {
    let output = goshawk(&["check", "--format", "xml"], None);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_query_must_end_in_a_tabular_expression() {
    let output = goshawk(&["check", "-"], Some("let x = 1;\nx + 1"));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("<stdin>:2:1"), "{text}");
    assert!(text.contains("print"), "the hint suggests print: {text}");
}
