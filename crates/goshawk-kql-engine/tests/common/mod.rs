//! Conformance machinery shared by `tests/oracle.rs`, `tests/docs_examples.rs` and the
//! `conformance` example: loading the corpus, running each case, comparing results with
//! normalisation, the per-family tally and the committed lists of passing case ids.
//!
//! Each user needs only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use goshawk_kql_engine::catalog::MemoryCatalog;
use goshawk_kql_engine::format::{KustoValue, value_at};
use goshawk_kql_engine::session::{QueryEngine, QueryResult};
use goshawk_kql_engine::time::{format_datetime, format_real, format_timespan, parse_datetime};
use goshawk_types::KustoType;
use serde_json::Value;

/// The shared corpus next to the repository.
pub fn corpus() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        path.join("kusto-oracle/cases.jsonl").is_file(),
        "the shared corpus is missing: expected {}/kusto-oracle/cases.jsonl",
        path.display()
    );
    path
}

fn read_jsonl(relative: &str) -> Vec<Value> {
    let path = corpus().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: invalid JSON: {e}", path.display(), n + 1))
        })
        .collect()
}

/// Runs one query on its own current-thread runtime so that a panic inside the engine is
/// reported as that case's failure instead of aborting the whole suite.
pub fn run_query(engine: &QueryEngine<'_>, kql: &str) -> Result<QueryResult, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(engine.query(kql)))) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(payload) => Err(format!(
            "engine panicked: {}",
            payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )),
    }
}

/// `now()` for every conformance run, so that results do not depend on the clock.
pub fn fixed_now() -> i64 {
    parse_datetime("2026-11-22T12:00:00Z").unwrap_or(0)
}

/// Whether a query's rows come in a defined order: its last operator (after comments and a
/// trailing `render`) is `sort`/`order`, `top` or `serialize`, as the upstream comparator
/// decided. `top-nested` and `top-hitters` are not ordered.
pub fn ordered(kql: &str) -> bool {
    let code: String = kql
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut stages = code.trim().trim_end_matches(';').rsplit('|');
    let mut last = stages
        .next()
        .unwrap_or("")
        .trim_start()
        .to_ascii_lowercase();
    if last.starts_with("render") {
        last = stages
            .next()
            .unwrap_or("")
            .trim_start()
            .to_ascii_lowercase();
    }
    ["sort", "order", "top ", "top\n", "serialize"]
        .iter()
        .any(|p| last.starts_with(p))
        && !last.starts_with("top-")
}

/// Outcome of one case.
pub enum Verdict {
    Pass,
    Fail(String),
    /// Not judged (no stable expectation); the reason is counted.
    Excluded(String),
}

/// Pass/fail counts per family, the failures with their reasons and the exclusions.
#[derive(Default)]
pub struct Tally {
    pub suite: String,
    /// family -> (passed, judged, excluded)
    pub families: BTreeMap<String, (usize, usize, usize)>,
    pub passing: Vec<String>,
    /// case id -> (family, query, reason)
    pub failed: BTreeMap<String, (String, String, String)>,
    /// reason -> count
    pub excluded: BTreeMap<String, usize>,
}

impl Tally {
    fn new(suite: &str) -> Tally {
        Tally {
            suite: suite.into(),
            ..Tally::default()
        }
    }

    fn record(&mut self, id: &str, family: &str, query: &str, verdict: Verdict) {
        let entry = self.families.entry(family.to_string()).or_default();
        match verdict {
            Verdict::Pass => {
                entry.0 += 1;
                entry.1 += 1;
                self.passing.push(id.to_string());
            }
            Verdict::Fail(reason) => {
                entry.1 += 1;
                self.failed.insert(
                    id.to_string(),
                    (family.to_string(), query.to_string(), reason),
                );
            }
            Verdict::Excluded(reason) => {
                entry.2 += 1;
                *self.excluded.entry(reason).or_default() += 1;
            }
        }
    }

    pub fn passed(&self) -> usize {
        self.passing.len()
    }

    pub fn judged(&self) -> usize {
        self.families.values().map(|f| f.1).sum()
    }

    pub fn excluded_count(&self) -> usize {
        self.families.values().map(|f| f.2).sum()
    }

    /// The per-family table with totals and the exclusion reasons.
    pub fn summary(&self) -> String {
        let mut out = format!("== {} ==\n", self.suite);
        let percent = |ok: usize, all: usize| {
            if all == 0 {
                0.0
            } else {
                100.0 * ok as f64 / all as f64
            }
        };
        for (family, (ok, all, excluded)) in &self.families {
            let _ = writeln!(
                out,
                "{family:<52} {ok:>4}/{all:<4} {:5.1}%{}",
                percent(*ok, *all),
                if *excluded > 0 {
                    format!("  ({excluded} excluded)")
                } else {
                    String::new()
                }
            );
        }
        let (ok, all, excluded) = (self.passed(), self.judged(), self.excluded_count());
        let _ = writeln!(
            out,
            "{:<52} {ok:>4}/{all:<4} {:5.1}% judged; {ok}/{} = {:.1}% of all cases",
            "all",
            percent(ok, all),
            all + excluded,
            percent(ok, all + excluded)
        );
        for (reason, count) in &self.excluded {
            let _ = writeln!(out, "  excluded: {count:>4} {reason}");
        }
        out
    }

    /// Every failure, one per line: `id<TAB>family<TAB>query<TAB>reason`.
    pub fn failures(&self) -> String {
        let mut out = String::new();
        for (id, (family, query, reason)) in &self.failed {
            let _ = writeln!(
                out,
                "{id}\t{family}\t{}\t{}",
                query.replace('\n', "\\n"),
                reason.replace('\n', "\\n")
            );
        }
        out
    }

    /// Compares with the committed list `list` (relative to the crate): rewrites it when the
    /// environment variable `update_var` is set, otherwise returns the cases of the list that
    /// no longer pass.
    pub fn check_passing_list(&self, list: &str, update_var: &str) -> Result<(), String> {
        let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(list);
        let mut passing = self.passing.clone();
        passing.sort();
        if std::env::var_os(update_var).is_some() {
            std::fs::write(&list_path, passing.join("\n") + "\n")
                .map_err(|e| format!("cannot write {}: {e}", list_path.display()))?;
            return Ok(());
        }
        let committed = std::fs::read_to_string(&list_path)
            .map_err(|e| format!("cannot read {}: {e}", list_path.display()))?;
        let known: std::collections::HashSet<&str> = passing.iter().map(String::as_str).collect();
        let regressions: Vec<String> = committed
            .lines()
            .filter(|id| !id.is_empty() && !known.contains(id))
            .map(|id| match self.failed.get(id) {
                Some((_, _, reason)) => format!("{id}: {reason}"),
                None => format!("{id}: no longer judged"),
            })
            .collect();
        let newly = passing.len() + regressions.len() - committed.lines().count();
        if newly > 0 {
            println!("{newly} case(s) pass that {list} does not list: run with {update_var}=1");
        }
        if regressions.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} case(s) listed in {list} fail now:\n{}",
                regressions.len(),
                regressions.join("\n")
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Oracle: results printed the way the upstream C# harness printed them, compared as strings.

fn oracle_class(ty: KustoType) -> &'static str {
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

fn cell_value(result: &QueryResult, batch: usize, column: usize, row: usize) -> Option<KustoValue> {
    let ty = result.columns[column].ty;
    value_at(result.batches[batch].column(column).as_ref(), row, ty)
}

fn oracle_cell(result: &QueryResult, batch: usize, column: usize, row: usize) -> String {
    let ty = result.columns[column].ty;
    let Some(value) = cell_value(result, batch, column, row) else {
        return if ty == KustoType::String {
            "''".into()
        } else {
            "null".into()
        };
    };
    match value {
        KustoValue::String(s) if ty == KustoType::Guid => format!("'{}'", s.to_ascii_lowercase()),
        KustoValue::String(s) => format!("'{s}'"),
        KustoValue::Bool(true) => "True".into(),
        KustoValue::Bool(false) => "False".into(),
        KustoValue::Long(v) => v.to_string(),
        KustoValue::Real(v) => format_real(v),
        KustoValue::Decimal(d) => d,
        KustoValue::DateTime(n) => format_datetime(n),
        KustoValue::TimeSpan(n) => format_timespan(n),
        KustoValue::Dynamic(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
    }
}

fn oracle_rows(result: &QueryResult) -> Vec<String> {
    let mut out = Vec::new();
    for (b, batch) in result.batches.iter().enumerate() {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = (0..result.columns.len())
                .map(|c| oracle_cell(result, b, c, row))
                .collect();
            out.push(format!("({})", cells.join(", ")));
        }
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn judge_oracle(case: &Value, outcome: Result<QueryResult, String>) -> Verdict {
    let expected_outcome = case["Outcome"].as_str().unwrap_or("");
    if expected_outcome == "KustoError" {
        return match outcome {
            Ok(_) => Verdict::Fail("Kusto rejects this query; goshawk accepted it".into()),
            Err(_) => Verdict::Pass,
        };
    }
    let result = match outcome {
        Ok(result) => result,
        Err(e) => return Verdict::Fail(e),
    };
    let kusto = &case["Kusto"];
    let columns: Vec<String> = result
        .columns
        .iter()
        .map(|c| format!("{}:{}", c.name, oracle_class(c.ty)))
        .collect();
    let expected_columns = strings(&kusto["Columns"]);
    if columns != expected_columns {
        return Verdict::Fail(format!(
            "columns {columns:?}, expected {expected_columns:?}"
        ));
    }
    if expected_outcome == "SkippedNondeterministic" {
        return Verdict::Pass;
    }
    let got = oracle_rows(&result);
    let expected_count = kusto["RowCount"].as_u64().unwrap_or(0) as usize;
    if got.len() != expected_count {
        return Verdict::Fail(format!(
            "{} rows, expected {expected_count}: {got:?}",
            got.len()
        ));
    }
    let expected = strings(&kusto["SampleRows"]);
    let kql = case["Kql"].as_str().unwrap_or("");
    if ordered(kql) || expected_count > expected.len() {
        let prefix: Vec<String> = got.iter().take(expected.len()).cloned().collect();
        if ordered(kql) && prefix != expected {
            return Verdict::Fail(format!("rows {prefix:?}, expected {expected:?}"));
        }
        return Verdict::Pass;
    }
    let mut a = got.clone();
    let mut b = expected.clone();
    a.sort();
    b.sort();
    if a != b {
        return Verdict::Fail(format!("rows {got:?}, expected {expected:?}"));
    }
    Verdict::Pass
}

/// Runs the visible real-engine oracle cases (`kusto-oracle/cases.jsonl`), one family per
/// upstream `Family`.
pub fn run_oracle() -> Tally {
    let catalog = MemoryCatalog::new();
    let engine = QueryEngine::new(&catalog, fixed_now());
    let mut tally = Tally::new("kusto-oracle");
    for case in read_jsonl("kusto-oracle/cases.jsonl") {
        let kql = case["Kql"].as_str().unwrap_or("");
        let family = case["Family"].as_str().unwrap_or("?");
        let id = case["CaseId"].as_str().unwrap_or("?");
        let verdict = judge_oracle(&case, run_query(&engine, kql));
        tally.record(id, family, kql, verdict);
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// Docs: hand-written markdown tables, compared cell by cell after normalising spellings.

/// How strictly numbers are compared.
#[derive(Clone, Copy)]
struct Tolerance {
    /// Relative tolerance for reals (and longs in approximate examples).
    relative: f64,
    /// Element order of arrays does not matter (`make_set`, `bag_keys`, ...).
    unordered_arrays: bool,
}

/// Digits after the decimal point in a number as written (`3.140` -> 3, `1.5E+3` -> -2).
fn shown_decimals(text: &str) -> i32 {
    let lower = text.to_ascii_lowercase();
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i32>().unwrap_or(0)),
        None => (lower.as_str(), 0),
    };
    let decimals = mantissa
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len() as i32);
    decimals - exponent
}

fn parse_real(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "+Infinity" | "inf" | "∞" => Some(f64::INFINITY),
        "-Infinity" | "-inf" | "-∞" => Some(f64::NEG_INFINITY),
        other => other.replace(',', "").parse().ok(),
    }
}

/// Whether `got` equals the real written as `text`: the docs round (or cut) long expansions,
/// so the last shown digit bounds the error, besides the relative tolerance.
fn real_matches(text: &str, got: f64, tolerance: Tolerance) -> bool {
    let Some(expected) = parse_real(text) else {
        return false;
    };
    if expected.is_nan() || got.is_nan() {
        return expected.is_nan() && got.is_nan();
    }
    if expected.is_infinite() || got.is_infinite() {
        return expected == got;
    }
    let shown = 10f64.powi(-shown_decimals(text.trim()));
    let allowed = (tolerance.relative * expected.abs()).max(shown).max(1e-9);
    (got - expected).abs() <= allowed
}

fn json_matches(expected: &Value, got: &Value, tolerance: Tolerance) -> bool {
    match (expected, got) {
        (Value::Number(e), Value::Number(g)) => match (e.as_f64(), g.as_f64()) {
            (Some(e), Some(g)) => real_matches(&e.to_string(), g, tolerance),
            _ => false,
        },
        (Value::Array(e), Value::Array(g)) => {
            if e.len() != g.len() {
                return false;
            }
            if e.iter().zip(g).all(|(a, b)| json_matches(a, b, tolerance)) {
                return true;
            }
            tolerance.unordered_arrays
                && multiset_matches(e, g, |a, b| json_matches(a, b, tolerance))
        }
        (Value::Object(e), Value::Object(g)) => {
            e.len() == g.len()
                && e.iter().all(|(key, value)| {
                    g.get(key)
                        .is_some_and(|other| json_matches(value, other, tolerance))
                })
        }
        _ => expected == got,
    }
}

/// Greedy one-to-one matching of `expected` against `got` (both the same length).
fn multiset_matches<E, G>(expected: &[E], got: &[G], matches: impl Fn(&E, &G) -> bool) -> bool {
    let mut used = vec![false; got.len()];
    expected.iter().all(
        |e| match (0..got.len()).find(|&i| !used[i] && matches(e, &got[i])) {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        },
    )
}

/// The text of a value the way the docs would show it, for messages.
fn shown(value: &Option<KustoValue>) -> String {
    match value {
        None => "null".into(),
        Some(KustoValue::String(s)) => s.clone(),
        Some(KustoValue::Bool(b)) => b.to_string(),
        Some(KustoValue::Long(v)) => v.to_string(),
        Some(KustoValue::Real(v)) => format_real(*v),
        Some(KustoValue::Decimal(d)) => d.clone(),
        Some(KustoValue::DateTime(n)) => format_datetime(*n),
        Some(KustoValue::TimeSpan(n)) => format_timespan(*n),
        Some(KustoValue::Dynamic(v)) => v.to_string(),
    }
}

fn unquote(text: &str) -> &str {
    for quote in ['"', '\'', '`'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// Whether a result cell matches the docs' cell text.
fn docs_cell_matches(expected: &str, got: &Option<KustoValue>, tolerance: Tolerance) -> bool {
    let expected = expected.trim();
    // The docs do not tell an empty cell from null or ""; some write `null`.
    if expected.is_empty() || expected.eq_ignore_ascii_case("null") {
        let empty = match got {
            None => true,
            Some(KustoValue::String(s)) => s.is_empty() || s.eq_ignore_ascii_case("null"),
            Some(KustoValue::Dynamic(v)) => {
                v.is_null() || v.as_str() == Some("") || v == &Value::Array(Vec::new())
            }
            Some(KustoValue::Real(v)) => v.is_nan() && !expected.is_empty(),
            _ => false,
        };
        if empty || expected.is_empty() {
            return empty;
        }
    }
    let Some(value) = got else {
        return false;
    };
    match value {
        KustoValue::Bool(b) => match expected.to_ascii_lowercase().as_str() {
            "true" | "1" => *b,
            "false" | "0" => !*b,
            _ => false,
        },
        KustoValue::Long(v) => match expected.replace(',', "").parse::<i64>() {
            Ok(e) => {
                e == *v
                    || (tolerance.relative > 1e-6
                        && ((e - v) as f64).abs() <= tolerance.relative * (e as f64).abs())
            }
            Err(_) => real_matches(expected, *v as f64, tolerance),
        },
        KustoValue::Real(v) => real_matches(expected, *v, tolerance),
        KustoValue::Decimal(d) => {
            d == expected
                || d.parse::<f64>()
                    .is_ok_and(|v| real_matches(expected, v, tolerance))
        }
        KustoValue::DateTime(n) => parse_datetime(expected).is_some_and(|e| (e - n).abs() <= 1_000),
        KustoValue::TimeSpan(n) => goshawk_kql_engine::time::parse_timespan(expected)
            .is_some_and(|e| (e - n).abs() <= 1_000),
        KustoValue::String(s) => {
            s == expected
                || s.trim() == expected
                || s == unquote(expected)
                || s.eq_ignore_ascii_case(expected) && looks_like_guid(s)
                || json_text_matches(expected, s, tolerance)
        }
        KustoValue::Dynamic(v) => match serde_json::from_str::<Value>(expected) {
            Ok(e) => json_matches(&e, v, tolerance),
            // A dynamic string (or a value the docs wrote without JSON quoting).
            Err(_) => match v {
                Value::String(s) => s == expected || s == unquote(expected),
                Value::Number(n) => n
                    .as_f64()
                    .is_some_and(|g| real_matches(expected, g, tolerance)),
                Value::Bool(b) => expected.eq_ignore_ascii_case(&b.to_string()),
                _ => false,
            },
        },
    }
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// Strings holding JSON (from `tostring()` of a dynamic value) compare structurally.
fn json_text_matches(expected: &str, got: &str, tolerance: Tolerance) -> bool {
    let structured = |t: &str| t.starts_with('{') || t.starts_with('[');
    if !structured(expected) || !structured(got.trim_start()) {
        return false;
    }
    match (
        serde_json::from_str::<Value>(expected),
        serde_json::from_str::<Value>(got),
    ) {
        (Ok(e), Ok(g)) => json_matches(&e, &g, tolerance),
        _ => false,
    }
}

fn docs_rows(result: &QueryResult) -> Vec<Vec<Option<KustoValue>>> {
    let mut out = Vec::new();
    for (b, batch) in result.batches.iter().enumerate() {
        for row in 0..batch.num_rows() {
            out.push(
                (0..result.columns.len())
                    .map(|c| cell_value(result, b, c, row))
                    .collect(),
            );
        }
    }
    out
}

fn expected_table(example: &Value) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let table = &example["expected"];
    if !table.is_object() {
        return None;
    }
    let columns = if table["columns_plain"].is_array() {
        &table["columns_plain"]
    } else {
        &table["columns"]
    };
    let rows = if table["rows_plain"].is_array() {
        &table["rows_plain"]
    } else {
        &table["rows"]
    };
    let rows = rows.as_array()?.iter().map(strings).collect();
    Some((strings(columns), rows))
}

fn normalise_column_name(name: &str) -> String {
    unquote(name.trim()).trim().to_string()
}

fn judge_docs(example: &Value, outcome: Result<QueryResult, String>) -> Verdict {
    let Some((columns, expected_rows)) = expected_table(example) else {
        return Verdict::Excluded("no expected table".into());
    };
    let result = match outcome {
        Ok(result) => result,
        Err(e) => return Verdict::Fail(first_line(&e)),
    };
    let flags = strings(&example["flags"]);
    let query = example["query"].as_str().unwrap_or("");
    let approximate = flags.iter().any(|f| f.starts_with("approximate:"));
    let tolerance = Tolerance {
        // dcount/percentile answers depend on the sketch; within 5% is Kusto's documented
        // error bound for the default accuracy.
        relative: if approximate { 0.05 } else { 1e-6 },
        unordered_arrays: [
            "make_set",
            "makeset",
            "make_bag",
            "bag_keys",
            "set_",
            "dcount",
            "make_list",
        ]
        .iter()
        .any(|f| query.contains(f)),
    };
    let got_columns: Vec<String> = result.columns.iter().map(|c| c.name.clone()).collect();
    let expected_columns: Vec<String> = columns.iter().map(|c| normalise_column_name(c)).collect();
    // The docs spell some names with a different case than the engine prints them
    // (`ID` for `Id`); the case of a column name is not what these examples check.
    let same_names = got_columns.len() == expected_columns.len()
        && got_columns
            .iter()
            .zip(&expected_columns)
            .all(|(g, e)| g.eq_ignore_ascii_case(e));
    if !same_names {
        return Verdict::Fail(format!(
            "columns {got_columns:?}, expected {expected_columns:?}"
        ));
    }
    let got = docs_rows(&result);
    let truncated = example["expected_truncated"].as_bool() == Some(true);
    let expected_rows: Vec<Vec<String>> = expected_rows
        .into_iter()
        .filter(|row| !row.iter().all(|c| c.trim() == "..." || c.trim() == "…"))
        .collect();
    if got.len() != expected_rows.len() && !(truncated && got.len() > expected_rows.len()) {
        return Verdict::Fail(format!(
            "{} rows, expected {}; first: {}",
            got.len(),
            expected_rows.len(),
            got.first().map(|r| show_row(r)).unwrap_or_default()
        ));
    }
    let row_matches = |e: &Vec<String>, g: &Vec<Option<KustoValue>>| {
        e.len() == g.len()
            && e.iter()
                .zip(g)
                .all(|(ec, gc)| docs_cell_matches(ec, gc, tolerance))
    };
    if ordered(query) && !truncated {
        for (n, (e, g)) in expected_rows.iter().zip(&got).enumerate() {
            if !row_matches(e, g) {
                return Verdict::Fail(format!("row {n}: got {}, expected {e:?}", show_row(g)));
            }
        }
        return Verdict::Pass;
    }
    // Unordered (or truncated) output: every expected row must match a distinct result row.
    let mut used = vec![false; got.len()];
    for e in &expected_rows {
        match (0..got.len()).find(|&i| !used[i] && row_matches(e, &got[i])) {
            Some(i) => used[i] = true,
            None => {
                let unused: Vec<String> = (0..got.len())
                    .filter(|&i| !used[i])
                    .take(3)
                    .map(|i| show_row(&got[i]))
                    .collect();
                return Verdict::Fail(format!(
                    "no result row matches {e:?}; unmatched result rows: {}",
                    unused.join(" ")
                ));
            }
        }
    }
    Verdict::Pass
}

fn show_row(row: &[Option<KustoValue>]) -> String {
    let cells: Vec<String> = row.iter().map(shown).collect();
    format!("{cells:?}")
}

fn first_line(text: &str) -> String {
    // Rendered diagnostics put the message first and the caret lines after it.
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Why a docs example has no stable expectation, if it has none.
fn docs_exclusion(example: &Value) -> Option<String> {
    for flag in strings(&example["flags"]) {
        let kind = flag.split(':').next().unwrap_or("");
        match kind {
            "nondeterministic" | "order_dependent" | "python_or_r_plugin" | "sql"
            | "management_command" => return Some(flag),
            _ => {}
        }
    }
    if example["expected_table_issues"]
        .as_array()
        .is_some_and(|issues| {
            issues.iter().any(|i| {
                i.as_str()
                    .is_some_and(|s| s.starts_with("row_width_mismatch"))
            })
        })
    {
        return Some("expected table has rows of the wrong width".into());
    }
    None
}

/// Runs the self-contained docs examples that show an output table (family: the function
/// group for functions, else the TOC path),
/// plus the derived scalar assertions (family `Assertions: <page>`).
pub fn run_docs() -> Tally {
    let catalog = MemoryCatalog::new();
    let engine = QueryEngine::new(&catalog, fixed_now());
    let mut tally = Tally::new("kusto-docs");
    for example in read_jsonl("kusto-docs/examples.jsonl") {
        if example["self_contained"].as_bool() != Some(true) || !example["expected"].is_object() {
            continue;
        }
        let id = example["id"].as_str().unwrap_or("?");
        let family = example["subcategory"]
            .as_str()
            .or_else(|| example["toc_path"].as_str())
            .or_else(|| example["category"].as_str())
            .unwrap_or("?");
        let query = example["query"].as_str().unwrap_or("");
        let verdict = match docs_exclusion(&example) {
            Some(reason) => Verdict::Excluded(reason),
            None => judge_docs(&example, run_query(&engine, query)),
        };
        tally.record(id, family, query, verdict);
    }
    for assertion in read_jsonl("kusto-docs/assertions.jsonl") {
        let id = assertion["id"].as_str().unwrap_or("?");
        let family = format!("Assertions: {}", assertion["topic"].as_str().unwrap_or("?"));
        let query = assertion["query"].as_str().unwrap_or("");
        let verdict = judge_docs(&assertion, run_query(&engine, query));
        tally.record(id, &family, query, verdict);
    }
    tally
}
