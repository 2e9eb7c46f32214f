//! Result formatting: an aligned text table like Kusto Explorer, JSON, JSON Lines and CSV.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::format::{display_at, json_at};
use crate::session::QueryResult;

/// Output formats of `goshawk query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    JsonLines,
    Csv,
}

pub fn write_result(
    result: &QueryResult,
    format: OutputFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Table => write_table(result, out),
        OutputFormat::Json => write_json(result, out),
        OutputFormat::JsonLines => write_json_lines(result, out),
        OutputFormat::Csv => write_csv(result, out),
    }
}

/// Each row as cells of text; nulls are empty.
fn text_rows(result: &QueryResult) -> Vec<Vec<String>> {
    let mut rows = Vec::with_capacity(result.row_count());
    for batch in &result.batches {
        for row in 0..batch.num_rows() {
            rows.push(
                result
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        display_at(batch.column(i).as_ref(), row, c.ty).unwrap_or_default()
                    })
                    .collect(),
            );
        }
    }
    rows
}

fn json_rows(result: &QueryResult) -> Vec<Vec<Value>> {
    let mut rows = Vec::with_capacity(result.row_count());
    for batch in &result.batches {
        for row in 0..batch.num_rows() {
            rows.push(
                result
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| json_at(batch.column(i).as_ref(), row, c.ty))
                    .collect(),
            );
        }
    }
    rows
}

/// `{"columns":[{"name":..,"type":..}],"rows":[[..]]}` plus `"render"` when the query has one.
pub fn write_json(result: &QueryResult, out: &mut dyn Write) -> io::Result<()> {
    let columns: Vec<Value> = result
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.ty.name()}))
        .collect();
    let mut document = Map::new();
    document.insert("columns".into(), Value::Array(columns));
    document.insert(
        "rows".into(),
        Value::Array(json_rows(result).into_iter().map(Value::Array).collect()),
    );
    if let Some(render) = &result.render {
        let properties: Map<String, Value> = render
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        document.insert(
            "render".into(),
            json!({"visualization": render.visualization, "properties": properties}),
        );
    }
    serde_json::to_writer(&mut *out, &Value::Object(document))?;
    writeln!(out)
}

/// One JSON object per row, keyed by column name.
pub fn write_json_lines(result: &QueryResult, out: &mut dyn Write) -> io::Result<()> {
    for row in json_rows(result) {
        let object: Map<String, Value> = result
            .columns
            .iter()
            .map(|c| c.name.clone())
            .zip(row)
            .collect();
        serde_json::to_writer(&mut *out, &Value::Object(object))?;
        writeln!(out)?;
    }
    Ok(())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn write_csv(result: &QueryResult, out: &mut dyn Write) -> io::Result<()> {
    let header: Vec<String> = result.columns.iter().map(|c| csv_field(&c.name)).collect();
    writeln!(out, "{}", header.join(","))?;
    for row in text_rows(result) {
        let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// An aligned text table: header, a rule, then the rows; line breaks in cells show as `\n`.
pub fn write_table(result: &QueryResult, out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<Vec<String>> = text_rows(result)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.replace('\n', "\\n").replace('\r', "\\r"))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = result
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}", width = *width))
            .collect();
        padded.join(" | ").trim_end().to_string()
    };
    let header: Vec<String> = result.columns.iter().map(|c| c.name.clone()).collect();
    writeln!(out, "{}", line(&header))?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("-+-"))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}
