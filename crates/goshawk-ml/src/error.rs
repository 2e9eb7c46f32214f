//! Errors of the ML crate: each names the job and, where there is one, the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("job '{job_id}': {message}")]
    Config { job_id: String, message: String },
    #[error("job '{job_id}': datafeed query failed: {message}")]
    Datafeed { job_id: String, message: String },
    #[error("{path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lake {path}: {message}")]
    Lake { path: PathBuf, message: String },
    #[error("no job named '{0}' (goshawk ml list shows the built-in jobs)")]
    UnknownJob(String),
}

impl MlError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> MlError {
        let path = path.into();
        move |source| MlError::Io { path, source }
    }
}
