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
        // refreshes the metadata of rewritten expressions. A node DataFusion cannot re-derive
        // keeps the schema it had.
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
    let arrow_type = value.data_type();
    let arrow_says = KustoType::from_arrow(&arrow_type);
    let literal = Expr::Literal(value, None);
    match ty {
        // DataFusion's constant folding keeps the metadata of the innermost literal: a
        // `timespan` folded through casts into a Float64 still says `timespan`. Such a stale
        // type is dropped; tagging the Float64 as a timespan would make `real * timespan`
        // a Duration * Float64 product, which DataFusion cannot type.
        Some(ty) if arrow_says != Some(ty) && ty.arrow_type() == arrow_type => {
            super::udf::tag(literal, ty)
        }
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

    /// Constant folding turns `cast(cast(1s as Int64) as Float64)` into a Float64 literal that
    /// still carries the `timespan` metadata; the rewrite must not tag it as a timespan, or the
    /// optimizer's next pass (on a cluster client, after this rewrite) cannot type the product.
    #[test]
    fn folded_literals_with_stale_types_stay_plain() {
        let catalog = MemoryCatalog::new();
        for query in [
            "print a = 2.5 | extend t = a * 1s",
            "print a = 2 | extend t = 1s * a * 1.5",
        ] {
            let planned = Planner::new(&catalog, 0).plan_text(query).unwrap();
            let context = crate::planner::session_context(Default::default(), None);
            let state = context.state();
            let optimized = state.optimize(&planned.plan).unwrap();
            let portable = without_literal_metadata(optimized).unwrap().data;
            let again = state
                .optimize(&portable)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            let t = again.schema().field_with_unqualified_name("t").unwrap();
            assert_eq!(t.data_type(), &KustoType::TimeSpan.arrow_type(), "{query}");
        }
    }
}
