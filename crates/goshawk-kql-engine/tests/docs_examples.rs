//! Runs the self-contained Kusto documentation examples that show an output table, and the
//! derived scalar assertions (corpus `kusto-docs/`), compares with normalisation (see
//! `common::judge_docs`), prints the pass rate per TOC family, and fails when a case listed in
//! `tests/docs_passing.txt` no longer passes.
//! `cargo test -p goshawk-kql-engine --test docs_examples -- --nocapture` shows the rates;
//! `UPDATE_DOCS_PASSING=1` rewrites the list (review the diff: it may only grow);
//! `DOCS_FAILURES=path` writes every failing example with the reason.

mod common;

#[test]
fn docs_examples_pass_rate_per_family_and_no_regression() {
    let tally = common::run_docs();
    print!("{}", tally.summary());
    if let Ok(path) = std::env::var("DOCS_FAILURES") {
        std::fs::write(path, tally.failures()).expect("write failures");
    }
    if let Err(regressions) =
        tally.check_passing_list("tests/docs_passing.txt", "UPDATE_DOCS_PASSING")
    {
        panic!("{regressions}");
    }
}
