//! `goshawk serve`: watches an inbox and ingests new log files into the lake, keeps alerts in a
//! SQLite store, and answers queries over the Kusto REST API so that Kusto's own client
//! libraries can query goshawk as if it were a cluster.
//!
//! * [`kusto`]: the REST API's request and response shapes (v1 tables, v2 frames, errors).
//! * [`api`]: the axum router with bearer-token auth, body size limit, query timeout and
//!   memory limit.
//! * [`store`]: alerts (unique by rule, entity and event window) and schedule state.
//! * [`inbox`]: picks up complete files, ingests them, moves them to `processed/` or
//!   `failed/`.

pub mod api;
pub mod auth;
mod error;
pub mod hunt_runner;
pub mod inbox;
pub mod kusto;
pub mod metrics;
pub mod ml_jobs;
pub mod scheduler;
pub mod store;

use std::fs;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use goshawk_kql_engine::catalog::LakeCatalog;
use goshawk_rules::{LoadedRule, RuleDocument};
use serde::Serialize;
use tokio::sync::watch;

pub use error::ServeError;

use crate::auth::{Token, TokenOrigin};
use crate::inbox::InboxConfig;
use crate::metrics::Metrics;
use crate::ml_jobs::MlJobs;
use crate::scheduler::{RuleRunner, Scheduler};
use crate::store::{STORE_FILE, Store};

/// goshawk serve's own files live here, inside the data directory.
pub const STATE_DIR: &str = "_serve";

#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest a query may run; a request's `servertimeout` can only lower it.
    pub query_timeout: Duration,
    /// The memory sorts, aggregations and joins of one query may reserve.
    pub query_memory_bytes: usize,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            query_timeout: Duration::from_secs(60),
            query_memory_bytes: 1 << 30,
            max_body_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The lake (created when missing); the server's state goes to `DATA/_serve/`.
    pub data: PathBuf,
    pub inbox: PathBuf,
    pub rule_paths: Vec<PathBuf>,
    pub builtin_rules: bool,
    pub listen: SocketAddr,
    pub token_file: Option<PathBuf>,
    pub limits: Limits,
    pub inbox_poll: Duration,
    pub inbox_settle: Duration,
    /// How often the scheduler looks for rules that are due.
    pub schedule_tick: Duration,
}

/// A rule as `GET /api/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub severity: String,
    pub tactics: Vec<String>,
    pub source: String,
    /// Sentinel `queryFrequency` / Elastic `interval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// Sentinel `queryPeriod` / Elastic `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookback: Option<String>,
}

impl RuleInfo {
    fn new(rule: &LoadedRule, source: &str) -> RuleInfo {
        let (frequency, lookback) = match &rule.document {
            RuleDocument::Sentinel(sentinel) => (
                sentinel.query_frequency.clone(),
                sentinel.query_period.clone(),
            ),
            RuleDocument::Elastic(file) => (file.rule.interval.clone(), file.rule.from.clone()),
            RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => (None, None),
        };
        RuleInfo {
            id: rule.id().to_string(),
            name: rule.name().to_string(),
            kind: rule.kind_label(),
            severity: rule.severity_label(),
            tactics: rule.tactic_names(),
            source: source.to_string(),
            frequency,
            lookback,
        }
    }
}

/// What the request handlers and background tasks share.
pub struct AppState {
    pub lake_dir: PathBuf,
    catalog: RwLock<Arc<LakeCatalog>>,
    pub token: Token,
    /// Where the token is, for the message a request without one gets.
    pub token_location: String,
    pub limits: Limits,
    pub metrics: Metrics,
    store: Mutex<Store>,
    pub rules: Vec<RuleInfo>,
    pub rule_errors: Vec<String>,
    pub loaded_rules: Vec<LoadedRule>,
    /// Queries, rule runs and ML job runs read the lake under a read guard; compaction, which
    /// deletes the files it merged, takes the write guard and reopens the catalog before it
    /// lets go, so no reader is left holding a catalog that lists deleted files.
    pub lake_readers: tokio::sync::RwLock<()>,
    pub(crate) request_counter: AtomicU64,
    pub(crate) started_nanos: i64,
}

impl AppState {
    /// The lake as of the last completed ingest.
    pub fn catalog(&self) -> Arc<LakeCatalog> {
        match self.catalog.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the lake's manifest so queries see what was just ingested.
    pub fn refresh_catalog(&self) -> Result<(), ServeError> {
        let fresh = Arc::new(open_lake(&self.lake_dir)?);
        match self.catalog.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave SQLite inconsistent (it has its own
        // transactions), so a poisoned lock is still usable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn open_lake(dir: &std::path::Path) -> Result<LakeCatalog, ServeError> {
    LakeCatalog::open(dir).map_err(|e| ServeError::Lake {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// A server that is listening but not yet serving.
pub struct Server {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    inbox: InboxConfig,
    token_origin: TokenOrigin,
    runner: Option<Arc<dyn RuleRunner>>,
    ml_jobs: Option<MlJobs>,
    schedule_tick: Duration,
}

impl Server {
    /// Creates the directories, the token and the alert store, loads the rules and binds the
    /// listening socket.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        let state_dir = config.data.join(STATE_DIR);
        fs::create_dir_all(&state_dir).map_err(|e| ServeError::io(&state_dir, e))?;
        for dir in [
            config.inbox.clone(),
            config.inbox.join(inbox::PROCESSED_DIR),
            config.inbox.join(inbox::FAILED_DIR),
        ] {
            fs::create_dir_all(&dir).map_err(|e| ServeError::io(&dir, e))?;
        }
        let (token, token_origin) =
            Token::load_or_create(config.token_file.as_deref(), &state_dir)?;
        let token_location = match &token_origin {
            TokenOrigin::Existing(path) | TokenOrigin::Created(path) => path.display().to_string(),
        };
        let store = Store::open(&state_dir.join(STORE_FILE))?;
        let catalog = open_lake(&config.data)?;

        let mut loaded_rules = Vec::new();
        let mut rules = Vec::new();
        let mut rule_errors = Vec::new();
        if config.builtin_rules {
            let (builtin, broken) = goshawk_rules::builtin::builtin_rules();
            rules.extend(builtin.iter().map(|r| RuleInfo::new(r, "built-in")));
            loaded_rules.extend(builtin);
            rule_errors.extend(broken.iter().map(ToString::to_string));
        }
        if !config.rule_paths.is_empty() {
            let (loaded, broken) = goshawk_rules::load_paths(&config.rule_paths);
            rules.extend(
                loaded
                    .iter()
                    .map(|r| RuleInfo::new(r, &r.path.display().to_string())),
            );
            loaded_rules.extend(loaded);
            rule_errors.extend(broken.iter().map(ToString::to_string));
        }

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let state = Arc::new(AppState {
            lake_dir: config.data.clone(),
            catalog: RwLock::new(Arc::new(catalog)),
            token,
            token_location,
            limits: config.limits.clone(),
            metrics: Metrics::default(),
            store: Mutex::new(store),
            rules,
            rule_errors,
            loaded_rules,
            lake_readers: tokio::sync::RwLock::new(()),
            request_counter: AtomicU64::new(0),
            started_nanos: now_nanos(),
        });
        Ok(Server {
            state,
            listener,
            inbox: InboxConfig {
                dir: config.inbox,
                poll: config.inbox_poll,
                settle: config.inbox_settle,
            },
            token_origin,
            runner: None,
            ml_jobs: None,
            schedule_tick: config.schedule_tick,
        })
    }

    /// Runs the scheduled rules with `goshawk hunt`'s engine over the served lake, and advances
    /// every loaded ML job over the same lake as its buckets close; `machine_learning` rules
    /// read those jobs' anomalies.
    pub fn with_hunt_runner(self) -> Server {
        let anomalies: Arc<dyn goshawk_rules::anomaly::AnomalySource> = Arc::new(
            goshawk_ml::LakeAnomalySource::new(self.state.lake_dir.clone()),
        );
        self.with_ml_jobs(anomalies.clone())
            .with_runner(Arc::new(hunt_runner::HuntRunner::new(Some(anomalies))))
    }

    /// Advances the loaded ML jobs through `source` as their buckets close.
    pub fn with_ml_jobs(
        mut self,
        source: Arc<dyn goshawk_rules::anomaly::AnomalySource>,
    ) -> Server {
        self.ml_jobs = Some(MlJobs::new(&self.state.loaded_rules, source));
        self
    }

    /// The ML jobs the server advances (none unless [`Server::with_ml_jobs`] was called).
    pub fn ml_jobs(&self) -> Option<&MlJobs> {
        self.ml_jobs.as_ref()
    }

    /// Runs the scheduled rules with `runner` (without one, no rule runs).
    pub fn with_runner(mut self, runner: Arc<dyn RuleRunner>) -> Server {
        self.runner = Some(runner);
        self
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::Http)
    }

    pub fn token(&self) -> &Token {
        &self.state.token
    }

    pub fn token_origin(&self) -> &TokenOrigin {
        &self.token_origin
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops taking requests, lets running requests
    /// and the current ingest finish, and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let inbox_task = tokio::spawn(inbox::watch(
            self.state.clone(),
            self.inbox.clone(),
            stop_rx.clone(),
        ));
        let scheduler_task = self.runner.clone().map(|runner| {
            let scheduler = Scheduler::new(&self.state.loaded_rules, runner);
            tokio::spawn(scheduler.run(self.state.clone(), self.schedule_tick, stop_rx.clone()))
        });
        let ml_task = self.ml_jobs.filter(|jobs| !jobs.is_empty()).map(|jobs| {
            tokio::spawn(jobs.run(self.state.clone(), self.schedule_tick, stop_rx.clone()))
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut http_stop = stop_rx;
        let served = axum::serve(self.listener, api::router(self.state.clone()))
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
            .map_err(ServeError::Http);
        if let Err(err) = inbox_task.await {
            eprintln!("goshawk serve: the inbox watcher stopped unexpectedly: {err}");
        }
        if let Some(task) = scheduler_task
            && let Err(err) = task.await
        {
            eprintln!("goshawk serve: the scheduler stopped unexpectedly: {err}");
        }
        if let Some(task) = ml_task
            && let Err(err) = task.await
        {
            eprintln!("goshawk serve: the ML job runner stopped unexpectedly: {err}");
        }
        served
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
