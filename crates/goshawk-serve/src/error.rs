//! Errors that stop `goshawk serve` from starting or keep running.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("alert store {path}: {source}")]
    Store {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the lake {path}: {message}")]
    Lake { path: PathBuf, message: String },
    #[error("cannot create a token: the system random source failed: {0}")]
    Random(String),
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
}

impl ServeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ServeError {
        ServeError::Io {
            path: path.into(),
            source,
        }
    }
}
