//! Scalar expressions: names, literals, operators and function calls, typed the Kusto way.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::functions::core::expr_fn::nullif;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, Operator as DfOp, lit, when};
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, BinaryOp, ExprKind, ListOp, StatementKind, UnaryOp};
use goshawk_types::KustoType;

use super::literal::{self, constant_value, datetime_value, lower_literal, typed_lit};
use super::{Binding, Env, PlanResult, Planner, Typed, col, error, udf, unknown, unsupported};
use crate::catalog::KustoColumn;
use crate::dynamic::PathStep;
use crate::scalar::is_numeric;

/// Converts a value to `ty` with Kusto's conversion function (`tostring`, `tolong`, ...).
pub(crate) fn convert_to(typed: Typed, ty: KustoType) -> Typed {
    if typed.ty == ty {
        return typed;
    }
    let function = match ty {
        KustoType::String => "tostring",
        KustoType::Long => "tolong",
        KustoType::Int => "toint",
        KustoType::Real => "toreal",
        KustoType::Bool => "tobool",
        KustoType::DateTime => "todatetime",
        KustoType::TimeSpan => "totimespan",
        KustoType::Guid => "toguid",
        KustoType::Dynamic => "parse_json",
        KustoType::Decimal => "todecimal",
    };
    match udf::lookup(function) {
        Some(function) => Typed {
            expr: udf::call(function, vec![typed.expr]),
            ty,
        },
        None => Typed {
            expr: Expr::Cast(Cast::new(Box::new(typed.expr), ty.arrow_type())),
            ty,
        },
    }
}

fn binary(left: Expr, op: DfOp, right: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
}

fn cast(expr: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), to))
}

fn ticks(expr: Expr) -> Expr {
    cast(expr, DataType::Int64)
}

/// The name of a string operator UDF in the function library.
fn string_operator(op: BinaryOp) -> Option<&'static str> {
    Some(match op {
        BinaryOp::EqCi => "=~",
        BinaryOp::NotEqCi => "!~",
        BinaryOp::Has => "has",
        BinaryOp::NotHas => "!has",
        BinaryOp::HasCs => "has_cs",
        BinaryOp::NotHasCs => "!has_cs",
        BinaryOp::HasPrefix => "hasprefix",
        BinaryOp::NotHasPrefix => "!hasprefix",
        BinaryOp::HasPrefixCs => "hasprefix_cs",
        BinaryOp::NotHasPrefixCs => "!hasprefix_cs",
        BinaryOp::HasSuffix => "hassuffix",
        BinaryOp::NotHasSuffix => "!hassuffix",
        BinaryOp::HasSuffixCs => "hassuffix_cs",
        BinaryOp::NotHasSuffixCs => "!hassuffix_cs",
        BinaryOp::Contains => "contains",
        BinaryOp::NotContains => "!contains",
        BinaryOp::ContainsCs => "contains_cs",
        BinaryOp::NotContainsCs => "!contains_cs",
        BinaryOp::StartsWith => "startswith",
        BinaryOp::NotStartsWith => "!startswith",
        BinaryOp::StartsWithCs => "startswith_cs",
        BinaryOp::NotStartsWithCs => "!startswith_cs",
        BinaryOp::EndsWith => "endswith",
        BinaryOp::NotEndsWith => "!endswith",
        BinaryOp::EndsWithCs => "endswith_cs",
        BinaryOp::NotEndsWithCs => "!endswith_cs",
        BinaryOp::MatchesRegex => "matches regex",
        _ => return None,
    })
}

const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "make_set",
    "make_list",
    "make_bag",
    "arg_max",
    "arg_min",
    "take_any",
    "any",
    "take_anyif",
    "anyif",
    "stdev",
    "variance",
    "stdevp",
    "variancep",
    "count_distinct",
    "percentile",
    "percentiles",
    "percentilesw",
    "minif",
    "maxif",
    "make_set_if",
    "make_list_if",
];

/// Whether `name` is an aggregation function (valid only in summarize and friends).
pub(crate) fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
        || crate::registry::lookup(name)
            .is_some_and(|e| e.kind() == crate::registry::FunctionKind::Aggregate)
}

impl Planner<'_> {
    pub(crate) fn now_literal(&self) -> Typed {
        typed_lit(datetime_value(Some(self.now_nanos)), KustoType::DateTime)
    }

    /// Lowers a scalar expression over a row with `columns`.
    pub(crate) fn lower_expr(
        &self,
        expr: &ast::Expr,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        match &expr.kind {
            ExprKind::Literal(lit) => lower_literal(lit).map_err(|m| error(m, expr.span)),
            ExprKind::Name(ident) => self.lower_name(&ident.name, ident.span, columns, env),
            ExprKind::Paren(inner) => self.lower_expr(inner, columns, env),
            ExprKind::Star => Err(error("'*' is not allowed here", expr.span)),
            // `s1.Ts` in `scan` reads the column named `s1.Ts` (a step's state).
            ExprKind::Member { target, member }
                if matches!(&target.kind, ExprKind::Name(t)
                    if columns.iter().any(|c| c.name == format!("{}.{}", t.name, member.name))) =>
            {
                let ExprKind::Name(t) = &target.kind else {
                    return self.lower_path(expr, columns, env);
                };
                let name = format!("{}.{}", t.name, member.name);
                self.lower_name(&name, member.span, columns, env)
            }
            ExprKind::Member { .. } | ExprKind::Index { .. } => self.lower_path(expr, columns, env),
            ExprKind::Call(call) => self.lower_call(call, columns, env),
            ExprKind::MethodCall { .. } => Err(unsupported("method calls", expr.span)),
            ExprKind::Unary { op, operand } => {
                let inner = self.lower_expr(operand, columns, env)?;
                match op.value {
                    UnaryOp::Plus => Ok(inner),
                    UnaryOp::Neg => {
                        if !is_numeric(inner.ty) && inner.ty != KustoType::TimeSpan {
                            return Err(error(
                                format!("cannot negate a value of type {}", inner.ty),
                                expr.span,
                            ));
                        }
                        if let Some(ScalarValue::DurationNanosecond(Some(n))) =
                            constant_value(&inner.expr)
                        {
                            return Ok(typed_lit(
                                ScalarValue::DurationNanosecond(Some(-n)),
                                KustoType::TimeSpan,
                            ));
                        }
                        let expr = if inner.ty == KustoType::TimeSpan {
                            // DataFusion cannot negate durations; negate the tick count.
                            cast(
                                Expr::Negative(Box::new(ticks(inner.expr))),
                                KustoType::TimeSpan.arrow_type(),
                            )
                        } else {
                            Expr::Negative(Box::new(inner.expr))
                        };
                        Ok(Typed { expr, ty: inner.ty })
                    }
                }
            }
            // `* has "x"`: the operator applied to every column, any match counts.
            ExprKind::Binary { op, left, right } if left.kind == ExprKind::Star => {
                let right = self.lower_expr(right, columns, env)?;
                let mut any: Option<Expr> = None;
                for column in columns {
                    let value = convert_to(
                        Typed {
                            expr: col(&column.name),
                            ty: column.ty,
                        },
                        KustoType::String,
                    );
                    let test = self.lower_binary(op.value, value, right.clone(), op.span)?;
                    any = Some(match any {
                        None => test.expr,
                        Some(acc) => acc.or(test.expr),
                    });
                }
                Ok(Typed {
                    expr: any.unwrap_or_else(|| lit(false)),
                    ty: KustoType::Bool,
                })
            }
            ExprKind::Binary { op, left, right } => {
                let left = self.lower_expr(left, columns, env)?;
                let right = self.lower_expr(right, columns, env)?;
                self.lower_binary(op.value, left, right, op.span)
            }
            ExprKind::InList { op, value, list } => {
                self.lower_in_list(op.value, value, list, columns, env, expr.span)
            }
            ExprKind::Between {
                value,
                negated,
                low,
                high,
            } => {
                let value = self.lower_expr(value, columns, env)?;
                let low = self.lower_expr(low, columns, env)?;
                let mut high = self.lower_expr(high, columns, env)?;
                if value.ty == KustoType::DateTime && high.ty == KustoType::TimeSpan {
                    high = self.lower_binary(BinaryOp::Add, low.clone(), high, expr.span)?;
                }
                Ok(Typed {
                    expr: Expr::Between(datafusion::logical_expr::Between::new(
                        Box::new(value.expr),
                        *negated,
                        Box::new(low.expr),
                        Box::new(high.expr),
                    )),
                    ty: KustoType::Bool,
                })
            }
            ExprKind::Tabular(tabular) => {
                let tab = self.plan_tabular(tabular, env, None)?;
                self.scalar_subquery(tab, expr.span)
            }
            ExprKind::List(_) => Err(error("a list of values is not allowed here", expr.span)),
            ExprKind::TypeOf(_) => Err(error("typeof() is not a value", expr.span)),
        }
    }

    /// The first column of the first row of a table, as a scalar (Kusto's `toscalar`).
    pub(crate) fn scalar_subquery(&self, tab: super::Tab, span: Span) -> PlanResult<Typed> {
        let Some(first) = tab.columns.first().cloned() else {
            return Err(error(
                "toscalar() needs a table with at least one column",
                span,
            ));
        };
        let plan = datafusion::logical_expr::LogicalPlanBuilder::from(tab.plan)
            .project(vec![col(&first.name)])
            .and_then(|b| b.limit(0, Some(1)))
            .and_then(|b| b.build())
            .map_err(|e| super::df_error(e, span))?;
        let mut expr = datafusion::logical_expr::expr_fn::scalar_subquery(Arc::new(plan));
        // A dynamic or guid value is Utf8 in Arrow: only a tag keeps its Kusto type.
        if matches!(first.ty, KustoType::Dynamic | KustoType::Guid) {
            expr = udf::tag(expr, first.ty);
        }
        Ok(Typed { expr, ty: first.ty })
    }

    fn lower_name(
        &self,
        name: &str,
        span: Span,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        if let Some(column) = columns.iter().find(|c| c.name == name) {
            return Ok(Typed {
                expr: col(name),
                ty: column.ty,
            });
        }
        match env.get(name) {
            Some(Binding::Scalar(typed)) => return Ok(typed.clone()),
            Some(Binding::Tabular(_)) => {
                return Err(error(
                    format!("'{name}' is a table; use toscalar() to read one value from it"),
                    span,
                ));
            }
            Some(Binding::Function(def, captured)) if def.params.is_empty() => {
                return self.inline_scalar_function(name, def, captured, &[], columns, env, span);
            }
            _ => {}
        }
        // Kusto's bool literals are `true`/`false` in any of these spellings; a column of the
        // same name wins (checked above).
        if let Some(value) = match name {
            "True" | "TRUE" => Some(true),
            "False" | "FALSE" => Some(false),
            _ => None,
        } {
            return Ok(typed_lit(
                ScalarValue::Boolean(Some(value)),
                KustoType::Bool,
            ));
        }
        let mut candidates: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        candidates.extend(env.names().cloned());
        Err(unknown("column", name, span, candidates.iter()))
    }

    /// `a.b`, `a["b"]`, `a[0]` on a dynamic value.
    fn lower_path(
        &self,
        expr: &ast::Expr,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        let mut steps = Vec::new();
        let mut current = expr;
        // A base computed here when an index is only known per row (`d[k]`).
        let mut computed: Option<Typed> = None;
        loop {
            match &current.kind {
                ExprKind::Member { target, member } => {
                    steps.push(PathStep::Key(member.name.clone()));
                    current = target;
                }
                ExprKind::Index { target, index } => {
                    let key = self.lower_expr(index, columns, env)?;
                    let step = match constant_value(&key.expr) {
                        Some(ScalarValue::Utf8(Some(text))) => PathStep::Key(text),
                        Some(ScalarValue::Int64(Some(i))) => PathStep::Index(i),
                        Some(ScalarValue::Int32(Some(i))) => PathStep::Index(i64::from(i)),
                        _ => {
                            let inner = self.lower_expr(target, columns, env)?;
                            let function =
                                udf::lookup("__goshawk_dynamic_index").ok_or_else(|| {
                                    unsupported("an index that is not a constant", index.span)
                                })?;
                            computed = Some(Typed {
                                expr: udf::call(function, vec![inner.expr, key.expr]),
                                ty: KustoType::Dynamic,
                            });
                            break;
                        }
                    };
                    steps.push(step);
                    current = target;
                }
                _ => break,
            }
        }
        steps.reverse();
        let base = match computed {
            Some(base) => base,
            None => self.lower_expr(current, columns, env)?,
        };
        if !matches!(base.ty, KustoType::Dynamic | KustoType::String) {
            return Err(error(
                format!("member access needs a dynamic value, this is {}", base.ty),
                current.span,
            ));
        }
        Ok(Typed {
            expr: udf::dynamic_path(base.expr, steps),
            ty: KustoType::Dynamic,
        })
    }

    pub(crate) fn lower_binary(
        &self,
        op: BinaryOp,
        left: Typed,
        right: Typed,
        span: Span,
    ) -> PlanResult<Typed> {
        use KustoType as K;
        if let Some(name) = string_operator(op) {
            let function = udf::lookup(name)
                .ok_or_else(|| unsupported(&format!("the '{name}' operator"), span))?;
            let ty =
                udf::return_type(&function, &[left.ty, right.ty]).map_err(|m| error(m, span))?;
            return Ok(Typed {
                expr: udf::call(function, vec![left.expr, right.expr]),
                ty,
            });
        }
        let comparison = match op {
            BinaryOp::Eq => Some(DfOp::Eq),
            BinaryOp::NotEq => Some(DfOp::NotEq),
            BinaryOp::Lt => Some(DfOp::Lt),
            BinaryOp::Le => Some(DfOp::LtEq),
            BinaryOp::Gt => Some(DfOp::Gt),
            BinaryOp::Ge => Some(DfOp::GtEq),
            _ => None,
        };
        if let Some(df_op) = comparison {
            if left.ty == K::Dynamic && right.ty == K::Dynamic {
                // Kusto has no order or equality between two dynamic values (arrays, bags).
                return Err(error(
                    format!(
                        "cannot compare two dynamic values with '{}': convert one side first \
                         (tostring(), tolong(), ...)",
                        match op {
                            BinaryOp::Eq => "==",
                            BinaryOp::NotEq => "!=",
                            BinaryOp::Lt => "<",
                            BinaryOp::Le => "<=",
                            BinaryOp::Gt => ">",
                            _ => ">=",
                        }
                    ),
                    span,
                ));
            }
            let (left, right) = align_for_comparison(left, right);
            if !comparable(left.ty, right.ty) {
                return Err(error(
                    format!("cannot compare {} with {}", left.ty, right.ty),
                    span,
                ));
            }
            let mut compared = binary(left.expr.clone(), df_op, right.expr.clone());
            if left.ty == K::Real || right.ty == K::Real {
                // IEEE semantics, as in Kusto: NaN equals nothing and orders with nothing
                // (DataFusion orders NaN above every number).
                let nan = |e: &Expr| datafusion::functions::math::expr_fn::isnan(e.clone());
                let any_nan = match (left.ty, right.ty) {
                    (K::Real, K::Real) => nan(&left.expr).or(nan(&right.expr)),
                    (K::Real, _) => nan(&left.expr),
                    _ => nan(&right.expr),
                };
                compared = when(any_nan, lit(op == BinaryOp::NotEq))
                    .otherwise(compared)
                    .map_err(|e| super::df_error(e, span))?;
            }
            if !matches!(op, BinaryOp::Eq | BinaryOp::NotEq)
                || (left.ty == K::String && right.ty == K::String)
            {
                return Ok(Typed {
                    expr: compared,
                    ty: K::Bool,
                });
            }
            // Kusto: a value compared with null is unequal (`5 == int(null)` is false, `!=`
            // true, so `where x != 5` keeps the null rows); null compared with null is null.
            let one_null = lit(op == BinaryOp::NotEq);
            let is_null = |e: &Expr| -> Option<Expr> {
                match constant_value(e) {
                    Some(v) if !v.is_null() => None,
                    _ => Some(e.clone().is_null()),
                }
            };
            let expr = match (is_null(&left.expr), is_null(&right.expr)) {
                (None, None) => Ok(compared),
                (Some(n), None) | (None, Some(n)) => when(n, one_null).otherwise(compared),
                (Some(a), Some(b)) => {
                    when(a.clone().and(b.clone()), lit(ScalarValue::Boolean(None)))
                        .when(a.or(b), one_null)
                        .otherwise(compared)
                }
            }
            .map_err(|e| super::df_error(e, span))?;
            return Ok(Typed { expr, ty: K::Bool });
        }
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for side in [&left, &right] {
                    if !matches!(side.ty, K::Bool | K::Dynamic) {
                        return Err(error(
                            format!(
                                "'{}' needs bool operands, got {}",
                                if op == BinaryOp::And { "and" } else { "or" },
                                side.ty
                            ),
                            span,
                        ));
                    }
                }
                let left = convert_to(left, K::Bool);
                let right = convert_to(right, K::Bool);
                let df_op = if op == BinaryOp::And {
                    DfOp::And
                } else {
                    DfOp::Or
                };
                Ok(Typed {
                    expr: binary(left.expr, df_op, right.expr),
                    ty: K::Bool,
                })
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                self.lower_arithmetic(op, left, right, span)
            }
            BinaryOp::SearchColon => Err(unsupported("'Column:value' search terms", span)),
            _ => Err(unsupported("this operator", span)),
        }
    }

    fn lower_arithmetic(
        &self,
        op: BinaryOp,
        left: Typed,
        right: Typed,
        span: Span,
    ) -> PlanResult<Typed> {
        use KustoType as K;
        let df_op = match op {
            BinaryOp::Add => DfOp::Plus,
            BinaryOp::Sub => DfOp::Minus,
            BinaryOp::Mul => DfOp::Multiply,
            BinaryOp::Div => DfOp::Divide,
            _ => DfOp::Modulo,
        };
        let datetime_type = K::DateTime.arrow_type();
        let timespan_type = K::TimeSpan.arrow_type();
        // Datetime and timespan arithmetic runs on tick counts, as Kusto defines it.
        let result = match (left.ty, op, right.ty) {
            (K::DateTime, BinaryOp::Sub, K::DateTime) => Typed {
                expr: cast(
                    binary(ticks(left.expr), df_op, ticks(right.expr)),
                    timespan_type,
                ),
                ty: K::TimeSpan,
            },
            (K::DateTime, BinaryOp::Add | BinaryOp::Sub, K::TimeSpan) => Typed {
                expr: cast(
                    binary(ticks(left.expr), df_op, ticks(right.expr)),
                    datetime_type,
                ),
                ty: K::DateTime,
            },
            (K::TimeSpan, BinaryOp::Add, K::DateTime) => Typed {
                expr: cast(
                    binary(ticks(left.expr), df_op, ticks(right.expr)),
                    datetime_type,
                ),
                ty: K::DateTime,
            },
            (K::TimeSpan, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mod, K::TimeSpan) => Typed {
                expr: cast(
                    binary(ticks(left.expr), df_op, ticks(right.expr)),
                    timespan_type,
                ),
                ty: K::TimeSpan,
            },
            (K::TimeSpan, BinaryOp::Div, K::TimeSpan) => Typed {
                expr: binary(
                    cast(left.expr, DataType::Int64),
                    DfOp::Divide,
                    cast(cast(right.expr, DataType::Int64), DataType::Float64),
                ),
                ty: K::Real,
            },
            (K::TimeSpan, BinaryOp::Mul | BinaryOp::Div, n) if is_numeric(n) => {
                let factor = if n == K::Real {
                    right.expr
                } else {
                    cast(right.expr, DataType::Float64)
                };
                Typed {
                    expr: cast(
                        cast(
                            binary(cast(ticks(left.expr), DataType::Float64), df_op, factor),
                            DataType::Int64,
                        ),
                        timespan_type,
                    ),
                    ty: K::TimeSpan,
                }
            }
            (n, BinaryOp::Mul, K::TimeSpan) if is_numeric(n) => {
                return self.lower_arithmetic(op, right, left, span);
            }
            (a, _, b) if is_numeric(a) && is_numeric(b) => {
                // Kusto computes int arithmetic in long (int + int can exceed int).
                let ty = if a.max(b) == K::Int {
                    K::Long
                } else {
                    a.max(b)
                };
                let (l, r) = if a == ty && b == ty {
                    (left.expr, right.expr)
                } else {
                    (
                        cast(left.expr, ty.arrow_type()),
                        cast(right.expr, ty.arrow_type()),
                    )
                };
                let integral = matches!(ty, K::Long);
                let expr = match df_op {
                    // Real modulo is never negative either (-5.5 % 3.0 == 0.5).
                    DfOp::Modulo if ty == K::Real => {
                        let remainder = binary(l, DfOp::Modulo, r.clone());
                        when(
                            remainder.clone().lt(lit(0.0_f64)),
                            binary(
                                remainder.clone(),
                                DfOp::Plus,
                                datafusion::functions::math::expr_fn::abs(r),
                            ),
                        )
                        .otherwise(remainder)
                        .unwrap_or_else(|_| lit(ScalarValue::Float64(None)))
                    }
                    // Integer division or modulo by zero is null in Kusto, not an error.
                    DfOp::Divide if integral => binary(l, df_op, nullif(r, lit(0_i64))),
                    // Kusto's integer modulo is never negative (-7 % 3 == 2).
                    DfOp::Modulo if integral => {
                        let divisor = nullif(r, lit(0_i64));
                        let remainder = binary(l, DfOp::Modulo, divisor.clone());
                        let magnitude = when(
                            divisor.clone().lt(lit(0_i64)),
                            Expr::Negative(Box::new(divisor.clone())),
                        )
                        .otherwise(divisor)
                        .unwrap_or_else(|_| lit(ScalarValue::Int64(None)));
                        when(
                            remainder.clone().lt(lit(0_i64)),
                            binary(remainder.clone(), DfOp::Plus, magnitude),
                        )
                        .otherwise(remainder)
                        .unwrap_or_else(|_| lit(ScalarValue::Int64(None)))
                    }
                    _ => binary(l, df_op, r),
                };
                Typed { expr, ty }
            }
            (a, _, b) => {
                return Err(error(
                    format!(
                        "operator '{}' is not defined for {a} and {b}",
                        op_symbol(op)
                    ),
                    span,
                ));
            }
        };
        Ok(result)
    }

    fn lower_in_list(
        &self,
        op: ListOp,
        value: &ast::Expr,
        list: &[ast::Expr],
        columns: &[KustoColumn],
        env: &Env,
        span: Span,
    ) -> PlanResult<Typed> {
        let value = self.lower_expr(value, columns, env)?;
        // A single tabular element is a sub-query: `x in (T | project y)`.
        if let [single] = list {
            let tab = match &single.kind {
                ExprKind::Tabular(tabular) => Some(self.plan_tabular(tabular, env, None)?),
                ExprKind::Name(ident) if !columns.iter().any(|c| c.name == ident.name) => {
                    match env.get(&ident.name) {
                        Some(Binding::Tabular(tab)) => Some(tab.clone()),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(tab) = tab {
                if matches!(op, ListOp::In | ListOp::NotIn) {
                    let first = tab
                        .columns
                        .first()
                        .cloned()
                        .ok_or_else(|| error("the sub-query has no columns", single.span))?;
                    let plan = datafusion::logical_expr::LogicalPlanBuilder::from(tab.plan)
                        .project(vec![col(&first.name)])
                        .and_then(|b| b.build())
                        .map_err(|e| super::df_error(e, single.span))?;
                    let subquery = Arc::new(plan);
                    let expr = if op == ListOp::In {
                        datafusion::logical_expr::expr_fn::in_subquery(value.expr, subquery)
                    } else {
                        datafusion::logical_expr::expr_fn::not_in_subquery(value.expr, subquery)
                    };
                    return Ok(Typed {
                        expr,
                        ty: KustoType::Bool,
                    });
                }
                // The other list operators test against the sub-query's first column as a
                // set: `x has_any (T)` is `x has_any (toscalar(T | summarize make_set(c)))`.
                let first = tab
                    .columns
                    .first()
                    .cloned()
                    .ok_or_else(|| error("the sub-query has no columns", single.span))?;
                let make_set = crate::registry::lookup("make_set")
                    .ok_or_else(|| unsupported("make_set", single.span))?
                    .call(
                        vec![
                            convert_to(
                                Typed {
                                    expr: col(&first.name),
                                    ty: first.ty,
                                },
                                KustoType::String,
                            )
                            .expr,
                        ],
                        self.now_nanos,
                    )
                    .map_err(|e| error(e.to_string(), single.span))?;
                let plan = datafusion::logical_expr::LogicalPlanBuilder::from(tab.plan)
                    .aggregate(Vec::<Expr>::new(), vec![make_set.alias("values")])
                    .and_then(|b| b.build())
                    .map_err(|e| super::df_error(e, single.span))?;
                let values = datafusion::logical_expr::expr_fn::scalar_subquery(Arc::new(plan));
                let name = match op {
                    ListOp::HasAny => "has_any",
                    ListOp::HasAll => "has_all",
                    ListOp::InCi => "in~",
                    _ => "!in~",
                };
                let function = udf::lookup(name).ok_or_else(|| unsupported(name, single.span))?;
                return Ok(Typed {
                    expr: udf::call(function, vec![value.expr, values]),
                    ty: KustoType::Bool,
                });
            }
        }
        let mut items = Vec::new();
        for element in list {
            let typed = self.lower_expr(element, columns, env)?;
            // A dynamic array constant contributes its elements.
            if typed.ty == KustoType::Dynamic
                && let Some(ScalarValue::Utf8(Some(text))) = constant_value(&typed.expr)
                && let Ok(serde_json::Value::Array(values)) =
                    serde_json::from_str::<serde_json::Value>(&text)
            {
                for v in values {
                    items.push(json_constant(&v));
                }
                continue;
            }
            items.push(typed);
        }
        match op {
            ListOp::In | ListOp::NotIn => {
                let negated = op == ListOp::NotIn;
                let items = items
                    .into_iter()
                    .map(|t| align_to(t, value.ty).expr)
                    .collect();
                let listed =
                    Expr::InList(InList::new(Box::new(value.expr.clone()), items, negated));
                // As with `==`/`!=`: a null value is not in any list (`x !in (1, 2)` is true).
                let expr = if value.ty == KustoType::String {
                    listed
                } else {
                    when(value.expr.is_null(), lit(negated))
                        .otherwise(listed)
                        .map_err(|e| super::df_error(e, span))?
                };
                Ok(Typed {
                    expr,
                    ty: KustoType::Bool,
                })
            }
            ListOp::InCi | ListOp::NotInCi => {
                let mut result: Option<Expr> = None;
                for item in items {
                    let test = self
                        .lower_binary(BinaryOp::EqCi, value.clone(), item, span)?
                        .expr;
                    result = Some(match result {
                        None => test,
                        Some(acc) => acc.or(test),
                    });
                }
                let any = result.unwrap_or_else(|| lit(false));
                let expr = if op == ListOp::NotInCi {
                    Expr::Not(Box::new(any))
                } else {
                    any
                };
                Ok(Typed {
                    expr,
                    ty: KustoType::Bool,
                })
            }
            ListOp::HasAny | ListOp::HasAll => {
                let mut result: Option<Expr> = None;
                for item in items {
                    let test = self
                        .lower_binary(BinaryOp::Has, value.clone(), item, span)?
                        .expr;
                    result = Some(match result {
                        None => test,
                        Some(acc) if op == ListOp::HasAny => acc.or(test),
                        Some(acc) => acc.and(test),
                    });
                }
                Ok(Typed {
                    expr: result.unwrap_or_else(|| lit(op == ListOp::HasAll)),
                    ty: KustoType::Bool,
                })
            }
        }
    }

    fn lower_call(
        &self,
        call: &ast::FunctionCall,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        let name = call.name.name.as_str();
        if let Some(Binding::Function(def, captured)) = env.get(name) {
            return self
                .inline_scalar_function(name, def, captured, &call.args, columns, env, call.span);
        }
        // `hll_merge(h1, h2, ...)` is the scalar merge; with one argument it is the aggregate.
        if is_aggregate(name) && !(name == "hll_merge" && call.args.len() > 1) {
            return Err(error(
                format!("aggregation function '{name}' is only allowed in summarize"),
                call.name.span,
            ));
        }
        let arity = |n: usize| -> PlanResult<()> {
            if call.args.len() == n {
                Ok(())
            } else {
                Err(error(
                    format!(
                        "{name}() expects {n} argument{}, got {}",
                        if n == 1 { "" } else { "s" },
                        call.args.len()
                    ),
                    call.span,
                ))
            }
        };
        // `extract(re, n, s, typeof(long))`: the text result converted to the requested type.
        if matches!(
            name,
            "extract" | "extractjson" | "extract_json" | "percentile_tdigest"
        ) && let Some((last, rest)) = call.args.split_last()
            && let ExprKind::TypeOf(ast::TypeOfArg::Scalar(ty)) = &last.value.kind
        {
            let mut text_call = call.clone();
            text_call.args = rest.to_vec();
            let text = self.lower_call(&text_call, columns, env)?;
            return Ok(convert_to(text, literal::kusto_type_of_scalar(ty.value)));
        }
        match name {
            "toscalar" => {
                arity(1)?;
                let arg = &call.args[0].value;
                let tab = match &arg.kind {
                    ExprKind::Tabular(tabular) => self.plan_tabular(tabular, env, None)?,
                    ExprKind::Name(ident) => {
                        self.resolve_table_name(&ident.name, ident.span, env)?
                    }
                    ExprKind::Call(inner) => {
                        let source = ast::Source {
                            kind: ast::SourceKind::Call(inner.clone()),
                            span: arg.span,
                        };
                        let tabular = ast::TabularExpr {
                            source: Some(Box::new(source)),
                            operators: Vec::new(),
                            span: arg.span,
                        };
                        self.plan_tabular(&tabular, env, None)?
                    }
                    _ => return Err(error("toscalar() expects a tabular expression", arg.span)),
                };
                return self.scalar_subquery(tab, call.span);
            }
            "now" => {
                let now = self.now_literal();
                return match call.args.as_slice() {
                    [] => Ok(now),
                    [offset] => {
                        let offset = self.lower_expr(&offset.value, columns, env)?;
                        self.lower_binary(BinaryOp::Add, now, offset, call.span)
                    }
                    _ => Err(error("now() expects 0 or 1 argument", call.span)),
                };
            }
            "ago" => {
                arity(1)?;
                let span_value = self.lower_expr(&call.args[0].value, columns, env)?;
                if span_value.ty != KustoType::TimeSpan {
                    return Err(error(
                        format!("ago() expects a timespan, got {}", span_value.ty),
                        call.args[0].span,
                    ));
                }
                // A constant folds to a datetime literal, which lake partition pruning needs.
                if let Some(ScalarValue::DurationNanosecond(Some(nanos))) =
                    constant_value(&span_value.expr)
                    && let Some(at) = self.now_nanos.checked_sub(nanos)
                {
                    return Ok(typed_lit(datetime_value(Some(at)), KustoType::DateTime));
                }
                return self.lower_binary(BinaryOp::Sub, self.now_literal(), span_value, call.span);
            }
            "not" => {
                arity(1)?;
                let inner = convert_to(
                    self.lower_expr(&call.args[0].value, columns, env)?,
                    KustoType::Bool,
                );
                return Ok(Typed {
                    expr: Expr::Not(Box::new(inner.expr)),
                    ty: KustoType::Bool,
                });
            }
            "pack_all" | "bag_pack_columns" | "column_names_of" => {
                return self.lower_column_function(name, call, columns, env);
            }
            "row_number" | "prev" | "next" | "row_cumsum" | "row_rank_dense" | "row_rank_min" => {
                return self.lower_window_call(name, call, columns, env);
            }
            "column_ifexists" | "columnifexists" => {
                arity(2)?;
                let name_arg = self.lower_expr(&call.args[0].value, columns, env)?;
                let Some(ScalarValue::Utf8(Some(column))) = constant_value(&name_arg.expr) else {
                    return Err(error(
                        format!("{name}(): the column name must be a constant string"),
                        call.args[0].span,
                    ));
                };
                if let Some(found) = columns.iter().find(|c| c.name == column) {
                    return Ok(Typed {
                        expr: col(&found.name),
                        ty: found.ty,
                    });
                }
                return self.lower_expr(&call.args[1].value, columns, env);
            }
            // goshawk's lake records no ingestion time, which Kusto answers with null (as for a
            // table without the IngestionTime policy).
            "ingestion_time" => {
                arity(0)?;
                return Ok(literal::null_of(KustoType::DateTime));
            }
            "isnull" | "isnotnull" | "notnull" => {
                arity(1)?;
                let inner = self.lower_expr(&call.args[0].value, columns, env)?;
                let expr = if name == "isnull" {
                    Expr::IsNull(Box::new(inner.expr))
                } else {
                    Expr::IsNotNull(Box::new(inner.expr))
                };
                return Ok(Typed {
                    expr,
                    ty: KustoType::Bool,
                });
            }
            "iff" | "iif" if udf::lookup(name).is_none() => {
                arity(3)?;
                let condition = convert_to(
                    self.lower_expr(&call.args[0].value, columns, env)?,
                    KustoType::Bool,
                );
                let then = self.lower_expr(&call.args[1].value, columns, env)?;
                let otherwise = self.lower_expr(&call.args[2].value, columns, env)?;
                let ty = crate::scalar::common_type(&[then.ty, otherwise.ty]);
                let then = align_to(then, ty);
                let otherwise = align_to(otherwise, ty);
                let expr = when(condition.expr, then.expr)
                    .otherwise(otherwise.expr)
                    .map_err(|e| super::df_error(e, call.span))?;
                return Ok(Typed { expr, ty });
            }
            _ => {}
        }
        // String operators are UDFs named after the operator, but Kusto has no such functions.
        let is_operator = [BinaryOp::Has, BinaryOp::HasPrefix, BinaryOp::EqCi]
            .iter()
            .chain(BinaryOp::WORDS.iter().flat_map(|(_, op, not)| [op, not]))
            .filter_map(|op| string_operator(*op))
            .any(|operator| operator == name || operator.trim_start_matches('!') == name);
        let function = if is_operator { None } else { udf::lookup(name) };
        let Some(function) = function else {
            let mut candidates = udf::function_names();
            candidates.extend(env.names().cloned());
            return Err(unknown("function", name, call.name.span, candidates.iter()));
        };
        let mut args = Vec::with_capacity(call.args.len());
        for argument in &call.args {
            if argument.name.is_some() {
                return Err(unsupported("named arguments", argument.span));
            }
            args.push(self.lower_expr(&argument.value, columns, env)?);
        }
        let types: Vec<KustoType> = args.iter().map(|a| a.ty).collect();
        check_call_semantics(name, call, &args)?;
        let ty = udf::return_type(&function, &types).map_err(|m| error(m, call.span))?;
        Ok(Typed {
            expr: udf::call(function, args.into_iter().map(|a| a.expr).collect()),
            ty,
        })
    }

    /// Kusto's functions over serialized rows, as DataFusion window functions over the input
    /// order; `Planner::with_windows` evaluates them below the projection that uses them.
    fn lower_window_call(
        &self,
        name: &str,
        call: &ast::FunctionCall,
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Typed> {
        use datafusion::functions_window::expr_fn::{lag, lead, row_number};
        let mut args = Vec::new();
        for argument in &call.args {
            args.push(self.lower_expr(&argument.value, columns, env)?);
        }
        let constant_long = |index: usize| -> PlanResult<Option<i64>> {
            match args.get(index) {
                None => Ok(None),
                Some(typed) => match constant_value(&typed.expr) {
                    Some(ScalarValue::Int64(Some(v))) => Ok(Some(v)),
                    Some(ScalarValue::Int32(Some(v))) => Ok(Some(i64::from(v))),
                    _ => Err(error(
                        format!(
                            "{name}(): argument {} must be a constant integer",
                            index + 1
                        ),
                        call.args[index].span,
                    )),
                },
            }
        };
        use datafusion::logical_expr::{
            ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits,
        };
        let running = || {
            WindowFrame::new_bounds(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                WindowFrameBound::CurrentRow,
            )
        };
        let running_sum = |value: Expr, partition: Vec<Expr>| -> PlanResult<Expr> {
            Expr::from(datafusion::logical_expr::expr::WindowFunction::new(
                datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(
                    datafusion::functions_aggregate::sum::sum_udaf(),
                ),
                vec![value],
            ))
            .partition_by(partition)
            .window_frame(running())
            .build()
            .map_err(|e| super::df_error(e, call.span))
        };
        // A restart condition numbers segments: the running count of rows where it holds;
        // the function then runs within each segment.
        let segments = |index: usize| -> PlanResult<Vec<Expr>> {
            let Some(condition) = args.get(index) else {
                return Ok(Vec::new());
            };
            let flag = when(
                convert_to(condition.clone(), KustoType::Bool).expr,
                lit(1_i64),
            )
            .otherwise(lit(0_i64))
            .map_err(|e| super::df_error(e, call.span))?;
            Ok(vec![running_sum(flag, Vec::new())?])
        };
        match name {
            "row_number" => {
                if args.len() > 2 {
                    return Err(error("row_number() expects 0 to 2 arguments", call.span));
                }
                let start = constant_long(0)?.unwrap_or(1);
                let partition = segments(1)?;
                let numbered = if partition.is_empty() {
                    row_number()
                } else {
                    row_number()
                        .partition_by(partition)
                        .build()
                        .map_err(|e| super::df_error(e, call.span))?
                };
                let expr = binary(numbered, DfOp::Plus, lit(start - 1));
                Ok(Typed {
                    expr,
                    ty: KustoType::Long,
                })
            }
            "row_rank_dense" | "row_rank_min" => {
                if args.len() != 1 {
                    return Err(unsupported(
                        &format!("{name}() with a restart condition"),
                        call.span,
                    ));
                }
                let value = args[0].expr.clone();
                // A new rank starts on the first row and wherever the value changes.
                let changed = when(binary(row_number(), DfOp::Eq, lit(1_u64)), lit(true))
                    .otherwise(binary(
                        value.clone(),
                        DfOp::IsDistinctFrom,
                        lag(value, Some(1), None),
                    ))
                    .map_err(|e| super::df_error(e, call.span))?;
                let expr = if name == "row_rank_dense" {
                    let flag = when(changed, lit(1_i64))
                        .otherwise(lit(0_i64))
                        .map_err(|e| super::df_error(e, call.span))?;
                    running_sum(flag, Vec::new())?
                } else {
                    // The row number where the current value's run began.
                    let start = when(changed, cast(row_number(), DataType::Int64))
                        .otherwise(lit(0_i64))
                        .map_err(|e| super::df_error(e, call.span))?;
                    Expr::from(datafusion::logical_expr::expr::WindowFunction::new(
                        datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(
                            datafusion::functions_aggregate::min_max::max_udaf(),
                        ),
                        vec![start],
                    ))
                    .window_frame(running())
                    .build()
                    .map_err(|e| super::df_error(e, call.span))?
                };
                Ok(Typed {
                    expr,
                    ty: KustoType::Long,
                })
            }
            "prev" | "next" => {
                if args.is_empty() || args.len() > 3 {
                    return Err(error(
                        format!("{name}() expects 1 to 3 arguments"),
                        call.span,
                    ));
                }
                let offset = constant_long(1)?.unwrap_or(1);
                let value = args[0].clone();
                let default = match args.get(2) {
                    None => None,
                    Some(typed) => {
                        let aligned = align_to(typed.clone(), value.ty);
                        Some(constant_value(&aligned.expr).ok_or_else(|| {
                            error(
                                format!("{name}(): the default must be a constant"),
                                call.args[2].span,
                            )
                        })?)
                    }
                };
                // Strings are never null: before the first row prev() of a string is "".
                let default = match default {
                    None if value.ty == KustoType::String => {
                        Some(ScalarValue::Utf8(Some(String::new())))
                    }
                    other => other,
                };
                let expr = if name == "prev" {
                    lag(value.expr, Some(offset), default)
                } else {
                    lead(value.expr, Some(offset), default)
                };
                Ok(Typed { expr, ty: value.ty })
            }
            _ => {
                if args.is_empty() || args.len() > 2 {
                    return Err(error("row_cumsum() expects 1 or 2 arguments", call.span));
                }
                let value = args[0].clone();
                if !is_numeric(value.ty) {
                    return Err(error(
                        format!(
                            "row_cumsum(): argument 1 has type {}, expected a number",
                            value.ty
                        ),
                        call.args[0].span,
                    ));
                }
                let ty = if value.ty == KustoType::Int {
                    KustoType::Long
                } else {
                    value.ty
                };
                let value = align_to(value, ty);
                let window = running_sum(value.expr, segments(1)?)?;
                Ok(Typed { expr: window, ty })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn inline_scalar_function(
        &self,
        name: &str,
        def: &ast::FunctionDef,
        captured: &Env,
        args: &[ast::Argument],
        columns: &[KustoColumn],
        caller_env: &Env,
        span: Span,
    ) -> PlanResult<Typed> {
        let mut scope =
            self.bind_arguments(name, def, captured, args, caller_env, columns, span, None)?;
        let Some((last, lets)) = def.body.statements.split_last() else {
            return Err(error(
                format!("function '{name}' has an empty body"),
                def.body.span,
            ));
        };
        for statement in lets {
            match &statement.kind {
                StatementKind::Let(let_statement) => self.plan_let(let_statement, &mut scope)?,
                _ => {
                    return Err(unsupported(
                        "this statement in a function body",
                        statement.span,
                    ));
                }
            }
        }
        match &last.kind {
            StatementKind::Scalar(body) => self.lower_expr(body, columns, &scope),
            StatementKind::Tabular(tabular) => {
                // A body like `{ x * 2 }` may parse as a tabular expression over a name.
                if tabular.operators.is_empty()
                    && let Some(source) = &tabular.source
                    && let ast::SourceKind::Name(ident) = &source.kind
                {
                    return self.lower_name(&ident.name, ident.span, columns, &scope);
                }
                Err(error(
                    format!("function '{name}' returns a table; it cannot be used as a value"),
                    span,
                ))
            }
            _ => Err(unsupported("this function body", last.span)),
        }
    }
}

fn op_symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        _ => "%",
    }
}

/// Checks the real engine makes on some calls before it runs anything.
fn check_call_semantics(name: &str, call: &ast::FunctionCall, args: &[Typed]) -> PlanResult<()> {
    // The result values of iff/case/coalesce must share one type (int and long mix; a
    // dynamic value or an untyped null adapts).
    let value_indexes: Vec<usize> = match name {
        "iff" | "iif" if args.len() == 3 => vec![1, 2],
        "case" if args.len() % 2 == 1 => (1..args.len())
            .step_by(2)
            .chain(std::iter::once(args.len() - 1))
            .collect(),
        "coalesce" => (0..args.len()).collect(),
        _ => Vec::new(),
    };
    let mut first: Option<(KustoType, usize)> = None;
    for index in value_indexes {
        let arg = &args[index];
        let untyped_null = constant_value(&arg.expr).is_some_and(|v| v.is_null())
            && matches!(
                call.args[index].value.kind,
                ExprKind::Name(_)
                    | ExprKind::Literal(ast::Literal {
                        kind: ast::LiteralKind::Dynamic(_),
                        ..
                    })
            );
        if arg.ty == KustoType::Dynamic || untyped_null {
            continue;
        }
        let class = if arg.ty == KustoType::Int {
            KustoType::Long
        } else {
            arg.ty
        };
        match first {
            None => first = Some((class, index)),
            Some((ty, _)) if ty == class => {}
            Some((_, at)) => {
                return Err(error(
                    format!(
                        "{name}(): argument {} has type {}, but argument {} has type {}; \
                         convert them to one type",
                        index + 1,
                        arg.ty,
                        at + 1,
                        args[at].ty
                    ),
                    call.args[index].span,
                ));
            }
        }
    }
    // extract_all() returns capture groups, so its regex must have at least one.
    if name == "extract_all"
        && let Some(ScalarValue::Utf8(Some(pattern))) =
            args.first().and_then(|a| constant_value(&a.expr))
        && let Ok(regex) = regex::Regex::new(&pattern)
        && regex.captures_len() < 2
    {
        return Err(error(
            "extract_all(): the regular expression needs at least one capture group",
            call.args[0].span,
        ));
    }
    Ok(())
}

fn comparable(a: KustoType, b: KustoType) -> bool {
    use KustoType as K;
    a == b
        || (is_numeric(a) && is_numeric(b))
        || matches!((a, b), (K::String, K::Guid) | (K::Guid, K::String))
}

/// Brings a dynamic operand to the other side's type, and numeric operands to one type.
fn align_for_comparison(left: Typed, right: Typed) -> (Typed, Typed) {
    use KustoType as K;
    match (left.ty, right.ty) {
        (K::Dynamic, other) if other != K::Dynamic => (convert_to(left, other), right),
        (other, K::Dynamic) if other != K::Dynamic => (left, convert_to(right, other)),
        (a, b) if a != b && is_numeric(a) && is_numeric(b) => {
            let ty = a.max(b);
            (align_to(left, ty), align_to(right, ty))
        }
        // Kusto compares a string with a number or a bool by converting the string (Sentinel's
        // `SigninLogs | where ResultType == 0` on a string column); text that does not convert
        // is null, so the comparison is false.
        (K::String, other) if is_numeric(other) || other == K::Bool => {
            (convert_to(left, other), right)
        }
        (other, K::String) if is_numeric(other) || other == K::Bool => {
            (left, convert_to(right, other))
        }
        // A bool is 0 or 1 when compared with a number.
        (K::Bool, other) if is_numeric(other) => (convert_to(left, other), right),
        (other, K::Bool) if is_numeric(other) => (left, convert_to(right, other)),
        _ => (left, right),
    }
}

/// Casts numeric values to a wider numeric type; converts dynamic values; leaves the rest.
pub(crate) fn align_to(typed: Typed, ty: KustoType) -> Typed {
    if typed.ty == ty {
        return typed;
    }
    if is_numeric(typed.ty) && is_numeric(ty) {
        return Typed {
            expr: cast(typed.expr, ty.arrow_type()),
            ty,
        };
    }
    if typed.ty == KustoType::Dynamic {
        return convert_to(typed, ty);
    }
    if let Expr::Literal(value, _) = &typed.expr
        && value.is_null()
    {
        return literal::null_of(ty);
    }
    typed
}

/// A JSON value from a dynamic constant, as a typed literal.
fn json_constant(value: &serde_json::Value) -> Typed {
    match value {
        serde_json::Value::Bool(b) => typed_lit(ScalarValue::Boolean(Some(*b)), KustoType::Bool),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => typed_lit(ScalarValue::Int64(Some(i)), KustoType::Long),
            None => typed_lit(ScalarValue::Float64(n.as_f64()), KustoType::Real),
        },
        serde_json::Value::String(s) => {
            typed_lit(ScalarValue::Utf8(Some(s.clone())), KustoType::String)
        }
        serde_json::Value::Null => literal::null_of(KustoType::Dynamic),
        other => typed_lit(
            ScalarValue::Utf8(Some(other.to_string())),
            KustoType::Dynamic,
        ),
    }
}
