//! The Parquet lake catalog: `day=` partitions are pruned by TimeGenerated bounds, and only
//! files of sources the lake's manifest records (finished ingests) are read.
//!
//! The test lake has a valid file for 2026-11-21 and a file for 2026-11-01 that is not
//! Parquet at all: a query whose window excludes 2026-11-01 only succeeds if that partition is
//! never opened, while a query over everything must fail on it.

use std::fs;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::datatypes::Schema;
use datafusion::parquet::arrow::ArrowWriter;
use goshawk_kql_engine::catalog::{Catalog, LakeCatalog};
use goshawk_kql_engine::session::QueryEngine;
use goshawk_types::KustoType;

fn ts(text: &str) -> i64 {
    goshawk_kql_engine::time::parse_datetime(text).unwrap_or_default()
}

/// The source id (first 32 hex digits of a blake3) that names a committed source's files.
const SOURCE: &str = "0123456789abcdef0123456789abcdef";

/// Records `SOURCE` as finished in the lake's manifest, as `goshawk ingest` does last.
fn commit_source(root: &std::path::Path) {
    let entry = serde_json::json!({
        "blake3": format!("{SOURCE}{SOURCE}"), "path": "test-input.json", "bytes": 0,
        "ingested_at": "2026-11-22T00:00:00Z", "rows": {}, "rejected": 0, "files": []
    });
    fs::write(
        root.join(goshawk_ingest::MANIFEST_FILE),
        format!("{entry}\n"),
    )
    .expect("manifest");
}

fn write_day(root: &std::path::Path, day: &str, times: &[&str]) {
    write_day_file(root, day, &format!("{SOURCE}-0000.parquet"), times);
}

fn write_day_file(root: &std::path::Path, day: &str, file_name: &str, times: &[&str]) {
    let dir = root.join("AADProvisioningLogs").join(format!("day={day}"));
    fs::create_dir_all(&dir).expect("mkdir");
    let schema: Arc<Schema> = Arc::new(Schema::new(vec![
        KustoType::DateTime.field("TimeGenerated"),
        KustoType::String.field("JobId"),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampNanosecondArray::from(times.iter().map(|t| ts(t)).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec!["job"; times.len()])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let file = fs::File::create(dir.join(file_name)).expect("create");
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

#[tokio::test]
async fn day_partitions_outside_the_time_filter_are_not_read() {
    let lake = tempfile::tempdir().expect("tempdir");
    write_day(
        lake.path(),
        "2026-11-21",
        &["2026-11-21T01:00:00Z", "2026-11-21T02:00:00Z"],
    );
    let old = lake.path().join("AADProvisioningLogs/day=2026-11-01");
    fs::create_dir_all(&old).expect("mkdir");
    fs::write(
        old.join(format!("{SOURCE}-0000.parquet")),
        b"this is not parquet",
    )
    .expect("write");
    commit_source(lake.path());

    let catalog = LakeCatalog::open(lake.path()).expect("lake");
    assert_eq!(catalog.table_names(), ["AADProvisioningLogs"]);
    let engine = QueryEngine::new(&catalog, ts("2026-11-22T00:00:00Z"));

    let recent = engine
        .query("AADProvisioningLogs | where TimeGenerated > ago(7d) | summarize n = count(), j = dcount(JobId)")
        .await;
    let recent = match recent {
        Ok(result) => result,
        Err(err) => panic!("the 2026-11-01 partition should have been pruned: {err}"),
    };
    let n = recent.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .map(|a| a.value(0));
    assert_eq!(n, Some(2));

    let everything = engine.query("AADProvisioningLogs | count").await;
    assert!(
        everything.is_err(),
        "without a time filter the broken partition is read"
    );
}

#[tokio::test]
async fn files_of_an_unfinished_ingest_are_not_read() {
    let lake = tempfile::tempdir().expect("tempdir");
    write_day(lake.path(), "2026-11-21", &["2026-11-21T01:00:00Z"]);
    // A source whose ingest was killed before its manifest line: its file must stay invisible.
    write_day_file(
        lake.path(),
        "2026-11-21",
        "fedcba9876543210fedcba9876543210-0000.parquet",
        &["2026-11-21T03:00:00Z", "2026-11-21T04:00:00Z"],
    );
    commit_source(lake.path());

    let catalog = LakeCatalog::open(lake.path()).expect("lake");
    let engine = QueryEngine::new(&catalog, ts("2026-11-22T00:00:00Z"));
    let result = engine
        .query("AADProvisioningLogs | count")
        .await
        .expect("query");
    let count = result.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .map(|a| a.value(0));
    assert_eq!(count, Some(1), "only the committed source's row");
}

#[test]
fn a_lake_without_committed_sources_has_no_tables() {
    let lake = tempfile::tempdir().expect("tempdir");
    write_day(lake.path(), "2026-11-21", &["2026-11-21T01:00:00Z"]);
    let catalog = LakeCatalog::open(lake.path()).expect("lake");
    assert!(catalog.table_names().is_empty());
    assert!(catalog.table("AADProvisioningLogs").is_none());
}
