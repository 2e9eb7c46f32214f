//! The simpler geospatial functions: `geo_distance_2points`, `geo_point_in_circle`,
//! `geo_azimuth`, `geo_angle` (on a sphere of the Earth's mean radius), and the geohash family
//! `geo_point_to_geohash`, `geo_geohash_to_central_point`, `geo_geohash_to_polygon`,
//! `geo_geohash_neighbors`. The shape functions are in `geo_shapes`.
//!
//! Coordinates out of range (longitude beyond ±180, latitude beyond ±90) give null, as in Kusto.

use std::f64::consts::PI;
use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef, BooleanArray, Float64Array, StringArray};
use goshawk_types::KustoType;
use serde_json::{Value, json};

use super::{Call, KustoScalar, returns};
use crate::format::string_value;

/// The mean radius of the Earth (IUGG), in meters.
const EARTH_RADIUS: f64 = 6_371_008.8;
const GEOHASH_ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";

fn valid(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

/// Every argument as reals, row by row.
fn reals(call: &Call<'_>) -> datafusion::common::Result<Vec<Float64Array>> {
    (0..call.args.len())
        .map(|i| super::to_real_array(&call.args[i], call.types[i]))
        .collect()
}

fn row(values: &[Float64Array], row: usize) -> Option<Vec<f64>> {
    values
        .iter()
        .map(|a| (!a.is_null(row)).then(|| a.value(row)))
        .collect()
}

fn haversine(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = phi2 - phi1;
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS * a.sqrt().min(1.0).asin()
}

/// Initial bearing from the first point to the second, clockwise from north, in [0, 2π).
fn azimuth(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> Option<f64> {
    if lon1 == lon2 && lat1 == lat2 {
        return None;
    }
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dlambda = (lon2 - lon1).to_radians();
    let y = dlambda.sin() * phi2.cos();
    let x = phi1.cos() * phi2.sin() - phi1.sin() * phi2.cos() * dlambda.cos();
    Some(y.atan2(x).rem_euclid(2.0 * PI))
}

fn real_function(name: &'static str, arity: usize, f: fn(&[f64]) -> Option<f64>) -> KustoScalar {
    KustoScalar::new(
        name,
        arity,
        Some(arity),
        returns(KustoType::Real),
        Arc::new(move |call| {
            let values = reals(call)?;
            let out: Float64Array = (0..call.rows)
                .map(|r| row(&values, r).and_then(|v| f(&v)))
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        }),
    )
}

fn geohash_encode(lon: f64, lat: f64, length: usize) -> String {
    let (mut lon_range, mut lat_range) = ((-180.0, 180.0), (-90.0, 90.0));
    let mut out = String::with_capacity(length);
    let (mut even, mut bits, mut value) = (true, 0, 0usize);
    while out.len() < length {
        let (range, x): (&mut (f64, f64), f64) = if even {
            (&mut lon_range, lon)
        } else {
            (&mut lat_range, lat)
        };
        let mid = (range.0 + range.1) / 2.0;
        if x >= mid {
            value = value * 2 + 1;
            range.0 = mid;
        } else {
            value *= 2;
            range.1 = mid;
        }
        even = !even;
        bits += 1;
        if bits == 5 {
            out.push(GEOHASH_ALPHABET[value] as char);
            bits = 0;
            value = 0;
        }
    }
    out
}

/// The cell of a geohash as ((min lon, max lon), (min lat, max lat)).
fn geohash_decode(hash: &str) -> Option<((f64, f64), (f64, f64))> {
    if hash.is_empty() || hash.len() > 18 {
        return None;
    }
    let (mut lon, mut lat) = ((-180.0, 180.0), (-90.0, 90.0));
    let mut even = true;
    for c in hash.bytes() {
        let value = GEOHASH_ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_lowercase())?;
        for bit in (0..5).rev() {
            let range: &mut (f64, f64) = if even { &mut lon } else { &mut lat };
            let mid = (range.0 + range.1) / 2.0;
            if value >> bit & 1 == 1 {
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
        }
    }
    Some((lon, lat))
}

fn geohash_neighbors(hash: &str) -> Option<Value> {
    let ((lon0, lon1), (lat0, lat1)) = geohash_decode(hash)?;
    let (width, height) = (lon1 - lon0, lat1 - lat0);
    let (cx, cy) = ((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0);
    // Kusto's order of the eight neighbors.
    let offsets = [
        (-1.0, -1.0),
        (-1.0, 1.0),
        (1.0, -1.0),
        (0.0, 1.0),
        (-1.0, 0.0),
        (1.0, 1.0),
        (1.0, 0.0),
        (0.0, -1.0),
    ];
    let cells: Vec<Value> = offsets
        .iter()
        .filter_map(|(dx, dy)| {
            let lat = cy + dy * height;
            if !(-90.0..=90.0).contains(&lat) {
                return None;
            }
            let mut lon = cx + dx * width;
            if lon > 180.0 {
                lon -= 360.0;
            } else if lon < -180.0 {
                lon += 360.0;
            }
            Some(Value::String(geohash_encode(lon, lat, hash.len())))
        })
        .collect();
    Some(Value::Array(cells))
}

fn dynamic_column(values: impl IntoIterator<Item = Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

fn geohash_function(name: &'static str, f: fn(&str) -> Option<Value>) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let hashes = call.strings(0);
            Ok(dynamic_column(
                (0..call.rows).map(|r| f(string_value(&hashes, r).unwrap_or(""))),
            ))
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        real_function("geo_distance_2points", 4, |v| {
            (valid(v[0], v[1]) && valid(v[2], v[3])).then(|| haversine(v[0], v[1], v[2], v[3]))
        }),
        real_function("geo_azimuth", 4, |v| {
            if !(valid(v[0], v[1]) && valid(v[2], v[3])) {
                return None;
            }
            azimuth(v[0], v[1], v[2], v[3])
        }),
        real_function("geo_angle", 6, |v| {
            if !(valid(v[0], v[1]) && valid(v[2], v[3]) && valid(v[4], v[5])) {
                return None;
            }
            // The clockwise angle at the second point from the first to the third.
            let to_first = azimuth(v[2], v[3], v[0], v[1])?;
            let to_third = azimuth(v[2], v[3], v[4], v[5])?;
            Some((to_third - to_first).rem_euclid(2.0 * PI))
        }),
        KustoScalar::new(
            "geo_point_in_circle",
            5,
            Some(5),
            returns(KustoType::Bool),
            Arc::new(|call| {
                let values = reals(call)?;
                let out: BooleanArray = (0..call.rows)
                    .map(|r| {
                        let v = row(&values, r)?;
                        if !(valid(v[0], v[1]) && valid(v[2], v[3])) || v[4] < 0.0 {
                            return None;
                        }
                        Some(haversine(v[0], v[1], v[2], v[3]) <= v[4])
                    })
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "geo_point_to_geohash",
            2,
            Some(3),
            returns(KustoType::String),
            Arc::new(|call| {
                let values = reals(call)?;
                let out: StringArray = (0..call.rows)
                    .map(|r| {
                        let text = (|| {
                            let v = row(&values, r)?;
                            let accuracy = v.get(2).copied().unwrap_or(5.0);
                            if !valid(v[0], v[1]) || !(1.0..=18.0).contains(&accuracy) {
                                return None;
                            }
                            Some(geohash_encode(v[0], v[1], accuracy as usize))
                        })();
                        Some(text.unwrap_or_default())
                    })
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            }),
        ),
        geohash_function("geo_geohash_to_central_point", |hash| {
            let ((lon0, lon1), (lat0, lat1)) = geohash_decode(hash)?;
            Some(
                json!({"type": "Point", "coordinates": [(lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0]}),
            )
        }),
        geohash_function("geo_geohash_to_polygon", |hash| {
            let ((lon0, lon1), (lat0, lat1)) = geohash_decode(hash)?;
            Some(json!({"type": "Polygon", "coordinates": [[
                [lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]
            ]]}))
        }),
        geohash_function("geo_geohash_neighbors", geohash_neighbors),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::scalar::test_support::{eval, lit_str};

    #[tokio::test]
    async fn geohash_cells_and_neighbors() {
        assert_eq!(
            eval(
                "geo_point_to_geohash",
                vec![lit(-80.195829), lit(25.802215), lit(8_i64)]
            )
            .await,
            ["dhwfz15h"]
        );
        assert_eq!(
            eval("geo_geohash_to_polygon", vec![lit_str("dr5ru")]).await,
            [
                r#"{"type":"Polygon","coordinates":[[[-74.00390625,40.7373046875],[-73.9599609375,40.7373046875],[-73.9599609375,40.78125],[-74.00390625,40.78125],[-74.00390625,40.7373046875]]]}"#
            ]
        );
        assert_eq!(
            eval("geo_geohash_neighbors", vec![lit_str("sunny")]).await,
            [r#"["sunnt","sunpj","sunnx","sunpn","sunnv","sunpp","sunnz","sunnw"]"#]
        );
        assert_eq!(
            eval("geo_geohash_neighbors", vec![lit_str("a")]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn spherical_measures() {
        let azimuth = eval(
            "geo_azimuth",
            vec![lit(5.0), lit(10.0), lit(10.0), lit(-40.0)],
        )
        .await;
        assert!(azimuth[0].starts_with("3.05459939796449"), "{azimuth:?}");
        let angle = eval(
            "geo_angle",
            vec![
                lit(0.0),
                lit(10.0),
                lit(0.0),
                lit(5.0),
                lit(3.0),
                lit(-10.0),
            ],
        )
        .await;
        assert!(angle[0].starts_with("2.94493843406881"), "{angle:?}");
        assert_eq!(
            eval(
                "geo_point_in_circle",
                vec![
                    lit(-122.143564),
                    lit(47.535677),
                    lit(-122.100896),
                    lit(47.527351),
                    lit(3500.0)
                ]
            )
            .await,
            ["True"]
        );
        assert_eq!(
            eval(
                "geo_distance_2points",
                vec![lit(300.0), lit(1.0), lit(1.0), lit(1.0)]
            )
            .await,
            ["null"]
        );
    }
}
