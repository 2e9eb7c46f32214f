//! The inbox: log files dropped into a directory are ingested once they are complete, then
//! moved to `processed/`, or to `failed/` with a `.reason.txt` beside them.
//!
//! A file counts as complete when its size and modification time did not change between two
//! looks and it was last modified at least `settle` ago; a writer that copies a file in pieces
//! is therefore not read half-way. Crash safety comes from the lake: an ingest commits through
//! its manifest, so a file whose ingest was killed is still in the inbox and is ingested again
//! on restart (the leftovers of the killed run are removed), and a file that was committed but
//! not yet moved is recognised by its content hash as a duplicate and only moved.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use goshawk_ingest::{IngestError, IngestOptions, Progress, SourceStatus};
use tokio::sync::watch;

use crate::AppState;
use crate::error::ServeError;
use crate::metrics::Metrics;

pub const PROCESSED_DIR: &str = "processed";
pub const FAILED_DIR: &str = "failed";

#[derive(Debug, Clone)]
pub struct InboxConfig {
    pub dir: PathBuf,
    /// How often the inbox is listed.
    pub poll: Duration,
    /// How long a file must stay unchanged before it is read.
    pub settle: Duration,
}

/// What happened to one inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed {
        records: u64,
        rejected: u64,
    },
    Failed {
        reason: String,
    },
    /// The lake is busy (another goshawk ingest holds its lock): try again later.
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    size: u64,
    modified: SystemTime,
}

/// Files in the inbox (not in sub-directories, not hidden, not `.tmp`/`.part`/`.partial`) with
/// their size and modification time.
fn list(dir: &Path) -> Result<Vec<(PathBuf, Look)>, ServeError> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| ServeError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ServeError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || [".tmp", ".part", ".partial"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let Ok(modified) = meta.modified() else {
            continue;
        };
        files.push((
            entry.path(),
            Look {
                size: meta.len(),
                modified,
            },
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Polls the inbox until `stop` turns true. An ingest that has begun is finished before this
/// returns.
pub async fn watch(state: Arc<AppState>, config: InboxConfig, mut stop: watch::Receiver<bool>) {
    let mut previous: HashMap<PathBuf, Look> = HashMap::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let files = match list(&config.dir) {
            Ok(files) => files,
            Err(err) => {
                eprintln!("goshawk serve: inbox: {err}");
                Vec::new()
            }
        };
        let now = SystemTime::now();
        let mut current = HashMap::new();
        let mut ready = Vec::new();
        for (path, look) in files {
            let unchanged = previous.get(&path) == Some(&look);
            let settled = now
                .duration_since(look.modified)
                .is_ok_and(|age| age >= config.settle);
            if unchanged && settled {
                ready.push(path.clone());
            }
            current.insert(path, look);
        }
        if !ready.is_empty() && !*stop.borrow() {
            let outcomes = ingest_files(&state, &config.dir, &ready).await;
            if outcomes
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Processed { .. }))
            {
                compact_small_files(&state).await;
            }
            for (path, outcome) in outcomes {
                match outcome {
                    Outcome::Retry => {}
                    Outcome::Processed { records, rejected } => {
                        current.remove(&path);
                        eprintln!(
                            "goshawk serve: inbox: {} ingested: {records} record(s), {rejected} \
                             rejected",
                            path.display()
                        );
                    }
                    Outcome::Failed { reason } => {
                        current.remove(&path);
                        eprintln!("goshawk serve: inbox: {} failed: {reason}", path.display());
                    }
                }
            }
        }
        previous = current;
        tokio::select! {
            () = tokio::time::sleep(config.poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Ingests complete files in one run of the ingester (its workers read them in parallel) and
/// moves each out of the inbox. When the run as a whole fails, each file is tried alone, so one
/// file cannot send the others to `failed/`.
pub async fn ingest_files(
    state: &Arc<AppState>,
    inbox: &Path,
    paths: &[PathBuf],
) -> Vec<(PathBuf, Outcome)> {
    let outcomes = match run_ingest(state, paths.to_vec()).await {
        Ok(outcomes) => outcomes,
        Err(Outcome::Retry) => return Vec::new(),
        Err(failure) if paths.len() == 1 => vec![(paths[0].clone(), failure)],
        Err(_) => {
            let mut outcomes = Vec::new();
            for path in paths {
                let outcome = match run_ingest(state, vec![path.clone()]).await {
                    Ok(mut one) => one.pop().map_or(Outcome::Retry, |(_, o)| o),
                    Err(failure) => failure,
                };
                outcomes.push((path.clone(), outcome));
            }
            outcomes
        }
    };
    for (path, outcome) in &outcomes {
        let moved = match outcome {
            Outcome::Processed { .. } => {
                Metrics::add(&state.metrics.files_processed, 1);
                move_to(inbox, PROCESSED_DIR, path, None)
            }
            Outcome::Failed { reason } => {
                Metrics::add(&state.metrics.files_failed, 1);
                move_to(inbox, FAILED_DIR, path, Some(reason))
            }
            Outcome::Retry => Ok(()),
        };
        if let Err(err) = moved {
            eprintln!(
                "goshawk serve: inbox: cannot move {}: {err}",
                path.display()
            );
        }
    }
    outcomes
}

/// A day partition is compacted once it holds this many small files: each inbox file adds a
/// file to every day it touches, and thousands of small files make every query slow.
pub const COMPACT_MIN_FILES: usize = 16;

/// Merges the small files of day partitions that have [`COMPACT_MIN_FILES`] or more. Readers
/// are held off while it runs (see [`AppState::lake_readers`]); a failure is logged and leaves
/// the lake as it was.
pub async fn compact_small_files(state: &Arc<AppState>) {
    let _writing = state.lake_readers.write().await;
    let lake = state.lake_dir.clone();
    let result = tokio::task::spawn_blocking(move || {
        goshawk_ingest::compact(
            &lake,
            &goshawk_ingest::CompactOptions {
                min_files: COMPACT_MIN_FILES,
                ..goshawk_ingest::CompactOptions::default()
            },
        )
    })
    .await;
    match result {
        Ok(Ok(summary)) if summary.partitions.is_empty() => return,
        Ok(Ok(summary)) => eprintln!(
            "goshawk serve: compacted {} partition(s): {} files into {}",
            summary.partitions.len(),
            summary.files_before,
            summary.files_after
        ),
        Ok(Err(IngestError::Locked { .. })) => return,
        Ok(Err(err)) => eprintln!("goshawk serve: compaction failed: {err}"),
        Err(join) => eprintln!("goshawk serve: compaction stopped unexpectedly: {join}"),
    }
    if let Err(err) = state.refresh_catalog() {
        eprintln!("goshawk serve: cannot reopen the lake after a compaction: {err}");
    }
}

/// One ingest run on a blocking thread; per-file outcomes, or why the whole run failed.
async fn run_ingest(
    state: &Arc<AppState>,
    paths: Vec<PathBuf>,
) -> Result<Vec<(PathBuf, Outcome)>, Outcome> {
    let lake = state.lake_dir.clone();
    let inputs = paths.clone();
    let result = tokio::task::spawn_blocking(move || {
        goshawk_ingest::ingest(
            &lake,
            &inputs,
            &IngestOptions::default(),
            &Progress::default(),
        )
    })
    .await;
    let summary = match result {
        Err(join) => {
            return Err(Outcome::Failed {
                reason: format!("the ingest stopped unexpectedly: {join}"),
            });
        }
        Ok(Err(IngestError::Locked { .. })) => return Err(Outcome::Retry),
        Ok(Err(err)) => {
            return Err(Outcome::Failed {
                reason: err.to_string(),
            });
        }
        Ok(Ok(summary)) => summary,
    };
    Metrics::add(&state.metrics.records_ingested, summary.ingested);
    Metrics::add(&state.metrics.records_rejected, summary.rejected);
    if let Err(err) = state.refresh_catalog() {
        eprintln!("goshawk serve: cannot reopen the lake after an ingest: {err}");
    }
    let mut outcomes = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let outcome = match summary.sources.iter().find(|s| s.path == shown) {
            Some(source)
                if matches!(
                    source.status,
                    SourceStatus::Ingested | SourceStatus::Duplicate
                ) =>
            {
                Outcome::Processed {
                    records: source.ingested_total(),
                    rejected: source.rejected,
                }
            }
            Some(source) => Outcome::Failed {
                reason: format!(
                    "{}: {} ({} record(s) ingested, {} rejected{})",
                    status_name(source.status),
                    source.error.as_deref().unwrap_or("no further detail"),
                    source.ingested_total(),
                    source.rejected,
                    source
                        .rejects_file
                        .as_deref()
                        .map(|f| format!("; rejects in {f}"))
                        .unwrap_or_default()
                ),
            },
            None => Outcome::Failed {
                reason: "the ingest reported no result for this file".into(),
            },
        };
        outcomes.push((path, outcome));
    }
    Ok(outcomes)
}

fn status_name(status: SourceStatus) -> &'static str {
    match status {
        SourceStatus::Ingested => "ingested",
        SourceStatus::Duplicate => "duplicate",
        SourceStatus::Unreadable => "unreadable",
        SourceStatus::Partial => "read part way",
    }
}

/// Moves `path` into `inbox/sub/`, under a new name when one of that name is already there.
fn move_to(inbox: &Path, sub: &str, path: &Path, reason: Option<&str>) -> Result<(), ServeError> {
    let dir = inbox.join(sub);
    fs::create_dir_all(&dir).map_err(|e| ServeError::io(&dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".into());
    let mut target = dir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{n}-{name}"));
        n += 1;
    }
    if let Some(reason) = reason {
        let mut reason_name = target.as_os_str().to_owned();
        reason_name.push(".reason.txt");
        let reason_path = PathBuf::from(reason_name);
        fs::write(&reason_path, format!("{reason}\n"))
            .map_err(|e| ServeError::io(&reason_path, e))?;
    }
    fs::rename(path, &target).map_err(|e| ServeError::io(path, e))
}
