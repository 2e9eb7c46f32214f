//! Kusto types that survive the trip to the executors.
//!
//! goshawk's functions read the Kusto type of each argument from its Arrow field metadata (a
//! `dynamic` value and a `string` are both Arrow text). DataFusion's physical plan encoding
//! keeps the metadata of table columns but rebuilds the result field of every function call
//! from its Arrow type alone, so an executor would see `tostring(parse_json(x).Name)` as
//! `tostring` of a string and keep the JSON quotes. Before a plan leaves the client, each call
//! of a goshawk function whose argument types the Arrow types alone do not tell is wrapped in
//! [`TypedScalar`] / [`TypedAggregate`], which carry the argument types and restore them on
//! the other side. Names do not change: a wrapper has its function's name.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DFSchemaRef, Result};
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ExprSchemable,
    GroupsAccumulator, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::scalar::ScalarValue;
use goshawk_kql_engine::aggregate::KustoAggregate;
use goshawk_kql_engine::planner::{planner_udf_to_json, rewrite_expressions};
use goshawk_kql_engine::scalar::{KustoScalar, kusto_type_of};
use goshawk_types::{KUSTO_TYPE_METADATA_KEY, KustoType};

/// The Kusto type a field without goshawk's metadata reads as.
fn type_without_metadata(data_type: &DataType) -> KustoType {
    kusto_type_of(&Field::new("arg", data_type.clone(), true))
}

/// `fields` with the recorded Kusto types in their metadata, where the Arrow type agrees.
fn restore(fields: &[FieldRef], types: &[KustoType]) -> Vec<FieldRef> {
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| match types.get(index) {
            Some(ty) if ty.arrow_type() == *field.data_type() => {
                let mut metadata: HashMap<String, String> = field.metadata().clone();
                metadata.insert(KUSTO_TYPE_METADATA_KEY.to_string(), ty.name().to_string());
                Arc::new(field.as_ref().clone().with_metadata(metadata))
            }
            _ => Arc::clone(field),
        })
        .collect()
}

/// A goshawk scalar function with the Kusto types of its arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TypedScalar {
    pub inner: Arc<ScalarUDF>,
    pub arg_types: Vec<KustoType>,
}

impl ScalarUDFImpl for TypedScalar {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let fields = restore(args.arg_fields, &self.arg_types);
        self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &fields,
            scalar_arguments: args.scalar_arguments,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arg_fields = restore(&args.arg_fields, &self.arg_types);
        self.inner
            .invoke_with_args(ScalarFunctionArgs { arg_fields, ..args })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }
}

/// A goshawk aggregation with the Kusto types of its arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TypedAggregate {
    pub inner: Arc<AggregateUDF>,
    pub arg_types: Vec<KustoType>,
}

impl AggregateUDFImpl for TypedAggregate {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner
            .return_field(&restore(arg_fields, &self.arg_types))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let expr_fields = restore(args.expr_fields, &self.arg_types);
        self.inner.accumulator(AccumulatorArgs {
            expr_fields: &expr_fields,
            ..args
        })
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        let expr_fields = restore(args.expr_fields, &self.arg_types);
        self.inner.groups_accumulator_supported(AccumulatorArgs {
            expr_fields: &expr_fields,
            ..args
        })
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let expr_fields = restore(args.expr_fields, &self.arg_types);
        self.inner.create_groups_accumulator(AccumulatorArgs {
            expr_fields: &expr_fields,
            ..args
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let input_fields = restore(args.input_fields, &self.arg_types);
        self.inner.state_fields(StateFieldsArgs {
            input_fields: &input_fields,
            ..args
        })
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
}

fn is_goshawk_scalar(udf: &ScalarUDF) -> bool {
    udf.inner().downcast_ref::<KustoScalar>().is_some() || planner_udf_to_json(udf).is_some()
}

/// The argument types to carry, or `None` when the Arrow types alone tell them.
fn types_to_carry(args: &[Expr], schema: &DFSchema) -> Option<Vec<KustoType>> {
    let mut types = Vec::with_capacity(args.len());
    let mut needed = false;
    for arg in args {
        let (_, field) = arg.to_field(schema).ok()?;
        let ty = kusto_type_of(&field);
        needed |= ty != type_without_metadata(field.data_type());
        types.push(ty);
    }
    needed.then_some(types)
}

fn wrap_call(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::ScalarFunction(ScalarFunction { func, args })
            if is_goshawk_scalar(&func) && func.inner().downcast_ref::<TypedScalar>().is_none() =>
        {
            match types_to_carry(&args, schema) {
                Some(arg_types) => {
                    let typed = ScalarUDF::new_from_impl(TypedScalar {
                        inner: func,
                        arg_types,
                    });
                    Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(Arc::new(typed), args),
                    )))
                }
                None => Ok(Transformed::no(Expr::ScalarFunction(ScalarFunction {
                    func,
                    args,
                }))),
            }
        }
        Expr::AggregateFunction(AggregateFunction { func, params })
            if func.inner().downcast_ref::<KustoAggregate>().is_some() =>
        {
            match types_to_carry(&params.args, schema) {
                Some(arg_types) => {
                    let typed = AggregateUDF::new_from_impl(TypedAggregate {
                        inner: func,
                        arg_types,
                    });
                    Ok(Transformed::yes(Expr::AggregateFunction(
                        AggregateFunction {
                            func: Arc::new(typed),
                            params,
                        },
                    )))
                }
                None => Ok(Transformed::no(Expr::AggregateFunction(
                    AggregateFunction { func, params },
                ))),
            }
        }
        other => Ok(Transformed::no(other)),
    }
}

/// The schema a node's expressions are resolved against.
fn expression_schema(node: &LogicalPlan) -> Result<DFSchemaRef> {
    match node {
        LogicalPlan::TableScan(scan) => Ok(Arc::new(DFSchema::try_from_qualified_schema(
            scan.table_name.clone(),
            &scan.source.schema(),
        )?)),
        LogicalPlan::Join(_) => Ok(Arc::clone(node.schema())),
        _ => {
            let inputs = node.inputs();
            match inputs.as_slice() {
                [] => Ok(Arc::clone(node.schema())),
                [input] => Ok(Arc::clone(input.schema())),
                [first, rest @ ..] => {
                    let mut schema = first.schema().as_ref().clone();
                    for input in rest {
                        schema.merge(input.schema());
                    }
                    Ok(Arc::new(schema))
                }
            }
        }
    }
}

/// Wraps the calls of goshawk functions whose argument types need carrying; every
/// expression keeps its name.
pub fn typed_calls(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    rewrite_expressions(plan, |node| {
        let schema = expression_schema(node)?;
        Ok(move |expr| wrap_call(expr, &schema))
    })
}
