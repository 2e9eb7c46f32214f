//! `evaluate` plugins computed over the whole input: `rows_near`, `rolling_percentile`,
//! `active_users_count`, `sliding_window_counts`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{Expr, cast};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, FunctionCall, OperatorParam};
use goshawk_types::KustoType;

use super::expr::convert_to;
use super::fold::fold_constant;
use super::make_series::{integer_of, real_of};
use super::materialize::{Materialize, RowsFn};
use super::ops::implicit_name;
use super::series_columns::call_expr;
use super::{Env, PlanResult, Planner, Tab, col, df_error, error, unsupported};
use crate::catalog::KustoColumn;
use crate::format::json_at;

/// Hidden input columns of the plugins' Materialize nodes.
const HIDDEN: &str = "__plugin_";

/// Reads column `index` of `batch` as i64 (datetimes and timespans in nanoseconds).
fn integers(batch: &RecordBatch, index: usize) -> Result<Int64Array, DataFusionError> {
    let array = arrow::compute::cast(batch.column(index), &DataType::Int64)?;
    Ok(array.as_primitive::<arrow::datatypes::Int64Type>().clone())
}

fn reals(batch: &RecordBatch, index: usize) -> Result<Float64Array, DataFusionError> {
    let array = arrow::compute::cast(batch.column(index), &DataType::Float64)?;
    Ok(array
        .as_primitive::<arrow::datatypes::Float64Type>()
        .clone())
}

/// A group key of the dimension columns `columns` of row `row`.
fn group_key(batch: &RecordBatch, columns: std::ops::Range<usize>, row: usize) -> String {
    columns
        .map(|c| {
            let ty = KustoType::from_field(batch.schema().field(c)).unwrap_or(KustoType::String);
            json_at(batch.column(c).as_ref(), row, ty).to_string()
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

/// An integer column of `ty` (long, datetime or timespan) from i64 values.
fn integer_column(values: Vec<i64>, ty: KustoType) -> Result<ArrayRef, DataFusionError> {
    let array: ArrayRef = Arc::new(Int64Array::from(values));
    Ok(arrow::compute::cast(&array, &ty.arrow_type())?)
}

impl Planner<'_> {
    /// The plugins of this module; `None` for a plugin they do not cover.
    pub(super) fn plan_plugin(
        &self,
        tab: Tab,
        params: &[OperatorParam],
        plugin: &FunctionCall,
        env: &Env,
    ) -> PlanResult<Tab> {
        self.reject_params(params)?;
        let args: Vec<&ast::Expr> = plugin.args.iter().map(|a| &a.value).collect();
        match plugin.name.name.as_str() {
            "rows_near" => self.plan_rows_near(tab, &args, env, plugin.span),
            "rolling_percentile" => self.plan_rolling_percentile(tab, &args, env, plugin.span),
            "sliding_window_counts" => {
                self.plan_activity(tab, Activity::SlidingWindow, &args, env, plugin.span)
            }
            "active_users_count" => {
                self.plan_activity(tab, Activity::ActiveUsers, &args, env, plugin.span)
            }
            "schema_merge" => self.plan_schema_merge(tab, plugin, env),
            "bag_unpack" => self.plan_bag_unpack(tab, plugin, env),
            "dcount_intersect" => self.plan_dcount_intersect(tab, &args, env, plugin.span),
            other => Err(unsupported(
                &format!("the '{other}' plugin"),
                plugin.name.span,
            )),
        }
    }

    fn constant_arg(&self, expr: &ast::Expr, env: &Env, what: &str) -> PlanResult<ScalarValue> {
        let typed = self.lower_expr(expr, &[], env)?;
        fold_constant(&typed.expr)
            .ok_or_else(|| error(format!("{what} must be a constant"), expr.span))
    }

    /// Projects `tab` to `exprs` (hidden names), for a Materialize input.
    fn hidden_input(
        &self,
        tab: Tab,
        exprs: Vec<(Expr, KustoType)>,
        keep_columns: bool,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut items: Vec<(Expr, KustoColumn)> = if keep_columns {
            tab.columns
                .iter()
                .map(|c| (col(&c.name), c.clone()))
                .collect()
        } else {
            Vec::new()
        };
        for (index, (expr, ty)) in exprs.into_iter().enumerate() {
            items.push((expr, KustoColumn::new(format!("{HIDDEN}{index}"), ty)));
        }
        self.project_tab(tab, items, span)
    }

    /// `rows_near(condition, before [, after])`: the rows within `before` rows before and
    /// `after` rows after (default: `before`) a row where the condition holds, in input order.
    fn plan_rows_near(
        &self,
        tab: Tab,
        args: &[&ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let [condition, before, rest @ ..] = args else {
            return Err(error(
                "rows_near expects (condition, rows before [, rows after])",
                span,
            ));
        };
        let count = |expr: &ast::Expr| -> PlanResult<usize> {
            let value = self.constant_arg(expr, env, "rows_near's row count")?;
            integer_of(&value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    error(
                        "rows_near's row count must be a non-negative integer",
                        expr.span,
                    )
                })
        };
        let before = count(before)?;
        let after = match rest.first() {
            Some(expr) => count(expr)?,
            None => before,
        };
        let typed = self.lower_expr(condition, &tab.columns, env)?;
        let predicate = convert_to(typed, KustoType::Bool);
        let columns = tab.columns.clone();
        let input = self.hidden_input(tab, vec![(predicate.expr, KustoType::Bool)], true, span)?;
        let width = columns.len();
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            let flags = batch.column(width).as_boolean().clone();
            let rows = batch.num_rows();
            let mut keep = vec![false; rows];
            for row in (0..rows).filter(|&r| flags.is_valid(r) && flags.value(r)) {
                let low = row.saturating_sub(before);
                let high = (row + after).min(rows.saturating_sub(1));
                keep[low..=high].iter_mut().for_each(|k| *k = true);
            }
            let mask = BooleanArray::from(keep);
            let kept: Vec<ArrayRef> = (0..width)
                .map(|c| arrow::compute::filter(batch.column(c).as_ref(), &mask))
                .collect::<Result<_, _>>()?;
            Ok(RecordBatch::try_new(Arc::clone(out_schema), kept)?)
        });
        let plan = Materialize::plan("rows_near", input.plan, &columns, func)
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns,
            render: input.render,
        })
    }

    /// `rolling_percentile(value, percentile, index, bin, window [, dimension...])`: per
    /// dimension values and bin of `index`, the nearest-rank percentile of the values in the
    /// `window` bins ending at that bin.
    fn plan_rolling_percentile(
        &self,
        tab: Tab,
        args: &[&ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let [value, percentile, index, bin, window, dimensions @ ..] = args else {
            return Err(error(
                "rolling_percentile expects (value, percentile, index, bin size, window size \
                 [, dimension...])",
                span,
            ));
        };
        let percentile_value = real_of(&self.constant_arg(percentile, env, "the percentile")?)
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                error(
                    "the percentile must be a number from 0 to 100",
                    percentile.span,
                )
            })?;
        let bin_value = integer_of(&self.constant_arg(bin, env, "the bin size")?)
            .filter(|b| *b > 0)
            .ok_or_else(|| error("the bin size must be positive", bin.span))?;
        let window_value = integer_of(&self.constant_arg(window, env, "the window size")?)
            .filter(|w| *w > 0)
            .ok_or_else(|| error("the window size must be a positive integer", window.span))?;
        let value_t = self.lower_expr(value, &tab.columns, env)?;
        let index_t = self.lower_expr(index, &tab.columns, env)?;
        if !matches!(
            index_t.ty,
            KustoType::DateTime | KustoType::TimeSpan | KustoType::Long | KustoType::Int
        ) {
            return Err(error(
                "rolling_percentile's index must be a datetime, timespan or integer",
                index.span,
            ));
        }
        let value_name = implicit_name(value)
            .ok_or_else(|| error("rolling_percentile's value must be a column", value.span))?;
        let index_name = implicit_name(index)
            .ok_or_else(|| error("rolling_percentile's index must be a column", index.span))?;
        let mut exprs = vec![
            (cast(index_t.expr.clone(), DataType::Int64), KustoType::Long),
            (
                cast(value_t.expr.clone(), DataType::Float64),
                KustoType::Real,
            ),
        ];
        let mut out_columns = vec![KustoColumn::new(&index_name, index_t.ty)];
        for dimension in dimensions {
            let typed = self.lower_expr(dimension, &tab.columns, env)?;
            let name = implicit_name(dimension).ok_or_else(|| {
                error(
                    "rolling_percentile's dimensions must be columns",
                    dimension.span,
                )
            })?;
            out_columns.push(KustoColumn::new(name, typed.ty));
            exprs.push((typed.expr, typed.ty));
        }
        let result_ty = match value_t.ty {
            KustoType::Int | KustoType::Long => KustoType::Long,
            _ => KustoType::Real,
        };
        let percentile_text = if percentile_value.fract() == 0.0 {
            format!("{}", percentile_value as i64)
        } else {
            percentile_value.to_string().replace('.', "_")
        };
        out_columns.push(KustoColumn::new(
            format!("rolling_{window_value}_percentile_{value_name}_{percentile_text}"),
            result_ty,
        ));
        let input = self.hidden_input(tab, exprs, false, span)?;
        let index_ty = index_t.ty;
        let dims = dimensions.len();
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            rolling_percentile(
                &batch,
                dims,
                bin_value,
                window_value,
                percentile_value,
                index_ty,
                result_ty,
                out_schema,
            )
        });
        let plan = Materialize::plan("rolling_percentile", input.plan, &out_columns, func)
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns: out_columns,
            render: input.render,
        })
    }
}

impl Planner<'_> {
    /// `schema_merge([PreserveOrder])` over `getschema` rows (ColumnName, ColumnOrdinal,
    /// DataType, ColumnType; a schema starts at ordinal 0): the union of the schemas' columns,
    /// a new column placed after the column before it in its schema. With `PreserveOrder`
    /// (the default) a column whose ordinal differs from its first schema's is an error row
    /// (ordinal -1).
    fn plan_schema_merge(&self, tab: Tab, plugin: &FunctionCall, env: &Env) -> PlanResult<Tab> {
        let mut preserve_order = true;
        for arg in &plugin.args {
            let named = arg.name.as_ref().map(|n| n.name.as_str());
            if !matches!(named, None | Some("PreserveOrder")) {
                return Err(unsupported(
                    &format!("the schema_merge argument '{}'", named.unwrap_or_default()),
                    arg.span,
                ));
            }
            preserve_order = match self.constant_arg(&arg.value, env, "PreserveOrder")? {
                ScalarValue::Boolean(Some(b)) => b,
                _ => return Err(error("PreserveOrder must be true or false", arg.value.span)),
            };
        }
        let wanted = [
            ("ColumnName", KustoType::String),
            ("ColumnOrdinal", KustoType::Long),
            ("DataType", KustoType::String),
            ("ColumnType", KustoType::String),
        ];
        let mut exprs = Vec::new();
        for (name, ty) in wanted {
            let Some(column) = tab.column(name) else {
                return Err(error(
                    format!("schema_merge expects getschema rows: no column '{name}'"),
                    plugin.span,
                ));
            };
            exprs.push((
                convert_to(
                    super::Typed {
                        expr: col(name),
                        ty: column.ty,
                    },
                    ty,
                )
                .expr,
                ty,
            ));
        }
        let out_columns: Vec<KustoColumn> = wanted
            .iter()
            .map(|(name, ty)| KustoColumn::new(*name, *ty))
            .collect();
        let input = self.hidden_input(tab, exprs, false, plugin.span)?;
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            schema_merge(&batch, preserve_order, out_schema)
        });
        let plan = Materialize::plan("schema_merge", input.plan, &out_columns, func)
            .map_err(|e| df_error(e, plugin.span))?;
        Ok(Tab {
            plan,
            columns: out_columns,
            render: input.render,
        })
    }
}

fn schema_merge(
    batch: &RecordBatch,
    preserve_order: bool,
    out_schema: &SchemaRef,
) -> Result<RecordBatch, DataFusionError> {
    let names = batch.column(0).as_string::<i32>().clone();
    let ordinals = integers(batch, 1)?;
    let data_types = batch.column(2).as_string::<i32>().clone();
    let column_types = batch.column(3).as_string::<i32>().clone();
    // (name, first ordinal, DataType, ColumnType, out of order)
    let mut merged: Vec<(String, i64, String, String, bool)> = Vec::new();
    let mut previous: Option<String> = None;
    for row in 0..batch.num_rows() {
        if names.is_null(row) {
            continue;
        }
        let name = names.value(row).to_string();
        let ordinal = if ordinals.is_null(row) {
            0
        } else {
            ordinals.value(row)
        };
        if ordinal == 0 {
            previous = None;
        }
        match merged.iter_mut().find(|m| m.0 == name) {
            Some(existing) => {
                if preserve_order && existing.1 != ordinal {
                    existing.4 = true;
                }
            }
            None => {
                let at = previous
                    .as_ref()
                    .and_then(|p| merged.iter().position(|m| m.0 == *p))
                    .map_or(merged.len(), |i| i + 1);
                let value = |a: &arrow::array::StringArray| {
                    if a.is_null(row) {
                        String::new()
                    } else {
                        a.value(row).to_string()
                    }
                };
                merged.insert(
                    at,
                    (
                        name.clone(),
                        ordinal,
                        value(&data_types),
                        value(&column_types),
                        false,
                    ),
                );
            }
        }
        previous = Some(name);
    }
    let (valid, errors): (Vec<_>, Vec<_>) = merged.into_iter().partition(|m| !m.4);
    let mut out_names = Vec::new();
    let mut out_ordinals = Vec::new();
    let mut out_data = Vec::new();
    let mut out_types = Vec::new();
    for (index, (name, _, data_type, column_type, _)) in valid.into_iter().enumerate() {
        out_names.push(name);
        out_ordinals.push(index as i64);
        out_data.push(data_type);
        out_types.push(column_type);
    }
    for (name, ..) in errors {
        out_names.push(name);
        out_ordinals.push(-1);
        out_data.push("ERROR(unknown CSL type:ERROR(columns are out of order))".to_string());
        out_types.push("ERROR(columns are out of order)".to_string());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(arrow::array::StringArray::from(out_names)),
        Arc::new(Int64Array::from(out_ordinals)),
        Arc::new(arrow::array::StringArray::from(out_data)),
        Arc::new(arrow::array::StringArray::from(out_types)),
    ];
    Ok(RecordBatch::try_new(Arc::clone(out_schema), columns)?)
}

/// `s_k = |A_0 ∩ ... ∩ A_k|` by inclusion-exclusion over the union estimates: the sum over
/// the non-empty subsets S of {0..k} of (-1)^(|S|+1) · dcount_hll(hll_merge(A_S)).
fn intersection_estimate(sketches: &[&ast::Expr], k: usize, span: Span) -> ast::Expr {
    let mut total: Option<ast::Expr> = None;
    for subset in 1u32..(1 << (k + 1)) {
        let members: Vec<ast::Expr> = (0..=k)
            .filter(|i| subset & (1 << i) != 0)
            .map(|i| sketches[i].clone())
            .collect();
        let positive = members.len() % 2 == 1;
        let union = if members.len() == 1 {
            members
                .into_iter()
                .next()
                .unwrap_or_else(|| sketches[0].clone())
        } else {
            call_expr("hll_merge", members, span)
        };
        let count = call_expr("dcount_hll", vec![union], span);
        total = Some(match total {
            None => count,
            Some(left) => ast::Expr {
                kind: ast::ExprKind::Binary {
                    op: ast::Spanned {
                        value: if positive {
                            ast::BinaryOp::Add
                        } else {
                            ast::BinaryOp::Sub
                        },
                        span,
                    },
                    left: Box::new(left),
                    right: Box::new(count),
                },
                span,
            },
        });
    }
    total.unwrap_or_else(|| call_expr("dcount_hll", vec![sketches[0].clone()], span))
}

impl Planner<'_> {
    /// `dcount_intersect(hll_1, ..., hll_n)`: columns `s0`..`s(n-1)`, the estimated distinct
    /// count of the intersection of the first k+1 sketches.
    fn plan_dcount_intersect(
        &self,
        tab: Tab,
        args: &[&ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        if !(2..=16).contains(&args.len()) {
            return Err(error("dcount_intersect expects 2 to 16 hll sketches", span));
        }
        let items: Vec<ast::NamedExpr> = (0..args.len())
            .map(|k| ast::NamedExpr {
                names: vec![ast::Ident {
                    name: format!("s{k}"),
                    span,
                }],
                expr: intersection_estimate(args, k, span),
                span,
            })
            .collect();
        self.plan_extend(tab, &items, env)
    }
}

/// The user-activity plugins over (id, timestamp) rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Activity {
    /// `sliding_window_counts(id, time, start, end, lookback, bin [, dim...])`: per bin, the
    /// rows and distinct ids in the `lookback` window ending at the bin's end.
    SlidingWindow,
    /// `active_users_count(id, time, start, end, lookback, period, active_periods, bin
    /// [, dim...])`: per bin, the distinct ids with an appearance in the bin that has
    /// appearances in at least `active_periods` distinct periods of the `lookback` before it.
    ActiveUsers,
}

/// The constants of an activity plugin, in nanoseconds (`period` and `active` only for
/// `active_users_count`).
#[derive(Clone, Copy)]
struct ActivityWindow {
    start: i64,
    end: i64,
    lookback: i64,
    bin: i64,
    period: i64,
    active: usize,
}

impl Planner<'_> {
    fn plan_activity(
        &self,
        tab: Tab,
        kind: Activity,
        args: &[&ast::Expr],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let fixed = match kind {
            Activity::SlidingWindow => 6,
            Activity::ActiveUsers => 8,
        };
        if args.len() < fixed {
            return Err(error(
                match kind {
                    Activity::SlidingWindow => {
                        "sliding_window_counts expects (id, timeline, start, end, lookback, bin \
                         [, dimension...])"
                    }
                    Activity::ActiveUsers => {
                        "active_users_count expects (id, timeline, start, end, lookback, period, \
                         active periods, bin [, dimension...])"
                    }
                },
                span,
            ));
        }
        let number = |expr: &ast::Expr, what: &str| -> PlanResult<i64> {
            integer_of(&self.constant_arg(expr, env, what)?).ok_or_else(|| {
                error(
                    format!("{what} must be a datetime, timespan or integer"),
                    expr.span,
                )
            })
        };
        let positive = |expr: &ast::Expr, what: &str| -> PlanResult<i64> {
            let value = number(expr, what)?;
            if value <= 0 {
                return Err(error(format!("{what} must be positive"), expr.span));
            }
            Ok(value)
        };
        let window = match kind {
            Activity::SlidingWindow => ActivityWindow {
                start: number(args[2], "the start")?,
                end: number(args[3], "the end")?,
                lookback: positive(args[4], "the lookback window")?,
                bin: positive(args[5], "the bin")?,
                period: 1,
                active: 0,
            },
            Activity::ActiveUsers => ActivityWindow {
                start: number(args[2], "the start")?,
                end: number(args[3], "the end")?,
                lookback: positive(args[4], "the lookback window")?,
                period: positive(args[5], "the period")?,
                active: usize::try_from(positive(args[6], "the active periods count")?)
                    .unwrap_or(usize::MAX),
                bin: positive(args[7], "the bin")?,
            },
        };
        let id = self.lower_expr(args[0], &tab.columns, env)?;
        let time = self.lower_expr(args[1], &tab.columns, env)?;
        if time.ty != KustoType::DateTime {
            return Err(error(
                "the timeline column must be a datetime",
                args[1].span,
            ));
        }
        let time_name = implicit_name(args[1])
            .ok_or_else(|| error("the timeline must be a column", args[1].span))?;
        let mut exprs = vec![
            (cast(time.expr.clone(), DataType::Int64), KustoType::Long),
            (id.expr.clone(), id.ty),
        ];
        let mut out_columns = vec![KustoColumn::new(&time_name, KustoType::DateTime)];
        for dimension in &args[fixed..] {
            let typed = self.lower_expr(dimension, &tab.columns, env)?;
            let name = implicit_name(dimension)
                .ok_or_else(|| error("dimensions must be columns", dimension.span))?;
            out_columns.push(KustoColumn::new(name, typed.ty));
            exprs.push((typed.expr, typed.ty));
        }
        if kind == Activity::SlidingWindow {
            out_columns.push(KustoColumn::new("Count", KustoType::Long));
        }
        out_columns.push(KustoColumn::new("dcount", KustoType::Long));
        let dims = args.len() - fixed;
        let input = self.hidden_input(tab, exprs, false, span)?;
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            activity(&batch, kind, window, dims, out_schema)
        });
        let name = match kind {
            Activity::SlidingWindow => "sliding_window_counts",
            Activity::ActiveUsers => "active_users_count",
        };
        let plan = Materialize::plan(name, input.plan, &out_columns, func)
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns: out_columns,
            render: input.render,
        })
    }
}

fn activity(
    batch: &RecordBatch,
    kind: Activity,
    w: ActivityWindow,
    dims: usize,
    out_schema: &SchemaRef,
) -> Result<RecordBatch, DataFusionError> {
    let times = integers(batch, 0)?;
    let id_ty = KustoType::from_field(batch.schema().field(1)).unwrap_or(KustoType::String);
    // group -> (first row, [(time, id)])
    let mut groups: Vec<(u32, Vec<(i64, String)>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for row in 0..batch.num_rows() {
        if times.is_null(row) || batch.column(1).is_null(row) {
            continue;
        }
        let key = group_key(batch, 2..2 + dims, row);
        let group = *group_of.entry(key).or_insert_with(|| {
            groups.push((row as u32, Vec::new()));
            groups.len() - 1
        });
        let id = json_at(batch.column(1).as_ref(), row, id_ty).to_string();
        groups[group].1.push((times.value(row), id));
    }
    let mut out_time = Vec::new();
    let mut out_rows: Vec<u32> = Vec::new();
    let mut out_count = Vec::new();
    let mut out_dcount = Vec::new();
    for (first_row, events) in &groups {
        let mut bin_start = w.start;
        while bin_start <= w.end {
            let bin_end = bin_start.saturating_add(w.bin);
            match kind {
                Activity::SlidingWindow => {
                    let from = bin_end - w.lookback;
                    let inside: Vec<&(i64, String)> = events
                        .iter()
                        .filter(|(t, _)| *t >= from && *t < bin_end)
                        .collect();
                    let distinct: std::collections::HashSet<&String> =
                        inside.iter().map(|(_, id)| id).collect();
                    out_time.push(bin_start);
                    out_rows.push(*first_row);
                    out_count.push(inside.len() as i64);
                    out_dcount.push(distinct.len() as i64);
                }
                Activity::ActiveUsers => {
                    let mut active: std::collections::HashSet<&String> =
                        std::collections::HashSet::new();
                    for (t, id) in events
                        .iter()
                        .filter(|(t, _)| *t >= bin_start && *t < bin_end)
                    {
                        if active.contains(id) {
                            continue;
                        }
                        let periods: std::collections::HashSet<i64> = events
                            .iter()
                            .filter(|(u, other)| other == id && *u > t - w.lookback && *u <= *t)
                            .map(|(u, _)| u.div_euclid(w.period))
                            .collect();
                        if periods.len() >= w.active {
                            active.insert(id);
                        }
                    }
                    if !active.is_empty() {
                        out_time.push(bin_start);
                        out_rows.push(*first_row);
                        out_dcount.push(active.len() as i64);
                    }
                }
            }
            if bin_end <= bin_start {
                break;
            }
            bin_start = bin_end;
        }
    }
    let take = UInt32Array::from(out_rows);
    let mut columns: Vec<ArrayRef> = vec![integer_column(out_time, KustoType::DateTime)?];
    for c in 0..dims {
        columns.push(arrow::compute::take(
            batch.column(2 + c).as_ref(),
            &take,
            None,
        )?);
    }
    if kind == Activity::SlidingWindow {
        columns.push(Arc::new(Int64Array::from(out_count)));
    }
    columns.push(Arc::new(Int64Array::from(out_dcount)));
    Ok(RecordBatch::try_new(Arc::clone(out_schema), columns)?)
}

/// Kusto's nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[f64], percentile: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[allow(clippy::too_many_arguments)]
fn rolling_percentile(
    batch: &RecordBatch,
    dims: usize,
    bin: i64,
    window: i64,
    percentile: f64,
    index_ty: KustoType,
    result_ty: KustoType,
    out_schema: &SchemaRef,
) -> Result<RecordBatch, DataFusionError> {
    let index = integers(batch, 0)?;
    let values = reals(batch, 1)?;
    // group -> (first row, bin -> values)
    let mut groups: Vec<(u32, BTreeMap<i64, Vec<f64>>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for row in 0..batch.num_rows() {
        if index.is_null(row) || values.is_null(row) {
            continue;
        }
        let key = group_key(batch, 2..2 + dims, row);
        let group = *group_of.entry(key).or_insert_with(|| {
            groups.push((row as u32, BTreeMap::new()));
            groups.len() - 1
        });
        let start = index.value(row).div_euclid(bin) * bin;
        groups[group]
            .1
            .entry(start)
            .or_default()
            .push(values.value(row));
    }
    let mut out_index = Vec::new();
    let mut out_rows: Vec<u32> = Vec::new();
    let mut out_values: Vec<Option<f64>> = Vec::new();
    for (first_row, bins) in &groups {
        for &start in bins.keys() {
            let low = start - (window - 1) * bin;
            let mut window_values: Vec<f64> = bins
                .range(low..=start)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            window_values.sort_by(f64::total_cmp);
            out_index.push(start);
            out_rows.push(*first_row);
            out_values.push(nearest_rank(&window_values, percentile));
        }
    }
    let take = UInt32Array::from(out_rows);
    let mut columns: Vec<ArrayRef> = vec![integer_column(out_index, index_ty)?];
    for c in 0..dims {
        columns.push(arrow::compute::take(
            batch.column(2 + c).as_ref(),
            &take,
            None,
        )?);
    }
    let result: ArrayRef = Arc::new(Float64Array::from(out_values));
    columns.push(arrow::compute::cast(&result, &result_ty.arrow_type())?);
    Ok(RecordBatch::try_new(Arc::clone(out_schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    fn events(rows: &[(i64, &str)]) -> RecordBatch {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            KustoType::Long.field("t"),
            KustoType::String.field("id"),
        ]));
        let times: ArrayRef = Arc::new(Int64Array::from(
            rows.iter().map(|(t, _)| t * DAY).collect::<Vec<_>>(),
        ));
        let ids: ArrayRef = Arc::new(arrow::array::StringArray::from(
            rows.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(schema, vec![times, ids]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn counts(batch: &RecordBatch, column: usize) -> Vec<i64> {
        batch
            .column(column)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn sliding_window_counts_rows_and_distinct_ids_of_the_lookback() {
        let batch = events(&[(0, "a"), (0, "a"), (1, "b"), (2, "a"), (4, "c")]);
        let window = ActivityWindow {
            start: 0,
            end: 4 * DAY,
            lookback: 2 * DAY,
            bin: DAY,
            period: 1,
            active: 0,
        };
        let out_schema = Arc::new(arrow::datatypes::Schema::new(vec![
            KustoType::DateTime.field("t"),
            KustoType::Long.field("Count"),
            KustoType::Long.field("dcount"),
        ]));
        let out = activity(&batch, Activity::SlidingWindow, window, 0, &out_schema)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(counts(&out, 1), vec![2, 3, 2, 1, 1]);
        assert_eq!(counts(&out, 2), vec![1, 2, 2, 1, 1]);
    }

    #[test]
    fn active_users_need_enough_periods_in_the_lookback() {
        let batch = events(&[(0, "a"), (1, "a"), (2, "a"), (2, "b"), (9, "a")]);
        let window = ActivityWindow {
            start: 0,
            end: 13 * DAY,
            lookback: 3 * DAY,
            bin: 7 * DAY,
            period: DAY,
            active: 3,
        };
        let out_schema = Arc::new(arrow::datatypes::Schema::new(vec![
            KustoType::DateTime.field("t"),
            KustoType::Long.field("dcount"),
        ]));
        let out = activity(&batch, Activity::ActiveUsers, window, 0, &out_schema)
            .unwrap_or_else(|e| panic!("{e}"));
        // Only `a` on day 2 has three days (0, 1, 2) in its lookback; the second bin has none.
        assert_eq!(out.num_rows(), 1);
        assert_eq!(counts(&out, 1), vec![1]);
    }

    fn schemas(rows: &[(&str, i64, &str)]) -> RecordBatch {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            KustoType::String.field("ColumnName"),
            KustoType::Long.field("ColumnOrdinal"),
            KustoType::String.field("DataType"),
            KustoType::String.field("ColumnType"),
        ]));
        let names: ArrayRef = Arc::new(arrow::array::StringArray::from(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ));
        let ordinals: ArrayRef = Arc::new(Int64Array::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let types: ArrayRef = Arc::new(arrow::array::StringArray::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(
            schema.clone(),
            vec![names, ordinals, Arc::clone(&types), types],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn merged(batch: &RecordBatch, preserve: bool) -> Vec<(String, i64)> {
        let out = schema_merge(batch, preserve, &batch.schema()).unwrap_or_else(|e| panic!("{e}"));
        let names = out.column(0).as_string::<i32>();
        let ordinals = out.column(1).as_primitive::<arrow::datatypes::Int64Type>();
        (0..out.num_rows())
            .map(|i| (names.value(i).to_string(), ordinals.value(i)))
            .collect()
    }

    #[test]
    fn schema_merge_places_new_columns_after_their_predecessor() {
        let batch = schemas(&[
            ("Uri", 0, "string"),
            ("HttpStatus", 1, "int"),
            ("Uri", 0, "string"),
            ("Referrer", 1, "string"),
            ("HttpStatus", 2, "int"),
        ]);
        let names = |v: Vec<(String, i64)>| v.into_iter().collect::<Vec<_>>();
        assert_eq!(
            names(merged(&batch, false)),
            vec![
                ("Uri".to_string(), 0),
                ("Referrer".to_string(), 1),
                ("HttpStatus".to_string(), 2)
            ]
        );
        assert_eq!(
            names(merged(&batch, true)),
            vec![
                ("Uri".to_string(), 0),
                ("Referrer".to_string(), 1),
                ("HttpStatus".to_string(), -1)
            ]
        );
    }

    #[test]
    fn nearest_rank_percentile() {
        let values: Vec<f64> = (1..=24).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 50.0), Some(12.0));
        let values: Vec<f64> = (25..=96).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 50.0), Some(60.0));
        assert_eq!(nearest_rank(&[], 50.0), None);
    }
}
