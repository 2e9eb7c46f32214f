//! `goshawk rules lint` over the 2,515 Microsoft Sentinel queries of the shared corpus, planned
//! against the corpus's table schemas (`schemas/`, 878 tables) and goshawk's own.
//!
//! A query counts when every table it reads has a schema; of those, the ones that plan are
//! listed in `lint_corpus_passing.txt` (by corpus path) and must keep planning. Set
//! `GOSHAWK_LINT_CORPUS_REPORT=1` to rewrite `LINT-CORPUS.md` (rate and top failure reasons) and
//! the passing list, and `GOSHAWK_LINT_CORPUS_DUMP=FILE` to write every failure with its
//! message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use goshawk_rules::lint::{Linter, QueryCheck, SchemaCatalog};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn baseline_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint_corpus_passing.txt")
}

/// The goal for the fraction of schema-covered queries that plan.
const TARGET: f64 = 0.80;

/// A parser's parameters are bound before its body, as Microsoft's CI did.
fn query_text(record: &serde_json::Value) -> String {
    let query = record["query"].as_str().unwrap_or_default();
    let mut prelude = String::new();
    if let Some(params) = record["parser"]["params"].as_array() {
        for param in params {
            let name = param["name"].as_str().unwrap_or_default();
            let value = match (&param["default"], param["type"].as_str()) {
                (serde_json::Value::String(text), Some("string")) => {
                    serde_json::Value::String(text.clone()).to_string()
                }
                (serde_json::Value::String(text), _) => text.clone(),
                (other, _) => other.to_string(),
            };
            prelude.push_str(&format!("let {name} = {value};\n"));
        }
    }
    prelude + query
}

fn outcome(
    linter: &Linter<'_>,
    known: &BTreeSet<String>,
    record: &serde_json::Value,
) -> (String, Outcome) {
    let path = record["path"].as_str().expect("a path").to_string();
    let outcome = match linter.check_query(&query_text(record)) {
        QueryCheck::Plans(_) => Outcome::Plans,
        QueryCheck::UnknownTables(tables) => Outcome::NoSchema(tables),
        QueryCheck::Plan(diagnostic) => Outcome::Fails("plan", diagnostic.message),
        QueryCheck::Parse(diagnostic) => {
            // The query's tables are unknown to us; the corpus's own list decides whether it
            // is covered by the schemas.
            let missing: Vec<String> = record["tables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str())
                .filter(|t| !known.contains(*t))
                .map(String::from)
                .collect();
            if missing.is_empty() {
                Outcome::Fails("parse", diagnostic.message)
            } else {
                Outcome::NoSchema(missing)
            }
        }
    };
    (path, outcome)
}

enum Outcome {
    Plans,
    NoSchema(Vec<String>),
    Fails(&'static str, String),
}

/// Groups messages that differ only in the names they quote.
fn reason(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for ch in message.chars() {
        match ch {
            '\'' | '`' | '"' => {
                if !quoted {
                    out.push_str("'…'");
                }
                quoted = !quoted;
            }
            _ if !quoted => out.push(ch),
            _ => {}
        }
    }
    out.split(" (").next().unwrap_or(&out).trim().to_string()
}

#[test]
fn sentinel_corpus_plans_against_the_schemas() {
    let corpus = corpus();
    let mut catalog = SchemaCatalog::builtin();
    catalog
        .add_schema_dir(&corpus.join("schemas"))
        .expect("the corpus schemas load");
    assert!(catalog.len() >= 878, "{} tables", catalog.len());

    let text = std::fs::read_to_string(corpus.join("sentinel/queries.jsonl")).expect("the corpus");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 2515);

    let known: BTreeSet<String> = goshawk_kql_engine::catalog::Catalog::table_names(&catalog)
        .into_iter()
        .collect();
    // Planning is CPU-bound and each query independent: one linter per core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = records.len().div_ceil(threads);
    let outcomes: BTreeMap<String, Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|records| {
                let (catalog, known) = (&catalog, &known);
                scope.spawn(move || {
                    let linter = Linter::new(catalog);
                    records
                        .iter()
                        .map(|record| outcome(&linter, known, record))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a linter thread"))
            .collect()
    });

    let covered = outcomes
        .values()
        .filter(|o| !matches!(o, Outcome::NoSchema(_)))
        .count();
    let passing: BTreeSet<&str> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Plans))
        .map(|(p, _)| p.as_str())
        .collect();
    let rate = passing.len() as f64 / covered as f64;

    if std::env::var_os("GOSHAWK_LINT_CORPUS_REPORT").is_some() {
        write_report(&outcomes, covered, passing.len());
        let mut list: String = passing.iter().map(|p| format!("{p}\n")).collect();
        list.insert_str(
            0,
            "# Sentinel corpus queries that plan (tests/lint_corpus.rs)\n",
        );
        std::fs::write(baseline_path(), list).expect("writing the passing list");
    }

    // Every failure with its full message, for working on the engine gaps.
    if let Some(dump) = std::env::var_os("GOSHAWK_LINT_CORPUS_DUMP") {
        let lines: String = outcomes
            .iter()
            .filter_map(|(path, outcome)| match outcome {
                Outcome::Fails(kind, message) => Some(format!("{path}\t{kind}\t{message}\n")),
                _ => None,
            })
            .collect();
        std::fs::write(dump, lines).expect("writing the failure dump");
    }

    let baseline = std::fs::read_to_string(baseline_path()).expect("the passing list");
    let regressions: Vec<String> = baseline
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter(|path| !passing.contains(path))
        .map(|path| match &outcomes.get(path) {
            Some(Outcome::Fails(kind, message)) => format!("{path}: {kind}: {message}"),
            Some(Outcome::NoSchema(tables)) => format!("{path}: no schema for {tables:?}"),
            Some(Outcome::Plans) => unreachable!("passing paths are filtered out"),
            None => format!("{path}: no longer in the corpus"),
        })
        .collect();
    assert!(
        regressions.is_empty(),
        "{} corpus queries no longer plan:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
    assert!(
        rate >= TARGET,
        "{} of {covered} schema-covered queries plan ({:.1}%), below the {:.0}% target",
        passing.len(),
        rate * 100.0,
        TARGET * 100.0
    );
}

fn write_report(outcomes: &BTreeMap<String, Outcome>, covered: usize, passing: usize) {
    let mut reasons: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, outcome) in outcomes {
        match outcome {
            Outcome::Plans => {}
            Outcome::NoSchema(tables) => {
                for table in tables {
                    *missing.entry(table).or_default() += 1;
                }
            }
            Outcome::Fails(kind, message) => reasons
                .entry((reason(message), kind))
                .or_default()
                .push(path),
        }
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut missing: Vec<_> = missing.into_iter().collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    let total = outcomes.len();
    let mut md = String::new();
    md.push_str("# `goshawk rules lint` over the Sentinel corpus\n\n");
    md.push_str(
        "Generated by `GOSHAWK_LINT_CORPUS_REPORT=1 cargo nextest run -p goshawk-rules --test \
         lint_corpus`. Each of the corpus's queries (`../shared/corpus/sentinel/queries.jsonl`; \
         parser parameters bound to their defaults first) is parsed and planned against the \
         corpus table schemas (`../shared/corpus/schemas/`) and goshawk's compiled-in ones.\n\n",
    );
    md.push_str(&format!(
        "| | queries |\n|---|---|\n| in the corpus | {total} |\n| every table has a schema | {covered} |\n| plan without error | {passing} ({:.1}% of those with schemas) |\n\n",
        passing as f64 / covered as f64 * 100.0
    ));
    md.push_str("## Why the others do not plan\n\nMessages are grouped with quoted names elided; one example each.\n\n| queries | stage | reason | example |\n|---|---|---|---|\n");
    for ((reason, kind), paths) in reasons.iter().take(60) {
        md.push_str(&format!(
            "| {} | {kind} | {} | `{}` |\n",
            paths.len(),
            reason.replace('|', "\\|"),
            paths[0]
        ));
    }
    let shown: usize = reasons.iter().take(60).map(|(_, p)| p.len()).sum();
    let failing: usize = reasons.iter().map(|(_, p)| p.len()).sum();
    if failing > shown {
        md.push_str(&format!(
            "\n{} more queries fail for {} rarer reasons.\n",
            failing - shown,
            reasons.len() - 60
        ));
    }
    md.push_str("\n## Engine gaps\n\nFunctions and operators the engine lacks, by number of queries that need them (the engine crate owns these).\n\n| queries | message |\n|---|---|\n");
    let mut gaps: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in outcomes.values() {
        if let Outcome::Fails("plan", message) = outcome
            && (message.starts_with("unknown function") || message.contains("not supported"))
        {
            *gaps
                .entry(message.split(" (").next().unwrap_or(message))
                .or_default() += 1;
        }
    }
    let mut gaps: Vec<_> = gaps.into_iter().collect();
    gaps.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (message, count) in gaps.iter().take(60) {
        md.push_str(&format!("| {count} | {} |\n", message.replace('|', "\\|")));
    }
    md.push_str("\n## Tables and functions without a schema\n\nNames in table position that no schema covers (so the query is not counted), by number of queries.\n\n| name | queries |\n|---|---|\n");
    for (table, count) in missing.iter().take(40) {
        md.push_str(&format!("| `{table}` | {count} |\n"));
    }
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/LINT-CORPUS.md"),
        md,
    )
    .expect("writing LINT-CORPUS.md");
}
