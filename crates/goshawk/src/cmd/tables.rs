//! `goshawk tables`: what the lake holds, from the Parquet footers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use goshawk_ingest::{Lake, TableStats};

/// List the lake's tables with row counts, time ranges and sizes (read from Parquet footers,
/// not by scanning the data).
#[derive(Debug, clap::Args)]
pub struct TablesArgs {
    /// The lake directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = super::ingest::Format::Text)]
    pub format: super::ingest::Format,
}

pub fn run(args: TablesArgs) -> anyhow::Result<ExitCode> {
    let lake = Lake::open(&args.data)?;
    let mut stats: Vec<TableStats> = Vec::new();
    for table in lake.tables()? {
        stats.push(
            table
                .stats()
                .with_context(|| format!("cannot read the footers of {}", table.name()))?,
        );
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        super::ingest::Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &stats)?;
            writeln!(stdout)?;
        }
        super::ingest::Format::Text => {
            writeln!(
                stdout,
                "{:<22} {:>12} {:>6} {:>12}  {:<28} {:<28}",
                "table", "rows", "files", "bytes", "from", "to"
            )?;
            for s in &stats {
                writeln!(
                    stdout,
                    "{:<22} {:>12} {:>6} {:>12}  {:<28} {:<28}",
                    s.table,
                    s.rows,
                    s.files,
                    s.bytes,
                    s.min_time.as_deref().unwrap_or("-"),
                    s.max_time.as_deref().unwrap_or("-")
                )?;
            }
        }
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
