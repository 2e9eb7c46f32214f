//! `goshawk compact`: merges the small data files of each day partition of the lake.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use goshawk_ingest::{CompactOptions, compact};

/// Merge each day partition's small Parquet files into one (files of a million rows or more
/// are left alone). `goshawk ingest` writes one file per table and day per run; a lake that
/// grew one input file at a time (serve's inbox, many small ingests) has many, and every query
/// pays for opening them. The merged file is recorded in the manifest in the same line that
/// retires the old ones, so readers see either, never both; rows are sorted by TimeGenerated
/// within each chunk of the merge. Takes the lake lock like `goshawk ingest`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The lake directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only this table: AADProvisioningLogs, AzureActivity, SigninLogs or AuditLogs.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = super::ingest::Format::Text)]
    pub format: super::ingest::Format,
}

pub fn run(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let options = CompactOptions {
        table: args.table.clone(),
        ..CompactOptions::default()
    };
    let summary = compact(&args.data, &options)
        .with_context(|| format!("compaction of {} failed", args.data.display()))?;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        super::ingest::Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &summary)?;
            writeln!(stdout)?;
        }
        super::ingest::Format::Text => {
            for path in &summary.orphans_removed {
                writeln!(
                    stdout,
                    "removed unfinished file of an interrupted run: {path}"
                )?;
            }
            for p in &summary.partitions {
                match &p.skipped {
                    Some(reason) => writeln!(
                        stdout,
                        "skipped  {}/day={}: {} files left as they are: {reason}",
                        p.table, p.day, p.files_before
                    )?,
                    None => writeln!(
                        stdout,
                        "merged   {}/day={}: {} files -> {} ({} rows)",
                        p.table, p.day, p.files_before, p.files_after, p.rows
                    )?,
                }
            }
            writeln!(
                stdout,
                "total: {} partition(s) with small files, {} files -> {}",
                summary.partitions.len(),
                summary.files_before,
                summary.files_after
            )?;
        }
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
