//! The distinct counter behind `dcount`/`dcountif`: exact below a threshold, HyperLogLog above.
//!
//! Values are hashed to 64 bits with a fixed-seed hash, so results are repeatable. Up to
//! `2^p / 16` distinct hashes (1,024 at Kusto's default accuracy level 1) are kept in a set and
//! counted exactly, like the sparse phase of HLL++. Beyond that the counter switches to `2^p`
//! HyperLogLog registers and estimates with Ertl's improved estimator ("New cardinality
//! estimation algorithms for HyperLogLog sketches", 2017), which needs no empirical bias
//! tables. The relative standard error is `1.04 / sqrt(2^p)`, matching Kusto's documented
//! accuracy levels: level 0 p=12 (1.6%), 1 p=14 (0.8%), 2 p=16 (0.4%), 3 p=17 (0.28%),
//! 4 p=18 (0.2%).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use ahash::RandomState;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, DurationNanosecondType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampNanosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use goshawk_types::KustoType;

use crate::format::value_at;

/// The HyperLogLog precision (log2 of the register count) for a Kusto accuracy level 0-4.
pub fn accuracy_precision(level: usize) -> Option<u8> {
    [12, 14, 16, 17, 18].get(level).copied()
}

fn hasher() -> RandomState {
    // Fixed seeds: the same data must always give the same estimate.
    RandomState::with_seeds(
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0x85eb_ca6b_27d4_eb2f,
    )
}

/// The fixed-seed 64-bit hash of every row of `array` (`None` for nulls and dynamic nulls).
/// Integers of every width hash alike, so `int` and `long` columns agree.
pub fn hash_values(array: &dyn Array, ty: KustoType) -> Vec<Option<u64>> {
    let h = hasher();
    macro_rules! ints {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>();
            (0..array.len())
                .map(|row| {
                    values
                        .is_valid(row)
                        .then(|| h.hash_one(values.value(row) as i64))
                })
                .collect()
        }};
    }
    match array.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => ints!(TimestampNanosecondType),
        DataType::Duration(TimeUnit::Nanosecond) => ints!(DurationNanosecondType),
        DataType::Float64 | DataType::Float32 => (0..array.len())
            .map(|row| {
                array.is_valid(row).then(|| {
                    let v = if array.data_type() == &DataType::Float64 {
                        array.as_primitive::<Float64Type>().value(row)
                    } else {
                        f64::from(array.as_primitive::<Float32Type>().value(row))
                    };
                    // -0.0 and 0.0 are the same value.
                    h.hash_one(if v == 0.0 { 0 } else { v.to_bits() })
                })
            })
            .collect(),
        DataType::Boolean => {
            let values = array.as_boolean();
            (0..array.len())
                .map(|row| values.is_valid(row).then(|| h.hash_one(values.value(row))))
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (0..array.len())
            .map(|row| {
                let text = crate::format::string_value(array, row)?;
                if ty == KustoType::Dynamic && text == "null" {
                    return None;
                }
                Some(h.hash_one(text.as_bytes()))
            })
            .collect(),
        _ => (0..array.len())
            .map(|row| value_at(array, row, ty).map(|v| h.hash_one(v.to_kusto_string().as_bytes())))
            .collect(),
    }
}

/// The exact phase stores values that are already 64-bit hashes: hashing them again (SipHash,
/// by default) would only cost time.
#[derive(Clone, Copy, Debug, Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for `u64` keys; fold anything else in to stay correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type HashSetOfHashes = HashSet<u64, BuildHasherDefault<PrehashedHasher>>;

/// Counts distinct values exactly below a threshold and approximately above it.
#[derive(Clone, Debug)]
pub struct DistinctCounter {
    precision: u8,
    exact: Option<HashSetOfHashes>,
    registers: Vec<u8>,
}

impl DistinctCounter {
    /// A counter with `2^precision` registers (see [`accuracy_precision`]).
    pub fn new(precision: u8) -> Self {
        DistinctCounter {
            precision,
            exact: Some(HashSetOfHashes::default()),
            registers: Vec::new(),
        }
    }

    fn threshold(&self) -> usize {
        (1usize << self.precision) / 16
    }

    /// Adds every non-null value of `array` (of Kusto type `ty`) where `include` allows it.
    pub fn add_array(&mut self, array: &dyn Array, ty: KustoType, include: impl Fn(usize) -> bool) {
        for (row, hash) in hash_values(array, ty).into_iter().enumerate() {
            if let Some(hash) = hash
                && include(row)
            {
                self.add_hash(hash);
            }
        }
    }

    /// Adds one 64-bit hash.
    pub fn add_hash(&mut self, hash: u64) {
        let threshold = self.threshold();
        if let Some(exact) = &mut self.exact {
            exact.insert(hash);
            if exact.len() > threshold {
                let hashes: Vec<u64> = exact.drain().collect();
                self.exact = None;
                self.registers = vec![0; 1 << self.precision];
                for hash in hashes {
                    self.add_to_registers(hash);
                }
            }
            return;
        }
        self.add_to_registers(hash);
    }

    fn add_to_registers(&mut self, hash: u64) {
        let p = u32::from(self.precision);
        let index = (hash >> (64 - p)) as usize;
        let rest = hash << p;
        let max_rank = (64 - p + 1) as u8;
        let rank = (rest.leading_zeros() + 1).min(u32::from(max_rank)) as u8;
        if let Some(register) = self.registers.get_mut(index) {
            *register = (*register).max(rank);
        }
    }

    /// Approximate heap and inline size in bytes, for DataFusion's memory accounting.
    pub fn memory_size(&self) -> usize {
        size_of::<Self>()
            + self.exact.as_ref().map_or(0, |e| e.capacity() * 9)
            + self.registers.capacity()
    }

    /// Merges another counter (same precision) into this one.
    pub fn merge(&mut self, other: &DistinctCounter) {
        match &other.exact {
            Some(hashes) => {
                for &hash in hashes {
                    self.add_hash(hash);
                }
            }
            None => {
                if let Some(mine) = self.exact.take() {
                    self.registers = other.registers.clone();
                    for hash in mine {
                        self.add_to_registers(hash);
                    }
                } else {
                    for (a, b) in self.registers.iter_mut().zip(&other.registers) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }

    /// The distinct count: exact in the set phase, Ertl's estimate in the register phase.
    pub fn count(&self) -> i64 {
        if let Some(exact) = &self.exact {
            return exact.len() as i64;
        }
        let m = self.registers.len() as f64;
        let q = 64 - usize::from(self.precision);
        let mut histogram = vec![0u64; q + 2];
        for &r in &self.registers {
            histogram[usize::from(r)] += 1;
        }
        let mut z = m * tau(1.0 - histogram[q + 1] as f64 / m);
        for k in (1..=q).rev() {
            z = 0.5 * (z + histogram[k] as f64);
        }
        z += m * sigma(histogram[0] as f64 / m);
        let alpha_inf = 1.0 / (2.0 * std::f64::consts::LN_2);
        (alpha_inf * m * m / z).round() as i64
    }

    /// Serialises the counter for DataFusion's partial aggregation state.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.precision];
        match &self.exact {
            Some(hashes) => {
                out.push(0);
                for hash in hashes {
                    out.extend_from_slice(&hash.to_le_bytes());
                }
            }
            None => {
                out.push(1);
                out.extend_from_slice(&self.registers);
            }
        }
        out
    }

    /// Restores a counter written by [`DistinctCounter::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&precision, rest) = bytes.split_first()?;
        let (&mode, payload) = rest.split_first()?;
        let mut counter = DistinctCounter::new(precision);
        if mode == 0 {
            let exact = payload
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            counter.exact = Some(exact);
        } else {
            if payload.len() != 1 << precision {
                return None;
            }
            counter.exact = None;
            counter.registers = payload.to_vec();
        }
        Some(counter)
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_of(n: u64, precision: u8) -> i64 {
        let mut counter = DistinctCounter::new(precision);
        let h = hasher();
        for i in 0..n {
            counter.add_hash(h.hash_one(i));
        }
        counter.count()
    }

    #[test]
    fn exact_below_the_threshold() {
        assert_eq!(count_of(0, 14), 0);
        assert_eq!(count_of(999, 14), 999);
        assert_eq!(count_of(1024, 14), 1024);
    }

    #[test]
    fn estimates_within_three_standard_errors_above_it() {
        for (n, precision) in [
            (2_000_u64, 14_u8),
            (50_000, 14),
            (200_000, 12),
            (100_000, 16),
        ] {
            let estimate = count_of(n, precision) as f64;
            let bound = 3.0 * 1.04 / f64::from(1u32 << precision).sqrt();
            let error = (estimate - n as f64).abs() / n as f64;
            assert!(
                error < bound,
                "n={n} p={precision}: estimate {estimate}, error {error} > {bound}"
            );
        }
    }

    #[test]
    fn merging_and_serialisation_round_trip() {
        let h = hasher();
        let mut a = DistinctCounter::new(14);
        let mut b = DistinctCounter::new(14);
        for i in 0..3_000u64 {
            a.add_hash(h.hash_one(i));
        }
        for i in 2_000..2_500u64 {
            b.add_hash(h.hash_one(i));
        }
        let restored =
            DistinctCounter::from_bytes(&a.to_bytes()).unwrap_or_else(|| DistinctCounter::new(1));
        assert_eq!(restored.count(), a.count());
        b.merge(&restored);
        assert_eq!(b.count(), a.count());
        assert_eq!(
            DistinctCounter::from_bytes(&[14, 1, 0]).map(|c| c.count()),
            None
        );
    }
}
