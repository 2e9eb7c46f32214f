//! Rule pages (`goshawk rules show`) and explanations generated from the query.

use std::path::{Path, PathBuf};

use goshawk_rules::builtin::{HUNT01_ID, builtin_rules};
use goshawk_rules::explain::analyze_kql;
use goshawk_rules::page::rule_page;
use goshawk_rules::{LoadedRule, load_paths, rule_page_html};

fn fixtures() -> PathBuf {
    // Relative (tests run in the crate directory), so that the page's source path is the same
    // on every machine.
    PathBuf::from("tests/fixtures/show")
}

fn hunt01() -> (LoadedRule, Vec<LoadedRule>) {
    let (rules, errors) = builtin_rules();
    assert!(errors.is_empty(), "{errors:?}");
    let rule = rules
        .iter()
        .find(|r| r.id() == HUNT01_ID)
        .expect("HUNT-01 is built in")
        .clone();
    (rule, rules)
}

#[test]
fn hunt01_lists_and_explanation() {
    let (rule, content) = hunt01();
    let page = rule_page(&rule, &content);
    let query = page.query.as_ref().expect("HUNT-01 has a query");
    assert_eq!(
        query.operators,
        [
            "where",
            "extend",
            "summarize",
            "count",
            "dcount",
            "make_set",
            "min",
            "max",
            "by",
            "order by",
            "ago",
            "tostring",
            "parse_json",
            "startofday"
        ]
    );
    assert_eq!(query.tables, ["AADProvisioningLogs"]);
    let explanation = query.explanation.as_ref().expect("HUNT-01 parses");
    insta::assert_snapshot!("hunt01_explanation", explanation.to_text());
}

#[test]
fn hunt01_page_text_and_json() {
    let (rule, content) = hunt01();
    let page = rule_page(&rule, &content);
    insta::assert_snapshot!("hunt01_page_text", page.to_text());
    insta::assert_json_snapshot!("hunt01_page_json", page);
}

#[test]
fn ml_rule_page_describes_its_job() {
    let (content, errors) = load_paths(&[fixtures()]);
    assert!(errors.is_empty(), "{errors:?}");
    let rule = content
        .iter()
        .find(|r| r.id() == "5b0c1e4e-0000-4000-8000-0000000000a1")
        .expect("the fixture rule loads");
    let page = rule_page(rule, &content);
    insta::assert_snapshot!("ml_rule_page_text", page.to_text());
    let html = rule_page_html(rule, &content);
    insta::assert_snapshot!("ml_rule_page_html", html);
    // Markup from rule files is escaped, and only web URLs become links.
    assert!(html.contains("&lt;b&gt;Markup&lt;/b&gt;"));
    assert!(!html.contains("href=\"javascript"));
}

#[test]
fn ml_rule_whose_job_is_not_loaded_says_so() {
    let (content, errors) = load_paths(&[fixtures().join("rare_failures.toml")]);
    assert!(errors.is_empty(), "{errors:?}");
    let page = rule_page(&content[0], &content);
    assert_eq!(page.ml_jobs.len(), 1);
    assert!(!page.ml_jobs[0].found);
    assert!(
        page.to_text()
            .contains("(the job is not among the loaded content)")
    );
}

/// Every Sentinel corpus query the parser accepts gets a non-empty explanation (and no panic).
#[test]
fn every_parsing_sentinel_query_is_explained() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sentinel/queries.jsonl");
    let text = std::fs::read_to_string(&corpus)
        .unwrap_or_else(|err| panic!("{}: {err}", corpus.display()));
    let mut explained = 0;
    for (number, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("{}:{}: {err}", corpus.display(), number + 1));
        let query = record["query"].as_str().unwrap_or_default();
        let Ok(analysis) = analyze_kql(query) else {
            continue;
        };
        let rendered = analysis.explanation.to_text();
        assert!(
            !analysis.explanation.steps.is_empty() && !rendered.trim().is_empty(),
            "{}:{}: empty explanation",
            corpus.display(),
            number + 1
        );
        explained += 1;
    }
    // README: the parser accepts 2,489 of the 2,515 queries.
    assert!(explained >= 2_489, "only {explained} queries explained");
}

/// The built-in "Rare Azure Activity Logs Event Failures" rule and its job, as the issue's
/// acceptance lists them.
#[test]
fn builtin_rare_failure_rule_page() {
    let (content, errors) = builtin_rules();
    assert!(errors.is_empty(), "{errors:?}");
    let rule = content
        .iter()
        .find(|r| r.id() == "c17ffbf9-595a-4c0b-a126-aacedb6dd179")
        .expect("the rare-failure rule is built in");
    let page = rule_page(rule, &content);
    let fact = |label: &str| {
        page.facts
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.as_str())
    };
    assert_eq!(fact("Type"), Some("machine_learning"));
    assert_eq!(fact("Severity"), Some("low"));
    assert_eq!(fact("Risk score"), Some("21"));
    assert_eq!(fact("Runs every"), Some("15m"));
    assert_eq!(fact("Searches indices from"), Some("now-2h"));
    assert_eq!(fact("Maximum alerts per execution"), Some("100"));
    assert_eq!(fact("Anomaly threshold"), Some("50"));
    assert_eq!(page.tactics.len(), 6);
    let techniques: Vec<&str> = page
        .tactics
        .iter()
        .flat_map(|t| &t.children)
        .filter_map(|t| t.id.as_deref())
        .collect();
    assert!(techniques.contains(&"T1526") && techniques.contains(&"T1580"));
    assert!(page.investigation_guide.is_some());
    assert!(page.ml_jobs.iter().all(|job| job.found));
    insta::assert_snapshot!("builtin_rare_failure_page_text", page.to_text());
}
