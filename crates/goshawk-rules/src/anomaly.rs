//! The seam between detection content and the ML jobs behind Elastic `machine_learning` rules.
//!
//! `goshawk hunt` finds the rule's job (and its datafeed) among the loaded content and asks an
//! [`AnomalySource`] for the job's anomaly records; the ML crate implements the trait over the
//! lake. Keeping the trait here lets the rules crate run and test hunts without the ML engine.

use crate::elastic::{Datafeed, MlJob};

/// One anomaly record of a job, as Elastic writes it to its results index.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRecord {
    pub job_id: String,
    /// Start of the bucket the record belongs to (Unix nanoseconds, UTC).
    pub bucket_start_nanos: i64,
    pub bucket_span_seconds: i64,
    /// The detector's function, e.g. `rare`.
    pub function: String,
    pub by_field: Option<FieldValue>,
    pub over_field: Option<FieldValue>,
    pub partition_field: Option<FieldValue>,
    pub probability: f64,
    /// 0..100, possibly re-scored after the record was first written.
    pub record_score: f64,
    /// 0..100, the score when the record was first written.
    pub initial_record_score: f64,
    /// Every influencer value seen in the bucket for this record's entity.
    pub influencers: Vec<Influencer>,
    /// One sentence a person can act on.
    pub explanation: String,
}

/// A field name and the value it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    pub name: String,
    pub value: String,
}

/// An influencer field and the values it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Influencer {
    pub field_name: String,
    pub values: Vec<String>,
}

/// Why anomaly records could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AnomalySourceError {
    pub message: String,
}

/// Produces anomaly records for a job, running or resuming it as far as `now` allows.
#[async_trait::async_trait]
pub trait AnomalySource: Send + Sync {
    /// Brings `job` up to date as of `now_nanos` (complete buckets only) and returns its records
    /// whose bucket starts within `[window_start_nanos, now_nanos]`, whatever their score; the
    /// caller applies the rule's anomaly threshold.
    async fn anomalies(
        &self,
        job: &MlJob,
        datafeed: Option<&Datafeed>,
        window_start_nanos: i64,
        now_nanos: i64,
    ) -> Result<Vec<AnomalyRecord>, AnomalySourceError>;
}
