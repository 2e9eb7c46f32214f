//! Realistic Azure log generator with planted attack scenarios and ground truth.
//!
//! [`generate`] writes Entra ID provisioning logs and Azure Activity logs in the shapes Azure
//! really exports them (Microsoft Graph API pages, Azure Monitor diagnostic-settings records as
//! Event Hub messages and as storage-account `PT1H.json` blobs), with diurnal and weekly cycles,
//! a steady background of benign failures, and planted scenarios listed in `ground_truth.jsonl`.
//! Output is streamed hour by hour and is byte-identical for the same options. See
//! `docs/generator.md` for the model and its numbers.

mod activity;
mod bad;
mod json;
mod provisioning;
mod random;
mod scenarios;
mod sink;
mod world;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub use scenarios::{ATTACKER_IP, BURST_THRESHOLD_RULE, HUNT_01, ML_RARE_FAILING_OPERATION};

/// Graph API pages (`GET /auditLogs/provisioning`), relative to the output directory.
pub const GRAPH_DIR: &str = "provisioning/graph-api/auditLogs-provisioning";
/// Provisioning diagnostic-settings records as Event Hub messages.
pub const PROVISIONING_EVENT_HUB_DIR: &str =
    "provisioning/event-hub/insights-logs-provisioninglogs";
/// Activity log diagnostic-settings records as Event Hub messages.
pub const ACTIVITY_EVENT_HUB_DIR: &str = "activity/event-hub/insights-activity-logs";
/// Activity log storage-account container (`resourceId=/SUBSCRIPTIONS/...` below it).
pub const ACTIVITY_STORAGE_DIR: &str = "activity/storage-account/insights-activity-logs";
/// The malformed file set written by `--with-bad-records`.
pub const BAD_RECORDS_DIR: &str = "bad-records";
/// One JSON object per bad record: file, line, kind, problem.
pub const BAD_RECORDS_MANIFEST: &str = "bad_records.jsonl";
/// One JSON object per planted scenario instance.
pub const GROUND_TRUTH: &str = "ground_truth.jsonl";
/// Tells `goshawk ingest DIR` which files are answer keys, not logs (the ingester's
/// `.goshawkignore` convention), so that ingesting the whole output rejects nothing.
pub const INGEST_IGNORE_FILE: &str = ".goshawkignore";

/// The smallest window that holds every scenario with weeks of history before the last one.
pub const MIN_DAYS: u32 = 21;
/// Beyond this the background would no longer resemble one tenant.
pub const MAX_SCALE: u32 = 100_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Output directory; created if missing, must be empty if present.
    pub out_dir: PathBuf,
    /// Length of the window ending at `end`, in days.
    pub days: u32,
    /// Exclusive end of the window.
    pub end: DateTime<Utc>,
    /// Background volume multiplier; scenarios stay the same size.
    pub scale: u32,
    pub seed: u64,
    /// Also write the malformed file set and `bad_records.jsonl`.
    pub with_bad_records: bool,
}

impl GenerateOptions {
    /// Defaults of the CLI: 30 days, scale 1, seed 1, no bad records.
    pub fn new(out_dir: impl Into<PathBuf>, end: DateTime<Utc>) -> Self {
        GenerateOptions {
            out_dir: out_dir.into(),
            days: 30,
            end,
            scale: 1,
            seed: 1,
            with_bad_records: false,
        }
    }
}

/// Counts for one table in one export shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub table: &'static str,
    pub shape: &'static str,
    /// Directory relative to the output directory.
    pub path: &'static str,
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    pub streams: Vec<StreamSummary>,
    pub scenarios: usize,
    pub bad_records: u64,
    /// All files, including ground truth and bad records.
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl GenerateSummary {
    /// Valid records written (bad records excluded).
    pub fn records(&self) -> u64 {
        self.streams.iter().map(|s| s.records).sum()
    }

    pub fn records_per_second(&self) -> f64 {
        self.records() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:<34} {:>8} {:>11} {:>13}",
            "table", "shape", "files", "records", "bytes"
        )?;
        for s in &self.streams {
            writeln!(
                f,
                "{:<20} {:<34} {:>8} {:>11} {:>13}",
                s.table, s.shape, s.files, s.records, s.bytes
            )?;
        }
        writeln!(
            f,
            "{} scenarios in {GROUND_TRUTH}; {} bad records{}",
            self.scenarios,
            self.bad_records,
            if self.bad_records > 0 {
                format!(" in {BAD_RECORDS_MANIFEST}")
            } else {
                String::new()
            }
        )?;
        write!(
            f,
            "total: {} files, {} records, {} bytes in {:.2} s ({:.0} records/s)",
            self.files,
            self.records(),
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.records_per_second()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        option: &'static str,
        reason: String,
    },
    #[error("output directory {} is not empty; choose a new or empty directory", path.display())]
    OutputNotEmpty { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {0} generator thread panicked")]
    WorkerPanicked(&'static str),
}

impl GenerateError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        GenerateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The generated time range in 100 ns ticks since the Unix epoch.
pub(crate) struct Window {
    pub start: i64,
    pub end: i64,
    /// Provisioning records before this instant were exported from the Graph API; the tenant
    /// created its diagnostic setting here and later records arrive through Event Hub.
    pub diagnostic_setting_created: i64,
}

fn validate(opts: &GenerateOptions) -> Result<Window, GenerateError> {
    if opts.days < MIN_DAYS {
        return Err(GenerateError::InvalidOption {
            option: "--days",
            reason: format!(
                "{} is below {MIN_DAYS}: the planted scenarios need three weeks",
                opts.days
            ),
        });
    }
    if opts.days > 3660 {
        return Err(GenerateError::InvalidOption {
            option: "--days",
            reason: format!("{} exceeds 3660 (ten years)", opts.days),
        });
    }
    if opts.scale == 0 || opts.scale > MAX_SCALE {
        return Err(GenerateError::InvalidOption {
            option: "--scale",
            reason: format!("{} is outside 1..={MAX_SCALE}", opts.scale),
        });
    }
    let end = opts
        .end
        .timestamp()
        .checked_mul(json::TICKS_PER_SECOND)
        .and_then(|t| t.checked_add(i64::from(opts.end.timestamp_subsec_nanos() / 100)));
    let start = end.and_then(|end| end.checked_sub(i64::from(opts.days) * json::TICKS_PER_DAY));
    match (end, start) {
        (Some(end), Some(start))
            if start > 0 && opts.end.timestamp() < 253_402_300_799 - 86_400 =>
        {
            let half = (end - start) / 2;
            let diagnostic_setting_created =
                (start + half).div_euclid(json::TICKS_PER_DAY) * json::TICKS_PER_DAY;
            Ok(Window {
                start,
                end,
                diagnostic_setting_created,
            })
        }
        _ => Err(GenerateError::InvalidOption {
            option: "--end",
            reason: format!(
                "{} minus {} days is outside 1970..9999",
                opts.end, opts.days
            ),
        }),
    }
}

fn prepare_out_dir(path: &Path) -> Result<(), GenerateError> {
    match fs::read_dir(path) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(GenerateError::OutputNotEmpty {
                    path: path.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(path).map_err(|source| GenerateError::io(path, source))
        }
        Err(source) => Err(GenerateError::io(path, source)),
    }
}

/// Generates the whole data set into `opts.out_dir`.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    let started = Instant::now();
    let window = validate(opts)?;
    prepare_out_dir(&opts.out_dir)?;
    let world = world::World::new(opts.seed, opts.scale);
    let plan = scenarios::plan(&world, &window);
    let out_dir = opts.out_dir.as_path();

    // Three writers with disjoint files, each with its own seeded generators, so the bytes do
    // not depend on scheduling: provisioning, activity to storage, activity to the Event Hub.
    let (provisioning, activity_messages, storage) = std::thread::scope(|scope| {
        let provisioning =
            scope.spawn(|| provisioning::generate(&world, &window, &plan.provisioning, out_dir));
        let messages = scope.spawn(|| {
            activity::generate(&world, &window, opts.scale, &plan.activity, out_dir, false)
        });
        let storage =
            activity::generate(&world, &window, opts.scale, &plan.activity, out_dir, true);
        let provisioning = provisioning
            .join()
            .map_err(|_| GenerateError::WorkerPanicked("provisioning"));
        let messages = messages
            .join()
            .map_err(|_| GenerateError::WorkerPanicked("activity"));
        (provisioning, messages, storage)
    });
    let (graph, provisioning_messages) = provisioning??;
    let activity_messages = activity_messages??;
    let storage = storage?;

    let mut truth = Vec::new();
    for entry in &plan.ground_truth {
        truth.extend_from_slice(&serde_json::to_vec(entry).unwrap_or_default());
        truth.push(b'\n');
    }
    sink::write_file(&out_dir.join(GROUND_TRUTH), &truth)?;
    let ignore = format!(
        "# Written by goshawk generate: answer keys, not log data.\n{GROUND_TRUTH}\n{BAD_RECORDS_MANIFEST}\n"
    );
    sink::write_file(&out_dir.join(INGEST_IGNORE_FILE), ignore.as_bytes())?;
    let mut files = 2;
    let mut bytes = (truth.len() + ignore.len()) as u64;

    let mut bad_records = 0;
    if opts.with_bad_records {
        let (stats, count) = bad::write_bad_records(&world, window.end, out_dir)?;
        files += stats.files;
        bytes += stats.bytes;
        bad_records = count;
    }
    let stream = |table, shape, path, stats: sink::WriteStats| StreamSummary {
        table,
        shape,
        path,
        files: stats.files,
        records: stats.records,
        bytes: stats.bytes,
    };
    let streams = vec![
        stream("AADProvisioningLogs", "Graph API pages", GRAPH_DIR, graph),
        stream(
            "AADProvisioningLogs",
            "diagnostic settings (Event Hub)",
            PROVISIONING_EVENT_HUB_DIR,
            provisioning_messages,
        ),
        stream(
            "AzureActivity",
            "diagnostic settings (Event Hub)",
            ACTIVITY_EVENT_HUB_DIR,
            activity_messages,
        ),
        stream(
            "AzureActivity",
            "diagnostic settings (PT1H.json)",
            ACTIVITY_STORAGE_DIR,
            storage,
        ),
    ];
    files += streams.iter().map(|s| s.files).sum::<u64>();
    bytes += streams.iter().map(|s| s.bytes).sum::<u64>();
    Ok(GenerateSummary {
        streams,
        scenarios: plan.ground_truth.len(),
        bad_records,
        files,
        bytes,
        elapsed: started.elapsed(),
    })
}
