//! How goshawk's plans cross process boundaries: Ballista's codecs extended with goshawk's
//! function library, the functions the planner builds for one query, lake tables and inline
//! (`datatable`) tables.
//!
//! goshawk's functions travel with a small JSON payload (`{"library": name}`,
//! `{"planner": ...}` or `{"typed": ...}`) instead of by bare name: the receiving process then
//! takes them from its own copy of goshawk's library. They are deliberately not put in the
//! scheduler's and executors' function registries, where DataFusion's own functions are found
//! by name: a goshawk function sharing a name with a built-in would shadow it there.
//! Anything that cannot be rebuilt on the other side (an operator computed in goshawk's own
//! process, a function carrying code made for one query) is refused when the plan is encoded,
//! with an error naming the Kusto operator or function, so a query never half-runs.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{
    AggregateUDF, Expr, Extension, HigherOrderUDF, LogicalPlan, ScalarUDF, WindowUDF,
};
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use goshawk_kql_engine::aggregate::KustoAggregate;
use goshawk_kql_engine::catalog::LakeTable;
use goshawk_kql_engine::planner::{planner_udf_from_json, planner_udf_to_json};
use goshawk_kql_engine::registry;
use goshawk_kql_engine::scalar::KustoScalar;
use goshawk_types::KustoType;
use serde_json::{Value, json};

use crate::typed::{TypedAggregate, TypedScalar};

/// Kusto operators and functions that goshawk builds with code for one query, by the name the
/// plan gives them, for the error that refuses them.
const OPERATOR_OF_FUNCTION: &[(&str, &str)] = &[("parse_kv", "parse-kv")];

fn scalar_library() -> &'static HashMap<String, Arc<ScalarUDF>> {
    static LIBRARY: OnceLock<HashMap<String, Arc<ScalarUDF>>> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        registry::plan_scalar_udfs()
            .into_iter()
            .map(|udf| (udf.name().to_string(), udf))
            .collect()
    })
}

fn aggregate_library() -> &'static HashMap<String, Arc<AggregateUDF>> {
    static LIBRARY: OnceLock<HashMap<String, Arc<AggregateUDF>>> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        registry::aggregate_udfs()
            .into_iter()
            .map(|udaf| (udaf.name().to_string(), udaf))
            .collect()
    })
}

/// The error for a plan that cannot run on a cluster.
fn not_distributable(what: String) -> DataFusionError {
    DataFusionError::NotImplemented(format!(
        "{what} cannot run on a cluster: it is computed by code inside this goshawk process, \
         which the executors do not have; run the query without --cluster"
    ))
}

fn encode_json(value: &Value, buf: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(buf, value).map_err(|e| DataFusionError::External(Box::new(e)))
}

fn decode_json(buf: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(buf).map_err(|e| {
        DataFusionError::Internal(format!(
            "cannot decode goshawk {what} from the plan: {e} (are the client, scheduler and \
             executors the same goshawk version?)"
        ))
    })
}

/// The payload of a typed call: the argument types and the payload of the called function.
fn typed_payload(name: &str, arg_types: &[KustoType], inner: Option<Value>) -> Result<Value> {
    let function = inner.ok_or_else(|| {
        DataFusionError::Internal(format!("typed call of `{name}`, which is not goshawk's"))
    })?;
    let arg_types: Vec<&str> = arg_types.iter().map(|ty| ty.name()).collect();
    Ok(json!({ "typed": { "arg_types": arg_types, "function": function } }))
}

/// The argument types and the function payload of a typed call's payload.
fn typed_parts(typed: &Value) -> Result<(Vec<KustoType>, &Value)> {
    let bad = || DataFusionError::Internal(format!("bad typed call in plan: {typed}"));
    let arg_types = typed
        .get("arg_types")
        .and_then(Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|name| {
            let name = name.as_str()?;
            KustoType::ALL.into_iter().find(|ty| ty.name() == name)
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((arg_types, typed.get("function").ok_or_else(bad)?))
}

/// A library function by name, or the error that says the processes differ.
fn from_library<T: Clone>(
    library: &HashMap<String, T>,
    library_name: &str,
    name: &str,
) -> Result<T> {
    library.get(library_name).cloned().ok_or_else(|| {
        DataFusionError::Plan(format!(
            "this goshawk has no function `{library_name}` (the plan calls it `{name}`); run \
             the same goshawk version on the client, scheduler and executors"
        ))
    })
}

fn unknown_payload(value: &Value) -> DataFusionError {
    DataFusionError::Internal(format!("unknown goshawk function in plan: {value}"))
}

/// How a scalar function travels: `None` by its name (DataFusion's own functions).
fn scalar_payload(udf: &ScalarUDF) -> Result<Option<Value>> {
    if let Some(typed) = udf.inner().downcast_ref::<TypedScalar>() {
        let inner = scalar_payload(&typed.inner)?;
        return typed_payload(udf.name(), &typed.arg_types, inner).map(Some);
    }
    if let Some(parameters) = planner_udf_to_json(udf) {
        return Ok(Some(json!({ "planner": parameters })));
    }
    if udf.inner().downcast_ref::<KustoScalar>().is_some() {
        let name = udf.name();
        if scalar_library().contains_key(name) {
            return Ok(Some(json!({ "library": name })));
        }
        let what = match OPERATOR_OF_FUNCTION.iter().find(|(f, _)| *f == name) {
            Some((_, operator)) => format!("the Kusto `{operator}` operator"),
            None => format!("the function `{name}`"),
        };
        return Err(not_distributable(what));
    }
    Ok(None)
}

fn scalar_from_payload(name: &str, value: &Value) -> Result<Arc<ScalarUDF>> {
    if let Some(typed) = value.get("typed") {
        let (arg_types, function) = typed_parts(typed)?;
        let inner = scalar_from_payload(name, function)?;
        return Ok(Arc::new(ScalarUDF::new_from_impl(TypedScalar {
            inner,
            arg_types,
        })));
    }
    if let Some(parameters) = value.get("planner") {
        return planner_udf_from_json(parameters).map_err(DataFusionError::Internal);
    }
    match value.get("library").and_then(Value::as_str) {
        Some(library_name) => from_library(scalar_library(), library_name, name),
        None => Err(unknown_payload(value)),
    }
}

fn encode_scalar(udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    match scalar_payload(udf)? {
        Some(payload) => encode_json(&payload, buf),
        // DataFusion's own functions go by name; every DataFusion session has them.
        None => Ok(()),
    }
}

fn decode_scalar(name: &str, buf: &[u8]) -> Result<Option<Arc<ScalarUDF>>> {
    if buf.is_empty() {
        return Ok(None);
    }
    let value = decode_json(buf, "function")?;
    scalar_from_payload(name, &value).map(Some)
}

fn aggregate_payload(udaf: &AggregateUDF) -> Result<Option<Value>> {
    if let Some(typed) = udaf.inner().downcast_ref::<TypedAggregate>() {
        let inner = aggregate_payload(&typed.inner)?;
        return typed_payload(udaf.name(), &typed.arg_types, inner).map(Some);
    }
    if udaf.inner().downcast_ref::<KustoAggregate>().is_some() {
        let name = udaf.name();
        if aggregate_library().contains_key(name) {
            return Ok(Some(json!({ "library": name })));
        }
        return Err(not_distributable(format!("the aggregation `{name}`")));
    }
    Ok(None)
}

fn aggregate_from_payload(name: &str, value: &Value) -> Result<Arc<AggregateUDF>> {
    if let Some(typed) = value.get("typed") {
        let (arg_types, function) = typed_parts(typed)?;
        let inner = aggregate_from_payload(name, function)?;
        return Ok(Arc::new(AggregateUDF::new_from_impl(TypedAggregate {
            inner,
            arg_types,
        })));
    }
    match value.get("library").and_then(Value::as_str) {
        Some(library_name) => from_library(aggregate_library(), library_name, name),
        None => Err(unknown_payload(value)),
    }
}

fn encode_aggregate(udaf: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
    match aggregate_payload(udaf)? {
        Some(payload) => encode_json(&payload, buf),
        None => Ok(()),
    }
}

fn decode_aggregate(name: &str, buf: &[u8]) -> Result<Option<Arc<AggregateUDF>>> {
    if buf.is_empty() {
        return Ok(None);
    }
    let value = decode_json(buf, "aggregation")?;
    aggregate_from_payload(name, &value).map(Some)
}

/// Refuses, by name, a plan that the cluster could not run: an operator computed in this
/// process, or a function built with code for one query. Plan encoding alone does not: it
/// ignores a function codec's errors and sends the function by name, which the scheduler then
/// cannot find.
pub fn refuse_undistributable(plan: &LogicalPlan) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Extension(extension) = node {
            GoshawkLogicalCodec::default().try_encode(extension, &mut Vec::new())?;
        }
        node.apply_expressions(|expr| {
            expr.apply(|expr| {
                match expr {
                    Expr::ScalarFunction(call) => {
                        scalar_payload(&call.func)?;
                    }
                    Expr::AggregateFunction(call) => {
                        aggregate_payload(&call.func)?;
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .map(drop)
}

/// Arrow IPC stream of `batches`.
fn ipc_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

fn ipc_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// How a table travels: a lake table as its day partitions and file locations, an inline
/// table (`datatable`, `print`, a table loaded from a file) as Arrow IPC.
fn encode_table(node: &Arc<dyn TableProvider>, buf: &mut Vec<u8>) -> Result<bool> {
    if let Some(lake) = node.downcast_ref::<LakeTable>() {
        let days: Vec<Value> = lake
            .days()
            .iter()
            .map(|(start, files)| json!([start, files]))
            .collect();
        buf.push(b'L');
        encode_json(&json!({ "days": days }), buf)?;
        return Ok(true);
    }
    if let Some(memory) = node.downcast_ref::<MemTable>() {
        let schema = memory.schema();
        let mut partitions = Vec::with_capacity(memory.batches.len());
        for partition in &memory.batches {
            let batches = partition.try_read().map_err(|_| {
                DataFusionError::Internal("an inline table is being written to".to_string())
            })?;
            partitions.push(ipc_bytes(&schema, &batches)?);
        }
        buf.push(b'M');
        buf.extend_from_slice(&(partitions.len() as u64).to_le_bytes());
        for partition in partitions {
            buf.extend_from_slice(&(partition.len() as u64).to_le_bytes());
            buf.extend_from_slice(&partition);
        }
        return Ok(true);
    }
    Ok(false)
}

fn decode_table(buf: &[u8], schema: SchemaRef) -> Result<Option<Arc<dyn TableProvider>>> {
    match buf.split_first() {
        Some((b'L', rest)) => {
            let value = decode_json(rest, "lake table")?;
            let bad = || DataFusionError::Internal(format!("bad lake table in plan: {value}"));
            let mut days = Vec::new();
            for day in value
                .get("days")
                .and_then(Value::as_array)
                .ok_or_else(bad)?
            {
                let start = day.get(0).and_then(Value::as_i64).ok_or_else(bad)?;
                let files = day
                    .get(1)
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|f| f.as_str().map(str::to_string).ok_or_else(bad))
                    .collect::<Result<Vec<_>>>()?;
                days.push((start, files));
            }
            Ok(Some(Arc::new(LakeTable::from_days(days, schema))))
        }
        Some((b'M', mut rest)) => {
            let mut take = |n: usize| -> Result<&[u8]> {
                if rest.len() < n {
                    return Err(DataFusionError::Internal(
                        "inline table cut short in plan".to_string(),
                    ));
                }
                let (head, tail) = rest.split_at(n);
                rest = tail;
                Ok(head)
            };
            let count = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
            let mut partitions = Vec::new();
            for _ in 0..count {
                let len = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
                let len = usize::try_from(len)
                    .map_err(|_| DataFusionError::Internal("inline table too big".into()))?;
                partitions.push(ipc_batches(take(len)?)?);
            }
            Ok(Some(Arc::new(MemTable::try_new(schema, partitions)?)))
        }
        _ => Ok(None),
    }
}

/// Ballista's logical codec, plus goshawk's functions and tables.
#[derive(Debug, Default)]
pub struct GoshawkLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for GoshawkLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        match self.ballista.try_encode(node, buf) {
            Ok(()) => Ok(()),
            // Ballista knows its own nodes only; goshawk's are operators computed in process.
            Err(_) => Err(not_distributable(format!(
                "the Kusto `{}` operator",
                node.node.name()
            ))),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match decode_table(buf, schema.clone())? {
            Some(table) => Ok(table),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if encode_table(&node, buf)? {
            return Ok(());
        }
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
            .map_err(|_| {
                DataFusionError::NotImplemented(format!(
                    "table `{table_ref}` cannot be sent to a cluster: only lake tables and \
                     inline tables can"
                ))
            })
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_scalar(name, buf)? {
            Some(udf) => Ok(udf),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_scalar(node, buf)
    }

    fn try_decode_higher_order_function(
        &self,
        name: &str,
        buf: &[u8],
    ) -> Result<Arc<HigherOrderUDF>> {
        self.ballista.try_decode_higher_order_function(name, buf)
    }

    fn try_encode_higher_order_function(
        &self,
        node: &HigherOrderUDF,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.ballista.try_encode_higher_order_function(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match decode_aggregate(name, buf)? {
            Some(udaf) => Ok(udaf),
            None => self.ballista.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_aggregate(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udwf(node, buf)
    }
}

/// Ballista's physical codec, plus goshawk's functions.
#[derive(Debug, Default)]
pub struct GoshawkPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for GoshawkPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_scalar(name, buf)? {
            Some(udf) => Ok(udf),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_scalar(node, buf)
    }

    fn try_decode_higher_order_function(
        &self,
        name: &str,
        buf: &[u8],
    ) -> Result<Arc<HigherOrderUDF>> {
        self.ballista.try_decode_higher_order_function(name, buf)
    }

    fn try_encode_higher_order_function(
        &self,
        node: &HigherOrderUDF,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.ballista.try_encode_higher_order_function(node, buf)
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        self.ballista.try_decode_expr(buf, inputs, ctx)
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        self.ballista.try_encode_expr(node, buf, ctx)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match decode_aggregate(name, buf)? {
            Some(udaf) => Ok(udaf),
            None => self.ballista.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_aggregate(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    };
    use goshawk_kql_engine::catalog::MemoryCatalog;
    use goshawk_kql_engine::planner::{Planner, without_literal_metadata};

    fn catalog() -> MemoryCatalog {
        let mut catalog = MemoryCatalog::new();
        let schema = goshawk_types::arrow_schema([
            ("Caller", KustoType::String),
            ("Claims_d", KustoType::Dynamic),
            ("TimeGenerated", KustoType::DateTime),
        ]);
        catalog.add_batches("T", schema, Vec::new()).unwrap();
        catalog
    }

    fn plan(text: &str) -> LogicalPlan {
        let planned = Planner::new(&catalog(), 0).plan_text(text).unwrap();
        let plan = without_literal_metadata(planned.plan).unwrap().data;
        crate::typed::typed_calls(plan).unwrap().data
    }

    #[test]
    fn plans_with_dynamic_access_mv_expand_and_sets_round_trip() {
        let plan = plan(
            "T | extend Issuer = tostring(Claims_d.iss) | mv-expand Role = Claims_d.roles \
             | summarize Roles = make_set(tostring(Role), 5), n = dcount(Caller) by Issuer",
        );
        let codec = GoshawkLogicalCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec).unwrap();
        let context = SessionContext::new();
        let decoded =
            logical_plan_from_bytes_with_extension_codec(&bytes, &context.task_ctx(), &codec)
                .unwrap();
        assert_eq!(
            plan.display_indent_schema().to_string(),
            decoded.display_indent_schema().to_string()
        );
    }

    #[test]
    fn parse_kv_is_refused_by_name() {
        let plan = Planner::new(&catalog(), 0)
            .plan_text(
                "T | parse-kv Caller as (a: string) with (pair_delimiter=',', kv_delimiter='=')",
            )
            .unwrap()
            .plan;
        let err = refuse_undistributable(&plan).unwrap_err().to_string();
        assert!(
            err.contains("`parse-kv`") && err.contains("cannot run on a cluster"),
            "{err}"
        );
    }

    #[test]
    fn operators_computed_in_process_are_refused_by_name() {
        let plan = plan("T | make-series n = count() on TimeGenerated step 1d by Caller");
        let err = refuse_undistributable(&plan).unwrap_err().to_string();
        assert!(
            err.contains("`make-series`") && err.contains("cannot run on a cluster"),
            "{err}"
        );
    }
}
