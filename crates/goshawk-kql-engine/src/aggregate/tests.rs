//! Aggregate semantics through real DataFusion plans.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::Schema;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::SessionContext;
use goshawk_types::KustoType;

use crate::format::display_at;
use crate::registry::resolve;

fn agg(name: &str, args: Vec<Expr>) -> Expr {
    match resolve(name).and_then(|e| e.call(args, 0)) {
        Ok(expr) => expr,
        Err(err) => panic!("{name}: {err}"),
    }
}

/// Runs `summarize aggs by keys` and renders each output row as `a|b|c`, sorted.
async fn summarize(
    columns: Vec<(&str, KustoType, ArrayRef)>,
    keys: Vec<Expr>,
    aggs: Vec<Expr>,
) -> Vec<String> {
    match try_summarize(columns, keys, aggs).await {
        Ok(rows) => rows,
        Err(err) => panic!("{err}"),
    }
}

async fn try_summarize(
    columns: Vec<(&str, KustoType, ArrayRef)>,
    keys: Vec<Expr>,
    aggs: Vec<Expr>,
) -> Result<Vec<String>, String> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t, _)| t.field(*n))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema, columns.into_iter().map(|(_, _, a)| a).collect())
        .map_err(|e| e.to_string())?;
    // Several partitions, so partial states are merged as in a real query.
    let ctx = SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_target_partitions(3),
    );
    let halves = [
        batch.slice(0, batch.num_rows() / 2),
        batch.slice(
            batch.num_rows() / 2,
            batch.num_rows() - batch.num_rows() / 2,
        ),
    ];
    let table = datafusion::datasource::MemTable::try_new(
        batch.schema(),
        vec![vec![halves[0].clone()], vec![halves[1].clone()]],
    )
    .map_err(|e| e.to_string())?;
    let frame = ctx.read_table(Arc::new(table)).map_err(|e| e.to_string())?;
    let frame = frame.aggregate(keys, aggs).map_err(|e| e.to_string())?;
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for batch in &batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = (0..batch.num_columns())
                .map(|c| {
                    let ty = KustoType::from_field(schema.field(c)).unwrap_or(KustoType::Dynamic);
                    display_at(batch.column(c).as_ref(), row, ty).unwrap_or_else(|| "null".into())
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    Ok(rows)
}

/// The elements of a JSON array as sorted JSON texts.
fn sorted_elements(text: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let mut items: Vec<String> = value
        .as_array()
        .map(|a| a.iter().map(|v| v.to_string()).collect())
        .unwrap_or_default();
    items.sort();
    items
}

fn longs(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

fn strings(values: Vec<&str>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

#[tokio::test]
async fn make_set_caps_size_keeps_empty_strings_and_skips_nulls() {
    let values: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
    let mut column: Vec<Option<&str>> = values.iter().map(|s| Some(s.as_str())).collect();
    column.extend([Some(""), None]);
    let s: ArrayRef = Arc::new(StringArray::from(column));
    let rows = summarize(
        vec![("s", KustoType::String, Arc::clone(&s))],
        vec![],
        vec![
            agg("make_set", vec![col("s"), lit(5_i64)]).alias("capped"),
            agg("make_set", vec![col("s")]).alias("all"),
        ],
    )
    .await;
    let cells: Vec<&str> = rows[0].split('|').collect();
    let capped: serde_json::Value = serde_json::from_str(cells[0]).unwrap_or_default();
    assert_eq!(capped.as_array().map(Vec::len), Some(5), "{rows:?}");
    let all: serde_json::Value = serde_json::from_str(cells[1]).unwrap_or_default();
    let all = all.as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 18, "17 values and the empty string: {all:?}");
    assert!(all.contains(&serde_json::Value::String(String::new())));
}

#[tokio::test]
async fn make_list_keeps_duplicates_and_make_set_flattens_arrays() {
    let k = longs(vec![Some(1), Some(1), Some(2), Some(2)]);
    let v = longs(vec![Some(10), Some(20), Some(30), Some(30)]);
    let rows = summarize(
        vec![("k", KustoType::Long, k), ("v", KustoType::Long, v)],
        vec![col("k")],
        vec![
            agg("make_list", vec![col("v")]).alias("l"),
            agg("makeset", vec![col("v")]).alias("s"),
        ],
    )
    .await;
    assert_eq!(rows, ["1|[10,20]|[10,20]", "2|[30,30]|[30]"]);
    // The oracle: array inputs contribute their elements (one level deep), dynamic nulls stay
    // in lists, and sets drop them.
    let d: ArrayRef = Arc::new(StringArray::from(vec![
        Some("[1,[2]]"),
        Some("[2,3]"),
        Some(r#"{"a":1}"#),
        None,
        Some("4"),
    ]));
    let rows = summarize(
        vec![("d", KustoType::Dynamic, d)],
        vec![],
        vec![
            agg("make_set", vec![col("d")]),
            agg("make_list", vec![col("d")]),
            agg("make_list_with_nulls", vec![col("d")]),
        ],
    )
    .await;
    // Partial states merge in any order, so compare the elements as multisets.
    let cells: Vec<Vec<String>> = rows[0].split('|').map(sorted_elements).collect();
    let list = sorted_elements(r#"[1,[2],2,3,{"a":1},null,4]"#);
    assert_eq!(
        cells,
        [
            sorted_elements(r#"[1,[2],2,3,{"a":1},4]"#),
            list.clone(),
            list
        ]
    );
    let v = longs(vec![Some(1), None, Some(2)]);
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![
            agg("make_list", vec![col("v")]),
            agg("make_list_with_nulls", vec![col("v")]),
        ],
    )
    .await;
    let cells: Vec<Vec<String>> = rows[0].split('|').map(sorted_elements).collect();
    assert_eq!(
        cells,
        [sorted_elements("[1,2]"), sorted_elements("[1,null,2]")]
    );
}

#[tokio::test]
async fn make_set_if_make_list_if_and_make_bag() {
    let v = longs(vec![Some(1), Some(2), Some(3), Some(2)]);
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![
            agg("make_set_if", vec![col("v"), col("v").gt(lit(1_i64))]),
            agg(
                "make_list_if",
                vec![col("v"), col("v").gt(lit(1_i64)), lit(2_i64)],
            ),
        ],
    )
    .await;
    let cells: Vec<Vec<String>> = rows[0].split('|').map(sorted_elements).collect();
    assert_eq!(cells, [sorted_elements("[2,3]"), sorted_elements("[2,3]")]);
    let bags = strings(vec![r#"{"a":1}"#, r#"{"b":2,"a":9}"#, "[1]", r#"{"c":3}"#]);
    let rows = summarize(
        vec![("d", KustoType::Dynamic, bags)],
        vec![],
        vec![agg("make_bag", vec![col("d")])],
    )
    .await;
    let bag: serde_json::Value = serde_json::from_str(&rows[0]).unwrap_or_default();
    assert_eq!(bag.as_object().map(|m| m.len()), Some(3), "{bag}");
}

#[tokio::test]
async fn empty_and_all_null_groups_follow_kusto() {
    let v = longs(vec![None, None, None]);
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![
            agg("sum", vec![col("v")]),
            agg("avg", vec![col("v")]),
            agg("min", vec![col("v")]),
            agg("max", vec![col("v")]),
            agg("count", vec![]),
            agg("countif", vec![col("v").is_null()]),
            agg("make_list", vec![col("v")]),
            agg("make_set", vec![col("v")]),
            agg("dcount", vec![col("v")]),
        ],
    )
    .await;
    assert_eq!(rows, ["0|NaN|null|null|3|3|[]|[]|0"]);
}

#[tokio::test]
async fn sums_averages_and_conditional_forms() {
    let x = longs(vec![Some(1), Some(2), Some(3), Some(4), Some(5), None]);
    let r: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(1.5),
        Some(2.5),
        None,
        Some(3.5),
        Some(4.5),
        Some(0.0),
    ]));
    let rows = summarize(
        vec![("x", KustoType::Long, x), ("r", KustoType::Real, r)],
        vec![],
        vec![
            agg("sum", vec![col("x")]),
            agg("avg", vec![col("x")]),
            agg("sumif", vec![col("r"), col("x").gt(lit(2_i64))]),
            agg("avgif", vec![col("r"), col("x").lt(lit(3_i64))]),
            agg("count", vec![col("x")]),
        ],
    )
    .await;
    assert_eq!(rows, ["15|3|8|2|6"]);
}

#[tokio::test]
async fn dcount_is_exact_below_a_thousand_and_close_above() {
    let small: Vec<Option<i64>> = (0..2_000).map(|i| Some(i % 999)).collect();
    let rows = summarize(
        vec![("v", KustoType::Long, longs(small))],
        vec![],
        vec![agg("dcount", vec![col("v")])],
    )
    .await;
    assert_eq!(rows, ["999"]);
    let names: Vec<String> = (0..20_000)
        .map(|i| format!("user{i}@contoso.com"))
        .collect();
    let column: ArrayRef = Arc::new(StringArray::from(
        names.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let rows = summarize(
        vec![("s", KustoType::String, column)],
        vec![],
        vec![
            agg("dcount", vec![col("s")]),
            agg("dcount", vec![col("s"), lit(4_i64)]).alias("precise"),
        ],
    )
    .await;
    let estimates: Vec<f64> = rows[0].split('|').filter_map(|c| c.parse().ok()).collect();
    // Three standard errors at accuracy 1 (0.81%) and 4 (0.2%).
    assert!(
        (estimates[0] - 20_000.0).abs() / 20_000.0 < 0.025,
        "{estimates:?}"
    );
    assert!(
        (estimates[1] - 20_000.0).abs() / 20_000.0 < 0.006,
        "{estimates:?}"
    );
    let rows = summarize(
        vec![(
            "v",
            KustoType::Long,
            longs(vec![Some(1), Some(2), Some(1), Some(3)]),
        )],
        vec![],
        vec![agg("dcountif", vec![col("v"), col("v").lt(lit(3_i64))])],
    )
    .await;
    assert_eq!(rows, ["2"]);
    let err = try_summarize(
        vec![("v", KustoType::Long, longs(vec![Some(1), Some(2)]))],
        vec![],
        vec![agg("dcount", vec![col("v"), lit(7_i64)])],
    )
    .await;
    assert!(
        err.err()
            .unwrap_or_default()
            .contains("accuracy level must be 0 to 4, got 7")
    );
}

#[tokio::test]
async fn arg_max_returns_the_other_columns_of_the_extreme_row() {
    const SECOND: i64 = 1_000_000_000;
    let t: ArrayRef = Arc::new(
        TimestampNanosecondArray::from(vec![
            Some(3 * SECOND),
            Some(9 * SECOND),
            None,
            Some(SECOND),
            Some(9 * SECOND),
        ])
        .with_timezone("UTC"),
    );
    let who = strings(vec!["a", "b", "c", "d", "e"]);
    let g = strings(vec!["x", "x", "x", "y", "y"]);
    for (function, expected) in [
        (
            "arg_max",
            [
                "x|b|1970-01-01T00:00:09.0000000Z",
                "y|e|1970-01-01T00:00:09.0000000Z",
            ],
        ),
        (
            "arg_min",
            [
                "x|a|1970-01-01T00:00:03.0000000Z",
                "y|d|1970-01-01T00:00:01.0000000Z",
            ],
        ),
    ] {
        let wanted = vec![("who".to_string(), col("who")), ("t".to_string(), col("t"))];
        let (aggregate, readers) =
            match crate::registry::arg_extreme_call(function, col("t"), wanted, "best") {
                Ok(built) => built,
                Err(err) => panic!("{err}"),
            };
        let schema = Arc::new(Schema::new(vec![
            KustoType::DateTime.field("t"),
            KustoType::String.field("who"),
            KustoType::String.field("g"),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::clone(&t), Arc::clone(&who), Arc::clone(&g)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = SessionContext::new();
        let frame = ctx.read_batch(batch).unwrap_or_else(|e| panic!("{e}"));
        let frame = frame
            .aggregate(vec![col("g")], vec![aggregate.alias("best")])
            .unwrap_or_else(|e| panic!("{e}"));
        let mut projection = vec![col("g")];
        projection.extend(readers.into_iter().map(|(name, e)| e.alias(name)));
        let frame = frame.select(projection).unwrap_or_else(|e| panic!("{e}"));
        let frame = frame
            .sort(vec![col("g").sort(true, true)])
            .unwrap_or_else(|e| panic!("{e}"));
        let batches = frame.collect().await.unwrap_or_else(|e| panic!("{e}"));
        let mut rows = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let cells: Vec<String> = (0..b.num_columns())
                    .map(|c| {
                        display_at(b.column(c).as_ref(), row, KustoType::Long).unwrap_or_default()
                    })
                    .collect();
                rows.push(cells.join("|"));
            }
        }
        assert_eq!(rows, expected, "{function}");
    }
}

#[tokio::test]
async fn percentile_is_nearest_rank_like_the_oracle() {
    let v = longs(vec![Some(5), Some(10), Some(15), None, None]);
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![agg("percentiles", vec![col("v"), lit(50_i64)])],
    )
    .await;
    assert_eq!(rows, ["10"]);
    let score: ArrayRef = Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5, 4.5]));
    let cat = strings(vec!["p", "q", "p", "q"]);
    let rows = summarize(
        vec![
            ("score", KustoType::Real, Arc::clone(&score)),
            ("cat", KustoType::String, cat),
        ],
        vec![col("cat")],
        vec![agg("percentile", vec![col("score"), lit(50_i64)])],
    )
    .await;
    assert_eq!(rows, ["p|1.5", "q|2.5"]);
    let rows = summarize(
        vec![("score", KustoType::Real, score)],
        vec![],
        vec![
            agg("percentile", vec![col("score"), lit(50_i64)]),
            agg("percentile", vec![col("score"), lit(100_i64)]).alias("p100"),
        ],
    )
    .await;
    assert_eq!(rows, ["2.5|4.5"]);
}

#[tokio::test]
async fn take_any_returns_a_value_of_the_group() {
    let v = longs(vec![None, Some(7), Some(7)]);
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![agg("take_any", vec![col("v")])],
    )
    .await;
    assert_eq!(rows, ["7"]);
}

#[tokio::test]
async fn grouped_aggregates_use_groups_accumulators_and_merge_partitions() {
    // Group g has values 0..n with duplicates; the halves land in different partitions.
    let mut groups = Vec::new();
    let mut values = Vec::new();
    for (g, n) in [("a", 3_i64), ("b", 1_500), ("c", 1)] {
        for v in 0..n {
            for _ in 0..2 {
                groups.push(g);
                values.push(Some(v));
            }
        }
    }
    groups.push("c");
    values.push(None);
    let rows = summarize(
        vec![
            ("g", KustoType::String, strings(groups)),
            ("v", KustoType::Long, longs(values)),
        ],
        vec![col("g")],
        vec![
            agg("dcount", vec![col("v")]),
            agg("countif", vec![col("v").lt(lit(2_i64))]),
            agg(
                "make_set_if",
                vec![col("v"), col("v").gt(lit(0_i64)), lit(3_i64)],
            ),
            agg("make_list", vec![col("v"), lit(2_i64)]),
            agg("dcountif", vec![col("v"), col("v").lt(lit(100_i64))]),
        ],
    )
    .await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let a: Vec<&str> = rows[0].split('|').collect();
    assert_eq!(a[..3], ["a", "3", "4"]);
    let b: Vec<&str> = rows[1].split('|').collect();
    let estimate: f64 = b[1].parse().unwrap_or_default();
    assert!((estimate - 1_500.0).abs() / 1_500.0 < 0.025, "{b:?}");
    assert_eq!(b[2], "4");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(b[3])
            .ok()
            .and_then(|v| v.as_array().map(Vec::len)),
        Some(3)
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(b[4])
            .ok()
            .and_then(|v| v.as_array().map(Vec::len)),
        Some(2)
    );
    assert_eq!(b[5], "100");
    assert_eq!(rows[2], "c|1|2|[]|[0,0]|1");
}

#[tokio::test]
async fn grouped_sums_and_averages_keep_kusto_empty_rules() {
    let g = strings(vec!["a", "a", "b", "b", "c", "c"]);
    let v = longs(vec![Some(1), Some(2), Some(5), None, None, None]);
    let r: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(0.5),
        Some(1.0),
        None,
        Some(2.0),
        None,
        None,
    ]));
    let rows = summarize(
        vec![
            ("g", KustoType::String, g),
            ("v", KustoType::Long, v),
            ("r", KustoType::Real, r),
        ],
        vec![col("g")],
        vec![
            agg("sum", vec![col("v")]),
            agg("avg", vec![col("v")]),
            agg("sum", vec![col("r")]),
            agg("avgif", vec![col("r"), col("v").gt(lit(1_i64))]),
            agg("sumif", vec![col("v"), col("r").gt(lit(0.7))]),
        ],
    )
    .await;
    assert_eq!(
        rows,
        ["a|3|1.5|1.5|1|2", "b|5|5|2|NaN|0", "c|0|NaN|0|NaN|0"]
    );
}

#[tokio::test]
async fn minif_and_maxif_respect_the_predicate() {
    let v = longs((1..=10).map(Some).chain([None]).collect());
    let rows = summarize(
        vec![("v", KustoType::Long, v)],
        vec![],
        vec![
            agg("minif", vec![col("v"), col("v").gt(lit(5_i64))]),
            agg("maxif", vec![col("v"), col("v").gt(lit(5_i64))]),
            agg("maxif", vec![col("v"), col("v").gt(lit(50_i64))]).alias("none"),
        ],
    )
    .await;
    assert_eq!(rows, ["6|10|null"]);
}

#[tokio::test]
async fn conditional_spreads_and_covariances_match_the_docs() {
    let x = longs((1..=100).map(Some).collect());
    let even = datafusion::logical_expr::binary_expr(
        col("x") % lit(2_i64),
        datafusion::logical_expr::Operator::Eq,
        lit(0_i64),
    );
    let rows = summarize(
        vec![("x", KustoType::Long, x)],
        vec![],
        vec![
            agg("stdevif", vec![col("x"), even.clone()]).alias("s"),
            agg("varianceif", vec![col("x"), even.clone()]).alias("v"),
            agg("variancepif", vec![col("x"), even]).alias("vp"),
        ],
    )
    .await;
    assert_eq!(rows, ["29.154759474226502|850|833"]);
    let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0]));
    let ys: ArrayRef = Arc::new(Float64Array::from(vec![14.0, 10.0, 17.0, 20.0, 50.0]));
    let rows = summarize(
        vec![("x", KustoType::Real, xs), ("y", KustoType::Real, ys)],
        vec![],
        vec![
            agg("covariancep", vec![col("x"), col("y")]).alias("p"),
            agg("covariance", vec![col("x"), col("y")]).alias("s"),
        ],
    )
    .await;
    assert_eq!(rows, ["16.4|20.5"]);
}

#[tokio::test]
async fn binary_all_folds_every_value() {
    let and = longs(vec![
        Some(0xFFFF_FFFF),
        Some(0xFFFF_F00F),
        None,
        Some(0xCFFF_FFFD),
        Some(0xFAFE_FFFF),
    ]);
    let xor = longs(vec![
        Some(0x4440_4440),
        Some(0x1E1E_1E1E),
        Some(0x90AB_BA09),
        Some(0x000B_105A),
        None,
    ]);
    let rows = summarize(
        vec![("a", KustoType::Long, and), ("x", KustoType::Long, xor)],
        vec![],
        vec![
            agg("binary_all_and", vec![col("a")]).alias("and"),
            agg("binary_all_xor", vec![col("x")]).alias("xor"),
            agg("binary_all_or", vec![col("x")]).alias("or"),
        ],
    )
    .await;
    let expected = format!(
        "{}|{}|{}",
        0xCAFE_F00D_i64, 0xCAFE_F00D_i64, 0xDEFF_FE5F_i64
    );
    assert_eq!(rows, [expected]);
}

#[tokio::test]
async fn weighted_percentiles_use_cumulative_weight() {
    let counts = longs(vec![Some(8), Some(6), Some(3), Some(1)]);
    let buckets = longs(vec![Some(10), Some(20), Some(30), Some(40)]);
    let columns = || {
        vec![
            ("n", KustoType::Long, Arc::clone(&counts)),
            ("b", KustoType::Long, Arc::clone(&buckets)),
        ]
    };
    let rows = summarize(
        columns(),
        vec![],
        vec![
            agg(
                "percentilesw_array",
                vec![col("b"), col("n"), lit(50_i64), lit(75_i64), lit(99.9)],
            )
            .alias("w"),
            agg("percentilew", vec![col("b"), col("n"), lit(50_i64)]).alias("one"),
            agg(
                "percentiles_array",
                vec![col("b"), lit(50_i64), lit(100_i64)],
            )
            .alias("a"),
        ],
    )
    .await;
    assert_eq!(rows, ["[20,20,40]|20|[20,40]"]);
}

#[tokio::test]
async fn buildschema_describes_every_member() {
    let values = strings(vec![r#"{"x":1,"y":3.5}"#, r#"{"x":"a","z":[1,2]}"#]);
    let rows = summarize(
        vec![("d", KustoType::Dynamic, values)],
        vec![],
        vec![agg("buildschema", vec![col("d")])],
    )
    .await;
    assert_eq!(
        rows,
        [r#"{"x":["long","string"],"y":"double","z":{"`indexer`":"long"}}"#]
    );
}
