//! `goshawk explain`: print the logical and physical plans of a KQL query.

use std::io::{self, Write};
use std::process::ExitCode;

use super::query::{QuerySource, runtime};

/// Arguments of `goshawk explain`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 on success, 1 if the query cannot be planned, 2 on a usage error.

Example:
  goshawk explain --data lake -q 'AADProvisioningLogs | where TimeGenerated > ago(1d) | count'")]
pub struct ExplainArgs {
    #[command(flatten)]
    pub source: QuerySource,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let prepared = args.source.prepare()?;
    let engine = prepared.engine()?;
    match runtime()?.block_on(engine.explain(&prepared.text)) {
        Ok(text) => {
            let mut out = io::stdout().lock();
            writeln!(out, "{text}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprint!("{}", err.render(&prepared.text, &prepared.origin));
            Ok(ExitCode::FAILURE)
        }
    }
}
