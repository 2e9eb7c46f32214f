//! `mv-apply`: expands arrays of each row into a sub-table, runs a subquery on every row's
//! sub-table, and pairs the subquery's rows with the row's other columns.
//!
//! Lowered without a per-row loop: each input row gets a number, the arrays are expanded with
//! `mv-expand`, the subquery's operators run on all sub-tables at once with that number as an
//! extra partition key (`take`/`top` become a numbered window per row, `summarize` groups by
//! it), and the result is joined back to the input rows on the number.

use datafusion::common::JoinType;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{ExprFunctionExt, LogicalPlanBuilder, lit};
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{self, ExprKind, NamedExpr, OperatorKind, OperatorParam};
use goshawk_types::KustoType;

use super::ops::constant_count;
use super::{Env, PlanResult, Planner, Tab, col, df_error, error, named, unsupported};
use crate::catalog::KustoColumn;

/// The input row number carried through the subquery.
const ROW: &str = "__mv_apply_row";
/// The same number on the subquery's side of the join.
const SUB_ROW: &str = "__mv_apply_sub_row";
/// The position of an expanded item, for `take` in input order.
const ITEM: &str = "__mv_apply_item";
/// A row's rank within its sub-table, for `take` and `top`.
const RANK: &str = "__mv_apply_rank";

fn row_ident(span: Span) -> NamedExpr {
    NamedExpr {
        names: Vec::new(),
        expr: ast::Expr {
            kind: ExprKind::Name(ast::Ident {
                name: ROW.to_string(),
                span,
            }),
            span,
        },
        span,
    }
}

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_mv_apply(
        &self,
        tab: Tab,
        params: &[OperatorParam],
        items: &[ast::MvExpandItem],
        limit: Option<&ast::Expr>,
        subquery: &ast::TabularExpr,
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        if subquery.source.is_some() {
            return Err(unsupported(
                "an mv-apply subquery with its own source",
                subquery.span,
            ));
        }
        // 1. Number the input rows.
        let numbered_plan = LogicalPlanBuilder::from(tab.plan.clone())
            .window(vec![named(row_number(), ROW, KustoType::Long)])
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let mut numbered_columns = tab.columns.clone();
        numbered_columns.push(KustoColumn::new(ROW, KustoType::Long));
        let numbered = Tab {
            plan: numbered_plan,
            columns: numbered_columns,
            render: tab.render.clone(),
        };
        // The window's UInt64 number becomes a Kusto long, like every other column.
        let items_for_cast: Vec<(datafusion::logical_expr::Expr, KustoColumn)> = numbered
            .columns
            .iter()
            .map(|c| {
                let expr = if c.name == ROW {
                    datafusion::logical_expr::cast(col(ROW), arrow::datatypes::DataType::Int64)
                } else {
                    col(&c.name)
                };
                (expr, c.clone())
            })
            .collect();
        let numbered = self.project_tab(numbered, items_for_cast, span)?;

        // 2. Expand the arrays, keep the expanded columns and the row number.
        let expanded = self.plan_mv_expand(numbered.clone(), params, items, limit, env, span)?;
        let mut targets: Vec<String> = Vec::new();
        for item in items {
            let name = match item.column.names.as_slice() {
                [one] => one.name.clone(),
                _ => super::ops::implicit_name(&item.column.expr).ok_or_else(|| {
                    error(
                        "mv-apply needs a column name or 'Name = expression'",
                        item.column.expr.span,
                    )
                })?,
            };
            targets.push(name);
        }
        let mut sub_items: Vec<(datafusion::logical_expr::Expr, KustoColumn)> = Vec::new();
        for target in &targets {
            if let Some(column) = expanded.column(target) {
                sub_items.push((col(target), column.clone()));
            }
        }
        sub_items.push((col(ROW), KustoColumn::new(ROW, KustoType::Long)));
        let sub = self.project_tab(expanded, sub_items, span)?;
        let item_plan = LogicalPlanBuilder::from(sub.plan.clone())
            .window(vec![row_number().alias(ITEM)])
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let mut sub = Tab {
            plan: item_plan,
            columns: sub.columns.clone(),
            render: sub.render.clone(),
        };
        sub.columns.push(KustoColumn::new(ITEM, KustoType::Long));

        // 3. The subquery, per sub-table.
        for operator in &subquery.operators {
            sub = self.plan_per_row(sub, operator, env)?;
            if sub.column(ROW).is_none() {
                return Err(unsupported(
                    &format!("the '{}' operator inside mv-apply", operator.kind.name()),
                    operator.span,
                ));
            }
        }

        // 4. Pair each subquery row with its input row.
        let outputs: Vec<KustoColumn> = sub
            .columns
            .iter()
            .filter(|c| c.name != ROW && c.name != ITEM)
            .cloned()
            .collect();
        let kept: Vec<KustoColumn> = numbered
            .columns
            .iter()
            .filter(|c| !outputs.iter().any(|o| o.name == c.name))
            .cloned()
            .collect();
        let left_items = kept.iter().map(|c| (col(&c.name), c.clone())).collect();
        let left = self.project_tab(numbered, left_items, span)?;
        let mut right_items: Vec<(datafusion::logical_expr::Expr, KustoColumn)> =
            outputs.iter().map(|c| (col(&c.name), c.clone())).collect();
        right_items.push((col(ROW), KustoColumn::new(SUB_ROW, KustoType::Long)));
        let right = self.project_tab(sub, right_items, span)?;
        let joined = LogicalPlanBuilder::from(left.plan)
            .join(
                right.plan,
                JoinType::Inner,
                (vec![ROW], vec![SUB_ROW]),
                None,
            )
            .and_then(|b| b.sort(vec![col(ROW).sort(true, false)]))
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let mut all = left.columns.clone();
        all.extend(right.columns.iter().cloned());
        let joined = Tab {
            plan: joined,
            columns: all,
            render: tab.render,
        };
        let mut final_items: Vec<(datafusion::logical_expr::Expr, KustoColumn)> = kept
            .iter()
            .filter(|c| c.name != ROW)
            .map(|c| (col(&c.name), c.clone()))
            .collect();
        final_items.extend(outputs.iter().map(|c| (col(&c.name), c.clone())));
        self.project_tab(joined, final_items, span)
    }

    /// One subquery operator over all sub-tables at once, each sub-table being the rows with
    /// the same [`ROW`].
    fn plan_per_row(&self, sub: Tab, operator: &ast::Operator, env: &Env) -> PlanResult<Tab> {
        let span = operator.span;
        match &operator.kind {
            OperatorKind::Take { params, count } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                self.first_per_row(sub, Vec::new(), n, span)
            }
            OperatorKind::Top { params, count, by } => {
                self.reject_params(params)?;
                let n = constant_count(self, count, env)?;
                let keys = self.sort_exprs(&sub, by, env)?;
                let top = self.first_per_row(sub, keys.clone(), n, span)?;
                let mut order = vec![col(ROW).sort(true, false)];
                order.extend(keys);
                let plan = LogicalPlanBuilder::from(top.plan)
                    .sort(order)
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(e, span))?;
                Ok(Tab { plan, ..top })
            }
            OperatorKind::Summarize {
                params,
                aggregates,
                by,
            } => {
                self.reject_params(params)?;
                let mut by = by.clone();
                by.push(row_ident(span));
                self.plan_summarize(sub, aggregates, &by, env, span)
            }
            OperatorKind::Project { columns } => {
                let mut columns = columns.clone();
                columns.push(row_ident(span));
                self.plan_project(sub, &columns, env, span)
            }
            OperatorKind::Sort { params, keys } => {
                self.reject_params(params)?;
                let mut order = vec![col(ROW).sort(true, false)];
                order.extend(self.sort_exprs(&sub, keys, env)?);
                let plan = LogicalPlanBuilder::from(sub.plan)
                    .sort(order)
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(e, span))?;
                Ok(Tab { plan, ..sub })
            }
            OperatorKind::Where { .. }
            | OperatorKind::Extend { .. }
            | OperatorKind::ProjectAway { .. }
            | OperatorKind::ProjectRename { .. }
            | OperatorKind::Parse(_)
            | OperatorKind::ParseWhere(_)
            | OperatorKind::MvExpand { .. } => self.plan_operator(sub, operator, env),
            other => Err(unsupported(
                &format!("the '{}' operator inside mv-apply", other.name()),
                span,
            )),
        }
    }

    /// The first `n` rows of each sub-table, in `keys` order (input order when empty).
    fn first_per_row(
        &self,
        sub: Tab,
        keys: Vec<datafusion::logical_expr::SortExpr>,
        n: usize,
        span: Span,
    ) -> PlanResult<Tab> {
        let keys = if keys.is_empty() && sub.column(ITEM).is_some() {
            vec![col(ITEM).sort(true, false)]
        } else if keys.is_empty() {
            vec![col(ROW).sort(true, false)]
        } else {
            keys
        };
        let rank = row_number()
            .partition_by(vec![col(ROW)])
            .order_by(keys)
            .build()
            .map_err(|e| df_error(e, span))?;
        let plan = LogicalPlanBuilder::from(sub.plan)
            .window(vec![rank.alias(RANK)])
            .and_then(|b| b.filter(col(RANK).lt_eq(lit(n as u64))))
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, span))?;
        let ranked = Tab {
            plan,
            columns: sub.columns.clone(),
            render: sub.render,
        };
        let items = sub
            .columns
            .iter()
            .map(|c| (col(&c.name), c.clone()))
            .collect();
        self.project_tab(ranked, items, span)
    }
}
