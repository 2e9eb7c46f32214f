//! Runs the real-engine oracle cases (corpus `kusto-oracle/cases.jsonl`), prints the pass rate
//! per family, and fails when a case listed in `tests/oracle_passing.txt` no longer passes.
//! `cargo test -p goshawk-kql-engine --test oracle -- --nocapture` shows the rates;
//! `UPDATE_ORACLE_PASSING=1` rewrites the list (review the diff: it may only grow);
//! `ORACLE_FAILURES=path` writes every failing case with the reason.

use std::collections::BTreeMap;
use std::path::Path;

use goshawk_kql_engine::catalog::MemoryCatalog;
use goshawk_kql_engine::format::value_at;
use goshawk_kql_engine::session::{QueryEngine, QueryResult};
use goshawk_types::KustoType;
use serde_json::Value;

fn corpus() -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        path.join("kusto-oracle/cases.jsonl").is_file(),
        "the shared corpus is missing: expected {}/kusto-oracle/cases.jsonl",
        path.display()
    );
    path
}

fn class(ty: KustoType) -> &'static str {
    match ty {
        KustoType::Bool => "Bool",
        KustoType::Int | KustoType::Long => "Int",
        KustoType::Real | KustoType::Decimal => "Real",
        KustoType::String => "String",
        KustoType::DateTime => "DateTime",
        KustoType::TimeSpan => "TimeSpan",
        KustoType::Guid => "Guid",
        KustoType::Dynamic => "Dynamic",
    }
}

/// A cell the way the upstream C# harness printed it.
fn cell(result: &QueryResult, batch: usize, column: usize, row: usize) -> String {
    let ty = result.columns[column].ty;
    let array = result.batches[batch].column(column);
    let Some(value) = value_at(array.as_ref(), row, ty) else {
        return if ty == KustoType::String {
            "''".into()
        } else {
            "null".into()
        };
    };
    use goshawk_kql_engine::format::KustoValue as V;
    match value {
        V::String(s) if ty == KustoType::Guid => format!("'{}'", s.to_ascii_lowercase()),
        V::String(s) => format!("'{s}'"),
        V::Bool(b) => {
            if b {
                "True".into()
            } else {
                "False".into()
            }
        }
        V::Long(v) => v.to_string(),
        V::Real(v) => goshawk_kql_engine::time::format_real(v),
        V::Decimal(d) => d,
        V::DateTime(n) => goshawk_kql_engine::time::format_datetime(n),
        V::TimeSpan(n) => goshawk_kql_engine::time::format_timespan(n),
        V::Dynamic(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
    }
}

fn rows(result: &QueryResult) -> Vec<String> {
    let mut out = Vec::new();
    for (b, batch) in result.batches.iter().enumerate() {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = (0..result.columns.len())
                .map(|c| cell(result, b, c, row))
                .collect();
            out.push(format!("({})", cells.join(", ")));
        }
    }
    out
}

fn ordered(kql: &str) -> bool {
    let last = kql
        .rsplit('|')
        .next()
        .unwrap_or("")
        .trim_start()
        .to_ascii_lowercase();
    ["sort", "order", "top ", "serialize"]
        .iter()
        .any(|p| last.starts_with(p))
        && !last.starts_with("top-")
}

fn judge(case: &Value, outcome: Result<QueryResult, String>) -> Result<(), String> {
    let expected_outcome = case["Outcome"].as_str().unwrap_or("");
    if expected_outcome == "KustoError" {
        return match outcome {
            Ok(_) => Err("Kusto rejects this query; goshawk accepted it".into()),
            Err(_) => Ok(()),
        };
    }
    let result = outcome?;
    let kusto = &case["Kusto"];
    let columns: Vec<String> = result
        .columns
        .iter()
        .map(|c| format!("{}:{}", c.name, class(c.ty)))
        .collect();
    let expected_columns: Vec<String> = kusto["Columns"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if columns != expected_columns {
        return Err(format!(
            "columns {columns:?}, expected {expected_columns:?}"
        ));
    }
    if expected_outcome == "SkippedNondeterministic" {
        return Ok(());
    }
    let got = rows(&result);
    let expected_count = kusto["RowCount"].as_u64().unwrap_or(0) as usize;
    if got.len() != expected_count {
        return Err(format!(
            "{} rows, expected {expected_count}: {got:?}",
            got.len()
        ));
    }
    let expected: Vec<String> = kusto["SampleRows"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let kql = case["Kql"].as_str().unwrap_or("");
    if ordered(kql) || expected_count > expected.len() {
        let prefix: Vec<String> = got.iter().take(expected.len()).cloned().collect();
        if ordered(kql) && prefix != expected {
            return Err(format!("rows {prefix:?}, expected {expected:?}"));
        }
        return Ok(());
    }
    let mut a = got.clone();
    let mut b = expected.clone();
    a.sort();
    b.sort();
    if a != b {
        return Err(format!("rows {got:?}, expected {expected:?}"));
    }
    Ok(())
}

const PASSING_LIST: &str = "tests/oracle_passing.txt";

#[tokio::test]
async fn oracle_pass_rate_per_family_and_no_regression() {
    let text = std::fs::read_to_string(corpus().join("kusto-oracle/cases.jsonl"))
        .expect("read cases.jsonl");
    let catalog = MemoryCatalog::new();
    let now = goshawk_kql_engine::time::parse_datetime("2026-11-22T12:00:00Z").unwrap_or(0);
    let engine = QueryEngine::new(&catalog, now);
    let mut per_family: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = String::new();
    let mut passing: Vec<String> = Vec::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).expect("valid case");
        let kql = case["Kql"].as_str().unwrap_or("");
        let family = case["Family"].as_str().unwrap_or("?").to_string();
        let outcome = engine.query(kql).await.map_err(|e| e.to_string());
        let verdict = judge(&case, outcome);
        let entry = per_family.entry(family).or_default();
        entry.1 += 1;
        let case_id = case["CaseId"].as_str().unwrap_or("?").to_string();
        match verdict {
            Ok(()) => {
                entry.0 += 1;
                passing.push(case_id);
            }
            Err(reason) => {
                failed.insert(case_id, reason.clone());
                failures.push_str(&format!(
                    "{}\t{}\t{}\n",
                    case["CaseId"].as_str().unwrap_or("?"),
                    kql.replace('\n', " "),
                    reason.replace('\n', "\\n")
                ));
            }
        }
    }
    let (mut passed, mut total) = (0, 0);
    for (family, (ok, all)) in &per_family {
        println!(
            "{family:<28} {ok:>4}/{all:<4} {:5.1}%",
            100.0 * *ok as f64 / *all as f64
        );
        passed += ok;
        total += all;
    }
    println!(
        "{:<28} {passed:>4}/{total:<4} {:5.1}%",
        "all",
        100.0 * passed as f64 / total as f64
    );
    if let Ok(path) = std::env::var("ORACLE_FAILURES") {
        std::fs::write(path, failures).expect("write failures");
    }

    let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PASSING_LIST);
    passing.sort();
    if std::env::var_os("UPDATE_ORACLE_PASSING").is_some() {
        std::fs::write(&list_path, passing.join("\n") + "\n").expect("write the passing list");
        return;
    }
    let committed = std::fs::read_to_string(&list_path).expect("read the passing list");
    let regressions: Vec<String> = committed
        .lines()
        .filter_map(|id| failed.get(id).map(|reason| format!("{id}: {reason}")))
        .collect();
    let newly_passing = passing
        .len()
        .saturating_sub(committed.lines().count() - regressions.len());
    if newly_passing > 0 {
        println!(
            "{newly_passing} case(s) pass that {PASSING_LIST} does not list: run with UPDATE_ORACLE_PASSING=1"
        );
    }
    assert!(
        regressions.is_empty(),
        "{} oracle case(s) that passed before fail now:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
}
