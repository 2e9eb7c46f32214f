//! Elastic-compatible anomaly-detection jobs over the goshawk lake.
//!
//! A job is Elastic's job JSON (bucket span, detectors, influencers) with a datafeed whose
//! query is KQL over the lake. [`runner::run_job`] learns the job's complete buckets in time
//! order, scores them as Elastic's `rare` does (see docs/ml.md for the model and the maths),
//! saves the models as atomic snapshots and writes the records to the `MLAnomalies` table;
//! [`source::LakeAnomalySource`] is what `goshawk hunt` asks for a machine_learning rule's
//! anomalies.

mod beta;
pub mod config;
pub mod ecs;
mod error;
pub mod explain;
pub mod jobs;
pub mod model;
pub mod results;
pub mod runner;
pub mod scoring;
pub mod source;
pub mod state;
pub mod time;

pub use config::{Function, JobSpec};
pub use error::MlError;
pub use jobs::{JobDefinition, builtin_job, builtin_jobs, load_job_file};
pub use runner::{RunOptions, RunSummary, run_job};
pub use source::LakeAnomalySource;
