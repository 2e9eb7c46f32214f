//! Runs the real-engine oracle cases (corpus `kusto-oracle/cases.jsonl`), prints the pass rate
//! per family, and fails when a case listed in `tests/oracle_passing.txt` no longer passes.
//! `cargo test -p goshawk-kql-engine --test oracle -- --nocapture` shows the rates;
//! `UPDATE_ORACLE_PASSING=1` rewrites the list (review the diff: it may only grow);
//! `ORACLE_FAILURES=path` writes every failing case with the reason.

mod common;

#[test]
fn oracle_pass_rate_per_family_and_no_regression() {
    let tally = common::run_oracle();
    print!("{}", tally.summary());
    if let Ok(path) = std::env::var("ORACLE_FAILURES") {
        std::fs::write(path, tally.failures()).expect("write failures");
    }
    if let Err(regressions) =
        tally.check_passing_list("tests/oracle_passing.txt", "UPDATE_ORACLE_PASSING")
    {
        panic!("{regressions}");
    }
}
