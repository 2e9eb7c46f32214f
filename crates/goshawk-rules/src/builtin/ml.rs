//! The built-in Elastic-style anomaly-detection jobs and their datafeeds (JSON under
//! `builtin/ml/`), which the built-in machine_learning rules name by job id.

/// `(origin, text)` of every built-in job and datafeed file.
pub(super) const FILES: &[(&str, &str)] = &[];
