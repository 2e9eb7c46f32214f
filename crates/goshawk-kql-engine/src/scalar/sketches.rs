//! Scalar functions over sketches: `percentile_tdigest`, `percentiles_array_tdigest`,
//! `rank_tdigest` and `merge_tdigest` over `tdigest()` results; `dcount_hll` and `hll_merge`
//! over `hll()` results.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;
use serde_json::Value;

use super::{Call, KustoScalar, returns, to_real_array};
use crate::aggregate::{TDigest, hll_from_text, hll_to_json};
use crate::format::string_value;

/// The digest of argument `index` on every row (`None` for null or a non-digest).
fn digests(call: &Call<'_>, index: usize) -> Vec<Option<TDigest>> {
    let texts = call.strings(index);
    (0..call.rows)
        .map(|row| string_value(&texts, row).and_then(TDigest::from_text))
        .collect()
}

fn reals(call: &Call<'_>, index: usize) -> DFResult<Float64Array> {
    to_real_array(&call.args[index], call.types[index])
}

fn real_json(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        KustoScalar::new(
            "dcount_hll",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call| {
                let texts = call.strings(0);
                let counts: arrow::array::Int64Array = (0..call.rows)
                    .map(|row| Some(hll_from_text(string_value(&texts, row)?)?.count()))
                    .collect();
                Ok(Arc::new(counts) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            // The scalar form (two or more sketches); the planner sends one-argument calls in
            // summarize to the aggregate of the same name.
            "hll_merge",
            2,
            Some(64),
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let columns: Vec<StringArray> =
                    (0..call.args.len()).map(|i| call.strings(i)).collect();
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let mut sketches = columns
                            .iter()
                            .filter_map(|c| hll_from_text(string_value(c, row)?));
                        let mut merged = sketches.next()?;
                        for sketch in sketches {
                            merged.merge(&sketch);
                        }
                        Some(hll_to_json(&merged).to_string())
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "percentile_tdigest",
            2,
            Some(2),
            returns(KustoType::Real),
            Arc::new(|call| {
                let digests = digests(call, 0);
                let percents = reals(call, 1)?;
                let values: Float64Array = (0..call.rows)
                    .map(|row| {
                        let percent = percents.is_valid(row).then(|| percents.value(row))?;
                        digests[row].as_ref()?.percentile(percent)
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "percentiles_array_tdigest",
            2,
            None,
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let digests = digests(call, 0);
                let percents: Vec<Float64Array> = (1..call.args.len())
                    .map(|i| reals(call, i))
                    .collect::<DFResult<_>>()?;
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let digest = digests[row].as_ref()?;
                        let items: Vec<Value> = percents
                            .iter()
                            .map(|p| {
                                p.is_valid(row)
                                    .then(|| digest.percentile(p.value(row)))
                                    .flatten()
                                    .map_or(Value::Null, real_json)
                            })
                            .collect();
                        Some(Value::Array(items).to_string())
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "rank_tdigest",
            2,
            Some(2),
            returns(KustoType::Long),
            Arc::new(|call| {
                let digests = digests(call, 0);
                let values = reals(call, 1)?;
                let ranks: arrow::array::Int64Array = (0..call.rows)
                    .map(|row| {
                        let value = values.is_valid(row).then(|| values.value(row))?;
                        Some(digests[row].as_ref()?.rank(value)?.round() as i64)
                    })
                    .collect();
                Ok(Arc::new(ranks) as ArrayRef)
            }),
        ),
        KustoScalar::new(
            "merge_tdigest",
            1,
            None,
            returns(KustoType::Dynamic),
            Arc::new(|call| {
                let columns: Vec<Vec<Option<TDigest>>> =
                    (0..call.args.len()).map(|i| digests(call, i)).collect();
                let values: StringArray = (0..call.rows)
                    .map(|row| {
                        let mut merged = TDigest::default();
                        let mut any = false;
                        for digest in columns.iter().filter_map(|c| c[row].as_ref()) {
                            merged.merge(digest);
                            any = true;
                        }
                        merged.compress();
                        any.then(|| merged.to_json().to_string())
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use crate::aggregate::TDigest;
    use crate::scalar::test_support::{call, eval, lit_str};

    fn digest(values: &[(f64, f64)]) -> String {
        let mut digest = TDigest::default();
        for &(v, w) in values {
            digest.add(v, w);
        }
        digest.compress();
        digest.to_json().to_string()
    }

    #[tokio::test]
    async fn digests_answer_percentiles_ranks_and_merge() {
        let low = digest(&(1..=10).map(|v| (f64::from(v), 1.0)).collect::<Vec<_>>());
        let high = digest(&(11..=20).map(|v| (f64::from(v), 1.0)).collect::<Vec<_>>());
        let parsed = |text: &str| call("parse_json", vec![lit_str(text)]);
        let merged = call("merge_tdigest", vec![parsed(&low), parsed(&high)]);
        assert_eq!(
            eval("percentile_tdigest", vec![merged.clone(), lit(100_i64)]).await,
            ["20"]
        );
        assert_eq!(
            eval("rank_tdigest", vec![merged.clone(), lit(15_i64)]).await,
            ["15"]
        );
        assert_eq!(
            eval(
                "percentiles_array_tdigest",
                vec![merged, lit(50_i64), lit(10_i64)]
            )
            .await,
            ["[10.0,2.0]"]
        );
        assert_eq!(
            eval(
                "percentile_tdigest",
                vec![lit_str("not a digest"), lit(50_i64)]
            )
            .await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn hll_sketches_merge_and_count() {
        use crate::aggregate::{DistinctCounter, hll_to_json};
        let sketch = |range: std::ops::Range<i64>| {
            let mut counter = DistinctCounter::new(14);
            let values = arrow::array::Int64Array::from(range.collect::<Vec<_>>());
            counter.add_array(&values, goshawk_types::KustoType::Long, |_| true);
            call(
                "parse_json",
                vec![lit_str(&hll_to_json(&counter).to_string())],
            )
        };
        // The registry maps `hll_merge` to the aggregate; the scalar is the library's.
        let scalar = crate::scalar::all_scalars()
            .into_iter()
            .find(|f| f.name_static() == "hll_merge")
            .map(|f| f.into_udf());
        let Some(scalar) = scalar else {
            panic!("no scalar hll_merge")
        };
        let merged = scalar.call(vec![sketch(1..11), sketch(11..21), sketch(5..15)]);
        assert_eq!(eval("dcount_hll", vec![merged]).await, ["20"]);
        assert_eq!(eval("dcount_hll", vec![lit_str("[1,2]")]).await, ["null"]);
    }
}
