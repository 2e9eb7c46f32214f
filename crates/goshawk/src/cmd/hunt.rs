//! `goshawk hunt`: run the built-in pack and the given Sentinel/Elastic content over the lake
//! and report findings.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use goshawk_ml::LakeAnomalySource;
use goshawk_rules::anomaly::AnomalySource;
use goshawk_rules::builtin::builtin_rules;
use goshawk_rules::findings::HuntReport;
use goshawk_rules::hunt::{HuntOptions, hunt};
use goshawk_rules::load_paths;
use goshawk_rules::report::{ReportFormat, write_report, write_summary};

use super::query::runtime;

/// Exit status when the hunt ran cleanly and raised findings.
const EXIT_FINDINGS: u8 = 3;

/// Arguments of `goshawk hunt`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every applicable rule runs: Sentinel hunting queries and analytic rules, Elastic query rules in
Kusto KQL and Elastic machine_learning rules. A rule whose tables are not in the lake is skipped,
one that fails is reported, and the others still run. The summary (findings per severity and
tactic, top entities, rules run/skipped/failed, max_signals caps hit) goes to stderr.

Exit status: 0 if every rule ran (or was skipped) and none raised a finding; 3 if findings were
raised and nothing failed; 1 if a rule failed, a content file did not load or the hunt could not
run (the report is still written when it can be); 2 on a usage error.

Examples:
  goshawk hunt --data lake --now 2026-05-01T00:00:00Z
  goshawk hunt --data lake --rules my-rules/ --format html --output report.html
  goshawk hunt --data lake --no-builtin --rules hunt.yaml --format jsonl")]
pub struct HuntArgs {
    /// The Parquet lake directory written by `goshawk ingest`; with the `distributed` feature
    /// also an object store URL (see `goshawk query --help`).
    #[arg(long, value_name = "DIR|URL")]
    pub data: PathBuf,

    /// Rule files or directories (Sentinel .yaml/.yml, Elastic .toml, Elastic ML job and
    /// datafeed .json), searched recursively; repeatable.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// Leave out the rules compiled into goshawk.
    #[arg(long)]
    pub no_builtin: bool,

    /// The instant `now()`, `ago()`, query periods and look-backs are relative to (ISO 8601,
    /// UTC); default: the current time.
    #[arg(long, value_name = "DATETIME")]
    pub now: Option<String>,

    /// Retro-hunt: report every anomaly of the machine_learning rules since DATETIME (or a
    /// timespan before --now, such as 30d) instead of only those in the rule's own look-back
    /// (Elastic's `from`, e.g. now-2h). Query rules keep their own windows.
    #[arg(long, value_name = "DATETIME|TIMESPAN")]
    pub ml_since: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = HuntFormat::Table)]
    pub format: HuntFormat,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Run the rules' queries on a goshawk cluster: the scheduler's `df://HOST:PORT`.
    /// machine_learning rules are skipped (their anomaly jobs run in this process); a rule
    /// using an operator that only runs in this process fails and names it.
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HuntFormat {
    Table,
    Json,
    Jsonl,
    Csv,
    Html,
}

pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let now_nanos = match &args.now {
        Some(text) => goshawk_kql_engine::time::parse_datetime(text)
            .with_context(|| format!("--now: '{text}' is not a datetime"))?,
        None => chrono::Utc::now()
            .timestamp_nanos_opt()
            .context("the system clock is outside the datetime range")?,
    };
    let mut content = Vec::new();
    let mut load_errors = Vec::new();
    if !args.no_builtin {
        let (rules, errors) = builtin_rules();
        content.extend(rules);
        load_errors.extend(errors);
    }
    if !args.rules.is_empty() {
        let (rules, errors) = load_paths(&args.rules);
        content.extend(rules);
        load_errors.extend(errors);
    }
    if content.is_empty() && load_errors.is_empty() {
        anyhow::bail!("no rules to run: give --rules PATH, or drop --no-builtin");
    }
    let (catalog, remote_lake) = super::query::open_lake(&args.data)
        .with_context(|| format!("cannot open the lake {}", args.data.display()))?;
    let runtime = runtime()?;
    #[allow(unused_mut)]
    let mut session = None;
    #[cfg(feature = "distributed")]
    if let Some(url) = &args.cluster {
        session = Some(
            runtime
                .block_on(goshawk_cluster::connect(url))
                .with_context(|| format!("cannot connect to the cluster {url}"))?,
        );
    } else if remote_lake {
        session = Some(goshawk_cluster::local_session()?);
    }

    // machine_learning rules run their jobs over this lake; models persist under `DIR/_ml/`.
    // Their jobs run in this process over a lake directory only: with a cluster or a lake in
    // object storage they are skipped, and the summary says so.
    let ml_source = LakeAnomalySource::new(&args.data);
    let anomalies: Option<&dyn AnomalySource> = if session.is_some() || remote_lake {
        None
    } else {
        Some(&ml_source)
    };
    if anomalies.is_none() {
        eprintln!(
            "note: machine_learning rules are skipped: their anomaly jobs run in this process \
             over a lake directory, not on a cluster or over object storage"
        );
    }
    let ml_since_nanos = match &args.ml_since {
        None => None,
        Some(text) => Some(
            goshawk_kql_engine::time::parse_datetime(text)
                .or_else(|| {
                    goshawk_kql_engine::time::parse_timespan(text).map(|span| now_nanos - span)
                })
                .with_context(|| {
                    format!("--ml-since: '{text}' is neither a datetime nor a timespan")
                })?,
        ),
    };
    let options = HuntOptions {
        now_nanos,
        anomalies,
        ml_since_nanos,
        session,
    };
    let report = runtime.block_on(hunt(catalog.as_ref(), &content, &load_errors, &options));

    let format = match args.format {
        HuntFormat::Table => ReportFormat::Table,
        HuntFormat::Json => ReportFormat::Json,
        HuntFormat::Jsonl => ReportFormat::JsonLines,
        HuntFormat::Csv => ReportFormat::Csv,
        HuntFormat::Html => ReportFormat::Html,
    };
    match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            write_report(&report, format, &mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write_report(&report, format, &mut out)?;
            out.flush()?;
        }
    }
    let stderr = io::stderr();
    let mut err = stderr.lock();
    if format != ReportFormat::Table || !report.findings.is_empty() {
        writeln!(err)?;
    }
    write_summary(&report.summary, &mut err)?;
    if let Some(path) = &args.output {
        writeln!(err, "  report written to {}", path.display())?;
    }
    Ok(exit_code(&report))
}

fn exit_code(report: &HuntReport) -> ExitCode {
    let summary = &report.summary;
    if summary.rules_failed > 0 || !summary.load_errors.is_empty() {
        ExitCode::FAILURE
    } else if summary.findings > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}
