//! Counters and the query latency histogram, rendered in the Prometheus text format.
//!
//! A dozen atomics do not justify a metrics framework; the text format is small and stable.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the query latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub records_ingested: AtomicU64,
    pub records_rejected: AtomicU64,
    pub files_processed: AtomicU64,
    pub files_failed: AtomicU64,
    pub rule_runs: AtomicU64,
    pub rule_failures: AtomicU64,
    pub alerts_created: AtomicU64,
    pub ml_job_runs: AtomicU64,
    pub ml_job_failures: AtomicU64,
    pub queries_failed: AtomicU64,
    pub queries_timed_out: AtomicU64,
    pub requests_unauthorized: AtomicU64,
    latency: Histogram,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn observe_query(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.latency.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 12] = [
            (
                "goshawk_records_ingested_total",
                "Records written to the lake from inbox files.",
                &self.records_ingested,
            ),
            (
                "goshawk_records_rejected_total",
                "Records of inbox files that went to the lake's rejects.",
                &self.records_rejected,
            ),
            (
                "goshawk_inbox_files_processed_total",
                "Inbox files ingested and moved to processed/.",
                &self.files_processed,
            ),
            (
                "goshawk_inbox_files_failed_total",
                "Inbox files moved to failed/.",
                &self.files_failed,
            ),
            (
                "goshawk_rule_runs_total",
                "Scheduled rule runs.",
                &self.rule_runs,
            ),
            (
                "goshawk_rule_failures_total",
                "Scheduled rule runs that failed.",
                &self.rule_failures,
            ),
            (
                "goshawk_alerts_created_total",
                "Alerts written to the alert store.",
                &self.alerts_created,
            ),
            (
                "goshawk_ml_job_runs_total",
                "ML job runs that advanced a job over newly closed buckets.",
                &self.ml_job_runs,
            ),
            (
                "goshawk_ml_job_failures_total",
                "ML job runs that failed.",
                &self.ml_job_failures,
            ),
            (
                "goshawk_queries_failed_total",
                "Queries that returned an error (including timeouts).",
                &self.queries_failed,
            ),
            (
                "goshawk_queries_timed_out_total",
                "Queries stopped by the query timeout.",
                &self.queries_timed_out,
            ),
            (
                "goshawk_requests_unauthorized_total",
                "Requests refused for a missing or wrong bearer token.",
                &self.requests_unauthorized,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "goshawk_query_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to plan and run a query of the REST API."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bucket) in self.latency.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let bound = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let sum = self.latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(
            out,
            "{name}_count {}",
            self.latency.count.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::default();
        metrics.observe_query(Duration::from_millis(3));
        metrics.observe_query(Duration::from_millis(70));
        metrics.observe_query(Duration::from_secs(60));
        Metrics::add(&metrics.records_ingested, 5);
        let text = metrics.render();
        assert!(
            text.contains("goshawk_records_ingested_total 5\n"),
            "{text}"
        );
        assert!(text.contains("_bucket{le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("_bucket{le=\"0.1\"} 2\n"), "{text}");
        assert!(text.contains("_bucket{le=\"30\"} 2\n"), "{text}");
        assert!(text.contains("_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(
            text.contains("goshawk_query_duration_seconds_count 3\n"),
            "{text}"
        );
    }
}
