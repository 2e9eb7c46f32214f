//! The HTML report: one self-contained file (inline CSS, inline SVG, a few lines of inline
//! JavaScript; nothing is fetched) with a summary, a timeline chart, the findings table and a
//! detail section per rule.

use std::fmt::Write as _;
use std::io::{self, Write};

use goshawk_kql_engine::time::parse_datetime;

use super::{cell_text, entities_text};
use crate::findings::{Finding, HuntReport, RuleRecord, RuleStatus, Severity};

/// Evidence rows shown per finding in a rule's detail; the rest is in the JSON output.
const MAX_EVIDENCE_ROWS: usize = 50;

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d2b3a;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d3de}
main{padding:18px 28px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:14px 18px;margin-bottom:18px;overflow-x:auto}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e6e9ee;padding:5px 7px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eef1f5}
.sev{display:inline-block;border-radius:3px;padding:1px 7px;color:#fff;font-size:12px;font-weight:600}
.sev-critical{background:#7b1fa2}.sev-high{background:#c62828}.sev-medium{background:#ef6c00}
.sev-low{background:#1e88e5}.sev-informational{background:#607d8b}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #dde2e8;border-radius:6px;padding:8px 14px;min-width:110px;background:#fafbfc}
.card b{display:block;font-size:22px}
.status-ran{color:#2e7d32}.status-skipped{color:#8d6e00}.status-failed{color:#c62828;font-weight:600}
pre{white-space:pre-wrap;background:#f3f5f8;border:1px solid #e1e5ea;padding:8px;border-radius:4px;font-size:12px}
.guide{white-space:pre-wrap}
input{padding:5px 8px;font-size:13px;width:320px;margin-bottom:8px}
svg text{font-size:11px;fill:#34404d}
"#;

const SCRIPT: &str = r#"
function filterFindings(text){
  var needle=text.toLowerCase();
  document.querySelectorAll('#findings tbody tr').forEach(function(row){
    row.style.display=row.textContent.toLowerCase().indexOf(needle)>=0?'':'none';
  });
}
"#;

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    crate::html_text::escape(text)
}

fn severity_badge(severity: Severity) -> String {
    format!("<span class=\"sev sev-{severity}\">{severity}</span>")
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7b1fa2",
        Severity::High => "#c62828",
        Severity::Medium => "#ef6c00",
        Severity::Low => "#1e88e5",
        Severity::Informational => "#607d8b",
    }
}

/// An HTML id for a rule's detail section.
fn rule_anchor(index: usize) -> String {
    format!("rule-{}", index + 1)
}

/// Writes the whole report as one HTML document.
pub fn write_html(report: &HuntReport, out: &mut dyn Write) -> io::Result<()> {
    let summary = &report.summary;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>goshawk hunt report</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\
         <header><h1>goshawk hunt report</h1><p>now = {} · {} findings · {} rules ran, {} skipped, \
         {} failed · {:.1}s</p></header><main>",
        esc(&summary.now),
        summary.findings,
        summary.rules_run,
        summary.rules_skipped,
        summary.rules_failed,
        summary.elapsed_ms as f64 / 1000.0
    );

    html.push_str("<section><h2>Summary</h2><div class=\"cards\">");
    for count in &summary.by_severity {
        let _ = write!(
            html,
            "<div class=\"card\">{}<b>{}</b></div>",
            severity_badge(count.severity),
            count.findings
        );
    }
    html.push_str("</div>");
    if !summary.by_tactic.is_empty() {
        html.push_str(
            "<h3>By MITRE ATT&amp;CK tactic</h3><table><tr><th>Tactic</th><th>Findings</th></tr>",
        );
        for tactic in &summary.by_tactic {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&tactic.tactic),
                tactic.findings
            );
        }
        html.push_str("</table>");
    }
    if !summary.top_entities.is_empty() {
        html.push_str("<h3>Top entities</h3><table><tr><th>Type</th><th>Identifier</th><th>Value</th><th>Findings</th></tr>");
        for entity in &summary.top_entities {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&entity.entity_type),
                esc(&entity.identifier),
                esc(&entity.value),
                entity.findings
            );
        }
        html.push_str("</table>");
    }
    if !summary.max_signals_hit.is_empty() {
        html.push_str("<h3>max_signals caps hit</h3><ul>");
        for cap in &summary.max_signals_hit {
            let _ = write!(
                html,
                "<li>{}: {} alerts raised of {} results</li>",
                esc(&cap.rule_name),
                cap.max_signals,
                cap.results
            );
        }
        html.push_str("</ul>");
    }
    if !summary.load_errors.is_empty() {
        html.push_str("<h3>Content files that did not load</h3><ul>");
        for error in &summary.load_errors {
            let _ = write!(html, "<li><code>{}</code></li>", esc(error));
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>");

    html.push_str("<section><h2>Timeline</h2>");
    html.push_str(&timeline_svg(report));
    html.push_str("</section>");

    html.push_str(
        "<section><h2>Findings</h2><input type=\"search\" placeholder=\"Filter findings\" \
         oninput=\"filterFindings(this.value)\">",
    );
    if report.findings.is_empty() {
        html.push_str("<p>No findings.</p>");
    } else {
        html.push_str(
            "<table id=\"findings\"><thead><tr><th>#</th><th>Severity</th><th>Risk</th><th>Rule</th>\
             <th>First seen</th><th>Last seen</th><th>Tactics</th><th>Entities</th><th>Rows</th></tr></thead><tbody>",
        );
        for (index, finding) in report.findings.iter().enumerate() {
            let rule_index = summary
                .rules
                .iter()
                .position(|r| r.rule_id == finding.rule_id && r.rule_source == finding.rule_source)
                .unwrap_or(0);
            let entities: Vec<String> = finding
                .entities
                .iter()
                .map(|e| format!("{}: {}", esc(&e.entity_type), esc(&e.value)))
                .collect();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                index + 1,
                severity_badge(finding.severity),
                finding.risk_score,
                rule_anchor(rule_index),
                esc(&finding.rule_name),
                esc(finding.first_seen.as_deref().unwrap_or("")),
                esc(finding.last_seen.as_deref().unwrap_or("")),
                esc(&finding.tactics.join(", ")),
                entities.join("<br>"),
                finding.evidence.rows.len()
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");

    html.push_str("<section><h2>Rules</h2><table><tr><th>Rule</th><th>Kind</th><th>Status</th><th>Results</th><th>Findings</th><th>Reason</th></tr>");
    for (index, rule) in summary.rules.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"status-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rule_anchor(index),
            esc(&rule.rule_name),
            rule.rule_kind.as_str(),
            status_name(&rule.status),
            status_name(&rule.status),
            rule.results,
            rule.findings,
            esc(rule
                .reason
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or(""))
        );
    }
    html.push_str("</table></section>");

    for (index, rule) in summary.rules.iter().enumerate() {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.rule_id == rule.rule_id && f.rule_source == rule.rule_source)
            .collect();
        let _ = write!(html, "<section id=\"{}\">", rule_anchor(index));
        html.push_str(&rule_detail_html(rule, &findings));
        html.push_str("</section>");
    }
    html.push_str("</main></body></html>\n");
    out.write_all(html.as_bytes())
}

fn status_name(status: &RuleStatus) -> &'static str {
    match status {
        RuleStatus::Ran => "ran",
        RuleStatus::Skipped => "skipped",
        RuleStatus::Failed => "failed",
    }
}

/// One rule's detail: what it is (from its findings, which carry the rule's metadata), how its
/// run went, its investigation guide and each finding's entities and evidence. This is the one
/// place a fuller rule page (`goshawk rules show --format html`) would be embedded.
pub fn rule_detail_html(rule: &RuleRecord, findings: &[&Finding]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2>{}</h2><table><tr><th>Id</th><td><code>{}</code></td></tr>\
         <tr><th>Kind</th><td>{}</td></tr><tr><th>Source</th><td><code>{}</code></td></tr>\
         <tr><th>Status</th><td class=\"status-{}\">{}</td></tr>\
         <tr><th>Results</th><td>{}</td></tr><tr><th>Findings</th><td>{}</td></tr>",
        esc(&rule.rule_name),
        esc(&rule.rule_id),
        rule.rule_kind.as_str(),
        esc(&rule.rule_source),
        status_name(&rule.status),
        status_name(&rule.status),
        rule.results,
        rule.findings
    );
    if let Some(first) = findings.first() {
        let _ = write!(
            html,
            "<tr><th>Severity</th><td>{}</td></tr><tr><th>Risk score</th><td>{}</td></tr>\
             <tr><th>Tactics</th><td>{}</td></tr><tr><th>Techniques</th><td>{}</td></tr>\
             <tr><th>Window</th><td>{} → {}</td></tr>",
            severity_badge(first.severity),
            first.risk_score,
            esc(&first.tactics.join(", ")),
            esc(&first.techniques.join(", ")),
            esc(first
                .window
                .start
                .as_deref()
                .unwrap_or("(set by the query)")),
            esc(&first.window.end)
        );
    }
    html.push_str("</table>");
    if let Some(reason) = &rule.reason {
        let _ = write!(html, "<h3>Reason</h3><pre>{}</pre>", esc(reason));
    }
    if !rule.page_html.is_empty() {
        // Already escaped by the page renderer: it is the same page `goshawk rules show` prints.
        let _ = write!(
            html,
            "<details class=\"rule-page\"><summary>Rule page: what the query does, step by step</summary>{}</details>",
            rule.page_html
        );
    }
    let Some(first) = findings.first() else {
        return html;
    };
    if !first.description.is_empty() {
        let _ = write!(
            html,
            "<h3>Description</h3><div class=\"guide\">{}</div>",
            esc(&first.description)
        );
    }
    if let Some(guide) = &first.investigation_guide
        && guide != &first.description
    {
        let _ = write!(
            html,
            "<h3>Investigation guide</h3><div class=\"guide\">{}</div>",
            esc(guide)
        );
    }
    for (number, finding) in findings.iter().enumerate() {
        let _ = write!(
            html,
            "<h3>Finding {} · {} → {}</h3><p>Entities: {}</p>",
            number + 1,
            esc(finding.first_seen.as_deref().unwrap_or("?")),
            esc(finding.last_seen.as_deref().unwrap_or("?")),
            esc(&entities_text(finding))
        );
        html.push_str("<table><tr>");
        for column in &finding.evidence.columns {
            let _ = write!(
                html,
                "<th title=\"{}\">{}</th>",
                esc(&column.kusto_type),
                esc(&column.name)
            );
        }
        html.push_str("</tr>");
        for row in finding.evidence.rows.iter().take(MAX_EVIDENCE_ROWS) {
            html.push_str("<tr>");
            for cell in row {
                let _ = write!(html, "<td>{}</td>", esc(&cell_text(cell)));
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
        if finding.evidence.rows.len() > MAX_EVIDENCE_ROWS {
            let _ = write!(
                html,
                "<p>{} more rows in the JSON output.</p>",
                finding.evidence.rows.len() - MAX_EVIDENCE_ROWS
            );
        }
    }
    html
}

/// Timeline lanes drawn at most; past this the chart says how many findings it leaves out.
const MAX_LANES: usize = 40;

/// Findings over time: one lane per finding (labelled with its rule and first entity), a bar
/// from first to last seen, coloured by severity.
fn timeline_svg(report: &HuntReport) -> String {
    let spans: Vec<(usize, i64, i64, &Finding)> = report
        .findings
        .iter()
        .filter_map(|f| {
            let start = parse_datetime(f.first_seen.as_deref()?)?;
            let end = f
                .last_seen
                .as_deref()
                .and_then(parse_datetime)
                .unwrap_or(start);
            Some((0, start, end.max(start), f))
        })
        .collect();
    if spans.is_empty() {
        return "<p>No finding has a time to place on the timeline.</p>".into();
    }
    let left_out = spans.len().saturating_sub(MAX_LANES);
    let spans = &spans[..spans.len().min(MAX_LANES)];
    let lanes: Vec<String> = spans
        .iter()
        .map(|(_, _, _, finding)| {
            let rule: String = finding.rule_name.chars().take(28).collect();
            match finding.entities.first() {
                Some(entity) => {
                    let value: String = entity.value.chars().take(18).collect();
                    format!("{rule} · {value}")
                }
                None => rule,
            }
        })
        .collect();
    let min = spans.iter().map(|s| s.1).min().unwrap_or(0);
    let max = spans.iter().map(|s| s.2).max().unwrap_or(0);
    let range = (max - min).max(1) as f64;
    let (left, width, lane_height, right) = (300.0, 700.0, 26.0, 70.0);
    let height = 40.0 + lane_height * lanes.len() as f64;
    let x = |t: i64| left + (t - min) as f64 / range * width;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" \
         aria-label=\"Findings timeline\">",
        left + width + right
    );
    for (lane, name) in lanes.iter().enumerate() {
        let y = 10.0 + lane_height * lane as f64;
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"{y}\" width=\"{}\" height=\"{lane_height}\" fill=\"{}\"/>\
             <text x=\"6\" y=\"{}\">{}</text>",
            left + width + right,
            if lane % 2 == 0 { "#f3f5f8" } else { "#ffffff" },
            y + 17.0,
            esc(name)
        );
    }
    for (lane, (_, start, end, finding)) in spans.iter().enumerate() {
        let y = 15.0 + lane_height * lane as f64;
        let x0 = x(*start);
        let w = (x(*end) - x0).max(4.0);
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" rx=\"3\" fill=\"{}\" \
             fill-opacity=\"0.75\"><title>{}: {} → {}</title></rect>",
            severity_color(finding.severity),
            esc(&finding.rule_name),
            esc(finding.first_seen.as_deref().unwrap_or("")),
            esc(finding.last_seen.as_deref().unwrap_or(""))
        );
    }
    let axis_y = 16.0 + lane_height * lanes.len() as f64;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#34404d\"/>",
        left + width
    );
    for tick in 0..=4 {
        let t = min + ((max - min) as f64 * f64::from(tick) / 4.0) as i64;
        let label = goshawk_kql_engine::time::format_datetime(t);
        let tx = x(t);
        let _ = write!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{axis_y}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#34404d\"/>\
             <text x=\"{tx:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            axis_y + 5.0,
            axis_y + 18.0,
            esc(label.get(..16).unwrap_or(&label).replace('T', " ").as_str())
        );
    }
    svg.push_str("</svg>");
    if left_out > 0 {
        let _ = write!(
            svg,
            "<p>{left_out} more findings are not drawn; the findings table lists them all.</p>"
        );
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
