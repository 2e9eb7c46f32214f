//! The lake on disk and its read API.
//!
//! Layout: `<dir>/<Table>/day=YYYY-MM-DD/<commit-id>-NNNN.parquet`, `<dir>/_manifest.jsonl` (one
//! line per commit: the sources it finished, the data files it wrote and the files it replaced,
//! appended only after all of them are in place), `<dir>/_rejects/<source-id>.jsonl`, and
//! `<dir>/.lock` (held while ingesting or compacting). A data file whose commit id is not in
//! the manifest, or that a later commit replaced, and a rejects file whose source is not in the
//! manifest belong to a run that did not finish; the next run deletes them before starting.
//! Lakes written before commits existed have one line per source and files named after it;
//! they are read the same way (the source id is then the commit id).

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use chrono::{DateTime, NaiveDate, Utc};
use goshawk_types::{TableSchema, ingested_tables, table_schema};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;

use crate::error::{IngestError, Result};
use crate::sink::WrittenFile;

pub const MANIFEST_FILE: &str = "_manifest.jsonl";
pub const REJECTS_DIR: &str = "_rejects";
const LOCK_FILE: &str = ".lock";

/// Characters of the blake3 hex digest that name a source's files (128 bits).
pub const SOURCE_ID_LEN: usize = 32;

/// One manifest line: a source whose records are all in the lake or in its rejects file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// blake3 of the file's bytes as stored (compressed bytes for gzip).
    pub blake3: String,
    pub path: String,
    pub bytes: u64,
    pub ingested_at: String,
    pub rows: BTreeMap<String, u64>,
    pub rejected: u64,
    /// Data files of this source alone (lakes written before commits); a commit lists its
    /// files, shared by its sources, itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<WrittenFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_file: Option<String>,
}

impl ManifestEntry {
    pub fn source_id(&self) -> &str {
        self.blake3.get(..SOURCE_ID_LEN).unwrap_or(&self.blake3)
    }
}

/// One manifest line written by this version: a commit of an ingest run (sources finished and
/// files written) or of a compaction (files written, files they replace).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitEntry {
    /// Names the commit's data files (`<commit>-NNNN.parquet`).
    pub commit: String,
    pub committed_at: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ManifestEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<WrittenFile>,
    /// Data files (paths relative to the lake) whose rows are now in `files`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ManifestLine {
    Commit(CommitEntry),
    Source(ManifestEntry),
}

/// What the manifest says is in the lake.
#[derive(Debug, Clone, Default)]
pub struct ManifestLog {
    /// Every finished source, in commit order.
    pub sources: Vec<ManifestEntry>,
    /// Ids that name committed data files: commit ids, and source ids of pre-commit lakes.
    pub file_ids: HashSet<String>,
    /// Committed data files that a later commit replaced (relative paths).
    pub replaced: HashSet<String>,
}

impl ManifestLog {
    /// The log of a manifest's text (read from a directory or an object store).
    pub fn parse(text: &str) -> ManifestLog {
        let mut log = ManifestLog::default();
        for line in text.lines() {
            log.add_line(line);
        }
        log
    }

    /// Adds one manifest line. A line that does not parse (the last one, cut short by a crash)
    /// is not a commit: its files are not part of the lake.
    fn add_line(&mut self, line: &str) {
        match serde_json::from_str::<ManifestLine>(line) {
            Ok(ManifestLine::Commit(commit)) => {
                self.file_ids.insert(commit.commit);
                self.replaced.extend(commit.replaces);
                self.sources.extend(commit.sources);
            }
            Ok(ManifestLine::Source(entry)) => {
                self.file_ids.insert(entry.source_id().to_string());
                self.sources.push(entry);
            }
            Err(_) => {}
        }
    }

    pub fn source_ids(&self) -> HashSet<String> {
        self.sources
            .iter()
            .map(|e| e.source_id().to_string())
            .collect()
    }

    /// Whether the data file at `relative` (`<Table>/day=.../<name>.parquet`) is part of the
    /// lake.
    pub fn is_live(&self, relative: &str) -> bool {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        let id = name
            .strip_suffix(".parquet")
            .and_then(|stem| stem.split('-').next());
        id.is_some_and(|id| self.file_ids.contains(id)) && !self.replaced.contains(relative)
    }
}

/// Reads the manifest's sources. A last line cut short by a crash is ignored: its commit was
/// not finished, and its files are removed as orphans.
pub fn read_manifest(lake: &Path) -> Result<Vec<ManifestEntry>> {
    Ok(read_log(lake)?.sources)
}

/// Reads the whole manifest: sources, committed file ids and replaced files.
pub fn read_log(lake: &Path) -> Result<ManifestLog> {
    let path = lake.join(MANIFEST_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ManifestLog::default());
        }
        Err(err) => return Err(IngestError::io(&path, err)),
    };
    let mut log = ManifestLog::default();
    for line in BufReader::new(file).lines() {
        log.add_line(&line.map_err(|e| IngestError::io(&path, e))?);
    }
    Ok(log)
}

/// Appends one commit line and makes it durable: from here on its files are in the lake.
pub fn append_commit(lake: &Path, entry: &CommitEntry) -> Result<()> {
    let path = lake.join(MANIFEST_FILE);
    let mut line = serde_json::to_string(entry).map_err(|e| IngestError::Lake {
        path: path.clone(),
        message: format!("cannot serialise manifest entry: {e}"),
    })?;
    line.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| IngestError::io(&path, e))?;
    // A torn line from an earlier crash must not swallow this one.
    let needs_newline =
        file.metadata().map(|m| m.len() > 0).unwrap_or(false) && !ends_with_newline(&path);
    if needs_newline {
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| IngestError::io(&path, e))
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] == b'\n'
}

/// Exclusive use of a lake directory for one ingest; released when dropped.
pub struct LakeLock {
    _file: File,
}

pub fn lock_lake(lake: &Path) -> Result<LakeLock> {
    fs::create_dir_all(lake).map_err(|e| IngestError::io(lake, e))?;
    let path = lake.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| IngestError::io(&path, e))?;
    file.try_lock().map_err(|e| IngestError::Locked {
        path: path.clone(),
        source: match e {
            fs::TryLockError::Error(io) => io,
            fs::TryLockError::WouldBlock => {
                std::io::Error::new(std::io::ErrorKind::WouldBlock, "lock is held")
            }
        },
    })?;
    Ok(LakeLock { _file: file })
}

/// Deletes data files that no commit accounts for or that a commit replaced, rejects files of
/// unfinished sources, and temporary files. Returns the paths removed.
pub fn remove_orphans(lake: &Path, log: &ManifestLog) -> Result<Vec<PathBuf>> {
    let source_ids = log.source_ids();
    let mut removed = Vec::new();
    let mut remove = |path: PathBuf| -> Result<()> {
        fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
        removed.push(path);
        Ok(())
    };
    for table in ingested_tables() {
        let table_dir = lake.join(table.name);
        for day in list_dir(&table_dir)? {
            if !day.is_dir() {
                continue;
            }
            let day_name = file_name(&day);
            for file in list_dir(&day)? {
                let name = file_name(&file);
                let temporary = name.starts_with('.') && name.ends_with(".tmp");
                let dead = name.ends_with(".parquet")
                    && !log.is_live(&format!("{}/{day_name}/{name}", table.name));
                if temporary || dead {
                    remove(file)?;
                }
            }
        }
    }
    for file in list_dir(&lake.join(REJECTS_DIR))? {
        let name = file_name(&file);
        if name.starts_with('.') && name.ends_with(".tmp") {
            remove(file)?;
        } else if let Some(id) = name.strip_suffix(".jsonl")
            && !source_ids.contains(id)
        {
            remove(file)?;
        }
    }
    Ok(removed)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(IngestError::io(dir, err)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| IngestError::io(dir, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

/// A goshawk lake, for reading. Only files of sources recorded in the manifest are listed: a
/// file left by an ingest that was killed is invisible until the next ingest removes it.
#[derive(Debug, Clone)]
pub struct Lake {
    dir: PathBuf,
    log: ManifestLog,
}

/// A Parquet file of a table with the day partition it lies in (all its rows have a
/// TimeGenerated on that UTC day), so that a reader can prune files by time before opening them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeFile {
    pub path: PathBuf,
    pub day: NaiveDate,
    pub bytes: u64,
}

/// A table present in the lake.
#[derive(Debug, Clone)]
pub struct LakeTable {
    pub schema: &'static TableSchema,
    pub files: Vec<LakeFile>,
}

/// Row count, time range and size of a table, read from the Parquet footers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableStats {
    pub table: String,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    pub min_time: Option<String>,
    pub max_time: Option<String>,
}

impl Lake {
    /// Opens an existing lake directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(IngestError::Lake {
                path: dir.to_path_buf(),
                message: "not a directory (create a lake with `goshawk ingest --data DIR`)"
                    .to_string(),
            });
        }
        Ok(Lake {
            dir: dir.to_path_buf(),
            log: read_log(dir)?,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tables that have at least one data file, in schema order.
    pub fn tables(&self) -> Result<Vec<LakeTable>> {
        let mut tables = Vec::new();
        for schema in ingested_tables() {
            if let Some(table) = self.table(schema.name)? {
                tables.push(table);
            }
        }
        Ok(tables)
    }

    /// One table (name matched case-insensitively), or None when the lake has no rows for it.
    pub fn table(&self, name: &str) -> Result<Option<LakeTable>> {
        let schema =
            table_schema(name).ok_or_else(|| IngestError::UnknownTable(name.to_string()))?;
        let mut files = Vec::new();
        for day_dir in list_dir(&self.dir.join(schema.name))? {
            let Some(day) = file_name(&day_dir)
                .strip_prefix("day=")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let day_name = file_name(&day_dir);
            for file in list_dir(&day_dir)? {
                let name = file_name(&file);
                if !name.ends_with(".parquet")
                    || !self
                        .log
                        .is_live(&format!("{}/{day_name}/{name}", schema.name))
                {
                    continue;
                }
                let bytes = fs::metadata(&file)
                    .map_err(|e| IngestError::io(&file, e))?
                    .len();
                files.push(LakeFile {
                    path: file,
                    day,
                    bytes,
                });
            }
        }
        if files.is_empty() {
            return Ok(None);
        }
        Ok(Some(LakeTable { schema, files }))
    }
}

impl LakeTable {
    pub fn name(&self) -> &'static str {
        self.schema.name
    }

    /// The Arrow schema every file of the table has.
    pub fn arrow_schema(&self) -> SchemaRef {
        self.schema.lake_arrow_schema()
    }

    /// The files whose day partition intersects `[from, to]` (inclusive days).
    pub fn files_between(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = &LakeFile> {
        self.files
            .iter()
            .filter(move |f| f.day >= from && f.day <= to)
    }

    /// Reads the footers (not the data) of every file.
    pub fn stats(&self) -> Result<TableStats> {
        let mut stats = TableStats {
            table: self.name().to_string(),
            rows: 0,
            files: self.files.len(),
            bytes: 0,
            min_time: None,
            max_time: None,
        };
        let mut min: Option<i64> = None;
        let mut max: Option<i64> = None;
        for file in &self.files {
            stats.bytes += file.bytes;
            let handle = File::open(&file.path).map_err(|e| IngestError::io(&file.path, e))?;
            let reader =
                SerializedFileReader::new(handle).map_err(|source| IngestError::Parquet {
                    path: file.path.clone(),
                    source,
                })?;
            let metadata = reader.metadata();
            let time_index = metadata
                .file_metadata()
                .schema_descr()
                .columns()
                .iter()
                .position(|c| c.name() == "TimeGenerated");
            for group in metadata.row_groups() {
                stats.rows += group.num_rows().max(0) as u64;
                let Some(Statistics::Int64(time)) =
                    time_index.and_then(|i| group.column(i).statistics())
                else {
                    continue;
                };
                if let Some(v) = time.min_opt() {
                    min = Some(min.map_or(*v, |m| m.min(*v)));
                }
                if let Some(v) = time.max_opt() {
                    max = Some(max.map_or(*v, |m| m.max(*v)));
                }
            }
        }
        stats.min_time = min.map(format_time);
        stats.max_time = max.map(format_time);
        Ok(stats)
    }
}

/// ISO 8601 with seven fraction digits, as Kusto prints datetimes.
pub fn format_time(nanos: i64) -> String {
    let time: DateTime<Utc> = DateTime::from_timestamp_nanos(nanos);
    let ticks = nanos.rem_euclid(1_000_000_000) / 100;
    format!("{}.{ticks:07}Z", time.format("%Y-%m-%dT%H:%M:%S"))
}
