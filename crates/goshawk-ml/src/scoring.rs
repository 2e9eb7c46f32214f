//! From a probability to Elastic's scores: the raw score, and the record_score that normalises
//! it against the job's history (with its three ceilings).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A record is written only for a probability below this.
pub const WRITE_THRESHOLD: f64 = 0.035;

/// Probabilities at or above this are not anomalous at all (raw score 0).
const NOT_ANOMALOUS: f64 = 0.05;
const SMALL: f64 = 1e-4;
const TINY: f64 = 1e-50;
/// The smallest positive normal f64, where the log scale of the top band ends.
const SMALLEST: f64 = f64::MIN_POSITIVE;

/// The raw anomaly score (0..100) of a probability: 0 above 0.05, then linear in 1/p up to 1
/// at 1e-4, then linear in -ln p up to 50 at 1e-50, then to 100 at the smallest f64.
pub fn raw_score(p: f64) -> f64 {
    if p.is_nan() || p >= NOT_ANOMALOUS {
        return 0.0;
    }
    if p >= SMALL {
        return (1.0 / p - 20.0) / (10_000.0 - 20.0);
    }
    let ln = |x: f64| x.ln();
    if p >= TINY {
        return 1.0 + 49.0 * (-ln(p) - ln(1e4)) / (ln(1e50) - ln(1e4));
    }
    let p = p.max(SMALLEST);
    (50.0 + 50.0 * (-ln(p) - ln(1e50)) / (-ln(SMALLEST) - ln(1e50))).min(100.0)
}

/// The knots that map a percentile of the score history to a normalised score.
const KNOTS: [(f64, f64); 9] = [
    (0.0, 0.0),
    (70.0, 1.0),
    (85.0, 1.2),
    (90.0, 1.5),
    (95.0, 3.0),
    (97.0, 20.0),
    (99.0, 50.0),
    (99.9, 90.0),
    (100.0, 100.0),
];

/// The normalised score of a percentile (0..100), piecewise linear through [`KNOTS`].
pub fn percentile_to_score(percentile: f64) -> f64 {
    let q = percentile.clamp(0.0, 100.0);
    for pair in KNOTS.windows(2) {
        let ((q0, s0), (q1, s1)) = (pair[0], pair[1]);
        if q <= q1 {
            return s0 + (s1 - s0) * (q - q0) / (q1 - q0);
        }
    }
    100.0
}

/// Ceiling 2: how the raw score compares with the largest raw score seen for the same value.
pub fn relative_ceiling(raw: f64, max_raw_for_value: f64) -> f64 {
    if max_raw_for_value <= 0.0 {
        return 100.0;
    }
    let r = (raw / max_raw_for_value).clamp(0.0, 1.0);
    100.0 * (1.5 * r).min(0.5 + 0.5 * r)
}

/// Ceiling 3: an absolute cap from the probability alone, so that a job with a short history
/// cannot call a mildly unusual value critical. 100 * (0.95 * M * (ln p - ln 0.05) + 0.05) with
/// M = 1 / (ln 1e-4 - ln 0.05): 10.4 at the write threshold, 50 at p of about 2.6e-3, 100 at 1e-4.
pub fn probability_ceiling(p: f64) -> f64 {
    if p <= 0.0 {
        return 100.0;
    }
    let m = 1.0 / (SMALL.ln() - NOT_ANOMALOUS.ln());
    (100.0 * (0.95 * m * (p.ln() - NOT_ANOMALOUS.ln()) + 0.05)).clamp(0.0, 100.0)
}

/// The record_score: the smallest of the three ceilings, rounded to what Elastic shows.
pub fn record_score(percentile: f64, raw: f64, max_raw_for_value: f64, p: f64) -> f64 {
    percentile_to_score(percentile)
        .min(relative_ceiling(raw, max_raw_for_value))
        .min(probability_ceiling(p))
}

/// Every raw score the job has produced, as a histogram: exact zeros counted apart, positive
/// scores in logarithmic bins of 1 % width so the history stays small however long the job
/// runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistory {
    pub zeros: u64,
    pub bins: BTreeMap<i32, u64>,
}

impl ScoreHistory {
    fn bin(raw: f64) -> i32 {
        // ln(raw) / ln(1.01): raw scores lie in (0, 100], so the bin fits easily in an i32.
        (raw.ln() / 1.01f64.ln()).floor() as i32
    }

    pub fn add(&mut self, raw: f64) {
        if raw <= 0.0 {
            self.zeros += 1;
        } else {
            *self.bins.entry(Self::bin(raw)).or_insert(0) += 1;
        }
    }

    pub fn len(&self) -> u64 {
        self.zeros + self.bins.values().sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The percentage of the history at or below `raw` (100 for a new maximum).
    pub fn percentile(&self, raw: f64) -> f64 {
        let total = self.len();
        if total == 0 {
            return 100.0;
        }
        let at_or_below = if raw <= 0.0 {
            self.zeros
        } else {
            let bin = Self::bin(raw);
            self.zeros + self.bins.range(..=bin).map(|(_, n)| n).sum::<u64>()
        };
        100.0 * at_or_below as f64 / total as f64
    }

    /// The largest raw score in the history (the lower edge of its bin).
    pub fn max(&self) -> f64 {
        self.bins
            .keys()
            .next_back()
            .map_or(0.0, |&bin| 1.01f64.powi(bin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn raw_score_bands_are_continuous() {
        assert_eq!(raw_score(0.05), 0.0);
        assert_eq!(raw_score(0.2), 0.0);
        assert!(close(raw_score(0.049_999_999), 0.0, 1e-9));
        assert!(close(raw_score(0.01), (100.0 - 20.0) / 9980.0, 1e-15));
        assert!(close(raw_score(1e-4), 1.0, 1e-12));
        assert!(close(raw_score(0.999_999e-4), 1.0, 1e-5));
        assert!(close(raw_score(1e-50), 50.0, 1e-9));
        assert!(close(raw_score(1e-27), 1.0 + 49.0 * 23.0 / 46.0, 1e-9));
        assert!(raw_score(1e-100) > 50.0 && raw_score(1e-100) < 100.0);
        assert_eq!(raw_score(0.0), 100.0);
    }

    #[test]
    fn percentile_knots() {
        assert_eq!(percentile_to_score(0.0), 0.0);
        assert!(close(percentile_to_score(70.0), 1.0, 1e-12));
        assert!(close(percentile_to_score(96.0), 11.5, 1e-12));
        assert!(close(percentile_to_score(99.0), 50.0, 1e-12));
        assert!(close(percentile_to_score(99.45), 70.0, 1e-9));
        assert_eq!(percentile_to_score(100.0), 100.0);
    }

    #[test]
    fn the_three_ceilings() {
        // Ceiling 2: 100 min(1.5 r, 0.5 + 0.5 r).
        assert_eq!(relative_ceiling(1.0, 1.0), 100.0);
        assert!(close(relative_ceiling(0.5, 1.0), 75.0, 1e-12));
        assert!(close(relative_ceiling(0.2, 1.0), 30.0, 1e-12));
        assert!(close(relative_ceiling(0.5, 0.0), 100.0, 1e-12));
        // Ceiling 3: 50 at p of about 2.6e-3, 100 at 1e-4, about 10.4 at the write threshold.
        assert!(close(probability_ceiling(2.6e-3), 50.0, 0.3));
        let p50 = (0.05f64.ln() + (0.45 / 0.95) * (1e-4f64.ln() - 0.05f64.ln())).exp();
        assert!(close(probability_ceiling(p50), 50.0, 1e-9));
        assert!(close(p50, 2.6e-3, 0.05e-3), "{p50}");
        assert!(close(probability_ceiling(1e-4), 100.0, 1e-9));
        assert_eq!(probability_ceiling(1e-9), 100.0);
        assert!(close(probability_ceiling(WRITE_THRESHOLD), 10.45, 0.01));
        // Ceiling 1: the percentile through the knots; the record_score is the smallest.
        assert!(close(record_score(99.0, 1.0, 1.0, 1e-6), 50.0, 1e-9));
        assert!(close(record_score(100.0, 0.5, 1.0, 1e-6), 75.0, 1e-9));
        assert!(close(record_score(100.0, 1.0, 1.0, 2.6e-3), 50.0, 0.3));
    }

    #[test]
    fn history_percentiles() {
        let mut history = ScoreHistory::default();
        for _ in 0..97 {
            history.add(0.0);
        }
        history.add(0.004);
        history.add(0.01);
        history.add(0.5);
        assert_eq!(history.len(), 100);
        assert_eq!(history.percentile(0.0), 97.0);
        assert_eq!(history.percentile(0.004), 98.0);
        assert_eq!(history.percentile(0.5), 100.0);
        assert_eq!(history.percentile(1.0), 100.0);
        assert!(close(history.max(), 0.5, 0.01));
    }
}
