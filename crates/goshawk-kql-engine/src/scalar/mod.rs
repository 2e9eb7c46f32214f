//! Kusto scalar functions and string operators as DataFusion scalar UDFs.
//!
//! Every function is a [`KustoScalar`]: a name, argument-count bounds, a Kusto return-type rule
//! and a kernel over Arrow arrays. Argument types are read from the argument fields with
//! [`KustoType::from_field`], so a Utf8 column tagged `dynamic` is treated as dynamic. Results
//! carry the Kusto type in their field metadata. Arguments are taken as they come (no DataFusion
//! coercion); kernels convert with Kusto's rules, so `strcat(1, "a")` works as in Kusto.

mod bags;
mod compat;
mod convert;
mod datetime;
mod digests;
mod dynamic_fns;
mod encoding;
mod geo;
mod geo_cells;
mod geo_shapes;
mod logic;
mod math;
mod misc;
mod network;
mod series;
mod series_analysis;
mod sketches;
mod special;
mod strings;
mod timezones;
mod xml;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use goshawk_types::KustoType;

use crate::error::EngineError;

pub use convert::{
    gettype_of, parse_guid, to_bool_array, to_datetime_array, to_long_array, to_real_array,
    to_timespan_array,
};
pub use datetime::{datetime_add, datetime_diff};
pub use strings::{equals_ci, has};

/// A Kusto return-type rule: the result type from the argument types, or a message saying
/// which argument is wrong.
pub type ReturnRule =
    Arc<dyn Fn(&str, &[KustoType]) -> Result<KustoType, EngineError> + Send + Sync>;

/// A kernel: computes the result array from the evaluated arguments.
pub type Kernel = Arc<dyn Fn(&Call<'_>) -> DFResult<ArrayRef> + Send + Sync>;

/// The evaluated arguments of one kernel invocation.
pub struct Call<'a> {
    /// The function's Kusto name, for error messages.
    pub name: &'a str,
    /// One array per argument, all of length `rows`.
    pub args: &'a [ArrayRef],
    /// The Kusto type of each argument.
    pub types: &'a [KustoType],
    /// Number of rows to produce.
    pub rows: usize,
}

impl Call<'_> {
    /// Argument `index` converted with Kusto's `tostring()`.
    pub fn strings(&self, index: usize) -> arrow::array::StringArray {
        crate::format::to_kusto_strings(&self.args[index], self.types[index])
    }

    /// Argument `index` converted with Kusto's `tolong()`.
    pub fn longs(&self, index: usize) -> DFResult<arrow::array::Int64Array> {
        to_long_array(&self.args[index], self.types[index])
    }

    /// The value of argument `index` if it is the same on every row (a literal), else an error
    /// naming the function: for regexes, part names and sizes that Kusto requires constant.
    pub fn constant_string(&self, index: usize, what: &str) -> DFResult<String> {
        let values = self.strings(index);
        let first = if values.is_empty() {
            ""
        } else {
            values.value(0)
        };
        if values.iter().any(|v| v != Some(first)) {
            return Err(EngineError::InvalidArgument {
                name: self.name.to_string(),
                message: format!("{what} must be a constant"),
            }
            .into());
        }
        Ok(first.to_string())
    }
}

/// The Kusto type of an argument field. An untyped `NULL` literal counts as a dynamic null.
pub fn kusto_type_of(field: &Field) -> KustoType {
    if field.data_type() == &DataType::Null {
        return KustoType::Dynamic;
    }
    KustoType::from_field(field).unwrap_or(KustoType::String)
}

/// A Kusto scalar function implemented as a DataFusion [`ScalarUDFImpl`].
pub struct KustoScalar {
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    signature: Signature,
    return_rule: ReturnRule,
    kernel: Kernel,
}

impl KustoScalar {
    /// A function named `name` taking `min_args..=max_args` arguments (`None`: unbounded).
    pub fn new(
        name: &'static str,
        min_args: usize,
        max_args: Option<usize>,
        return_rule: ReturnRule,
        kernel: Kernel,
    ) -> Self {
        let signature = Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Immutable,
        );
        KustoScalar {
            name,
            min_args,
            max_args,
            signature,
            return_rule,
            kernel,
        }
    }

    /// Wraps this function as a DataFusion [`ScalarUDF`].
    pub fn into_udf(self) -> ScalarUDF {
        ScalarUDF::new_from_impl(self)
    }

    /// The function's Kusto name.
    pub fn name_static(&self) -> &'static str {
        self.name
    }

    /// The accepted argument counts (`None`: no upper bound).
    pub fn arg_bounds(&self) -> (usize, Option<usize>) {
        (self.min_args, self.max_args)
    }

    /// The Kusto result type for the given argument types, after checking the argument count.
    pub fn kusto_return_type(&self, args: &[KustoType]) -> Result<KustoType, EngineError> {
        check_arg_count(self.name, self.min_args, self.max_args, args.len())?;
        (self.return_rule)(self.name, args)
    }
}

/// Checks an argument count against bounds, with Kusto-style wording.
pub fn check_arg_count(
    name: &str,
    min: usize,
    max: Option<usize>,
    got: usize,
) -> Result<(), EngineError> {
    if got >= min && max.is_none_or(|max| got <= max) {
        return Ok(());
    }
    let expected = match max {
        Some(max) if max == min => min.to_string(),
        Some(max) if max == min + 1 => format!("{min} or {max}"),
        Some(max) => format!("{min} to {max}"),
        None => format!("at least {min}"),
    };
    Err(EngineError::ArgumentCount {
        name: name.to_string(),
        expected,
        got,
    })
}

impl fmt::Debug for KustoScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KustoScalar")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for KustoScalar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KustoScalar {}

impl Hash for KustoScalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for KustoScalar {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DFResult<DataType> {
        let kinds: Vec<KustoType> = arg_types
            .iter()
            .map(|t| kusto_type_of(&Field::new("arg", t.clone(), true)))
            .collect();
        Ok(self.kusto_return_type(&kinds)?.arrow_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DFResult<FieldRef> {
        let kinds: Vec<KustoType> = args.arg_fields.iter().map(|f| kusto_type_of(f)).collect();
        Ok(Arc::new(self.kusto_return_type(&kinds)?.field(self.name)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DFResult<_>>()?;
        let types: Vec<KustoType> = args.arg_fields.iter().map(|f| kusto_type_of(f)).collect();
        let call = Call {
            name: self.name,
            args: &arrays,
            types: &types,
            rows,
        };
        let result = (self.kernel)(&call)?;
        let wanted = args.return_field.data_type();
        let result = if result.data_type() == wanted {
            result
        } else {
            arrow::compute::cast(&result, wanted)?
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// Return rule: always `ty`.
pub fn returns(ty: KustoType) -> ReturnRule {
    Arc::new(move |_, _| Ok(ty))
}

/// Return rule: the type of the first argument.
pub fn returns_first_arg() -> ReturnRule {
    Arc::new(|_, args| Ok(args.first().copied().unwrap_or(KustoType::Dynamic)))
}

/// The common type of value arguments (for `iff`, `case`, `coalesce`): the first that is not an
/// untyped null; mixed `int`/`long`/`real` widen to the widest.
pub fn common_type(types: &[KustoType]) -> KustoType {
    let mut result: Option<KustoType> = None;
    for &ty in types {
        result = Some(match (result, ty) {
            (None, ty) => ty,
            (Some(current), ty) if current == ty => current,
            (Some(KustoType::Dynamic), ty) => ty,
            (Some(current), KustoType::Dynamic) => current,
            (Some(a), b) if is_numeric(a) && is_numeric(b) => a.max(b),
            (Some(current), _) => current,
        });
    }
    result.unwrap_or(KustoType::Dynamic)
}

/// Whether a Kusto type is `int`, `long`, `real` or `decimal`.
pub fn is_numeric(ty: KustoType) -> bool {
    matches!(
        ty,
        KustoType::Int | KustoType::Long | KustoType::Real | KustoType::Decimal
    )
}

/// Every Kusto scalar function and string operator this library implements, as
/// `(kusto name, function)`. Deprecated aliases are listed in [`crate::registry`].
pub fn all_scalars() -> Vec<KustoScalar> {
    let mut all = Vec::new();
    all.extend(convert::functions());
    all.extend(datetime::functions());
    all.extend(dynamic_fns::functions());
    all.extend(logic::functions());
    all.extend(math::functions());
    all.extend(strings::functions());
    all.extend(network::functions());
    all.extend(encoding::functions());
    all.extend(bags::functions());
    all.extend(compat::functions());
    all.extend(geo::functions());
    all.extend(geo_cells::functions());
    all.extend(geo_shapes::functions());
    all.extend(series::functions());
    all.extend(series_analysis::functions());
    all.extend(digests::functions());
    all.extend(special::functions());
    all.extend(misc::functions());
    all.extend(sketches::functions());
    all.extend(timezones::functions());
    all.extend(xml::functions());
    all
}

#[cfg(test)]
pub(crate) mod test_support;
