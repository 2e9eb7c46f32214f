//! The statistical models behind the detector functions: the Dirichlet-multinomial model of
//! `rare`/`freq_rare` and the decayed-moment model of the counting functions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::beta::beta_quantile;

/// The model's ageing rate per half hour of bucket span (Elastic's default decay rate).
pub const DECAY_RATE: f64 = 0.0005;

/// How much the model keeps of its past after one non-empty bucket of `bucket_seconds`:
/// `exp(-0.0005 * min(1, bucket_seconds / 1800))`.
pub fn decay_factor(bucket_seconds: i64) -> f64 {
    let fraction = (bucket_seconds as f64 / 1800.0).min(1.0);
    (-DECAY_RATE * fraction).exp()
}

/// How many quantile points of the Beta marginal the probability averages over: fewer as the
/// model grows, because the marginal narrows and each point costs a quantile inversion.
pub fn quantile_points(total: f64) -> usize {
    if total <= 100.0 {
        7
    } else if total <= 1000.0 {
        5
    } else if total <= 10000.0 {
        3
    } else {
        1
    }
}

/// One partition's Dirichlet-multinomial model: a concentration per value seen and their sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RareModel {
    /// a_v per value; BTreeMap so that snapshots are byte-stable.
    pub concentrations: BTreeMap<String, f64>,
    /// A = sum of a_v (kept rather than recomputed so that decay is O(1) per value).
    pub total: f64,
    /// Non-empty buckets the model has learnt from.
    pub buckets: u64,
    /// Start of the first bucket the model learnt from (Unix ns).
    pub first_bucket_start: Option<i64>,
}

impl RareModel {
    /// Learns one non-empty bucket: each present value adds its increment (1 for presence),
    /// then everything ages by one bucket. Empty buckets must not be passed: they do not age
    /// the model.
    pub fn update<'a>(
        &mut self,
        present: impl IntoIterator<Item = (&'a str, f64)>,
        bucket_start: i64,
        bucket_seconds: i64,
    ) {
        let mut any = false;
        for (value, increment) in present {
            any = true;
            // Most present values are known: look up before allocating a key.
            match self.concentrations.get_mut(value) {
                Some(a) => *a += increment,
                None => {
                    self.concentrations.insert(value.to_string(), increment);
                }
            }
            self.total += increment;
        }
        if !any {
            return;
        }
        let factor = decay_factor(bucket_seconds);
        for a in self.concentrations.values_mut() {
            *a *= factor;
        }
        self.total *= factor;
        self.buckets += 1;
        self.first_bucket_start.get_or_insert(bucket_start);
    }

    /// a_v, 0 for a value never seen.
    pub fn concentration(&self, value: &str) -> f64 {
        self.concentrations.get(value).copied().unwrap_or(0.0)
    }

    /// The sorted category probabilities with their cumulative sums, computed once per bucket
    /// and shared by every value scored in it.
    pub fn distribution(&self) -> Distribution {
        let mut ps: Vec<f64> = if self.total > 0.0 {
            self.concentrations
                .values()
                .map(|a| a / self.total)
                .collect()
        } else {
            Vec::new()
        };
        ps.sort_by(f64::total_cmp);
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(ps.len());
        let mut cumulative = 0.0;
        for p in ps {
            cumulative += p;
            match points.last_mut() {
                // Ties share the cumulative value of the whole tie group.
                Some(last) if same(last.0, p) => last.1 = cumulative,
                _ => points.push((p, cumulative)),
            }
        }
        Distribution { points }
    }

    /// P(v): the probability of seeing a value no more likely than `value`, after the model
    /// has learnt the current bucket.
    pub fn probability(&self, distribution: &Distribution, value: &str) -> f64 {
        distribution.probability(self.concentration(value), self.total)
    }
}

/// Whether two category probabilities are the same value (identical histories give identical
/// floating-point results; the tolerance only absorbs summation order).
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Sorted distinct category probabilities `p` and `P(p)`, the sum of every p_u <= p.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    points: Vec<(f64, f64)>,
}

impl Distribution {
    /// P at an arbitrary probability `x`, linear between neighbouring category probabilities
    /// (and from (0, 0) to the smallest).
    pub fn cumulative_at(&self, x: f64) -> f64 {
        let upper = self.points.partition_point(|&(p, _)| p <= x);
        if upper == self.points.len() {
            // At or above the largest category every category is no more likely: P is 1
            // (the cumulative sum only differs from it by rounding).
            return 1.0;
        }
        let (p1, c1) = self.points[upper];
        let (p0, c0) = if upper == 0 {
            (0.0, 0.0)
        } else {
            self.points[upper - 1]
        };
        if p1 <= p0 {
            return c1;
        }
        c0 + (c1 - c0) * (x - p0) / (p1 - p0)
    }

    /// P(v) for a value with concentration `a` in a model of total `total`: the mean of P over
    /// quantile points of the Beta(a, total - a) marginal of p_v.
    pub fn probability(&self, a: f64, total: f64) -> f64 {
        let rest = total - a;
        if a <= 0.0 || total <= 0.0 {
            return 0.0;
        }
        if rest <= 1e-12 * total {
            return 1.0;
        }
        let n = quantile_points(total);
        let mut sum = 0.0;
        for i in 0..n {
            let level = (2 * i + 1) as f64 / (2 * n) as f64;
            sum += self.cumulative_at(beta_quantile(level, a, rest));
        }
        (sum / n as f64).clamp(0.0, 1.0)
    }
}

/// Exponentially decayed moments of a per-bucket quantity (event count or distinct count) for
/// one entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountModel {
    pub weight: f64,
    pub sum: f64,
    pub sum_squares: f64,
    /// Buckets learnt.
    pub buckets: u64,
}

/// Which tail of the counting model is anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    High,
    Low,
    Both,
}

/// Buckets a counting model needs before it scores: its mean and variance mean little before.
pub const COUNT_WARM_UP_BUCKETS: u64 = 24;

impl CountModel {
    pub fn mean(&self) -> f64 {
        if self.weight > 0.0 {
            self.sum / self.weight
        } else {
            0.0
        }
    }

    /// The variance, floored at the mean (a Poisson count varies at least that much) and at a
    /// quarter so that a constant history does not make every change infinitely unlikely.
    pub fn variance(&self) -> f64 {
        let mean = self.mean();
        let raw = if self.weight > 0.0 {
            (self.sum_squares / self.weight - mean * mean).max(0.0)
        } else {
            0.0
        };
        raw.max(mean).max(0.25)
    }

    /// The probability of a value at least as extreme as `x` on `tail` (normal approximation
    /// with a continuity correction), before the model learns `x`.
    pub fn probability(&self, x: f64, tail: Tail) -> f64 {
        let mean = self.mean();
        let sd = self.variance().sqrt();
        let upper = 0.5 * libm::erfc((x - 0.5 - mean) / (sd * std::f64::consts::SQRT_2));
        let lower = 0.5 * libm::erfc((mean - x - 0.5) / (sd * std::f64::consts::SQRT_2));
        let p = match tail {
            Tail::High => upper,
            Tail::Low => lower,
            Tail::Both => 2.0 * upper.min(lower),
        };
        p.clamp(0.0, 1.0)
    }

    pub fn update(&mut self, x: f64, bucket_seconds: i64) {
        let factor = decay_factor(bucket_seconds);
        self.weight = (self.weight + 1.0) * factor;
        self.sum = (self.sum + x) * factor;
        self.sum_squares = (self.sum_squares + x * x) * factor;
        self.buckets += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn decay_is_per_half_hour_capped_at_one() {
        assert_eq!(decay_factor(3600), (-0.0005f64).exp());
        assert_eq!(decay_factor(1800), (-0.0005f64).exp());
        assert_eq!(decay_factor(900), (-0.00025f64).exp());
        assert_eq!(decay_factor(86_400), (-0.0005f64).exp());
        assert!((decay_factor(3600) - 0.999_500_124_979_17).abs() < 1e-15);
    }

    #[test]
    fn update_adds_presence_then_ages_everything() {
        let mut model = RareModel::default();
        model.update([("a", 1.0), ("b", 1.0)], 0, HOUR);
        let f = decay_factor(HOUR);
        assert_eq!(model.concentration("a"), f);
        assert_eq!(model.total, 2.0 * f);
        model.update([("a", 1.0)], HOUR, HOUR);
        assert!((model.concentration("a") - (f + 1.0) * f).abs() < 1e-15);
        assert!((model.concentration("b") - f * f).abs() < 1e-15);
        assert!((model.total - (2.0 * f + 1.0) * f).abs() < 1e-15);
        assert_eq!(model.buckets, 2);
        // An empty bucket does not age the model.
        let before = model.clone();
        model.update(std::iter::empty(), 2 * HOUR, HOUR);
        assert_eq!(model, before);
    }

    #[test]
    fn quantile_point_counts_follow_the_total() {
        assert_eq!(quantile_points(60.0), 7);
        assert_eq!(quantile_points(100.0), 7);
        assert_eq!(quantile_points(100.5), 5);
        assert_eq!(quantile_points(1000.0), 5);
        assert_eq!(quantile_points(5000.0), 3);
        assert_eq!(quantile_points(10_000.5), 1);
    }

    #[test]
    fn ties_share_the_cumulative_value_and_interpolation_is_linear() {
        let mut model = RareModel::default();
        model.update([("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)], 0, HOUR);
        model.update([("c", 1.0), ("d", 1.0)], HOUR, HOUR);
        model.update([("d", 1.0)], 2 * HOUR, HOUR);
        let dist = model.distribution();
        let pa = model.concentration("a") / model.total;
        let pc = model.concentration("c") / model.total;
        // a and b tie: both get p_a + p_b.
        assert!((dist.cumulative_at(pa) - 2.0 * pa).abs() < 1e-12);
        assert!((dist.cumulative_at(pa / 2.0) - pa).abs() < 1e-12);
        let mid = (pa + pc) / 2.0;
        assert!((dist.cumulative_at(mid) - (2.0 * pa + 0.5 * pc)).abs() < 1e-12);
        assert_eq!(dist.cumulative_at(1.0), 1.0);
    }

    /// A value seen for the first time among many well-spread values scores about 1/A.
    #[test]
    fn first_seen_value_scores_about_one_over_total() {
        let mut model = RareModel::default();
        // 40 values, value i present in (i+1)/40 of 200 buckets: a spread of frequencies.
        for bucket in 0..200i64 {
            let present: Vec<(String, f64)> = (0..40)
                .filter(|i| (bucket * (i + 1)) % 40 < i + 1)
                .map(|i| (format!("v{i}"), 1.0))
                .collect();
            model.update(
                present.iter().map(|(v, n)| (v.as_str(), *n)),
                bucket * HOUR,
                HOUR,
            );
        }
        model.update([("new", 1.0)], 200 * HOUR, HOUR);
        let p = model.probability(&model.distribution(), "new");
        let one_over_total = 1.0 / model.total;
        assert!(
            model.total > 3800.0 && model.total < 4200.0,
            "{}",
            model.total
        );
        assert!(
            p > 0.5 * one_over_total && p < 2.0 * one_over_total,
            "P {p} vs 1/A {one_over_total}"
        );
    }

    /// Ten values present in every one of `buckets` buckets, then a new value. Buckets of 0 s
    /// do not decay, so every concentration is a whole number and P has a closed form.
    fn ten_values_then_new(buckets: i64) -> (RareModel, f64) {
        let mut model = RareModel::default();
        let names: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        for bucket in 0..buckets {
            model.update(names.iter().map(|n| (n.as_str(), 1.0)), bucket, 0);
        }
        model.update([("new", 1.0)], buckets, 0);
        let p = model.probability(&model.distribution(), "new");
        (model, p)
    }

    #[test]
    fn first_seen_probability_after_given_histories() {
        // A = 10 011 > 10 000: one point, the median of Beta(1, 10 010), below p_new = 1/A,
        // where P(x) = x.
        let (model, p) = ten_values_then_new(1001);
        assert_eq!(model.total, 10_011.0);
        let median = 1.0 - 0.5f64.powf(1.0 / 10_010.0);
        assert!((p - median).abs() < 1e-12, "{p} vs {median}");
        assert!((p - 6.9245e-5).abs() < 1e-8, "{p}");
        // A = 1011: three points (levels 1/6, 1/2, 5/6) of Beta(1, 1010); above p_new = 1/A,
        // P rises linearly to 1 at the ten tied values' p = 101/1011.
        let (model, p) = ten_values_then_new(101);
        assert_eq!(model.total, 1011.0);
        let (p_new, p_next) = (1.0 / 1011.0, 101.0 / 1011.0);
        let big_p = |x: f64| {
            if x <= p_new {
                x
            } else {
                p_new + (x - p_new) * (1.0 - p_new) / (p_next - p_new)
            }
        };
        let expected = [1.0 / 6.0, 0.5, 5.0 / 6.0]
            .iter()
            .map(|q| big_p(1.0 - (1.0f64 - q).powf(1.0 / 1010.0)))
            .sum::<f64>()
            / 3.0;
        assert!((p - expected).abs() < 1e-9, "{p} vs {expected}");
        assert!((p - 3.2558e-3).abs() < 0.0001e-3, "{p}");
    }

    #[test]
    fn a_lone_value_has_probability_one() {
        let mut model = RareModel::default();
        model.update([("only", 1.0)], 0, HOUR);
        assert_eq!(model.probability(&model.distribution(), "only"), 1.0);
    }

    #[test]
    fn count_model_tails() {
        let mut model = CountModel::default();
        for i in 0..100 {
            model.update(f64::from(3 + (i % 3)), HOUR);
        }
        assert!((model.mean() - 4.0).abs() < 0.05);
        assert!(model.probability(20.0, Tail::High) < 1e-6);
        assert!(model.probability(4.0, Tail::High) > 0.3);
        assert!(model.probability(0.0, Tail::Low) < 0.05);
        assert!(model.probability(20.0, Tail::Low) > 0.99);
        assert!(model.probability(20.0, Tail::Both) < 2e-6);
    }
}
