//! Loading detection content from files and directories. A file that cannot be read or parsed
//! is reported with its path, line and reason, and the other files still load.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::elastic::{Datafeed, ElasticRuleFile, MlJob};
use crate::sentinel::SentinelRule;

/// What a content file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleDocument {
    Sentinel(Box<SentinelRule>),
    Elastic(Box<ElasticRuleFile>),
    MlJob(Box<MlJob>),
    Datafeed(Box<Datafeed>),
}

/// A content file that loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRule {
    pub path: PathBuf,
    pub document: RuleDocument,
}

/// A content file that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLoadError {
    pub path: PathBuf,
    /// 1-based, where the parser could tell.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub reason: String,
}

impl fmt::Display for RuleLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RuleLoadError {}

/// Everything found under `paths` (files, or directories searched recursively for `.yaml`,
/// `.yml`, `.toml` and `.json` files), in a stable order: what loaded, and what did not.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<LoadedRule>, Vec<RuleLoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_content_files(path, &mut files, &mut errors);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    let mut loaded = Vec::new();
    for file in files {
        match load_file(&file) {
            Ok(rule) => loaded.push(rule),
            Err(err) => errors.push(err),
        }
    }
    (loaded, errors)
}

fn collect_content_files(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<RuleLoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            errors.push(RuleLoadError::whole_file(
                dir,
                format!("cannot list the directory: {err}"),
            ));
            return;
        }
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(err) => {
                errors.push(RuleLoadError::whole_file(
                    dir,
                    format!("cannot list an entry: {err}"),
                ));
                continue;
            }
        };
        if path.is_dir() {
            collect_content_files(&path, files, errors);
        } else if matches!(
            extension(&path).as_deref(),
            Some("yaml" | "yml" | "toml" | "json")
        ) {
            files.push(path);
        }
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Loads one content file, choosing the format by its extension.
pub fn load_file(path: &Path) -> Result<LoadedRule, RuleLoadError> {
    let bytes = std::fs::read(path)
        .map_err(|err| RuleLoadError::whole_file(path, format!("cannot read: {err}")))?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let (line, column) = line_and_column(&String::from_utf8_lossy(err.as_bytes()), offset);
        RuleLoadError::at(path, line, column, "not valid UTF-8".to_string())
    })?;
    load_str(path, &text)
}

/// Loads content held in memory; `origin` names it in errors and chooses the format by its
/// extension, as for a file.
pub fn load_str(origin: &Path, text: &str) -> Result<LoadedRule, RuleLoadError> {
    let path = origin;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document = match extension(path).as_deref() {
        Some("yaml" | "yml") => parse_sentinel(path, text)?,
        Some("toml") => parse_elastic(path, text)?,
        Some("json") => parse_ml_json(path, text)?,
        _ => {
            return Err(RuleLoadError::whole_file(
                path,
                "not a rule file: expected .yaml/.yml (Sentinel), .toml (Elastic) or .json (Elastic ML job or datafeed)".to_string(),
            ));
        }
    };
    Ok(LoadedRule {
        path: path.to_path_buf(),
        document,
    })
}

impl LoadedRule {
    /// The rule's id: Sentinel `id`, Elastic `rule_id`, ML `job_id`, datafeed `datafeed_id`.
    pub fn id(&self) -> &str {
        match &self.document {
            RuleDocument::Sentinel(rule) => &rule.id,
            RuleDocument::Elastic(file) => &file.rule.rule_id,
            RuleDocument::MlJob(job) => &job.job_id,
            RuleDocument::Datafeed(feed) => feed.datafeed_id.as_deref().unwrap_or(&feed.job_id),
        }
    }

    /// What kind of content this is, in a few words: `sentinel hunting`, `sentinel scheduled`,
    /// `sentinel nrt`, `elastic machine_learning`, `elastic ml job`, `elastic datafeed`...
    pub fn kind_label(&self) -> String {
        match &self.document {
            RuleDocument::Sentinel(rule) if rule.is_analytic_rule() => format!(
                "sentinel {}",
                rule.kind.as_deref().unwrap_or("scheduled").to_lowercase()
            ),
            RuleDocument::Sentinel(_) => "sentinel hunting".to_string(),
            RuleDocument::Elastic(file) => format!("elastic {}", file.rule.rule_type),
            RuleDocument::MlJob(_) => "elastic ml job".to_string(),
            RuleDocument::Datafeed(_) => "elastic datafeed".to_string(),
        }
    }

    /// The rule's severity as written (empty when it states none, and for jobs and datafeeds).
    pub fn severity_label(&self) -> String {
        match &self.document {
            RuleDocument::Sentinel(rule) => rule.severity.clone().unwrap_or_default(),
            RuleDocument::Elastic(file) => file.rule.severity.clone().unwrap_or_default(),
            RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => String::new(),
        }
    }

    /// MITRE ATT&CK tactic names: Sentinel's `tactics`, Elastic's `threat` tactic names.
    pub fn tactic_names(&self) -> Vec<String> {
        match &self.document {
            RuleDocument::Sentinel(rule) => rule.tactics.clone(),
            RuleDocument::Elastic(file) => file
                .rule
                .threat
                .iter()
                .map(|t| t.tactic.name.clone())
                .collect(),
            RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => Vec::new(),
        }
    }

    /// The rule's display name (an ML job or datafeed has none: its id).
    pub fn name(&self) -> &str {
        match &self.document {
            RuleDocument::Sentinel(rule) => &rule.name,
            RuleDocument::Elastic(file) => &file.rule.name,
            RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => self.id(),
        }
    }
}

fn parse_sentinel(path: &Path, text: &str) -> Result<RuleDocument, RuleLoadError> {
    let rule: SentinelRule = serde_norway::from_str(text).map_err(|err| match err.location() {
        Some(loc) => {
            // serde's message ends with the position, which the error already leads with.
            let message = err.to_string();
            let reason = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            RuleLoadError::at(path, loc.line(), loc.column(), reason.to_string())
        }
        None => RuleLoadError::whole_file(path, err.to_string()),
    })?;
    if rule.query.trim().is_empty() {
        return Err(RuleLoadError::whole_file(
            path,
            "no `query`: not a Sentinel rule or hunting query".into(),
        ));
    }
    Ok(RuleDocument::Sentinel(Box::new(rule)))
}

fn parse_elastic(path: &Path, text: &str) -> Result<RuleDocument, RuleLoadError> {
    let file: ElasticRuleFile = toml::from_str(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| line_and_column(text, span.start));
        RuleLoadError::at(path, line, column, err.message().to_string())
    })?;
    Ok(RuleDocument::Elastic(Box::new(file)))
}

fn parse_ml_json(path: &Path, text: &str) -> Result<RuleDocument, RuleLoadError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|err| RuleLoadError::at(path, err.line(), err.column(), err.to_string()))?;
    let typed_error = |err: serde_json::Error| RuleLoadError::whole_file(path, err.to_string());
    if value.get("analysis_config").is_some() {
        Ok(RuleDocument::MlJob(Box::new(
            serde_json::from_value(value).map_err(typed_error)?,
        )))
    } else if value.get("job_id").is_some() {
        Ok(RuleDocument::Datafeed(Box::new(
            serde_json::from_value(value).map_err(typed_error)?,
        )))
    } else {
        Err(RuleLoadError::whole_file(
            path,
            "not an Elastic anomaly-detection job (no `analysis_config`) or datafeed (no `job_id`)"
                .into(),
        ))
    }
}

impl RuleLoadError {
    fn whole_file(path: &Path, reason: String) -> RuleLoadError {
        RuleLoadError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            reason,
        }
    }

    fn at(path: &Path, line: usize, column: usize, reason: String) -> RuleLoadError {
        RuleLoadError {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            reason,
        }
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
