//! `goshawk ml`: run Elastic-style anomaly-detection jobs over the lake, list them, and show
//! their anomaly records (the `MLAnomalies` table).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use goshawk_kql_engine::catalog::{LakeCatalog, LayeredCatalog};
use goshawk_kql_engine::output::{OutputFormat, write_result};
use goshawk_kql_engine::session::QueryEngine;
use goshawk_ml::results::AnomaliesCatalog;
use goshawk_ml::{JobDefinition, JobSpec, RunOptions, builtin_job, builtin_jobs, load_job_file};

use crate::cmd::query::runtime;

/// Arguments of `goshawk ml`.
#[derive(Debug, clap::Args)]
pub struct MlArgs {
    #[command(subcommand)]
    pub command: MlCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum MlCommand {
    /// Run (or resume) anomaly-detection jobs over the lake up to --end: complete buckets only;
    /// models are saved under DIR/_ml/, records to the MLAnomalies table.
    #[command(after_help = "\
Without --job every built-in job runs. A job resumes from its last complete bucket; --reset
forgets what it learnt.

Examples:
  goshawk ml run --data lake --end 2026-05-01T00:00:00Z
  goshawk ml run --data lake --job azure_activitylogs_rare_event_failures
  goshawk ml run --data lake --job my-job.json --datafeed my-datafeed.json --start 2026-04-01")]
    Run(RunArgs),
    /// List the built-in jobs (and, with --data, how far each has run).
    List(ListArgs),
    /// Show anomaly records from the MLAnomalies table, highest score first.
    #[command(after_help = "\
The table can also be queried with KQL: goshawk ml results --data lake -q 'MLAnomalies | where RecordScore >= 50'")]
    Results(ResultsArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The lake directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// A built-in job id or a job JSON file; default: every built-in job.
    #[arg(long, value_name = "FILE|NAME")]
    pub job: Option<String>,
    /// The datafeed JSON for --job FILE (it needs a `kql` query).
    #[arg(long, value_name = "FILE", requires = "job")]
    pub datafeed: Option<PathBuf>,
    /// Where a job that never ran starts (ISO 8601 or a date); default: its first event.
    #[arg(long, value_name = "DATETIME")]
    pub start: Option<String>,
    /// Process buckets that end by this instant (minus the datafeed's query delay); default:
    /// now.
    #[arg(long, value_name = "DATETIME")]
    pub end: Option<String>,
    /// Forget the jobs' saved models and records first.
    #[arg(long)]
    pub reset: bool,
    /// `table` for people, `json` one object per job.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The lake, to show each job's progress.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// The lake directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only this job's records.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// Only records scoring at least this (0..100).
    #[arg(long, value_name = "SCORE", default_value_t = 0.0)]
    pub min_score: f64,
    /// A KQL query over MLAnomalies (and the lake's tables) instead of the default listing.
    #[arg(short = 'q', long = "query", value_name = "KQL")]
    pub query: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: MlArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MlCommand::Run(args) => run_jobs(args),
        MlCommand::List(args) => list(args),
        MlCommand::Results(args) => results(args),
    }
}

fn parse_time(text: &str, flag: &str) -> anyhow::Result<i64> {
    goshawk_kql_engine::time::parse_datetime(text)
        .with_context(|| format!("{flag}: '{text}' is not a datetime"))
}

fn now_nanos() -> anyhow::Result<i64> {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .context("the system clock is outside the datetime range")
}

fn definitions(args: &RunArgs) -> anyhow::Result<Vec<JobDefinition>> {
    let Some(job) = &args.job else {
        return Ok(builtin_jobs());
    };
    let path = PathBuf::from(job);
    if path.is_file() {
        return Ok(vec![load_job_file(&path, args.datafeed.as_deref())?]);
    }
    if args.datafeed.is_some() {
        bail!("--datafeed needs --job FILE (a job JSON file), not a built-in job name");
    }
    match builtin_job(job) {
        Some(definition) => Ok(vec![definition]),
        None => Err(goshawk_ml::MlError::UnknownJob(job.clone()).into()),
    }
}

fn run_jobs(args: RunArgs) -> anyhow::Result<ExitCode> {
    let start = args
        .start
        .as_deref()
        .map(|t| parse_time(t, "--start"))
        .transpose()?;
    let end = match &args.end {
        Some(text) => parse_time(text, "--end")?,
        None => now_nanos()?,
    };
    let options = RunOptions {
        start,
        end,
        reset: args.reset,
        target_partitions: None,
    };
    let runtime = runtime()?;
    let mut summaries = Vec::new();
    for definition in definitions(&args)? {
        let datafeed = definition.datafeed.as_ref().with_context(|| {
            format!(
                "job '{}' has no datafeed: give --datafeed FILE with a `kql` query",
                definition.job.job_id
            )
        })?;
        let spec = JobSpec::new(&definition.job, datafeed)?;
        let (_, summary) = runtime.block_on(goshawk_ml::run_job(&args.data, &spec, &options))?;
        summaries.push(summary);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            for summary in &summaries {
                serde_json::to_writer(&mut out, summary)?;
                writeln!(out)?;
            }
        }
        Format::Table => {
            for s in &summaries {
                let range = match (s.from, s.to) {
                    (Some(from), Some(to)) => format!(
                        "{} .. {}",
                        goshawk_ml::time::format_seconds(from),
                        goshawk_ml::time::format_seconds(to)
                    ),
                    _ => "up to date".to_string(),
                };
                writeln!(
                    out,
                    "{}: {range}: {} buckets, {} events, {} new records, {} re-scored, {} records in all",
                    s.job_id, s.buckets, s.events, s.new_records, s.rescored, s.records
                )?;
                if !s.missing_influencers.is_empty() {
                    writeln!(
                        out,
                        "  influencers the datafeed does not produce: {}",
                        s.missing_influencers.join(", ")
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for definition in builtin_jobs() {
        let job = &definition.job;
        let detectors: Vec<String> = job
            .analysis_config
            .detectors
            .iter()
            .map(|d| {
                let mut text = d.function.clone();
                for (word, field) in [
                    ("of", &d.field_name),
                    ("by", &d.by_field_name),
                    ("over", &d.over_field_name),
                    ("partition", &d.partition_field_name),
                ] {
                    if let Some(field) = field {
                        text.push_str(&format!(" {word} {field}"));
                    }
                }
                text
            })
            .collect();
        let progress = match &args.data {
            Some(lake) => match goshawk_ml::state::load(lake, &job.job_id)? {
                Some(state) => Some((
                    state
                        .next_bucket_start
                        .map(goshawk_ml::time::format_seconds),
                    state.records.len(),
                )),
                None => None,
            },
            None => None,
        };
        match args.format {
            Format::Json => {
                let line = serde_json::json!({
                    "job_id": job.job_id,
                    "bucket_span": job.analysis_config.bucket_span,
                    "detectors": detectors,
                    "influencers": job.analysis_config.influencers,
                    "description": job.description,
                    "processed_until": progress.as_ref().and_then(|p| p.0.clone()),
                    "records": progress.as_ref().map(|p| p.1),
                });
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            }
            Format::Table => {
                write!(
                    out,
                    "{}  [{}] {}",
                    job.job_id,
                    job.analysis_config.bucket_span,
                    detectors.join("; ")
                )?;
                match progress {
                    Some((until, records)) => writeln!(
                        out,
                        "  (processed until {}, {records} records)",
                        until.unwrap_or_else(|| "-".to_string())
                    )?,
                    None if args.data.is_some() => writeln!(out, "  (never run)")?,
                    None => writeln!(out)?,
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn results(args: ResultsArgs) -> anyhow::Result<ExitCode> {
    let text = match &args.query {
        Some(query) => query.clone(),
        None => {
            let mut text = format!(
                "MLAnomalies\n| where RecordScore >= {}",
                if args.min_score.is_finite() {
                    args.min_score
                } else {
                    0.0
                }
            );
            if let Some(job) = &args.job {
                text.push_str(&format!(
                    "\n| where JobId == '{}'",
                    job.replace('\\', "\\\\").replace('\'', "\\'")
                ));
            }
            text.push_str(
                "\n| order by RecordScore desc, TimeGenerated asc\n| project TimeGenerated, JobId, RecordScore, InitialRecordScore, Probability, ByFieldValue, PartitionFieldValue, OverFieldValue, Influencers, Explanation",
            );
            text
        }
    };
    let mut catalog = LayeredCatalog::new();
    catalog.push(Box::new(AnomaliesCatalog::open(&args.data)?));
    catalog.push(Box::new(LakeCatalog::open(&args.data)?));
    let engine = QueryEngine::new(&catalog, now_nanos()?);
    let result = match runtime()?.block_on(engine.query(&text)) {
        Ok(result) => result,
        Err(err) => {
            eprint!("{}", err.render(&text, "<query>"));
            return Ok(ExitCode::FAILURE);
        }
    };
    let format = match args.format {
        Format::Table => OutputFormat::Table,
        Format::Json => OutputFormat::Json,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write_result(&result, format, &mut out)?;
    out.flush()?;
    eprintln!(
        "{} record{}",
        result.row_count(),
        if result.row_count() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
