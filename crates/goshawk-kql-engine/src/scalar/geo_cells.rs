//! Kusto's geospatial cell functions: the S2 family (`geo_point_to_s2cell`,
//! `geo_s2cell_to_central_point`, `geo_s2cell_neighbors`, `geo_s2cell_to_polygon`,
//! `geo_polygon_to_s2cells`, `geo_line_to_s2cells`) on the `s2` crate, and the H3 family
//! (`geo_point_to_h3cell`, `geo_h3cell_to_central_point`, `geo_h3cell_to_polygon`,
//! `geo_h3cell_parent`, `geo_h3cell_children`, `geo_h3cell_neighbors`, `geo_h3cell_rings`,
//! `geo_h3cell_level`, `geo_polygon_to_h3cells`) on `h3o`.
//!
//! As in Kusto, bad input never fails the query: functions returning a cell token give an
//! empty string, the others null. S2 coverings treat shape edges as geodesics and a polygon
//! ring as the smaller of the two regions it bounds (so ring orientation does not matter);
//! H3 polygon coverings are the cells whose centers lie in the polygon, as H3's polyfill,
//! which is what Kusto returns (the docs' Madrid example gives the same 13 cells).

use std::sync::Arc;

use arrow::array::{Array as _, ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use h3o::{CellIndex, LatLng, Resolution};
use s2::cell::Cell;
use s2::cellid::CellID;
use s2::edge_crossings::{Crossing, EdgeCrosser, angle_contains_vertex, crossing_sign};
use s2::edgeutil::distance_from_segment;
use s2::latlng::LatLng as S2LatLng;
use s2::point::Point;
use s2::predicates::{Direction, robust_sign};
use serde_json::{Value, json};

use super::{Call, KustoScalar, returns};
use crate::format::{json_at, string_value};

/// The mean radius of the Earth (IUGG), in meters: turns buffer radii into angles.
const EARTH_RADIUS: f64 = 6_371_008.8;
/// Kusto's default S2 level for point and shape cells.
const DEFAULT_S2_LEVEL: i64 = 11;
/// Kusto's default H3 resolution for point and polygon cells.
const DEFAULT_H3_RESOLUTION: i64 = 6;
/// The most cells a covering may have; a larger one is null (Kusto: "the cell count exceeds
/// the limit"), which also bounds the work one row can cause.
const MAX_COVERING_CELLS: usize = 65_536;
/// `geo_h3cell_children` is null more than five levels below the cell (7^5 = 16,807
/// children), as in Kusto (the docs show three levels working and six giving null).
const MAX_CHILDREN_LEVELS: u8 = 5;
/// The largest ring distance `geo_h3cell_rings` accepts: 142 rings hold 60,919 cells, within
/// [`MAX_COVERING_CELLS`].
const MAX_RING_DISTANCE: i64 = 142;

/// A (longitude, latitude) pair in degrees.
type Coord = (f64, f64);

fn valid(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

fn point_json(lon: f64, lat: f64) -> Value {
    json!({"type": "Point", "coordinates": [lon, lat]})
}

fn polygon_json(ring: Vec<Coord>) -> Value {
    let coordinates: Vec<Value> = ring.into_iter().map(|(x, y)| json!([x, y])).collect();
    json!({"type": "Polygon", "coordinates": [coordinates]})
}

fn dynamic_column(values: impl IntoIterator<Item = Option<Value>>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect::<StringArray>(),
    )
}

/// Argument `index` as reals, or `None` when the call has no such argument.
fn optional_reals(call: &Call<'_>, index: usize) -> DFResult<Option<Float64Array>> {
    if index >= call.args.len() {
        return Ok(None);
    }
    super::to_real_array(&call.args[index], call.types[index]).map(Some)
}

/// Argument `index` as longs, or `None` when the call has no such argument.
fn optional_longs(call: &Call<'_>, index: usize) -> DFResult<Option<Int64Array>> {
    if index >= call.args.len() {
        return Ok(None);
    }
    call.longs(index).map(Some)
}

fn real_at(values: &Float64Array, row: usize) -> Option<f64> {
    (!values.is_null(row)).then(|| values.value(row))
}

/// Row `row` of an optional long argument: the default when the argument is absent, `None`
/// when it is null.
fn long_or(values: &Option<Int64Array>, row: usize, default: i64) -> Option<i64> {
    match values {
        None => Some(default),
        Some(v) if v.is_null(row) => None,
        Some(v) => Some(v.value(row)),
    }
}

/// Row `row` of an optional real argument, as [`long_or`].
fn real_or(values: &Option<Float64Array>, row: usize, default: f64) -> Option<f64> {
    match values {
        None => Some(default),
        Some(v) => real_at(v, row),
    }
}

/// Row `row` of a `dynamic` argument as JSON (a string argument is parsed as JSON text).
fn dynamic_at(call: &Call<'_>, index: usize, row: usize) -> Value {
    let array = call.args[index].as_ref();
    match call.types[index] {
        KustoType::Dynamic | KustoType::String => {
            string_value(array, row).map_or(Value::Null, crate::dynamic::parse_lenient)
        }
        other => json_at(array, row, other),
    }
}

// ---------------------------------------------------------------------------------------------
// GeoJSON shapes

/// A polygon as rings of coordinates, the outer ring first; rings are closed (first point ==
/// last point) as GeoJSON requires.
type PolygonRings = Vec<Vec<Coord>>;

fn coordinate(value: &Value) -> Option<Coord> {
    let pair = value.as_array()?;
    if pair.len() < 2 {
        return None;
    }
    let (lon, lat) = (pair[0].as_f64()?, pair[1].as_f64()?);
    valid(lon, lat).then_some((lon, lat))
}

fn coordinates(value: &Value) -> Option<Vec<Coord>> {
    value.as_array()?.iter().map(coordinate).collect()
}

fn ring(value: &Value) -> Option<Vec<Coord>> {
    let points = coordinates(value)?;
    (points.len() >= 4 && points.first() == points.last()).then_some(points)
}

fn polygon_rings(value: &Value) -> Option<PolygonRings> {
    let rings: PolygonRings = value.as_array()?.iter().map(ring).collect::<Option<_>>()?;
    (!rings.is_empty()).then_some(rings)
}

/// The polygons of a GeoJSON Polygon or MultiPolygon.
fn parse_polygons(shape: &Value) -> Option<Vec<PolygonRings>> {
    let coordinates = shape.get("coordinates")?;
    match shape.get("type")?.as_str()? {
        "Polygon" => Some(vec![polygon_rings(coordinates)?]),
        "MultiPolygon" => {
            let polygons: Vec<PolygonRings> = coordinates
                .as_array()?
                .iter()
                .map(polygon_rings)
                .collect::<Option<_>>()?;
            (!polygons.is_empty()).then_some(polygons)
        }
        _ => None,
    }
}

fn line(value: &Value) -> Option<Vec<Coord>> {
    let points = coordinates(value)?;
    (points.len() >= 2).then_some(points)
}

/// The polylines of a GeoJSON LineString or MultiLineString.
fn parse_lines(shape: &Value) -> Option<Vec<Vec<Coord>>> {
    let coordinates = shape.get("coordinates")?;
    match shape.get("type")?.as_str()? {
        "LineString" => Some(vec![line(coordinates)?]),
        "MultiLineString" => {
            let lines: Vec<Vec<Coord>> = coordinates
                .as_array()?
                .iter()
                .map(line)
                .collect::<Option<_>>()?;
            (!lines.is_empty()).then_some(lines)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// S2

fn s2_point(lon: f64, lat: f64) -> Point {
    Point::from(S2LatLng::from_degrees(lat, lon))
}

fn s2_coord(point: &Point) -> Coord {
    let ll = S2LatLng::from(point);
    (ll.lng.deg(), ll.lat.deg())
}

/// A valid S2 cell from its token (1 to 16 hex digits, trailing zeros dropped).
fn s2_cell(token: &str) -> Option<CellID> {
    if token.is_empty() || token.len() > 16 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = CellID::from_token(token);
    id.is_valid().then_some(id)
}

fn s2_level(level: i64) -> Option<u64> {
    (0..=30).contains(&level).then_some(level as u64)
}

/// A closed spherical loop whose interior is the smaller of the two regions it bounds.
struct Loop {
    vertices: Vec<Point>,
    /// Whether the interior contains [`Point::origin`], the reference point for crossing parity.
    origin_inside: bool,
}

impl Loop {
    /// A loop from a closed GeoJSON ring; `None` when it has fewer than three distinct vertices.
    fn new(ring: &[Coord]) -> Option<Loop> {
        let mut vertices: Vec<Point> = Vec::with_capacity(ring.len());
        for &(lon, lat) in &ring[..ring.len() - 1] {
            let p = s2_point(lon, lat);
            if vertices.last() != Some(&p) {
                vertices.push(p);
            }
        }
        while vertices.len() > 1 && vertices.first() == vertices.last() {
            vertices.pop();
        }
        if vertices.len() < 3 {
            return None;
        }
        let mut lp = Loop {
            vertices,
            origin_inside: false,
        };
        // As S2Loop does: guess the origin is outside, then check the guess against vertex 1,
        // whose containment the wedge at it decides (interior on the left of the edges).
        let (v0, v1, v2) = (lp.vertices[0], lp.vertices[1], lp.vertices[2]);
        let v1_inside = v0 != v1 && v2 != v1 && angle_contains_vertex(&v0, &v1, &v2);
        if v1_inside != lp.contains(&v1) {
            lp.origin_inside = true;
        }
        // A negative turning angle means the left side is more than a hemisphere: Kusto takes
        // the smaller region whatever the ring's orientation.
        if lp.turning_angle() < 0.0 {
            lp.origin_inside = !lp.origin_inside;
        }
        Some(lp)
    }

    fn turning_angle(&self) -> f64 {
        let n = self.vertices.len();
        (0..n)
            .map(|i| {
                let a = &self.vertices[(i + n - 1) % n];
                let b = &self.vertices[i];
                let c = &self.vertices[(i + 1) % n];
                let angle = a.cross(b).0.angle(&b.cross(c).0).rad();
                if robust_sign(a, b, c) == Direction::CounterClockwise {
                    angle
                } else {
                    -angle
                }
            })
            .sum()
    }

    fn contains(&self, p: &Point) -> bool {
        let n = self.vertices.len();
        let mut crosser = EdgeCrosser::new_with_c(&Point::origin(), p, &self.vertices[0]);
        let mut inside = self.origin_inside;
        for i in 1..=n {
            inside ^= crosser.chain_edge_or_vertex_crossing(&self.vertices[i % n]);
        }
        inside
    }

    fn edges(&self) -> impl Iterator<Item = (Point, Point)> + '_ {
        let n = self.vertices.len();
        (0..n).map(move |i| (self.vertices[i], self.vertices[(i + 1) % n]))
    }
}

/// A shape to cover with S2 cells: geodesic edges, and for polygons the loops that decide
/// what is inside; `buffer` widens it by an angle (the radius argument).
struct S2Shape {
    edges: Vec<(Point, Point)>,
    /// Each polygon as its outer loop and holes.
    polygons: Vec<(Loop, Vec<Loop>)>,
    buffer: f64,
}

impl S2Shape {
    fn from_polygons(polygons: &[PolygonRings], buffer: f64) -> Option<S2Shape> {
        let mut shape = S2Shape {
            edges: Vec::new(),
            polygons: Vec::new(),
            buffer,
        };
        for rings in polygons {
            let mut loops = rings
                .iter()
                .map(|r| Loop::new(r))
                .collect::<Option<Vec<_>>>()?;
            for lp in &loops {
                shape.edges.extend(lp.edges());
            }
            let outer = loops.remove(0);
            shape.polygons.push((outer, loops));
        }
        Some(shape)
    }

    fn from_lines(lines: &[Vec<Coord>], buffer: f64) -> S2Shape {
        let mut edges = Vec::new();
        for line in lines {
            let points: Vec<Point> = line.iter().map(|&(lon, lat)| s2_point(lon, lat)).collect();
            edges.extend(points.windows(2).map(|w| (w[0], w[1])));
        }
        S2Shape {
            edges,
            polygons: Vec::new(),
            buffer,
        }
    }

    fn contains_point(&self, p: &Point) -> bool {
        self.polygons
            .iter()
            .any(|(outer, holes)| outer.contains(p) && !holes.iter().any(|h| h.contains(p)))
    }
}

/// Whether edge `ab` comes within `buffer` radians of `cell` (touches it when `buffer` is 0).
fn edge_near_cell(a: &Point, b: &Point, cell: &Cell, corners: &[Point; 4], buffer: f64) -> bool {
    if cell.contains_point(a) || cell.contains_point(b) {
        return true;
    }
    let crosses = (0..4)
        .any(|k| crossing_sign(a, b, &corners[k], &corners[(k + 1) % 4]) != Crossing::DoNotCross);
    if crosses {
        return true;
    }
    if buffer <= 0.0 {
        return false;
    }
    // Two geodesic arcs that do not cross are closest at an endpoint of one of them.
    (0..4).any(|k| {
        let (c, d) = (&corners[k], &corners[(k + 1) % 4]);
        distance_from_segment(a, c, d).rad() <= buffer
            || distance_from_segment(b, c, d).rad() <= buffer
            || distance_from_segment(c, a, b).rad() <= buffer
    })
}

/// How a cell relates to the shape: `None` when disjoint, `Some(true)` when the shape contains
/// it, `Some(false)` when they only intersect. `edges` holds the indices of the edges near the
/// parent cell and is narrowed to those near this one.
fn relate(shape: &S2Shape, cell: &Cell, edges: &mut Vec<usize>) -> Option<bool> {
    let corners = cell.vertices();
    edges.retain(|&i| {
        let (a, b) = &shape.edges[i];
        edge_near_cell(a, b, cell, &corners, shape.buffer)
    });
    if !edges.is_empty() {
        return Some(false);
    }
    // No edge touches the cell, so it lies wholly inside or wholly outside the polygons.
    (!shape.polygons.is_empty() && shape.contains_point(&cell.center())).then_some(true)
}

/// The cells of `level` that the shape touches, in cell-id order; `None` beyond
/// [`MAX_COVERING_CELLS`].
fn s2_covering(shape: &S2Shape, level: u64) -> Option<Vec<CellID>> {
    fn visit(
        shape: &S2Shape,
        id: CellID,
        level: u64,
        mut edges: Vec<usize>,
        out: &mut Vec<CellID>,
    ) -> Option<()> {
        let contained = relate(shape, &Cell::from(id), &mut edges);
        match contained {
            None => Some(()),
            Some(true) => {
                let count = 1usize.checked_shl(2 * (level - id.level()) as u32)?;
                if out.len() + count > MAX_COVERING_CELLS {
                    return None;
                }
                let end = id.child_end_at_level(level);
                let mut child = id.child_begin_at_level(level);
                while child != end {
                    out.push(child);
                    child = child.next();
                }
                Some(())
            }
            Some(false) if id.level() == level => {
                out.push(id);
                (out.len() <= MAX_COVERING_CELLS).then_some(())
            }
            Some(false) => {
                for child in id.children() {
                    visit(shape, child, level, edges.clone(), out)?;
                }
                Some(())
            }
        }
    }
    let mut out = Vec::new();
    let all_edges: Vec<usize> = (0..shape.edges.len()).collect();
    for face in 0..6 {
        visit(
            shape,
            CellID::from_face(face),
            level,
            all_edges.clone(),
            &mut out,
        )?;
    }
    Some(out)
}

fn tokens(cells: impl IntoIterator<Item = CellID>) -> Value {
    Value::Array(
        cells
            .into_iter()
            .map(|c| Value::String(c.to_token()))
            .collect(),
    )
}

/// A buffer radius in meters as an angle; `None` when negative or not a number.
fn buffer_angle(radius: f64) -> Option<f64> {
    (radius.is_finite() && radius >= 0.0).then(|| radius / EARTH_RADIUS)
}

/// A covering function over a GeoJSON `dynamic` shape with optional level and radius
/// arguments. Consecutive rows with the same arguments reuse the previous result.
fn covering_function(
    name: &'static str,
    default_level: i64,
    cover: fn(&Value, i64, f64) -> Option<Value>,
) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(3),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let levels = optional_longs(call, 1)?;
            let radii = optional_reals(call, 2)?;
            let mut last: Option<(Value, i64, f64, Option<Value>)> = None;
            let mut out = Vec::with_capacity(call.rows);
            for r in 0..call.rows {
                let (Some(level), Some(radius)) =
                    (long_or(&levels, r, default_level), real_or(&radii, r, 0.0))
                else {
                    out.push(None);
                    continue;
                };
                let shape = dynamic_at(call, 0, r);
                if let Some((s, l, rad, result)) = &last
                    && *s == shape
                    && *l == level
                    && rad.to_bits() == radius.to_bits()
                {
                    out.push(result.clone());
                    continue;
                }
                let result = cover(&shape, level, radius);
                out.push(result.clone());
                last = Some((shape, level, radius, result));
            }
            Ok(dynamic_column(out))
        }),
    )
}

fn polygon_to_s2cells(shape: &Value, level: i64, radius: f64) -> Option<Value> {
    let level = s2_level(level)?;
    let shape = S2Shape::from_polygons(&parse_polygons(shape)?, buffer_angle(radius)?)?;
    Some(tokens(s2_covering(&shape, level)?))
}

fn line_to_s2cells(shape: &Value, level: i64, radius: f64) -> Option<Value> {
    let level = s2_level(level)?;
    let shape = S2Shape::from_lines(&parse_lines(shape)?, buffer_angle(radius)?);
    Some(tokens(s2_covering(&shape, level)?))
}

fn s2_token_function(name: &'static str, f: fn(CellID) -> Value) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Dynamic),
        Arc::new(move |call| {
            let cells = call.strings(0);
            Ok(dynamic_column((0..call.rows).map(|r| {
                s2_cell(string_value(&cells, r).unwrap_or("")).map(f)
            })))
        }),
    )
}

fn s2_polygon(id: CellID) -> Value {
    let cell = Cell::from(id);
    let mut ring: Vec<Coord> = cell.vertices().iter().map(s2_coord).collect();
    ring.push(ring[0]);
    polygon_json(ring)
}

fn s2_central_point(id: CellID) -> Value {
    let (lon, lat) = s2_coord(&Point::from(id));
    point_json(lon, lat)
}

/// The eight cells around a cell (fewer at a cube corner), in S2's `AllNeighbors` order.
fn s2_neighbors(id: CellID) -> Value {
    let mut seen = Vec::with_capacity(8);
    for n in id.all_neighbors(id.level()) {
        if n != id && !seen.contains(&n) {
            seen.push(n);
        }
    }
    tokens(seen)
}

// ---------------------------------------------------------------------------------------------
// H3

fn h3_cell(token: &str) -> Option<CellIndex> {
    if token.is_empty() || token.len() > 16 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(token, 16)
        .ok()
        .and_then(|v| CellIndex::try_from(v).ok())
}

fn h3_resolution(resolution: i64) -> Option<Resolution> {
    u8::try_from(resolution)
        .ok()
        .and_then(|r| Resolution::try_from(r).ok())
}

fn h3_tokens(cells: impl IntoIterator<Item = CellIndex>) -> Value {
    Value::Array(
        cells
            .into_iter()
            .map(|c| Value::String(c.to_string()))
            .collect(),
    )
}

fn h3_polygon(cell: CellIndex) -> Value {
    let mut ring: Vec<Coord> = cell.boundary().iter().map(|v| (v.lng(), v.lat())).collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    polygon_json(ring)
}

fn h3_central_point(cell: CellIndex) -> Value {
    let center = LatLng::from(cell);
    point_json(center.lng(), center.lat())
}

/// The cells sharing an edge with `cell`, in H3's `gridDisk` order (which is Kusto's).
fn h3_neighbors(cell: CellIndex) -> Value {
    h3_tokens(
        cell.grid_disk::<Vec<_>>(1)
            .into_iter()
            .filter(|c| *c != cell),
    )
}

/// The cells at each grid distance 0..=`distance` from `cell`, one array per distance.
fn h3_rings(cell: CellIndex, distance: i64) -> Option<Value> {
    if !(0..=MAX_RING_DISTANCE).contains(&distance) {
        return None;
    }
    let k = distance as u32;
    let mut rings: Vec<Vec<Value>> = vec![Vec::new(); k as usize + 1];
    for (c, d) in cell.grid_disk_distances::<Vec<_>>(k) {
        rings
            .get_mut(d as usize)?
            .push(Value::String(c.to_string()));
    }
    Some(Value::Array(rings.into_iter().map(Value::Array).collect()))
}

fn h3_children(cell: CellIndex, resolution: Option<i64>) -> Option<Value> {
    let level = u8::from(cell.resolution());
    let resolution = h3_resolution(resolution.unwrap_or(i64::from(level) + 1))?;
    let target = u8::from(resolution);
    if target < level || target - level > MAX_CHILDREN_LEVELS {
        return None;
    }
    Some(h3_tokens(cell.children(resolution)))
}

fn h3_parent(cell: CellIndex, resolution: Option<i64>) -> Option<String> {
    let level = i64::from(u8::from(cell.resolution()));
    let resolution = h3_resolution(resolution.unwrap_or(level - 1))?;
    cell.parent(resolution).map(|p| p.to_string())
}

/// Whether (lon, lat) lies inside a closed ring, even-odd rule in planar longitude/latitude.
fn in_ring(ring: &[Coord], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    for edge in ring.windows(2) {
        let ((x0, y0), (x1, y1)) = (edge[0], edge[1]);
        if (y0 > lat) != (y1 > lat) && lon < (x1 - x0) * (lat - y0) / (y1 - y0) + x0 {
            inside = !inside;
        }
    }
    inside
}

fn in_polygons(polygons: &[PolygonRings], lon: f64, lat: f64) -> bool {
    polygons.iter().any(|rings| {
        in_ring(&rings[0], lon, lat) && !rings[1..].iter().any(|h| in_ring(h, lon, lat))
    })
}

/// The H3 cells whose centers lie in the polygons (planar in longitude/latitude, as H3's
/// polyfill), plus with a radius every cell whose center is within it of the polygons' edges;
/// `None` for bad arguments or more than [`MAX_COVERING_CELLS`] cells.
fn polygon_to_h3cells(shape: &Value, resolution: i64, radius: f64) -> Option<Value> {
    let resolution = h3_resolution(resolution)?;
    let polygons = parse_polygons(shape)?;
    let buffer = buffer_angle(radius)?;
    Some(h3_tokens(h3_polyfill(&polygons, resolution, buffer)?))
}

/// H3 polyfill as the reference library does it: the cells along every edge seed a flood fill
/// that takes each neighbor whose center is in the shape, so every group of inside cells is
/// found (each borders a cell the boundary passes through). Cells come out sorted.
fn h3_polyfill(
    polygons: &[PolygonRings],
    resolution: Resolution,
    buffer: f64,
) -> Option<Vec<CellIndex>> {
    // Refuse shapes far beyond the limit before walking them: their bounding box in cells.
    let (mut west, mut east, mut south, mut north) = (180f64, -180f64, 90f64, -90f64);
    for &(lon, lat) in polygons.iter().flatten().flatten() {
        (west, east) = (west.min(lon), east.max(lon));
        (south, north) = (south.min(lat), north.max(lat));
    }
    let box_rads2 = (east - west).to_radians() * (north - south).to_radians();
    if box_rads2 / resolution.area_rads2() > 4.0 * MAX_COVERING_CELLS as f64 {
        return None;
    }
    let edges: Vec<(Point, Point)> = if buffer > 0.0 {
        polygons
            .iter()
            .flatten()
            .flat_map(|ring| ring.windows(2))
            .map(|w| (s2_point(w[0].0, w[0].1), s2_point(w[1].0, w[1].1)))
            .collect()
    } else {
        Vec::new()
    };
    let wanted = |cell: CellIndex| {
        let center = LatLng::from(cell);
        let (lon, lat) = (center.lng(), center.lat());
        if in_polygons(polygons, lon, lat) {
            return true;
        }
        let p = s2_point(lon, lat);
        edges
            .iter()
            .any(|(a, b)| distance_from_segment(&p, a, b).rad() <= buffer)
    };
    // Sample each edge at a third of the cell edge length (in degrees of arc, which is
    // conservative in longitude) so that consecutive samples fall in the same or adjacent
    // cells.
    let step = resolution.edge_length_rads().to_degrees() / 3.0;
    let mut frontier: Vec<CellIndex> = Vec::new();
    let mut visited = ahash::AHashSet::new();
    for edge in polygons.iter().flatten().flat_map(|ring| ring.windows(2)) {
        let ((x0, y0), (x1, y1)) = (edge[0], edge[1]);
        let samples = ((x1 - x0).hypot(y1 - y0) / step).ceil().max(1.0) as usize;
        if samples > 8 * MAX_COVERING_CELLS {
            return None;
        }
        for k in 0..=samples {
            let t = k as f64 / samples as f64;
            let cell = LatLng::new(y0 + t * (y1 - y0), x0 + t * (x1 - x0))
                .ok()?
                .to_cell(resolution);
            if visited.insert(cell) {
                frontier.push(cell);
            }
        }
    }
    let mut cells: Vec<CellIndex> = frontier.iter().copied().filter(|c| wanted(*c)).collect();
    while let Some(cell) = frontier.pop() {
        for neighbor in cell.grid_disk::<Vec<_>>(1) {
            if visited.insert(neighbor) && wanted(neighbor) {
                cells.push(neighbor);
                if cells.len() > MAX_COVERING_CELLS {
                    return None;
                }
                frontier.push(neighbor);
            }
        }
    }
    cells.sort_unstable();
    Some(cells)
}

fn h3_token_function(name: &'static str, ty: KustoType, f: fn(CellIndex) -> Value) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(ty),
        Arc::new(move |call| {
            let cells = call.strings(0);
            Ok(dynamic_column((0..call.rows).map(|r| {
                h3_cell(string_value(&cells, r).unwrap_or("")).map(f)
            })))
        }),
    )
}

/// A point-to-cell function: `(longitude, latitude[, level])` to a token, "" when invalid.
fn point_to_cell_function(
    name: &'static str,
    default_level: i64,
    cell: fn(f64, f64, i64) -> Option<String>,
) -> KustoScalar {
    KustoScalar::new(
        name,
        2,
        Some(3),
        returns(KustoType::String),
        Arc::new(move |call| {
            let lons = super::to_real_array(&call.args[0], call.types[0])?;
            let lats = super::to_real_array(&call.args[1], call.types[1])?;
            let levels = optional_longs(call, 2)?;
            let out: StringArray = (0..call.rows)
                .map(|r| {
                    let token = (|| {
                        let (lon, lat) = (real_at(&lons, r)?, real_at(&lats, r)?);
                        if !valid(lon, lat) {
                            return None;
                        }
                        cell(lon, lat, long_or(&levels, r, default_level)?)
                    })();
                    Some(token.unwrap_or_default())
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        }),
    )
}

/// An H3 function of a cell and an optional resolution-like argument.
fn h3_cell_and_long(
    name: &'static str,
    ty: KustoType,
    f: fn(CellIndex, Option<i64>) -> Option<Value>,
) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(2),
        returns(ty),
        Arc::new(move |call| {
            let cells = call.strings(0);
            let args = optional_longs(call, 1)?;
            let values: Vec<Option<Value>> = (0..call.rows)
                .map(|r| {
                    let cell = h3_cell(string_value(&cells, r).unwrap_or(""))?;
                    let arg = match &args {
                        None => None,
                        Some(a) if a.is_null(r) => return None,
                        Some(a) => Some(a.value(r)),
                    };
                    f(cell, arg)
                })
                .collect();
            Ok(if ty == KustoType::String {
                let out: StringArray = values
                    .into_iter()
                    .map(|v| {
                        Some(
                            v.and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                Arc::new(out) as ArrayRef
            } else {
                dynamic_column(values)
            })
        }),
    )
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        point_to_cell_function(
            "geo_point_to_s2cell",
            DEFAULT_S2_LEVEL,
            |lon, lat, level| {
                let level = s2_level(level)?;
                Some(
                    CellID::from(S2LatLng::from_degrees(lat, lon))
                        .parent(level)
                        .to_token(),
                )
            },
        ),
        s2_token_function("geo_s2cell_to_central_point", s2_central_point),
        s2_token_function("geo_s2cell_to_polygon", s2_polygon),
        s2_token_function("geo_s2cell_neighbors", s2_neighbors),
        covering_function(
            "geo_polygon_to_s2cells",
            DEFAULT_S2_LEVEL,
            polygon_to_s2cells,
        ),
        covering_function("geo_line_to_s2cells", DEFAULT_S2_LEVEL, line_to_s2cells),
        point_to_cell_function(
            "geo_point_to_h3cell",
            DEFAULT_H3_RESOLUTION,
            |lon, lat, res| {
                let resolution = h3_resolution(res)?;
                Some(LatLng::new(lat, lon).ok()?.to_cell(resolution).to_string())
            },
        ),
        h3_token_function(
            "geo_h3cell_to_central_point",
            KustoType::Dynamic,
            h3_central_point,
        ),
        h3_token_function("geo_h3cell_to_polygon", KustoType::Dynamic, h3_polygon),
        h3_token_function("geo_h3cell_neighbors", KustoType::Dynamic, h3_neighbors),
        h3_cell_and_long("geo_h3cell_children", KustoType::Dynamic, h3_children),
        h3_cell_and_long("geo_h3cell_parent", KustoType::String, |cell, res| {
            h3_parent(cell, res).map(Value::String)
        }),
        KustoScalar::new(
            "geo_h3cell_rings",
            2,
            Some(2),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let cells = call.strings(0);
                let distances = call.longs(1)?;
                Ok(dynamic_column((0..call.rows).map(|r| {
                    let cell = h3_cell(string_value(&cells, r).unwrap_or(""))?;
                    if distances.is_null(r) {
                        return None;
                    }
                    h3_rings(cell, distances.value(r))
                })))
            }),
        ),
        KustoScalar::new(
            "geo_h3cell_level",
            1,
            Some(1),
            returns(KustoType::Int),
            Arc::new(|call| {
                let cells = call.strings(0);
                let out: Int32Array = (0..call.rows)
                    .map(|r| {
                        h3_cell(string_value(&cells, r).unwrap_or(""))
                            .map(|c| i32::from(u8::from(c.resolution())))
                    })
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            }),
        ),
        covering_function(
            "geo_polygon_to_h3cells",
            DEFAULT_H3_RESOLUTION,
            polygon_to_h3cells,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;
    use serde_json::{Value, json};

    use super::{line_to_s2cells, polygon_to_h3cells, polygon_to_s2cells};
    use crate::scalar::test_support::{eval, lit_str};

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn sorted_strings(value: &Value) -> Vec<String> {
        let mut out: Vec<String> = value
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {value}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        out.sort();
        out
    }

    /// Whether two GeoJSON texts agree, numbers within 1e-9.
    fn assert_geojson(got: &str, expected: &str) {
        fn close(a: &Value, b: &Value) -> bool {
            match (a, b) {
                (Value::Number(x), Value::Number(y)) => {
                    (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9
                }
                (Value::Array(x), Value::Array(y)) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
                }
                (Value::Object(x), Value::Object(y)) => {
                    x.len() == y.len()
                        && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
                }
                _ => a == b,
            }
        }
        assert!(close(&parse(got), &parse(expected)), "{got}\n!= {expected}");
    }

    #[tokio::test]
    async fn s2_point_cells_and_their_shapes() {
        let cell = |lon: f64, lat: f64, level: Option<i64>| {
            let mut args = vec![lit(lon), lit(lat)];
            args.extend(level.map(lit));
            eval("geo_point_to_s2cell", args)
        };
        assert_eq!(cell(10.1234, 53.0, Some(8)).await, ["47b1d"]);
        assert_eq!(cell(10.6842, 53.0, Some(8)).await, ["47ae3"]);
        assert_eq!(cell(-73.956683, 40.807907, Some(10)).await, ["89c2f7"]);
        assert_eq!(cell(300.0, 1.0, None).await, [""]);
        assert_eq!(cell(1.0, 1.0, Some(31)).await, [""]);
        assert_eq!(cell(-73.989148, 40.743273, None).await.len(), 1);

        let polygon = eval("geo_s2cell_to_polygon", vec![lit_str("89c259")]).await;
        assert_geojson(
            &polygon[0],
            r#"{"type":"Polygon","coordinates":[[[-74.030012249838478,40.8012684339439],[-74.030012249838478,40.7222262918358],[-73.935982114337421,40.708880489804564],[-73.935982114337421,40.787917134506841],[-74.030012249838478,40.8012684339439]]]}"#,
        );
        let center = eval("geo_s2cell_to_central_point", vec![lit_str("89c259")]).await;
        let center = parse(&center[0]);
        assert_eq!(center["type"], "Point");
        let lon = center["coordinates"][0].as_f64().unwrap_or_default();
        assert!((-74.03..-73.93).contains(&lon), "{center}");
        for function in [
            "geo_s2cell_to_polygon",
            "geo_s2cell_to_central_point",
            "geo_s2cell_neighbors",
        ] {
            assert_eq!(
                eval(function, vec![lit_str("a")]).await,
                ["null"],
                "{function}"
            );
            assert_eq!(eval(function, vec![lit_str("xyz")]).await, ["null"]);
        }
    }

    #[tokio::test]
    async fn s2_neighbors_are_the_eight_surrounding_cells() {
        let got = eval("geo_s2cell_neighbors", vec![lit_str("89c259")]).await;
        assert_eq!(
            sorted_strings(&parse(&got[0])),
            [
                "89c251", "89c257", "89c25b", "89c25d", "89c25f", "89c2f5", "89c2f7", "89c2f9"
            ]
        );
    }

    #[test]
    fn s2_polygon_covering_matches_kusto_counts() {
        let triangle = json!({"type":"Polygon","coordinates":[[[0,0],[0,50],[100,50],[0,0]]]});
        let cells = polygon_to_s2cells(&triangle, 5, 0.0).unwrap_or_default();
        assert_eq!(cells.as_array().map(Vec::len), Some(286));
        // Too many cells, as in the docs: null.
        assert_eq!(polygon_to_s2cells(&triangle, 30, 0.0), None);
        // The orientation of the ring does not matter.
        let reversed = json!({"type":"Polygon","coordinates":[[[0,0],[100,50],[0,50],[0,0]]]});
        assert_eq!(polygon_to_s2cells(&reversed, 5, 0.0), Some(cells));
        assert_eq!(polygon_to_s2cells(&triangle, -1, 0.0), None);
        assert_eq!(polygon_to_s2cells(&triangle, 5, -1.0), None);
        let open = json!({"type":"Polygon","coordinates":[[[0,0],[0,50],[100,50]]]});
        assert_eq!(polygon_to_s2cells(&open, 5, 0.0), None);
    }

    #[test]
    fn s2_polygon_covering_contains_the_cells_of_inner_points() {
        let manhattan = json!({"type":"Polygon","coordinates":[[[-73.94966125488281,40.79698248639272],[-73.95841598510742,40.800426144169315],[-73.98124694824219,40.76806170936614],[-73.97283554077148,40.7645513650551],[-73.94966125488281,40.79698248639272]]]});
        let covering = sorted_strings(&polygon_to_s2cells(&manhattan, 16, 0.0).unwrap_or_default());
        let inner = s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(40.7823, -73.9655))
            .parent(16)
            .to_token();
        assert!(covering.contains(&inner), "{inner} not in {covering:?}");
        let outer = s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(40.75, -73.90))
            .parent(16)
            .to_token();
        assert!(!covering.contains(&outer));
        // A buffer only adds cells.
        let buffered =
            sorted_strings(&polygon_to_s2cells(&manhattan, 16, 500.0).unwrap_or_default());
        assert!(buffered.len() > covering.len());
        assert!(covering.iter().all(|c| buffered.contains(c)));
    }

    #[test]
    fn s2_line_covering() {
        let nested = json!({"type":"LineString","coordinates":[[[0,0],[0,0]]]});
        assert_eq!(line_to_s2cells(&nested, 11, 0.0), None);
        let street = json!({"type":"LineString","coordinates":[[-0.1399656708283601,51.50190802248855],[-0.14088438832752104,51.50012082761452]]});
        let cells = sorted_strings(&line_to_s2cells(&street, 14, 0.0).unwrap_or_default());
        let end = s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(
            51.50012082761452,
            -0.14088438832752104,
        ))
        .parent(14)
        .to_token();
        assert!(cells.contains(&end), "{cells:?}");
        // Within 500 m of the street: St. James' Park station's cell.
        let buffered = sorted_strings(&line_to_s2cells(&street, 14, 500.0).unwrap_or_default());
        let station = s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(
            51.49919145858172,
            -0.13451078568013486,
        ))
        .parent(14)
        .to_token();
        assert!(buffered.contains(&station), "{buffered:?}");
        assert!(!cells.contains(&station));
    }

    #[tokio::test]
    async fn h3_point_cells_and_their_shapes() {
        let cell = |lon: f64, lat: f64, res: i64| {
            eval("geo_point_to_h3cell", vec![lit(lon), lit(lat), lit(res)])
        };
        assert_eq!(cell(-73.956683, 40.807907, 5).await, ["852a100bfffffff"]);
        assert_eq!(cell(-73.989148, 40.743273, 5).await, ["852a1073fffffff"]);
        assert_eq!(cell(300.0, 1.0, 8).await, [""]);
        assert_eq!(cell(1.0, 1.0, 16).await, [""]);

        let polygon = eval("geo_h3cell_to_polygon", vec![lit_str("862a1072fffffff")]).await;
        assert_geojson(
            &polygon[0],
            r#"{"type":"Polygon","coordinates":[[[-74.0022744646159,40.735376026215022],[-74.046908029686236,40.727986222489115],[-74.060610712223664,40.696775140349033],[-74.029724408156682,40.672970047595463],[-73.985140983708192,40.680349049267583],[-73.971393761028622,40.71154393543933],[-74.0022744646159,40.735376026215022]]]}"#,
        );
        let center = eval(
            "geo_h3cell_to_central_point",
            vec![lit_str("862a1072fffffff")],
        )
        .await;
        assert_geojson(
            &center[0],
            r#"{"type":"Point","coordinates":[-74.016008479792447,40.7041679083504]}"#,
        );
        assert_eq!(
            eval("geo_h3cell_to_central_point", vec![lit_str("1")]).await,
            ["null"]
        );
        assert_eq!(
            eval("geo_h3cell_level", vec![lit_str("862a1072fffffff")]).await,
            ["6"]
        );
        assert_eq!(
            eval("geo_h3cell_level", vec![lit_str("abc")]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn h3_hierarchy() {
        let cell = "862a1072fffffff";
        assert_eq!(
            eval("geo_h3cell_parent", vec![lit_str(cell), lit(1_i64)]).await,
            ["812a3ffffffffff"]
        );
        assert_eq!(
            eval("geo_h3cell_parent", vec![lit_str(cell)]).await,
            ["852a1073fffffff"]
        );
        assert_eq!(
            eval("geo_h3cell_parent", vec![lit_str(cell), lit(15_i64)]).await,
            [""]
        );
        assert_eq!(eval("geo_h3cell_parent", vec![lit_str("123")]).await, [""]);
        assert_eq!(
            eval("geo_h3cell_children", vec![lit_str(cell)]).await,
            [
                r#"["872a10728ffffff","872a10729ffffff","872a1072affffff","872a1072bffffff","872a1072cffffff","872a1072dffffff","872a1072effffff"]"#
            ]
        );
        let grandchildren = eval("geo_h3cell_children", vec![lit_str(cell), lit(9_i64)]).await;
        assert_eq!(parse(&grandchildren[0]).as_array().map(Vec::len), Some(343));
        assert_eq!(
            eval("geo_h3cell_children", vec![lit_str(cell), lit(15_i64)]).await,
            ["null"]
        );
        assert_eq!(
            eval("geo_h3cell_children", vec![lit_str(cell), lit(5_i64)]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn h3_neighbors_and_rings_in_kusto_order() {
        assert_eq!(
            eval("geo_h3cell_neighbors", vec![lit_str("862a1072fffffff")]).await,
            [
                r#"["862a10727ffffff","862a10707ffffff","862a1070fffffff","862a10777ffffff","862a100dfffffff","862a100d7ffffff"]"#
            ]
        );
        assert_eq!(
            eval("geo_h3cell_neighbors", vec![lit_str("abc")]).await,
            ["null"]
        );
        let rings = eval(
            "geo_h3cell_rings",
            vec![lit_str("861f8894fffffff"), lit(1_i64)],
        )
        .await;
        assert_eq!(
            rings,
            [
                r#"[["861f8894fffffff"],["861f88947ffffff","861f8895fffffff","861f88867ffffff","861f8d497ffffff","861f8d4b7ffffff","861f8896fffffff"]]"#
            ]
        );
        let rings = eval(
            "geo_h3cell_rings",
            vec![lit_str("861f8894fffffff"), lit(2_i64)],
        )
        .await;
        assert_eq!(parse(&rings[0])[2].as_array().map(Vec::len), Some(12));
        assert_eq!(
            eval(
                "geo_h3cell_rings",
                vec![lit_str("861f8894fffffff"), lit(-1_i64)]
            )
            .await,
            ["null"]
        );
    }

    #[test]
    fn h3_polygon_covering_is_the_cells_with_centers_inside() {
        let madrid = json!({"type":"Polygon","coordinates":[[[-3.659,40.553],[-3.913,40.409],[-3.729,40.273],[-3.524,40.440],[-3.659,40.553]]]});
        let cells = polygon_to_h3cells(&madrid, 6, 0.0).unwrap_or_default();
        let mut expected = vec![
            "86390cb57ffffff",
            "86390cb0fffffff",
            "86390ca27ffffff",
            "86390cb87ffffff",
            "86390cb07ffffff",
            "86390ca2fffffff",
            "86390ca37ffffff",
            "86390cb17ffffff",
            "86390cb1fffffff",
            "86390cb8fffffff",
            "86390cba7ffffff",
            "86390ca07ffffff",
            "86390cbafffffff",
        ];
        expected.sort_unstable();
        assert_eq!(sorted_strings(&cells), expected);
        let buffered = sorted_strings(&polygon_to_h3cells(&madrid, 6, 3000.0).unwrap_or_default());
        assert!(buffered.len() > expected.len());
        assert!(expected.iter().all(|c| buffered.iter().any(|b| b == c)));
        assert_eq!(polygon_to_h3cells(&madrid, 16, 0.0), None);
        assert_eq!(polygon_to_h3cells(&madrid, 15, 0.0), None);
    }
}
