//! `goshawk rules lint`: parses and plans each rule against table schemas and checks its
//! metadata, reporting every problem with file:line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use goshawk_kql_engine::catalog::{Catalog, LakeCatalog, LayeredCatalog};
use goshawk_rules::builtin::{builtin_files, builtin_rules};
use goshawk_rules::lint::{LintProblem, Linter, SchemaCatalog};
use goshawk_rules::{LoadedRule, RuleDocument, load_paths};

/// Arguments of `goshawk rules lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Rule files or directories (searched recursively for .yaml, .yml, .toml and .json).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Leave out the rules compiled into goshawk (their ML jobs stay available to rules).
    #[arg(long)]
    pub no_builtin: bool,

    /// Also plan against the tables of this Parquet lake; they take precedence over schemas.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// A directory of table schema JSON files in the shared corpus format (one table per file
    /// as `{"table", "columns"}`, or many as `{"<table>": [{"name", "type"}, ...]}`), added to
    /// the compiled-in schemas.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,

    /// `text`: one `file:line:column: level[code]: message` line per problem; `jsonl`: one
    /// JSON object per problem.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Jsonl,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut schemas = SchemaCatalog::builtin();
    if let Some(dir) = &args.schemas {
        if !dir.is_dir() {
            eprintln!("error: --schemas {}: not a directory", dir.display());
            return Ok(ExitCode::from(2));
        }
        let skipped = schemas.add_schema_dir(dir)?;
        for file in skipped {
            eprintln!("note: {}: not a table schema file, skipped", file.display());
        }
    }
    let mut catalog = LayeredCatalog::new();
    if let Some(dir) = &args.data {
        if !dir.is_dir() {
            eprintln!("error: --data {}: not a directory", dir.display());
            return Ok(ExitCode::from(2));
        }
        catalog.push(Box::new(LakeCatalog::open(dir)?));
    }
    let table_count = schemas.len();
    catalog.push(Box::new(schemas));

    let (builtin, _) = builtin_rules();
    let (loaded, load_errors) = if args.paths.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        load_paths(&args.paths)
    };
    let jobs = builtin.iter().chain(&loaded).filter_map(job_id);
    let linter = Linter::new(&catalog).with_jobs(jobs);

    let mut files = 0usize;
    let mut problems: Vec<LintProblem> = Vec::new();
    if !args.no_builtin {
        for (origin, text) in builtin_files() {
            files += 1;
            problems.extend(linter.lint_source(Path::new(origin), text));
        }
    }
    for error in load_errors {
        files += 1;
        problems.push(LintProblem {
            path: error.path,
            line: error.line,
            column: error.column,
            level: goshawk_rules::lint::LintLevel::Error,
            code: "load",
            message: error.reason,
            rule_id: None,
        });
    }
    for rule in &loaded {
        files += 1;
        problems.extend(linter.lint_file(rule));
    }

    let stdout = io::stdout();
    let mut out = stdout.lock();
    for problem in &problems {
        match args.format {
            LintFormat::Text => writeln!(out, "{problem}")?,
            LintFormat::Jsonl => {
                serde_json::to_writer(&mut out, problem)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    let lake_tables = if args.data.is_some() {
        catalog.table_names().len().saturating_sub(table_count)
    } else {
        0
    };
    eprintln!(
        "{files} file(s) linted against {table_count} table schema(s){}: {} problem(s)",
        if args.data.is_some() {
            format!(" and {lake_tables} more lake table(s)")
        } else {
            String::new()
        },
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn job_id(rule: &LoadedRule) -> Option<String> {
    match &rule.document {
        RuleDocument::MlJob(job) => Some(job.job_id.clone()),
        _ => None,
    }
}
