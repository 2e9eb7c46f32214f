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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    #[error("a {0} thread panicked")]
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

/// The tenant's activity at scale 1: how many background records it produces per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// The documented model (docs/generator.md): 15 provisioning jobs with their full change
    /// rates, 1.6 successful Azure operations per busy hour, two or three distinct benign
    /// failing operations every hour.
    #[default]
    Standard,
    /// A quieter tenant of the same shape for `goshawk demo`: the same applications, jobs,
    /// subscriptions, callers and scenarios, with a quarter of the directory changes, an
    /// eighth of the successful operations and each benign failing operation failing once an
    /// hour, so that 30 days are about 5 MB while every detection keeps the history it
    /// learns from.
    Demo,
}

impl Profile {
    /// Multiplier of every provisioning job's change rate.
    pub(crate) fn provisioning_rate(self) -> f64 {
        match self {
            Profile::Standard => 1.0,
            Profile::Demo => 0.25,
        }
    }

    /// Successful background operations per hour at scale 1 at an activity factor of 1.
    pub(crate) fn success_events_per_hour(self) -> f64 {
        match self {
            Profile::Standard => 1.6,
            Profile::Demo => 0.2,
        }
    }

    /// How often a benign failing operation fails twice in its hour (else once, times scale).
    pub(crate) fn repeat_failure_chance(self) -> f64 {
        match self {
            Profile::Standard => 0.15,
            Profile::Demo => 0.0,
        }
    }
}

/// How to run the generator; none of it changes the output but the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    pub profile: Profile,
    /// Worker threads; 0 means one per available CPU. The output is byte-identical whatever
    /// the number: each UTC day of the window is generated by one worker from its own seeds
    /// into its own files.
    pub threads: usize,
    /// Generate and count every record but write no log file (the answer keys are still
    /// written): measures generation without the file system.
    pub dry_run: bool,
}

/// Generates the whole data set into `opts.out_dir` with the standard profile on every CPU.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    generate_with(opts, &RunOptions::default())
}

/// One UTC day of the window: the unit of work of a thread.
pub(crate) struct Chunk {
    /// Days since 1970-01-01; seeds the chunk's generators and names its files.
    pub day: i64,
    /// First planning hour (the first hour of the day, or of the window).
    pub start: i64,
    /// End of the last planning hour (exclusive).
    pub end: i64,
}

impl Chunk {
    /// The planning hours of this chunk, in order.
    pub(crate) fn hours(&self) -> impl Iterator<Item = i64> + use<> {
        let end = self.end;
        std::iter::successors(Some(self.start), |hour| Some(hour + json::TICKS_PER_HOUR))
            .take_while(move |&hour| hour < end)
    }
}

fn chunks(window: &Window) -> Vec<Chunk> {
    let first_hour = window.start.div_euclid(json::TICKS_PER_HOUR) * json::TICKS_PER_HOUR;
    let first_day = first_hour.div_euclid(json::TICKS_PER_DAY);
    let last_day = (window.end - 1).div_euclid(json::TICKS_PER_DAY);
    (first_day..=last_day)
        .map(|day| Chunk {
            day,
            start: (day * json::TICKS_PER_DAY).max(first_hour),
            end: ((day + 1) * json::TICKS_PER_DAY).min(window.end),
        })
        .collect()
}

/// What one chunk wrote, per stream.
#[derive(Default, Clone, Copy)]
struct ChunkStats {
    graph: sink::WriteStats,
    provisioning_messages: sink::WriteStats,
    activity_messages: sink::WriteStats,
    storage: sink::WriteStats,
}

impl ChunkStats {
    fn add(&mut self, other: &ChunkStats) {
        self.graph.add(other.graph);
        self.provisioning_messages.add(other.provisioning_messages);
        self.activity_messages.add(other.activity_messages);
        self.storage.add(other.storage);
    }
}

fn generate_chunk(
    world: &world::World,
    window: &Window,
    plan: &scenarios::Plan,
    chunk: &Chunk,
    profile: Profile,
    scale: u32,
    out: &sink::Output,
) -> Result<ChunkStats, GenerateError> {
    let (graph, provisioning_messages) =
        provisioning::generate(world, window, &plan.provisioning, chunk, profile, out)?;
    let (activity_messages, storage) =
        activity::generate(world, window, scale, &plan.activity, chunk, profile, out)?;
    Ok(ChunkStats {
        graph,
        provisioning_messages,
        activity_messages,
        storage,
    })
}

/// Generates the whole data set into `opts.out_dir`.
pub fn generate_with(
    opts: &GenerateOptions,
    run: &RunOptions,
) -> Result<GenerateSummary, GenerateError> {
    let started = Instant::now();
    let window = validate(opts)?;
    prepare_out_dir(&opts.out_dir)?;
    let world = world::World::new(opts.seed, opts.scale);
    let plan = scenarios::plan(&world, &window);
    let out_dir = opts.out_dir.as_path();
    let output = sink::Output {
        dir: out_dir,
        discard: run.dry_run,
    };
    let chunks = chunks(&window);
    let threads = match run.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(chunks.len())
    .max(1);

    // Workers take days in order from a shared counter; a day's files and seeds are its own,
    // so the bytes do not depend on which worker takes it or when.
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || -> Result<ChunkStats, (usize, GenerateError)> {
        let mut total = ChunkStats::default();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= chunks.len() || failed.load(Ordering::Relaxed) {
                return Ok(total);
            }
            match generate_chunk(
                &world,
                &window,
                &plan,
                &chunks[index],
                run.profile,
                opts.scale,
                &output,
            ) {
                Ok(stats) => total.add(&stats),
                Err(err) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err((index, err));
                }
            }
        }
    };
    let results: Vec<Result<ChunkStats, (usize, GenerateError)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut results = vec![worker()];
        for handle in handles {
            results.push(handle.join().unwrap_or(Err((
                usize::MAX,
                GenerateError::WorkerPanicked("generator worker"),
            ))));
        }
        results
    });
    let mut totals = ChunkStats::default();
    let mut first_error: Option<(usize, GenerateError)> = None;
    for result in results {
        match result {
            Ok(stats) => totals.add(&stats),
            // Report the earliest day's error so that a failing run names the same file
            // whatever the scheduling.
            Err((index, err)) => {
                if first_error.as_ref().is_none_or(|(first, _)| index < *first) {
                    first_error = Some((index, err));
                }
            }
        }
    }
    if let Some((_, err)) = first_error {
        return Err(err);
    }
    let ChunkStats {
        graph,
        provisioning_messages,
        activity_messages,
        storage,
    } = totals;

    let mut truth = Vec::new();
    for entry in &plan.ground_truth {
        truth.extend_from_slice(&serde_json::to_vec(entry).unwrap_or_default());
        truth.push(b'\n');
    }
    sink::write_file(&out_dir.join(GROUND_TRUTH), &truth, false)?;
    let ignore = format!(
        "# Written by goshawk generate: answer keys, not log data.\n{GROUND_TRUTH}\n{BAD_RECORDS_MANIFEST}\n"
    );
    sink::write_file(&out_dir.join(INGEST_IGNORE_FILE), ignore.as_bytes(), false)?;
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
