//! `goshawk demo`: the whole pipeline on synthetic data, in one command. It generates 30 days of
//! Azure logs with planted attack scenarios, ingests them into a temporary Parquet lake, runs the
//! HUNT-01 detection and shows which findings are the planted scenarios.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{TimeZone, Utc};
use goshawk_generate::{GROUND_TRUTH, GenerateOptions, generate};
use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};
use goshawk_kql_engine::catalog::LakeCatalog;
use goshawk_kql_engine::output::{OutputFormat, write_result};
use goshawk_kql_engine::session::QueryEngine;
use goshawk_rules::RuleDocument;
use goshawk_rules::builtin::{HUNT01_ID, builtin_rule};
use goshawk_rules::sentinel::SentinelRule;
use serde_json::Value;

use super::query::runtime;

/// The demo is deterministic: the same data and the same findings on every machine.
const DEMO_SEED: u64 = 1;
const DEMO_DAYS: u32 = 30;

/// Arguments of `goshawk demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The demo needs nothing but this binary: it writes about 12 MB of raw logs and a small lake to a
temporary directory (or to --keep DIR, to explore them afterwards with `goshawk query`).")]
pub struct DemoArgs {
    /// Keep the generated logs and the lake in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,

    /// `text` explains the findings; `json` prints the detection's raw result.
    #[arg(long, value_enum, default_value_t = DemoFormat::Text)]
    pub format: DemoFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoFormat {
    Text,
    Json,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temporary;
    let work_dir: &Path = match &args.keep {
        Some(dir) => {
            if dir.exists()
                && dir
                    .read_dir()
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                bail!(
                    "--keep {}: the directory must be new or empty",
                    dir.display()
                );
            }
            dir
        }
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            temporary.path()
        }
    };
    let raw = work_dir.join("raw");
    let lake = work_dir.join("lake");
    let end = Utc
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .context("demo end date")?;

    eprintln!(
        "goshawk demo: {DEMO_DAYS} days of synthetic Entra ID provisioning and Azure Activity logs \
         with planted attack scenarios\n"
    );
    let started = Instant::now();
    let generated = generate(&GenerateOptions {
        out_dir: raw.clone(),
        days: DEMO_DAYS,
        end,
        scale: 1,
        seed: DEMO_SEED,
        with_bad_records: false,
    })
    .context("generating the demo logs")?;
    eprintln!(
        "  1. generated {} records in {} files, in the shapes Azure exports them \
         (Graph API pages, Event Hub messages, storage PT1H.json)  [{:.1}s]",
        generated.streams.iter().map(|s| s.records).sum::<u64>(),
        generated.files,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    // The generator's .goshawkignore keeps its answer key (ground_truth.jsonl) out of the lake.
    let inputs = expand_inputs(&[raw.display().to_string()]).context("listing the demo logs")?;
    let summary = ingest(
        &lake,
        &inputs.files,
        &IngestOptions::default(),
        &Progress::default(),
    )
    .context("ingesting the demo logs")?;
    if !summary.is_complete() {
        let problems: Vec<String> = summary
            .sources
            .iter()
            .filter(|s| s.rejected > 0 || s.error.is_some())
            .map(|s| {
                format!(
                    "{} ({:?}, {} rejected) {}",
                    s.path,
                    s.status,
                    s.rejected,
                    s.error.as_deref().unwrap_or("")
                )
            })
            .collect();
        bail!(
            "the demo data did not ingest cleanly, which is a bug; please report it: {} rejected, {} unreadable: {}",
            summary.rejected,
            summary.unreadable_sources,
            problems.join("; ")
        );
    }
    eprintln!(
        "  2. ingested {} records into a Parquet lake in the Log Analytics table shapes  [{:.1}s]",
        summary.ingested,
        started.elapsed().as_secs_f64()
    );

    let hunt01 = match builtin_rule(HUNT01_ID).map(|rule| rule.document) {
        Some(RuleDocument::Sentinel(rule)) => rule,
        _ => bail!("the built-in HUNT-01 rule is missing; this is a bug, please report it"),
    };
    let started = Instant::now();
    let catalog = LakeCatalog::open(&lake).context("opening the demo lake")?;
    let now = end.timestamp_nanos_opt().context("demo end date")?;
    let engine = QueryEngine::new(&catalog, now);
    let result = runtime()?
        .block_on(engine.query(&hunt01.query))
        .map_err(|err| anyhow::anyhow!("{}", err.render(&hunt01.query, "HUNT-01")))?;
    eprintln!(
        "  3. ran HUNT-01 \"{}\" as of {}  [{:.1}s]\n",
        hunt01.name,
        end.format("%Y-%m-%d %H:%M UTC"),
        started.elapsed().as_secs_f64()
    );

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        DemoFormat::Json => write_result(&result, OutputFormat::Json, &mut out)?,
        DemoFormat::Text => {
            let mut json = Vec::new();
            write_result(&result, OutputFormat::Json, &mut json)?;
            let findings: Value = serde_json::from_slice(&json).context("reading the result")?;
            let scenarios = read_ground_truth(&raw.join(GROUND_TRUTH))?;
            write_findings(&mut out, &hunt01, &findings, &scenarios)?;
            write_next_steps(&mut out, args.keep.as_deref())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A planted scenario that HUNT-01 should report, keyed by its provisioning job.
struct Planted {
    id: String,
    name: String,
    job_id: String,
}

fn read_ground_truth(path: &Path) -> anyhow::Result<Vec<Planted>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut planted = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let entry: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), index + 1))?;
        if let Some(job_id) = entry["entities"]["job_id"].as_str() {
            planted.push(Planted {
                id: entry["scenario"].as_str().unwrap_or("?").to_string(),
                name: entry["name"].as_str().unwrap_or("?").to_string(),
                job_id: job_id.to_string(),
            });
        }
    }
    Ok(planted)
}

fn write_findings(
    out: &mut impl Write,
    rule: &SentinelRule,
    result: &Value,
    planted: &[Planted],
) -> io::Result<()> {
    let names: Vec<&str> = result["columns"]
        .as_array()
        .map(|columns| {
            columns
                .iter()
                .map(|c| c["name"].as_str().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    let rows = result["rows"].as_array().cloned().unwrap_or_default();
    let cell = |row: &Value, name: &str| -> Value {
        names
            .iter()
            .position(|n| *n == name)
            .map(|i| row[i].clone())
            .unwrap_or(Value::Null)
    };
    let text = |value: Value| -> String {
        match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    };

    writeln!(
        out,
        "HUNT-01  {}  (severity {}; MITRE ATT&CK {} {})",
        rule.name,
        rule.severity.as_deref().unwrap_or("not set"),
        rule.tactics.join(", "),
        rule.relevant_techniques.join(", ")
    )?;
    writeln!(
        out,
        "Each finding is one provisioning job, service principal and error code that failed at least 10\n\
         times in 30 days; \"sustained\" means the failures span 3 or more days.\n"
    )?;
    if rows.is_empty() {
        writeln!(out, "No findings.")?;
    }
    for (index, row) in rows.iter().enumerate() {
        let job_id = text(cell(row, "JobId"));
        let sustained = cell(row, "Sustained") == Value::Bool(true);
        writeln!(
            out,
            "#{}  {}  {}",
            index + 1,
            display_or(&text(cell(row, "SPName")), "(no service principal name)"),
            text(cell(row, "ResultSignature"))
        )?;
        writeln!(
            out,
            "    {} failures on {} targets over {} days{}, {} to {}",
            text(cell(row, "Failures")),
            text(cell(row, "AffectedTargets")),
            text(cell(row, "DistinctDays")),
            if sustained { " (sustained)" } else { "" },
            text(cell(row, "FirstSeen")),
            text(cell(row, "LastSeen"))
        )?;
        writeln!(out, "    job {job_id}")?;
        if let Some(Value::String(first)) = cell(row, "ErrorMessages")
            .as_array()
            .and_then(|m| m.first())
            .cloned()
        {
            writeln!(out, "    e.g. {}", first)?;
        }
        match planted.iter().find(|p| p.job_id == job_id) {
            Some(p) => writeln!(out, "    -> planted scenario ({}) {}", p.id, p.name)?,
            None => writeln!(out, "    -> background noise, not a planted scenario")?,
        }
        writeln!(out)?;
    }
    let found = planted
        .iter()
        .filter(|p| rows.iter().any(|r| text(cell(r, "JobId")) == p.job_id));
    let found: Vec<String> = found.map(|p| format!("({}) {}", p.id, p.name)).collect();
    writeln!(
        out,
        "HUNT-01 found {} of the {} planted provisioning scenarios{}{}.",
        found.len(),
        planted.len(),
        if found.is_empty() { "" } else { ": " },
        found.join(", ")
    )
}

fn display_or<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.is_empty() { fallback } else { text }
}

fn write_next_steps(out: &mut impl Write, kept: Option<&Path>) -> io::Result<()> {
    writeln!(out, "\nTo run goshawk on your own logs:")?;
    writeln!(
        out,
        "  goshawk ingest <your exports: Graph JSON, Event Hub, PT1H.json, Log Analytics CSV> --data ./lake"
    )?;
    writeln!(
        out,
        "  goshawk query --data ./lake -q '<KQL>'      # or a .kql file"
    )?;
    if let Some(dir) = kept {
        writeln!(
            out,
            "The demo's logs and lake are in {dir}: try\n  goshawk tables --data {lake}",
            dir = dir.display(),
            lake = dir.join("lake").display()
        )?;
    }
    Ok(())
}
