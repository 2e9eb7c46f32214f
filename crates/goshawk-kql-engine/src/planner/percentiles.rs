//! `summarize percentiles(x, p1, p2, ...)` and `percentilesw(x, weight, p1, p2, ...)`: one
//! result column per percentile, `percentile_x_50`, `percentile_x_99_9` (or the names of
//! `(a, b) = percentiles(...)`), each a `percentile`/`percentilew` aggregate.

use datafusion::logical_expr::Expr;
use goshawk_kql_syntax::ast;
use goshawk_types::KustoType;

use super::{Env, PlanResult, Planner, error};
use crate::catalog::KustoColumn;

impl Planner<'_> {
    /// The (name, aggregate, type) of every percentile of `call`; `names` are the names the
    /// query gives the results, if any.
    pub(crate) fn lower_percentiles(
        &self,
        call: &ast::FunctionCall,
        names: &[ast::Ident],
        columns: &[KustoColumn],
        env: &Env,
    ) -> PlanResult<Vec<(String, Expr, KustoType)>> {
        let weighted = call.name.name == "percentilesw";
        let first_percent = if weighted { 2 } else { 1 };
        if call.args.len() <= first_percent {
            return Err(error(
                format!(
                    "{}() expects a value{} and at least one percentile",
                    call.name.name,
                    if weighted { ", a weight" } else { "" }
                ),
                call.span,
            ));
        }
        let percents = &call.args[first_percent..];
        if !names.is_empty() && names.len() != percents.len() {
            return Err(error(
                format!("{} names for {} percentiles", names.len(), percents.len()),
                call.span,
            ));
        }
        let value = &call.args[0].value;
        let column = super::ops::implicit_name(value);
        let function = if weighted {
            "percentilew"
        } else {
            "percentile"
        };
        let entry =
            crate::registry::resolve(function).map_err(|e| error(e.to_string(), call.span))?;
        let mut leading = vec![self.lower_expr(value, columns, env)?];
        if weighted {
            leading.push(self.lower_expr(&call.args[1].value, columns, env)?);
        }
        let mut outputs = Vec::with_capacity(percents.len());
        for (index, percent) in percents.iter().enumerate() {
            let written = match &percent.value.kind {
                ast::ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::Long(v) | ast::LiteralKind::Int(v),
                    ..
                }) => v.to_string(),
                ast::ExprKind::Literal(ast::Literal {
                    kind: ast::LiteralKind::Real(v),
                    ..
                }) => v.to_string(),
                _ => {
                    return Err(error(
                        "a percentile must be a number literal",
                        percent.value.span,
                    ));
                }
            };
            let lowered = self.lower_expr(&percent.value, columns, env)?;
            let mut args: Vec<Expr> = leading.iter().map(|t| t.expr.clone()).collect();
            args.push(lowered.expr);
            let mut types: Vec<KustoType> = leading.iter().map(|t| t.ty).collect();
            types.push(lowered.ty);
            let ty = entry
                .return_type(&types)
                .map_err(|e| error(e.to_string(), call.span))?;
            let expr = entry
                .call(args, self.now_nanos)
                .map_err(|e| error(e.to_string(), call.span))?;
            let name = match names.get(index) {
                Some(name) => name.name.clone(),
                None => crate::registry::default_column_name(
                    "percentiles",
                    column.as_deref(),
                    Some(&written),
                ),
            };
            outputs.push((name, expr, ty));
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::MemoryCatalog;
    use crate::session::QueryEngine;

    /// Column names, then the cells of the single result row.
    async fn one_row(query: &str) -> (Vec<String>, Vec<String>) {
        let catalog = MemoryCatalog::new();
        let engine = QueryEngine::new(&catalog, 0);
        let result = match engine.query(query).await {
            Ok(result) => result,
            Err(e) => panic!("{query}: {e}"),
        };
        let names = result.columns.iter().map(|c| c.name.clone()).collect();
        let batch = &result.batches[0];
        let cells = (0..batch.num_columns())
            .map(|c| {
                crate::format::display_at(batch.column(c).as_ref(), 0, result.columns[c].ty)
                    .unwrap_or_else(|| "null".into())
            })
            .collect();
        (names, cells)
    }

    #[tokio::test]
    async fn one_column_per_percentile() {
        let table = "datatable(n:long, b:long)[8, 10, 6, 20, 3, 30, 1, 40]";
        let (names, cells) = one_row(&format!(
            "{table} | summarize percentilesw(b, n, 50, 75, 99.9)"
        ))
        .await;
        assert_eq!(
            names,
            ["percentile_b_50", "percentile_b_75", "percentile_b_99_9"]
        );
        assert_eq!(cells, ["20", "20", "40"]);
        let (names, cells) = one_row(&format!(
            "{table} | summarize (lo, hi) = percentiles(b, 0, 100), count()"
        ))
        .await;
        assert_eq!(names, ["lo", "hi", "count_"]);
        assert_eq!(cells, ["10", "40", "4"]);
    }
}
