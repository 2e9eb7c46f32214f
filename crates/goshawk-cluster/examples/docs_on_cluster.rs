//! How much of the KQL that goshawk runs locally also runs on a cluster: every Kusto
//! documentation example that passes locally (`goshawk-kql-engine/tests/docs_passing.txt`) runs
//! in this process and on a running cluster, and the two results are compared (rows sorted
//! unless the query orders them). Prints the tally and each difference.
//!
//! ```sh
//! goshawk scheduler --bind 127.0.0.1:50050 &
//! goshawk executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051 &
//! cargo run -p goshawk-cluster --example docs_on_cluster -- df://127.0.0.1:50050
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use goshawk_kql_engine::catalog::MemoryCatalog;
use goshawk_kql_engine::output::{OutputFormat, write_result};
use goshawk_kql_engine::session::{QueryEngine, QueryResult};

/// The same `now()` as the conformance suites.
const NOW: &str = "2026-11-22T12:00:00Z";

fn lines(result: &QueryResult, ordered: bool) -> Vec<String> {
    let mut out = Vec::new();
    if write_result(result, OutputFormat::JsonLines, &mut out).is_err() {
        return vec!["<unprintable>".to_string()];
    }
    let mut lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect();
    if !ordered {
        lines.sort();
    }
    lines
}

fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: docs_on_cluster df://HOST:PORT");
    let engine_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../goshawk-kql-engine");
    let corpus = engine_dir.join("../../../shared/corpus");
    let passing: HashSet<String> =
        std::fs::read_to_string(engine_dir.join("tests/docs_passing.txt"))
            .expect("the passing list")
            .lines()
            .map(str::to_string)
            .collect();
    let examples = std::fs::read_to_string(corpus.join("kusto-docs/examples.jsonl"))
        .expect("the shared corpus beside the repository");
    let now = goshawk_kql_engine::time::parse_datetime(NOW).expect("a datetime");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let session = runtime
        .block_on(goshawk_cluster::connect(&url))
        .expect("a cluster session");
    let catalog = MemoryCatalog::new();
    let local = QueryEngine::new(&catalog, now);
    let remote = QueryEngine::new(&catalog, now).with_context(session);

    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for line in examples.lines() {
        let Ok(example) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let id = example["id"].as_str().unwrap_or("?");
        if !passing.contains(id) {
            continue;
        }
        let query = example["query"].as_str().unwrap_or("");
        let ordered =
            query.contains("order by") || query.contains("sort by") || query.contains("top ");
        let Ok(expected) = runtime.block_on(local.query(query)) else {
            *tally.entry("fails locally now (skipped)").or_default() += 1;
            continue;
        };
        let planned = match remote.plan(query) {
            Ok(planned) => planned,
            Err(err) => {
                println!("{id}: planning failed: {err}");
                *tally.entry("planning failed").or_default() += 1;
                continue;
            }
        };
        if let Err(err) = goshawk_cluster::check_distributable(&planned.plan) {
            let reason = err.to_string();
            let reason = reason
                .split(" cannot run on a cluster")
                .next()
                .unwrap_or(&reason)
                .to_string();
            *refused.entry(reason).or_default() += 1;
            *tally
                .entry("refused by name (not distributable)")
                .or_default() += 1;
            continue;
        }
        match runtime.block_on(remote.execute(planned)) {
            Ok(result) if lines(&result, ordered) == lines(&expected, ordered) => {
                *tally.entry("same result").or_default() += 1;
            }
            Ok(result) => {
                println!(
                    "{id}: differs\n  query: {}\n  local:   {:?}\n  cluster: {:?}",
                    query.replace('\n', " "),
                    lines(&expected, ordered),
                    lines(&result, ordered)
                );
                *tally.entry("different result").or_default() += 1;
            }
            Err(err) => {
                println!("{id}: failed on the cluster: {err}");
                *tally.entry("failed on the cluster").or_default() += 1;
            }
        }
    }
    println!("\n{tally:#?}\nrefused: {refused:#?}");
}
