//! Writers for a [`HuntReport`]: a table for people (with a Hayabusa-like summary meant for
//! stderr), JSON, JSON Lines, CSV and one self-contained HTML file.
//!
//! * `json`: the whole report, `{"findings": [...], "summary": {...}}`, pretty-printed.
//! * `jsonl`: one finding per line (the summary is not a finding; read it from `json` or
//!   stderr).
//! * `csv`: one finding per row; lists are `;`-joined and the evidence is a JSON array of
//!   row objects.
//! * `html`: findings table, timeline chart (inline SVG) and per-rule detail; no network.

mod html;
mod text;

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::findings::{Finding, HuntReport};

pub use html::{rule_detail_html, write_html};
pub use text::{write_summary, write_table};

/// The output formats of `goshawk hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    JsonLines,
    Csv,
    Html,
}

/// Writes `report` in `format` to `out`.
pub fn write_report(
    report: &HuntReport,
    format: ReportFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        ReportFormat::Table => write_table(report, out),
        ReportFormat::Json => write_json(report, out),
        ReportFormat::JsonLines => write_json_lines(report, out),
        ReportFormat::Csv => write_csv(report, out),
        ReportFormat::Html => write_html(report, out),
    }
}

pub fn write_json(report: &HuntReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

pub fn write_json_lines(report: &HuntReport, out: &mut dyn Write) -> io::Result<()> {
    for finding in &report.findings {
        serde_json::to_writer(&mut *out, finding)?;
        writeln!(out)?;
    }
    Ok(())
}

const CSV_HEADER: [&str; 17] = [
    "rule_id",
    "rule_name",
    "rule_kind",
    "rule_source",
    "severity",
    "risk_score",
    "tactics",
    "techniques",
    "first_seen",
    "last_seen",
    "window_start",
    "window_end",
    "entities",
    "evidence_rows",
    "evidence",
    "description",
    "investigation_guide",
];

pub fn write_csv(report: &HuntReport, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for finding in &report.findings {
        writer.write_record(csv_record(finding))?;
    }
    writer.flush()
}

fn csv_record(finding: &Finding) -> Vec<String> {
    let kind = serde_json::to_value(finding.rule_kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    vec![
        finding.rule_id.clone(),
        finding.rule_name.clone(),
        kind,
        finding.rule_source.clone(),
        finding.severity.to_string(),
        finding.risk_score.to_string(),
        finding.tactics.join(";"),
        finding.techniques.join(";"),
        finding.first_seen.clone().unwrap_or_default(),
        finding.last_seen.clone().unwrap_or_default(),
        finding.window.start.clone().unwrap_or_default(),
        finding.window.end.clone(),
        entities_text(finding),
        finding.evidence.rows.len().to_string(),
        Value::Array(evidence_objects(finding)).to_string(),
        finding.description.clone(),
        finding.investigation_guide.clone().unwrap_or_default(),
    ]
}

/// `Type:Identifier=value` for each entity, `;`-joined.
pub(crate) fn entities_text(finding: &Finding) -> String {
    finding
        .entities
        .iter()
        .map(|e| format!("{}:{}={}", e.entity_type, e.identifier, e.value))
        .collect::<Vec<_>>()
        .join(";")
}

/// The evidence rows as objects keyed by column name.
pub(crate) fn evidence_objects(finding: &Finding) -> Vec<Value> {
    finding
        .evidence
        .rows
        .iter()
        .map(|row| {
            let object: Map<String, Value> = finding
                .evidence
                .columns
                .iter()
                .map(|c| c.name.clone())
                .zip(row.iter().cloned())
                .collect();
            Value::Object(object)
        })
        .collect()
}

/// A cell as text: strings bare, null empty, anything else as compact JSON.
pub(crate) fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
