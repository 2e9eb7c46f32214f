//! Polygon union, intersection and buffers, done by `geo` in a gnomonic projection.
//!
//! The gnomonic projection maps great-circle arcs to straight segments, so planar boolean
//! operations on the projected shapes give the spherical result with geodesic edges (the
//! vertices where edges cross are where the arcs cross). It needs every vertex within a
//! hemisphere around the centre; shapes spreading wider give None (null). Buffers are offset in
//! the projected plane, whose scale is exact at the centre and grows as 1/cos² away from it,
//! so they are accurate for shapes of city to country size.

use geo::algorithm::buffer::{BufferStyle, LineCap, LineJoin};
use geo::{BooleanOps, Buffer, Coord, LineString, MultiLineString, MultiPolygon, Orient, Polygon};

use super::{LonLat, RADIUS, Ring, V3, add, cross, dot, normalize, scale, to_lonlat, to_v3};

/// Vertices must be within this cosine of the centre (about 78°): farther out the projection
/// stretches too much for the integer grid of the overlay.
const MIN_COSINE: f64 = 0.2;

struct Gnomonic {
    centre: V3,
    east: V3,
    north: V3,
}

impl Gnomonic {
    fn around<'a>(points: impl Iterator<Item = &'a LonLat>) -> Option<Gnomonic> {
        let centre = normalize(points.map(|p| to_v3(*p)).fold([0.0; 3], add))?;
        let east = normalize(cross([0.0, 0.0, 1.0], centre)).unwrap_or([0.0, 1.0, 0.0]);
        let north = cross(centre, east);
        Some(Gnomonic {
            centre,
            east,
            north,
        })
    }

    fn project(&self, p: LonLat) -> Option<Coord<f64>> {
        let v = to_v3(p);
        let d = dot(v, self.centre);
        (d > MIN_COSINE).then(|| Coord {
            x: dot(v, self.east) / d,
            y: dot(v, self.north) / d,
        })
    }

    fn unproject(&self, c: Coord<f64>) -> LonLat {
        let v = add(
            self.centre,
            add(scale(self.east, c.x), scale(self.north, c.y)),
        );
        normalize(v).map_or((f64::NAN, f64::NAN), to_lonlat)
    }

    fn ring(&self, ring: &Ring) -> Option<LineString<f64>> {
        let mut coords: Vec<Coord<f64>> = ring
            .iter()
            .map(|p| self.project(*p))
            .collect::<Option<_>>()?;
        coords.push(coords[0]);
        Some(LineString::new(coords))
    }

    fn polygons(&self, polygons: &[Vec<Ring>]) -> Option<MultiPolygon<f64>> {
        let all: Vec<Polygon<f64>> = polygons
            .iter()
            .map(|rings| {
                let exterior = self.ring(&rings[0])?;
                let holes = rings[1..]
                    .iter()
                    .map(|h| self.ring(h))
                    .collect::<Option<Vec<_>>>()?;
                // The overlay fills by winding number: exteriors must all turn one way.
                Some(Polygon::new(exterior, holes).orient(geo::orient::Direction::Default))
            })
            .collect::<Option<_>>()?;
        Some(MultiPolygon::new(all))
    }

    fn back_ring(&self, ring: &LineString<f64>) -> Ring {
        let mut out: Ring = ring.0.iter().map(|c| self.unproject(*c)).collect();
        if out.len() > 1 && out.first() == out.last() {
            out.pop();
        }
        out.dedup();
        out
    }

    /// The polygons of a planar result, dropping rings that degenerated.
    fn back(&self, shape: &MultiPolygon<f64>) -> Vec<Vec<Ring>> {
        shape
            .0
            .iter()
            .filter_map(|polygon| {
                let exterior = self.back_ring(polygon.exterior());
                if exterior.len() < 3 {
                    return None;
                }
                let mut rings = vec![exterior];
                rings.extend(
                    polygon
                        .interiors()
                        .iter()
                        .map(|h| self.back_ring(h))
                        .filter(|h| h.len() >= 3),
                );
                Some(rings)
            })
            .collect()
    }
}

fn vertices(polygons: &[Vec<Ring>]) -> impl Iterator<Item = &LonLat> {
    polygons.iter().flatten().flatten()
}

/// The union of all the polygons, or None when they spread beyond a hemisphere.
pub(super) fn union(polygons: &[Vec<Ring>]) -> Option<Vec<Vec<Ring>>> {
    let projection = Gnomonic::around(vertices(polygons))?;
    let planar = projection.polygons(polygons)?;
    let merged = geo::unary_union(planar.0.iter());
    Some(projection.back(&merged))
}

/// The region shared by two sets of polygons (empty when they only touch or are disjoint).
pub(super) fn intersection(first: &[Vec<Ring>], second: &[Vec<Ring>]) -> Option<Vec<Vec<Ring>>> {
    let projection = Gnomonic::around(vertices(first).chain(vertices(second)))?;
    let a = projection.polygons(first)?;
    let b = projection.polygons(second)?;
    // Each side may overlap itself (an invalid MultiPolygon); merge it first.
    let a = geo::unary_union(a.0.iter());
    let b = geo::unary_union(b.0.iter());
    Some(projection.back(&a.intersection(&b)))
}

/// The buffer style for `radius` meters with arcs within `tolerance` meters of the circle.
fn style(radius: f64, tolerance: f64) -> BufferStyle<f64> {
    // A chord of angle θ lies radius·(1 − cos(θ/2)) inside its arc.
    let step = 2.0 * (1.0 - (tolerance / radius).min(1.0)).acos();
    let step = step.max(1e-3);
    BufferStyle::new(radius / RADIUS)
        .line_join(LineJoin::Round(step))
        .line_cap(LineCap::Round(step))
}

/// Polygons grown by `radius` meters.
pub(super) fn buffer_polygons(
    polygons: &[Vec<Ring>],
    radius: f64,
    tolerance: f64,
) -> Option<Vec<Vec<Ring>>> {
    let projection = Gnomonic::around(vertices(polygons))?;
    let planar = projection.polygons(polygons)?;
    let grown = planar.buffer_with_style(style(radius, tolerance));
    Some(projection.back(&grown))
}

/// The area within `radius` meters of lines.
pub(super) fn buffer_lines(
    lines: &[Vec<LonLat>],
    radius: f64,
    tolerance: f64,
) -> Option<Vec<Vec<Ring>>> {
    let projection = Gnomonic::around(lines.iter().flatten())?;
    let planar: Vec<LineString<f64>> = lines
        .iter()
        .map(|line| {
            line.iter()
                .map(|p| projection.project(*p))
                .collect::<Option<Vec<_>>>()
                .map(LineString::new)
        })
        .collect::<Option<_>>()?;
    let grown = MultiLineString::new(planar).buffer_with_style(style(radius, tolerance));
    Some(projection.back(&grown))
}
