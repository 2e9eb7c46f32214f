//! goshawk on a DataFusion Ballista cluster.
//!
//! A query is planned by the client as usual (KQL to a DataFusion logical plan), encoded with
//! goshawk's codecs ([`codec`]) and sent to a Ballista scheduler, which splits it into stages
//! that executors run; results come back to the client. The scheduler and the executors are
//! Ballista's own libraries, started by [`run_scheduler`] and [`run_executor`] with goshawk's
//! codecs and an object store registry that reaches the lake ([`objects`]).
//!
//! Anything that cannot run on the executors (operators goshawk computes in its own process:
//! `make-series`, `scan`, the `evaluate` plugins, `parse-kv`) fails when the plan is encoded,
//! with an error naming it; nothing falls back to running locally.

pub mod codec;
mod engine;
mod error;
pub mod objects;
mod process;
pub mod typed;

pub use error::ClusterError;
pub use objects::{LakeLocation, ObjectStoreLakeCatalog};
pub use process::{
    ExecutorOptions, SchedulerOptions, check_distributable, connect, ensure_can_listen,
    local_session, run_executor, run_scheduler,
};
