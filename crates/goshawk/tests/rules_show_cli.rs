//! `goshawk rules show`: a rule's page by id, name or file, as text, JSON or HTML.

use std::path::Path;
use std::process::Command;

const HUNT01_ID: &str = "aa1f0001-2001-4201-9201-aadprov-hunt01";

fn rules_show(args: &[&str]) -> (Option<i32>, String, String) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../goshawk-rules/tests/fixtures");
    let output = Command::new(env!("CARGO_BIN_EXE_goshawk"))
        .current_dir(fixtures)
        .args(["rules", "show"])
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
fn by_id_and_by_name_give_the_same_page() {
    let (code, by_id, stderr) = rules_show(&[HUNT01_ID]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, by_name, stderr) = rules_show(&["provisioning failures by job and error (30d)"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(by_id, by_name);
    assert!(by_id.starts_with("Provisioning Failures by Job and Error (30d)\n"));
    assert!(by_id.contains("\nOperators: where, extend, summarize, count, dcount, make_set, min, max, by, order by, ago, tostring, parse_json, startofday\n"));
    assert!(by_id.contains("\n8. Order: sort by Failures, highest first\n"));
}

#[test]
fn json_format_is_the_page_model() {
    let (code, stdout, stderr) = rules_show(&[HUNT01_ID, "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let page: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(page["id"], HUNT01_ID);
    assert_eq!(
        page["query"]["tables"],
        serde_json::json!(["AADProvisioningLogs"])
    );
    assert_eq!(
        page["query"]["explanation"]["steps"][1]["kind"],
        "time_frame"
    );
}

#[test]
fn a_file_is_shown_with_the_job_found_under_the_given_path() {
    let (code, stdout, stderr) = rules_show(&[
        "show/rare_failures.toml",
        "show",
        "--no-builtin",
        "--format",
        "html",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn an_unknown_rule_is_an_error_naming_it() {
    let (code, stdout, stderr) = rules_show(&["no-such-rule"]);
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: no rule has the id or name \"no-such-rule\", and it is not a file; `goshawk rules list` lists the rules\n"
    );
}

#[test]
fn a_rule_file_that_does_not_load_says_where() {
    let (code, _, stderr) = rules_show(&["content/bad/broken.toml"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("error: content/bad/broken.toml:"),
        "{stderr}"
    );
}
