#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampNanosecondType;
use goshawk_ingest::{IngestOptions, IngestSummary, Lake, Progress, expand_inputs, ingest};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        dir.join("samples").is_dir(),
        "the shared test corpus is missing at {} (tests need /work/shared/corpus)",
        dir.display()
    );
    dir
}

pub fn samples() -> PathBuf {
    corpus().join("samples")
}

pub fn run(lake: &Path, inputs: &[PathBuf], options: &IngestOptions) -> IngestSummary {
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let expanded = expand_inputs(&inputs).expect("inputs expand");
    ingest(lake, &expanded.files, options, &Progress::default()).expect("ingest runs")
}

/// Every row of a table, in file order.
pub fn read_table(lake: &Path, table: &str) -> Vec<RecordBatch> {
    let lake = Lake::open(lake).expect("lake opens");
    let Some(table) = lake.table(table).expect("table lists") else {
        return Vec::new();
    };
    let mut batches = Vec::new();
    for file in &table.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&file.path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            batches.push(batch.unwrap());
        }
    }
    batches
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// All values of a string column across batches (None for null).
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut values = Vec::new();
    for batch in batches {
        let array = batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"));
        let array = array.as_string::<i32>();
        for i in 0..array.len() {
            values.push(array.is_valid(i).then(|| array.value(i).to_string()));
        }
    }
    values
}

pub fn times(batches: &[RecordBatch], column: &str) -> Vec<Option<i64>> {
    let mut values = Vec::new();
    for batch in batches {
        let array = batch.column_by_name(column).unwrap();
        let array = array.as_primitive::<TimestampNanosecondType>();
        for i in 0..array.len() {
            values.push(array.is_valid(i).then(|| array.value(i)));
        }
    }
    values
}

pub fn reject_lines(lake: &Path) -> Vec<serde_json::Value> {
    let dir = lake.join("_rejects");
    let mut lines = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return lines;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                lines.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    lines
}
