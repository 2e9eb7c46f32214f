//! The cluster's processes (a scheduler, executors) and the client's connection to them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::tree_node::Transformed;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::logical_plan_to_bytes_with_extension_codec;
use goshawk_kql_engine::planner::without_literal_metadata;

use crate::ClusterError;
use crate::codec::{GoshawkLogicalCodec, GoshawkPhysicalCodec, refuse_undistributable};
use crate::objects::LakeObjectStores;

/// A runtime whose object store registry opens lake URLs (`az://`, `s3://`, `file://`) on
/// first use.
fn runtime_env(temp_dir: Option<&PathBuf>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(LakeObjectStores::default()));
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir.clone());
    }
    Ok(Arc::new(builder.build()?))
}

/// Ballista's session configuration with goshawk's codecs.
fn session_config() -> SessionConfig {
    with_codecs(SessionConfig::new_with_ballista())
}

fn with_codecs(config: SessionConfig) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(GoshawkLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(GoshawkPhysicalCodec::default()))
}

/// Fails clearly when `address` is taken or not ours, before Ballista's own setup (which
/// would report it less plainly).
pub fn ensure_can_listen(address: SocketAddr) -> Result<(), ClusterError> {
    std::net::TcpListener::bind(address)
        .map(drop)
        .map_err(|source| ClusterError::Bind { address, source })
}

/// How to run a scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// The host name executors and clients reach this scheduler by (default: the bind
    /// address, or `localhost` when it binds every interface).
    pub external_host: Option<String>,
}

fn reachable_host(bind: &SocketAddr, external: &Option<String>) -> String {
    match external {
        Some(host) => host.clone(),
        None if bind.ip().is_unspecified() => "localhost".to_string(),
        None => bind.ip().to_string(),
    }
}

/// Runs a Ballista scheduler that decodes goshawk's plans, until the process ends.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: reachable_host(&options.bind, &options.external_host),
        override_logical_codec: Some(Arc::new(GoshawkLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GoshawkPhysicalCodec::default())),
        ..SchedulerConfig::default()
    }
    .with_override_config_producer(Arc::new(session_config))
    .with_override_session_builder(Arc::new(|config: SessionConfig| {
        let state = default_session_builder(config)?;
        Ok(SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime_env(None)?)
            .build())
    }));
    ensure_can_listen(options.bind)?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, options.bind, Arc::new(config)).await?;
    Ok(())
}

/// How to run an executor.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// The Arrow Flight service (results and shuffle data); the gRPC service listens on the
    /// next port.
    pub bind: SocketAddr,
    /// The host name the scheduler, other executors and clients reach this executor by.
    pub external_host: Option<String>,
    /// Tasks run at once (default: the number of cores).
    pub concurrent_tasks: Option<usize>,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
}

/// Runs a Ballista executor that decodes goshawk's plans and reads lakes by URL, until it is
/// stopped (Ctrl-C or SIGTERM).
pub async fn run_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    let grpc_port = options
        .bind
        .port()
        .checked_add(1)
        .ok_or_else(|| ClusterError::Bind {
            address: options.bind,
            source: std::io::Error::other("the gRPC service needs the port after --bind's"),
        })?;
    let work_dir = options.work_dir.clone();
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        grpc_port,
        external_host: options
            .external_host
            .clone()
            .or_else(|| Some(reachable_host(&options.bind, &None))),
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Wait for a scheduler that starts after the executor, as one started by a service
        // manager may.
        scheduler_connect_timeout_seconds: 30,
        vcores: options.concurrent_tasks.unwrap_or(defaults.vcores).max(1),
        work_dir: options
            .work_dir
            .as_ref()
            .map(|dir| dir.to_string_lossy().into_owned()),
        override_config_producer: Some(Arc::new(session_config)),
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            runtime_env(work_dir.as_ref())
        })),
        override_logical_codec: Some(Arc::new(GoshawkLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GoshawkPhysicalCodec::default())),
        override_execution_engine: Some(Arc::new(crate::engine::WithoutOperatorMetrics::default())),
        ..defaults
    };
    ensure_can_listen(options.bind)?;
    ensure_can_listen(SocketAddr::new(options.bind.ip(), grpc_port))?;
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// The scheduler address of a `df://HOST:PORT` URL.
fn scheduler_url(url: &str) -> Result<String, ClusterError> {
    let bad = || ClusterError::BadClusterUrl(url.to_string());
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    if parsed.scheme() != "df" || parsed.host_str().is_none() || parsed.port().is_none() {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// The last optimizer rule of a client session: the plan sent to the scheduler keeps its
/// literals' Kusto types and its column names (see `without_literal_metadata`).
#[derive(Debug)]
struct PortablePlan;

impl OptimizerRule for PortablePlan {
    fn name(&self) -> &str {
        "goshawk_portable_plan"
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> datafusion::error::Result<Transformed<LogicalPlan>> {
        refuse_undistributable(&plan)?;
        let plan = without_literal_metadata(plan)?;
        let transformed = plan.transformed;
        let typed = crate::typed::typed_calls(plan.data)?;
        Ok(Transformed::new_transformed(
            typed.data,
            transformed || typed.transformed,
        ))
    }
}

/// A session whose queries run on the cluster at `url` (`df://HOST:PORT`). Use it with
/// `QueryEngine::with_context`. DataFusion's `DATAFUSION_*` environment variables configure
/// it; `DATAFUSION_EXECUTION_TARGET_PARTITIONS` is the number of partitions of each stage
/// (default: this machine's cores), which should match the cluster's task slots.
pub async fn connect(url: &str) -> Result<SessionContext, ClusterError> {
    let url = scheduler_url(url)?;
    let config = with_codecs(SessionConfig::from_env()?.upgrade_for_ballista());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime_env(None)?)
        .with_default_features()
        .build();
    let remote = SessionContext::remote_with_state(&url, state).await?;
    let state = SessionStateBuilder::new_from_existing(remote.state())
        .with_optimizer_rule(Arc::new(PortablePlan))
        .build();
    Ok(SessionContext::new_with_state(state))
}

/// A local session (goshawk's own query planner, as `QueryEngine::new` has) that also reads
/// lakes by URL: for a query over a lake in object storage run without a cluster.
pub fn local_session() -> Result<SessionContext, ClusterError> {
    Ok(goshawk_kql_engine::planner::session_context(
        SessionConfig::new(),
        Some(runtime_env(None)?),
    ))
}

/// Encodes `plan` as the cluster will receive it, so that a query that cannot be distributed
/// fails before it is submitted, with the codec's error naming the operator or function.
pub fn check_distributable(plan: &LogicalPlan) -> Result<(), ClusterError> {
    refuse_undistributable(plan)?;
    logical_plan_to_bytes_with_extension_codec(plan, &GoshawkLogicalCodec::default())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_need_the_df_scheme_a_host_and_a_port() {
        assert!(scheduler_url("df://127.0.0.1:50050").is_ok());
        for bad in [
            "http://127.0.0.1:50050",
            "df://127.0.0.1",
            "127.0.0.1:50050",
        ] {
            let err = scheduler_url(bad).unwrap_err().to_string();
            assert!(err.contains("expected df://HOST:PORT"), "{bad}: {err}");
        }
    }
}
