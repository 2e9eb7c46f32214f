//! Kusto aggregation functions as DataFusion UDAFs.
//!
//! Each function is a [`KustoAggregate`]: a name, argument-count bounds, a Kusto return-type
//! rule and a factory for its [`Accumulator`]. Constant arguments (`make_set(x, 5)`,
//! `dcount(x, 2)`, `percentile(x, 95)`) must be literals; they are read from the physical
//! expressions when the accumulator is created. Partial states travel as one Binary column, so
//! every function works in DataFusion's multi-phase (partial/final) aggregation.
//!
//! `count`, `min` and `max` are not here: the registry maps them to DataFusion's built-ins
//! (`count(1)`, `min`, `max`), whose semantics already match Kusto (`count()` counts rows,
//! `min`/`max` ignore nulls and give null for an empty group).

mod accumulators;
mod dcount;
mod stats;
mod tdigest;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, TypeSignature,
    Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use goshawk_types::KustoType;

use crate::error::EngineError;
use crate::scalar::{ReturnRule, check_arg_count, kusto_type_of};

pub use dcount::{DistinctCounter, accuracy_precision};
pub use stats::{hll_from_text, hll_to_json};
pub use tdigest::TDigest;

/// What an accumulator factory knows about the call.
pub struct AggregateCall {
    /// The function's Kusto name, for error messages.
    pub name: String,
    /// The Kusto type of each argument.
    pub types: Vec<KustoType>,
    /// The Arrow type of each argument.
    pub arrow_types: Vec<DataType>,
    /// The value of each argument that is a literal.
    pub constants: Vec<Option<ScalarValue>>,
    /// The result field the planner expects.
    pub return_field: FieldRef,
}

impl AggregateCall {
    /// Argument `index` as a constant non-negative integer, `default` when absent.
    pub fn constant_usize(&self, index: usize, what: &str, default: usize) -> DFResult<usize> {
        let Some(slot) = self.constants.get(index) else {
            return Ok(default);
        };
        let invalid = |detail: String| EngineError::InvalidArgument {
            name: self.name.clone(),
            message: format!("{what} {detail}"),
        };
        let value = slot
            .as_ref()
            .ok_or_else(|| invalid("must be a constant".into()))?;
        let number = value
            .cast_to(&DataType::Int64)
            .ok()
            .and_then(|v| match v {
                ScalarValue::Int64(Some(n)) => Some(n),
                _ => None,
            })
            .ok_or_else(|| invalid(format!("must be an integer, got {value}")))?;
        usize::try_from(number)
            .map_err(|_| invalid(format!("must not be negative, got {number}")).into())
    }

    /// Argument `index` as a constant real.
    pub fn constant_f64(&self, index: usize, what: &str) -> DFResult<f64> {
        let invalid = || EngineError::InvalidArgument {
            name: self.name.clone(),
            message: format!("{what} must be a constant number"),
        };
        let value = self
            .constants
            .get(index)
            .cloned()
            .flatten()
            .ok_or_else(invalid)?;
        match value.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(v))) => Ok(v),
            _ => Err(invalid().into()),
        }
    }
}

/// Creates an accumulator for one group.
pub type AccumulatorFactory =
    Arc<dyn Fn(&AggregateCall) -> DFResult<Box<dyn Accumulator>> + Send + Sync>;

/// Computes the result field from the argument fields, for functions whose Arrow result type
/// is not the plain mapping of a Kusto type (`arg_max` returns the struct it was given).
pub type FieldRule = Arc<dyn Fn(&[FieldRef]) -> DFResult<Field> + Send + Sync>;

/// A Kusto aggregation function implemented as a DataFusion [`AggregateUDFImpl`].
pub struct KustoAggregate {
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    signature: Signature,
    return_rule: ReturnRule,
    field_rule: Option<FieldRule>,
    state_rule: Option<StateRule>,
    factory: AccumulatorFactory,
    groups_factory: Option<GroupsFactory>,
}

/// Creates a [`GroupsAccumulator`] holding the state of every group, for the hot aggregates.
pub type GroupsFactory =
    Arc<dyn Fn(&AggregateCall) -> DFResult<Box<dyn GroupsAccumulator>> + Send + Sync>;

/// Computes the partial-state fields from the input fields, for accumulators whose state is not
/// the single Binary column used by default.
pub type StateRule = Arc<dyn Fn(&[FieldRef]) -> Vec<FieldRef> + Send + Sync>;

impl KustoAggregate {
    /// An aggregate named `name` taking `min_args..=max_args` arguments.
    pub fn new(
        name: &'static str,
        min_args: usize,
        max_args: Option<usize>,
        return_rule: ReturnRule,
        factory: AccumulatorFactory,
    ) -> Self {
        let signature = Signature::one_of(vec![TypeSignature::VariadicAny], Volatility::Immutable);
        KustoAggregate {
            name,
            min_args,
            max_args,
            signature,
            return_rule,
            field_rule: None,
            state_rule: None,
            factory,
            groups_factory: None,
        }
    }

    /// Overrides how the Arrow result field is derived.
    pub fn with_field_rule(mut self, rule: FieldRule) -> Self {
        self.field_rule = Some(rule);
        self
    }

    /// Adds a [`GroupsAccumulator`], which DataFusion prefers for grouped aggregation.
    pub fn with_groups_accumulator(mut self, factory: GroupsFactory) -> Self {
        self.groups_factory = Some(factory);
        self
    }

    /// Drops the [`GroupsAccumulator`], leaving DataFusion's per-group adapter over the
    /// row [`Accumulator`]: for benchmarks and for cross-checking the two paths.
    pub fn without_groups_accumulator(mut self) -> Self {
        self.groups_factory = None;
        self
    }

    /// Overrides the partial-state fields.
    pub fn with_state_rule(mut self, rule: StateRule) -> Self {
        self.state_rule = Some(rule);
        self
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

    /// Wraps this function as a DataFusion [`AggregateUDF`].
    pub fn into_udaf(self) -> AggregateUDF {
        AggregateUDF::new_from_impl(self)
    }
}

impl fmt::Debug for KustoAggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KustoAggregate")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for KustoAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KustoAggregate {}

impl Hash for KustoAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl AggregateUDFImpl for KustoAggregate {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DFResult<DataType> {
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
            .collect();
        Ok(self.return_field(&fields)?.data_type().clone())
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> DFResult<FieldRef> {
        let kinds: Vec<KustoType> = arg_fields.iter().map(|f| kusto_type_of(f)).collect();
        let ty = self.kusto_return_type(&kinds)?;
        let field = match &self.field_rule {
            Some(rule) => rule(arg_fields)?,
            None => ty.field(self.name),
        };
        Ok(Arc::new(field))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        (self.factory)(&aggregate_call(self.name, &acc_args))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        self.groups_factory.is_some()
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> DFResult<Box<dyn GroupsAccumulator>> {
        match &self.groups_factory {
            Some(factory) => factory(&aggregate_call(self.name, &args)),
            None => datafusion::common::not_impl_err!("{} has no groups accumulator", self.name),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        if let Some(rule) = &self.state_rule {
            return Ok(rule(args.input_fields));
        }
        Ok(vec![Arc::new(Field::new(
            format!("{}[state]", args.name),
            DataType::Binary,
            true,
        ))])
    }

    fn default_value(&self, data_type: &DataType) -> DFResult<ScalarValue> {
        ScalarValue::try_from(data_type)
    }
}

fn aggregate_call(name: &str, acc_args: &AccumulatorArgs) -> AggregateCall {
    AggregateCall {
        name: name.to_string(),
        arrow_types: acc_args
            .expr_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect(),
        types: acc_args
            .expr_fields
            .iter()
            .map(|f| kusto_type_of(f))
            .collect(),
        constants: acc_args
            .exprs
            .iter()
            .map(|e| {
                (e.as_ref() as &dyn std::any::Any)
                    .downcast_ref::<Literal>()
                    .map(|l| l.value().clone())
            })
            .collect(),
        return_field: Arc::clone(&acc_args.return_field),
    }
}

/// Every Kusto aggregation function this library implements as a UDAF.
pub fn all_aggregates() -> Vec<KustoAggregate> {
    let mut all = accumulators::functions();
    all.extend(stats::functions());
    all.extend(tdigest::functions());
    all
}

#[cfg(test)]
mod tests;
