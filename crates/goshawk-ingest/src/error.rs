use std::path::PathBuf;

/// Errors that stop an ingest run as a whole (the lake cannot be written or read). Problems with
/// single records or single input files are not errors: they are reported as rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write Parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot build a record batch for table {table}: {source}")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error(
        "unknown table '{0}' (goshawk stores AADProvisioningLogs, AzureActivity, SigninLogs, AuditLogs)"
    )]
    UnknownTable(String),
    #[error("invalid input pattern '{pattern}': {message}")]
    Pattern { pattern: String, message: String },
    #[error("{path}: the lake is locked by another goshawk process ({source})")]
    Locked {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Lake { path: PathBuf, message: String },
}

impl IngestError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;
