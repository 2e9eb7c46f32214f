//! Ingests Azure log exports into goshawk's Parquet lake, losing nothing.
//!
//! [`ingest()`] reads files in any of the shapes Azure hands out (Graph API pages, Event Hub
//! messages, storage diagnostic logs, Log Analytics exports, ARM activity events; JSON, JSON
//! Lines, CSV; gzip; UTF-8 or UTF-16), maps each record onto its Log Analytics table, and writes
//! day-partitioned Parquet. A record that cannot be read or mapped goes to the rejects with its
//! file, line and reason. [`Lake`] is the read side the query engine uses.

mod compact;
mod convert;
mod decode;
mod envelope;
mod error;
mod ingest;
mod jsonparse;
mod jsonref;
mod lake;
mod map;
mod rejects;
mod row;
mod scan;
mod sink;

pub use compact::{CompactOptions, CompactSummary, PartitionCompaction, compact};
pub use convert::parse_datetime;
pub use error::{IngestError, Result};
pub use ingest::{
    ExpandedInputs, IGNORE_FILE, IngestOptions, IngestSummary, PAUSE_ENV, Progress, SourceReport,
    SourceStatus, TableCounts, expand_inputs, ingest,
};
pub use lake::{
    CommitEntry, Lake, LakeFile, LakeTable, MANIFEST_FILE, ManifestEntry, ManifestLog, REJECTS_DIR,
    TableStats, format_time, read_log, read_manifest,
};
pub use map::{Shape, parse_resource_id};
pub use sink::{MAX_FILE_ROWS, MAX_OPEN_FILES, ROW_GROUP_ROWS, WrittenFile};
