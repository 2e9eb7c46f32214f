//! Advances the loaded ML jobs as their buckets close, whether or not a `machine_learning`
//! rule uses them, so that `MLAnomalies` stays current for KQL and for the rules.
//!
//! A job's bucket `[t, t + span)` is final once `now >= t + span + query_delay` (the delay
//! leaves time for late records to be ingested). Each job's model and next bucket are saved by
//! the ML crate after every run, so a restart resumes where the last finished run stopped and a
//! long downtime is caught up by a single run. Runs go through the same [`AnomalySource`] as the
//! rule runner, which serialises them: a job is never learnt by two runs at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use goshawk_ml::{JobDefinition, JobSpec};
use goshawk_rules::LoadedRule;
use goshawk_rules::anomaly::AnomalySource;
use tokio::sync::watch;

use crate::AppState;
use crate::metrics::Metrics;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A job the server keeps advancing.
struct ScheduledJob {
    definition: JobDefinition,
    span: i64,
    delay: i64,
}

/// What one advance did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvanceReport {
    pub job_id: String,
    /// The end of the last complete bucket the run processed up to (ns).
    pub complete_until: i64,
    pub outcome: Result<(), String>,
}

pub struct MlJobs {
    jobs: Vec<ScheduledJob>,
    /// Jobs that cannot run (no KQL datafeed, a bad bucket span) and why.
    pub unschedulable: Vec<(String, String)>,
    source: Arc<dyn AnomalySource>,
    /// Per job, the complete-bucket boundary of its last run in this process.
    advanced: HashMap<String, i64>,
    /// Per job, the last failure reported, so a job that keeps failing the same way (its table
    /// is not in the lake yet) is logged once rather than every tick.
    last_error: HashMap<String, String>,
}

/// The end of the last bucket that is final at `now`.
pub fn complete_until(now: i64, span: i64, delay: i64) -> i64 {
    (now - delay).div_euclid(span) * span
}

impl MlJobs {
    /// The jobs among `rules` (each with its datafeed from the same content, else the built-in
    /// datafeed of the same job id).
    pub fn new(rules: &[LoadedRule], source: Arc<dyn AnomalySource>) -> MlJobs {
        let mut jobs = Vec::new();
        let mut unschedulable = Vec::new();
        let definitions =
            goshawk_ml::jobs::pair_jobs(rules.iter().map(|rule| rule.document.clone()));
        for mut definition in definitions {
            let job_id = definition.job.job_id.clone();
            if definition.datafeed.is_none() {
                definition.datafeed = goshawk_ml::builtin_job(&job_id).and_then(|d| d.datafeed);
            }
            let Some(datafeed) = &definition.datafeed else {
                unschedulable.push((job_id, "the job has no datafeed".to_string()));
                continue;
            };
            match JobSpec::new(&definition.job, datafeed) {
                Ok(spec) if spec.bucket_span_seconds > 0 => jobs.push(ScheduledJob {
                    span: spec.bucket_span_seconds * NANOS_PER_SECOND,
                    delay: spec.query_delay_seconds.max(0) * NANOS_PER_SECOND,
                    definition,
                }),
                Ok(_) => unschedulable.push((job_id, "bucket_span is zero".to_string())),
                Err(err) => unschedulable.push((job_id, err.to_string())),
            }
        }
        MlJobs {
            jobs,
            unschedulable,
            source,
            advanced: HashMap::new(),
            last_error: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Runs every job that has a newly closed bucket at `now` (every job on the first tick, to
    /// catch up what closed while the server was down).
    pub async fn tick(
        &mut self,
        state: &AppState,
        now: i64,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Vec<AdvanceReport> {
        let mut reports = Vec::new();
        for job in &self.jobs {
            if stop.is_some_and(|s| *s.borrow()) {
                break;
            }
            let job_id = &job.definition.job.job_id;
            let until = complete_until(now, job.span, job.delay);
            if self.advanced.get(job_id).is_some_and(|done| *done >= until) {
                continue;
            }
            // The window starts at `now`: no bucket starts there yet, so the run only learns
            // and stores; the records stay in the job's state and MLAnomalies.
            let reading = state.lake_readers.read().await;
            let outcome = self
                .source
                .anomalies(
                    &job.definition.job,
                    job.definition.datafeed.as_ref(),
                    now,
                    now,
                )
                .await
                .map(|_| ())
                .map_err(|err| err.message);
            drop(reading);
            Metrics::add(&state.metrics.ml_job_runs, 1);
            if outcome.is_err() {
                Metrics::add(&state.metrics.ml_job_failures, 1);
            }
            // A failed run is not retried until the next bucket closes: the job's saved state
            // is unchanged, so that run catches up everything.
            self.advanced.insert(job_id.clone(), until);
            reports.push(AdvanceReport {
                job_id: job_id.clone(),
                complete_until: until,
                outcome,
            });
        }
        reports
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn run(
        mut self,
        state: Arc<AppState>,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            for report in self.tick(&state, crate::now_nanos(), Some(&stop)).await {
                let until = goshawk_kql_engine::time::format_datetime(report.complete_until);
                match report.outcome {
                    Ok(()) => {
                        self.last_error.remove(&report.job_id);
                        eprintln!(
                            "goshawk serve: ML job {} advanced to {until}",
                            report.job_id
                        );
                    }
                    Err(reason) => {
                        if self.last_error.get(&report.job_id) != Some(&reason) {
                            eprintln!(
                                "goshawk serve: ML job {} could not advance to {until}: {reason}",
                                report.job_id
                            );
                            self.last_error.insert(report.job_id, reason);
                        }
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600 * NANOS_PER_SECOND;

    #[test]
    fn a_bucket_is_final_only_after_its_query_delay() {
        let delay = 90 * NANOS_PER_SECOND;
        // 10:00:30: the 09:00 bucket closed at 10:00 but its delay runs until 10:01:30.
        assert_eq!(
            complete_until(10 * H + 30 * NANOS_PER_SECOND, H, delay),
            9 * H
        );
        assert_eq!(
            complete_until(10 * H + 90 * NANOS_PER_SECOND, H, delay),
            10 * H
        );
        assert_eq!(complete_until(10 * H, H, 0), 10 * H);
    }
}
