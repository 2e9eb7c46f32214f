//! `make-series`: the aggregates of each group per bin of the axis column, as `dynamic`
//! arrays with one element per bin (missing bins hold the `default=`, else 0 for numbers).
//!
//! Lowered in two steps: a `summarize` by the `by` columns and the bin number (computed with
//! DataFusion), then a [`Materialize`] node that lays each group's bins out as arrays.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, lit};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, ExprKind, MakeSeriesAggregate, MakeSeriesRange, NamedExpr};
use goshawk_types::KustoType;
use serde_json::Value;

use super::literal::constant_value;
use super::materialize::{Materialize, RowsFn};
use super::{Env, PlanResult, Planner, Tab, col, df_error, error, named};
use crate::catalog::KustoColumn;
use crate::format::{json_at, real_to_json};
use crate::scalar::is_numeric;
use crate::time::format_datetime;

/// The hidden bin-number column between the two steps.
const BIN: &str = "__make_series_bin";

/// Bins per series past which `make-series` refuses to run (Kusto's own limit is lower).
const MAX_BINS: i64 = 10_000_000;

/// The axis: its type, the origin of bin 0, the bin width, and the bin range if given.
#[derive(Clone, Copy)]
enum Axis {
    /// datetime / timespan / long / int axes, in their integer units (nanoseconds for time).
    Integer {
        ty: KustoType,
        origin: i64,
        step: i64,
    },
    Real {
        origin: f64,
        step: f64,
    },
}

impl Axis {
    fn value(&self, bin: i64) -> Value {
        match *self {
            Axis::Integer { ty, origin, step } => {
                let v = origin.saturating_add(bin.saturating_mul(step));
                match ty {
                    KustoType::DateTime => Value::String(format_datetime(v)),
                    KustoType::TimeSpan => Value::String(crate::time::format_timespan(v)),
                    _ => Value::from(v),
                }
            }
            Axis::Real { origin, step } => real_to_json(origin + bin as f64 * step),
        }
    }
}

/// A constant as i64: integers, datetimes and timespans (ns), and whole reals.
pub(super) fn integer_of(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::Int64(v) => *v,
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::TimestampNanosecond(v, _) => *v,
        ScalarValue::DurationNanosecond(v) => *v,
        ScalarValue::Float64(Some(v)) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

/// A numeric constant as f64.
pub(super) fn real_of(value: &ScalarValue) -> Option<f64> {
    match value {
        ScalarValue::Float64(v) => *v,
        ScalarValue::Int64(v) => v.map(|v| v as f64),
        ScalarValue::Int32(v) => v.map(f64::from),
        _ => None,
    }
}

/// A constant's value as JSON (how it sits inside the series array).
fn scalar_json(value: &ScalarValue, ty: KustoType) -> Result<Value, DataFusionError> {
    let array = value.to_array()?;
    Ok(json_at(array.as_ref(), 0, ty))
}

impl Planner<'_> {
    fn constant(&self, expr: &ast::Expr, env: &Env, what: &str) -> PlanResult<ScalarValue> {
        let typed = self.lower_expr(expr, &[], env)?;
        super::fold::fold_constant(&typed.expr)
            .ok_or_else(|| error(format!("make-series: {what} must be a constant"), expr.span))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_make_series(
        &self,
        tab: Tab,
        aggregates: &[MakeSeriesAggregate],
        on: &ast::Expr,
        range: &MakeSeriesRange,
        by: &[NamedExpr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let axis_name = super::ops::implicit_name(on)
            .ok_or_else(|| error("make-series: 'on' must name a column", on.span))?;
        let on_typed = self.lower_expr(on, &tab.columns, env)?;
        let (from, to, step) = match range {
            MakeSeriesRange::FromTo { from, to, step } => (from.as_ref(), to.as_ref(), step),
            MakeSeriesRange::InRange { start, stop, step } => (Some(start), Some(stop), step),
        };
        let step_value = self.constant(step, env, "the step")?;
        let from_value = from.map(|e| self.constant(e, env, "'from'")).transpose()?;
        let to_value = to.map(|e| self.constant(e, env, "'to'")).transpose()?;

        // The bin number of each row, and the filter keeping rows in [from, to).
        let (axis, bin_expr, bins_to) = match on_typed.ty {
            KustoType::DateTime | KustoType::TimeSpan | KustoType::Long | KustoType::Int => {
                let step_n = integer_of(&step_value)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| error("make-series: the step must be positive", step.span))?;
                let origin = from_value.as_ref().and_then(integer_of).unwrap_or(0);
                let x = cast(on_typed.expr.clone(), DataType::Int64);
                let bin = (x - lit(origin)) / lit(step_n);
                let bins_to = to_value
                    .as_ref()
                    .and_then(integer_of)
                    .map(|to| (to - origin + step_n - 1).div_euclid(step_n));
                let axis = Axis::Integer {
                    ty: on_typed.ty,
                    origin,
                    step: step_n,
                };
                (axis, bin, bins_to)
            }
            KustoType::Real | KustoType::Decimal => {
                let step_r = real_of(&step_value)
                    .filter(|s| *s > 0.0)
                    .ok_or_else(|| error("make-series: the step must be positive", step.span))?;
                let origin = from_value.as_ref().and_then(real_of).unwrap_or(0.0);
                let x = cast(on_typed.expr.clone(), DataType::Float64);
                let bin = cast(
                    datafusion::functions::math::expr_fn::floor((x - lit(origin)) / lit(step_r)),
                    DataType::Int64,
                );
                let bins_to = to_value
                    .as_ref()
                    .and_then(real_of)
                    .map(|to| ((to - origin) / step_r).ceil() as i64);
                (
                    Axis::Real {
                        origin,
                        step: step_r,
                    },
                    bin,
                    bins_to,
                )
            }
            other => {
                return Err(error(
                    format!(
                        "make-series: the axis must be a datetime, timespan or number, this is {other}"
                    ),
                    on.span,
                ));
            }
        };
        if let Some(bins) = bins_to
            && bins > MAX_BINS
        {
            return Err(error(
                format!("make-series: {bins} bins is more than the limit of {MAX_BINS}"),
                span,
            ));
        }

        let mut plan = LogicalPlanBuilder::from(tab.plan);
        let mut keep = on_typed.expr.clone().is_not_null();
        if let Some(from) = &from_value {
            keep = keep.and(
                on_typed
                    .expr
                    .clone()
                    .gt_eq(Expr::Literal(from.clone(), None)),
            );
        }
        if let Some(to) = &to_value {
            keep = keep.and(on_typed.expr.clone().lt(Expr::Literal(to.clone(), None)));
        }
        plan = plan.filter(keep).map_err(|e| df_error(e, span))?;
        let mut exprs: Vec<Expr> = tab.columns.iter().map(|c| col(&c.name)).collect();
        exprs.push(named(bin_expr, BIN, KustoType::Long));
        let plan = plan
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let mut columns = tab.columns.clone();
        columns.push(KustoColumn::new(BIN, KustoType::Long));
        let binned = Tab {
            plan,
            columns,
            render: tab.render,
        };

        let bin_ident = ast::Ident {
            name: BIN.to_string(),
            span,
        };
        let mut group_by = by.to_vec();
        group_by.push(NamedExpr {
            names: Vec::new(),
            expr: ast::Expr {
                kind: ExprKind::Name(bin_ident),
                span,
            },
            span,
        });
        // A constant (`other=-1`) stands for its value in every bin that has rows.
        let mut items: Vec<NamedExpr> = Vec::new();
        for aggregate in aggregates {
            let mut item = aggregate.aggregate.clone();
            let constant = self
                .lower_expr(&item.expr, &[], env)
                .ok()
                .and_then(|t| constant_value(&t.expr))
                .is_some();
            if constant {
                let expr_span = item.expr.span;
                item.expr = ast::Expr {
                    kind: ExprKind::Call(ast::FunctionCall {
                        name: ast::Ident {
                            name: "take_any".to_string(),
                            span: expr_span,
                        },
                        args: vec![ast::Argument {
                            name: None,
                            value: item.expr.clone(),
                            span: expr_span,
                        }],
                        span: expr_span,
                    }),
                    span: expr_span,
                };
            }
            items.push(item);
        }
        let summarized = self.plan_summarize(binned, &items, &group_by, env, span)?;

        // Each aggregate's column, and its default for bins without rows.
        let by_count = by.len();
        let agg_columns: Vec<KustoColumn> = summarized.columns[by_count + 1..].to_vec();
        let mut defaults = Vec::new();
        for (aggregate, column) in aggregates.iter().zip(&agg_columns) {
            let default = match &aggregate.default {
                Some(expr) => {
                    let typed = self.lower_expr(expr, &[], env)?;
                    let value = constant_value(&typed.expr).ok_or_else(|| {
                        error("make-series: the default must be a constant", expr.span)
                    })?;
                    scalar_json(&value, typed.ty).map_err(|e| df_error(e, expr.span))?
                }
                None if column.ty == KustoType::Real => real_to_json(0.0),
                None if is_numeric(column.ty) => Value::from(0),
                None => Value::Null,
            };
            defaults.push(default);
        }

        let mut out_columns: Vec<KustoColumn> = summarized.columns[..by_count].to_vec();
        for column in &agg_columns {
            out_columns.push(KustoColumn::new(&column.name, KustoType::Dynamic));
        }
        if out_columns.iter().any(|c| c.name == axis_name) {
            return Err(error(
                format!("make-series: duplicate column name '{axis_name}'"),
                on.span,
            ));
        }
        out_columns.push(KustoColumn::new(&axis_name, KustoType::Dynamic));

        let agg_types: Vec<KustoType> = agg_columns.iter().map(|c| c.ty).collect();
        let has_from = from_value.is_some();
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            gather(
                &batch, by_count, &agg_types, &defaults, axis, has_from, bins_to, out_schema,
            )
        });
        let plan = Materialize::plan("make-series", summarized.plan, &out_columns, func)
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns: out_columns,
            render: summarized.render,
        })
    }
}

/// Lays the summarized rows (by columns, bin, aggregates) out as one row per group.
#[allow(clippy::too_many_arguments)]
fn gather(
    batch: &RecordBatch,
    by_count: usize,
    agg_types: &[KustoType],
    defaults: &[Value],
    axis: Axis,
    has_from: bool,
    bins_to: Option<i64>,
    out_schema: &arrow::datatypes::SchemaRef,
) -> Result<RecordBatch, DataFusionError> {
    let bins = batch.column(by_count).as_primitive::<Int64Type>();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    let mut first_rows: Vec<u32> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for row in 0..batch.num_rows() {
        if bins.is_null(row) {
            continue;
        }
        let key: String = (0..by_count)
            .map(|c| {
                let column = batch.column(c);
                let ty =
                    KustoType::from_field(batch.schema().field(c)).unwrap_or(KustoType::String);
                json_at(column.as_ref(), row, ty).to_string()
            })
            .collect::<Vec<_>>()
            .join("\u{1}");
        let group = *group_of.entry(key).or_insert_with(|| {
            first_rows.push(row as u32);
            members.push(Vec::new());
            members.len() - 1
        });
        members[group].push(row);
    }
    let present = (0..batch.num_rows()).filter(|r| !bins.is_null(*r));
    let low = if has_from {
        0
    } else {
        present.clone().map(|r| bins.value(r)).min().unwrap_or(0)
    };
    let high = match bins_to {
        Some(high) => high,
        None => present.map(|r| bins.value(r) + 1).max().unwrap_or(low),
    };
    let count = (high - low).max(0);
    if count > MAX_BINS {
        return Err(DataFusionError::Execution(format!(
            "make-series: {count} bins is more than the limit of {MAX_BINS}"
        )));
    }
    let count = count as usize;

    let take = UInt32Array::from(first_rows);
    let mut columns: Vec<ArrayRef> = Vec::new();
    for c in 0..by_count {
        columns.push(arrow::compute::take(batch.column(c).as_ref(), &take, None)?);
    }
    for (a, ty) in agg_types.iter().enumerate() {
        let source = batch.column(by_count + 1 + a);
        let series: StringArray = members
            .iter()
            .map(|rows| {
                let mut values = vec![defaults[a].clone(); count];
                for &row in rows {
                    let bin = bins.value(row) - low;
                    if (0..count as i64).contains(&bin) {
                        values[bin as usize] = json_at(source.as_ref(), row, *ty);
                    }
                }
                Some(Value::Array(values).to_string())
            })
            .collect();
        columns.push(Arc::new(series));
    }
    let axis_text =
        Value::Array((0..count as i64).map(|b| axis.value(b + low)).collect()).to_string();
    columns.push(Arc::new(StringArray::from(vec![
        Some(axis_text.as_str());
        members.len()
    ])));
    Ok(RecordBatch::try_new(Arc::clone(out_schema), columns)?)
}
