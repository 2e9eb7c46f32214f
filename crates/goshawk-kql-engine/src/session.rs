//! Execution: planned queries run on a DataFusion session and come back as Arrow record
//! batches together with their Kusto schema and render request.

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::{SendableRecordBatchStream, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};
use goshawk_kql_syntax::{Diagnostic, RenderOptions};

use crate::catalog::{Catalog, KustoColumn};
use crate::planner::{PlannedQuery, Planner, RenderSpec};

/// A query result: Arrow batches whose columns are described by `columns`.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub columns: Vec<KustoColumn>,
    pub batches: Vec<RecordBatch>,
    pub render: Option<RenderSpec>,
}

impl QueryResult {
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Why a query did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse or does not make sense (has a source span).
    #[error("{0}")]
    Plan(Diagnostic),
    /// The query failed while running.
    #[error("query failed: {0}")]
    Execution(DataFusionError),
}

impl QueryError {
    /// The error as text: with line, column and a caret for planning errors.
    pub fn render(&self, source: &str, origin: &str) -> String {
        match self {
            QueryError::Plan(diagnostic) => diagnostic.render(
                source,
                &RenderOptions {
                    origin,
                    ..RenderOptions::default()
                },
            ),
            QueryError::Execution(err) => format!("error: {}\n", err.strip_backtrace()),
        }
    }
}

/// Plans and runs KQL queries over a catalog.
pub struct QueryEngine<'a> {
    catalog: &'a dyn Catalog,
    now_nanos: i64,
    context: SessionContext,
}

impl<'a> QueryEngine<'a> {
    /// `now_nanos` pins `now()` and `ago()` (nanoseconds since the epoch, UTC).
    pub fn new(catalog: &'a dyn Catalog, now_nanos: i64) -> QueryEngine<'a> {
        QueryEngine {
            catalog,
            now_nanos,
            context: crate::planner::session_context(SessionConfig::new(), None),
        }
    }

    /// Caps the memory that sorts, aggregations and joins may reserve; past it a query fails
    /// with DataFusion's `ResourcesExhausted` error instead of growing without bound (used by
    /// `goshawk serve`, where one query must not take the memory every other query needs).
    /// Spilling to disk is off, so the limit is a limit and not a switch to slow temp files.
    pub fn with_memory_limit(mut self, bytes: usize) -> Result<QueryEngine<'a>, QueryError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(bytes, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(QueryError::Execution)?;
        self.context = crate::planner::session_context(SessionConfig::new(), Some(runtime));
        Ok(self)
    }

    /// Splits scans and operators into `partitions` (DataFusion's default is one per core);
    /// 1 runs a query on one core, as the ML throughput benchmark measures it.
    pub fn with_target_partitions(mut self, partitions: usize) -> QueryEngine<'a> {
        let config = self
            .context
            .copied_config()
            .with_target_partitions(partitions.max(1));
        self.context = crate::planner::session_context(config, Some(self.context.runtime_env()));
        self
    }

    /// Runs plans on `context` instead of a local session: a session whose query planner sends
    /// plans elsewhere (a Ballista cluster) runs every query there. `context` must know the
    /// functions the planner calls by name ([`crate::registry::plan_scalar_udfs`]).
    pub fn with_context(mut self, context: SessionContext) -> QueryEngine<'a> {
        self.context = context;
        self
    }

    pub fn plan(&self, text: &str) -> Result<PlannedQuery, QueryError> {
        Planner::new(self.catalog, self.now_nanos)
            .plan_text(text)
            .map_err(QueryError::Plan)
    }

    /// Plans and runs `text`.
    pub async fn query(&self, text: &str) -> Result<QueryResult, QueryError> {
        let planned = self.plan(text)?;
        self.execute(planned).await
    }

    pub async fn execute(&self, planned: PlannedQuery) -> Result<QueryResult, QueryError> {
        let frame = self
            .context
            .execute_logical_plan(planned.plan)
            .await
            .map_err(QueryError::Execution)?;
        let batches = frame.collect().await.map_err(QueryError::Execution)?;
        Ok(QueryResult {
            columns: planned.columns,
            batches,
            render: planned.render,
        })
    }

    /// Runs `planned` and hands its batches over as they are produced, so that a consumer
    /// that folds them (an ML datafeed) holds one batch at a time rather than the whole result.
    pub async fn execute_stream(
        &self,
        planned: PlannedQuery,
    ) -> Result<SendableRecordBatchStream, QueryError> {
        let frame = self
            .context
            .execute_logical_plan(planned.plan)
            .await
            .map_err(QueryError::Execution)?;
        frame.execute_stream().await.map_err(QueryError::Execution)
    }

    /// The logical plan as planned, the optimized logical plan and the physical plan.
    pub async fn explain(&self, text: &str) -> Result<String, QueryError> {
        let planned = self.plan(text)?;
        let state = self.context.state();
        let optimized = state
            .optimize(&planned.plan)
            .map_err(QueryError::Execution)?;
        let physical = state
            .create_physical_plan(&planned.plan)
            .await
            .map_err(QueryError::Execution)?;
        Ok(format!(
            "== Logical plan ==\n{}\n\n== Optimized logical plan ==\n{}\n\n== Physical plan ==\n{}",
            planned.plan.display_indent(),
            optimized.display_indent(),
            displayable(physical.as_ref()).indent(true)
        ))
    }
}
