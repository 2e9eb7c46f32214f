//! Times the hot Kusto aggregates in a `summarize ... by` over generated sign-in-like rows:
//! `count()`, `dcount(user)`, `make_set(app, 5)`, `min/max(time)`, `countif`.
//! Run: `cargo bench -p goshawk-kql-engine --bench aggregates`.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::datatypes::Schema;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::{SessionConfig, SessionContext};
use goshawk_kql_engine::aggregate::all_aggregates;
use goshawk_kql_engine::registry::resolve;
use goshawk_types::KustoType;

fn agg(name: &str, args: Vec<Expr>) -> Expr {
    match resolve(name).and_then(|e| e.call(args, 0)) {
        Ok(expr) => expr,
        Err(err) => panic!("{name}: {err}"),
    }
}

/// The same aggregate through DataFusion's adapter over the row accumulator.
fn row_agg(name: &str, args: Vec<Expr>) -> Expr {
    match all_aggregates()
        .into_iter()
        .find(|a| a.name_static() == name)
    {
        Some(aggregate) => aggregate
            .without_groups_accumulator()
            .into_udaf()
            .call(args),
        None => panic!("{name} is not a library aggregate"),
    }
}

fn batch(rows: usize, groups: usize, offset: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        KustoType::String.field("job"),
        KustoType::String.field("user"),
        KustoType::String.field("app"),
        KustoType::DateTime.field("time"),
        KustoType::Long.field("status"),
    ]));
    let ids: Vec<usize> = (offset..offset + rows).collect();
    let job: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter().map(|i| format!("job-{}", (i * 7919) % groups)),
    ));
    let user: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter()
            .map(|i| format!("user{}@contoso.com", (i * 31) % 5_000)),
    ));
    let app: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter().map(|i| format!("app-{}", i % 13)),
    ));
    let time: ArrayRef = Arc::new(
        TimestampNanosecondArray::from_iter_values(
            ids.iter()
                .map(|i| 1_700_000_000_000_000_000 + *i as i64 * 1_000_000_000),
        )
        .with_timezone("UTC"),
    );
    let status: ArrayRef = Arc::new(Int64Array::from_iter_values(
        ids.iter().map(|i| (i % 4) as i64),
    ));
    match RecordBatch::try_new(schema, vec![job, user, app, time, status]) {
        Ok(batch) => batch,
        Err(err) => panic!("{err}"),
    }
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(err) => panic!("{err}"),
    };
    let rows_per_batch = 8192;
    let batches = 122; // ~1M rows
    for groups in [100, 10_000] {
        let data: Vec<RecordBatch> = (0..batches)
            .map(|b| batch(rows_per_batch, groups, b * rows_per_batch))
            .collect();
        let schema = data[0].schema();
        let countif = || vec![col("status").eq(lit(0_i64))];
        let cases: Vec<(&str, Vec<Expr>)> = vec![
            ("count()", vec![agg("count", vec![])]),
            ("countif(status == 0)", vec![agg("countif", countif())]),
            (
                "countif [row accumulator]",
                vec![row_agg("countif", countif())],
            ),
            ("dcount(user)", vec![agg("dcount", vec![col("user")])]),
            (
                "dcount [row accumulator]",
                vec![row_agg("dcount", vec![col("user")])],
            ),
            (
                "make_set(app, 5)",
                vec![agg("make_set", vec![col("app"), lit(5_i64)])],
            ),
            (
                "make_set [row accumulator]",
                vec![row_agg("make_set", vec![col("app"), lit(5_i64)])],
            ),
            (
                "min(time), max(time)",
                vec![agg("min", vec![col("time")]), agg("max", vec![col("time")])],
            ),
            ("sum(status)", vec![agg("sum", vec![col("status")])]),
            (
                "sum [row accumulator]",
                vec![row_agg("sum", vec![col("status")])],
            ),
        ];
        for (label, aggregates) in cases {
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let ctx =
                    SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
                let table = match MemTable::try_new(Arc::clone(&schema), vec![data.clone()]) {
                    Ok(table) => table,
                    Err(err) => panic!("{err}"),
                };
                let start = Instant::now();
                let result = runtime.block_on(async {
                    let frame = ctx.read_table(Arc::new(table))?;
                    frame
                        .aggregate(vec![col("job")], aggregates.clone())?
                        .collect()
                        .await
                });
                if let Err(err) = result {
                    panic!("{label}: {err}");
                }
                best = best.min(start.elapsed().as_secs_f64());
            }
            let rows = (rows_per_batch * batches) as f64;
            println!(
                "{groups:>6} groups  {label:<24} {:>8.1} ms  {:>7.1} M rows/s",
                best * 1e3,
                rows / best / 1e6
            );
        }
    }
}
