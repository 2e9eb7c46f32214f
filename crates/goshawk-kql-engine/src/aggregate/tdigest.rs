//! T-Digest sketches: the `tdigest(x [, weight])` and `tdigest_merge(digest)` aggregates, and
//! the [`TDigest`] value the scalar functions `percentile_tdigest`, `percentiles_array_tdigest`,
//! `rank_tdigest` and `merge_tdigest` read.
//!
//! A digest is a dynamic value `["tdigest", [means...], [weights...]]`: centroids sorted by
//! mean. Centroids are merged only while the digest has more than [`COMPRESSION`] of them, with
//! the usual arcsine scale limit, so small inputs stay exact and answer like `percentile`
//! (nearest rank); large ones keep a few hundred centroids, most precise at the tails.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::Accumulator;
use goshawk_types::KustoType;
use serde_json::Value;

use super::{AggregateCall, KustoAggregate};
use crate::error::EngineError;
use crate::format::string_value;
use crate::scalar::{is_numeric, returns, to_long_array, to_real_array};

/// Centroids kept before merging (Kusto's T-Digest compression is of the same order).
const COMPRESSION: usize = 200;

/// A T-Digest: centroids `(mean, weight)` sorted by mean.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TDigest {
    centroids: Vec<(f64, f64)>,
}

impl TDigest {
    /// Adds one value with its weight (not yet compressed).
    pub fn add(&mut self, value: f64, weight: f64) {
        if value.is_finite() && weight > 0.0 {
            self.centroids.push((value, weight));
        }
    }

    /// Adds every centroid of `other`.
    pub fn merge(&mut self, other: &TDigest) {
        self.centroids.extend_from_slice(&other.centroids);
    }

    /// Sorts the centroids and merges neighbours while there are more than the compression
    /// allows; equal means always merge.
    pub fn compress(&mut self) {
        self.centroids.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(self.centroids.len());
        for &(mean, weight) in &self.centroids {
            match merged.last_mut() {
                Some(last) if last.0 == mean => last.1 += weight,
                _ => merged.push((mean, weight)),
            }
        }
        if merged.len() > COMPRESSION {
            let total: f64 = merged.iter().map(|c| c.1).sum();
            let delta = COMPRESSION as f64;
            let scale = |q: f64| delta / (2.0 * std::f64::consts::PI) * (2.0 * q - 1.0).asin();
            let mut out: Vec<(f64, f64)> = Vec::with_capacity(COMPRESSION);
            let mut before = 0.0;
            let mut current = merged[0];
            for &(mean, weight) in &merged[1..] {
                let q_left = before / total;
                let q_right = (before + current.1 + weight) / total;
                if scale(q_right.min(1.0)) - scale(q_left) <= 1.0 {
                    let combined = current.1 + weight;
                    current = (current.0 + (mean - current.0) * weight / combined, combined);
                } else {
                    before += current.1;
                    out.push(current);
                    current = (mean, weight);
                }
            }
            out.push(current);
            merged = out;
        }
        self.centroids = merged;
    }

    fn total(&self) -> f64 {
        self.centroids.iter().map(|c| c.1).sum()
    }

    /// The nearest-rank percentile: the mean of the first centroid whose cumulative weight
    /// reaches `percent`% of the total; `None` for an empty digest.
    pub fn percentile(&self, percent: f64) -> Option<f64> {
        let wanted = (percent.clamp(0.0, 100.0) / 100.0 * self.total())
            .ceil()
            .max(1.0);
        let mut running = 0.0;
        for &(mean, weight) in &self.centroids {
            running += weight;
            if running >= wanted - 1e-9 {
                return Some(mean);
            }
        }
        self.centroids.last().map(|c| c.0)
    }

    /// The weight of the values at or below `value`; a centroid straddling `value` counts in
    /// proportion to where `value` falls between its neighbours' means.
    pub fn rank(&self, value: f64) -> Option<f64> {
        if self.centroids.is_empty() {
            return None;
        }
        let mut rank = 0.0;
        for (i, &(mean, weight)) in self.centroids.iter().enumerate() {
            if mean <= value {
                rank += weight;
                continue;
            }
            if weight > 1.0 && i > 0 {
                let previous = self.centroids[i - 1].0;
                if value > previous {
                    rank += weight * (value - previous) / (mean - previous) / 2.0;
                }
            }
            break;
        }
        Some(rank)
    }

    /// The digest as Kusto's dynamic value.
    pub fn to_json(&self) -> Value {
        let means: Vec<Value> = self
            .centroids
            .iter()
            .map(|c| serde_json::Number::from_f64(c.0).map_or(Value::Null, Value::Number))
            .collect();
        let weights: Vec<Value> = self
            .centroids
            .iter()
            .map(|c| serde_json::Number::from_f64(c.1).map_or(Value::Null, Value::Number))
            .collect();
        Value::Array(vec![
            Value::from("tdigest"),
            Value::Array(means),
            Value::Array(weights),
        ])
    }

    /// Reads a value written by [`TDigest::to_json`]; `None` if it is not a digest.
    pub fn from_json(value: &Value) -> Option<TDigest> {
        let [tag, means, weights] = value.as_array()?.as_slice() else {
            return None;
        };
        if tag.as_str() != Some("tdigest") {
            return None;
        }
        let (means, weights) = (means.as_array()?, weights.as_array()?);
        if means.len() != weights.len() {
            return None;
        }
        let centroids = means
            .iter()
            .zip(weights)
            .map(|(m, w)| Some((m.as_f64()?, w.as_f64()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(TDigest { centroids })
    }

    /// Reads a digest from dynamic text.
    pub fn from_text(text: &str) -> Option<TDigest> {
        TDigest::from_json(&crate::dynamic::parse_lenient(text))
    }
}

/// `tdigest(x [, weight])` (`merging` false) or `tdigest_merge(digest)` (`merging` true).
#[derive(Debug)]
struct Sketch {
    name: &'static str,
    merging: bool,
    types: Vec<KustoType>,
    digest: TDigest,
}

impl Sketch {
    fn absorb_text(&mut self, text: &str) -> DFResult<()> {
        let other = TDigest::from_text(text).ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(format!(
                "{}: the value is not a tdigest",
                self.name
            ))
        })?;
        self.digest.merge(&other);
        if self.digest.centroids.len() > 4 * COMPRESSION {
            self.digest.compress();
        }
        Ok(())
    }
}

impl Accumulator for Sketch {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        if self.merging {
            for row in 0..values[0].len() {
                if let Some(text) = string_value(values[0].as_ref(), row) {
                    self.absorb_text(text)?;
                }
            }
            return Ok(());
        }
        let xs = to_real_array(&values[0], self.types[0])?;
        let weights = match values.get(1) {
            Some(w) => Some(to_long_array(w, self.types[1])?),
            None => None,
        };
        for row in 0..xs.len() {
            if xs.is_null(row) {
                continue;
            }
            let weight = match &weights {
                Some(w) if w.is_valid(row) => w.value(row) as f64,
                Some(_) => continue,
                None => 1.0,
            };
            self.digest.add(xs.value(row), weight);
        }
        if self.digest.centroids.len() > 4 * COMPRESSION {
            self.digest.compress();
        }
        Ok(())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        self.digest.compress();
        Ok(ScalarValue::Utf8(
            (!self.digest.centroids.is_empty()).then(|| self.digest.to_json().to_string()),
        ))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.digest.centroids.capacity() * 16
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        self.digest.compress();
        Ok(vec![ScalarValue::Binary(Some(
            self.digest.to_json().to_string().into_bytes(),
        ))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let binary = states
            .first()
            .and_then(|s| arrow::array::AsArray::as_binary_opt::<i32>(s.as_ref()))
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!(
                    "{}: unreadable partial state",
                    self.name
                ))
            })?;
        for bytes in binary.iter().flatten() {
            let text = std::str::from_utf8(bytes).unwrap_or_default();
            self.absorb_text(text)?;
        }
        Ok(())
    }
}

fn sketch(name: &'static str, merging: bool) -> KustoAggregate {
    let (min, max) = if merging { (1, 1) } else { (1, 2) };
    KustoAggregate::new(
        name,
        min,
        Some(max),
        Arc::new(move |name, args| {
            let ty = args.first().copied().unwrap_or(KustoType::Dynamic);
            let ok = if merging {
                ty == KustoType::Dynamic
            } else {
                is_numeric(ty) || ty == KustoType::Dynamic
            };
            if !ok {
                return Err(EngineError::ArgumentType {
                    name: name.to_string(),
                    position: 1,
                    expected: if merging { "a tdigest" } else { "a number" }.to_string(),
                    got: ty.to_string(),
                });
            }
            returns(KustoType::Dynamic)(name, args)
        }),
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(Sketch {
                name,
                merging,
                types: call.types.clone(),
                digest: TDigest::default(),
            }) as Box<dyn Accumulator>)
        }),
    )
}

pub(super) fn functions() -> Vec<KustoAggregate> {
    vec![sketch("tdigest", false), sketch("tdigest_merge", true)]
}

#[cfg(test)]
mod tests {
    use super::TDigest;

    #[test]
    fn small_digests_are_exact_and_large_ones_close() {
        let mut weighted = TDigest::default();
        weighted.add(1.0, 1.0);
        weighted.add(2.0, 2.0);
        weighted.compress();
        assert_eq!(weighted.percentile(50.0), Some(2.0));
        let mut big = TDigest::default();
        for v in 1..=100_000 {
            big.add(f64::from(v), 1.0);
        }
        big.compress();
        assert!(big.centroids.len() <= super::COMPRESSION);
        let rank = big.rank(68_500.0).unwrap_or_default();
        assert!((rank - 68_500.0).abs() < 1_000.0, "{rank}");
        let median = big.percentile(50.0).unwrap_or_default();
        assert!((median - 50_000.0).abs() < 1_000.0, "{median}");
        assert_eq!(big.percentile(100.0), Some(100_000.0));
        let round_trip = TDigest::from_json(&big.to_json());
        assert_eq!(round_trip.as_ref(), Some(&big));
    }
}
