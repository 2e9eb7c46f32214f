//! Special functions and unit conversions: `erf`, `erfc`, `gamma`, `beta_cdf`, `beta_pdf`,
//! `beta_inv`, and `convert_length`/`convert_mass`/`convert_force`/`convert_speed`.
//!
//! The numerics come from `statrs`; the beta functions follow Kusto's documented edge cases
//! (NaN for an `x` outside [0, 1] or a non-positive shape, null for a probability outside
//! [0, 1] in `beta_inv`). Unit names are the UnitsNet names Kusto documents, matched
//! case-insensitively; an unknown unit gives null.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use statrs::distribution::{Beta, Continuous, ContinuousCDF};

use super::{Call, KustoScalar, returns, to_real_array};
use crate::format::string_value;

fn reals(call: &Call<'_>, index: usize) -> DFResult<Float64Array> {
    to_real_array(&call.args[index], call.types[index])
}

fn unary(name: &'static str, op: fn(f64) -> f64) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Real),
        Arc::new(move |call| {
            let result: Float64Array = reals(call, 0)?.iter().map(|v| v.map(op)).collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

/// The beta distribution for Kusto's shape arguments; `None` where Kusto answers NaN
/// (a non-positive or oversized shape: Kusto caps both at 10,000).
fn beta(alpha: f64, beta: f64) -> Option<Beta> {
    let valid = |s: f64| s > 0.0 && s <= 10_000.0;
    (valid(alpha) && valid(beta))
        .then(|| Beta::new(alpha, beta).ok())
        .flatten()
}

fn beta_cdf(x: f64, a: f64, b: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&x) {
        return Some(f64::NAN);
    }
    Some(beta(a, b).map_or(f64::NAN, |d| d.cdf(x)))
}

fn beta_pdf(x: f64, a: f64, b: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&x) {
        return Some(f64::NAN);
    }
    Some(beta(a, b).map_or(f64::NAN, |d| d.pdf(x)))
}

fn beta_inv(p: f64, a: f64, b: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    Some(beta(a, b).map_or(f64::NAN, |d| d.inverse_cdf(p)))
}

fn ternary(name: &'static str, op: fn(f64, f64, f64) -> Option<f64>) -> KustoScalar {
    KustoScalar::new(
        name,
        3,
        Some(3),
        returns(KustoType::Real),
        Arc::new(move |call| {
            let (x, a, b) = (reals(call, 0)?, reals(call, 1)?, reals(call, 2)?);
            let result: Float64Array = (0..call.rows)
                .map(|row| {
                    let at = |array: &Float64Array| array.is_valid(row).then(|| array.value(row));
                    op(at(&x)?, at(&a)?, at(&b)?)
                })
                .collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

const INCH: f64 = 0.0254;
const FOOT: f64 = 0.3048;
const US_SURVEY_FOOT: f64 = 1200.0 / 3937.0;
const LIGHT_YEAR: f64 = 9_460_730_472_580_800.0;
const PARSEC: f64 = 3.085_677_581_28e16;
const POUND: f64 = 0.453_592_37;
const GRAVITY: f64 = 9.806_65;

/// Metres per unit of length.
const LENGTH: &[(&str, f64)] = &[
    ("Angstrom", 1e-10),
    ("Centimeter", 0.01),
    ("Chain", 20.1168),
    ("DataMile", 1828.8),
    ("Decameter", 10.0),
    ("Decimeter", 0.1),
    ("DtpPica", INCH / 6.0),
    ("DtpPoint", INCH / 72.0),
    ("Fathom", 1.8288),
    ("Foot", FOOT),
    ("Hand", 0.1016),
    ("Hectometer", 100.0),
    ("Inch", INCH),
    ("KilolightYear", LIGHT_YEAR * 1e3),
    ("Kilometer", 1000.0),
    ("Kiloparsec", PARSEC * 1e3),
    ("LightYear", LIGHT_YEAR),
    ("MegalightYear", LIGHT_YEAR * 1e6),
    ("Megaparsec", PARSEC * 1e6),
    ("Meter", 1.0),
    ("Microinch", INCH * 1e-6),
    ("Micrometer", 1e-6),
    ("Mil", INCH * 1e-3),
    ("Mile", 1609.344),
    ("Millimeter", 1e-3),
    ("Nanometer", 1e-9),
    ("NauticalMile", 1852.0),
    ("Parsec", PARSEC),
    ("PrinterPica", INCH * 12.0 / 72.27),
    ("PrinterPoint", INCH / 72.27),
    ("Shackle", 27.432),
    ("SolarRadius", 6.955_1e8),
    ("Twip", INCH / 1440.0),
    ("UsSurveyFoot", US_SURVEY_FOOT),
    ("Yard", 0.9144),
];

/// Kilograms per unit of mass.
const MASS: &[(&str, f64)] = &[
    ("Centigram", 1e-5),
    ("Decagram", 1e-2),
    ("Decigram", 1e-4),
    ("EarthMass", 5.9722e24),
    ("Grain", 64.798_91e-6),
    ("Gram", 1e-3),
    ("Hectogram", 0.1),
    ("Kilogram", 1.0),
    ("Kilopound", POUND * 1e3),
    ("Kilotonne", 1e6),
    ("LongHundredweight", 50.802_345_44),
    ("LongTon", 1_016.046_908_8),
    ("Megapound", POUND * 1e6),
    ("Megatonne", 1e9),
    ("Microgram", 1e-9),
    ("Milligram", 1e-6),
    ("Nanogram", 1e-12),
    ("Ounce", 0.028_349_523_125),
    ("Pound", POUND),
    ("ShortHundredweight", 45.359_237),
    ("ShortTon", 907.184_74),
    ("Slug", 14.593_902_937_206),
    ("SolarMass", 1.989_1e30),
    ("Stone", 6.350_293_18),
    ("Tonne", 1000.0),
];

/// Newtons per unit of force.
const FORCE: &[(&str, f64)] = &[
    ("Decanewton", 10.0),
    ("Dyn", 1e-5),
    ("KilogramForce", GRAVITY),
    ("Kilonewton", 1e3),
    ("KiloPond", GRAVITY),
    ("KilopoundForce", POUND * GRAVITY * 1e3),
    ("Meganewton", 1e6),
    ("Micronewton", 1e-6),
    ("Millinewton", 1e-3),
    ("Newton", 1.0),
    ("OunceForce", 0.028_349_523_125 * GRAVITY),
    ("Poundal", POUND * FOOT),
    ("PoundForce", POUND * GRAVITY),
    ("ShortTonForce", 907.184_74 * GRAVITY),
    ("TonneForce", 1000.0 * GRAVITY),
];

/// Metres per second for a distance per time unit.
fn speed_factor(unit: &str) -> Option<f64> {
    if unit.eq_ignore_ascii_case("Knot") {
        return Some(1852.0 / 3600.0);
    }
    if unit.eq_ignore_ascii_case("MilePerHour") {
        return Some(1609.344 / 3600.0);
    }
    let lower = unit.to_ascii_lowercase();
    let (distance, seconds) = [("perhour", 3600.0), ("perminute", 60.0), ("persecond", 1.0)]
        .into_iter()
        .find_map(|(suffix, seconds)| {
            lower.strip_suffix(suffix).map(|d| (d.to_string(), seconds))
        })?;
    let metres = match distance.as_str() {
        "centimeter" => 0.01,
        "decimeter" => 0.1,
        "foot" => FOOT,
        "inch" => INCH,
        "kilometer" => 1000.0,
        "meter" => 1.0,
        "micrometer" => 1e-6,
        "mile" => 1609.344,
        "millimeter" => 1e-3,
        "nanometer" => 1e-9,
        "ussurveyfoot" => US_SURVEY_FOOT,
        "yard" => 0.9144,
        _ => return None,
    };
    Some(metres / seconds)
}

fn table_factor(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit.trim()))
        .map(|&(_, factor)| factor)
}

/// `convert_<quantity>(value, from, to)`: `factor` gives the SI amount of one unit.
fn converter(name: &'static str, factor: fn(&str) -> Option<f64>) -> KustoScalar {
    KustoScalar::new(
        name,
        3,
        Some(3),
        returns(KustoType::Real),
        Arc::new(move |call| {
            let values = reals(call, 0)?;
            let (from, to): (StringArray, StringArray) = (call.strings(1), call.strings(2));
            let result: Float64Array = (0..call.rows)
                .map(|row| {
                    let value = values.is_valid(row).then(|| values.value(row))?;
                    let from = factor(string_value(&from, row)?)?;
                    let to = factor(string_value(&to, row)?)?;
                    Some(value * from / to)
                })
                .collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        unary("erf", statrs::function::erf::erf),
        unary("erfc", statrs::function::erf::erfc),
        unary("gamma", statrs::function::gamma::gamma),
        ternary("beta_cdf", beta_cdf),
        ternary("beta_pdf", beta_pdf),
        ternary("beta_inv", beta_inv),
        converter("convert_length", |u| table_factor(LENGTH, u)),
        converter("convert_mass", |u| table_factor(MASS, u)),
        converter("convert_force", |u| table_factor(FORCE, u)),
        converter("convert_speed", speed_factor),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{eval, lit_str};

    fn close(got: &[String], expected: f64) {
        let value: f64 = got[0].parse().unwrap_or(f64::NAN);
        assert!(
            (value - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{got:?} vs {expected}"
        );
    }

    #[tokio::test]
    async fn error_function_and_gamma_match_the_docs() {
        close(&eval("erf", vec![lit(1_i64)]).await, 0.842700792949715);
        close(&eval("erfc", vec![lit(2_i64)]).await, 0.00467773498104727);
        close(&eval("gamma", vec![lit(5_i64)]).await, 24.0);
    }

    #[tokio::test]
    async fn beta_functions_follow_the_documented_edge_cases() {
        let args = |x: f64, a: f64| vec![lit(x), lit(a), lit(20.0)];
        close(&eval("beta_cdf", args(0.9, 10.0)).await, 0.999999999999959);
        close(&eval("beta_pdf", args(0.5, 10.0)).await, 0.746176019310951);
        close(&eval("beta_inv", args(0.1, 10.0)).await, 0.226415022388749);
        assert_eq!(eval("beta_cdf", args(1.5, 10.0)).await, ["NaN"]);
        assert_eq!(eval("beta_pdf", args(0.1, -1.0)).await, ["NaN"]);
        assert_eq!(eval("beta_inv", args(1.5, 10.0)).await, ["null"]);
        assert_eq!(eval("beta_inv", args(0.1, -1.0)).await, ["NaN"]);
    }

    #[tokio::test]
    async fn units_convert_through_si() {
        let convert = |name: &'static str, from: &'static str, to: &'static str| async move {
            eval(name, vec![lit(1.2), lit_str(from), lit_str(to)]).await
        };
        close(
            &convert("convert_force", "Newton", "Decanewton").await,
            0.12,
        );
        close(
            &convert("convert_length", "Meter", "Foot").await,
            3.93700787401575,
        );
        close(
            &convert("convert_mass", "Kilogram", "Pound").await,
            2.64554714621853,
        );
        close(
            &convert("convert_speed", "MeterPerSecond", "CentimeterPerHour").await,
            432000.0,
        );
        close(
            &convert("convert_speed", "Knot", "KilometerPerHour").await,
            2.2224,
        );
        assert_eq!(convert("convert_length", "Meter", "Cubit").await, ["null"]);
    }
}
