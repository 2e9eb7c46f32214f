//! `goshawk generate`: realistic Azure logs with planted scenarios and ground truth.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use goshawk_generate::{GenerateOptions, Profile, RunOptions, generate_with};

/// Write Entra provisioning and Azure Activity logs in their real export shapes (Graph API
/// pages, diagnostic-settings Event Hub messages, storage-account PT1H.json blobs) with planted
/// scenarios listed in DIR/ground_truth.jsonl. Output is byte-identical for the same arguments.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output directory (created; must be empty if it exists).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Days of history ending at --end (at least 21, so the scenarios fit).
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub days: u32,
    /// Exclusive end of the window: RFC 3339 (2026-05-01T00:00:00Z) or a date (2026-05-01,
    /// midnight UTC). Default: the start of the current UTC day.
    #[arg(long, value_name = "DATETIME", value_parser = parse_end)]
    pub end: Option<DateTime<Utc>>,
    /// Background volume multiplier (1 = about 5,000 records, 12 MB in 30 days; grows linearly).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub scale: u32,
    /// `standard` is the documented model; `demo` is the quieter tenant of `goshawk demo`
    /// (same applications, callers and scenarios, about a third of the volume).
    #[arg(long, value_enum, default_value_t = ProfileArg::Standard)]
    pub profile: ProfileArg,
    /// Worker threads (default: one per CPU); the output does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Generate and count every record but write no log file (the answer keys are written):
    /// how fast generation is without the file system.
    #[arg(long)]
    pub dry_run: bool,
    /// Seed of the random generators.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Also write malformed files under DIR/bad-records and list them in DIR/bad_records.jsonl.
    #[arg(long)]
    pub with_bad_records: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    Standard,
    Demo,
}

fn parse_end(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(datetime) = DateTime::parse_from_rfc3339(text) {
        return Ok(datetime.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
        .ok_or_else(|| {
            format!("{text:?} is neither an RFC 3339 datetime (2026-05-01T00:00:00Z) nor a date (2026-05-01)")
        })
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let end = match args.end {
        Some(end) => end,
        None => Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|naive| naive.and_utc())
            .context("the current UTC day has no midnight")?,
    };
    let opts = GenerateOptions {
        out_dir: args.out,
        days: args.days,
        end,
        scale: args.scale,
        seed: args.seed,
        with_bad_records: args.with_bad_records,
    };
    eprintln!(
        "generating {} days ending {} at scale {} (seed {}) into {}",
        opts.days,
        opts.end.to_rfc3339(),
        opts.scale,
        opts.seed,
        opts.out_dir.display()
    );
    let run = RunOptions {
        profile: match args.profile {
            ProfileArg::Standard => Profile::Standard,
            ProfileArg::Demo => Profile::Demo,
        },
        threads: args.threads.unwrap_or(0),
        dry_run: args.dry_run,
    };
    let summary = generate_with(&opts, &run)
        .with_context(|| format!("generating into {}", opts.out_dir.display()))?;
    eprintln!("{summary}");
    Ok(ExitCode::SUCCESS)
}
