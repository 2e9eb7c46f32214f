//! Writes the lake's data files. Workers map records into chunks per table and day
//! ([`WorkerSink`]), rows in the order they were read; one [`LakeWriter`] per run appends the
//! chunks of every source to one open file per table and day, so that a run writes few large
//! files instead of one per input file and day. Files are named after the commit they belong to
//! and only become part of the lake when that commit's manifest line is written (see
//! `lake.rs`).
//!
//! Chunks are not sorted by TimeGenerated: a row group's TimeGenerated range is that of the
//! sources it holds whatever the order inside it (measured on the benchmark lake: 24 h per row
//! group sorted or not), so sorting bought a reader nothing and cost a copy of every chunk
//! (8% of the ingest time on time-shuffled input). Compaction still sorts what it merges.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampNanosecondArray, TimestampNanosecondBuilder,
};
use arrow::compute::{sort_to_indices, take};
use arrow::record_batch::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, NaiveDate};
use goshawk_types::KustoType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::convert::Cell;
use crate::error::{IngestError, Result};
use crate::row::{Row, TableIndex};

/// Rows per Parquet row group: large enough for good compression, small enough that min/max
/// statistics on TimeGenerated let a reader skip most of a file for a narrow time range.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

enum ColumnBuilder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Time(TimestampNanosecondBuilder),
}

impl ColumnBuilder {
    fn new(ty: KustoType) -> Option<Self> {
        Some(match ty {
            KustoType::String | KustoType::Guid | KustoType::Dynamic => {
                ColumnBuilder::Str(StringBuilder::new())
            }
            KustoType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            KustoType::Int => ColumnBuilder::Int(Int32Builder::new()),
            KustoType::Long => ColumnBuilder::Long(Int64Builder::new()),
            KustoType::Real => ColumnBuilder::Real(Float64Builder::new()),
            KustoType::DateTime => {
                ColumnBuilder::Time(TimestampNanosecondBuilder::new().with_timezone("UTC"))
            }
            KustoType::Decimal | KustoType::TimeSpan => return None,
        })
    }

    fn accepts(&self, cell: &Option<Cell>) -> bool {
        matches!(
            (self, cell),
            (_, None)
                | (
                    ColumnBuilder::Str(_),
                    Some(Cell::Str(_) | Cell::Json(_) | Cell::Twin(_))
                )
                | (ColumnBuilder::Bool(_), Some(Cell::Bool(_)))
                | (ColumnBuilder::Int(_), Some(Cell::Int(_)))
                | (ColumnBuilder::Long(_), Some(Cell::Long(_)))
                | (ColumnBuilder::Real(_), Some(Cell::Real(_)))
                | (ColumnBuilder::Time(_), Some(Cell::Time(_)))
        )
    }

    /// Appends a cell that `accepts` has approved, in column `column`; returns its approximate
    /// size in bytes. `row` is the whole row, which a [`Cell::Twin`] copies from; `json` holds
    /// the JSON texts written for its earlier columns.
    fn append(
        &mut self,
        column: usize,
        cell: &Option<Cell>,
        row: &[Option<Cell>],
        json: &mut RowJson,
    ) -> Result<usize, String> {
        Ok(match (self, cell) {
            (ColumnBuilder::Str(b), Some(Cell::Str(s))) => {
                b.append_value(s);
                s.len() + 4
            }
            (ColumnBuilder::Str(b), Some(Cell::Json(value))) => {
                // Copied straight from the record: a twin of it copies it from this builder.
                if let Some(text) = value.compact_source() {
                    b.append_value(text);
                    return Ok(text.len() + 4);
                }
                let start = json.text.len();
                value.write_json_text(&mut json.text);
                json.columns.push((column, start));
                let text = &json.text[start..];
                b.append_value(text);
                text.len() + 4
            }
            (ColumnBuilder::Str(b), Some(Cell::Twin(from))) => {
                // A twin's column is an earlier JSON cell of this row
                // (RowBuilder::copy_if_unset_any): its source text, or the text written for it.
                let text = match row.get(*from) {
                    Some(Some(Cell::Json(value))) => match value.compact_source() {
                        Some(text) => text,
                        None => json
                            .text_of(*from)
                            .ok_or("internal error: a twin cell's text")?,
                    },
                    _ => {
                        return Err("internal error: a twin cell without its JSON cell".to_string());
                    }
                };
                b.append_value(text);
                text.len() + 4
            }
            (ColumnBuilder::Bool(b), Some(Cell::Bool(v))) => {
                b.append_value(*v);
                1
            }
            (ColumnBuilder::Int(b), Some(Cell::Int(v))) => {
                b.append_value(*v);
                4
            }
            (ColumnBuilder::Long(b), Some(Cell::Long(v))) => {
                b.append_value(*v);
                8
            }
            (ColumnBuilder::Real(b), Some(Cell::Real(v))) => {
                b.append_value(*v);
                8
            }
            (ColumnBuilder::Time(b), Some(Cell::Time(v))) => {
                b.append_value(*v);
                8
            }
            (ColumnBuilder::Str(b), _) => {
                b.append_null();
                1
            }
            (ColumnBuilder::Bool(b), _) => {
                b.append_null();
                1
            }
            (ColumnBuilder::Int(b), _) => {
                b.append_null();
                1
            }
            (ColumnBuilder::Long(b), _) => {
                b.append_null();
                1
            }
            (ColumnBuilder::Real(b), _) => {
                b.append_null();
                1
            }
            (ColumnBuilder::Time(b), _) => {
                b.append_null();
                1
            }
        })
    }

    /// The column so far; the builder starts again with room for as much as it held, so that
    /// the next chunk does not grow its buffers by doubling and copying (a few percent of ingest
    /// time).
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(b) => {
                let (rows, bytes) = (b.len(), b.values_slice().len());
                let array = Arc::new(b.finish());
                *b = StringBuilder::with_capacity(rows, bytes + bytes / 8);
                array
            }
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Long(b) => Arc::new(b.finish()),
            ColumnBuilder::Real(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => {
                let rows = b.len();
                let array = Arc::new(b.finish());
                *b = TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC");
                array
            }
        }
    }
}

/// Rows a worker collects for one table and day before handing them to the [`LakeWriter`]:
/// small enough that the hand-over is frequent, large enough that the lock is rarely taken.
const CHUNK_ROWS: usize = 8 * 1024;

/// Rows after which a data file is closed and the next one started (about 16 row groups; an
/// Azure Activity file of this size is about 120 MB of zstd Parquet).
pub const MAX_FILE_ROWS: usize = 16 * ROW_GROUP_ROWS;

/// Data files open at once. Each open Parquet writer holds a few MiB of encoder state (page
/// buffers, dictionaries) for its columns whatever its row count, so an input spanning many
/// days would otherwise need memory in proportion to the days; past this, the least recently
/// written file is closed (its partition gets another file if more rows come).
pub const MAX_OPEN_FILES: usize = 16;

/// A table and UTC day: one directory of the lake.
pub type PartitionKey = (&'static str, NaiveDate);

struct Chunk {
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    /// Per column, the earlier column it is a twin of in every row so far ([`Cell::Twin`]):
    /// such a column's builder stays empty and the chunk hands over the other column's array
    /// for it, instead of copying the same JSON text into a second column.
    twin_of: Vec<Option<usize>>,
    rows: usize,
    bytes: usize,
}

/// A Parquet file the sink wrote, relative to the lake directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrittenFile {
    pub path: String,
    pub table: String,
    pub rows: u64,
}

/// The day partition directory name for a day.
pub fn day_dir(day: NaiveDate) -> String {
    format!("day={}", day.format("%Y-%m-%d"))
}

/// Batches a worker keeps while the partition they belong to is being written by the
/// other worker, instead of waiting for its lock; past this many bytes it waits.
const MAX_DEFERRED_BYTES: usize = 16 << 20;

/// The rows of one worker, collected per table and day in Arrow builders and handed to the
/// run's [`LakeWriter`] in chunks. A worker keeps its sink from one source to the next, so that
/// chunks reach [`CHUNK_ROWS`] rows whatever the size of the sources (an Event Hub message holds
/// a few thousand records over several days) and the builders keep their capacity; a commit
/// hands over every worker's rows first ([`WorkerSink::flush`]).
pub struct WorkerSink {
    chunks: BTreeMap<PartitionKey, Chunk>,
    buffered_bytes: usize,
    max_buffered_bytes: usize,
    /// Batches whose partition was busy when they were handed over, oldest first.
    deferred: VecDeque<(PartitionKey, RecordBatch, usize)>,
    deferred_bytes: usize,
    json: RowJson,
}

/// The JSON texts written for the current row, kept until its twin columns are appended.
#[derive(Default)]
struct RowJson {
    text: String,
    /// Column index and start in `text`, in column order; each text ends where the next starts.
    columns: Vec<(usize, usize)>,
}

impl RowJson {
    /// The text written for `column`.
    fn text_of(&self, column: usize) -> Option<&str> {
        let position = self.columns.iter().position(|(c, _)| *c == column)?;
        let start = self.columns[position].1;
        let end = self
            .columns
            .get(position + 1)
            .map_or(self.text.len(), |(_, next)| *next);
        self.text.get(start..end)
    }
}

impl WorkerSink {
    pub fn new(max_buffered_bytes: usize) -> Self {
        WorkerSink {
            chunks: BTreeMap::new(),
            buffered_bytes: 0,
            max_buffered_bytes,
            deferred: VecDeque::new(),
            deferred_bytes: 0,
            json: RowJson::default(),
        }
    }

    /// Adds a row; the time column of a mapped row is always set (RowBuilder::finish).
    pub fn push(
        &mut self,
        writer: &LakeWriter,
        table: &TableIndex,
        row: Row,
    ) -> Result<(), SinkPushError> {
        let nanos = match row.cells.get(table.time_column) {
            Some(Some(Cell::Time(nanos))) => *nanos,
            _ => return Err(SinkPushError::Row("no TimeGenerated".to_string())),
        };
        let day = DateTime::from_timestamp_nanos(nanos).date_naive();
        let key = (table.name(), day);
        if let std::collections::btree_map::Entry::Vacant(e) = self.chunks.entry(key) {
            e.insert(new_chunk(table)?);
        }
        let Some(chunk) = self.chunks.get_mut(&key) else {
            return Err(SinkPushError::Row("partition vanished".to_string()));
        };
        if row.cells.len() != chunk.builders.len()
            || !chunk
                .builders
                .iter()
                .zip(&row.cells)
                .all(|(b, c)| b.accepts(c))
        {
            return Err(SinkPushError::Row(format!(
                "internal error: row does not match the {} schema",
                table.name()
            )));
        }
        let mut bytes = 0;
        self.json.text.clear();
        self.json.columns.clear();
        // By reference: moving each cell out of the row cost more than appending it.
        for (index, cell) in row.cells.iter().enumerate() {
            match (cell, chunk.twin_of[index]) {
                (Some(Cell::Twin(from)), _) if chunk.rows == 0 => {
                    chunk.twin_of[index] = Some(*from);
                    continue;
                }
                (Some(Cell::Twin(from)), Some(twin_of)) if *from == twin_of => continue,
                (_, Some(twin_of)) => {
                    // The first row of the chunk where the column differs from its twin.
                    chunk.twin_of[index] = None;
                    let (earlier, rest) = chunk.builders.split_at_mut(index);
                    copy_rows(&earlier[twin_of], &mut rest[0], chunk.rows).map_err(|reason| {
                        SinkPushError::Fatal(IngestError::Lake {
                            path: writer.lake.clone(),
                            message: reason,
                        })
                    })?;
                }
                _ => {}
            }
            // The row's earlier cells are in; a failure here leaves the columns uneven.
            bytes += chunk.builders[index]
                .append(index, cell, &row.cells, &mut self.json)
                .map_err(|reason| {
                    SinkPushError::Fatal(IngestError::Lake {
                        path: writer.lake.clone(),
                        message: reason,
                    })
                })?;
        }
        chunk.rows += 1;
        chunk.bytes += bytes;
        self.buffered_bytes += bytes;
        if chunk.rows >= CHUNK_ROWS {
            self.hand_over(writer, key).map_err(SinkPushError::Fatal)?;
        } else if self.buffered_bytes > self.max_buffered_bytes {
            let largest = self
                .chunks
                .iter()
                .max_by_key(|(_, c)| c.bytes)
                .map(|(k, _)| *k);
            if let Some(largest) = largest {
                self.hand_over(writer, largest)
                    .map_err(SinkPushError::Fatal)?;
            }
        }
        Ok(())
    }

    fn hand_over(&mut self, writer: &LakeWriter, key: PartitionKey) -> Result<()> {
        let Some(chunk) = self.chunks.get_mut(&key) else {
            return Ok(());
        };
        if chunk.rows == 0 {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(chunk.builders.len());
        for (builder, twin_of) in chunk.builders.iter_mut().zip(&mut chunk.twin_of) {
            let column = match twin_of.take() {
                Some(source) => columns[source].clone(),
                None => builder.finish(),
            };
            columns.push(column);
        }
        let arrow_error = |source| IngestError::Arrow {
            table: key.0.to_string(),
            source,
        };
        let batch = RecordBatch::try_new(chunk.schema.clone(), columns).map_err(arrow_error)?;
        let bytes = chunk.bytes;
        self.buffered_bytes = self.buffered_bytes.saturating_sub(chunk.bytes);
        chunk.rows = 0;
        chunk.bytes = 0;
        self.offer(writer, key, batch, bytes)
    }

    /// Writes the batch, and earlier deferred ones, where their partition is free; keeps the
    /// rest for later (the worker goes on mapping records meanwhile) up to
    /// [`MAX_DEFERRED_BYTES`], past which it waits for the oldest partition.
    fn offer(
        &mut self,
        writer: &LakeWriter,
        key: PartitionKey,
        batch: RecordBatch,
        bytes: usize,
    ) -> Result<()> {
        let mut waiting = std::mem::take(&mut self.deferred);
        waiting.push_back((key, batch, bytes));
        self.deferred_bytes += bytes;
        for (key, batch, bytes) in waiting {
            match writer.try_append(key, batch)? {
                None => self.deferred_bytes -= bytes,
                Some(batch) => self.deferred.push_back((key, batch, bytes)),
            }
        }
        while self.deferred_bytes > MAX_DEFERRED_BYTES
            && let Some((key, batch, bytes)) = self.deferred.pop_front()
        {
            writer.append(key, batch)?;
            self.deferred_bytes -= bytes;
        }
        Ok(())
    }

    /// Hands every buffered row to the writer and waits until it has them all.
    pub fn flush(&mut self, writer: &LakeWriter) -> Result<()> {
        let keys: Vec<_> = self.chunks.keys().copied().collect();
        for key in keys {
            self.hand_over(writer, key)?;
        }
        while let Some((key, batch, bytes)) = self.deferred.pop_front() {
            writer.append(key, batch)?;
            self.deferred_bytes -= bytes;
        }
        Ok(())
    }
}

fn new_chunk(table: &TableIndex) -> Result<Chunk, SinkPushError> {
    let builders = table
        .types
        .iter()
        .map(|ty| ColumnBuilder::new(*ty))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            SinkPushError::Row(format!(
                "table {} has a column type the lake cannot hold",
                table.name()
            ))
        })?;
    Ok(Chunk {
        schema: table.schema.lake_arrow_schema(),
        twin_of: vec![None; builders.len()],
        builders,
        rows: 0,
        bytes: 0,
    })
}

/// The data files of one commit being written: one open file per table and day, to which
/// every worker appends its chunks. The Parquet writer keeps only the current row group, encoded
/// and compressed, in memory.
pub struct LakeWriter {
    lake: PathBuf,
    /// Encoded, not yet written row groups of all open files together; past this the largest is
    /// written out early (a shorter row group), so memory stays bounded however many days the
    /// input spans.
    max_pending_bytes: usize,
    max_file_rows: usize,
    pending_bytes: AtomicUsize,
    open_files: AtomicUsize,
    /// Orders writes, for closing the least recently written file.
    tick: AtomicU64,
    state: Mutex<WriterState>,
}

struct WriterState {
    commit_id: String,
    next_file: u32,
    partitions: BTreeMap<PartitionKey, Arc<Mutex<PartitionFile>>>,
    written: Vec<WrittenFile>,
}

#[derive(Default)]
struct PartitionFile {
    file: Option<OpenFile>,
    /// This file's share of `LakeWriter::pending_bytes`.
    pending_bytes: usize,
    last_used: u64,
}

struct OpenFile {
    writer: ArrowWriter<File>,
    dir: PathBuf,
    name: String,
    temp_path: PathBuf,
    table: &'static str,
    day: NaiveDate,
    rows: usize,
}

fn lock<'m, T>(mutex: &'m Mutex<T>, lake: &Path) -> Result<MutexGuard<'m, T>> {
    mutex.lock().map_err(|_| IngestError::Lake {
        path: lake.to_path_buf(),
        message: "a lake writer thread panicked".to_string(),
    })
}

/// A fresh id for a commit's files: 32 hex digits, unique per process, time and call.
pub fn new_commit_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update(&now.to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.finalize().to_hex()[..crate::lake::SOURCE_ID_LEN].to_string()
}

impl LakeWriter {
    pub fn new(lake: &Path, max_pending_bytes: usize, max_file_rows: usize) -> Self {
        LakeWriter {
            lake: lake.to_path_buf(),
            max_pending_bytes,
            max_file_rows: max_file_rows.max(1),
            pending_bytes: AtomicUsize::new(0),
            open_files: AtomicUsize::new(0),
            tick: AtomicU64::new(0),
            state: Mutex::new(WriterState {
                commit_id: new_commit_id(),
                next_file: 0,
                partitions: BTreeMap::new(),
                written: Vec::new(),
            }),
        }
    }

    /// Appends rows of one table and day to the partition's file, sorted by TimeGenerated.
    pub fn add(&self, key: PartitionKey, time_column: usize, batch: RecordBatch) -> Result<()> {
        let batch = sort_by_time(batch, time_column).map_err(|source| IngestError::Arrow {
            table: key.0.to_string(),
            source,
        })?;
        self.append(key, batch)
    }

    fn partition(&self, key: PartitionKey) -> Result<Arc<Mutex<PartitionFile>>> {
        Ok(lock(&self.state, &self.lake)?
            .partitions
            .entry(key)
            .or_default()
            .clone())
    }

    /// [`Self::append`] unless another thread is writing the partition's file: then the
    /// batch comes back, to be offered again later.
    pub fn try_append(&self, key: PartitionKey, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let partition = self.partition(key)?;
        let guard = match partition.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::WouldBlock) => return Ok(Some(batch)),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                return Err(IngestError::Lake {
                    path: self.lake.clone(),
                    message: "a lake writer thread panicked".to_string(),
                });
            }
        };
        if guard.file.is_none() {
            // Opening a file may close another one first: the general path.
            drop(guard);
            self.append(key, batch)?;
            return Ok(None);
        }
        self.write_locked(key, guard, batch)?;
        Ok(None)
    }

    /// Appends rows of one table and day, in the order given, to the partition's
    /// file, waiting for the partition if another thread is writing it.
    pub fn append(&self, key: PartitionKey, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let partition = self.partition(key)?;
        let must_open = lock(&partition, &self.lake)?.file.is_none();
        if must_open && self.open_files.load(Ordering::Relaxed) >= MAX_OPEN_FILES {
            self.close_least_recent(key)?;
        }
        let guard = lock(&partition, &self.lake)?;
        self.write_locked(key, guard, batch)
    }

    fn write_locked(
        &self,
        key: PartitionKey,
        mut partition: MutexGuard<'_, PartitionFile>,
        batch: RecordBatch,
    ) -> Result<()> {
        partition.last_used = self.tick.fetch_add(1, Ordering::Relaxed);
        if partition.file.is_none() {
            self.open_files.fetch_add(1, Ordering::Relaxed);
            let (commit_id, number) = {
                let mut state = lock(&self.state, &self.lake)?;
                state.next_file += 1;
                (state.commit_id.clone(), state.next_file - 1)
            };
            partition.file = Some(OpenFile::create(
                &self.lake,
                key,
                &format!("{commit_id}-{number:04}.parquet"),
                &batch.schema(),
            )?);
        }
        let Some(file) = partition.file.as_mut() else {
            return Ok(());
        };
        let parquet_error = |source| IngestError::Parquet {
            path: file.temp_path.clone(),
            source,
        };
        file.writer.write(&batch).map_err(parquet_error)?;
        file.rows += batch.num_rows();
        let pending = file.writer.in_progress_size();
        let full = file.rows >= self.max_file_rows;
        self.account(&mut partition, if full { 0 } else { pending });
        if full && let Some(file) = partition.file.take() {
            self.open_files.fetch_sub(1, Ordering::Relaxed);
            let written = file.close()?;
            lock(&self.state, &self.lake)?.written.push(written);
        }
        drop(partition);
        if self.pending_bytes.load(Ordering::Relaxed) > self.max_pending_bytes {
            self.flush_largest()?;
        }
        Ok(())
    }

    fn account(&self, partition: &mut PartitionFile, pending: usize) {
        if pending >= partition.pending_bytes {
            self.pending_bytes
                .fetch_add(pending - partition.pending_bytes, Ordering::Relaxed);
        } else {
            self.pending_bytes
                .fetch_sub(partition.pending_bytes - pending, Ordering::Relaxed);
        }
        partition.pending_bytes = pending;
    }

    /// Closes the open file written to longest ago, other than `key`'s.
    fn close_least_recent(&self, key: PartitionKey) -> Result<()> {
        let partitions: Vec<_> = lock(&self.state, &self.lake)?
            .partitions
            .iter()
            .filter(|(k, _)| **k != key)
            .map(|(_, p)| p.clone())
            .collect();
        let mut oldest: Option<(u64, Arc<Mutex<PartitionFile>>)> = None;
        for partition in partitions {
            // A partition another thread is writing is in use, so not a candidate anyway.
            let Ok(guard) = partition.try_lock() else {
                continue;
            };
            let last_used = guard.last_used;
            let open = guard.file.is_some();
            drop(guard);
            if open && oldest.as_ref().is_none_or(|(t, _)| last_used < *t) {
                oldest = Some((last_used, partition));
            }
        }
        let Some((_, partition)) = oldest else {
            return Ok(());
        };
        let mut partition = lock(&partition, &self.lake)?;
        self.account(&mut partition, 0);
        if let Some(file) = partition.file.take() {
            self.open_files.fetch_sub(1, Ordering::Relaxed);
            let written = file.close()?;
            lock(&self.state, &self.lake)?.written.push(written);
        }
        Ok(())
    }

    /// Ends the row group of the file with the most encoded data in memory.
    fn flush_largest(&self) -> Result<()> {
        let partitions: Vec<_> = lock(&self.state, &self.lake)?
            .partitions
            .values()
            .cloned()
            .collect();
        let mut largest: Option<(usize, Arc<Mutex<PartitionFile>>)> = None;
        for partition in partitions {
            // A partition another thread is writing is skipped; it checks the budget itself.
            let Ok(guard) = partition.try_lock() else {
                continue;
            };
            let bytes = guard.pending_bytes;
            drop(guard);
            if largest.as_ref().is_none_or(|(top, _)| bytes > *top) {
                largest = Some((bytes, partition));
            }
        }
        let Some((_, partition)) = largest else {
            return Ok(());
        };
        let mut partition = lock(&partition, &self.lake)?;
        if let Some(file) = partition.file.as_mut() {
            file.writer.flush().map_err(|source| IngestError::Parquet {
                path: file.temp_path.clone(),
                source,
            })?;
        }
        self.account(&mut partition, 0);
        Ok(())
    }

    /// Closes every open file; returns the commit id the files are named after and the files
    /// written since the last call. Must not run while another thread adds rows. Later rows go
    /// to files of a new commit id.
    pub fn finish_commit(&self) -> Result<(String, Vec<WrittenFile>)> {
        let mut state = lock(&self.state, &self.lake)?;
        let partitions = std::mem::take(&mut state.partitions);
        let mut open = Vec::new();
        for partition in partitions.into_values() {
            let mut partition = lock(&partition, &self.lake)?;
            self.account(&mut partition, 0);
            open.extend(partition.file.take());
        }
        // Closed side by side: closing encodes a file's last pages and waits for its fsync.
        let closed: Vec<Result<WrittenFile>> = std::thread::scope(|scope| {
            let closing: Vec<_> = open
                .into_iter()
                .map(|file| scope.spawn(move || file.close()))
                .collect();
            closing
                .into_iter()
                .map(|handle| {
                    handle.join().map_err(|_| IngestError::Lake {
                        path: self.lake.clone(),
                        message: "a lake writer thread panicked".to_string(),
                    })?
                })
                .collect()
        });
        for file in closed {
            state.written.push(file?);
        }
        self.open_files.store(0, Ordering::Relaxed);
        state.next_file = 0;
        let written = std::mem::take(&mut state.written);
        let id = std::mem::replace(&mut state.commit_id, new_commit_id());
        Ok((id, written))
    }
}

impl OpenFile {
    fn create(lake: &Path, key: PartitionKey, name: &str, schema: &SchemaRef) -> Result<Self> {
        let dir = lake.join(key.0).join(day_dir(key.1));
        fs::create_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
        let temp_path = dir.join(format!(".{name}.tmp"));
        let file = File::create(&temp_path).map_err(|e| IngestError::io(&temp_path, e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties()))
            .map_err(|source| IngestError::Parquet {
                path: temp_path.clone(),
                source,
            })?;
        Ok(OpenFile {
            writer,
            dir,
            name: name.to_string(),
            temp_path,
            table: key.0,
            day: key.1,
            rows: 0,
        })
    }

    /// Footer, fsync, rename into place, fsync of the directory.
    fn close(self) -> Result<WrittenFile> {
        let file = self
            .writer
            .into_inner()
            .map_err(|source| IngestError::Parquet {
                path: self.temp_path.clone(),
                source,
            })?;
        file.sync_all()
            .map_err(|e| IngestError::io(&self.temp_path, e))?;
        drop(file);
        let final_path = self.dir.join(&self.name);
        fs::rename(&self.temp_path, &final_path).map_err(|e| IngestError::io(&final_path, e))?;
        sync_dir(&self.dir)?;
        Ok(WrittenFile {
            path: format!("{}/{}/{}", self.table, day_dir(self.day), self.name),
            table: self.table.to_string(),
            rows: self.rows as u64,
        })
    }
}

/// The batch ordered by its time column; input that arrives in order (the usual case) is
/// returned as is without copying.
fn sort_by_time(
    batch: RecordBatch,
    time_column: usize,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let column = batch.column(time_column);
    let sorted = match column.as_any().downcast_ref::<TimestampNanosecondArray>() {
        Some(times) if times.null_count() == 0 => times.values().windows(2).all(|w| w[0] <= w[1]),
        _ => false,
    };
    if sorted {
        return Ok(batch);
    }
    let indices = sort_to_indices(column, None, None)?;
    let sorted = batch
        .columns()
        .iter()
        .map(|column| {
            if column.null_count() == column.len() {
                // A column without a value (most of a table's columns for one source shape) is
                // the same in any order.
                Ok(column.clone())
            } else {
                take(column.as_ref(), &indices, None)
            }
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(batch.schema(), sorted)
}

/// Appends the first `rows` values of the string column `from` to `to`.
fn copy_rows(from: &ColumnBuilder, to: &mut ColumnBuilder, rows: usize) -> Result<(), String> {
    let (ColumnBuilder::Str(from), ColumnBuilder::Str(to)) = (from, to) else {
        return Err("internal error: a twin column that is not text".to_string());
    };
    let offsets = from.offsets_slice();
    let values = from.values_slice();
    let validity = from.validity_slice();
    for row in 0..rows {
        let valid = validity.is_none_or(|bits| bits[row / 8] & (1 << (row % 8)) != 0);
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        if valid {
            let text = std::str::from_utf8(&values[start..end])
                .map_err(|e| format!("internal error: a twin cell's text: {e}"))?;
            to.append_value(text);
        } else {
            to.append_null();
        }
    }
    Ok(())
}

#[derive(Debug)]
pub enum SinkPushError {
    /// The row cannot be stored; it goes to the rejects.
    Row(String),
    /// The lake cannot be written; the run stops.
    Fatal(IngestError),
}

/// Columns that hold a different value in nearly every row (times, ids, per-event JSON). A
/// dictionary for them fills up after a few thousand rows and the writer falls back to plain
/// encoding anyway, after hashing every value into the dictionary first.
const UNIQUE_COLUMNS: &[&str] = &[
    "TimeGenerated",
    "EventSubmissionTimestamp",
    "CorrelationId",
    "EventDataId",
    "OperationId",
    "Properties",
    "Properties_d",
    "Authorization",
    "Authorization_d",
    "ResourceId",
    "_ResourceId",
    "Id",
    // The Activity log's leftover fields (durationMs among them) differ from record to record.
    "AdditionalFields",
];

/// Columns whose min/max are no use to a reader but cost a byte comparison per value and per
/// page when written: JSON text, kilobytes per row (no query prunes on the lexical order of a
/// JSON document), and per-row identifiers, whose values in a row group span the whole range
/// (rows are not in identifier order), so that no equality test can skip one.
const NO_STATISTICS_COLUMNS: &[&str] = &[
    "Properties",
    "Properties_d",
    "Authorization",
    "Authorization_d",
    "Claims",
    "Claims_d",
    "HTTPRequest",
    "AdditionalFields",
    "CorrelationId",
    "EventDataId",
    "OperationId",
    "ResourceId",
    "_ResourceId",
    "Id",
];

fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("goshawk-ingest {}", env!("CARGO_PKG_VERSION")));
    for column in UNIQUE_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    for column in NO_STATISTICS_COLUMNS {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::None);
    }
    builder.build()
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IngestError::io(dir, e))
}
