//! Plans that survive serialization. DataFusion's plan encoding (datafusion-proto) drops the
//! field metadata of literals, which goshawk uses to carry Kusto types and which shows in the
//! names of the columns computed from them (`make_set(x, Int64(5) FieldMetadata {..})`): a
//! plan decoded in another process would then miss those columns or lose a literal's type.

use datafusion::common::Result as DFResult;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::scalar::ScalarValue;
use goshawk_types::{KUSTO_TYPE_METADATA_KEY, KustoType};

/// Rewrites every expression of every node (subqueries included) bottom-up with the rewrite
/// `for_node` makes for that node, keeping each expression's name (an alias restores it), so
/// the plan's columns and the references to them stay the same.
pub fn rewrite_expressions<R>(
    plan: LogicalPlan,
    mut for_node: impl FnMut(&LogicalPlan) -> DFResult<R>,
) -> DFResult<Transformed<LogicalPlan>>
where
    R: FnMut(Expr) -> DFResult<Transformed<Expr>>,
{
    plan.transform_up_with_subqueries(|node| {
        let mut rewrite = for_node(&node)?;
        let preserver = NamePreserver::new(&node);
        let rewritten = node.map_expressions(|expr| {
            let saved = preserver.save(&expr);
            let rewritten = expr.transform_up(&mut rewrite)?;
            Ok(rewritten.update_data(|expr| saved.restore(expr)))
        })?;
        if !rewritten.transformed {
            return Ok(rewritten);
        }
        // Names and types do not change, so the node's schema stays right; re-deriving it
        // refreshes the metadata of rewritten expressions, but DataFusion cannot re-derive
        // some optimized nodes (a `timespan * real` product), which then keep their schema.
        let node = rewritten.data;
        Ok(Transformed::yes(
            node.clone().recompute_schema().unwrap_or(node),
        ))
    })
}

/// Rewrites every literal to one without field metadata: plain when its Arrow type already
/// says its Kusto type (a `long` is an Int64), else wrapped in the identity function
/// `kusto_type` that carries the type (a `dynamic` literal is text). Names do not change.
pub fn without_literal_metadata(plan: LogicalPlan) -> DFResult<Transformed<LogicalPlan>> {
    rewrite_expressions(plan, |_| {
        Ok(|expr| match expr {
            Expr::Literal(value, Some(metadata)) => {
                let ty = metadata
                    .inner()
                    .get(KUSTO_TYPE_METADATA_KEY)
                    .and_then(|name| KustoType::ALL.into_iter().find(|t| t.name() == name));
                Ok(Transformed::yes(plain_literal(value, ty)))
            }
            other => Ok(Transformed::no(other)),
        })
    })
}

fn plain_literal(value: ScalarValue, ty: Option<KustoType>) -> Expr {
    let arrow_says = KustoType::from_arrow(&value.data_type());
    let literal = Expr::Literal(value, None);
    match ty {
        Some(ty) if arrow_says != Some(ty) => super::udf::tag(literal, ty),
        _ => literal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MemoryCatalog;
    use crate::planner::Planner;

    #[test]
    fn literals_lose_their_metadata_and_columns_keep_their_names() {
        let mut catalog = MemoryCatalog::new();
        let schema =
            goshawk_types::arrow_schema([("A", KustoType::String), ("N", KustoType::Long)]);
        catalog.add_batches("T", schema, Vec::new()).unwrap();
        let planned = Planner::new(&catalog, 0)
            .plan_text(
                "T | summarize S = make_set(A, 5), D = countif(A in (dynamic(['x']))) by B = N + 1",
            )
            .unwrap();
        let before = planned.plan.schema().clone();
        let after = without_literal_metadata(planned.plan).unwrap();
        assert!(after.transformed);
        let mut literals_with_metadata = 0;
        after
            .data
            .apply_with_subqueries(|node| {
                node.apply_expressions(|expr| {
                    expr.apply(|e| {
                        if matches!(e, Expr::Literal(_, Some(_))) {
                            literals_with_metadata += 1;
                        }
                        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                    })
                })
            })
            .unwrap();
        assert_eq!(literals_with_metadata, 0);
        let names = |schema: &datafusion::common::DFSchema| -> Vec<String> {
            schema.fields().iter().map(|f| f.name().clone()).collect()
        };
        assert_eq!(names(&before), names(after.data.schema()));
    }
}
