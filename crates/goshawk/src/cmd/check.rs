//! `goshawk check`: parse KQL files, Sentinel YAML and Elastic TOML rules, and report per input.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use goshawk_kql_syntax::{Diagnostic, RenderOptions, check_query_shape, parse_query};
use goshawk_rules::{QueryLocation, RuleFormat, extract_query};
use serde::Serialize;

/// Arguments of `goshawk check`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 if every input parses, 1 if any does not, 2 on a usage error.

Examples:
  goshawk check hunt.kql
  goshawk check rules/*.yaml --format jsonl
  echo 'SigninLogs | take 10' | goshawk check -")]
pub struct CheckArgs {
    /// KQL files (.kql or anything else), Sentinel rules (.yaml/.yml) or Elastic rules (.toml);
    /// `-` or nothing reads KQL from standard input.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,

    /// `text` prints `ok` or the diagnostic per input; `jsonl` one JSON object per input.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Jsonl,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    file: String,
    ok: bool,
    errors: Vec<CheckError>,
    /// Why an input that is fine has nothing to parse (an Elastic machine-learning rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct CheckError {
    /// 1-based; `null` for an error about the whole file (unreadable, not UTF-8).
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    #[serde(skip)]
    rendered: String,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let inputs = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut all_ok = true;
    for input in &inputs {
        let report = check_input(input);
        all_ok &= report.ok;
        match args.format {
            CheckFormat::Jsonl => {
                serde_json::to_writer(&mut out, &report)?;
                writeln!(out)?;
            }
            CheckFormat::Text => write_text(&mut out, &report)?,
        }
    }
    out.flush()?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_text(out: &mut impl Write, report: &CheckReport) -> io::Result<()> {
    if report.ok {
        match &report.note {
            Some(note) => writeln!(out, "{}: ok ({note})", report.file),
            None => writeln!(out, "{}: ok", report.file),
        }
    } else {
        for error in &report.errors {
            if !error.rendered.is_empty() {
                // A blank line keeps consecutive multi-line diagnostics apart.
                writeln!(out, "{}\n", error.rendered.trim_end())?;
            } else if let (Some(line), Some(column)) = (error.line, error.column) {
                writeln!(
                    out,
                    "{}:{line}:{column}: error: {}",
                    report.file, error.message
                )?;
            } else {
                writeln!(out, "{}: error: {}", report.file, error.message)?;
            }
        }
        Ok(())
    }
}

fn check_input(input: &Path) -> CheckReport {
    let is_stdin = input.as_os_str() == "-";
    let name = if is_stdin {
        "<stdin>".to_string()
    } else {
        input.display().to_string()
    };
    let contents = match read_input(input, is_stdin) {
        Ok(contents) => contents,
        Err(err) => return failed(name, None, format!("{err:#}")),
    };
    let format = if is_stdin {
        RuleFormat::Kql
    } else {
        RuleFormat::from_path(input)
    };
    let query = match extract_query(format, &contents) {
        Ok(Ok(query)) => query,
        Ok(Err(nothing_to_parse)) => {
            return CheckReport {
                file: name,
                ok: true,
                errors: vec![],
                note: Some(nothing_to_parse.to_string()),
            };
        }
        Err(err) => {
            return failed(name, err.position(), err.to_string());
        }
    };
    // Kusto's parser accepts a block that ends in a scalar (or only has `let`s) and rejects it
    // semantically; `check` reports both kinds of error.
    match parse_query(&query.text).and_then(|ast| check_query_shape(&ast)) {
        Ok(()) => CheckReport {
            file: name,
            ok: true,
            errors: vec![],
            note: None,
        },
        Err(diagnostic) => diagnostic_report(name, &query.text, query.location, &diagnostic),
    }
}

fn read_input(input: &Path, is_stdin: bool) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if is_stdin {
        io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    }
    String::from_utf8(bytes).map_err(|err| {
        anyhow::anyhow!(
            "not valid UTF-8 (first bad byte at offset {})",
            err.utf8_error().valid_up_to()
        )
    })
}

/// Converts a diagnostic in the query text into file coordinates.
fn diagnostic_report(
    file: String,
    query: &str,
    location: QueryLocation,
    diagnostic: &Diagnostic,
) -> CheckReport {
    let at = diagnostic.line_col(query);
    let (line, column, opts) = match location {
        QueryLocation::Exact { first_line, indent } => (
            at.line + first_line - 1,
            at.column + indent,
            RenderOptions {
                origin: &file,
                line_offset: first_line - 1,
                column_offset: indent,
            },
        ),
        // Positions are only known relative to the query; say so in the message.
        QueryLocation::KeyLine { .. } => (
            at.line,
            at.column,
            RenderOptions {
                origin: &file,
                line_offset: 0,
                column_offset: 0,
            },
        ),
    };
    let mut message = diagnostic.to_string();
    if let QueryLocation::KeyLine { line: key_line } = location {
        message =
            format!("{message} (position within the query that starts at file line {key_line})");
    }
    let rendered = diagnostic.render(query, &opts);
    CheckReport {
        ok: false,
        errors: vec![CheckError {
            line: Some(line),
            column: Some(column),
            message,
            rendered,
        }],
        note: None,
        file,
    }
}

fn failed(file: String, position: Option<(usize, usize)>, message: String) -> CheckReport {
    CheckReport {
        file,
        ok: false,
        errors: vec![CheckError {
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message,
            rendered: String::new(),
        }],
        note: None,
    }
}
