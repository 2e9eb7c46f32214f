//! A plan node for operators that need the whole input at once and compute their output in
//! Rust (`make-series` gathering, `scan`, the `evaluate` plugins): a logical extension node, the
//! physical planner that turns it into [`MaterializeExec`], and the execution plan that
//! collects the input (in one partition, in input order) and applies the operator's function.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, Result as DFResult};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, PlanProperties,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use crate::catalog::KustoColumn;

/// The operator's computation: all input batches (with the input schema) to the output batch,
/// whose schema must be the node's output schema.
pub(crate) type RowsFn =
    Arc<dyn Fn(&SchemaRef, &[RecordBatch], &SchemaRef) -> DFResult<RecordBatch> + Send + Sync>;

/// The logical node: `name` is the Kusto operator, for `explain` and errors.
#[derive(Clone)]
pub(crate) struct Materialize {
    name: String,
    input: LogicalPlan,
    schema: DFSchemaRef,
    func: RowsFn,
}

impl Materialize {
    /// Wraps `input` in a node producing `columns` with `func`.
    pub(crate) fn plan(
        name: &str,
        input: LogicalPlan,
        columns: &[KustoColumn],
        func: RowsFn,
    ) -> DFResult<LogicalPlan> {
        let fields: Vec<_> = columns.iter().map(|c| c.ty.field(&c.name)).collect();
        let schema = Arc::new(DFSchema::try_from(Schema::new(fields))?);
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(Materialize {
                name: name.to_string(),
                input,
                schema,
                func,
            }),
        }))
    }
}

impl fmt::Debug for Materialize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kusto {}", self.name)
    }
}

impl PartialEq for Materialize {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.input == other.input
            && self.schema == other.schema
            && Arc::ptr_eq(&self.func, &other.func)
    }
}

impl Eq for Materialize {}

impl Hash for Materialize {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.input.hash(state);
    }
}

impl PartialOrd for Materialize {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self == other {
            return Some(std::cmp::Ordering::Equal);
        }
        match self.name.partial_cmp(&other.name) {
            Some(std::cmp::Ordering::Equal) => None,
            ordering => ordering,
        }
    }
}

impl UserDefinedLogicalNodeCore for Materialize {
    fn name(&self) -> &str {
        &self.name
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Kusto {}", self.name)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DFResult<Self> {
        let mut copy = self.clone();
        if let Some(input) = inputs.into_iter().next() {
            copy.input = input;
        }
        Ok(copy)
    }
}

/// Plans [`Materialize`] nodes; everything else is DataFusion's default planning.
#[derive(Debug, Default)]
pub struct KustoQueryPlanner;

#[async_trait]
impl QueryPlanner for KustoQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn datafusion::catalog::Session,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(MaterializePlanner)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}

struct MaterializePlanner;

#[async_trait]
impl ExtensionPlanner for MaterializePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session_state: &dyn datafusion::catalog::Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> DFResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<Materialize>() else {
            return Ok(None);
        };
        let Some(input) = physical_inputs.first() else {
            return Ok(None);
        };
        let schema: SchemaRef = Arc::new(node.schema.as_arrow().clone());
        Ok(Some(Arc::new(MaterializeExec::new(
            node.name.clone(),
            Arc::clone(input),
            schema,
            Arc::clone(&node.func),
        ))))
    }
}

/// Runs a [`Materialize`] node: one output partition with one batch.
pub(crate) struct MaterializeExec {
    name: String,
    input: Arc<dyn ExecutionPlan>,
    func: RowsFn,
    properties: Arc<PlanProperties>,
}

impl MaterializeExec {
    fn new(
        name: String,
        input: Arc<dyn ExecutionPlan>,
        schema: SchemaRef,
        func: RowsFn,
    ) -> MaterializeExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        MaterializeExec {
            name,
            input,
            func,
            properties: Arc::new(properties),
        }
    }
}

impl fmt::Debug for MaterializeExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KustoMaterializeExec({})", self.name)
    }
}

impl DisplayAs for MaterializeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "KustoMaterializeExec: {}", self.name)
    }
}

impl ExecutionPlan for MaterializeExec {
    fn name(&self) -> &str {
        "KustoMaterializeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let input = children
            .into_iter()
            .next()
            .unwrap_or_else(|| Arc::clone(&self.input));
        Ok(Arc::new(MaterializeExec::new(
            self.name.clone(),
            input,
            self.schema(),
            Arc::clone(&self.func),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let schema = self.schema();
        let mut builder = RecordBatchReceiverStream::builder(Arc::clone(&schema), 1);
        let tx = builder.tx();
        let input_schema = self.input.schema();
        let func = Arc::clone(&self.func);
        let stream = if partition == 0 {
            Some(self.input.execute(0, context)?)
        } else {
            None
        };
        builder.spawn(async move {
            let Some(stream) = stream else {
                return Ok(());
            };
            let batches = datafusion::physical_plan::common::collect(stream).await?;
            let output = func(&input_schema, &batches, &schema)?;
            // A closed receiver means the consumer stopped reading: nothing left to do.
            let _ = tx.send(Ok(output)).await;
            Ok(())
        });
        Ok(builder.build())
    }
}

/// A DataFusion session that can run the plans the KQL planner makes (with [`Materialize`]
/// nodes); `runtime` replaces the default runtime (for memory limits).
pub fn session_context(
    config: datafusion::prelude::SessionConfig,
    runtime: Option<Arc<datafusion::execution::runtime_env::RuntimeEnv>>,
) -> datafusion::prelude::SessionContext {
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_query_planner(Arc::new(KustoQueryPlanner));
    if let Some(runtime) = runtime {
        builder = builder.with_runtime_env(runtime);
    }
    datafusion::prelude::SessionContext::new_with_state(builder.build())
}
