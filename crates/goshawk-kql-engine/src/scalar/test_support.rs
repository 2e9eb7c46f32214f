//! Test helpers: evaluate Kusto functions through a real DataFusion plan.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::Schema;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use goshawk_types::KustoType;

use crate::format::display_at;

/// A call of the Kusto scalar `name` on `args`.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    match crate::registry::lookup(name) {
        Some(entry) => match entry.scalar_udf() {
            Some(udf) => udf.call(args),
            None => panic!("{name} is not a scalar function"),
        },
        None => panic!("unknown function {name}"),
    }
}

/// A string literal.
pub fn lit_str(value: &str) -> Expr {
    lit(value.to_string())
}

/// Evaluates `name(args)` over a one-row table and renders the result.
pub async fn eval(name: &str, args: Vec<Expr>) -> Vec<String> {
    eval_expr(call(name, args)).await
}

/// Evaluates `expr` over a one-row table and renders the result.
pub async fn eval_expr(expr: Expr) -> Vec<String> {
    let column: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![0]));
    eval_on(vec![("unused", KustoType::Long, column)], expr).await
}

/// Evaluates `expr` over a table of the given typed columns and renders each row as Kusto
/// prints it (`null` for nulls).
pub async fn eval_on(columns: Vec<(&str, KustoType, ArrayRef)>, expr: Expr) -> Vec<String> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, ty, _)| ty.field(*name))
            .collect::<Vec<_>>(),
    ));
    let arrays = columns.into_iter().map(|(_, _, a)| a).collect();
    let batch = RecordBatch::try_new(schema, arrays).unwrap_or_else(|e| panic!("batch: {e}"));
    let ctx = SessionContext::new();
    let frame = ctx
        .read_batch(batch)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let frame = frame
        .select(vec![expr.alias("r")])
        .unwrap_or_else(|e| panic!("plan: {e}"));
    let batches = frame.collect().await.unwrap_or_else(|e| panic!("run: {e}"));
    render(&batches)
}

/// Renders column 0 of `batches` row by row.
pub fn render(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let field = batch.schema().field(0).clone();
        let ty = KustoType::from_field(&field).unwrap_or(KustoType::String);
        let column = batch.column(0);
        for row in 0..batch.num_rows() {
            out.push(display_at(column.as_ref(), row, ty).unwrap_or_else(|| "null".to_string()));
        }
    }
    out
}

/// Evaluates `expr` over a one-row table; planning and execution errors come back as text.
pub async fn try_eval_expr(expr: Expr) -> Result<Vec<String>, String> {
    let schema = Arc::new(Schema::new(vec![KustoType::Long.field("unused")]));
    let column: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![0]));
    let batch = RecordBatch::try_new(schema, vec![column]).map_err(|e| e.to_string())?;
    let ctx = SessionContext::new();
    let frame = ctx.read_batch(batch).map_err(|e| e.to_string())?;
    let frame = frame
        .select(vec![expr.alias("r")])
        .map_err(|e| e.to_string())?;
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    Ok(render(&batches))
}

/// Evaluates `expr` over one Utf8View column `s` tagged with `kusto_type`, as Parquet scans
/// deliver strings.
pub async fn eval_on_view(values: Vec<&str>, kusto_type: KustoType, expr: Expr) -> Vec<String> {
    let field = kusto_type
        .field("s")
        .with_data_type(arrow::datatypes::DataType::Utf8View);
    let column: ArrayRef = Arc::new(arrow::array::StringViewArray::from(values));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![column])
        .unwrap_or_else(|e| panic!("batch: {e}"));
    let ctx = SessionContext::new();
    let frame = ctx
        .read_batch(batch)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let frame = frame
        .select(vec![expr.alias("r")])
        .unwrap_or_else(|e| panic!("plan: {e}"));
    render(&frame.collect().await.unwrap_or_else(|e| panic!("run: {e}")))
}
