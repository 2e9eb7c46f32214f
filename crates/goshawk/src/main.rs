//! `goshawk`: the command-line front end. It parses arguments and hands each subcommand to the
//! library crates; everything that can be tested without a process lives in those crates.

mod cmd;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Offline threat hunting and detection for Azure logs.
///
/// goshawk runs Microsoft Sentinel KQL content and Elastic-style anomaly jobs over exported
/// Azure logs (Entra ID provisioning, Azure Activity, sign-in and audit logs) on your own machine.
///
/// Exit codes: 0 success; 1 failure or problems found; 2 usage error; 3 (ingest) some records
/// were rejected, (hunt) findings were raised. Results go to stdout, status and progress to
/// stderr.
#[derive(Debug, Parser)]
#[command(
    name = "goshawk",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline on synthetic logs with planted attacks: generate, ingest, hunt.
    Demo(cmd::demo::DemoArgs),
    /// Parse KQL files and Sentinel/Elastic rules; report `ok` or the error with line and column.
    Check(cmd::check::CheckArgs),
    /// Write realistic Azure logs with planted scenarios and ground truth.
    Generate(cmd::generate::GenerateArgs),
    /// Read Azure log exports into the Parquet lake (exit 3 when records were rejected).
    Ingest(cmd::ingest::IngestArgs),
    /// List the lake's tables: rows, time range, size.
    Tables(cmd::tables::TablesArgs),
    /// Merge each day partition's small lake files into one (for lakes built file by file).
    Compact(cmd::compact::CompactArgs),
    /// Run a KQL query over the lake or table files and print the result.
    Query(cmd::query::QueryArgs),
    /// Print the logical and physical plans of a KQL query.
    Explain(cmd::explain::ExplainArgs),
    /// Run the built-in and given detections over the lake and report findings (exit 3 when
    /// findings were raised).
    Hunt(cmd::hunt::HuntArgs),
    /// Elastic-style anomaly-detection jobs over the lake: run, list, results.
    Ml(cmd::ml::MlArgs),
    /// Detection content: list built-in rules and Sentinel/Elastic rule files.
    Rules(cmd::rules::RulesArgs),
    /// Keep watching: ingest an inbox, store alerts, answer Kusto REST API queries.
    Serve(cmd::serve::ServeArgs),
    /// Run a cluster scheduler that clients send queries to (`--cluster df://HOST:PORT`).
    #[cfg(feature = "distributed")]
    Scheduler(cmd::cluster::SchedulerArgs),
    /// Run a cluster executor that runs the scheduler's tasks.
    #[cfg(feature = "distributed")]
    Executor(cmd::cluster::ExecutorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Ingest(args) => cmd::ingest::run(args),
        Command::Tables(args) => cmd::tables::run(args),
        Command::Compact(args) => cmd::compact::run(args),
        Command::Query(args) => cmd::query::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Rules(args) => cmd::rules::run(args),
        Command::Ml(args) => cmd::ml::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Hunt(args) => cmd::hunt::run(args),
        #[cfg(feature = "distributed")]
        Command::Scheduler(args) => cmd::cluster::run_scheduler(args),
        #[cfg(feature = "distributed")]
        Command::Executor(args) => cmd::cluster::run_executor(args),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A closed stdout (`goshawk ... | head`) is the reader's choice, not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
