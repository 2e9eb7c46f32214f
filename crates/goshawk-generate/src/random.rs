//! Seeded randomness. Every stream owns a ChaCha8 generator derived from the user's seed and a
//! stream label, so output is byte-identical for a seed on every platform and independent of
//! thread scheduling.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) type StreamRng = ChaCha8Rng;

/// A generator for one named stream of decisions.
pub(crate) fn stream_rng(seed: u64, label: &str) -> StreamRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut mixed = 0xcbf2_9ce4_8422_2325u64;
    for byte in label.bytes() {
        mixed = (mixed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    key[8..16].copy_from_slice(&mixed.to_le_bytes());
    key[16..24].copy_from_slice(&splitmix64(mixed ^ seed).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A well-mixed 64-bit hash of a number: stable per-entity identifiers (user 1234 always
/// gets the same object id) without storing them.
pub(crate) fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A Poisson draw: exact inversion for small means, a rounded normal approximation above 30
/// where inversion would be slow and `exp(-mean)` loses precision.
pub(crate) fn poisson(rng: &mut StreamRng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut product = 1.0;
        let mut count = 0;
        loop {
            product *= rng.random::<f64>();
            if product <= limit {
                return count;
            }
            count += 1;
        }
    }
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mean + mean.sqrt() * normal).round().max(0.0) as u64
}

/// Index into `weights`, chosen with probability proportional to each weight.
pub(crate) fn weighted_index(rng: &mut StreamRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return 0;
    }
    let mut pick = rng.random_range(0..total);
    for (index, &weight) in weights.iter().enumerate() {
        if pick < weight {
            return index;
        }
        pick -= weight;
    }
    weights.len() - 1
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut StreamRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_is_close_for_small_and_large_means() {
        let mut rng = stream_rng(7, "test");
        for mean in [0.3, 4.0, 200.0] {
            let draws = 20_000;
            let total: u64 = (0..draws).map(|_| poisson(&mut rng, mean)).sum();
            let observed = total as f64 / f64::from(draws);
            assert!(
                (observed - mean).abs() < mean * 0.05 + 0.02,
                "mean {mean}: {observed}"
            );
        }
    }

    #[test]
    fn streams_differ_by_label_and_seed() {
        let a: u64 = stream_rng(1, "a").random();
        let b: u64 = stream_rng(1, "b").random();
        let c: u64 = stream_rng(2, "a").random();
        let a_again: u64 = stream_rng(1, "a").random();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, a_again);
    }
}
