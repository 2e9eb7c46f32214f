//! The lake's read side and its crash rules: files of unfinished sources are invisible to readers
//! and removed by the next ingest.

mod common;

use chrono::NaiveDate;
use common::*;
use goshawk_ingest::{IngestOptions, Lake};

#[test]
fn uncommitted_files_are_invisible_and_removed_by_the_next_ingest() {
    let lake = tempfile::tempdir().unwrap();
    let input = samples().join("azure_activity/activity_log_records.json");
    run(lake.path(), &[input], &IngestOptions::default());
    let table = Lake::open(lake.path())
        .unwrap()
        .table("azureactivity")
        .unwrap()
        .unwrap();
    let committed = table.files.len();
    assert!(committed > 0);
    assert_eq!(table.name(), "AzureActivity");
    assert_eq!(table.arrow_schema().fields().len(), 38);

    // What a killed ingest leaves: a complete data file and a temporary file of a source that
    // never reached the manifest.
    let day_dir = table.files[0].path.parent().unwrap().to_path_buf();
    let orphan = day_dir.join("ffffffffffffffffffffffffffffffff-0000.parquet");
    std::fs::copy(&table.files[0].path, &orphan).unwrap();
    let temp = day_dir.join(".ffffffffffffffffffffffffffffffff-0001.parquet.tmp");
    std::fs::write(&temp, b"half a file").unwrap();
    let table = Lake::open(lake.path())
        .unwrap()
        .table("AzureActivity")
        .unwrap()
        .unwrap();
    assert_eq!(
        table.files.len(),
        committed,
        "uncommitted files are not listed"
    );

    let summary = run(lake.path(), &[], &IngestOptions::default());
    assert_eq!(summary.orphans_removed.len(), 2, "{summary:#?}");
    assert!(!orphan.exists() && !temp.exists());
    assert_eq!(row_count(&read_table(lake.path(), "AzureActivity")), 7);
}

#[test]
fn files_carry_their_day_and_can_be_pruned_by_it() {
    let lake = tempfile::tempdir().unwrap();
    let input = samples().join("azure_activity/activity_log_records.json");
    run(lake.path(), &[input], &IngestOptions::default());
    let table = Lake::open(lake.path())
        .unwrap()
        .table("AzureActivity")
        .unwrap()
        .unwrap();
    let days: Vec<NaiveDate> = table.files.iter().map(|f| f.day).collect();
    assert!(days.contains(&NaiveDate::from_ymd_opt(2019, 1, 21).unwrap()));
    for file in &table.files {
        let batches = {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file.path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            reader.map(Result::unwrap).collect::<Vec<_>>()
        };
        for time in times(&batches, "TimeGenerated").into_iter().flatten() {
            let day = chrono::DateTime::from_timestamp_nanos(time).date_naive();
            assert_eq!(day, file.day, "{}", file.path.display());
        }
    }
    let jan_2019 = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    let feb_2019 = NaiveDate::from_ymd_opt(2019, 2, 1).unwrap();
    assert_eq!(table.files_between(jan_2019, feb_2019).count(), 1);
    assert!(
        Lake::open(lake.path())
            .unwrap()
            .table("NoSuchTable")
            .is_err()
    );
    assert!(Lake::open(lake.path().join("missing")).is_err());
}

#[test]
fn a_lake_inside_the_input_directory_is_not_read_as_input() {
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(
        samples().join("azure_activity/activity_log_records.json"),
        root.path().join("records.json"),
    )
    .unwrap();
    let lake = root.path().join("lake");
    run(
        &lake,
        &[root.path().to_path_buf()],
        &IngestOptions::default(),
    );
    let again = run(
        &lake,
        &[root.path().to_path_buf()],
        &IngestOptions::default(),
    );
    assert_eq!(again.sources.len(), 1, "{again:#?}");
    assert_eq!(again.rejected, 0);
    assert_eq!(again.duplicate_sources, 1);
}
