//! Buffers the rows of one source per table and day, and writes them as Parquet files named
//! after the source's content hash, so that re-ingesting a source after a crash rewrites the
//! same files instead of adding copies.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, NaiveDate};
use goshawk_types::KustoType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

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
                | (ColumnBuilder::Str(_), Some(Cell::Str(_)))
                | (ColumnBuilder::Bool(_), Some(Cell::Bool(_)))
                | (ColumnBuilder::Int(_), Some(Cell::Int(_)))
                | (ColumnBuilder::Long(_), Some(Cell::Long(_)))
                | (ColumnBuilder::Real(_), Some(Cell::Real(_)))
                | (ColumnBuilder::Time(_), Some(Cell::Time(_)))
        )
    }

    /// Appends a cell that `accepts` has approved; returns its approximate size in bytes.
    fn append(&mut self, cell: Option<Cell>) -> usize {
        match (self, cell) {
            (ColumnBuilder::Str(b), Some(Cell::Str(s))) => {
                b.append_value(&s);
                s.len() + 4
            }
            (ColumnBuilder::Bool(b), Some(Cell::Bool(v))) => {
                b.append_value(v);
                1
            }
            (ColumnBuilder::Int(b), Some(Cell::Int(v))) => {
                b.append_value(v);
                4
            }
            (ColumnBuilder::Long(b), Some(Cell::Long(v))) => {
                b.append_value(v);
                8
            }
            (ColumnBuilder::Real(b), Some(Cell::Real(v))) => {
                b.append_value(v);
                8
            }
            (ColumnBuilder::Time(b), Some(Cell::Time(v))) => {
                b.append_value(v);
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
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Long(b) => Arc::new(b.finish()),
            ColumnBuilder::Real(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
        }
    }
}

struct Partition {
    table: &'static str,
    schema: SchemaRef,
    day: NaiveDate,
    builders: Vec<ColumnBuilder>,
    rows: usize,
    bytes: usize,
    next_file: u32,
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

pub struct SourceSink {
    lake: PathBuf,
    source_id: String,
    partitions: BTreeMap<(&'static str, NaiveDate), Partition>,
    buffered_bytes: usize,
    max_buffered_bytes: usize,
    written: Vec<WrittenFile>,
}

impl SourceSink {
    pub fn new(lake: &Path, source_id: &str, max_buffered_bytes: usize) -> Self {
        SourceSink {
            lake: lake.to_path_buf(),
            source_id: source_id.to_string(),
            partitions: BTreeMap::new(),
            buffered_bytes: 0,
            max_buffered_bytes,
            written: Vec::new(),
        }
    }

    /// Adds a row; the time column of a mapped row is always set (RowBuilder::finish).
    pub fn push(&mut self, table: &TableIndex, row: Row) -> Result<(), SinkPushError> {
        let nanos = match row.cells.get(table.time_column) {
            Some(Some(Cell::Time(nanos))) => *nanos,
            _ => return Err(SinkPushError::Row("no TimeGenerated".to_string())),
        };
        let day = DateTime::from_timestamp_nanos(nanos).date_naive();
        let key = (table.name(), day);
        if let std::collections::btree_map::Entry::Vacant(e) = self.partitions.entry(key) {
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
            e.insert(Partition {
                table: table.name(),
                schema: table.schema.lake_arrow_schema(),
                day,
                builders,
                rows: 0,
                bytes: 0,
                next_file: 0,
            });
        }
        let Some(partition) = self.partitions.get_mut(&key) else {
            return Err(SinkPushError::Row("partition vanished".to_string()));
        };
        if row.cells.len() != partition.builders.len()
            || !partition
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
        for (builder, cell) in partition.builders.iter_mut().zip(row.cells) {
            bytes += builder.append(cell);
        }
        partition.rows += 1;
        partition.bytes += bytes;
        self.buffered_bytes += bytes;
        if self.buffered_bytes > self.max_buffered_bytes {
            let largest = self
                .partitions
                .iter()
                .max_by_key(|(_, p)| p.bytes)
                .map(|(k, _)| *k);
            if let Some(largest) = largest {
                self.flush(largest).map_err(SinkPushError::Fatal)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, key: (&'static str, NaiveDate)) -> Result<()> {
        let Some(partition) = self.partitions.get_mut(&key) else {
            return Ok(());
        };
        if partition.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = partition
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        let batch = RecordBatch::try_new(partition.schema.clone(), columns).map_err(|source| {
            IngestError::Arrow {
                table: partition.table.to_string(),
                source,
            }
        })?;
        let dir = self.lake.join(partition.table).join(day_dir(partition.day));
        let name = format!("{}-{:04}.parquet", self.source_id, partition.next_file);
        write_parquet_atomically(&dir, &name, &batch)?;
        self.written.push(WrittenFile {
            path: format!("{}/{}/{}", partition.table, day_dir(partition.day), name),
            table: partition.table.to_string(),
            rows: partition.rows as u64,
        });
        self.buffered_bytes = self.buffered_bytes.saturating_sub(partition.bytes);
        partition.next_file += 1;
        partition.rows = 0;
        partition.bytes = 0;
        Ok(())
    }

    /// Writes every buffered row; returns the files written for this source.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>> {
        let keys: Vec<_> = self.partitions.keys().copied().collect();
        for key in keys {
            self.flush(key)?;
        }
        Ok(self.written)
    }
}

#[derive(Debug)]
pub enum SinkPushError {
    /// The row cannot be stored; it goes to the rejects.
    Row(String),
    /// The lake cannot be written; the run stops.
    Fatal(IngestError),
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("goshawk-ingest {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes `batch` to `dir/name` so that the file is either absent or complete: a temporary file
/// in the same directory, fsync, rename, fsync of the directory.
pub fn write_parquet_atomically(dir: &Path, name: &str, batch: &RecordBatch) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
    let final_path = dir.join(name);
    let temp_path = dir.join(format!(".{name}.tmp"));
    let file = File::create(&temp_path).map_err(|e| IngestError::io(&temp_path, e))?;
    let parquet_error = |source| IngestError::Parquet {
        path: temp_path.clone(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties()))
        .map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all()
        .map_err(|e| IngestError::io(&temp_path, e))?;
    drop(file);
    fs::rename(&temp_path, &final_path).map_err(|e| IngestError::io(&final_path, e))?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IngestError::io(dir, e))
}
