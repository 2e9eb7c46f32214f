//! `goshawk query`: run a KQL query over the Parquet lake and/or explicit table files.

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use goshawk_kql_engine::catalog::{FileCatalog, LayeredCatalog};
use goshawk_kql_engine::output::{OutputFormat, write_result};
use goshawk_kql_engine::session::QueryEngine;

/// Arguments of `goshawk query`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 on success, 1 if the query fails (the error names line and column), 2 on a
usage error.

Examples:
  goshawk query --data lake -q 'AADProvisioningLogs | summarize count() by ResultType'
  goshawk query --table AADProvisioningLogs=export.jsonl hunt01.kql --format json
  goshawk query --now 2026-11-22T12:00:00Z --data lake - < hunt.kql")]
pub struct QueryArgs {
    #[command(flatten)]
    pub source: QuerySource,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,

    /// Run the query on a goshawk cluster (`goshawk scheduler` and `goshawk executor`): the
    /// scheduler's `df://HOST:PORT`. The executors must reach the lake at the same location
    /// (a shared path or an object store URL). A query using an operator that only runs in
    /// this process (`make-series`, `scan`, `evaluate` plugins, `parse-kv`) fails and names it.
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

/// Where the data and the query come from; shared with `goshawk explain`.
#[derive(Debug, clap::Args)]
pub struct QuerySource {
    /// The Parquet lake directory (`DIR/<Table>/day=YYYY-MM-DD/*.parquet`); with the
    /// `distributed` feature also an object store URL (`abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH`,
    /// `az://CONTAINER/PATH`, `s3://BUCKET/PATH`, `file:///PATH`).
    #[arg(long, value_name = "DIR|URL")]
    pub data: Option<PathBuf>,

    /// A table from one file: `NAME=FILE` (.parquet, .csv, .json/.jsonl/.ndjson); repeatable.
    /// These take precedence over lake tables of the same name.
    #[arg(long = "table", value_name = "NAME=FILE")]
    pub tables: Vec<String>,

    /// The instant `now()` and `ago()` use (ISO 8601, UTC); default: the current time.
    #[arg(long, value_name = "DATETIME")]
    pub now: Option<String>,

    /// The query text.
    #[arg(
        short = 'q',
        long = "query",
        value_name = "KQL",
        conflicts_with = "file"
    )]
    pub query: Option<String>,

    /// A file holding the query; `-` reads standard input.
    #[arg(value_name = "FILE", required_unless_present = "query")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// A query ready to run: its text, where it came from, the catalog and "now".
pub struct Prepared {
    pub text: String,
    pub origin: String,
    pub catalog: LayeredCatalog,
    pub now_nanos: i64,
    /// The lake is in object storage: queries need a session that reaches it.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub remote_lake: bool,
}

impl Prepared {
    /// A query engine over the catalog, in this process.
    pub fn engine(&self) -> anyhow::Result<QueryEngine<'_>> {
        let engine = QueryEngine::new(&self.catalog, self.now_nanos);
        #[cfg(feature = "distributed")]
        if self.remote_lake {
            return Ok(engine.with_context(goshawk_cluster::local_session()?));
        }
        Ok(engine)
    }
}

impl QuerySource {
    pub fn prepare(&self) -> anyhow::Result<Prepared> {
        let (text, origin) = match (&self.query, &self.file) {
            (Some(query), _) => (query.clone(), "<query>".to_string()),
            (None, Some(path)) if path.as_os_str() == "-" => (read_stdin()?, "<stdin>".to_string()),
            (None, Some(path)) => (
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                path.display().to_string(),
            ),
            (None, None) => bail!("no query: give -q KQL, a FILE, or - for standard input"),
        };
        let mut catalog = LayeredCatalog::new();
        let mut files = FileCatalog::new();
        for spec in &self.tables {
            let Some((name, path)) = spec.split_once('=') else {
                bail!("--table expects NAME=FILE, got '{spec}'");
            };
            files.add_file(name, path.as_ref())?;
        }
        catalog.push(Box::new(files));
        let mut remote_lake = false;
        if let Some(dir) = &self.data {
            let (lake, remote) = open_lake(dir)?;
            catalog.push(lake);
            remote_lake = remote;
            if !remote {
                // The ML jobs' anomaly records (`goshawk ml run`) are a table of the lake too.
                catalog.push(Box::new(goshawk_ml::results::AnomaliesCatalog::open(dir)?));
            }
        }
        let now_nanos = match &self.now {
            Some(text) => goshawk_kql_engine::time::parse_datetime(text)
                .with_context(|| format!("--now: '{text}' is not a datetime"))?,
            None => chrono::Utc::now()
                .timestamp_nanos_opt()
                .context("the system clock is outside the datetime range")?,
        };
        Ok(Prepared {
            text,
            origin,
            catalog,
            now_nanos,
            remote_lake,
        })
    }
}

/// The lake at `data` and whether it is in object storage.
#[cfg(feature = "distributed")]
pub(crate) fn open_lake(
    data: &std::path::Path,
) -> anyhow::Result<(Box<dyn goshawk_kql_engine::catalog::Catalog>, bool)> {
    super::cluster::open_lake(data)
}

/// The lake at `data`; this build reads lake directories only.
#[cfg(not(feature = "distributed"))]
pub(crate) fn open_lake(
    data: &std::path::Path,
) -> anyhow::Result<(Box<dyn goshawk_kql_engine::catalog::Catalog>, bool)> {
    if data.to_string_lossy().contains("://") {
        bail!(
            "{}: lakes in object storage need goshawk built with the `distributed` feature \
             (cargo build --release -p goshawk --features distributed)",
            data.display()
        );
    }
    Ok((
        Box::new(goshawk_kql_engine::catalog::LakeCatalog::open(data)?),
        false,
    ))
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the query from standard input")?;
    Ok(text)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the query runtime")
}

pub fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let prepared = args.source.prepare()?;
    let runtime = runtime()?;
    #[allow(unused_mut)]
    let mut engine = prepared.engine()?;
    #[cfg(feature = "distributed")]
    if let Some(url) = &args.cluster {
        let session = runtime
            .block_on(goshawk_cluster::connect(url))
            .with_context(|| format!("cannot connect to the cluster {url}"))?;
        engine = engine.with_context(session);
    }
    let planned = match engine.plan(&prepared.text) {
        Ok(planned) => planned,
        Err(err) => {
            eprint!("{}", err.render(&prepared.text, &prepared.origin));
            return Ok(ExitCode::FAILURE);
        }
    };
    #[cfg(feature = "distributed")]
    if args.cluster.is_some()
        && let Err(err) = goshawk_cluster::check_distributable(&planned.plan)
    {
        eprintln!("error: {err}");
        return Ok(ExitCode::FAILURE);
    }
    let result = match runtime.block_on(engine.execute(planned)) {
        Ok(result) => result,
        Err(err) => {
            eprint!("{}", err.render(&prepared.text, &prepared.origin));
            return Ok(ExitCode::FAILURE);
        }
    };
    let format = match args.format {
        FormatArg::Table => OutputFormat::Table,
        FormatArg::Json => OutputFormat::Json,
        FormatArg::Jsonl => OutputFormat::JsonLines,
        FormatArg::Csv => OutputFormat::Csv,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write_result(&result, format, &mut out)?;
    out.flush()?;
    eprintln!(
        "{} row{}",
        result.row_count(),
        if result.row_count() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
