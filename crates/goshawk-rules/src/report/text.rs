//! The report for people: one line per finding on stdout and, as Hayabusa does, a results
//! summary (meant for stderr, so that stdout stays the findings).

use std::io::{self, Write};

use super::cell_text;
use crate::findings::{Finding, HuntReport, HuntSummary, RuleStatus};

/// Widest a column of the findings table gets before its cells are cut with `…`.
const MAX_CELL: usize = 48;
/// Widest the details column gets.
const MAX_DETAILS: usize = 160;

/// Findings as an aligned table: time, severity, rule, entities, and the first evidence row's
/// `column: value` pairs. Nothing is printed when there are no findings.
pub fn write_table(report: &HuntReport, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    let header = ["Time", "Severity", "Rule", "Entities", "Details"];
    let rows: Vec<[String; 5]> = report.findings.iter().map(table_row).collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()).take(4) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str(" | ");
            }
            if i < 4 {
                text.push_str(&format!("{cell:<width$}", width = widths[i]));
            } else {
                text.push_str(cell);
            }
        }
        text.trim_end().to_string()
    };
    writeln!(out, "{}", line(&header.map(str::to_string)))?;
    writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    )?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

fn table_row(finding: &Finding) -> [String; 5] {
    let time = finding
        .first_seen
        .clone()
        .unwrap_or_else(|| finding.window.end.clone());
    let entities: Vec<String> = finding.entities.iter().map(|e| e.value.clone()).collect();
    let details = anomaly_details(finding).or_else(|| {
        finding.evidence.rows.first().map(|row| {
            finding
                .evidence
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| format!("{}: {}", c.name, cell_text(v)))
                .collect::<Vec<_>>()
                .join(" · ")
        })
    });
    let details = details.unwrap_or_default();
    let details = if finding.evidence.rows.len() > 1 {
        format!("({} rows) {details}", finding.evidence.rows.len())
    } else {
        details
    };
    [
        time.get(..19).unwrap_or(&time).replace('T', " "),
        finding.severity.to_string(),
        cut(&finding.rule_name, MAX_CELL),
        cut(&entities.join(", "), MAX_CELL),
        cut(&details.replace(['\n', '\r'], " "), MAX_DETAILS),
    ]
}

/// An anomaly's evidence says it best in its own sentence: "score 55: <explanation>".
fn anomaly_details(finding: &Finding) -> Option<String> {
    let column = |name: &str| finding.evidence.columns.iter().position(|c| c.name == name);
    let row = finding.evidence.rows.first()?;
    let explanation = row.get(column("explanation")?)?;
    let score = column("record_score")
        .and_then(|i| row.get(i))
        .and_then(serde_json::Value::as_f64);
    Some(match score {
        Some(score) => format!("score {score:.0}: {}", cell_text(explanation)),
        None => cell_text(explanation),
    })
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// The end-of-run summary: findings per severity and tactic, top entities, the rules that ran,
/// were skipped or failed (with reasons), `max_signals` caps hit, content that did not load
/// and the time taken.
pub fn write_summary(summary: &HuntSummary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Results summary (now = {})", summary.now)?;
    let severities: Vec<String> = summary
        .by_severity
        .iter()
        .map(|s| format!("{} {}", s.severity, s.findings))
        .collect();
    writeln!(
        out,
        "  findings: {}  ({})",
        summary.findings,
        severities.join(", ")
    )?;
    if !summary.by_tactic.is_empty() {
        let tactics: Vec<String> = summary
            .by_tactic
            .iter()
            .map(|t| format!("{} {}", t.tactic, t.findings))
            .collect();
        writeln!(out, "  by tactic: {}", tactics.join(", "))?;
    }
    if !summary.top_entities.is_empty() {
        writeln!(out, "  top entities:")?;
        for entity in &summary.top_entities {
            writeln!(
                out,
                "    {:>4}  {} {} = {}",
                entity.findings, entity.entity_type, entity.identifier, entity.value
            )?;
        }
    }
    writeln!(
        out,
        "  rules: {} ran, {} skipped, {} failed  [{:.1}s]",
        summary.rules_run,
        summary.rules_skipped,
        summary.rules_failed,
        summary.elapsed_ms as f64 / 1000.0
    )?;
    for rule in &summary.rules {
        let label = match rule.status {
            RuleStatus::Ran if rule.reason.is_none() => continue,
            RuleStatus::Ran => "note",
            RuleStatus::Skipped => "skipped",
            RuleStatus::Failed => "FAILED",
        };
        let reason = rule.reason.as_deref().unwrap_or("");
        let mut lines = reason.lines();
        writeln!(
            out,
            "    {label:<7} {} ({}): {}",
            rule.rule_name,
            rule.rule_id,
            lines.next().unwrap_or("")
        )?;
        for line in lines {
            writeln!(out, "            {line}")?;
        }
    }
    for cap in &summary.max_signals_hit {
        writeln!(
            out,
            "  max_signals hit: {} ({}) raised {} alerts of {} results",
            cap.rule_name, cap.rule_id, cap.max_signals, cap.results
        )?;
    }
    if !summary.load_errors.is_empty() {
        writeln!(
            out,
            "  content files that did not load: {}",
            summary.load_errors.len()
        )?;
        for error in &summary.load_errors {
            writeln!(out, "    {error}")?;
        }
    }
    Ok(())
}
