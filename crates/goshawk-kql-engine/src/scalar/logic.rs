//! Conditionals and null tests: `iff`/`iif`, `case`, `coalesce`, `isnull`, `isnotnull`,
//! `isempty`, `isnotempty`.
//!
//! Kusto strings are never null: `isnull("")` is false, `isempty` is true for null and "", and
//! `coalesce` skips empty strings. A null condition counts as false.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Datum};
use arrow::compute::kernels::zip::zip;
use datafusion::common::Result as DFResult;
use goshawk_types::KustoType;

use super::{Call, KustoScalar, common_type, returns, to_bool_array};
use crate::format::string_value;

fn conditions(call: &Call<'_>, index: usize) -> DFResult<BooleanArray> {
    let bools = to_bool_array(&call.args[index], call.types[index])?;
    // Null conditions select the else branch.
    Ok(bools.iter().map(|b| Some(b.unwrap_or(false))).collect())
}

fn as_type(call: &Call<'_>, index: usize, ty: KustoType) -> DFResult<ArrayRef> {
    let array = &call.args[index];
    let target = ty.arrow_type();
    if array.data_type() == &target {
        return Ok(Arc::clone(array));
    }
    if ty == KustoType::String {
        return Ok(Arc::new(call.strings(index)));
    }
    Ok(arrow::compute::cast(array, &target)?)
}

/// Whether row `row` of a column counts as "empty" in Kusto: null, or "" for strings.
fn is_empty_at(array: &dyn Array, row: usize, ty: KustoType) -> bool {
    if array.is_null(row) {
        return true;
    }
    match ty {
        KustoType::String | KustoType::Guid => string_value(array, row).is_some_and(str::is_empty),
        KustoType::Dynamic => string_value(array, row).is_some_and(|t| t == "null"),
        _ => false,
    }
}

fn is_null_at(array: &dyn Array, row: usize, ty: KustoType) -> bool {
    match ty {
        KustoType::String => false,
        KustoType::Dynamic => is_empty_at(array, row, ty),
        _ => array.is_null(row),
    }
}

fn predicate(
    name: &'static str,
    test: fn(&dyn Array, usize, KustoType) -> bool,
    negate: bool,
) -> KustoScalar {
    KustoScalar::new(
        name,
        1,
        Some(1),
        returns(KustoType::Bool),
        Arc::new(move |call| {
            let (array, ty) = (&call.args[0], call.types[0]);
            let result: BooleanArray = (0..array.len())
                .map(|row| Some(test(array.as_ref(), row, ty) != negate))
                .collect();
            Ok(Arc::new(result) as ArrayRef)
        }),
    )
}

fn iff(name: &'static str) -> KustoScalar {
    KustoScalar::new(
        name,
        3,
        Some(3),
        Arc::new(|_, args| Ok(common_type(&args[1..]))),
        Arc::new(|call| {
            let ty = common_type(&call.types[1..]);
            let mask = conditions(call, 0)?;
            let then = as_type(call, 1, ty)?;
            let otherwise = as_type(call, 2, ty)?;
            Ok(zip(&mask, &then as &dyn Datum, &otherwise as &dyn Datum)?)
        }),
    )
}

fn case_value_types(args: &[KustoType]) -> Vec<KustoType> {
    let mut values: Vec<KustoType> = args.iter().skip(1).step_by(2).copied().collect();
    if let Some(last) = args.last() {
        values.push(*last);
    }
    values
}

fn case_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let ty = common_type(&case_value_types(call.types));
    let last = call.args.len() - 1;
    let mut result = as_type(call, last, ty)?;
    for pair in (0..last / 2).rev() {
        let mask = conditions(call, pair * 2)?;
        let value = as_type(call, pair * 2 + 1, ty)?;
        result = zip(&mask, &value as &dyn Datum, &result as &dyn Datum)?;
    }
    Ok(result)
}

fn coalesce_kernel(call: &Call<'_>) -> DFResult<ArrayRef> {
    let ty = common_type(call.types);
    let last = call.args.len() - 1;
    let mut result = as_type(call, last, ty)?;
    for index in (0..last).rev() {
        let value = as_type(call, index, ty)?;
        let present: BooleanArray = (0..value.len())
            .map(|row| {
                Some(!is_empty_at(
                    call.args[index].as_ref(),
                    row,
                    call.types[index],
                ))
            })
            .collect();
        result = zip(&present, &value as &dyn Datum, &result as &dyn Datum)?;
    }
    Ok(result)
}

pub(super) fn functions() -> Vec<KustoScalar> {
    vec![
        iff("iff"),
        KustoScalar::new(
            "case",
            3,
            None,
            Arc::new(|name, args| {
                if args.len() % 2 == 0 {
                    return Err(crate::error::EngineError::InvalidArgument {
                        name: name.to_string(),
                        message: format!(
                            "expects condition/value pairs and an else value (an odd number of arguments), got {}",
                            args.len()
                        ),
                    });
                }
                Ok(common_type(&case_value_types(args)))
            }),
            Arc::new(case_kernel),
        ),
        KustoScalar::new(
            "coalesce",
            2,
            Some(64),
            Arc::new(|_, args| Ok(common_type(args))),
            Arc::new(coalesce_kernel),
        ),
        KustoScalar::new(
            "not",
            1,
            Some(1),
            returns(KustoType::Bool),
            Arc::new(|call| {
                // not(null) stays null, so `where not(x > 0)` drops rows where x is null.
                let bools = to_bool_array(&call.args[0], call.types[0])?;
                Ok(Arc::new(arrow::compute::not(&bools)?) as ArrayRef)
            }),
        ),
        predicate("isnull", is_null_at, false),
        predicate("isnotnull", is_null_at, true),
        predicate("isempty", is_empty_at, false),
        predicate("isnotempty", is_empty_at, true),
    ]
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{col, lit};

    use super::*;
    use crate::scalar::test_support::{call, eval, eval_on, lit_str};

    #[tokio::test]
    async fn null_tests_follow_kusto_string_rules() {
        assert_eq!(eval("isnull", vec![lit_str("")]).await, ["False"]);
        assert_eq!(eval("isempty", vec![lit_str("")]).await, ["True"]);
        assert_eq!(eval("isnotempty", vec![lit_str("x")]).await, ["True"]);
        assert_eq!(
            eval("isnull", vec![lit(ScalarValue::Int64(None))]).await,
            ["True"]
        );
        assert_eq!(eval("isnotnull", vec![lit(1_i64)]).await, ["True"]);
        let dyn_null = call("parse_json", vec![lit_str("null")]);
        assert_eq!(eval("isnull", vec![dyn_null.clone()]).await, ["True"]);
        assert_eq!(
            eval("isempty", vec![call("tostring", vec![dyn_null])]).await,
            ["True"]
        );
    }

    #[tokio::test]
    async fn not_keeps_nulls() {
        assert_eq!(eval("not", vec![lit(true)]).await, ["False"]);
        assert_eq!(
            eval("not", vec![lit(ScalarValue::Boolean(None))]).await,
            ["null"]
        );
    }

    #[tokio::test]
    async fn iff_case_and_coalesce() {
        let x: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), None]));
        let expr = call(
            "iff",
            vec![
                col("x").eq(lit(2_i64)),
                lit(ScalarValue::Int64(None)),
                col("x"),
            ],
        );
        assert_eq!(
            eval_on(vec![("x", KustoType::Long, Arc::clone(&x))], expr).await,
            ["1", "null", "null"]
        );
        let expr = call(
            "case",
            vec![
                col("x").lt(lit(2_i64)),
                lit_str("small"),
                col("x").lt(lit(3_i64)),
                lit_str("mid"),
                lit_str("other"),
            ],
        );
        assert_eq!(
            eval_on(vec![("x", KustoType::Long, Arc::clone(&x))], expr).await,
            ["small", "mid", "other"]
        );
        let expr = call("coalesce", vec![col("x"), lit(-1_i64)]);
        assert_eq!(
            eval_on(vec![("x", KustoType::Long, x)], expr).await,
            ["1", "2", "-1"]
        );
        let s: ArrayRef = Arc::new(StringArray::from(vec!["", "a"]));
        let expr = call("coalesce", vec![col("s"), lit_str("fallback")]);
        assert_eq!(
            eval_on(vec![("s", KustoType::String, s)], expr).await,
            ["fallback", "a"]
        );
        let both_null = call(
            "coalesce",
            vec![
                lit(ScalarValue::Float64(None)),
                lit(ScalarValue::Float64(None)),
            ],
        );
        assert_eq!(
            crate::scalar::test_support::eval_expr(both_null).await,
            ["null"]
        );
    }
}
