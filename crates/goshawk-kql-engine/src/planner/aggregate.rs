//! Aggregation functions in `summarize`, and Kusto's default names for their columns.
//!
//! The function library has no aggregates yet, so this maps Kusto aggregates onto DataFusion's
//! built-in ones, plus `make_set`/`make_list` as a UDAF producing dynamic arrays.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result as DFResult;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, ExprFunctionExt, Signature, Volatility, lit,
};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::ast;
use goshawk_types::KustoType;
use serde_json::Value;

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
        other => other,
    }
}

const MAX_SET_SIZE: usize = 1_048_576;

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
            ("take_any" | "any", Some(column)) => column.clone(),
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
                    Some(_) => (agg::count(lower(0)?.expr), KustoType::Long),
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
            "make_set" | "makeset" | "make_list" | "makelist" | "make_set_if" | "make_list_if" => {
                let conditional = name.ends_with("_if");
                if conditional {
                    arity(2, 3)?
                } else {
                    arity(1, 2)?
                }
                let value = lower(0)?;
                let size_index = if conditional { 2 } else { 1 };
                let max = match args.get(size_index) {
                    None => MAX_SET_SIZE,
                    Some(arg) => {
                        let size = lower(size_index)?;
                        match constant_value(&size.expr) {
                            Some(ScalarValue::Int64(Some(n))) if n > 0 => {
                                usize::try_from(n).unwrap_or(MAX_SET_SIZE)
                            }
                            Some(ScalarValue::Int32(Some(n))) if n > 0 => {
                                usize::try_from(n).unwrap_or(MAX_SET_SIZE)
                            }
                            _ => {
                                return Err(error(
                                    format!(
                                        "{name}(): the maximum size must be a positive integer constant"
                                    ),
                                    arg.span,
                                ));
                            }
                        }
                    }
                };
                let distinct = name.contains("set");
                let udaf = Arc::new(AggregateUDF::new_from_impl(MakeCollection::new(
                    distinct, max, value.ty,
                )));
                let mut expr = Expr::AggregateFunction(AggregateFunction::new_udf(
                    udaf,
                    vec![value.expr],
                    false,
                    None,
                    vec![],
                    None,
                ));
                if conditional {
                    let p = predicate(1)?;
                    expr = expr
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?;
                }
                (expr, KustoType::Dynamic)
            }
            "make_bag" | "make_bag_if" => {
                let conditional = name == "make_bag_if";
                if conditional {
                    arity(2, 3)?
                } else {
                    arity(1, 2)?
                }
                let value = lower(0)?;
                if value.ty != KustoType::Dynamic {
                    return Err(error(
                        format!(
                            "{name}(): argument 1 has type {}, expected a dynamic property bag",
                            value.ty
                        ),
                        args[0].span,
                    ));
                }
                let udaf = Arc::new(AggregateUDF::new_from_impl(MakeBag {
                    signature: Signature::any(1, Volatility::Immutable),
                }));
                let mut expr = Expr::AggregateFunction(AggregateFunction::new_udf(
                    udaf,
                    vec![value.expr],
                    false,
                    None,
                    vec![],
                    None,
                ));
                if conditional {
                    let p = predicate(1)?;
                    expr = expr
                        .filter(p)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?;
                }
                (expr, KustoType::Dynamic)
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

/// `make_set` / `make_list`: the values of a group as a dynamic array, at most `max` of them;
/// nulls are skipped. The state is the JSON array text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeCollection {
    distinct: bool,
    max: usize,
    input: KustoType,
    signature: Signature,
}

impl MakeCollection {
    fn new(distinct: bool, max: usize, input: KustoType) -> MakeCollection {
        MakeCollection {
            distinct,
            max,
            input,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for MakeCollection {
    fn name(&self) -> &str {
        if self.distinct {
            "make_set"
        } else {
            "make_list"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _: &[FieldRef]) -> DFResult<FieldRef> {
        Ok(Arc::new(KustoType::Dynamic.field(self.name())))
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        Ok(Box::new(CollectionAccumulator {
            distinct: self.distinct,
            max: self.max,
            input: self.input,
            values: Vec::new(),
            seen: HashSet::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_items", args.name),
            DataType::Utf8,
            true,
        ))])
    }
}

#[derive(Debug)]
struct CollectionAccumulator {
    distinct: bool,
    max: usize,
    input: KustoType,
    values: Vec<Value>,
    seen: HashSet<String>,
}

impl CollectionAccumulator {
    fn push(&mut self, value: Value) {
        if self.values.len() >= self.max || value.is_null() {
            return;
        }
        // Dynamic arrays contribute their elements, as in Kusto.
        match value {
            Value::Array(items) if self.input == KustoType::Dynamic => {
                for item in items {
                    self.push_one(item);
                }
            }
            other => self.push_one(other),
        }
    }

    fn push_one(&mut self, value: Value) {
        if self.values.len() >= self.max || value.is_null() {
            return;
        }
        if self.distinct && !self.seen.insert(crate::dynamic::identity_key(&value)) {
            return;
        }
        self.values.push(value);
    }

    fn text(&self) -> String {
        Value::Array(self.values.clone()).to_string()
    }
}

impl Accumulator for CollectionAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let Some(array) = values.first() else {
            return Ok(());
        };
        for row in 0..array.len() {
            if array.is_null(row) {
                continue;
            }
            let value = crate::format::json_at(array.as_ref(), row, self.input);
            self.push(value);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.text())))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.len() * 32 + self.seen.len() * 32
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.text()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let Some(array) = states.first() else {
            return Ok(());
        };
        let Some(texts) = array.as_string_opt::<i32>() else {
            return Ok(());
        };
        for text in texts.iter().flatten() {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
                for item in items {
                    self.push_one(item);
                }
            }
        }
        Ok(())
    }
}

/// `make_bag`: the union of the property bags of a group (values that are not bags are
/// skipped; for a key seen twice the first value is kept).
#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeBag {
    signature: Signature,
}

impl AggregateUDFImpl for MakeBag {
    fn name(&self) -> &str {
        "make_bag"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _: &[FieldRef]) -> DFResult<FieldRef> {
        Ok(Arc::new(KustoType::Dynamic.field("make_bag")))
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        Ok(Box::new(BagAccumulator {
            bag: serde_json::Map::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_bag", args.name),
            DataType::Utf8,
            true,
        ))])
    }
}

#[derive(Debug)]
struct BagAccumulator {
    bag: serde_json::Map<String, Value>,
}

impl BagAccumulator {
    fn merge_text(&mut self, text: &str) {
        if let Ok(Value::Object(entries)) = serde_json::from_str::<Value>(text) {
            for (key, value) in entries {
                self.bag.entry(key).or_insert(value);
            }
        }
    }

    fn text(&self) -> String {
        Value::Object(self.bag.clone()).to_string()
    }
}

impl Accumulator for BagAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let Some(array) = values.first() else {
            return Ok(());
        };
        for row in 0..array.len() {
            if let Some(text) = crate::format::string_value(array.as_ref(), row) {
                self.merge_text(text);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.text())))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.bag.len() * 64
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.text()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let Some(array) = states.first() else {
            return Ok(());
        };
        for row in 0..array.len() {
            if let Some(text) = crate::format::string_value(array.as_ref(), row) {
                self.merge_text(text);
            }
        }
        Ok(())
    }
}
