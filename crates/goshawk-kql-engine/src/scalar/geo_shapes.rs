//! Kusto's geospatial shape functions on GeoJSON lines and polygons: measures (`geo_line_length`,
//! `geo_polygon_area`, `geo_polygon_perimeter`, centroids), distances and closest points,
//! `geo_line_locate_point`/`geo_line_interpolate_point`, densify and simplify, the intersects
//! predicates, line intersections, `geo_union_lines_array`, `geo_point_in_polygon`,
//! `geo_point_buffer` and `geo_from_wkt`.
//!
//! Kusto computes with S2: points on a sphere of radius 6,371,010 m and edges as great-circle
//! arcs. The docs examples agree with that model to 1e-12 (area, length, perimeter, distance to
//! a line), so this module works with unit vectors and arcs rather than with planar lon/lat
//! geometry; densify is the one place where the planar edge matters, since converting planar
//! edges to geodesic chains is what it is for.
//!
//! Polygon union, intersection and buffers (`geo_union_polygons_array`,
//! `geo_intersection_2polygons`, `geo_simplify_polygons_array`, `geo_polygon_buffer`,
//! `geo_line_buffer`) use `overlay`.
//!
//! Invalid shapes, coordinates out of range and arguments out of the documented ranges give
//! null, as in Kusto. The measures of a MultiPolygon are those of the union of its polygons.

mod overlay;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef, BooleanArray, Float64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use serde_json::{Value, json};

use super::{Call, KustoScalar, returns};
use crate::format::{json_at, string_value};

/// S2's Earth radius (`S2Earth::RadiusMeters`), which Kusto's shape measures use.
const RADIUS: f64 = 6_371_010.0;
/// Kusto's default tolerance of densify and simplify, in meters.
const DEFAULT_TOLERANCE: f64 = 10.0;
/// Densify splits an edge at most this many times in a row (2^20 pieces).
const MAX_DENSIFY_DEPTH: u32 = 20;

/// A (longitude, latitude) pair in degrees.
type LonLat = (f64, f64);
/// A point on the unit sphere.
type V3 = [f64; 3];

fn valid(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

fn to_v3((lon, lat): LonLat) -> V3 {
    let (lambda, phi) = (lon.to_radians(), lat.to_radians());
    [
        phi.cos() * lambda.cos(),
        phi.cos() * lambda.sin(),
        phi.sin(),
    ]
}

fn to_lonlat(v: V3) -> LonLat {
    (
        v[1].atan2(v[0]).to_degrees(),
        v[2].atan2(v[0].hypot(v[1])).to_degrees(),
    )
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn normalize(a: V3) -> Option<V3> {
    let n = norm(a);
    (n > 1e-300).then(|| scale(a, 1.0 / n))
}

/// The angle between two unit vectors (accurate for tiny and near-antipodal angles alike).
fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// The point at fraction `t` of the arc from `a` to `b`.
fn slerp(a: V3, b: V3, t: f64) -> V3 {
    let omega = angle(a, b);
    if omega < 1e-15 {
        return a;
    }
    let (sa, sb) = (((1.0 - t) * omega).sin(), (t * omega).sin());
    normalize(add(scale(a, sa), scale(b, sb))).unwrap_or(a)
}

/// Whether `x` (on the great circle of `a`, `b` with normal `n`) lies on the arc from a to b.
fn on_arc(a: V3, b: V3, n: V3, x: V3) -> bool {
    dot(cross(a, x), n) >= -1e-15 && dot(cross(x, b), n) >= -1e-15
}

/// The point of the arc `a`-`b` closest to `p`, and its angular distance from `p`.
fn closest_on_arc(p: V3, a: V3, b: V3) -> (f64, V3) {
    if let Some(n) = normalize(cross(a, b)) {
        let q = add(p, scale(n, -dot(p, n)));
        if let Some(q) = normalize(q)
            && on_arc(a, b, n, q)
        {
            return (angle(p, q), q);
        }
    }
    let (da, db) = (angle(p, a), angle(p, b));
    if da <= db { (da, a) } else { (db, b) }
}

/// Where the arcs `a`-`b` and `c`-`d` meet: `Crossing::Point` with the fraction along `a`-`b`,
/// or `Crossing::Overlap` with the fractions of the shared stretch when both lie on one great
/// circle.
enum Crossing {
    None,
    Point(f64),
    Overlap(f64, f64),
}

/// The fraction along the arc `a`-`b` of `x` (on it), snapped to the ends within rounding, so
/// that a crossing at a vertex reports that vertex exactly.
fn arc_fraction(a: V3, b: V3, x: V3) -> f64 {
    let total = angle(a, b);
    if total == 0.0 {
        return 0.0;
    }
    let t = (angle(a, x) / total).clamp(0.0, 1.0);
    if t < 1e-12 {
        0.0
    } else if t > 1.0 - 1e-12 {
        1.0
    } else {
        t
    }
}

fn crossing(a: V3, b: V3, c: V3, d: V3) -> Crossing {
    let (Some(n1), Some(n2)) = (normalize(cross(a, b)), normalize(cross(c, d))) else {
        return Crossing::None;
    };
    match normalize(cross(n1, n2)) {
        Some(x) if norm(cross(n1, n2)) > 1e-12 => {
            for x in [x, scale(x, -1.0)] {
                if on_arc(a, b, n1, x) && on_arc(c, d, n2, x) {
                    return Crossing::Point(arc_fraction(a, b, x));
                }
            }
            Crossing::None
        }
        _ => {
            // One great circle: the arcs overlap where the endpoints of one lie on the other.
            let mut fractions: Vec<f64> = Vec::new();
            for x in [c, d] {
                if on_arc(a, b, n1, x) {
                    fractions.push(arc_fraction(a, b, x));
                }
            }
            for (x, t) in [(a, 0.0), (b, 1.0)] {
                if on_arc(c, d, n2, x) {
                    fractions.push(t);
                }
            }
            let (Some(lo), Some(hi)) = (
                fractions.iter().copied().reduce(f64::min),
                fractions.iter().copied().reduce(f64::max),
            ) else {
                return Crossing::None;
            };
            if hi - lo > 1e-12 {
                Crossing::Overlap(lo, hi)
            } else {
                Crossing::Point(lo)
            }
        }
    }
}

/// A coordinate pair `[lon, lat]` within range.
fn coordinate(value: &Value) -> Option<LonLat> {
    let pair = value.as_array()?;
    let (lon, lat) = (pair.first()?.as_f64()?, pair.get(1)?.as_f64()?);
    valid(lon, lat).then_some((lon, lat))
}

fn path(value: &Value) -> Option<Vec<LonLat>> {
    value.as_array()?.iter().map(coordinate).collect()
}

/// The lines of a GeoJSON LineString or MultiLineString (each with at least one edge of
/// nonzero length), and whether it was a MultiLineString.
fn lines(shape: &Value) -> Option<(Vec<Vec<LonLat>>, bool)> {
    let coordinates = shape.get("coordinates")?;
    let line = |v: &Value| -> Option<Vec<LonLat>> {
        let points = path(v)?;
        (points.len() >= 2 && points.windows(2).any(|w| w[0] != w[1])).then_some(points)
    };
    match shape.get("type")?.as_str()? {
        "LineString" => Some((vec![line(coordinates)?], false)),
        "MultiLineString" => {
            let all: Vec<Vec<LonLat>> = coordinates
                .as_array()?
                .iter()
                .map(line)
                .collect::<Option<_>>()?;
            (!all.is_empty()).then_some((all, true))
        }
        _ => None,
    }
}

/// A ring as its distinct vertices (the closing vertex and repeated vertices dropped).
type Ring = Vec<LonLat>;

/// A closed ring with at least three distinct vertices.
fn ring(value: &Value) -> Option<Ring> {
    let points = path(value)?;
    if points.len() < 4 || points.first() != points.last() {
        return None;
    }
    let mut vertices: Ring = Vec::with_capacity(points.len());
    for p in &points[..points.len() - 1] {
        if vertices.last() != Some(p) {
            vertices.push(*p);
        }
    }
    while vertices.len() > 1 && vertices.first() == vertices.last() {
        vertices.pop();
    }
    (vertices.len() >= 3).then_some(vertices)
}

/// The polygons (outer ring first, then holes) of a GeoJSON Polygon or MultiPolygon, and
/// whether it was a MultiPolygon.
fn polygons(shape: &Value) -> Option<(Vec<Vec<Ring>>, bool)> {
    let coordinates = shape.get("coordinates")?;
    let polygon = |v: &Value| -> Option<Vec<Ring>> {
        let rings: Vec<Ring> = v.as_array()?.iter().map(ring).collect::<Option<_>>()?;
        (!rings.is_empty()).then_some(rings)
    };
    match shape.get("type")?.as_str()? {
        "Polygon" => Some((vec![polygon(coordinates)?], false)),
        "MultiPolygon" => {
            let all: Vec<Vec<Ring>> = coordinates
                .as_array()?
                .iter()
                .map(polygon)
                .collect::<Option<_>>()?;
            (!all.is_empty()).then_some((all, true))
        }
        _ => None,
    }
}

/// The edges of a ring (closing edge included) as unit vectors.
fn ring_edges(ring: &Ring) -> impl Iterator<Item = (V3, V3)> + '_ {
    (0..ring.len()).map(|i| (to_v3(ring[i]), to_v3(ring[(i + 1) % ring.len()])))
}

fn line_edges(line: &[LonLat]) -> impl Iterator<Item = (V3, V3)> + '_ {
    line.windows(2).map(|w| (to_v3(w[0]), to_v3(w[1])))
}

/// Twice-signed area of the spherical triangle a, b, c (positive when counterclockwise).
fn triangle_area(a: V3, b: V3, c: V3) -> f64 {
    2.0 * dot(a, cross(b, c)).atan2(1.0 + dot(a, b) + dot(b, c) + dot(c, a))
}

/// The area (steradians) of the region a ring encloses, and its first moment (the centroid
/// direction scaled by the area), both as if the ring were counterclockwise.
fn ring_area_moment(ring: &Ring) -> (f64, V3) {
    let points: Vec<V3> = ring.iter().map(|p| to_v3(*p)).collect();
    let (mut area, mut moment) = (0.0, [0.0; 3]);
    for i in 1..points.len() - 1 {
        let (a, b, c) = (points[0], points[i], points[i + 1]);
        let t = triangle_area(a, b, c);
        area += t;
        if let Some(m) = normalize(add(add(a, b), c)) {
            moment = add(moment, scale(m, t));
        }
    }
    if area < 0.0 {
        (-area, scale(moment, -1.0))
    } else {
        (area, moment)
    }
}

/// Area (steradians) and first moment of a polygon: its outer ring less its holes.
fn polygon_area_moment(rings: &[Ring]) -> (f64, V3) {
    let (mut area, mut moment) = ring_area_moment(&rings[0]);
    for hole in &rings[1..] {
        let (a, m) = ring_area_moment(hole);
        area -= a;
        moment = add(moment, scale(m, -1.0));
    }
    (area.max(0.0), moment)
}

/// Whether `p` lies inside the ring (`vectors` are its vertices as unit vectors), with the
/// ring's edges as arcs: the ring is seen through a gnomonic projection centred on `p`, which
/// maps arcs to straight segments, so the planar even-odd test is exact. Rings reaching 90° or
/// more from `p` fall back to lon/lat.
fn in_ring(ring: &Ring, vectors: &[V3], p: LonLat) -> bool {
    let c = to_v3(p);
    let east = normalize(cross([0.0, 0.0, 1.0], c)).unwrap_or([0.0, 1.0, 0.0]);
    let north = cross(c, east);
    let gnomonic = vectors.iter().all(|v| dot(*v, c) > 1e-9);
    let point = |i: usize| -> (f64, f64) {
        if gnomonic {
            let v = vectors[i];
            let d = dot(v, c);
            (dot(v, east) / d, dot(v, north) / d)
        } else {
            ring[i]
        }
    };
    let (x, y) = if gnomonic { (0.0, 0.0) } else { p };
    let mut inside = false;
    let mut previous = point(ring.len() - 1);
    for i in 0..ring.len() {
        let (xi, yi) = point(i);
        let (xj, yj) = previous;
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        previous = (xi, yi);
    }
    inside
}

/// Polygons with their vertices as unit vectors, for testing many points against one shape.
struct Prepared {
    polygons: Vec<Vec<Ring>>,
    vectors: Vec<Vec<Vec<V3>>>,
}

impl Prepared {
    fn new(polygons: Vec<Vec<Ring>>) -> Prepared {
        let vectors = polygons
            .iter()
            .map(|rings| {
                rings
                    .iter()
                    .map(|ring| ring.iter().map(|p| to_v3(*p)).collect())
                    .collect()
            })
            .collect();
        Prepared { polygons, vectors }
    }

    /// Whether `p` is inside one of the polygons (in an outer ring and in none of its holes).
    fn contains(&self, p: LonLat) -> bool {
        self.polygons
            .iter()
            .zip(&self.vectors)
            .any(|(rings, vectors)| {
                in_ring(&rings[0], &vectors[0], p)
                    && !(1..rings.len()).any(|h| in_ring(&rings[h], &vectors[h], p))
            })
    }
}

fn in_polygons(polygons: &[Vec<Ring>], p: LonLat) -> bool {
    Prepared::new(polygons.to_vec()).contains(p)
}

fn point_json(v: V3) -> Value {
    let (lon, lat) = to_lonlat(v);
    json!({"type": "Point", "coordinates": [lon, lat]})
}

fn coordinates_json(points: &[LonLat]) -> Value {
    Value::Array(points.iter().map(|(x, y)| json!([x, y])).collect())
}

fn ring_json(ring: &Ring) -> Value {
    let mut closed = ring.clone();
    closed.push(ring[0]);
    coordinates_json(&closed)
}

fn lines_json(lines: &[Vec<LonLat>], multi: bool) -> Value {
    if multi || lines.len() != 1 {
        json!({"type": "MultiLineString",
            "coordinates": lines.iter().map(|l| coordinates_json(l)).collect::<Vec<_>>()})
    } else {
        json!({"type": "LineString", "coordinates": coordinates_json(&lines[0])})
    }
}

fn polygons_json(polygons: &[Vec<Ring>], multi: bool) -> Value {
    let polygon = |rings: &Vec<Ring>| Value::Array(rings.iter().map(ring_json).collect());
    if multi || polygons.len() != 1 {
        json!({"type": "MultiPolygon",
            "coordinates": polygons.iter().map(polygon).collect::<Vec<_>>()})
    } else {
        json!({"type": "Polygon", "coordinates": polygon(&polygons[0])})
    }
}

fn empty_collection() -> Value {
    json!({"type": "GeometryCollection", "geometries": []})
}

/// The polygons of a MultiPolygon merged where they overlap, so that measures count shared
/// area once (as Kusto does); single polygons, and shapes too wide to merge, stay as they are.
fn merged(polygons: Vec<Vec<Ring>>) -> Vec<Vec<Ring>> {
    if polygons.len() < 2 {
        return polygons;
    }
    overlay::union(&polygons).unwrap_or(polygons)
}

/// The polygons of a dynamic array of Polygons and MultiPolygons, or None when any is invalid.
fn polygon_array(value: &Value) -> Option<Vec<Vec<Ring>>> {
    let mut all = Vec::new();
    for shape in value.as_array()? {
        all.extend(polygons(shape)?.0);
    }
    (!all.is_empty()).then_some(all)
}

/// Polygons as GeoJSON: a Polygon, a MultiPolygon, or an empty GeometryCollection.
fn region_json(polygons: &[Vec<Ring>]) -> Value {
    if polygons.is_empty() {
        empty_collection()
    } else {
        polygons_json(polygons, false)
    }
}

/// The radius (positive, meters) and arc tolerance of a buffer, or None when out of range:
/// Kusto takes tolerances down to 0.0001% of the radius and lowers one above the radius to
/// just below it.
fn buffer_size(args: &Args, index: usize, row: usize) -> Option<(f64, f64)> {
    let radius = args.real(index, row, f64::NAN)?;
    let tolerance = args.real(index + 1, row, 0.1)?;
    let in_range = radius > 0.0 && radius < RADIUS && tolerance >= radius * 1e-6;
    in_range.then(|| (radius, tolerance.min(radius * (1.0 - 1e-9))))
}

/// The lines of a dynamic array of LineStrings and MultiLineStrings, or None when any is
/// invalid.
fn line_array(value: &Value) -> Option<Vec<Vec<LonLat>>> {
    let mut all = Vec::new();
    for shape in value.as_array()? {
        all.extend(lines(shape)?.0);
    }
    (!all.is_empty()).then_some(all)
}

/// The union of lines: every distinct edge once, chained into polylines that run between
/// vertices where lines end or branch (a closed chain starts where its first edge does).
/// Edges are the same when their endpoints are; partly overlapping edges are not split.
fn union_lines(lines: &[Vec<LonLat>]) -> Vec<Vec<LonLat>> {
    type Key = (u64, u64);
    let key = |p: LonLat| -> Key { (p.0.to_bits(), p.1.to_bits()) };
    let mut seen: HashSet<(Key, Key)> = HashSet::new();
    let mut edges: Vec<(LonLat, LonLat)> = Vec::new();
    let mut at: HashMap<Key, Vec<usize>> = HashMap::new();
    for line in lines {
        for w in line.windows(2) {
            let (a, b) = (key(w[0]), key(w[1]));
            if a == b || seen.contains(&(a, b)) || seen.contains(&(b, a)) {
                continue;
            }
            seen.insert((a, b));
            at.entry(a).or_default().push(edges.len());
            at.entry(b).or_default().push(edges.len());
            edges.push((w[0], w[1]));
        }
    }
    let other = |e: usize, v: LonLat| {
        if edges[e].0 == v {
            edges[e].1
        } else {
            edges[e].0
        }
    };
    // The edge continuing a chain through `v` (a vertex of exactly two edges) after `e`.
    let through = |v: LonLat, e: usize| -> Option<usize> {
        match at[&key(v)].as_slice() {
            [x, y] => Some(if *x == e { *y } else { *x }),
            _ => None,
        }
    };
    let mut used = vec![false; edges.len()];
    let mut chains = Vec::new();
    for first in 0..edges.len() {
        if used[first] {
            continue;
        }
        // Back up to where the chain begins.
        let (mut v, mut e) = (edges[first].0, first);
        while let Some(f) = through(v, e) {
            if f == first {
                // A closed chain: start where its first edge does.
                (v, e) = (edges[first].0, first);
                break;
            }
            if used[f] {
                break;
            }
            v = other(f, v);
            e = f;
        }
        let mut chain = vec![v];
        loop {
            used[e] = true;
            v = other(e, v);
            chain.push(v);
            match through(v, e) {
                Some(f) if !used[f] => e = f,
                _ => break,
            }
        }
        chains.push(chain);
    }
    chains
}

fn line_length(line: &[LonLat]) -> f64 {
    line_edges(line).map(|(a, b)| angle(a, b)).sum()
}

fn line_centroid(lines: &[Vec<LonLat>]) -> Option<V3> {
    let mut moment = [0.0; 3];
    for (a, b) in lines.iter().flat_map(|l| line_edges(l)) {
        if let Some(m) = normalize(add(a, b)) {
            moment = add(moment, scale(m, angle(a, b)));
        }
    }
    normalize(moment)
}

/// The closest point of a set of edges to `p`: (angular distance, point, edge index, fraction
/// along that edge).
fn closest_on_edges(p: V3, edges: impl Iterator<Item = (V3, V3)>) -> Option<(f64, V3, usize, f64)> {
    let mut best: Option<(f64, V3, usize, f64)> = None;
    for (i, (a, b)) in edges.enumerate() {
        let (d, q) = closest_on_arc(p, a, b);
        if best.is_none_or(|(bd, ..)| d < bd) {
            best = Some((d, q, i, arc_fraction(a, b, q)));
        }
    }
    best
}

fn polygon_edges(polygons: &[Vec<Ring>]) -> impl Iterator<Item = (V3, V3)> + '_ {
    polygons.iter().flatten().flat_map(ring_edges)
}

/// Planar edges turned into chains that stay within `tolerance` meters of the geodesic: an
/// edge whose planar midpoint is farther than that from the arc is split there, recursively.
fn densify_edge(a: LonLat, b: LonLat, tolerance: f64, depth: u32, out: &mut Vec<LonLat>) {
    let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
    let (deviation, _) = closest_on_arc(to_v3(mid), to_v3(a), to_v3(b));
    if depth < MAX_DENSIFY_DEPTH && deviation * RADIUS > tolerance {
        densify_edge(a, mid, tolerance, depth + 1, out);
        densify_edge(mid, b, tolerance, depth + 1, out);
    } else {
        out.push(b);
    }
}

/// Densified planar edges. With `preserve_crossing`, an edge spanning more than 180° of
/// longitude is taken the short way, across the antimeridian, rather than across the map.
fn densify_path(points: &[LonLat], tolerance: f64, preserve_crossing: bool) -> Vec<LonLat> {
    let mut out = vec![points[0]];
    for w in points.windows(2) {
        let (a, mut b) = (w[0], w[1]);
        if preserve_crossing && (b.0 - a.0).abs() > 180.0 {
            b.0 -= 360.0 * (b.0 - a.0).signum();
            let start = out.len();
            densify_edge(a, b, tolerance, 0, &mut out);
            for p in &mut out[start..] {
                if p.0 > 180.0 {
                    p.0 -= 360.0;
                } else if p.0 < -180.0 {
                    p.0 += 360.0;
                }
            }
            if let Some(last) = out.last_mut() {
                *last = w[1];
            }
        } else {
            densify_edge(a, b, tolerance, 0, &mut out);
        }
    }
    out
}

/// Douglas-Peucker on the sphere: the vertices of `points` kept so that every dropped vertex is
/// within `tolerance` (radians) of the arc that replaces it. Both ends are kept.
fn simplify_path(points: &[LonLat], tolerance: f64, out: &mut Vec<LonLat>) {
    let (first, last) = (points[0], points[points.len() - 1]);
    let (a, b) = (to_v3(first), to_v3(last));
    let farthest = (1..points.len() - 1)
        .map(|i| {
            let p = to_v3(points[i]);
            let d = if first == last {
                angle(p, a)
            } else {
                closest_on_arc(p, a, b).0
            };
            (i, d)
        })
        .max_by(|x, y| x.1.total_cmp(&y.1));
    match farthest {
        Some((i, d)) if d > tolerance => {
            simplify_path(&points[..=i], tolerance, out);
            simplify_path(&points[i..], tolerance, out);
        }
        _ => {
            if out.last() != Some(&first) {
                out.push(first);
            }
            out.push(last);
        }
    }
}

/// Whether every point lies within `tolerance` (radians) of the first: such a shape collapses
/// to a point when simplified, which Kusto reports as null.
fn collapses(points: &[LonLat], tolerance: f64) -> bool {
    let a = to_v3(points[0]);
    points.iter().all(|p| angle(to_v3(*p), a) <= tolerance)
}

fn simplify_line(line: &[LonLat], tolerance: f64) -> Option<Vec<LonLat>> {
    if collapses(line, tolerance) {
        return None;
    }
    let mut out = Vec::new();
    simplify_path(line, tolerance, &mut out);
    Some(out)
}

fn simplify_ring(ring: &Ring, tolerance: f64) -> Option<Ring> {
    if collapses(ring, tolerance) {
        return None;
    }
    let mut closed = ring.clone();
    closed.push(ring[0]);
    let mut out = Vec::new();
    simplify_path(&closed, tolerance, &mut out);
    out.pop();
    (out.len() >= 3).then_some(out)
}

/// Where a line meets polygons: the stretches of the line inside them (as lines). A stretch is
/// inside when its midpoint is, between consecutive crossings with the polygon edges.
fn clip_line(line: &[LonLat], polygons: &[Vec<Ring>]) -> Vec<Vec<LonLat>> {
    let inside = Prepared::new(polygons.to_vec());
    let mut pieces: Vec<Vec<LonLat>> = Vec::new();
    let mut current: Vec<LonLat> = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (to_v3(w[0]), to_v3(w[1]));
        let mut cuts = vec![0.0, 1.0];
        for (c, d) in polygon_edges(polygons) {
            match crossing(a, b, c, d) {
                Crossing::Point(t) => cuts.push(t),
                Crossing::Overlap(t0, t1) => cuts.extend([t0, t1]),
                Crossing::None => {}
            }
        }
        cuts.sort_by(f64::total_cmp);
        cuts.dedup_by(|x, y| (*x - *y).abs() < 1e-12);
        let at = |t: f64| -> LonLat {
            if t == 0.0 {
                w[0]
            } else if t == 1.0 {
                w[1]
            } else {
                to_lonlat(slerp(a, b, t))
            }
        };
        for span in cuts.windows(2) {
            let mid = to_lonlat(slerp(a, b, (span[0] + span[1]) / 2.0));
            if inside.contains(mid) {
                let start = at(span[0]);
                if current.last() != Some(&start) {
                    if current.len() >= 2 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current = vec![start];
                }
                current.push(at(span[1]));
            } else if current.len() >= 2 {
                pieces.push(std::mem::take(&mut current));
            } else {
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        pieces.push(current);
    }
    pieces
}

/// Points and shared stretches of two sets of lines.
fn intersect_lines(first: &[Vec<LonLat>], second: &[Vec<LonLat>]) -> Value {
    let mut points: Vec<LonLat> = Vec::new();
    let mut stretches: Vec<Vec<LonLat>> = Vec::new();
    for l1 in first {
        for w in l1.windows(2) {
            let (a, b) = (to_v3(w[0]), to_v3(w[1]));
            let at = |t: f64| -> LonLat {
                if t == 0.0 {
                    w[0]
                } else if t == 1.0 {
                    w[1]
                } else {
                    to_lonlat(slerp(a, b, t))
                }
            };
            for (c, d) in second.iter().flat_map(|l| line_edges(l)) {
                match crossing(a, b, c, d) {
                    Crossing::Point(t) => points.push(at(t)),
                    Crossing::Overlap(t0, t1) => {
                        let (p0, p1) = (at(t0), at(t1));
                        match stretches.last_mut() {
                            Some(last) if last.last() == Some(&p0) => last.push(p1),
                            _ => stretches.push(vec![p0, p1]),
                        }
                    }
                    Crossing::None => {}
                }
            }
        }
    }
    // A crossing at the end of a shared stretch is part of it.
    let same = |p: &LonLat, q: &LonLat| angle(to_v3(*p), to_v3(*q)) < 1e-12;
    points.retain(|p| !stretches.iter().flatten().any(|q| same(p, q)));
    let mut distinct: Vec<LonLat> = Vec::with_capacity(points.len());
    for p in points {
        if !distinct.iter().any(|q| same(&p, q)) {
            distinct.push(p);
        }
    }
    let points = distinct;
    match (points.len(), stretches.len()) {
        (0, 0) => empty_collection(),
        (0, _) => lines_json(&stretches, false),
        (1, 0) => json!({"type": "Point", "coordinates": [points[0].0, points[0].1]}),
        (_, 0) => json!({"type": "MultiPoint", "coordinates": coordinates_json(&points)}),
        _ => {
            let mut geometries: Vec<Value> = points
                .iter()
                .map(|(x, y)| json!({"type": "Point", "coordinates": [x, y]}))
                .collect();
            geometries.push(lines_json(&stretches, false));
            json!({"type": "GeometryCollection", "geometries": geometries})
        }
    }
}

fn edges_cross(
    first: impl Iterator<Item = (V3, V3)>,
    second: impl Iterator<Item = (V3, V3)>,
) -> bool {
    let second: Vec<(V3, V3)> = second.collect();
    first.into_iter().any(|(a, b)| {
        second
            .iter()
            .any(|&(c, d)| !matches!(crossing(a, b, c, d), Crossing::None))
    })
}

/// A circle of `radius` meters around a point as a counterclockwise polygon whose edges stay
/// within `tolerance` meters outside the circle (the polygon covers the circle).
fn point_buffer(center: LonLat, radius: f64, tolerance: f64) -> Option<Value> {
    let sigma = radius / RADIUS;
    if !(sigma > 0.0 && sigma < std::f64::consts::FRAC_PI_2) {
        return None;
    }
    // A circumscribed n-gon reaches radius / cos(pi / n); keep that within the tolerance.
    let half = (radius / (radius + tolerance)).acos();
    let n = ((std::f64::consts::PI / half).ceil() as usize).clamp(8, 65_536);
    let reach = (radius / (std::f64::consts::PI / n as f64).cos()) / RADIUS;
    let (lambda, phi) = (center.0.to_radians(), center.1.to_radians());
    let mut ring: Ring = (0..n)
        .map(|k| {
            // Bearings decrease so the ring runs counterclockwise.
            let bearing = -(k as f64) * 2.0 * std::f64::consts::PI / n as f64;
            let lat = (phi.sin() * reach.cos() + phi.cos() * reach.sin() * bearing.cos()).asin();
            let lon = lambda
                + (bearing.sin() * reach.sin() * phi.cos())
                    .atan2(reach.cos() - phi.sin() * lat.sin());
            let lon = (lon.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
            (lon, lat.to_degrees())
        })
        .collect();
    ring.dedup();
    Some(polygons_json(&[vec![ring]], false))
}

// ---------------------------------------------------------------------------------------------
// WKT

struct Wkt<'a> {
    text: &'a [u8],
    at: usize,
}

impl Wkt<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.text.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).to_ascii_uppercase()
    }

    fn number(&mut self) -> Option<f64> {
        self.skip_space();
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    /// `x y [z [m]]`, keeping longitude and latitude.
    fn coordinate(&mut self) -> Option<Value> {
        let (lon, lat) = (self.number()?, self.number()?);
        while {
            self.skip_space();
            self.text
                .get(self.at)
                .is_some_and(|c| c.is_ascii_digit() || b"+-.".contains(c))
        } {
            self.number()?;
        }
        valid(lon, lat).then(|| json!([lon, lat]))
    }

    /// `( item, item, ... )`.
    fn list(&mut self, item: impl Fn(&mut Self) -> Option<Value>) -> Option<Value> {
        if !self.eat(b'(') {
            return None;
        }
        let mut items = vec![item(self)?];
        while self.eat(b',') {
            items.push(item(self)?);
        }
        self.eat(b')').then_some(Value::Array(items))
    }

    fn path(&mut self) -> Option<Value> {
        self.list(Self::coordinate)
    }

    fn rings(&mut self) -> Option<Value> {
        self.list(Self::path)
    }

    fn geometry(&mut self) -> Option<Value> {
        let kind = self.word();
        let mut dimension = self.word();
        if !matches!(dimension.as_str(), "" | "Z" | "M" | "ZM" | "EMPTY") {
            return None;
        }
        let empty = dimension == "EMPTY" || {
            dimension = self.word();
            dimension == "EMPTY"
        };
        if !dimension.is_empty() && !empty {
            return None;
        }
        let (name, coordinates) = match kind.as_str() {
            "GEOMETRYCOLLECTION" => {
                let geometries = if empty {
                    Value::Array(Vec::new())
                } else {
                    self.list(Self::geometry)?
                };
                return Some(json!({"type": "GeometryCollection", "geometries": geometries}));
            }
            _ if empty => return None,
            "POINT" => ("Point", {
                let point = self.list(Self::coordinate)?;
                point.as_array()?.first()?.clone()
            }),
            "LINESTRING" => ("LineString", self.path()?),
            "POLYGON" => ("Polygon", self.rings()?),
            "MULTIPOINT" => (
                "MultiPoint",
                self.list(|p| {
                    if p.eat(b'(') {
                        let c = p.coordinate()?;
                        p.eat(b')').then_some(c)
                    } else {
                        p.coordinate()
                    }
                })?,
            ),
            "MULTILINESTRING" => ("MultiLineString", self.list(Self::path)?),
            "MULTIPOLYGON" => ("MultiPolygon", self.list(Self::rings)?),
            _ => return None,
        };
        Some(json!({"type": name, "coordinates": coordinates}))
    }
}

/// GeoJSON of a WKT text, or None when it is not valid WKT.
fn from_wkt(text: &str) -> Option<Value> {
    let mut parser = Wkt {
        text: text.as_bytes(),
        at: 0,
    };
    let geometry = parser.geometry()?;
    parser.skip_space();
    (parser.at == parser.text.len()).then_some(geometry)
}

// ---------------------------------------------------------------------------------------------
// Kernels

/// One evaluated argument. Equal shapes on consecutive rows (a constant polygon) share one
/// parsed value.
enum Arg {
    Shape(Vec<Arc<Value>>),
    Real(Float64Array),
    Bool(BooleanArray),
    Text(StringArray),
}

/// The evaluated arguments of a call, read row by row.
struct Args(Vec<Arg>);

impl Args {
    fn shape(&self, index: usize, row: usize) -> &Value {
        match self.0.get(index) {
            Some(Arg::Shape(values)) => &values[row],
            _ => &Value::Null,
        }
    }

    /// The shared parsed shape of argument `index` at `row`, to tell repeated shapes apart.
    fn shape_arc(&self, index: usize, row: usize) -> Option<&Arc<Value>> {
        match self.0.get(index) {
            Some(Arg::Shape(values)) => values.get(row),
            _ => None,
        }
    }

    /// Argument `index` at `row`: `default` when the argument is absent, None when null.
    fn real(&self, index: usize, row: usize, default: f64) -> Option<f64> {
        match self.0.get(index) {
            Some(Arg::Real(values)) => (!values.is_null(row)).then(|| values.value(row)),
            _ => Some(default),
        }
    }

    fn bool(&self, index: usize, row: usize, default: bool) -> Option<bool> {
        match self.0.get(index) {
            Some(Arg::Bool(values)) => (!values.is_null(row)).then(|| values.value(row)),
            _ => Some(default),
        }
    }

    fn text(&self, index: usize, row: usize) -> Option<&str> {
        match self.0.get(index) {
            Some(Arg::Text(values)) => string_value(values, row),
            _ => None,
        }
    }

    /// Longitude and latitude from arguments `index` and `index + 1`, when in range.
    fn point(&self, index: usize, row: usize) -> Option<LonLat> {
        let (lon, lat) = (
            self.real(index, row, f64::NAN)?,
            self.real(index + 1, row, f64::NAN)?,
        );
        valid(lon, lat).then_some((lon, lat))
    }
}

fn evaluate(call: &Call<'_>, spec: &[u8]) -> DFResult<Args> {
    let mut args = Vec::with_capacity(call.args.len());
    for (i, (array, &ty)) in call.args.iter().zip(call.types).enumerate() {
        args.push(match spec.get(i) {
            Some(b's') if ty == KustoType::Dynamic => {
                let mut shapes: Vec<Arc<Value>> = Vec::with_capacity(call.rows);
                let mut previous: Option<&str> = None;
                for r in 0..call.rows {
                    let text = string_value(array.as_ref(), r);
                    match shapes.last() {
                        Some(last) if r > 0 && text == previous => shapes.push(Arc::clone(last)),
                        _ => shapes.push(Arc::new(
                            text.map_or(Value::Null, crate::dynamic::parse_lenient),
                        )),
                    }
                    previous = text;
                }
                Arg::Shape(shapes)
            }
            Some(b's') => Arg::Shape(
                (0..call.rows)
                    .map(|r| Arc::new(json_at(array.as_ref(), r, ty)))
                    .collect(),
            ),
            Some(b'b') => Arg::Bool(super::to_bool_array(array, ty)?),
            Some(b't') => Arg::Text(call.strings(i)),
            _ => Arg::Real(super::to_real_array(array, ty)?),
        });
    }
    Ok(Args(args))
}

/// A shape function: `spec` gives the kind of each argument (`s` shape, `r` real, `b` bool,
/// `t` text); the arguments past `min` are optional. `f` computes one row's result.
fn shape_function(
    name: &'static str,
    spec: &'static str,
    min: usize,
    ty: KustoType,
    f: fn(&Args, usize) -> Option<Value>,
) -> KustoScalar {
    KustoScalar::new(
        name,
        min,
        Some(spec.len()),
        returns(ty),
        Arc::new(move |call| {
            let args = evaluate(call, spec.as_bytes())?;
            let values = (0..call.rows).map(|r| f(&args, r));
            Ok(match ty {
                KustoType::Real => Arc::new(
                    values
                        .map(|v| v.and_then(|v| v.as_f64()))
                        .collect::<Float64Array>(),
                ) as ArrayRef,
                KustoType::Bool => Arc::new(
                    values
                        .map(|v| v.and_then(|v| v.as_bool()))
                        .collect::<BooleanArray>(),
                ),
                _ => Arc::new(
                    values
                        .map(|v| v.map(|v| v.to_string()))
                        .collect::<StringArray>(),
                ),
            })
        }),
    )
}

fn number(x: f64) -> Option<Value> {
    serde_json::Number::from_f64(x).map(Value::Number)
}

/// A tolerance argument in meters within Kusto's range for densify, or None.
fn densify_tolerance(args: &Args, index: usize, row: usize) -> Option<f64> {
    let tolerance = args.real(index, row, DEFAULT_TOLERANCE)?;
    (0.1..=10_000.0).contains(&tolerance).then_some(tolerance)
}

/// A simplify tolerance in meters (nonnegative), as an angle.
fn simplify_tolerance(args: &Args, index: usize, row: usize) -> Option<f64> {
    let tolerance = args.real(index, row, DEFAULT_TOLERANCE)?;
    (tolerance >= 0.0 && tolerance.is_finite()).then_some(tolerance / RADIUS)
}

pub(super) fn functions() -> Vec<KustoScalar> {
    use KustoType::{Bool, Dynamic, Real};
    vec![
        shape_function("geo_line_length", "s", 1, Real, |args, r| {
            let (lines, _) = lines(args.shape(0, r))?;
            number(lines.iter().map(|l| line_length(l)).sum::<f64>() * RADIUS)
        }),
        shape_function("geo_line_centroid", "s", 1, Dynamic, |args, r| {
            let (lines, _) = lines(args.shape(0, r))?;
            line_centroid(&lines).map(point_json)
        }),
        shape_function("geo_polygon_area", "s", 1, Real, |args, r| {
            let polygons = merged(polygons(args.shape(0, r))?.0);
            let area: f64 = polygons.iter().map(|p| polygon_area_moment(p).0).sum();
            number(area * RADIUS * RADIUS)
        }),
        shape_function("geo_polygon_perimeter", "s", 1, Real, |args, r| {
            let polygons = merged(polygons(args.shape(0, r))?.0);
            let perimeter: f64 = polygon_edges(&polygons).map(|(a, b)| angle(a, b)).sum();
            number(perimeter * RADIUS)
        }),
        shape_function("geo_polygon_centroid", "s", 1, Dynamic, |args, r| {
            let polygons = merged(polygons(args.shape(0, r))?.0);
            let moment = polygons
                .iter()
                .map(|p| polygon_area_moment(p).1)
                .fold([0.0; 3], add);
            normalize(moment).map(point_json)
        }),
        shape_function("geo_distance_point_to_line", "rrs", 3, Real, |args, r| {
            let p = args.point(0, r)?;
            let (lines, _) = lines(args.shape(2, r))?;
            let edges = lines.iter().flat_map(|l| line_edges(l));
            let (d, ..) = closest_on_edges(to_v3(p), edges)?;
            number(d * RADIUS)
        }),
        shape_function("geo_closest_point_on_line", "rrs", 3, Dynamic, |args, r| {
            let p = args.point(0, r)?;
            let (lines, _) = lines(args.shape(2, r))?;
            let edges = lines.iter().flat_map(|l| line_edges(l));
            let (_, q, ..) = closest_on_edges(to_v3(p), edges)?;
            Some(point_json(q))
        }),
        shape_function(
            "geo_distance_point_to_polygon",
            "rrs",
            3,
            Real,
            |args, r| {
                let p = args.point(0, r)?;
                let (polygons, _) = polygons(args.shape(2, r))?;
                if in_polygons(&polygons, p) {
                    return number(0.0);
                }
                let (d, ..) = closest_on_edges(to_v3(p), polygon_edges(&polygons))?;
                number(d * RADIUS)
            },
        ),
        shape_function(
            "geo_closest_point_on_polygon",
            "rrs",
            3,
            Dynamic,
            |args, r| {
                let p = args.point(0, r)?;
                let (polygons, _) = polygons(args.shape(2, r))?;
                if in_polygons(&polygons, p) {
                    return Some(point_json(to_v3(p)));
                }
                let (_, q, ..) = closest_on_edges(to_v3(p), polygon_edges(&polygons))?;
                Some(point_json(q))
            },
        ),
        shape_function("geo_line_locate_point", "srrb", 3, Real, |args, r| {
            let (lines, false) = lines(args.shape(0, r))? else {
                return None;
            };
            let line = &lines[0];
            let p = args.point(1, r)?;
            if args.bool(3, r, false)? {
                return number(spheroid::locate(line, p)?);
            }
            let (_, _, edge, t) = closest_on_edges(to_v3(p), line_edges(line))?;
            let lengths: Vec<f64> = line_edges(line).map(|(a, b)| angle(a, b)).collect();
            let total: f64 = lengths.iter().sum();
            let along: f64 = lengths[..edge].iter().sum::<f64>() + t * lengths[edge];
            number((along / total).clamp(0.0, 1.0))
        }),
        shape_function(
            "geo_line_interpolate_point",
            "srb",
            2,
            Dynamic,
            |args, r| {
                let (lines, false) = lines(args.shape(0, r))? else {
                    return None;
                };
                let fraction = args.real(1, r, f64::NAN)?;
                if !(0.0..=1.0).contains(&fraction) {
                    return None;
                }
                if args.bool(2, r, false)? {
                    let (lon, lat) = spheroid::interpolate(&lines[0], fraction)?;
                    return Some(json!({"type": "Point", "coordinates": [lon, lat]}));
                }
                let edges: Vec<(V3, V3)> = line_edges(&lines[0]).collect();
                let total: f64 = edges.iter().map(|(a, b)| angle(*a, *b)).sum();
                let mut left = fraction * total;
                for (i, (a, b)) in edges.iter().enumerate() {
                    let length = angle(*a, *b);
                    if left <= length || i == edges.len() - 1 {
                        let t = if length > 0.0 {
                            (left / length).min(1.0)
                        } else {
                            0.0
                        };
                        return Some(point_json(slerp(*a, *b, t)));
                    }
                    left -= length;
                }
                None
            },
        ),
        shape_function("geo_line_densify", "srb", 1, Dynamic, |args, r| {
            let (lines, multi) = lines(args.shape(0, r))?;
            let tolerance = densify_tolerance(args, 1, r)?;
            let preserve = args.bool(2, r, false)?;
            let dense: Vec<Vec<LonLat>> = lines
                .iter()
                .map(|l| densify_path(l, tolerance, preserve))
                .collect();
            Some(lines_json(&dense, multi))
        }),
        shape_function("geo_polygon_densify", "srb", 1, Dynamic, |args, r| {
            let (polygons, multi) = polygons(args.shape(0, r))?;
            let tolerance = densify_tolerance(args, 1, r)?;
            let preserve = args.bool(2, r, false)?;
            let dense: Vec<Vec<Ring>> = polygons
                .iter()
                .map(|rings| {
                    rings
                        .iter()
                        .map(|ring| {
                            let mut closed = ring.clone();
                            closed.push(ring[0]);
                            let mut out = densify_path(&closed, tolerance, preserve);
                            out.pop();
                            out
                        })
                        .collect()
                })
                .collect();
            Some(polygons_json(&dense, multi))
        }),
        shape_function("geo_line_simplify", "sr", 1, Dynamic, |args, r| {
            let (lines, multi) = lines(args.shape(0, r))?;
            let tolerance = simplify_tolerance(args, 1, r)?;
            let simple: Vec<Vec<LonLat>> = lines
                .iter()
                .filter_map(|l| simplify_line(l, tolerance))
                .collect();
            (!simple.is_empty()).then(|| lines_json(&simple, multi))
        }),
        shape_function("geo_polygon_simplify", "sr", 1, Dynamic, |args, r| {
            let (polygons, multi) = polygons(args.shape(0, r))?;
            let tolerance = simplify_tolerance(args, 1, r)?;
            // A collapsed outer ring drops its polygon; a collapsed hole is dropped.
            let simple: Vec<Vec<Ring>> = polygons
                .iter()
                .filter_map(|rings| {
                    let outer = simplify_ring(&rings[0], tolerance)?;
                    let mut out = vec![outer];
                    out.extend(
                        rings[1..]
                            .iter()
                            .filter_map(|h| simplify_ring(h, tolerance)),
                    );
                    Some(out)
                })
                .collect();
            (!simple.is_empty()).then(|| polygons_json(&simple, multi))
        }),
        shape_function("geo_intersects_2lines", "ss", 2, Bool, |args, r| {
            let (first, _) = lines(args.shape(0, r))?;
            let (second, _) = lines(args.shape(1, r))?;
            let crosses = edges_cross(
                first.iter().flat_map(|l| line_edges(l)),
                second.iter().flat_map(|l| line_edges(l)),
            );
            Some(Value::Bool(crosses))
        }),
        shape_function("geo_intersection_2lines", "ss", 2, Dynamic, |args, r| {
            let (first, _) = lines(args.shape(0, r))?;
            let (second, _) = lines(args.shape(1, r))?;
            Some(intersect_lines(&first, &second))
        }),
        shape_function(
            "geo_intersects_line_with_polygon",
            "ss",
            2,
            Bool,
            |args, r| {
                let (lines, _) = lines(args.shape(0, r))?;
                let (polygons, _) = polygons(args.shape(1, r))?;
                let prepared = Prepared::new(polygons.clone());
                let inside = lines.iter().flatten().any(|p| prepared.contains(*p));
                let crosses = edges_cross(
                    lines.iter().flat_map(|l| line_edges(l)),
                    polygon_edges(&polygons),
                );
                Some(Value::Bool(inside || crosses))
            },
        ),
        shape_function(
            "geo_intersection_line_with_polygon",
            "ss",
            2,
            Dynamic,
            |args, r| {
                let (lines, _) = lines(args.shape(0, r))?;
                let (polygons, _) = polygons(args.shape(1, r))?;
                let pieces: Vec<Vec<LonLat>> =
                    lines.iter().flat_map(|l| clip_line(l, &polygons)).collect();
                Some(if pieces.is_empty() {
                    empty_collection()
                } else {
                    lines_json(&pieces, false)
                })
            },
        ),
        shape_function("geo_intersects_2polygons", "ss", 2, Bool, |args, r| {
            let (first, _) = polygons(args.shape(0, r))?;
            let (second, _) = polygons(args.shape(1, r))?;
            let vertex_inside = |a: &[Vec<Ring>], b: &[Vec<Ring>]| {
                let prepared = Prepared::new(b.to_vec());
                a.iter().flatten().flatten().any(|p| prepared.contains(*p))
            };
            let meets = vertex_inside(&first, &second)
                || vertex_inside(&second, &first)
                || edges_cross(polygon_edges(&first), polygon_edges(&second));
            Some(Value::Bool(meets))
        }),
        shape_function("geo_point_buffer", "rrrr", 3, Dynamic, |args, r| {
            let center = args.point(0, r)?;
            let (radius, tolerance) = buffer_size(args, 2, r)?;
            point_buffer(center, radius, tolerance)
        }),
        shape_function("geo_union_lines_array", "s", 1, Dynamic, |args, r| {
            let all = line_array(args.shape(0, r))?;
            Some(lines_json(&union_lines(&all), false))
        }),
        shape_function("geo_union_polygons_array", "s", 1, Dynamic, |args, r| {
            let all = polygon_array(args.shape(0, r))?;
            Some(region_json(&overlay::union(&all)?))
        }),
        shape_function(
            "geo_simplify_polygons_array",
            "sr",
            1,
            Dynamic,
            |args, r| {
                let all = polygon_array(args.shape(0, r))?;
                let tolerance = simplify_tolerance(args, 1, r)?;
                let simple: Vec<Vec<Ring>> = overlay::union(&all)?
                    .iter()
                    .filter_map(|rings| {
                        let mut out = vec![simplify_ring(&rings[0], tolerance)?];
                        out.extend(
                            rings[1..]
                                .iter()
                                .filter_map(|h| simplify_ring(h, tolerance)),
                        );
                        Some(out)
                    })
                    .collect();
                (!simple.is_empty()).then(|| polygons_json(&simple, false))
            },
        ),
        shape_function("geo_intersection_2polygons", "ss", 2, Dynamic, |args, r| {
            let (first, _) = polygons(args.shape(0, r))?;
            let (second, _) = polygons(args.shape(1, r))?;
            let shared = overlay::intersection(&first, &second)?;
            if !shared.is_empty() {
                return Some(polygons_json(&shared, false));
            }
            // Polygons that only touch share points or stretches of their boundaries.
            let boundary = |polygons: &[Vec<Ring>]| -> Vec<Vec<LonLat>> {
                polygons
                    .iter()
                    .flatten()
                    .map(|ring| {
                        let mut closed = ring.clone();
                        closed.push(ring[0]);
                        closed
                    })
                    .collect()
            };
            Some(intersect_lines(&boundary(&first), &boundary(&second)))
        }),
        shape_function("geo_polygon_buffer", "srr", 2, Dynamic, |args, r| {
            let (polygons, _) = polygons(args.shape(0, r))?;
            let (radius, tolerance) = buffer_size(args, 1, r)?;
            Some(region_json(&overlay::buffer_polygons(
                &polygons, radius, tolerance,
            )?))
        }),
        shape_function("geo_line_buffer", "srr", 2, Dynamic, |args, r| {
            let (lines, _) = lines(args.shape(0, r))?;
            let (radius, tolerance) = buffer_size(args, 1, r)?;
            Some(region_json(&overlay::buffer_lines(
                &lines, radius, tolerance,
            )?))
        }),
        KustoScalar::new(
            "geo_point_in_polygon",
            3,
            Some(3),
            returns(Bool),
            Arc::new(|call| {
                let args = evaluate(call, b"rrs")?;
                // Points are usually tested against one polygon (or a few, row after row):
                // prepare each distinct shape once.
                let mut cache: Option<(Arc<Value>, Option<Prepared>)> = None;
                let mut out = BooleanArray::builder(call.rows);
                for r in 0..call.rows {
                    let Some(shape) = args.shape_arc(2, r) else {
                        out.append_null();
                        continue;
                    };
                    if !cache.as_ref().is_some_and(|(s, _)| Arc::ptr_eq(s, shape)) {
                        let prepared = polygons(shape).map(|(p, _)| Prepared::new(p));
                        cache = Some((Arc::clone(shape), prepared));
                    }
                    let prepared = cache.as_ref().and_then(|(_, p)| p.as_ref());
                    match (prepared, args.point(0, r)) {
                        (Some(prepared), Some(p)) => out.append_value(prepared.contains(p)),
                        _ => out.append_null(),
                    }
                }
                Ok(Arc::new(out.finish()) as ArrayRef)
            }),
        ),
        shape_function("geo_from_wkt", "t", 1, Dynamic, |args, r| {
            from_wkt(args.text(0, r)?)
        }),
    ]
}

/// `use_spheroid`: along-line measures with edges as geodesics on the WGS84 ellipsoid.
mod spheroid {
    use geo::{Distance, Geodesic, InterpolatePoint, Point};

    use super::LonLat;

    fn point((lon, lat): LonLat) -> Point<f64> {
        Point::new(lon, lat)
    }

    fn lengths(line: &[LonLat]) -> Vec<f64> {
        line.windows(2)
            .map(|w| Geodesic.distance(point(w[0]), point(w[1])))
            .collect()
    }

    /// The fraction of the line's length at which it comes closest to `p`.
    pub(super) fn locate(line: &[LonLat], p: LonLat) -> Option<f64> {
        let lengths = lengths(line);
        let total: f64 = lengths.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let target = point(p);
        let mut best: Option<(f64, f64)> = None;
        let mut before = 0.0;
        for (w, length) in line.windows(2).zip(&lengths) {
            let (a, b) = (point(w[0]), point(w[1]));
            let at =
                |s: f64| Geodesic.distance(Geodesic.point_at_distance_between(a, b, s), target);
            // The distance to the points of a geodesic edge has one minimum along it:
            // golden-section search down to well below a millimeter.
            let (mut lo, mut hi) = (0.0, *length);
            let ratio = (5f64.sqrt() - 1.0) / 2.0;
            while hi - lo > 1e-6 {
                let (m1, m2) = (hi - ratio * (hi - lo), lo + ratio * (hi - lo));
                if at(m1) <= at(m2) {
                    hi = m2;
                } else {
                    lo = m1;
                }
            }
            let s = (lo + hi) / 2.0;
            let d = at(s);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, before + s));
            }
            before += length;
        }
        best.map(|(_, along)| (along / total).clamp(0.0, 1.0))
    }

    /// The point at `fraction` of the line's length.
    pub(super) fn interpolate(line: &[LonLat], fraction: f64) -> Option<LonLat> {
        let lengths = lengths(line);
        let total: f64 = lengths.iter().sum();
        let mut left = fraction * total;
        for (i, (w, length)) in line.windows(2).zip(&lengths).enumerate() {
            if left >= *length && i + 1 < lengths.len() {
                left -= length;
                continue;
            }
            if left <= 0.0 {
                return Some(w[0]);
            }
            if left >= *length {
                return Some(w[1]);
            }
            let q = Geodesic.point_at_distance_between(point(w[0]), point(w[1]), left);
            return Some((q.x(), q.y()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Value {
        serde_json::from_str(text).expect("test shape")
    }

    const CENTRAL_PARK: &str = r#"{"type":"Polygon","coordinates":[[[-73.9495,40.7969],[-73.95807266235352,40.80068603561921],[-73.98201942443848,40.76825672305777],[-73.97317886352539,40.76455136505513],[-73.9495,40.7969]]]}"#;

    fn close(got: f64, expected: f64) {
        assert!(
            (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{got} != {expected}"
        );
    }

    #[test]
    fn measures_match_the_docs() {
        let (park, _) = polygons(&shape(CENTRAL_PARK)).expect("polygon");
        close(
            polygon_area_moment(&park[0]).0 * RADIUS * RADIUS,
            3475207.28346606,
        );
        let perimeter: f64 = polygon_edges(&park).map(|(a, b)| angle(a, b)).sum();
        close(perimeter * RADIUS, 9930.30149604938);
        let line = shape(
            r#"{"type":"LineString","coordinates":[[-73.95807266235352,40.8004261441693],[-73.94966125488281,40.79691751000055],[-73.97317886352539,40.7644863569303]]}"#,
        );
        let (lines, _) = lines(&line).expect("line");
        close(line_length(&lines[0]) * RADIUS, 4922.48016992081);
        let (d, ..) =
            closest_on_edges(to_v3((-73.9839, 40.7705)), polygon_edges(&park)).expect("edges");
        close(d * RADIUS, 259.940756070596);
        let (lon, lat) = to_lonlat(normalize(polygon_area_moment(&park[0]).1).expect("centroid"));
        assert!((lon + 73.9657356899076).abs() < 1e-9 && (lat - 40.7825505380578).abs() < 1e-9);
    }

    #[test]
    fn invalid_shapes_are_rejected() {
        assert!(
            polygons(&shape(
                r#"{"type":"Polygon","coordinates":[[[0,0],[10,10],[10,10],[0,0]]]}"#
            ))
            .is_none()
        );
        assert!(polygons(&shape(r#"{"type":"Polygon"}"#)).is_none());
        assert!(lines(&shape(r#"{"type":"LineString","coordinates":[[1,1]]}"#)).is_none());
        assert!(
            lines(&shape(
                r#"{"type":"LineString","coordinates":[[300,1],[1,1]]}"#
            ))
            .is_none()
        );
    }

    #[test]
    fn densify_splits_planar_edges_until_within_tolerance() {
        let dense = densify_path(&[(50.0, 50.0), (51.0, 51.0)], 10.0, false);
        assert_eq!(dense.len(), 9);
        assert_eq!(dense[1], (50.125, 50.125));
        // A meridian is a geodesic already.
        assert_eq!(
            densify_path(&[(10.0, 10.0), (10.0, 11.0)], 10.0, false).len(),
            2
        );
        assert_eq!(
            densify_path(&[(10.0, 10.0), (11.0, 10.0)], 10.0, false).len(),
            5
        );
    }

    #[test]
    fn simplify_keeps_the_shape_and_drops_collapsed_ones() {
        let line = [(1.1, 1.1), (1.2, 1.2)];
        assert!(simplify_line(&line, 100_000.0 / RADIUS).is_none());
        let ring: Ring = vec![(5.0, 48.0), (0.0, 50.0), (0.0, 47.0), (4.0, 47.0)];
        assert!(simplify_ring(&ring, 1_000_000.0 / RADIUS).is_none());
        assert_eq!(simplify_ring(&ring, 10.0 / RADIUS), Some(ring));
    }

    #[test]
    fn line_intersections() {
        let first = vec![vec![(-73.978929, 40.785155), (-73.980903, 40.782621)]];
        let second = vec![vec![(-73.985195, 40.788275), (-73.974552, 40.779761)]];
        let point = intersect_lines(&first, &second);
        let coordinates = &point["coordinates"];
        assert_eq!(point["type"], "Point");
        assert!((coordinates[0].as_f64().unwrap_or(0.0) + 73.979837116671).abs() < 1e-7);
        assert!((coordinates[1].as_f64().unwrap_or(0.0) - 40.7839892897722).abs() < 1e-7);
        assert_eq!(intersect_lines(&first, &first)["type"], "LineString");
        let far = vec![vec![(3.0, 3.0), (4.0, 4.0)]];
        assert_eq!(
            intersect_lines(&[vec![(1.0, 1.0), (2.0, 2.0)]], &far),
            empty_collection()
        );
    }

    #[test]
    fn clipping_a_line_by_a_polygon_with_a_hole() {
        let polygon = shape(
            r#"{"type":"Polygon","coordinates":[[[-90.263,36.738],[-102.041,45.274],[-109.335,36.527],[-90.263,36.738]],[[-100.393,41.705],[-103.139,38.925],[-97.558,39.113],[-100.393,41.705]]]}"#,
        );
        let (polygons, _) = polygons(&polygon).expect("polygon");
        let pieces = clip_line(&[(-110.522, 39.198), (-91.428, 40.880)], &polygons);
        let expected = [
            [
                (-106.893536558819, 39.7692262097763),
                (-101.744485536795, 40.3735060087125),
            ],
            [
                (-99.1364994313289, 40.5893365127),
                (-95.2845277373118, 40.7990602422463),
            ],
        ];
        assert_eq!(pieces.len(), 2);
        for (piece, want) in pieces.iter().zip(expected) {
            for (p, q) in piece.iter().zip(want) {
                assert!(
                    (p.0 - q.0).abs() < 1e-6 && (p.1 - q.1).abs() < 1e-6,
                    "{p:?} {q:?}"
                );
            }
        }
    }

    #[test]
    fn multipolygon_measures_count_the_overlap_once() {
        let shape = shape(
            r#"{"type":"MultiPolygon","coordinates":[[[[-73.9495,40.7969],[-73.95807266235352,40.80068603561921],[-73.98201942443848,40.76825672305777],[-73.97317886352539,40.76455136505513],[-73.9495,40.7969]]],[[[-73.94262313842773,40.775991804565585],[-73.98107528686523,40.791849155467695],[-73.99600982666016,40.77092185281977],[-73.96150588989258,40.75609977566361],[-73.94262313842773,40.775991804565585]]]]}"#,
        );
        let union = merged(polygons(&shape).expect("multipolygon").0);
        assert_eq!(union.len(), 1);
        let area: f64 = union.iter().map(|p| polygon_area_moment(p).0).sum();
        assert!(
            (area * RADIUS * RADIUS - 10889971.5343487).abs() < 1.0,
            "{area}"
        );
        let perimeter: f64 = polygon_edges(&union).map(|(a, b)| angle(a, b)).sum();
        assert!(
            (perimeter * RADIUS - 15943.5384578745).abs() < 0.01,
            "{perimeter}"
        );
    }

    #[test]
    fn polygons_touching_at_a_vertex_share_a_point() {
        let (first, _) = polygons(&shape(
            r#"{"type":"Polygon","coordinates":[[[2,45],[0,45],[1,44],[2,45]]]}"#,
        ))
        .expect("polygon");
        let (second, _) = polygons(&shape(
            r#"{"type":"Polygon","coordinates":[[[3,44],[2,45],[2,43],[3,44]]]}"#,
        ))
        .expect("polygon");
        assert_eq!(overlay::intersection(&first, &second), Some(Vec::new()));
        let closed = |p: &[Vec<Ring>]| {
            let mut ring = p[0][0].clone();
            ring.push(ring[0]);
            vec![ring]
        };
        assert_eq!(
            intersect_lines(&closed(&first), &closed(&second)),
            json!({"type": "Point", "coordinates": [2.0, 45.0]})
        );
    }

    #[test]
    fn buffers_grow_by_the_radius() {
        let (square, _) = polygons(&shape(
            r#"{"type":"Polygon","coordinates":[[[10,10],[10.01,10],[10.01,10.01],[10,10.01],[10,10]]]}"#,
        ))
        .expect("polygon");
        let grown = overlay::buffer_polygons(&square, 100.0, 0.1).expect("buffer");
        let before = polygon_area_moment(&square[0]).0 * RADIUS * RADIUS;
        let after = polygon_area_moment(&grown[0]).0 * RADIUS * RADIUS;
        let perimeter: f64 = polygon_edges(&square)
            .map(|(a, b)| angle(a, b))
            .sum::<f64>()
            * RADIUS;
        // Area of a rounded buffer: A + P·r + π·r².
        let expected = before + perimeter * 100.0 + std::f64::consts::PI * 100.0 * 100.0;
        assert!(
            (after - expected).abs() / expected < 1e-3,
            "{after} vs {expected}"
        );
    }

    #[test]
    fn union_of_lines_merges_shared_edges() {
        let (a, b, c, d) = ((0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 1.0));
        let union = union_lines(&[vec![a, b, c], vec![b, c, d], vec![c, b]]);
        assert_eq!(union, vec![vec![a, b, c, d]]);
        // A branch splits the chains at the branching vertex.
        let e = (2.0, 2.0);
        let union = union_lines(&[vec![a, b, c], vec![b, e]]);
        assert_eq!(union, vec![vec![a, b], vec![b, c], vec![b, e]]);
        // A closed chain comes back to its start.
        let ring = union_lines(&[vec![a, b, c, a]]);
        assert_eq!(ring, vec![vec![a, b, c, a]]);
    }

    #[test]
    fn densify_across_the_antimeridian() {
        let crossing = densify_path(&[(179.0, 10.0), (-179.0, 10.0)], 10.0, true);
        assert_eq!(crossing.first(), Some(&(179.0, 10.0)));
        assert_eq!(crossing.last(), Some(&(-179.0, 10.0)));
        assert!(crossing.iter().all(|p| p.0.abs() >= 179.0), "{crossing:?}");
        let across_the_map = densify_path(&[(179.0, 10.0), (-179.0, 10.0)], 10.0, false);
        assert!(across_the_map.iter().any(|p| p.0.abs() < 1.0));
    }

    #[test]
    fn along_line_measures_on_the_spheroid() {
        let line = [(-73.95796, 40.80042), (-73.97317, 40.764486)];
        let sphere = 0.255601351003076;
        let fraction = spheroid::locate(&line, (-73.965, 40.792)).expect("fraction");
        assert!(
            (fraction - sphere).abs() < 1e-2 && fraction != sphere,
            "{fraction}"
        );
        // The point at that fraction is the closest to the located point.
        let at = spheroid::interpolate(&line, fraction).expect("point");
        let back = spheroid::locate(&line, at).expect("fraction");
        assert!((back - fraction).abs() < 1e-9, "{back} {fraction}");
        assert_eq!(spheroid::interpolate(&line, 0.0), Some(line[0]));
        assert_eq!(spheroid::interpolate(&line, 1.0), Some(line[1]));
    }

    #[tokio::test]
    async fn buffer_arguments_out_of_range_give_null() {
        use crate::scalar::test_support::eval;
        use datafusion::logical_expr::lit;
        let buffer = |args: Vec<f64>| eval("geo_point_buffer", args.into_iter().map(lit).collect());
        assert_eq!(buffer(vec![200.0, 1.0, 0.1]).await, ["null"]);
        assert_eq!(buffer(vec![10.0, 10.0, -1.0]).await, ["null"]);
        // Tolerances below 0.0001% of the radius are refused; above the radius, lowered.
        assert_eq!(buffer(vec![10.0, 10.0, 1000.0, 0.0001]).await, ["null"]);
        let coarse = buffer(vec![10.0, 10.0, 1000.0, 5000.0]).await;
        assert!(coarse[0].starts_with(r#"{"type":"Polygon""#), "{coarse:?}");
    }

    #[test]
    fn wkt_to_geojson() {
        assert_eq!(
            from_wkt("POINT (1 2)"),
            Some(json!({"type": "Point", "coordinates": [1.0, 2.0]}))
        );
        assert_eq!(
            from_wkt("MULTILINESTRING ((1 1, 2 2, 3 3), (4 4, 5 5))"),
            Some(json!({"type": "MultiLineString",
                "coordinates": [[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], [[4.0, 4.0], [5.0, 5.0]]]}))
        );
        let collection =
            from_wkt("GEOMETRYCOLLECTION (POINT (1 1),LINESTRING (2 2, 3 3, 4 4))").expect("wkt");
        assert_eq!(collection["geometries"][1]["type"], "LineString");
        assert_eq!(from_wkt("POINT (1)"), None);
        assert_eq!(from_wkt("POINT (200 1)"), None);
        assert_eq!(from_wkt("CIRCLE (1 1)"), None);
    }

    #[test]
    fn point_buffer_covers_the_circle() {
        let buffer =
            point_buffer((0.00315930601735204, 51.5029292241284), 300.0, 0.1).expect("buffer");
        let (polygons, _) = polygons(&buffer).expect("polygon");
        assert!(in_polygons(
            &polygons,
            (0.00096257041250206, 51.50385432770013)
        ));
        assert!(!in_polygons(
            &polygons,
            (0.000939510604240468, 51.47700456557013)
        ));
        assert!(point_buffer((10.0, 10.0), -1.0, 0.1).is_none());
    }
}
