//! `goshawk rules show`: a rule's page (facts, ATT&CK mapping, ML job, query, the Tables /
//! Keywords / Operators lists and the explanation generated from the query).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use goshawk_rules::builtin::builtin_rules;
use goshawk_rules::{LoadedRule, load_file, load_paths, rule_page};

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The rule: its id (Sentinel `id`, Elastic `rule_id`, ML `job_id`), its name, or a rule
    /// file.
    #[arg(value_name = "ID|NAME|FILE")]
    pub rule: String,

    /// More content to search and to find a machine_learning rule's job in (files or
    /// directories, searched recursively).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Leave out the rules compiled into goshawk.
    #[arg(long)]
    pub no_builtin: bool,

    /// `text` for people, `json` for tools, `html` a self-contained fragment.
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
    Html,
}

pub fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let mut content = Vec::new();
    if !args.no_builtin {
        let (builtin, broken) = builtin_rules();
        content.extend(builtin);
        report_load_errors(&broken);
    }
    if !args.paths.is_empty() {
        let (loaded, broken) = load_paths(&args.paths);
        content.extend(loaded);
        report_load_errors(&broken);
    }

    let as_file = Path::new(&args.rule);
    let rule = if as_file.is_file() {
        let rule = load_file(as_file).map_err(anyhow::Error::new)?;
        content.push(rule.clone());
        rule
    } else {
        find(&content, &args.rule)?.clone()
    };

    let page = rule_page(&rule, &content);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ShowFormat::Text => out.write_all(page.to_text().as_bytes())?,
        ShowFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &page).context("writing the page as JSON")?;
            writeln!(out)?;
        }
        ShowFormat::Html => out.write_all(page.to_html().as_bytes())?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn report_load_errors(errors: &[goshawk_rules::RuleLoadError]) {
    for error in errors {
        eprintln!("warning: not loaded: {error}");
    }
}

/// By id, then by exact name, then by name ignoring case; a name shared by several rules is an
/// error that lists their ids.
fn find<'a>(content: &'a [LoadedRule], wanted: &str) -> anyhow::Result<&'a LoadedRule> {
    if let Some(rule) = content.iter().find(|rule| rule.id() == wanted) {
        return Ok(rule);
    }
    for exact in [true, false] {
        let matches: Vec<&LoadedRule> = content
            .iter()
            .filter(|rule| {
                if exact {
                    rule.name() == wanted
                } else {
                    rule.name().eq_ignore_ascii_case(wanted)
                }
            })
            .collect();
        match matches.as_slice() {
            [] => {}
            [one] => return Ok(one),
            several => {
                let ids: Vec<String> = several
                    .iter()
                    .map(|r| format!("{} ({})", r.id(), r.path.display()))
                    .collect();
                bail!(
                    "{} rules are named {wanted:?}; choose one by id: {}",
                    several.len(),
                    ids.join(", ")
                );
            }
        }
    }
    bail!(
        "no rule has the id or name {wanted:?}, and it is not a file; `goshawk rules list` lists the rules"
    )
}
