//! `goshawk demo`: the whole pipeline on synthetic data, in one command. It generates 30 days of
//! Azure logs with planted attack scenarios, ingests them into a temporary Parquet lake, runs the
//! built-in detections (KQL rules and the ML jobs behind the machine_learning rules) and shows
//! which findings are the planted scenarios, against the generator's answer key.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{TimeZone, Utc};
use goshawk_generate::{
    BURST_THRESHOLD_RULE, GROUND_TRUTH, GenerateOptions, HUNT_01, ML_RARE_FAILING_OPERATION,
    Profile, RunOptions, generate_with,
};
use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};
use goshawk_kql_engine::catalog::LakeCatalog;
use goshawk_kql_engine::time::parse_datetime;
use goshawk_ml::LakeAnomalySource;
use goshawk_rules::builtin::{
    HUNT01_ID, PROVISIONING_FAILURE_BURST_ID, RARE_AZURE_ACTIVITY_FAILURES_ID, builtin_rules,
};
use goshawk_rules::findings::{Finding, HuntReport};
use goshawk_rules::hunt::{HuntOptions, hunt};
use goshawk_rules::report::{write_json, write_summary, write_table};
use serde_json::Value;

use super::query::runtime;

/// The demo is deterministic: the same data and the same findings on every machine.
const DEMO_SEED: u64 = 1;
const DEMO_DAYS: u32 = 30;

/// How close (either side) a finding's time must come to a scenario's to be counted as it.
const SCENARIO_SLACK_NANOS: i64 = 3_600 * 1_000_000_000;

/// Arguments of `goshawk demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The demo needs nothing but this binary: it writes a few MB of raw logs and a small lake to a
temporary directory (or to --keep DIR, to explore them afterwards with `goshawk query` and
`goshawk hunt`).")]
pub struct DemoArgs {
    /// Keep the generated logs and the lake in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,

    /// `text` explains the findings; `json` prints the hunt report as `goshawk hunt --format json`.
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
    // The demo profile: the standard tenant's applications, subscriptions, callers and
    // scenarios at lower background rates, so that the month is a few MB.
    let generated = generate_with(
        &GenerateOptions {
            out_dir: raw.clone(),
            days: DEMO_DAYS,
            end,
            scale: 1,
            seed: DEMO_SEED,
            with_bad_records: false,
        },
        &RunOptions {
            profile: Profile::Demo,
            ..RunOptions::default()
        },
    )
    .context("generating the demo logs")?;
    eprintln!(
        "  1. generated {} records ({:.1} MB) in {} files, in the shapes Azure exports them \
         (Graph API pages, Event Hub messages, storage PT1H.json)  [{:.1}s]",
        generated.records(),
        generated.bytes as f64 / 1e6,
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

    let started = Instant::now();
    let (content, load_errors) = builtin_rules();
    if !load_errors.is_empty() {
        let errors: Vec<String> = load_errors.iter().map(ToString::to_string).collect();
        bail!(
            "a built-in rule does not load, which is a bug; please report it: {}",
            errors.join("; ")
        );
    }
    let catalog = LakeCatalog::open(&lake).context("opening the demo lake")?;
    let now_nanos = end.timestamp_nanos_opt().context("demo end date")?;
    let ml_source = LakeAnomalySource::new(&lake);
    let options = HuntOptions {
        now_nanos,
        anomalies: Some(&ml_source),
        // The demo is a retro-hunt over the whole month, as an analyst would run it.
        ml_since_nanos: Some(now_nanos - i64::from(DEMO_DAYS) * 86_400 * 1_000_000_000),
        session: None,
    };
    let report = runtime()?.block_on(hunt(&catalog, &content, &load_errors, &options));
    eprintln!(
        "  3. ran the {} built-in detections as of {}: {} ran, {} skipped (their tables are not in \
         the demo), {} failed  [{:.1}s]\n",
        report.summary.rules.len(),
        end.format("%Y-%m-%d %H:%M UTC"),
        report.summary.rules_run,
        report.summary.rules_skipped,
        report.summary.rules_failed,
        started.elapsed().as_secs_f64()
    );

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        DemoFormat::Json => write_json(&report, &mut out)?,
        DemoFormat::Text => {
            let scenarios = read_ground_truth(&raw.join(GROUND_TRUTH))?;
            writeln!(
                out,
                "Findings ({}), most severe first; `goshawk hunt` prints the same:\n",
                report.findings.len()
            )?;
            write_table(&report, &mut out)?;
            writeln!(out)?;
            write_scenario_check(&mut out, &report, &scenarios)?;
            write_next_steps(&mut out, args.keep.as_deref())?;
        }
    }
    out.flush()?;
    let stderr = io::stderr();
    let mut err = stderr.lock();
    writeln!(err)?;
    write_summary(&report.summary, &mut err)?;
    if report.summary.rules_failed > 0 {
        bail!("a built-in detection failed on the demo data, which is a bug; please report it");
    }
    Ok(ExitCode::SUCCESS)
}

/// A planted scenario from the generator's answer key.
struct Planted {
    id: String,
    name: String,
    benign: bool,
    /// Values that identify it in findings: its provisioning job, callers and IP addresses.
    keys: Vec<String>,
    start_nanos: i64,
    end_nanos: i64,
    /// `(rule id, rule label, should fire)` for each detection the answer key names.
    expected: Vec<(&'static str, &'static str, bool)>,
}

fn read_ground_truth(path: &Path) -> anyhow::Result<Vec<Planted>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut planted = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), index + 1);
        let entry: Value =
            serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        let time = |field: &str| {
            entry[field]
                .as_str()
                .and_then(parse_datetime)
                .with_context(|| format!("{}: no datetime in '{field}'", at()))
        };
        let entities = &entry["entities"];
        let mut keys: Vec<String> = entities["job_id"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        for list in ["callers", "ips"] {
            keys.extend(
                entities[list]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
        }
        let expected = entry["detections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let (id, label) = match d["detection"].as_str()? {
                    HUNT_01 => (HUNT01_ID, "HUNT-01"),
                    ML_RARE_FAILING_OPERATION => (
                        RARE_AZURE_ACTIVITY_FAILURES_ID,
                        "Rare Azure Activity Logs Event Failures",
                    ),
                    BURST_THRESHOLD_RULE => (
                        PROVISIONING_FAILURE_BURST_ID,
                        "Provisioning failure burst (threshold rule)",
                    ),
                    _ => return None,
                };
                Some((id, label, d["should_fire"].as_bool().unwrap_or(false)))
            })
            .collect();
        planted.push(Planted {
            id: entry["scenario"].as_str().unwrap_or("?").to_string(),
            name: entry["name"].as_str().unwrap_or("?").to_string(),
            benign: entry["benign"].as_bool().unwrap_or(false),
            keys,
            start_nanos: time("time_start")?,
            end_nanos: time("time_end")?,
            expected,
        });
    }
    Ok(planted)
}

/// Whether `finding` is about `scenario`: an entity or evidence value is one of the scenario's
/// (its provisioning job, a caller, an IP address) and its time range comes within an hour of
/// the scenario's.
fn is_about(finding: &Finding, scenario: &Planted) -> bool {
    let is_key = |value: &str| {
        scenario
            .keys
            .iter()
            .any(|key| key.eq_ignore_ascii_case(value))
    };
    let names_entity = finding.entities.iter().any(|entity| is_key(&entity.value))
        || finding
            .evidence
            .rows
            .iter()
            .flatten()
            .any(|cell| cell_mentions(cell, &is_key));
    let first = finding.first_seen.as_deref().and_then(parse_datetime);
    let last = finding.last_seen.as_deref().and_then(parse_datetime);
    let overlaps = match (first, last) {
        (Some(first), Some(last)) => {
            first <= scenario.end_nanos + SCENARIO_SLACK_NANOS
                && last >= scenario.start_nanos - SCENARIO_SLACK_NANOS
        }
        _ => true,
    };
    names_entity && overlaps
}

/// Whether a JSON evidence cell is, or (for an array such as an influencer list) holds, a value
/// `is_key` accepts.
fn cell_mentions(cell: &Value, is_key: &dyn Fn(&str) -> bool) -> bool {
    match cell {
        Value::String(text) => is_key(text),
        Value::Array(items) => items.iter().any(|item| cell_mentions(item, is_key)),
        Value::Object(fields) => fields.values().any(|item| cell_mentions(item, is_key)),
        _ => false,
    }
}

fn write_scenario_check(
    out: &mut impl Write,
    report: &HuntReport,
    planted: &[Planted],
) -> io::Result<()> {
    writeln!(
        out,
        "The planted scenarios, what the answer key says should happen, and what did:"
    )?;
    let mut as_expected = 0;
    let mut checks = 0;
    for scenario in planted {
        writeln!(
            out,
            "  ({}) {}{}",
            scenario.id,
            scenario.name,
            if scenario.benign {
                " — a benign look-alike"
            } else {
                ""
            }
        )?;
        for (rule_id, label, should_fire) in &scenario.expected {
            let fired = report
                .findings
                .iter()
                .filter(|f| f.rule_id == *rule_id && is_about(f, scenario))
                .count();
            let ok = (fired > 0) == *should_fire;
            checks += 1;
            as_expected += usize::from(ok);
            let outcome = match (fired, should_fire) {
                (0, _) => "did not fire".to_string(),
                (1, _) => "fired (1 finding)".to_string(),
                (n, _) => format!("fired ({n} findings)"),
            };
            writeln!(
                out,
                "      {} {label}: should {}fire, {outcome}",
                if ok { "ok  " } else { "MISS" },
                if *should_fire { "" } else { "not " },
            )?;
        }
    }
    let unplanted = report
        .findings
        .iter()
        .filter(|f| !planted.iter().any(|s| is_about(f, s)))
        .count();
    writeln!(
        out,
        "{as_expected} of {checks} expectations met. {unplanted} finding(s) match no planted \
         scenario: background activity that a rule considers worth a look.",
    )
}

fn write_next_steps(out: &mut impl Write, kept: Option<&Path>) -> io::Result<()> {
    writeln!(out, "\nTo run goshawk on your own logs:")?;
    writeln!(
        out,
        "  goshawk ingest <your exports: Graph JSON, Event Hub, PT1H.json, Log Analytics CSV> --data ./lake"
    )?;
    writeln!(
        out,
        "  goshawk hunt --data ./lake [--rules <your Sentinel YAML / Elastic TOML>] [--format html -o report.html]"
    )?;
    writeln!(
        out,
        "  goshawk query --data ./lake -q '<KQL>'      # or a .kql file"
    )?;
    writeln!(
        out,
        "  goshawk rules show <id or name>               # what a detection does, step by step"
    )?;
    if let Some(dir) = kept {
        writeln!(
            out,
            "The demo's logs and lake are in {dir}: try\n  goshawk tables --data {lake}\n  goshawk hunt --data {lake} --now 2026-05-01T00:00:00Z --format html -o report.html",
            dir = dir.display(),
            lake = dir.join("lake").display()
        )?;
    }
    Ok(())
}
