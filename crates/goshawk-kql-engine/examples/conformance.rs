//! Conformance report: runs the real-engine oracle cases and/or the Kusto docs examples from
//! the shared corpus, prints the pass rate per family and writes every failure with its reason.
//!
//! `cargo run -p goshawk-kql-engine --example conformance -- [--oracle] [--docs] [--report FILE]`
//! (both suites when neither is named).

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::process::ExitCode;

const USAGE: &str = "usage: conformance [--oracle] [--docs] [--report FILE]";

fn main() -> ExitCode {
    let mut oracle = false;
    let mut docs = false;
    let mut report = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--oracle" => oracle = true,
            "--docs" => docs = true,
            "--report" => match args.next() {
                Some(path) => report = Some(path),
                None => {
                    eprintln!("--report needs a file name\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument '{other}'\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if !oracle && !docs {
        oracle = true;
        docs = true;
    }
    let mut tallies = Vec::new();
    if oracle {
        tallies.push(common::run_oracle());
    }
    if docs {
        tallies.push(common::run_docs());
    }
    let mut text = String::new();
    for tally in &tallies {
        print!("{}", tally.summary());
        text.push_str(&tally.summary());
    }
    if let Some(path) = report {
        for tally in &tallies {
            let _ = writeln!(
                text,
                "\n== {} failures (id, family, query, reason) ==",
                tally.suite
            );
            text.push_str(&tally.failures());
        }
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!("report written to {path}");
    }
    ExitCode::SUCCESS
}
