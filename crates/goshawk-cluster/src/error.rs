use std::net::SocketAddr;

/// Why a cluster process or a connection to one failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("'{0}' is not a cluster URL: expected df://HOST:PORT")]
    BadClusterUrl(String),
    #[error("'{url}' is not a lake location: {reason}")]
    BadLakeUrl { url: String, reason: String },
    #[error("cannot reach the object store of {url}")]
    ObjectStore {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("the lake manifest {url} is not readable: {reason}")]
    Manifest { url: String, reason: String },
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}
