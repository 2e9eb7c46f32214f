//! The [`AnomalySource`] behind `goshawk hunt`'s machine_learning rules: runs or resumes the
//! job over the lake up to the hunt's "now" and hands back the records in the rule's window.

use std::path::PathBuf;

use goshawk_rules::anomaly::{AnomalyRecord, AnomalySource, AnomalySourceError};
use goshawk_rules::elastic::{Datafeed, MlJob};
use tokio::sync::Mutex;

use crate::config::JobSpec;
use crate::jobs::builtin_job;
use crate::results::anomaly_record;
use crate::runner::{RunOptions, run_job};

/// Jobs run over the lake at `lake`, their state kept under `lake/_ml/`.
pub struct LakeAnomalySource {
    lake: PathBuf,
    /// One job run at a time: two rules on the same job must not both learn its buckets.
    running: Mutex<()>,
}

impl LakeAnomalySource {
    pub fn new(lake: impl Into<PathBuf>) -> LakeAnomalySource {
        LakeAnomalySource {
            lake: lake.into(),
            running: Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl AnomalySource for LakeAnomalySource {
    async fn anomalies(
        &self,
        job: &MlJob,
        datafeed: Option<&Datafeed>,
        window_start_nanos: i64,
        now_nanos: i64,
    ) -> Result<Vec<AnomalyRecord>, AnomalySourceError> {
        let error = |message: String| AnomalySourceError { message };
        let builtin;
        let datafeed = match datafeed {
            Some(feed) => feed,
            None => {
                builtin = builtin_job(&job.job_id)
                    .and_then(|d| d.datafeed)
                    .ok_or_else(|| {
                        error(format!(
                            "job '{}' has no datafeed (give one with a `kql` query)",
                            job.job_id
                        ))
                    })?;
                &builtin
            }
        };
        let spec = JobSpec::new(job, datafeed).map_err(|e| error(e.to_string()))?;
        let _guard = self.running.lock().await;
        let options = RunOptions {
            start: None,
            end: now_nanos,
            reset: false,
            target_partitions: None,
        };
        let (state, _) = run_job(&self.lake, &spec, &options)
            .await
            .map_err(|e| error(e.to_string()))?;
        Ok(state
            .records
            .iter()
            .filter(|r| r.bucket_start >= window_start_nanos && r.bucket_start <= now_nanos)
            .map(|r| anomaly_record(&spec, r))
            .collect())
    }
}
