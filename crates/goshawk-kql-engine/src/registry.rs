//! The function registry the planner resolves Kusto function calls through.
//!
//! For every Kusto name (and deprecated alias) it gives the kind, the argument-count bounds (with
//! Kusto-style errors: "make_set expects 1 or 2 arguments, got 3"), the Kusto return type from
//! the argument types, the DataFusion UDF/UDAF to call, and Kusto's default result column name
//! for aggregates (`count_`, `dcount_X`, `set_X`, `max_TimeGenerated`, `percentile_X_95`).
//!
//! Calling conventions the planner must follow (see docs/engine-types.md):
//! * `ago(span)` / `now([offset])`: call [`FunctionEntry::call`] with the query's fixed "now";
//!   it is appended as the last argument.
//! * `count()` is DataFusion's `count(1)`; `count(x)` also counts every row, as Kusto does.
//! * `percentiles(x, p1, p2, ...)` yields one column per percentile: [`percentiles_calls`]
//!   builds one `percentile(x, p)` per `p` with its Kusto column name.
//! * `arg_max(by, c1, c2, ...)`: pass `by` and `named_struct('c1', c1, ...)`; read the
//!   columns back with `get_field` (see [`arg_extreme_call`]).
//! * Dynamic member/index access `x.a.b[0]` is `dynamic_path(x, "a", "b", 0)`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::common::ScalarValue;
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::logical_expr::{AggregateUDF, Expr, ScalarUDF, lit};
use goshawk_types::KustoType;

use crate::aggregate::{KustoAggregate, all_aggregates};
use crate::error::EngineError;
use crate::scalar::{KustoScalar, all_scalars, check_arg_count};

/// Whether a function is evaluated per row or per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// A scalar function or string operator.
    Scalar,
    /// An aggregation function (`summarize`).
    Aggregate,
}

#[derive(Clone, Debug)]
enum Implementation {
    Scalar(Arc<ScalarUDF>, Arc<KustoScalar>),
    Aggregate(Arc<AggregateUDF>, Arc<KustoAggregate>),
    /// DataFusion's `count(1)`.
    Count,
    /// DataFusion's `min`/`max`, which keep the argument's type.
    MinMax(Arc<AggregateUDF>),
}

/// One registered Kusto function.
#[derive(Clone, Debug)]
pub struct FunctionEntry {
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    needs_now: bool,
    implementation: Implementation,
}

impl FunctionEntry {
    /// The canonical Kusto name (`make_set` for `makeset`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Scalar or aggregate.
    pub fn kind(&self) -> FunctionKind {
        match self.implementation {
            Implementation::Scalar(..) => FunctionKind::Scalar,
            _ => FunctionKind::Aggregate,
        }
    }

    /// The accepted argument counts as written in the query (`None`: no upper bound). For
    /// `ago`/`now` this excludes the fixed "now" the planner appends.
    pub fn arg_bounds(&self) -> (usize, Option<usize>) {
        (self.min_args, self.max_args)
    }

    /// Whether [`FunctionEntry::call`] appends the query's fixed "now" (`ago`, `now`).
    pub fn needs_now(&self) -> bool {
        self.needs_now
    }

    /// Checks the number of arguments written in the query.
    pub fn check_arg_count(&self, got: usize) -> Result<(), EngineError> {
        check_arg_count(self.name, self.min_args, self.max_args, got)
    }

    /// The Kusto result type for the argument types written in the query.
    pub fn return_type(&self, args: &[KustoType]) -> Result<KustoType, EngineError> {
        self.check_arg_count(args.len())?;
        match &self.implementation {
            Implementation::Scalar(_, f) => {
                let mut with_now = args.to_vec();
                if self.needs_now {
                    with_now.push(KustoType::DateTime);
                }
                f.kusto_return_type(&with_now)
            }
            Implementation::Aggregate(_, f) => f.kusto_return_type(args),
            Implementation::Count => Ok(KustoType::Long),
            Implementation::MinMax(_) => Ok(args.first().copied().unwrap_or(KustoType::Dynamic)),
        }
    }

    /// The DataFusion scalar UDF, for scalar functions.
    pub fn scalar_udf(&self) -> Option<&ScalarUDF> {
        match &self.implementation {
            Implementation::Scalar(udf, _) => Some(udf),
            _ => None,
        }
    }

    /// The DataFusion aggregate UDF, for aggregates (`count` is DataFusion's `count`).
    pub fn aggregate_udf(&self) -> Option<Arc<AggregateUDF>> {
        match &self.implementation {
            Implementation::Aggregate(udaf, _) | Implementation::MinMax(udaf) => {
                Some(Arc::clone(udaf))
            }
            Implementation::Count => Some(count_udaf()),
            Implementation::Scalar(..) => None,
        }
    }

    /// The DataFusion expression for a call with `args` (as written in the query), checking
    /// the argument count. `now_nanos` is the query's fixed "now", used by `ago` and `now`.
    pub fn call(&self, args: Vec<Expr>, now_nanos: i64) -> Result<Expr, EngineError> {
        self.check_arg_count(args.len())?;
        Ok(match &self.implementation {
            Implementation::Scalar(udf, _) => {
                let mut args = args;
                if self.needs_now {
                    args.push(lit(ScalarValue::TimestampNanosecond(
                        Some(now_nanos),
                        Some("UTC".into()),
                    )));
                }
                udf.call(args)
            }
            Implementation::Aggregate(_, _) if self.name == "percentiles" && args.len() > 2 => {
                return Err(EngineError::InvalidArgument {
                    name: self.name.to_string(),
                    message: "several percentiles give several columns: plan one call per \
                              percentile with registry::percentiles_calls"
                        .to_string(),
                });
            }
            Implementation::Aggregate(udaf, _) => udaf.call(args),
            Implementation::MinMax(udaf) => udaf.call(args),
            // Kusto's count(x) counts rows, nulls included, like count().
            Implementation::Count => count_udaf().call(vec![lit(1_i64)]),
        })
    }
}

/// Deprecated and alternative names Kusto still accepts, mapped to the canonical name.
pub const ALIASES: &[(&str, &str)] = &[
    ("makeset", "make_set"),
    ("makelist", "make_list"),
    ("makeset_if", "make_set_if"),
    ("makelist_if", "make_list_if"),
    ("make_dictionary", "make_bag"),
    ("todouble", "toreal"),
    ("toboolean", "tobool"),
    ("toobject", "parse_json"),
    ("toint32", "toint"),
    ("toint64", "tolong"),
    ("any", "take_any"),
    ("iif", "iff"),
    ("todynamic", "parse_json"),
    ("bag_pack", "pack"),
    ("weekofyear", "week_of_year"),
];

fn build() -> HashMap<&'static str, FunctionEntry> {
    let mut map = HashMap::new();
    for f in all_scalars() {
        let name = f.name_static();
        let (min, max) = f.arg_bounds();
        let needs_now = matches!(name, "ago" | "now");
        let (min, max) = if needs_now {
            (min - 1, max.map(|m| m - 1))
        } else {
            (min, max)
        };
        let f = Arc::new(f);
        let udf = Arc::new(ScalarUDF::new_from_shared_impl(Arc::clone(&f) as _));
        let implementation = Implementation::Scalar(udf, f);
        map.insert(
            name,
            FunctionEntry {
                name,
                min_args: min,
                max_args: max,
                needs_now,
                implementation,
            },
        );
    }
    for f in all_aggregates() {
        let name = f.name_static();
        let (min, max) = f.arg_bounds();
        let f = Arc::new(f);
        let udaf = Arc::new(AggregateUDF::new_from_shared_impl(Arc::clone(&f) as _));
        let implementation = Implementation::Aggregate(udaf, f);
        map.insert(
            name,
            FunctionEntry {
                name,
                min_args: min,
                max_args: max,
                needs_now: false,
                implementation,
            },
        );
    }
    map.insert(
        "count",
        FunctionEntry {
            name: "count",
            min_args: 0,
            max_args: Some(1),
            needs_now: false,
            implementation: Implementation::Count,
        },
    );
    for (name, udaf) in [("min", min_udaf()), ("max", max_udaf())] {
        let implementation = Implementation::MinMax(udaf);
        map.insert(
            name,
            FunctionEntry {
                name,
                min_args: 1,
                max_args: Some(1),
                needs_now: false,
                implementation,
            },
        );
    }
    // percentiles(x, p1, p2, ...) shares percentile's accumulator but accepts several p.
    if let Some(entry) = map.get("percentile").cloned() {
        map.insert(
            "percentiles",
            FunctionEntry {
                name: "percentiles",
                max_args: None,
                ..entry
            },
        );
    }
    for &(alias, canonical) in ALIASES {
        if let Some(entry) = map.get(canonical).cloned() {
            map.entry(alias).or_insert(entry);
        }
    }
    map
}

static REGISTRY: LazyLock<HashMap<&'static str, FunctionEntry>> = LazyLock::new(build);

/// The function called `name` in a query (Kusto function names are case-sensitive).
pub fn lookup(name: &str) -> Option<&'static FunctionEntry> {
    REGISTRY.get(name)
}

/// Like [`lookup`], with an error naming the unknown function.
pub fn resolve(name: &str) -> Result<&'static FunctionEntry, EngineError> {
    lookup(name).ok_or_else(|| EngineError::UnknownFunction {
        name: name.to_string(),
    })
}

/// Every registered name, aliases included, sorted (for "did you mean" suggestions).
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = REGISTRY.keys().copied().collect();
    names.sort_unstable();
    names
}

/// Every scalar UDF, to register with a DataFusion `SessionContext` if the planner prefers
/// calling functions by name.
pub fn scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    let mut seen = std::collections::HashSet::new();
    REGISTRY
        .values()
        .filter_map(|e| match &e.implementation {
            Implementation::Scalar(udf, _) if seen.insert(udf.name().to_string()) => {
                Some(Arc::clone(udf))
            }
            _ => None,
        })
        .collect()
}

/// Every aggregate UDF of the library (the aggregates DataFusion provides itself, `count`,
/// `min` and `max`, are in every DataFusion session already).
pub fn aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    let mut seen = std::collections::HashSet::new();
    REGISTRY
        .values()
        .filter_map(|e| match &e.implementation {
            Implementation::Aggregate(udaf, _) if seen.insert(udaf.name().to_string()) => {
                Some(Arc::clone(udaf))
            }
            _ => None,
        })
        .collect()
}

/// Every scalar UDF a planned query may call by name: the registry's and the planner's
/// library. A process that runs plans it did not plan itself (a cluster's scheduler and
/// executors) registers these, so a plan that names them can be decoded there.
pub fn plan_scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    let mut udfs = scalar_udfs();
    let mut seen: std::collections::HashSet<String> =
        udfs.iter().map(|udf| udf.name().to_string()).collect();
    for udf in crate::planner::library_udfs() {
        if seen.insert(udf.name().to_string()) {
            udfs.push(udf);
        }
    }
    udfs
}

/// Kusto's default result column name for an aggregate: `count_`, `countif_`, `sum_x`,
/// `dcount_x`, `set_x` (make_set), `list_x` (make_list), `bag_x` (make_bag), `any_x`
/// (take_any), `percentile_x_95`. `column` is the first argument when it is a plain column
/// reference, else `None` (giving `avg_`); `percent` is the percentile as written.
pub fn default_column_name(function: &str, column: Option<&str>, percent: Option<&str>) -> String {
    let canonical: &str = match lookup(function) {
        Some(entry) => entry.name(),
        None => function,
    };
    let prefix = match canonical {
        "make_set" | "make_set_if" => "set",
        "make_list" | "make_list_if" | "make_list_with_nulls" => "list",
        "make_bag" | "make_bag_if" => "bag",
        "take_any" => "any",
        "percentiles" => "percentile",
        other => other,
    };
    let mut name = format!("{prefix}_{}", column.unwrap_or(""));
    if let Some(percent) = percent {
        name.push('_');
        name.push_str(&percent.replace('.', "_"));
    }
    name
}

/// `percentiles(x, p1, p2, ...)` as one `percentile(x, p)` aggregate per percentile, each with
/// Kusto's default column name (`percentile_x_50`); `column` is `x` when it is a plain column.
pub fn percentiles_calls(
    value: Expr,
    percents: Vec<(Expr, String)>,
    column: Option<&str>,
) -> Result<Vec<(String, Expr)>, EngineError> {
    let entry = resolve("percentile")?;
    percents
        .into_iter()
        .map(|(percent, written)| {
            let call = entry.call(vec![value.clone(), percent], 0)?;
            Ok((
                default_column_name("percentiles", column, Some(&written)),
                call,
            ))
        })
        .collect()
}

/// Builds `arg_max(by, c1, c2, ...)` (or `arg_min`) as the engine implements it: one aggregate
/// over a struct of the wanted columns. Returns the aggregate and, for each wanted column, an
/// expression reading it back from the aggregate's output column `result_column`.
pub fn arg_extreme_call(
    function: &str,
    by: Expr,
    wanted: Vec<(String, Expr)>,
    result_column: &str,
) -> Result<(Expr, Vec<(String, Expr)>), EngineError> {
    let entry = resolve(function)?;
    let mut struct_args = Vec::with_capacity(wanted.len() * 2);
    for (name, expr) in &wanted {
        struct_args.push(lit(name.clone()));
        struct_args.push(expr.clone());
    }
    let aggregate = entry.call(vec![by, named_struct(struct_args)], 0)?;
    let column = Expr::Column(datafusion::common::Column::new_unqualified(result_column));
    let readers = wanted
        .into_iter()
        .map(|(name, _)| {
            let reader = get_field(column.clone(), name.clone());
            (name, reader)
        })
        .collect();
    Ok((aggregate, readers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_counts_are_checked_with_kusto_wording() {
        let make_set = resolve("make_set").map_err(|e| e.to_string());
        let err = make_set.and_then(|e| e.check_arg_count(3).map_err(|e| e.to_string()));
        assert_eq!(
            err.err().as_deref(),
            Some("make_set expects 1 or 2 arguments, got 3")
        );
        let strlen = resolve("strlen").map(|e| e.check_arg_count(0).map_err(|e| e.to_string()));
        assert_eq!(
            strlen.ok().and_then(Result::err).as_deref(),
            Some("strlen expects 1 argument, got 0")
        );
        let strcat = resolve("strcat").map(|e| e.check_arg_count(0).map_err(|e| e.to_string()));
        assert_eq!(
            strcat.ok().and_then(Result::err).as_deref(),
            Some("strcat expects 1 to 64 arguments, got 0")
        );
        let unknown = resolve("no_such_fn").err().map(|e| e.to_string());
        assert_eq!(unknown.as_deref(), Some("unknown function 'no_such_fn'"));
        // ago/now hide the fixed "now" the registry appends.
        assert_eq!(
            lookup("ago").map(FunctionEntry::arg_bounds),
            Some((1, Some(1)))
        );
        assert_eq!(
            lookup("now").map(FunctionEntry::arg_bounds),
            Some((0, Some(1)))
        );
    }

    #[test]
    fn aliases_resolve_to_the_canonical_function() {
        for (alias, canonical) in ALIASES {
            assert_eq!(
                lookup(alias).map(FunctionEntry::name),
                Some(*canonical),
                "{alias}"
            );
        }
        assert_eq!(
            lookup("makeset").map(FunctionEntry::kind),
            Some(FunctionKind::Aggregate)
        );
        assert_eq!(
            lookup("todouble").map(FunctionEntry::kind),
            Some(FunctionKind::Scalar)
        );
    }

    #[test]
    fn return_types_follow_kusto() {
        let ty =
            |name: &str, args: &[KustoType]| resolve(name).and_then(|e| e.return_type(args)).ok();
        assert_eq!(ty("count", &[]), Some(KustoType::Long));
        assert_eq!(ty("sum", &[KustoType::Int]), Some(KustoType::Long));
        assert_eq!(ty("sum", &[KustoType::Real]), Some(KustoType::Real));
        assert_eq!(ty("avg", &[KustoType::Long]), Some(KustoType::Real));
        assert_eq!(ty("max", &[KustoType::DateTime]), Some(KustoType::DateTime));
        assert_eq!(
            ty("make_set", &[KustoType::String, KustoType::Long]),
            Some(KustoType::Dynamic)
        );
        assert_eq!(ty("dcount", &[KustoType::Guid]), Some(KustoType::Long));
        assert_eq!(
            ty("percentile", &[KustoType::Int, KustoType::Long]),
            Some(KustoType::Long)
        );
        assert_eq!(
            ty("bin", &[KustoType::DateTime, KustoType::TimeSpan]),
            Some(KustoType::DateTime)
        );
        assert_eq!(
            ty("bin", &[KustoType::Real, KustoType::Long]),
            Some(KustoType::Real)
        );
        assert_eq!(ty("ago", &[KustoType::TimeSpan]), Some(KustoType::DateTime));
        assert_eq!(
            ty("iff", &[KustoType::Bool, KustoType::Int, KustoType::Long]),
            Some(KustoType::Long)
        );
        assert_eq!(
            ty("coalesce", &[KustoType::Dynamic, KustoType::String]),
            Some(KustoType::String)
        );
        assert_eq!(
            ty("tostring", &[KustoType::Dynamic]),
            Some(KustoType::String)
        );
        assert_eq!(
            ty("has", &[KustoType::String, KustoType::String]),
            Some(KustoType::Bool)
        );
        assert_eq!(
            ty("parse_json", &[KustoType::String]),
            Some(KustoType::Dynamic)
        );
        let sum_of_string = resolve("sum").and_then(|e| e.return_type(&[KustoType::String]));
        assert_eq!(
            sum_of_string.err().map(|e| e.to_string()).as_deref(),
            Some("sum: argument 1 has type string, expected a number or timespan")
        );
        let case_even =
            resolve("case").and_then(|e| e.return_type(&[KustoType::Bool, KustoType::Long]));
        assert!(case_even.is_err());
    }

    #[test]
    fn percentiles_split_into_one_call_per_percentile() {
        let x = datafusion::logical_expr::col("x");
        let calls = percentiles_calls(
            x.clone(),
            vec![(lit(50_i64), "50".into()), (lit(99.9), "99.9".into())],
            Some("x"),
        );
        let names: Vec<String> = calls
            .unwrap_or_default()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["percentile_x_50", "percentile_x_99_9"]);
        let several =
            resolve("percentiles").and_then(|e| e.call(vec![x, lit(50_i64), lit(90_i64)], 0));
        assert!(
            several
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("percentiles_calls")
        );
    }

    #[test]
    fn default_column_names_match_the_oracle() {
        assert_eq!(default_column_name("count", None, None), "count_");
        assert_eq!(default_column_name("countif", None, None), "countif_");
        assert_eq!(
            default_column_name("countif", Some("active"), None),
            "countif_active"
        );
        assert_eq!(
            default_column_name("dcount", Some("name"), None),
            "dcount_name"
        );
        assert_eq!(default_column_name("make_set", Some("i"), None), "set_i");
        assert_eq!(default_column_name("makelist", Some("x"), None), "list_x");
        assert_eq!(default_column_name("make_bag", Some("v"), None), "bag_v");
        assert_eq!(
            default_column_name("max", Some("TimeGenerated"), None),
            "max_TimeGenerated"
        );
        assert_eq!(default_column_name("avg", None, None), "avg_");
        assert_eq!(
            default_column_name("percentiles", Some("score"), Some("50")),
            "percentile_score_50"
        );
        assert_eq!(default_column_name("sumif", Some("v"), None), "sumif_v");
    }

    #[test]
    fn every_sentinel_function_used_by_two_percent_of_queries_is_registered() {
        // Every `name(` called in >= 2% (50+) of the 2,515 Sentinel queries, counted once per
        // query, excluding what the planner handles itself: literals (`dynamic`, `datetime`,
        // `int`, `typeof`), operators (`in`, `between`, `and`, `or`, join kinds),
        // `toscalar`, `column_ifexists`, `datatable`.
        let used = [
            "ago",
            "tostring",
            "isnotempty",
            "count",
            "max",
            "min",
            "has_any",
            "iff",
            "split",
            "parse_json",
            "extract",
            "bin",
            "make_set",
            "strcat",
            "makeset",
            "case",
            "not",
            "todatetime",
            "dcount",
            "tolower",
            "todynamic",
            "arg_max",
            "array_length",
            "isempty",
            "toint",
            "iif",
            "now",
            "has_all",
            "pack",
            "sum",
            "isnull",
            "coalesce",
            "ipv4_is_private",
            "replace",
        ];
        let missing: Vec<&str> = used
            .iter()
            .copied()
            .filter(|n| lookup(n).is_none())
            .collect();
        assert!(missing.is_empty(), "not registered: {missing:?}");
    }
}
