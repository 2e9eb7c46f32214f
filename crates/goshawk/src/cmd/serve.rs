//! `goshawk serve`: continuous ingestion from an inbox, an alert store and a Kusto-compatible
//! query API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use goshawk_serve::auth::TokenOrigin;
use goshawk_serve::{Limits, ServeConfig, Server, shutdown_signal};

use crate::cmd::query::runtime;

/// Arguments of `goshawk serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every endpoint but /healthz needs 'Authorization: Bearer <token>'. Without --token-file a token
is created on the first start in DIR/_serve/token and printed once.

Endpoints: POST /v1/rest/query, POST /v2/rest/query (the Kusto REST API), GET /api/alerts,
POST /api/alerts/{id}/status, GET /api/rules, GET /metrics, GET /healthz.

SIGINT or SIGTERM stops the server: running requests and the current ingest finish first.

Example:
  goshawk serve --data lake --inbox inbox --listen 127.0.0.1:8080")]
pub struct ServeArgs {
    /// The Parquet lake (created when missing); the server's state goes to DIR/_serve/.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,

    /// Log files dropped here are ingested once complete, then moved to processed/ or failed/.
    #[arg(long, value_name = "DIR")]
    pub inbox: PathBuf,

    /// Rule files or directories (Sentinel YAML, Elastic TOML, ML job JSON); repeatable.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// Leave out the rules compiled into goshawk.
    #[arg(long)]
    pub no_builtin: bool,

    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// A file holding the bearer token (one line).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// The longest a query may run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub query_timeout: f64,

    /// The memory one query's sorts, aggregations and joins may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub query_memory: usize,

    /// The largest request body accepted, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    pub max_body: usize,

    /// How often the inbox is listed, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub inbox_poll_ms: u64,

    /// How long a file must stay unchanged before it is ingested, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub inbox_settle_ms: u64,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !(args.query_timeout.is_finite() && args.query_timeout > 0.0) {
        anyhow::bail!("--query-timeout must be a positive number of seconds");
    }
    let config = ServeConfig {
        data: args.data,
        inbox: args.inbox,
        rule_paths: args.rules,
        builtin_rules: !args.no_builtin,
        listen: args.listen,
        token_file: args.token_file,
        limits: Limits {
            query_timeout: Duration::from_secs_f64(args.query_timeout),
            query_memory_bytes: args.query_memory.saturating_mul(1 << 20),
            max_body_bytes: args.max_body.saturating_mul(1 << 10),
        },
        inbox_poll: Duration::from_millis(args.inbox_poll_ms.max(10)),
        inbox_settle: Duration::from_millis(args.inbox_settle_ms),
        schedule_tick: Duration::from_secs(1),
    };
    runtime()?.block_on(async move {
        let server = Server::start(config).await?.with_hunt_runner();
        match server.token_origin() {
            TokenOrigin::Created(path) => {
                println!("token: {}", server.token().secret());
                eprintln!(
                    "goshawk serve: a new bearer token was created in {} (printed once, above)",
                    path.display()
                );
            }
            TokenOrigin::Existing(path) => {
                eprintln!("goshawk serve: bearer token from {}", path.display());
            }
        }
        let rules = server.state().rules.len();
        let broken = server.state().rule_errors.len();
        eprintln!("goshawk serve: {rules} rule(s) loaded, {broken} file(s) did not load");
        for error in &server.state().rule_errors {
            eprintln!("  {error}");
        }
        if let Some(jobs) = server.ml_jobs() {
            eprintln!(
                "goshawk serve: {} ML job(s) advance as their buckets close",
                jobs.len()
            );
            for (job_id, reason) in &jobs.unschedulable {
                eprintln!("  ML job {job_id} cannot run: {reason}");
            }
        }
        eprintln!(
            "goshawk serve: listening on http://{}",
            server.local_addr()?
        );
        server.run(shutdown_signal()).await?;
        eprintln!("goshawk serve: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
