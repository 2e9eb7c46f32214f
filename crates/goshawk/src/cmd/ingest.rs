//! `goshawk ingest`: Azure log exports into the Parquet lake.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use goshawk_ingest::{IngestOptions, IngestSummary, Progress, SourceStatus, expand_inputs, ingest};

/// Exit code when some records were rejected or some inputs could not be read.
const EXIT_REJECTED: u8 = 3;

/// Read Azure log exports into the lake at --data: Graph API pages, Event Hub messages,
/// storage-account PT1H.json blobs, `az monitor activity-log list` output and Log Analytics
/// JSON/CSV exports; JSON arrays, JSON Lines or concatenated values; gzip, UTF-8 or UTF-16. The
/// shape is detected from the content, not the file name. Records that cannot be read or mapped
/// are written to DIR/_rejects/ with file, line and reason; a file already ingested (same
/// content) is skipped as a duplicate. In a directory, a `.goshawkignore` file (one glob pattern
/// per line, matched against paths relative to that directory and against file names) excludes
/// files that are not logs; the summary lists them.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every record of every input is in the lake (or was already); \
3 some records were rejected or some inputs could not be read (details in DIR/_rejects/ and the \
summary); 1 fatal error (the lake cannot be written); 2 usage error."
)]
pub struct IngestArgs {
    /// Files, directories (read recursively) or glob patterns ("logs/**/*.json").
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// The lake directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Table for records whose content does not name one, e.g. a CSV export without a Type
    /// column: AADProvisioningLogs, AzureActivity, SigninLogs or AuditLogs.
    #[arg(long, value_name = "NAME", value_parser = parse_table)]
    pub table: Option<String>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// No progress bar and no text summary.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_table(name: &str) -> Result<String, String> {
    goshawk_types::table_schema(name)
        .map(|t| t.name.to_string())
        .ok_or_else(|| {
            let known: Vec<&str> = goshawk_types::ingested_tables()
                .iter()
                .map(|t| t.name)
                .collect();
            format!(
                "unknown table '{name}' (expected one of: {})",
                known.join(", ")
            )
        })
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let inputs = expand_inputs(&args.paths).context("cannot list the inputs")?;
    let options = IngestOptions {
        table: args.table.clone(),
        ..IngestOptions::default()
    };
    let progress = Progress::default();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let done = AtomicBool::new(false);
    let summary = std::thread::scope(|scope| {
        if show_progress {
            scope.spawn(|| draw_progress(&progress, &done));
        }
        let result = ingest(&args.data, &inputs.files, &options, &progress);
        done.store(true, Ordering::Relaxed);
        result
    })
    .with_context(|| format!("ingest into {} failed", args.data.display()))?;
    let mut summary = summary;
    summary.ignored_inputs = inputs
        .ignored
        .iter()
        .map(|p| p.display().to_string())
        .collect();

    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &summary)?;
            writeln!(stdout)?;
        }
        Format::Text if !args.quiet => write_text_summary(&mut stdout, &summary, &args.data)?,
        Format::Text => {}
    }
    stdout.flush()?;
    Ok(if summary.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    })
}

fn draw_progress(progress: &Progress, done: &AtomicBool) {
    let bar = indicatif::ProgressBar::new(progress.bytes_total.load(Ordering::Relaxed));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        bar.set_length(progress.bytes_total.load(Ordering::Relaxed));
        bar.set_position(progress.bytes_read.load(Ordering::Relaxed));
        let records = progress.records.load(Ordering::Relaxed);
        let rate = records as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!("{records} records ({rate:.0}/s)"));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn write_text_summary(
    out: &mut impl Write,
    summary: &IngestSummary,
    lake: &std::path::Path,
) -> std::io::Result<()> {
    for path in &summary.orphans_removed {
        writeln!(
            out,
            "removed unfinished file of an interrupted ingest: {path}"
        )?;
    }
    for source in &summary.sources {
        let status = match source.status {
            SourceStatus::Ingested => "ingested",
            SourceStatus::Duplicate => "duplicate",
            SourceStatus::Unreadable => "UNREADABLE",
            SourceStatus::Partial => "PARTIAL",
        };
        let tables: Vec<String> = source
            .ingested
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        write!(
            out,
            "{status:<10} {:>9} rows {:>7} rejected  {}",
            source.ingested_total(),
            source.rejected,
            source.path
        )?;
        if let Some(format) = &source.format {
            write!(
                out,
                "  [{format}{}]",
                if source.gzip { ", gzip" } else { "" }
            )?;
        }
        if !tables.is_empty() {
            write!(out, "  {}", tables.join(" "))?;
        }
        writeln!(out)?;
        if let Some(error) = &source.error {
            writeln!(out, "           {error}")?;
        }
    }
    for path in &summary.ignored_inputs {
        writeln!(
            out,
            "{:<10} {path}  (matched by {})",
            "ignored",
            goshawk_ingest::IGNORE_FILE
        )?;
    }
    for (table, counts) in &summary.tables {
        writeln!(out, "{table}: {} rows ingested", counts.ingested)?;
    }
    writeln!(
        out,
        "total: {} ingested, {} rejected, {} duplicate source(s), {} unreadable source(s), {} ignored file(s)",
        summary.ingested,
        summary.rejected,
        summary.duplicate_sources,
        summary.unreadable_sources,
        summary.ignored_inputs.len()
    )?;
    if summary.rejected > 0 {
        writeln!(
            out,
            "rejected records: {}",
            lake.join(goshawk_ingest::REJECTS_DIR).display()
        )?;
    }
    Ok(())
}
