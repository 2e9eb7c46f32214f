//! `goshawk rules list`: built-in and file rules, and the files that did not load.

use std::path::Path;
use std::process::Command;

fn rules_list(args: &[&str]) -> (Option<i32>, String, String) {
    let content =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../goshawk-rules/tests/fixtures/content");
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .current_dir(content)
        .args(["rules", "list"])
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn lists_builtin_and_file_rules_as_jsonl() {
    let (code, stdout, stderr) = rules_list(&["--format", "jsonl", "sentinel", "elastic"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "29 rule(s) loaded\n");
    insta::assert_snapshot!(stdout);
}

#[test]
fn files_that_do_not_load_are_listed_with_position_and_exit_one() {
    let (code, stdout, stderr) = rules_list(&["--no-builtin", "bad", "sentinel"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout.lines().count(),
        3,
        "header and the two good rules: {stdout}"
    );
    insta::assert_snapshot!(stderr);
}
