//! The ingest run: expands the inputs, skips sources already in the manifest, reads each new
//! source as a stream of records, maps them, and writes the lake.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::decode;
use crate::envelope;
use crate::error::{IngestError, Result};
use crate::jsonref::JsonRef;
use crate::lake::{self, CommitEntry, ManifestEntry, SOURCE_ID_LEN};
use crate::map::{self, Shape};
use crate::rejects::RejectsWriter;
use crate::row::{Row, RowBuilder, TableIndex, Tables};
use crate::scan::{JsonScanner, ScanItem};
use crate::sink::{LakeWriter, MAX_FILE_ROWS, SinkPushError, WorkerSink};

/// Environment variable (test instrumentation): commit after every source and sleep this many
/// milliseconds after each commit, so that a test can kill the process between commits.
pub const PAUSE_ENV: &str = "GOSHAWK_INGEST_PAUSE_MS";

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// `--table`: the table for records whose content does not name one.
    pub table: Option<String>,
    /// A single record larger than this is rejected (its first bytes are kept in the rejects).
    pub max_record_bytes: usize,
    /// How much raw text of a rejected record is kept.
    pub max_reject_raw_bytes: usize,
    /// Rows a worker collects from its source before the largest table-and-day chunk is handed
    /// to the lake writer.
    pub max_buffered_bytes: usize,
    /// Encoded row groups held in memory for all open data files together before the largest
    /// is written out early.
    pub max_pending_bytes: usize,
    /// Rows after which a data file is closed and a new one started.
    pub max_file_rows: usize,
    /// Input bytes after which the run commits what it has (closes its files and records the
    /// finished sources), so that a crash loses at most about this much work.
    pub commit_bytes: u64,
    /// Sources ingested in parallel.
    pub threads: usize,
    pub pause_after_source: Option<Duration>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            table: None,
            max_record_bytes: 32 << 20,
            max_reject_raw_bytes: 64 << 10,
            max_buffered_bytes: 32 << 20,
            max_pending_bytes: 256 << 20,
            max_file_rows: MAX_FILE_ROWS,
            commit_bytes: 1 << 30,
            // Data files are shared by all sources and synced only at commits, so a worker per
            // core keeps the CPU busy.
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pause_after_source: std::env::var(PAUSE_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis),
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes_total: AtomicU64,
    pub bytes_read: Arc<AtomicU64>,
    pub records: AtomicU64,
    pub sources_done: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Every record is in the lake or in the rejects.
    Ingested,
    /// The same content is already in the lake; nothing was added.
    Duplicate,
    /// The file could not be read at all.
    Unreadable,
    /// Reading stopped part way (e.g. a corrupt gzip stream); what came before is ingested and
    /// the failure is in the rejects.
    Partial,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceReport {
    pub path: String,
    pub status: SourceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub gzip: bool,
    pub bytes: u64,
    pub ingested: BTreeMap<String, u64>,
    pub rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceReport {
    fn new(path: &Path) -> Self {
        SourceReport {
            path: path.display().to_string(),
            status: SourceStatus::Ingested,
            blake3: None,
            format: None,
            gzip: false,
            bytes: 0,
            ingested: BTreeMap::new(),
            rejected: 0,
            rejects_file: None,
            error: None,
        }
    }

    pub fn ingested_total(&self) -> u64 {
        self.ingested.values().sum()
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableCounts {
    pub ingested: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestSummary {
    pub lake: String,
    pub sources: Vec<SourceReport>,
    pub tables: BTreeMap<String, TableCounts>,
    pub ingested: u64,
    pub rejected: u64,
    pub duplicate_sources: u64,
    pub unreadable_sources: u64,
    /// Files a `.goshawkignore` excluded (set by the caller that expanded the inputs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_inputs: Vec<String>,
    /// Files of an earlier ingest that did not finish, deleted before this run.
    pub orphans_removed: Vec<String>,
}

impl IngestSummary {
    /// True when every record of every input is in the lake.
    pub fn is_complete(&self) -> bool {
        self.rejected == 0
            && self.unreadable_sources == 0
            && self
                .sources
                .iter()
                .all(|s| s.status != SourceStatus::Partial)
    }
}

/// Expands files, directories (recursively) and glob patterns into a sorted list of files.
/// A pattern that matches nothing is an unreadable input, reported like a missing file. In a
/// directory, files that a [`IGNORE_FILE`] matches are returned apart, as ignored.
pub fn expand_inputs(inputs: &[String]) -> Result<ExpandedInputs> {
    let mut expanded = ExpandedInputs::default();
    for input in inputs {
        let path = Path::new(input);
        let has_glob = input.contains(['*', '?', '[']);
        if path.is_dir() {
            walk_directory(path, &mut expanded)?;
        } else if has_glob && !path.exists() {
            let matches = glob::glob(input).map_err(|e| IngestError::Pattern {
                pattern: input.clone(),
                message: e.to_string(),
            })?;
            let mut found = Vec::new();
            for entry in matches {
                match entry {
                    Ok(entry) if entry.is_file() => found.push(entry),
                    Ok(_) => {}
                    Err(err) => found.push(err.path().to_path_buf()),
                }
            }
            if found.is_empty() {
                // Kept so that the summary reports the pattern as unreadable.
                expanded.files.push(path.to_path_buf());
            }
            found.sort();
            expanded.files.extend(found);
        } else {
            expanded.files.push(path.to_path_buf());
        }
    }
    Ok(expanded)
}

/// The files to ingest, and the files a [`IGNORE_FILE`] excluded (reported, never silently
/// dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpandedInputs {
    pub files: Vec<PathBuf>,
    pub ignored: Vec<PathBuf>,
}

/// A file of glob patterns, one per line (`#` starts a comment), in a directory that
/// `goshawk ingest` walks: files below that directory whose path relative to it, or whose name,
/// matches a pattern are not ingested. `goshawk generate` writes one for its answer-key files.
pub const IGNORE_FILE: &str = ".goshawkignore";

fn walk_directory(root: &Path, expanded: &mut ExpandedInputs) -> Result<()> {
    // Directories come before their contents in a walk, so their patterns are known in time.
    let mut patterns: Vec<(PathBuf, Vec<glob::Pattern>)> = Vec::new();
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            // An entry that cannot be listed is kept as an input, so that it is reported as
            // unreadable with the operating system's reason instead of stopping the run.
            Err(err) => {
                found.push(
                    err.path()
                        .map_or_else(|| root.to_path_buf(), Path::to_path_buf),
                );
                continue;
            }
        };
        if entry.file_type().is_dir() {
            let ignore_file = entry.path().join(IGNORE_FILE);
            if ignore_file.is_file() {
                patterns.push((entry.path().to_path_buf(), read_ignore_file(&ignore_file)?));
            }
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.into_path();
        let ignored = path.file_name().is_some_and(|n| n == IGNORE_FILE)
            || patterns.iter().any(|(dir, dir_patterns)| {
                path.strip_prefix(dir).is_ok_and(|relative| {
                    let name = Path::new(relative.file_name().unwrap_or_default());
                    dir_patterns
                        .iter()
                        .any(|p| p.matches_path(relative) || p.matches_path(name))
                })
            });
        if ignored {
            expanded.ignored.push(path);
        } else {
            found.push(path);
        }
    }
    expanded.files.extend(found);
    Ok(())
}

fn read_ignore_file(path: &Path) -> Result<Vec<glob::Pattern>> {
    let text = std::fs::read_to_string(path).map_err(|e| IngestError::io(path, e))?;
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            glob::Pattern::new(line).map_err(|e| IngestError::Pattern {
                pattern: format!("{line} (in {})", path.display()),
                message: e.to_string(),
            })
        })
        .collect()
}

struct Shared<'a> {
    lake: &'a Path,
    writer: LakeWriter,
    /// One per worker; a commit hands their rows to `writer` first.
    sinks: Vec<Mutex<WorkerSink>>,
    /// Held shared while a source is read and exclusively while a commit closes the files, so
    /// that a commit's files hold only rows of sources it records.
    gate: RwLock<()>,
    /// Sources finished since the last commit, and their input bytes.
    finished: Mutex<(Vec<ManifestEntry>, u64)>,
    options: &'a IngestOptions,
    tables: &'a Tables,
    forced: Option<&'a TableIndex>,
    progress: &'a Progress,
    known: Mutex<HashSet<String>>,
    abort: AtomicBool,
}

/// Ingests `inputs` into the lake at `lake`, creating it if needed.
pub fn ingest(
    lake: &Path,
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &Progress,
) -> Result<IngestSummary> {
    let tables = Tables::new();
    let forced = match &options.table {
        Some(name) => Some(
            tables
                .get(name)
                .ok_or_else(|| IngestError::UnknownTable(name.clone()))?,
        ),
        None => None,
    };
    let _lock = lake::lock_lake(lake)?;
    let log = lake::read_log(lake)?;
    let orphans = lake::remove_orphans(lake, &log)?;
    let known_hashes: HashSet<String> = log.sources.into_iter().map(|e| e.blake3).collect();

    // `goshawk ingest . --data ./lake` must not read the lake's own files as input.
    let lake_root = std::fs::canonicalize(lake).map_err(|e| IngestError::io(lake, e))?;
    let inputs: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| std::fs::canonicalize(p).map_or(true, |c| !c.starts_with(&lake_root)))
        .cloned()
        .collect();
    let inputs = inputs.as_slice();
    let total: u64 = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    progress.bytes_total.store(total, Ordering::Relaxed);

    let threads = options.threads.clamp(1, inputs.len().max(1));
    let shared = Shared {
        lake,
        writer: LakeWriter::new(lake, options.max_pending_bytes, options.max_file_rows),
        sinks: (0..threads)
            .map(|_| Mutex::new(WorkerSink::new(options.max_buffered_bytes)))
            .collect(),
        gate: RwLock::new(()),
        finished: Mutex::new((Vec::new(), 0)),
        options,
        tables: &tables,
        forced,
        progress,
        known: Mutex::new(known_hashes),
        abort: AtomicBool::new(false),
    };
    let next = AtomicUsize::new(0);
    let reports: Vec<Mutex<Option<SourceReport>>> =
        inputs.iter().map(|_| Mutex::new(None)).collect();
    let fatal: Mutex<Option<IngestError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let (shared, next, reports, fatal) = (&shared, &next, &reports, &fatal);
            scope.spawn(move || {
                let fail = |err: IngestError| {
                    shared.abort.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = fatal.lock() {
                        slot.get_or_insert(err);
                    }
                };
                loop {
                    if shared.abort.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = {
                        let Ok(_reading) = shared.gate.read() else {
                            fail(poisoned(lake));
                            break;
                        };
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = inputs.get(index) else {
                            break;
                        };
                        let Ok(mut sink) = shared.sinks[worker].lock() else {
                            fail(poisoned(lake));
                            break;
                        };
                        let result = ingest_source(shared, path, &mut sink);
                        if result.is_err() {
                            // Set before the gate is released, so that no commit records this
                            // worker's rows of the failed source.
                            shared.abort.store(true, Ordering::Relaxed);
                        }
                        result.map(|report| (index, report))
                    };
                    match result.and_then(|(index, report)| {
                        let due = shared.commit_due()?;
                        Ok((index, report, due))
                    }) {
                        Ok((index, report, due)) => {
                            if let Ok(mut slot) = reports[index].lock() {
                                *slot = Some(report);
                            }
                            progress.sources_done.fetch_add(1, Ordering::Relaxed);
                            if due && let Err(err) = shared.commit() {
                                fail(err);
                                break;
                            }
                        }
                        Err(err) => {
                            fail(err);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(err) = fatal.into_inner().ok().flatten() {
        return Err(err);
    }
    shared.commit()?;

    let mut summary = IngestSummary {
        lake: lake.display().to_string(),
        orphans_removed: orphans.iter().map(|p| p.display().to_string()).collect(),
        ..IngestSummary::default()
    };
    for report in reports
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
    {
        for (table, rows) in &report.ingested {
            summary.tables.entry(table.clone()).or_default().ingested += rows;
            summary.ingested += rows;
        }
        summary.rejected += report.rejected;
        match report.status {
            SourceStatus::Duplicate => summary.duplicate_sources += 1,
            SourceStatus::Unreadable => summary.unreadable_sources += 1,
            _ => {}
        }
        summary.sources.push(report);
    }
    Ok(summary)
}

fn poisoned(lake: &Path) -> IngestError {
    IngestError::Lake {
        path: lake.to_path_buf(),
        message: "an ingest worker panicked".to_string(),
    }
}

impl Shared<'_> {
    fn commit_due(&self) -> Result<bool> {
        let finished = self.finished.lock().map_err(|_| poisoned(self.lake))?;
        Ok(!finished.0.is_empty()
            && (self.options.pause_after_source.is_some()
                || finished.1 >= self.options.commit_bytes))
    }

    /// Closes the data files and records them with the sources finished since the last commit
    /// in one manifest line: the sources' rows become visible together, or (after a crash
    /// before the line is complete) not at all.
    fn commit(&self) -> Result<()> {
        let _exclusive = self.gate.write().map_err(|_| poisoned(self.lake))?;
        if self.abort.load(Ordering::Relaxed) {
            // A worker failed part way through a source: its rows may be in the open files.
            return Ok(());
        }
        // Every worker's chunks are handed over at once, one thread per sink: the other
        // workers wait for the commit, and a sink's rows are encoded on the way.
        std::thread::scope(|scope| {
            let flushes: Vec<_> = self
                .sinks
                .iter()
                .map(|sink| {
                    scope.spawn(move || {
                        sink.lock()
                            .map_err(|_| poisoned(self.lake))?
                            .flush(&self.writer)
                    })
                })
                .collect();
            flushes
                .into_iter()
                .try_for_each(|flush| flush.join().map_err(|_| poisoned(self.lake))?)
        })?;
        let (commit, files) = self.writer.finish_commit()?;
        let sources = {
            let mut finished = self.finished.lock().map_err(|_| poisoned(self.lake))?;
            finished.1 = 0;
            std::mem::take(&mut finished.0)
        };
        if sources.is_empty() && files.is_empty() {
            return Ok(());
        }
        lake::append_commit(
            self.lake,
            &CommitEntry {
                commit,
                committed_at: chrono::Utc::now().to_rfc3339(),
                sources,
                files,
                replaces: Vec::new(),
            },
        )?;
        if let Some(pause) = self.options.pause_after_source {
            std::thread::sleep(pause);
        }
        Ok(())
    }
}

fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), total))
}

/// Releases a claimed hash if the source does not finish, so a later source with the same
/// content in this run is not wrongly reported as a duplicate.
struct Claim<'a> {
    known: &'a Mutex<HashSet<String>>,
    hash: String,
    committed: bool,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.committed
            && let Ok(mut known) = self.known.lock()
        {
            known.remove(&self.hash);
        }
    }
}

/// Sources up to this size are read into memory at once: hashed and parsed from one buffer
/// instead of read twice, and an envelope among them takes the fast path (`envelope.rs`).
const WHOLE_FILE_BYTES: u64 = 8 << 20;

/// The source's content hash and size, and its content when it is small enough to keep.
fn read_source(path: &Path) -> std::io::Result<(String, u64, Option<Vec<u8>>)> {
    if std::fs::metadata(path)?.len() <= WHOLE_FILE_BYTES {
        let content = std::fs::read(path)?;
        let hash = blake3::hash(&content).to_hex().to_string();
        return Ok((hash, content.len() as u64, Some(content)));
    }
    let (hash, bytes) = hash_file(path)?;
    Ok((hash, bytes, None))
}

fn ingest_source(shared: &Shared, path: &Path, sink: &mut WorkerSink) -> Result<SourceReport> {
    let mut report = SourceReport::new(path);
    let (hash, bytes, content) = match read_source(path) {
        Ok(found) => found,
        Err(err) => {
            report.status = SourceStatus::Unreadable;
            report.error = Some(format!("{}: {err}", path.display()));
            return Ok(report);
        }
    };
    report.blake3 = Some(hash.clone());
    report.bytes = bytes;
    {
        let mut known = shared.known.lock().map_err(|_| IngestError::Lake {
            path: shared.lake.to_path_buf(),
            message: "an ingest worker panicked".to_string(),
        })?;
        if !known.insert(hash.clone()) {
            report.status = SourceStatus::Duplicate;
            shared
                .progress
                .bytes_read
                .fetch_add(bytes, Ordering::Relaxed);
            return Ok(report);
        }
    }
    let mut claim = Claim {
        known: &shared.known,
        hash: hash.clone(),
        committed: false,
    };
    let source_id = &hash[..SOURCE_ID_LEN];
    let source_name = path.display().to_string();
    let mut job = SourceJob {
        shared,
        source: &source_name,
        sink,
        rejects: RejectsWriter::new(shared.lake, source_id, shared.options.max_reject_raw_bytes),
        rows: BTreeMap::new(),
        shapes: BTreeMap::new(),
        uncounted_records: 0,
        already_stored: AlreadyStored::default(),
    };
    let read_error = match content {
        Some(content) if job.read_envelope(&content)? => {
            report.format = Some("json".to_string());
            None
        }
        content => {
            let opened = match content {
                Some(content) => decode::open_bytes(content, shared.progress.bytes_read.clone()),
                None => decode::open_text(path, shared.progress.bytes_read.clone()),
            };
            let opened = match opened {
                Ok(opened) => opened,
                Err(err) => {
                    report.status = SourceStatus::Unreadable;
                    report.error = Some(format!("{}: {err}", path.display()));
                    return Ok(report);
                }
            };
            report.gzip = opened.container.gzip;
            job.read(opened.reader, &opened.head, &mut report)?
        }
    };
    job.flush_record_count();
    if let Some((offset, err)) = read_error {
        report.status = SourceStatus::Partial;
        let reason = format!("read error after byte {offset} of the decoded text: {err}");
        job.rejects
            .reject(&source_name, 0, offset, &reason, &[], 0)?;
        report.error = Some(format!("{}: {reason}", path.display()));
    }
    if report.format.as_deref() != Some("csv") && !job.shapes.is_empty() {
        let shapes: Vec<String> = job
            .shapes
            .keys()
            .map(|s| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        report.format = Some(format!(
            "{} ({})",
            report.format.take().unwrap_or_default(),
            shapes.join(", ")
        ));
    }
    report.rejected = job.rejects.count;
    report.rejects_file = job.rejects.finish()?;
    report.ingested = job
        .rows
        .iter()
        .map(|(table, rows)| (table.to_string(), *rows))
        .collect();
    let entry = ManifestEntry {
        blake3: hash,
        path: source_name.clone(),
        bytes,
        ingested_at: chrono::Utc::now().to_rfc3339(),
        rows: report.ingested.clone(),
        rejected: report.rejected,
        files: Vec::new(),
        rejects_file: report.rejects_file.clone(),
    };
    {
        let mut finished = shared.finished.lock().map_err(|_| poisoned(shared.lake))?;
        finished.0.push(entry);
        finished.1 += bytes;
    }
    // The source is part of the next commit; if the run dies first, none of it is in the lake.
    claim.committed = true;
    Ok(report)
}

struct SourceJob<'a> {
    shared: &'a Shared<'a>,
    source: &'a str,
    sink: &'a mut WorkerSink,
    rejects: RejectsWriter,
    rows: BTreeMap<&'static str, u64>,
    shapes: BTreeMap<Shape, u64>,
    /// Records read but not yet added to the shared progress count.
    uncounted_records: u64,
    /// The records the envelope reader stored before the source turned out not to be one clean
    /// envelope.
    already_stored: AlreadyStored,
}

#[derive(Debug, Default, Clone, Copy)]
struct AlreadyStored {
    records: u64,
    /// Where the last of them starts: the streaming reader checks that it agrees.
    last_offset: u64,
}

/// Records a worker reads before adding them to the progress count: an atomic add per record,
/// on a counter both workers write, cost more than mapping a small record.
const PROGRESS_RECORDS: u64 = 1024;

type ReadFailure = Option<(u64, std::io::Error)>;

impl SourceJob<'_> {
    fn count_record(&mut self) {
        self.uncounted_records += 1;
        if self.uncounted_records >= PROGRESS_RECORDS {
            self.flush_record_count();
        }
    }

    fn flush_record_count(&mut self) {
        self.shared
            .progress
            .records
            .fetch_add(self.uncounted_records, Ordering::Relaxed);
        self.uncounted_records = 0;
    }

    /// Reads every record; returns the I/O error that ended reading early, if any.
    fn read(
        &mut self,
        reader: Box<dyn BufRead + Send>,
        head: &[u8],
        report: &mut SourceReport,
    ) -> Result<ReadFailure> {
        let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
        match first {
            None if head.is_empty() => {
                report.format = Some("empty".to_string());
                Ok(None)
            }
            Some(b'{' | b'[') | None => {
                report.format = Some("json".to_string());
                self.read_json(reader)
            }
            Some(_) => {
                if first_line_has_comma(head) {
                    report.format = Some("csv".to_string());
                    self.read_csv(reader)
                } else {
                    report.format = Some("unrecognised text".to_string());
                    self.read_json(reader)
                }
            }
        }
    }

    fn reject(
        &mut self,
        line: u64,
        offset: u64,
        reason: &str,
        raw: &[u8],
        raw_len: u64,
    ) -> Result<()> {
        self.rejects
            .reject(self.source, line, offset, reason, raw, raw_len)
    }

    /// The fast path: a source held in memory that is one envelope of records, every one of
    /// them valid JSON, stored record by record as it is parsed. Returns whether the whole source
    /// was read this way. When it was not (not an envelope at all, or a flaw part way), the
    /// streaming reader reads the source and skips the records already stored
    /// ([`Self::already_stored`]): they are the first records it finds.
    fn read_envelope(&mut self, content: &[u8]) -> Result<bool> {
        if !decode::is_plain_text(content) {
            return Ok(false);
        }
        let mut stored = AlreadyStored::default();
        let whole = envelope::split(
            content,
            self.shared.options.max_record_bytes,
            |element, value| {
                stored.records += 1;
                stored.last_offset = element.offset;
                self.json_value(element.line, element.offset, element.bytes, value)
            },
        )?;
        if whole {
            self.shared
                .progress
                .bytes_read
                .fetch_add(content.len() as u64, Ordering::Relaxed);
        } else {
            self.already_stored = stored;
        }
        Ok(whole)
    }

    fn read_json(&mut self, reader: Box<dyn BufRead + Send>) -> Result<ReadFailure> {
        let options = self.shared.options;
        let mut scanner = JsonScanner::new(
            reader,
            options.max_record_bytes,
            options.max_reject_raw_bytes,
        );
        let mut last_offset = 0;
        loop {
            let item = match scanner.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(None),
                Err(err) => return Ok(Some((last_offset, err))),
            };
            match item {
                ScanItem::Malformed {
                    line,
                    offset,
                    raw,
                    raw_len,
                    reason,
                } => {
                    last_offset = offset + raw_len;
                    self.count_record();
                    self.reject(line, offset, &reason, &raw, raw_len)?;
                }
                ScanItem::Record {
                    line,
                    offset,
                    bytes,
                } => {
                    last_offset = offset + bytes.len() as u64;
                    if self.already_stored.records > 0 {
                        self.already_stored.records -= 1;
                        if self.already_stored.records == 0
                            && offset != self.already_stored.last_offset
                        {
                            return Err(IngestError::Lake {
                                path: self.shared.lake.to_path_buf(),
                                message: format!(
                                    "internal error: the envelope reader and the scanner disagree on the records of {} (byte {offset} vs {})",
                                    self.source, self.already_stored.last_offset
                                ),
                            });
                        }
                        continue;
                    }
                    self.json_record(line, offset, &bytes)?;
                }
            }
        }
    }

    fn json_record(&mut self, line: u64, offset: u64, bytes: &[u8]) -> Result<()> {
        let value = match JsonRef::parse(bytes) {
            Ok(value) => value,
            Err(err) => {
                self.count_record();
                let reason = format!("invalid JSON: {err}");
                let err_line = line + err.line().saturating_sub(1) as u64;
                return self.reject(
                    err_line.max(line),
                    offset,
                    &reason,
                    bytes,
                    bytes.len() as u64,
                );
            }
        };
        self.json_value(line, offset, bytes, value)
    }

    /// A parsed record (or an envelope of records): `bytes` is its text.
    fn json_value(&mut self, line: u64, offset: u64, bytes: &[u8], value: JsonRef) -> Result<()> {
        match (nested_envelope(&value), value) {
            (Some(key), JsonRef::Object(mut object)) => {
                if let Some(JsonRef::Array(items)) = object.remove(key) {
                    for item in items {
                        self.map_value(line, offset, item, None)?;
                    }
                }
                Ok(())
            }
            (_, value) => self.map_value(line, offset, value, Some(bytes)),
        }
    }

    fn map_value(
        &mut self,
        line: u64,
        offset: u64,
        value: JsonRef,
        raw: Option<&[u8]>,
    ) -> Result<()> {
        self.count_record();
        // Records cut from an envelope inside an array have no raw bytes of their own.
        let serialised = raw.is_none().then(|| value.to_json_text().into_bytes());
        let raw = raw.or(serialised.as_deref()).unwrap_or_default();
        match map::map_record_ref(value, self.shared.tables, self.shared.forced) {
            Ok(mapped) => {
                *self.shapes.entry(mapped.shape).or_default() += 1;
                self.push(line, offset, mapped.table, mapped.row, raw)
            }
            Err(reason) => self.reject(line, offset, &reason, raw, raw.len() as u64),
        }
    }

    fn push(
        &mut self,
        line: u64,
        offset: u64,
        table: &TableIndex,
        row: Row,
        raw: &[u8],
    ) -> Result<()> {
        match self.sink.push(&self.shared.writer, table, row) {
            Ok(()) => {
                *self.rows.entry(table.name()).or_default() += 1;
                Ok(())
            }
            Err(SinkPushError::Row(reason)) => {
                self.reject(line, offset, &reason, raw, raw.len() as u64)
            }
            Err(SinkPushError::Fatal(err)) => Err(err),
        }
    }

    fn read_csv(&mut self, reader: Box<dyn BufRead + Send>) -> Result<ReadFailure> {
        // Splitting on \n alone keeps csv's line numbers right for CRLF files; the \r it leaves
        // on the last cell is removed by `cells`.
        let mut csv = csv::ReaderBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .has_headers(false)
            .from_reader(reader);
        let mut record = csv::ByteRecord::new();
        let header = match csv.read_byte_record(&mut record) {
            Ok(true) => CsvHeader::new(&record, self.shared.tables),
            Ok(false) => return Ok(None),
            Err(err) => return Ok(Some((0, csv_io_error(err)))),
        };
        loop {
            let before = csv.position().clone();
            let (mut line, mut offset) = (before.line(), before.byte());
            match csv.read_byte_record(&mut record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    if let Some(start) = record.position() {
                        (line, offset) = (start.line(), start.byte());
                    }
                    self.count_record();
                    let raw = csv_raw(&record);
                    match header.map_row(&record, self.shared.tables, self.shared.forced) {
                        Ok((table, row)) => {
                            *self.shapes.entry(Shape::LogAnalyticsRow).or_default() += 1;
                            self.push(line, offset, table, row, &raw)?;
                        }
                        Err(reason) => {
                            self.reject(line, offset, &reason, &raw, raw.len() as u64)?
                        }
                    }
                }
                Err(err) => {
                    if let csv::ErrorKind::Io(_) = err.kind() {
                        return Ok(Some((offset, csv_io_error(err))));
                    }
                    self.count_record();
                    let reason = format!("unreadable CSV row: {err}");
                    self.reject(line, offset, &reason, &[], 0)?;
                }
            }
        }
    }
}

/// The member holding the records when a value is itself an envelope (an array of Event Hub
/// messages, say): `records` or `value`, a non-empty array of objects.
fn nested_envelope(value: &JsonRef) -> Option<&'static str> {
    let JsonRef::Object(object) = value else {
        return None;
    };
    ["records", "value"]
        .into_iter()
        .find(|key| match object.get(key) {
            Some(JsonRef::Array(items)) => {
                !items.is_empty() && items.iter().all(|i| matches!(i, JsonRef::Object(_)))
            }
            _ => false,
        })
}

fn csv_io_error(err: csv::Error) -> std::io::Error {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}

/// The row's cells as a JSON array of strings: faithful to the values, unlike a re-quoted line.
fn csv_raw(record: &csv::ByteRecord) -> Vec<u8> {
    let cells: Vec<Value> = cells(record)
        .map(|cell| Value::String(String::from_utf8_lossy(cell).into_owned()))
        .collect();
    Value::Array(cells).to_string().into_bytes()
}

/// The cells of a row, without the \r of a CRLF line end.
fn cells(record: &csv::ByteRecord) -> impl Iterator<Item = &[u8]> {
    let last = record.len().saturating_sub(1);
    record.iter().enumerate().map(move |(i, cell)| {
        if i == last {
            cell.strip_suffix(b"\r").unwrap_or(cell)
        } else {
            cell
        }
    })
}

/// A CSV export's first line is a header with commas; text without one is not CSV.
fn first_line_has_comma(head: &[u8]) -> bool {
    let first_line = head
        .split(|b| *b == b'\n')
        .find(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or_default();
    first_line.contains(&b',') && !first_line.contains(&0)
}

/// Header of a Log Analytics CSV export: column names with ` [UTC]` suffixes removed, and the
/// `<Col>_dynamic` / `<Col>_string` pairs folded onto `<Col>`.
struct CsvHeader {
    names: Vec<String>,
    table_column: Option<usize>,
    type_column: Option<usize>,
    guessed_table: Option<&'static str>,
}

impl CsvHeader {
    fn new(record: &csv::ByteRecord, tables: &Tables) -> Self {
        let names: Vec<String> = cells(record)
            .map(|cell| {
                let name = String::from_utf8_lossy(cell).trim().to_string();
                match name.rfind(" [") {
                    Some(i) if name.ends_with(']') => name[..i].to_string(),
                    _ => name,
                }
            })
            .collect();
        let table_column = names.iter().position(|n| n == "$table");
        let type_column = names.iter().position(|n| n == "Type");
        CsvHeader {
            guessed_table: guess_table(&names, tables),
            names,
            table_column,
            type_column,
        }
    }

    fn map_row<'t>(
        &self,
        record: &csv::ByteRecord,
        tables: &'t Tables,
        forced: Option<&'t TableIndex>,
    ) -> Result<(&'t TableIndex, Row<'static>), String> {
        let cell = |i: Option<usize>| {
            i.and_then(|i| cells(record).nth(i))
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .filter(|c| !c.is_empty())
        };
        let named = cell(self.table_column).or_else(|| cell(self.type_column));
        let table = match (named, forced) {
            (Some(name), forced) => {
                let name = name.strip_suffix("_CL").unwrap_or(&name).to_string();
                let table = tables.get(&name).ok_or_else(|| {
                    format!("table {name} is not one goshawk stores (AADProvisioningLogs, AzureActivity, SigninLogs, AuditLogs)")
                })?;
                if let Some(forced) = forced.filter(|f| f.name() != table.name()) {
                    return Err(format!("the row names table {} but --table says {}", table.name(), forced.name()));
                }
                table
            }
            (None, Some(forced)) => forced,
            (None, None) => self
                .guessed_table
                .and_then(|name| tables.get(name))
                .ok_or_else(|| "cannot tell which table this CSV export belongs to (no $table or Type column, and the header matches no table); use --table".to_string())?,
        };
        let mut row = RowBuilder::new(table);
        for (i, raw) in cells(record).enumerate() {
            let text = String::from_utf8_lossy(raw);
            let Some(name) = self.names.get(i) else {
                if !text.is_empty() {
                    row.keep_extra(format!("column{}", i + 1), Value::String(text.into_owned()));
                }
                continue;
            };
            if name == "$table" {
                continue;
            }
            let column = table.column_folded(name).or_else(|| {
                name.strip_suffix("_dynamic")
                    .or_else(|| name.strip_suffix("_string"))
                    .and_then(|base| table.column_folded(base))
            });
            match column {
                Some(index) if index != table.extra_column => {
                    // Of a _dynamic/_string pair only one cell is filled; skip the empty twin.
                    if text.trim().is_empty() && row.is_set_at(index) {
                        continue;
                    }
                    row.set_text_at(index, &text)?;
                }
                _ if text.is_empty() => {}
                _ => row.keep_extra(name.clone(), Value::String(text.into_owned())),
            }
        }
        let row = row.finish(&[
            "EventSubmissionTimestamp",
            "CreatedDateTime",
            "ActivityDateTime",
        ])?;
        Ok((table, row))
    }
}

/// The table whose columns cover the most header names, if it covers at least half of them.
fn guess_table(names: &[String], tables: &Tables) -> Option<&'static str> {
    let mut best: Option<(&'static str, usize)> = None;
    let mut tie = false;
    for table in tables.all() {
        let hits = names
            .iter()
            .filter(|n| table.column_folded(n).is_some())
            .count();
        match best {
            Some((_, top)) if hits < top => {}
            Some((_, top)) if hits == top => tie = true,
            _ => {
                best = Some((table.name(), hits));
                tie = false;
            }
        }
    }
    let (name, hits) = best?;
    (!tie && hits >= 3 && hits * 2 >= names.len()).then_some(name)
}
