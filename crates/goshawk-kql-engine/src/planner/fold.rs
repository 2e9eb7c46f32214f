//! Plan-time constants: operator arguments that Kusto requires constant (`range` bounds,
//! `take` counts, `make-series` ranges) may be expressions such as `24 * 10 - 1`.

use datafusion::logical_expr::Expr;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::scalar::ScalarValue;

use super::literal::constant_value;

/// The value of a constant expression: a literal, or an expression DataFusion's simplifier
/// folds to one (arithmetic and immutable functions of literals).
pub(crate) fn fold_constant(expr: &Expr) -> Option<ScalarValue> {
    if let Some(value) = constant_value(expr) {
        return Some(value);
    }
    let simplified = ExprSimplifier::new(SimplifyContext::default())
        .simplify(expr.clone())
        .ok()?;
    constant_value(&simplified)
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use super::*;

    #[test]
    fn arithmetic_of_literals_folds() {
        let expr = lit(24_i64) * lit(10_i64) - lit(1_i64);
        assert_eq!(fold_constant(&expr), Some(ScalarValue::Int64(Some(239))));
        let column = datafusion::logical_expr::col("x") + lit(1_i64);
        assert_eq!(fold_constant(&column), None);
    }
}
