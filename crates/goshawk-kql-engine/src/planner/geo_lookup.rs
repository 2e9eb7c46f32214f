//! The geospatial lookup plugins:
//! `evaluate geo_polygon_lookup(Lookup, PolygonKey, Longitude, Latitude [, return_unmatched]
//! [, lookup_area_radius] [, return_lookup_key])` joins each row with the lookup rows whose
//! polygon contains its point (or lies within `lookup_area_radius` meters of it), and
//! `evaluate geo_line_lookup(Lookup, LineKey, Longitude, Latitude, radius [, return_unmatched]
//! [, return_lookup_key])` with the lookup rows whose line passes within `radius` meters.
//! Unmatched rows are dropped unless `return_unmatched`; the key column is returned only with
//! `return_lookup_key`. Clashing lookup column names are renamed as by `join` (`Name1`).

use datafusion::logical_expr::{Expr, lit};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, ExprKind};
use goshawk_types::KustoType;

use super::expr::convert_to;
use super::literal::constant_value;
use super::{Env, PlanResult, Planner, Tab, Typed, col, error, unknown, unsupported};

/// Which plugin is planned.
#[derive(Clone, Copy, PartialEq)]
enum GeoLookup {
    Polygon,
    Line,
}

impl GeoLookup {
    fn from_name(name: &str) -> Option<GeoLookup> {
        match name {
            "geo_polygon_lookup" => Some(GeoLookup::Polygon),
            "geo_line_lookup" => Some(GeoLookup::Line),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GeoLookup::Polygon => "geo_polygon_lookup",
            GeoLookup::Line => "geo_line_lookup",
        }
    }

    /// The optional arguments after the four (polygon) or five (line) required ones.
    fn optional(self) -> &'static [&'static str] {
        match self {
            GeoLookup::Polygon => &[
                "return_unmatched",
                "lookup_area_radius",
                "return_lookup_key",
            ],
            GeoLookup::Line => &["return_unmatched", "return_lookup_key"],
        }
    }

    fn required(self) -> usize {
        match self {
            GeoLookup::Polygon => 4,
            GeoLookup::Line => 5,
        }
    }
}

impl Planner<'_> {
    fn constant_bool(&self, value: &ast::Expr, env: &Env, what: &str) -> PlanResult<bool> {
        let typed = self.lower_expr(value, &[], env)?;
        match constant_value(&typed.expr) {
            Some(ScalarValue::Boolean(Some(b))) => Ok(b),
            _ => Err(error(format!("{what} must be true or false"), value.span)),
        }
    }

    pub(crate) fn plan_geo_lookup(
        &self,
        source: Tab,
        plugin: &ast::FunctionCall,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let Some(kind) = GeoLookup::from_name(&plugin.name.name) else {
            return Err(unsupported(&plugin.name.name, plugin.name.span));
        };
        let mut positional = Vec::new();
        let mut named: Vec<(&str, &ast::Expr)> = Vec::new();
        for arg in &plugin.args {
            match &arg.name {
                Some(name) if kind.optional().contains(&name.name.as_str()) => {
                    named.push((name.name.as_str(), &arg.value));
                }
                Some(name) => {
                    return Err(unsupported(
                        &format!("the {} argument '{}'", kind.name(), name.name),
                        name.span,
                    ));
                }
                None => positional.push(&arg.value),
            }
        }
        if positional.len() < kind.required() {
            let usage = match kind {
                GeoLookup::Polygon => "(lookup table, polygon column, longitude, latitude)",
                GeoLookup::Line => "(lookup table, line column, longitude, latitude, radius)",
            };
            return Err(error(
                format!("{} expects {usage}", kind.name()),
                plugin.span,
            ));
        }
        for (i, value) in positional[kind.required()..].iter().enumerate() {
            match kind.optional().get(i) {
                Some(name) => named.push((name, value)),
                None => return Err(error("too many arguments", value.span)),
            }
        }
        let option = |name: &str| named.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let return_unmatched = match option("return_unmatched") {
            Some(v) => self.constant_bool(v, env, "return_unmatched")?,
            None => false,
        };
        let return_key = match option("return_lookup_key") {
            Some(v) => self.constant_bool(v, env, "return_lookup_key")?,
            None => false,
        };
        let radius = match kind {
            GeoLookup::Polygon => option("lookup_area_radius"),
            GeoLookup::Line => Some(positional[4]),
        }
        .map(|v| {
            self.lower_expr(v, &[], env)
                .map(|t| convert_to(t, KustoType::Real))
        })
        .transpose()?;

        let table = positional[0];
        let lookup = match &table.kind {
            ExprKind::Name(ident) => self.resolve_table_name(&ident.name, ident.span, env)?,
            ExprKind::Tabular(tabular) => self.plan_tabular(tabular, env, None)?,
            _ => {
                return Err(error(
                    format!("{} expects a lookup table", kind.name()),
                    table.span,
                ));
            }
        };
        let key = match &positional[1].kind {
            ExprKind::Name(ident) if lookup.column(&ident.name).is_some() => ident.name.clone(),
            ExprKind::Name(ident) => {
                return Err(unknown(
                    "column",
                    &ident.name,
                    ident.span,
                    lookup.names().iter(),
                ));
            }
            _ => {
                return Err(error(
                    format!("{} expects a lookup column name", kind.name()),
                    positional[1].span,
                ));
            }
        };
        let lon = convert_to(
            self.lower_expr(positional[2], &source.columns, env)?,
            KustoType::Real,
        );
        let lat = convert_to(
            self.lower_expr(positional[3], &source.columns, env)?,
            KustoType::Real,
        );

        let (lookup, renamed, key_name) =
            self.rename_lookup_side(&source, lookup, &key, return_key, span)?;
        let function = |name: &str| super::udf::lookup(name).ok_or_else(|| unsupported(name, span));
        let shape = col(&key_name);
        let condition = match (kind, radius) {
            (GeoLookup::Polygon, None) => super::udf::call(
                function("geo_point_in_polygon")?,
                vec![lon.expr, lat.expr, shape],
            ),
            (GeoLookup::Polygon, Some(radius)) => within(
                function("geo_distance_point_to_polygon")?,
                lon,
                lat,
                shape,
                radius,
            ),
            (GeoLookup::Line, radius) => within(
                function("geo_distance_point_to_line")?,
                lon,
                lat,
                shape,
                radius.unwrap_or(Typed {
                    expr: lit(0.0),
                    ty: KustoType::Real,
                }),
            ),
        };
        self.join_lookup_side(source, lookup, renamed, condition, return_unmatched, span)
    }
}

/// `distance(lon, lat, shape) <= radius`.
fn within(
    distance: std::sync::Arc<datafusion::logical_expr::ScalarUDF>,
    lon: Typed,
    lat: Typed,
    shape: Expr,
    radius: Typed,
) -> Expr {
    super::udf::call(distance, vec![lon.expr, lat.expr, shape]).lt_eq(radius.expr)
}
