//! `goshawk scheduler` and `goshawk executor` (feature `distributed`): the processes of a
//! DataFusion Ballista cluster that runs goshawk's queries; and the lake and session choices
//! that `--data URL` and `--cluster df://HOST:PORT` make for `query` and `hunt`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use goshawk_cluster::{ExecutorOptions, LakeLocation, SchedulerOptions};
use goshawk_kql_engine::catalog::{Catalog, LakeCatalog};

use super::query::runtime;

/// Run a cluster scheduler: clients send it queries (`--cluster df://HOST:PORT`), it splits
/// them into stages and hands them to its executors.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example (three hosts; the lake on a shared path or in object storage):
  host-a$ goshawk scheduler --bind 0.0.0.0:50050 --external-host host-a
  host-b$ goshawk executor --scheduler host-a:50050 --bind 0.0.0.0:50051 --external-host host-b
  host-c$ goshawk executor --scheduler host-a:50050 --bind 0.0.0.0:50051 --external-host host-c
  laptop$ goshawk query --cluster df://host-a:50050 --data abfss://logs@acct.dfs.core.windows.net/lake hunt.kql

Logs: RUST_LOG=info prints Ballista's job and task events to stderr (scheduler and executor).")]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: SocketAddr,
    /// Host name executors and clients reach this scheduler by (default: the bind address).
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
}

/// Run a cluster executor: it registers with the scheduler, runs the tasks it is given and
/// serves their results over Arrow Flight.
#[derive(Debug, clap::Args)]
#[command(after_help = "Logs: RUST_LOG=info prints Ballista's task events to stderr.")]
pub struct ExecutorArgs {
    /// The scheduler to register with.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address of the Arrow Flight service (results and shuffle data); the executor's gRPC
    /// service listens on the next port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub bind: SocketAddr,
    /// Host name the scheduler, the other executors and clients reach this executor by.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks to run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub concurrent_tasks: Option<usize>,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// Ballista's own log (job and task events, errors), to stderr when `RUST_LOG` asks for it
/// (`RUST_LOG=info`, `RUST_LOG=ballista_scheduler=debug`).
fn init_log() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        // Fails only if a subscriber is already set, which is then used instead.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

pub fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    init_log();
    goshawk_cluster::ensure_can_listen(args.bind)?;
    eprintln!("goshawk scheduler listening on {}", args.bind);
    runtime()?.block_on(goshawk_cluster::run_scheduler(SchedulerOptions {
        bind: args.bind,
        external_host: args.external_host,
    }))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_executor(args: ExecutorArgs) -> anyhow::Result<ExitCode> {
    init_log();
    let (host, port) = args
        .scheduler
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_string(), port.parse::<u16>().ok()?)))
        .with_context(|| format!("--scheduler expects HOST:PORT, got '{}'", args.scheduler))?;
    goshawk_cluster::ensure_can_listen(args.bind)?;
    eprintln!(
        "goshawk executor on {} (gRPC on port {}), scheduler {host}:{port}",
        args.bind,
        args.bind.port().saturating_add(1)
    );
    runtime()?.block_on(goshawk_cluster::run_executor(ExecutorOptions {
        scheduler_host: host,
        scheduler_port: port,
        bind: args.bind,
        external_host: args.external_host,
        concurrent_tasks: args.concurrent_tasks,
        work_dir: args.work_dir,
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The lake at `data`: a directory, or an object store URL read through `object_store`.
/// Returns the catalog and whether the lake is remote (its queries need a session that
/// reaches object stores).
pub fn open_lake(data: &Path) -> anyhow::Result<(Box<dyn Catalog>, bool)> {
    let text = data.to_string_lossy();
    match LakeLocation::parse(&text)? {
        LakeLocation::Directory(dir) => Ok((Box::new(LakeCatalog::open(dir)?), false)),
        LakeLocation::Url(url) => {
            let catalog = runtime()?
                .block_on(goshawk_cluster::ObjectStoreLakeCatalog::open(&url))
                .with_context(|| format!("cannot open the lake {url}"))?;
            Ok((Box::new(catalog), true))
        }
    }
}
