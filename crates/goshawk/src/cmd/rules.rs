//! `goshawk rules`: the detection content goshawk can load, built in and from files.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use goshawk_rules::builtin::builtin_rules;
use goshawk_rules::{LoadedRule, load_paths};
use serde::Serialize;

/// Arguments of `goshawk rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// List the built-in rules and those under PATH (Sentinel .yaml/.yml, Elastic .toml, Elastic
    /// ML job and datafeed .json); files that do not load are listed with path, line and reason.
    #[command(
        after_help = "Exit status: 0 if every file loaded, 1 if any did not, 2 on a usage error."
    )]
    List(ListArgs),
    /// Show a rule's page: facts, MITRE ATT&CK mapping, the ML job behind a machine_learning
    /// rule, the query with its tables, keywords and operators, and a step-by-step explanation
    /// generated from the query.
    #[command(after_help = "Exit status: 0 if the rule was found, 1 if not, 2 on a usage error.")]
    Show(super::rules_show::ShowArgs),
    /// Parse and plan each rule against table schemas (compiled in, `--schemas DIR`, the lake's
    /// with `--data DIR`) and check its metadata; every problem with file:line.
    #[command(
        after_help = "Exit status: 0 if no problem was found, 1 if any was, 2 on a usage error."
    )]
    Lint(super::rules_lint::LintArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Rule files or directories (searched recursively).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Leave out the rules compiled into goshawk.
    #[arg(long)]
    pub no_builtin: bool,

    /// `table` for people, `jsonl` one JSON object per rule.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Jsonl,
}

#[derive(Debug, Serialize)]
struct RuleLine {
    id: String,
    name: String,
    kind: String,
    severity: String,
    tactics: Vec<String>,
    source: String,
}

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::List(list) => run_list(list),
        RulesCommand::Show(show) => super::rules_show::run(show),
        RulesCommand::Lint(lint) => super::rules_lint::run(lint),
    }
}

fn run_list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    if !args.no_builtin {
        let (builtin, broken) = builtin_rules();
        rules.extend(builtin.iter().map(|rule| describe(rule, "built-in")));
        errors.extend(broken);
    }
    if !args.paths.is_empty() {
        let (loaded, broken) = load_paths(&args.paths);
        rules.extend(
            loaded
                .iter()
                .map(|rule| describe(rule, &rule.path.display().to_string())),
        );
        errors.extend(broken);
    }

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormat::Jsonl => {
            for rule in &rules {
                serde_json::to_writer(&mut out, rule)?;
                writeln!(out)?;
            }
        }
        ListFormat::Table => write_table(&mut out, &rules)?,
    }
    out.flush()?;
    eprintln!("{} rule(s) loaded", rules.len());
    if !errors.is_empty() {
        eprintln!("{} file(s) did not load:", errors.len());
        for error in &errors {
            eprintln!("  {error}");
        }
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn describe(rule: &LoadedRule, source: &str) -> RuleLine {
    RuleLine {
        id: rule.id().to_string(),
        name: rule.name().to_string(),
        kind: rule.kind_label(),
        severity: rule.severity_label(),
        tactics: rule.tactic_names(),
        source: source.to_string(),
    }
}

fn write_table(out: &mut impl Write, rules: &[RuleLine]) -> io::Result<()> {
    let headers = ["id", "name", "kind", "severity", "tactics", "source"];
    let cells: Vec<[String; 6]> = rules
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.name.clone(),
                r.kind.clone(),
                r.severity.clone(),
                r.tactics.join(", "),
                r.source.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[&str]| -> io::Result<()> {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(out, &headers)?;
    for row in &cells {
        line(out, &row.each_ref().map(String::as_str))?;
    }
    Ok(())
}
