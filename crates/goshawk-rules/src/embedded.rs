use std::path::Path;

/// The kinds of file a query can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleFormat {
    /// A plain KQL file (or standard input).
    Kql,
    /// A Microsoft Sentinel hunting query, analytic rule, exploration query or parser (YAML).
    SentinelYaml,
    /// An Elastic detection rule (TOML with `[metadata]` and `[rule]`).
    ElasticToml,
}

impl RuleFormat {
    /// Chooses the format from the file name; anything that is not YAML or TOML is KQL.
    pub fn from_path(path: &Path) -> RuleFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => RuleFormat::SentinelYaml,
            Some("toml") => RuleFormat::ElasticToml,
            _ => RuleFormat::Kql,
        }
    }
}

/// Where a query's text sits inside its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLocation {
    /// Line `n` (0-based) of the query is line `first_line + n` (1-based) of the file, and every
    /// query column is shifted right by `indent` characters: exact for KQL files, YAML literal
    /// blocks (`query: |`) and TOML multi-line literal strings.
    Exact { first_line: usize, indent: usize },
    /// The query was folded or unescaped on the way out of the file, so only the line of its key
    /// is known; positions are reported relative to the query.
    KeyLine { line: usize },
}

/// A query read from a file, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedQuery {
    pub text: String,
    pub location: QueryLocation,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleFileError {
    #[error("invalid YAML at line {line}, column {column}: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid YAML: {0}")]
    YamlNoLocation(String),
    #[error("invalid TOML at line {line}, column {column}: {message}")]
    Toml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("no query found: expected a top-level `{expected}` key")]
    NoQuery { expected: &'static str },
    #[error("the `{key}` key at line {line} is not a string")]
    QueryNotString { key: String, line: usize },
    #[error(
        "rule language '{language}' is not Kusto KQL (Elastic's 'kuery' is Kibana's query language); only `language = \"kql\"` or `\"kusto\"` queries can run"
    )]
    ForeignLanguage { language: String },
}

impl RuleFileError {
    /// The 1-based line and column in the rule file, where the error has one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            RuleFileError::Yaml { line, column, .. } | RuleFileError::Toml { line, column, .. } => {
                Some((*line, *column))
            }
            RuleFileError::QueryNotString { line, .. } => Some((*line, 1)),
            _ => None,
        }
    }
}

/// Sentinel puts the query under `query`; parser and function YAMLs use these keys instead.
const SENTINEL_QUERY_KEYS: [&str; 3] = ["query", "ParserQuery", "FunctionQuery"];

/// Reads the query out of a rule file. `Ok(None)` means the file holds no query by design (an
/// Elastic `machine_learning` rule); the reason is in the returned string.
pub fn extract_query(
    format: RuleFormat,
    contents: &str,
) -> Result<Result<EmbeddedQuery, &'static str>, RuleFileError> {
    match format {
        RuleFormat::Kql => Ok(Ok(EmbeddedQuery {
            text: contents
                .strip_prefix('\u{feff}')
                .unwrap_or(contents)
                .to_string(),
            location: QueryLocation::Exact {
                first_line: 1,
                indent: 0,
            },
        })),
        RuleFormat::SentinelYaml => extract_from_yaml(contents).map(Ok),
        RuleFormat::ElasticToml => extract_from_toml(contents),
    }
}

fn extract_from_yaml(contents: &str) -> Result<EmbeddedQuery, RuleFileError> {
    let document: serde_norway::Value =
        serde_norway::from_str(contents).map_err(|err| match err.location() {
            Some(loc) => RuleFileError::Yaml {
                line: loc.line(),
                column: loc.column(),
                message: err.to_string(),
            },
            None => RuleFileError::YamlNoLocation(err.to_string()),
        })?;
    for key in SENTINEL_QUERY_KEYS {
        let Some(value) = document.get(key) else {
            continue;
        };
        let key_line = top_level_key_line(contents, key).unwrap_or(1);
        let Some(text) = value.as_str() else {
            return Err(RuleFileError::QueryNotString {
                key: key.to_string(),
                line: key_line,
            });
        };
        let location = locate_block(contents, key_line, text, BlockStyle::YamlLiteral)
            .unwrap_or(QueryLocation::KeyLine { line: key_line });
        return Ok(EmbeddedQuery {
            text: text.to_string(),
            location,
        });
    }
    Err(RuleFileError::NoQuery { expected: "query" })
}

fn extract_from_toml(contents: &str) -> Result<Result<EmbeddedQuery, &'static str>, RuleFileError> {
    let document: toml::Table = contents.parse().map_err(|err: toml::de::Error| {
        let (line, column) = err
            .span()
            .map(|span| line_and_column(contents, span.start))
            .unwrap_or((1, 1));
        RuleFileError::Toml {
            line,
            column,
            message: err.message().to_string(),
        }
    })?;
    let rule = document.get("rule").and_then(toml::Value::as_table);
    let Some(query) = rule.and_then(|r| r.get("query")) else {
        let rule_type = rule
            .and_then(|r| r.get("type"))
            .and_then(toml::Value::as_str);
        if rule_type == Some("machine_learning") {
            return Ok(Err(
                "machine_learning rule: no query, it reads an anomaly detection job",
            ));
        }
        return Err(RuleFileError::NoQuery {
            expected: "[rule] query",
        });
    };
    let key_line = key_line_in_table(contents, "rule", "query").unwrap_or(1);
    let Some(text) = query.as_str() else {
        return Err(RuleFileError::QueryNotString {
            key: "rule.query".into(),
            line: key_line,
        });
    };
    let language = rule
        .and_then(|r| r.get("language"))
        .and_then(toml::Value::as_str);
    if let Some(language) = language
        && !matches!(language.to_ascii_lowercase().as_str(), "kql" | "kusto")
    {
        return Err(RuleFileError::ForeignLanguage {
            language: language.to_string(),
        });
    }
    let location = locate_block(contents, key_line, text, BlockStyle::TomlMultiline)
        .unwrap_or(QueryLocation::KeyLine { line: key_line });
    Ok(Ok(EmbeddedQuery {
        text: text.to_string(),
        location,
    }))
}

#[derive(Clone, Copy)]
enum BlockStyle {
    /// `key: |` followed by lines indented deeper than the key.
    YamlLiteral,
    /// `key = '''` or `key = """` with the text starting on the next line.
    TomlMultiline,
}

/// Finds the exact position of a multi-line value, or None when the file's bytes are not the
/// value's text line for line (folded or escaped), in which case only the key line is reliable.
fn locate_block(
    contents: &str,
    key_line: usize,
    value: &str,
    style: BlockStyle,
) -> Option<QueryLocation> {
    let lines: Vec<&str> = contents.lines().collect();
    let key = lines.get(key_line - 1)?;
    let after_key = match style {
        BlockStyle::YamlLiteral => key.split_once(':')?.1.trim(),
        BlockStyle::TomlMultiline => key.split_once('=')?.1.trim(),
    };
    let opens_block = match style {
        BlockStyle::YamlLiteral => {
            after_key.starts_with('|')
                && after_key[1..]
                    .chars()
                    .all(|c| matches!(c, '-' | '+' | '0'..='9'))
        }
        BlockStyle::TomlMultiline => after_key == "'''" || after_key == "\"\"\"",
    };
    if !opens_block {
        return None;
    }
    let body = &lines[key_line..];
    let indent = match style {
        BlockStyle::YamlLiteral => body
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start_matches(' ').len())?,
        BlockStyle::TomlMultiline => 0,
    };
    // Line for line, the value must be the file's text with the indentation removed.
    for (n, value_line) in value.lines().enumerate() {
        let file_line = body.get(n)?;
        let stripped = file_line.get(indent.min(file_line.len())..).unwrap_or("");
        if stripped.trim_end() != value_line.trim_end() {
            return None;
        }
    }
    Some(QueryLocation::Exact {
        first_line: key_line + 1,
        indent,
    })
}

/// 1-based line of `key:` at the start of a line (a top-level YAML key).
fn top_level_key_line(contents: &str, key: &str) -> Option<usize> {
    contents
        .lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// 1-based line of `key =` inside the TOML table `[table]`.
fn key_line_in_table(contents: &str, table: &str, key: &str) -> Option<usize> {
    let header = format!("[{table}]");
    let mut in_table = false;
    for (i, line) in contents.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_table = trimmed == header;
        } else if in_table
            && trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(i + 1);
        }
    }
    None
}

fn line_and_column(contents: &str, offset: usize) -> (usize, usize) {
    let before = &contents[..offset.min(contents.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(contents: &str) -> EmbeddedQuery {
        extract_query(RuleFormat::SentinelYaml, contents)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn yaml_literal_block_maps_lines_exactly() {
        let q =
            yaml("id: x\nname: n\nquery: |\n  T\n  | where A == 1\n\n  | take 5\nversion: 1.0.0\n");
        assert_eq!(q.text, "T\n| where A == 1\n\n| take 5\n");
        assert_eq!(
            q.location,
            QueryLocation::Exact {
                first_line: 4,
                indent: 2
            }
        );
    }

    #[test]
    fn yaml_folded_or_quoted_query_reports_the_key_line() {
        let q = yaml("id: x\nquery: >\n  T\n  | take 5\n");
        assert_eq!(q.text, "T | take 5\n");
        assert_eq!(q.location, QueryLocation::KeyLine { line: 2 });
        let q = yaml("id: x\nquery: 'T | take 5'\n");
        assert_eq!(q.location, QueryLocation::KeyLine { line: 2 });
    }

    #[test]
    fn yaml_parser_query_key_is_found() {
        let q = yaml("Parser:\n  Title: p\nParserQuery: |\n  T | take 1\n");
        assert_eq!(q.text, "T | take 1\n");
        assert_eq!(
            q.location,
            QueryLocation::Exact {
                first_line: 4,
                indent: 2
            }
        );
    }

    #[test]
    fn yaml_errors_carry_the_position() {
        let err = extract_query(RuleFormat::SentinelYaml, "id: x\nquery: [unclosed\n").unwrap_err();
        assert!(
            matches!(
                err,
                RuleFileError::Yaml { line: 3, .. } | RuleFileError::Yaml { line: 2, .. }
            ),
            "{err:?}"
        );
        let err = extract_query(RuleFormat::SentinelYaml, "id: x\nname: y\n").unwrap_err();
        assert_eq!(err, RuleFileError::NoQuery { expected: "query" });
    }

    #[test]
    fn toml_multiline_literal_maps_lines_exactly() {
        let text = "[metadata]\nx = 1\n\n[rule]\nname = \"n\"\nlanguage = \"kql\"\nquery = '''\nT\n| take 5\n'''\n";
        let q = extract_query(RuleFormat::ElasticToml, text)
            .unwrap()
            .unwrap();
        assert_eq!(q.text, "T\n| take 5\n");
        assert_eq!(
            q.location,
            QueryLocation::Exact {
                first_line: 8,
                indent: 0
            }
        );
    }

    #[test]
    fn toml_machine_learning_rule_has_no_query_and_kuery_is_refused() {
        let ml = "[rule]\ntype = \"machine_learning\"\nmachine_learning_job_id = \"j\"\n";
        assert!(extract_query(RuleFormat::ElasticToml, ml).unwrap().is_err());
        let kuery =
            "[rule]\ntype = \"query\"\nlanguage = \"kuery\"\nquery = \"event.outcome:failure\"\n";
        let err = extract_query(RuleFormat::ElasticToml, kuery).unwrap_err();
        assert!(matches!(err, RuleFileError::ForeignLanguage { .. }));
    }

    #[test]
    fn toml_syntax_error_has_line_and_column() {
        let err =
            extract_query(RuleFormat::ElasticToml, "[rule]\nquery = \"unterminated\n").unwrap_err();
        assert!(
            matches!(err, RuleFileError::Toml { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn kql_file_strips_a_bom() {
        let q = extract_query(RuleFormat::Kql, "\u{feff}T | take 1")
            .unwrap()
            .unwrap();
        assert_eq!(q.text, "T | take 1");
    }
}
