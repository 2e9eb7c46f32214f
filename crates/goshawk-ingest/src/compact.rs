//! Compaction: merges the small data files of a day partition into one, for lakes built one
//! input file at a time (serve's inbox, repeated `goshawk ingest` runs). The merged files are
//! written under a new commit id and one manifest line records them together with the files
//! they replace, so a reader sees either the old files or the new ones, never both; the
//! replaced files are deleted afterwards (or by the next run, after a crash).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use goshawk_types::{TableSchema, ingested_tables, table_schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{IngestError, Result};
use crate::lake::{self, CommitEntry, Lake, LakeFile};
use crate::sink::{LakeWriter, MAX_FILE_ROWS, ROW_GROUP_ROWS, day_dir, sync_dir};

#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Only this table (any case); all tables when None.
    pub table: Option<String>,
    /// Files with at least this many rows are left alone; merged files are cut at this size.
    pub max_file_rows: usize,
    /// Encoded row groups held in memory before one is written out early.
    pub max_pending_bytes: usize,
    /// A partition is merged only when it has at least this many small files (at least 2):
    /// a server compacting after every inbox file would otherwise rewrite the day's merged
    /// file each time.
    pub min_files: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            table: None,
            max_file_rows: MAX_FILE_ROWS,
            max_pending_bytes: 256 << 20,
            min_files: 2,
        }
    }
}

/// What compaction did to one day partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionCompaction {
    pub table: String,
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: u64,
    /// Why the partition was left as it was, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompactSummary {
    pub lake: String,
    /// Partitions that had more than one small file.
    pub partitions: Vec<PartitionCompaction>,
    pub files_before: usize,
    pub files_after: usize,
    /// Files of an earlier run that did not finish, deleted before this one.
    pub orphans_removed: Vec<String>,
}

/// Merges, in every day partition, the files with fewer than `max_file_rows` rows into as few
/// files as possible. Holds the lake lock, like an ingest.
pub fn compact(lake_dir: &Path, options: &CompactOptions) -> Result<CompactSummary> {
    let tables: Vec<&'static TableSchema> = match &options.table {
        Some(name) => {
            vec![table_schema(name).ok_or_else(|| IngestError::UnknownTable(name.clone()))?]
        }
        None => ingested_tables().iter().collect(),
    };
    let _lock = lake::lock_lake(lake_dir)?;
    let log = lake::read_log(lake_dir)?;
    let orphans = lake::remove_orphans(lake_dir, &log)?;
    let mut summary = CompactSummary {
        lake: lake_dir.display().to_string(),
        orphans_removed: orphans.iter().map(|p| p.display().to_string()).collect(),
        ..CompactSummary::default()
    };
    let lake = Lake::open(lake_dir)?;
    let writer = LakeWriter::new(lake_dir, options.max_pending_bytes, options.max_file_rows);
    let mut replaces = Vec::new();
    let mut merged: Vec<usize> = Vec::new();
    for schema in tables {
        let Some(table) = lake.table(schema.name)? else {
            continue;
        };
        let mut days: BTreeMap<NaiveDate, Vec<&LakeFile>> = BTreeMap::new();
        for file in &table.files {
            days.entry(file.day).or_default().push(file);
        }
        for (day, files) in days {
            let mut small = Vec::new();
            for file in files {
                if file_rows(&file.path)? < options.max_file_rows as u64 {
                    small.push(file);
                }
            }
            if small.len() < options.min_files.max(2) {
                continue;
            }
            let mut partition = PartitionCompaction {
                table: schema.name.to_string(),
                day: day.format("%Y-%m-%d").to_string(),
                files_before: small.len(),
                files_after: small.len(),
                rows: 0,
                skipped: None,
            };
            match merge(&writer, schema, day, &small)? {
                Ok(rows) => {
                    partition.rows = rows;
                    replaces.extend(small.iter().map(|f| relative(schema.name, day, &f.path)));
                    merged.push(summary.partitions.len());
                }
                Err(reason) => partition.skipped = Some(reason),
            }
            summary.partitions.push(partition);
        }
    }
    let (commit, files) = writer.finish_commit()?;
    for index in merged {
        let partition = &mut summary.partitions[index];
        let prefix = format!("{}/day={}/", partition.table, partition.day);
        partition.files_after = files.iter().filter(|f| f.path.starts_with(&prefix)).count();
    }
    summary.files_before = summary.partitions.iter().map(|p| p.files_before).sum();
    summary.files_after = summary.partitions.iter().map(|p| p.files_after).sum();
    if replaces.is_empty() {
        return Ok(summary);
    }
    lake::append_commit(
        lake_dir,
        &CommitEntry {
            commit,
            committed_at: chrono::Utc::now().to_rfc3339(),
            sources: Vec::new(),
            files,
            replaces: replaces.clone(),
        },
    )?;
    // The manifest no longer lists these; a crash here leaves them to the next run's cleanup.
    let mut dirs = std::collections::BTreeSet::new();
    for path in &replaces {
        let path = lake_dir.join(path);
        fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
        if let Some(dir) = path.parent() {
            dirs.insert(dir.to_path_buf());
        }
    }
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(summary)
}

fn relative(table: &str, day: NaiveDate, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{table}/{}/{name}", day_dir(day))
}

fn file_rows(path: &Path) -> Result<u64> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| IngestError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
}

/// Streams the files' rows into the writer. The inner error is a reason to leave the partition
/// alone (a file whose columns are not the table's lake schema, from an older version).
fn merge(
    writer: &LakeWriter,
    schema: &'static TableSchema,
    day: NaiveDate,
    files: &[&LakeFile],
) -> Result<Result<u64, String>> {
    let lake_schema = schema.lake_arrow_schema();
    let Some(time_column) = lake_schema
        .fields()
        .iter()
        .position(|f| f.name() == "TimeGenerated")
    else {
        return Ok(Err(format!("{} has no TimeGenerated column", schema.name)));
    };
    let parquet_error = |path: &PathBuf, source| IngestError::Parquet {
        path: path.clone(),
        source,
    };
    // Checked first, so that a partition is either merged whole or left alone.
    let mut readers = Vec::new();
    for file in files {
        let handle = File::open(&file.path).map_err(|e| IngestError::io(&file.path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(handle)
            .map_err(|e| parquet_error(&file.path, e))?
            .with_batch_size(ROW_GROUP_ROWS / 8);
        let same = builder.schema().fields().len() == lake_schema.fields().len()
            && builder
                .schema()
                .fields()
                .iter()
                .zip(lake_schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Ok(Err(format!(
                "{} does not have the {} lake columns",
                file.path.display(),
                schema.name
            )));
        }
        readers.push((file, builder));
    }
    let mut rows = 0u64;
    for (file, builder) in readers {
        let reader = builder.build().map_err(|e| parquet_error(&file.path, e))?;
        for batch in reader {
            let batch = batch.map_err(|source| IngestError::Arrow {
                table: schema.name.to_string(),
                source,
            })?;
            // The lake schema carries the Kusto types in its field metadata.
            let batch = arrow::record_batch::RecordBatch::try_new(
                lake_schema.clone(),
                batch.columns().to_vec(),
            )
            .map_err(|source| IngestError::Arrow {
                table: schema.name.to_string(),
                source,
            })?;
            rows += batch.num_rows() as u64;
            writer.add((schema.name, day), time_column, batch)?;
        }
    }
    Ok(Ok(rows))
}
