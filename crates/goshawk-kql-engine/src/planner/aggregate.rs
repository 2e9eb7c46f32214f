//! Aggregation functions in `summarize`, and Kusto's default names for their columns.
//!
//! Kusto aggregates map onto the function library's UDAFs (`dcount`, `make_set`, `make_bag`,
//! `percentile`, ...) and, where Kusto's semantics match, DataFusion's built-ins (`count`, `sum`,
//! `avg`, `min`, `max`, `stdev`), wrapped for Kusto's results on empty input.

use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{Expr, ExprFunctionExt, lit};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::ast;
use goshawk_types::KustoType;

use super::expr::convert_to;
use super::literal::constant_value;
use super::{Env, PlanResult, Planner, Typed, error, unsupported};
use crate::catalog::KustoColumn;
use crate::scalar::is_numeric;

/// A lowered aggregate: the DataFusion aggregate expression, its Kusto type, and the column
/// name Kusto gives it when the query does not.
pub(crate) struct Aggregate {
    pub expr: Expr,
    pub ty: KustoType,
    pub default_name: String,
}

/// Kusto's default-name prefix for an aggregate (`make_set(x)` is `set_x`).
fn name_prefix(function: &str) -> &str {
    match function {
        "make_set" | "makeset" | "make_set_if" => "set",
        "make_list" | "makelist" | "make_list_if" => "list",
        "take_any" | "any" => "any",
        "make_bag" | "make_bag_if" => "bag",
        "buildschema" => "schema",
        "percentiles_array" | "percentilesw_array" => "percentile",
        other => other,
    }
}

impl Planner<'_> {
    /// Lowers an aggregate call such as `dcount(x)` or `make_set(x, 5)`.
    pub(crate) fn lower_aggregate(
        &self,
        call: &ast::FunctionCall,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Aggregate> {
        let name = call.name.name.as_str();
        let args: Vec<&ast::Expr> = call.args.iter().map(|a| &a.value).collect();
        let first_column = args
            .first()
            .and_then(|a| super::ops::implicit_name(a).or_else(|| super::ops::call_column_name(a)));
        let percent_text = match args.get(1).map(|a| &a.kind) {
            Some(ast::ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::Long(v),
                ..
            })) => Some(v.to_string()),
            Some(ast::ExprKind::Literal(ast::Literal {
                kind: ast::LiteralKind::Real(v),
                ..
            })) => Some(v.to_string()),
            _ => None,
        };
        let default_name = match (name, &first_column) {
            ("percentile" | "percentiles", _) => crate::registry::default_column_name(
                name,
                first_column.as_deref(),
                percent_text.as_deref(),
            ),
            ("take_any" | "any" | "take_anyif" | "anyif", Some(column)) => column.clone(),
            // Kusto names a covariance after both columns: `covariancep_x_y`.
            ("covariance" | "covariancep" | "covarianceif" | "covariancepif", Some(column)) => {
                let second = args.get(1).and_then(|a| super::ops::implicit_name(a));
                format!("{name}_{column}_{}", second.unwrap_or_default())
            }
            (_, Some(column)) => format!("{}_{column}", name_prefix(name)),
            _ => format!("{}_", name_prefix(name)),
        };
        let arity = |min: usize, max: usize| -> PlanResult<()> {
            if (min..=max).contains(&args.len()) {
                return Ok(());
            }
            let expected = if min == max {
                min.to_string()
            } else {
                format!("{min} or {max}")
            };
            Err(error(
                format!(
                    "{name}() expects {expected} argument{}, got {}",
                    if max == 1 { "" } else { "s" },
                    args.len()
                ),
                call.span,
            ))
        };
        let lower = |index: usize| self.lower_expr(args[index], columns, env);
        let numeric = |typed: &Typed, index: usize| -> PlanResult<()> {
            if is_numeric(typed.ty) || typed.ty == KustoType::Dynamic {
                Ok(())
            } else {
                Err(error(
                    format!(
                        "{name}(): argument {} has type {}, expected a number",
                        index + 1,
                        typed.ty
                    ),
                    args[index].span,
                ))
            }
        };
        let predicate = |index: usize| -> PlanResult<Expr> {
            let typed = lower(index)?;
            if typed.ty != KustoType::Bool {
                return Err(error(
                    format!(
                        "{name}(): argument {} must be a bool predicate, got {}",
                        index + 1,
                        typed.ty
                    ),
                    args[index].span,
                ));
            }
            Ok(typed.expr)
        };
        let (expr, ty) = match name {
            "count" => {
                arity(0, 1)?;
                match args.first() {
                    None => (agg::count(lit(1_i64)), KustoType::Long),
                    // Kusto's count(x) counts rows, null x included (oracle: count(x) over a
                    // null x is 1); the argument is still checked.
                    Some(_) => {
                        lower(0)?;
                        (agg::count(lit(1_i64)), KustoType::Long)
                    }
                }
            }
            "countif" => {
                arity(1, 1)?;
                let p = predicate(0)?;
                (
                    agg::count(lit(1_i64))
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?,
                    KustoType::Long,
                )
            }
            "count_distinct" => {
                arity(1, 1)?;
                (agg::count_distinct(lower(0)?.expr), KustoType::Long)
            }
            "dcount" | "dcountif" => {
                if name == "dcount" {
                    arity(1, 2)?
                } else {
                    arity(2, 3)?
                }
                // The library's dcount is Kusto's: exact up to 2^p/16 distinct values, then
                // HyperLogLog at the accuracy level's precision (not an exact distinct count).
                let mut call_args = vec![lower(0)?.expr];
                if name == "dcountif" {
                    call_args.push(predicate(1)?);
                }
                for index in call_args.len()..args.len() {
                    call_args.push(lower(index)?.expr);
                }
                let function = crate::registry::resolve(name)
                    .and_then(|entry| entry.call(call_args, self.now_nanos))
                    .map_err(|e| error(e.to_string(), call.span))?;
                (function, KustoType::Long)
            }
            "sum" | "sumif" => {
                if name == "sum" {
                    arity(1, 1)?
                } else {
                    arity(2, 2)?
                }
                let value = lower(0)?;
                numeric(&value, 0)?;
                let (value, ty) = match value.ty {
                    KustoType::Int | KustoType::Long => {
                        (convert_to(value, KustoType::Long), KustoType::Long)
                    }
                    KustoType::Decimal => (value, KustoType::Decimal),
                    _ => (convert_to(value, KustoType::Real), KustoType::Real),
                };
                let mut expr = agg::sum(value.expr);
                if name == "sumif" {
                    let p = predicate(1)?;
                    expr = expr
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?;
                }
                // Kusto's sum over no (non-null) values is 0, not null.
                (coalesce(vec![expr, super::literal::zero_of(ty)]), ty)
            }
            "avg" | "avgif" => {
                if name == "avg" {
                    arity(1, 1)?
                } else {
                    arity(2, 2)?
                }
                let value = lower(0)?;
                numeric(&value, 0)?;
                let value = convert_to(value, KustoType::Real);
                let mut expr = agg::avg(value.expr);
                if name == "avgif" {
                    let p = predicate(1)?;
                    expr = expr
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?;
                }
                // Kusto's average of no values is NaN (0/0).
                (coalesce(vec![expr, lit(f64::NAN)]), KustoType::Real)
            }
            "min" | "max" | "minif" | "maxif" => {
                if name.ends_with("if") {
                    arity(2, 2)?
                } else {
                    arity(1, 1)?
                }
                let value = lower(0)?;
                if matches!(value.ty, KustoType::Dynamic | KustoType::Bool) {
                    return Err(error(
                        format!(
                            "{name}(): argument 1 has type {}, which has no order",
                            value.ty
                        ),
                        args[0].span,
                    ));
                }
                let mut expr = if name.starts_with("min") {
                    agg::min(value.expr)
                } else {
                    agg::max(value.expr)
                };
                if name.ends_with("if") {
                    let p = predicate(1)?;
                    expr = expr
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?;
                }
                (expr, value.ty)
            }
            "stdevp" | "variancep" => {
                arity(1, 1)?;
                let value = lower(0)?;
                numeric(&value, 0)?;
                let value = convert_to(value, KustoType::Real);
                let expr = if name == "stdevp" {
                    agg::stddev_pop(value.expr)
                } else {
                    agg::var_pop(value.expr)
                };
                (coalesce(vec![expr, lit(0.0_f64)]), KustoType::Real)
            }
            "stdev" | "variance" => {
                arity(1, 1)?;
                let value = lower(0)?;
                numeric(&value, 0)?;
                let value = convert_to(value, KustoType::Real);
                let expr = if name == "stdev" {
                    agg::stddev(value.expr)
                } else {
                    agg::var_sample(value.expr)
                };
                // One value has no spread: Kusto says 0 where the sample formula has none.
                (coalesce(vec![expr, lit(0.0_f64)]), KustoType::Real)
            }
            "take_any" | "any" => {
                arity(1, 1)?;
                let value = lower(0)?;
                (agg::first_value(value.expr, vec![]), value.ty)
            }
            "take_anyif" | "anyif" => {
                arity(2, 2)?;
                let value = lower(0)?;
                let p = predicate(1)?;
                (
                    agg::first_value(value.expr, vec![])
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?,
                    value.ty,
                )
            }
            "make_set" | "makeset" | "make_list" | "makelist" | "make_set_if" | "make_list_if"
            | "make_bag" | "make_bag_if" => {
                let conditional = name.ends_with("_if");
                if conditional {
                    arity(2, 3)?
                } else {
                    arity(1, 2)?
                }
                let value = lower(0)?;
                if name.starts_with("make_bag") && value.ty != KustoType::Dynamic {
                    return Err(error(
                        format!(
                            "{name}(): argument 1 has type {}, expected a dynamic property bag",
                            value.ty
                        ),
                        args[0].span,
                    ));
                }
                let mut call_args = vec![value.expr];
                if conditional {
                    call_args.push(predicate(1)?);
                }
                if let Some(arg) = args.get(call_args.len()) {
                    let size = lower(call_args.len())?;
                    if !matches!(
                        constant_value(&size.expr),
                        Some(ScalarValue::Int64(Some(1..)) | ScalarValue::Int32(Some(1..)))
                    ) {
                        return Err(error(
                            format!(
                                "{name}(): the maximum size must be a positive integer constant"
                            ),
                            arg.span,
                        ));
                    }
                    call_args.push(size.expr);
                }
                // The library's collections: first-seen order, "" kept, arrays flattened, the
                // size limit honoured (one implementation for the planner and the registry).
                let function = crate::registry::resolve(name)
                    .and_then(|entry| entry.call(call_args, self.now_nanos))
                    .map_err(|e| error(e.to_string(), call.span))?;
                (function, KustoType::Dynamic)
            }
            "percentiles" | "percentile" if args.len() == 2 => {
                let entry = crate::registry::resolve("percentile")
                    .map_err(|e| error(e.to_string(), call.name.span))?;
                let value = lower(0)?;
                let percent = lower(1)?;
                let ty = entry
                    .return_type(&[value.ty, percent.ty])
                    .map_err(|e| error(e.to_string(), call.span))?;
                let expr = entry
                    .call(vec![value.expr, percent.expr], self.now_nanos)
                    .map_err(|e| error(e.to_string(), call.span))?;
                (expr, ty)
            }
            "arg_max" | "arg_min" | "percentiles" => {
                return Err(unsupported(
                    &format!("'{name}' inside an expression or with several results here"),
                    call.name.span,
                ));
            }
            _ => {
                // Everything else comes from the function library's registry.
                let entry = crate::registry::lookup(name)
                    .filter(|e| e.kind() == crate::registry::FunctionKind::Aggregate)
                    .ok_or_else(|| {
                        error(
                            format!("unknown aggregation function '{name}'"),
                            call.name.span,
                        )
                    })?;
                let mut lowered = Vec::with_capacity(args.len());
                for index in 0..args.len() {
                    lowered.push(lower(index)?);
                }
                let types: Vec<KustoType> = lowered.iter().map(|t| t.ty).collect();
                let ty = entry
                    .return_type(&types)
                    .map_err(|e| error(e.to_string(), call.span))?;
                let expr = entry
                    .call(
                        lowered.into_iter().map(|t| t.expr).collect(),
                        self.now_nanos,
                    )
                    .map_err(|e| error(e.to_string(), call.span))?;
                (expr, ty)
            }
        };
        Ok(Aggregate {
            expr,
            ty,
            default_name,
        })
    }
}
