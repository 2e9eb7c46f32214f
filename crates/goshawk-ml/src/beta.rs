//! The Beta distribution's quantile function, which the rare model needs for the marginal of
//! one category's probability under a Dirichlet prior.

/// The regularised incomplete beta function I_x(a, b) (Numerical Recipes' continued fraction,
/// evaluated on the side where it converges fast). Only the tests call it directly.
#[cfg(test)]
pub fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    incomplete_beta_with(x, a, b, ln_beta(a, b))
}

/// ln B(a, b), computed once per quantile inversion rather than at every bisection step.
fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

fn incomplete_beta_with(x: f64, a: f64, b: f64, ln_beta: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() + b * (1.0 - x).ln() - ln_beta;
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * continued_fraction(x, a, b) / a
    } else {
        1.0 - front * continued_fraction(1.0 - x, b, a) / b
    }
}

/// Lentz's evaluation of the continued fraction of I_x(a, b).
fn continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-14;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPSILON {
            break;
        }
    }
    h
}

/// The `q`-quantile of Beta(a, b): Halley's method on the CDF from the usual starting guess
/// (Numerical Recipes' `invbetai`), kept inside a bracket that bisection narrows whenever a
/// step would leave it, because the density is unbounded near 0 when a < 1, which decayed
/// concentrations reach. It stops at a relative step of 1e-12, far below what the scores can
/// tell apart, in a handful of CDF evaluations where bisection alone needs about fifty.
pub fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    let ln_beta = ln_beta(a, b);
    let (mut low, mut high) = (0.0f64, 1.0f64);
    let mut x = initial_guess(q, a, b).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
    for _ in 0..100 {
        let error = incomplete_beta_with(x, a, b, ln_beta) - q;
        if error < 0.0 {
            low = x;
        } else {
            high = x;
        }
        if error == 0.0 {
            return x;
        }
        let density = ((a - 1.0) * x.ln() + (b - 1.0) * (1.0 - x).ln() - ln_beta).exp();
        let mut next = f64::NAN;
        if density.is_finite() && density > 0.0 {
            let u = error / density;
            let curvature = (u * ((a - 1.0) / x - (b - 1.0) / (1.0 - x))).min(1.0);
            next = x - u / (1.0 - 0.5 * curvature);
        }
        if !(low..=high).contains(&next) {
            next = 0.5 * (low + high);
        }
        let step = (next - x).abs();
        x = next;
        if step <= 1e-12 * x || high - low <= 1e-12 * high {
            break;
        }
    }
    x
}

/// A first estimate of the quantile (Numerical Recipes' `invbetai`): a normal approximation
/// for a, b >= 1, else the power-law tails of the density.
fn initial_guess(q: f64, a: f64, b: f64) -> f64 {
    if a >= 1.0 && b >= 1.0 {
        let pp = if q < 0.5 { q } else { 1.0 - q };
        let t = (-2.0 * pp.ln()).sqrt();
        let mut x = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t;
        if q < 0.5 {
            x = -x;
        }
        let al = (x * x - 3.0) / 6.0;
        let h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0));
        let w = x * (al + h).sqrt() / h
            - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h));
        a / (a + b * (2.0 * w).exp())
    } else {
        let ln_a = (a / (a + b)).ln();
        let ln_b = (b / (a + b)).ln();
        let t = (a * ln_a).exp() / a;
        let u = (b * ln_b).exp() / b;
        let w = t + u;
        if q < t / w {
            (a * w * q).powf(1.0 / a)
        } else {
            1.0 - (b * w * (1.0 - q)).powf(1.0 / b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_beta_matches_closed_forms() {
        // Beta(1, b): CDF 1 - (1 - x)^b.
        for &(x, b) in &[(0.01, 59.0), (0.3, 2.5), (0.9, 10.0)] {
            let expected = 1.0 - (1.0f64 - x).powf(b);
            assert!(
                (incomplete_beta(x, 1.0, b) - expected).abs() < 1e-12,
                "{x} {b}"
            );
        }
        // Beta(a, 1): CDF x^a.
        assert!((incomplete_beta(0.4, 3.0, 1.0) - 0.064).abs() < 1e-12);
        // Symmetric: I_0.5(a, a) = 0.5.
        assert!((incomplete_beta(0.5, 7.3, 7.3) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn quantile_inverts_the_cdf() {
        // Median of Beta(1, b) is 1 - 0.5^(1/b).
        let b = 1499.0;
        let expected = 1.0 - 0.5f64.powf(1.0 / b);
        let got = beta_quantile(0.5, 1.0, b);
        assert!((got - expected).abs() / expected < 1e-9, "{got} {expected}");
        // Including decayed concentrations below 1 (an unbounded density at 0), the
        // quantile levels of 7, 5 and 3 points and the shapes of young and old models.
        for &(q, a, b) in &[
            (0.1, 0.4, 30.0),
            (0.9, 12.0, 3.0),
            (0.5, 250.0, 9000.0),
            (1.0 / 14.0, 0.99, 1500.0),
            (13.0 / 14.0, 0.99, 80.0),
            (0.7, 50.0, 1450.0),
            (0.3, 0.05, 0.5),
            (0.5, 1e-3, 12_000.0),
            (0.9, 5000.0, 5000.0),
        ] {
            let x = beta_quantile(q, a, b);
            assert!((incomplete_beta(x, a, b) - q).abs() < 1e-9, "{q} {a} {b}");
        }
    }
}
