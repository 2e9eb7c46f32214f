//! Few large files: one ingest run writes one file per table and day whatever the number of
//! sources, and `compact` merges the files of runs that each ingested a few sources.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use goshawk_ingest::{CompactOptions, IngestOptions, Lake, compact, read_log};
use serde_json::json;

/// Event Hub messages of Azure Activity records: `files` files, each with `per_file` records
/// spread over `days` days, out of time order within a file.
fn write_inputs(dir: &Path, files: usize, per_file: usize, days: usize) -> Vec<PathBuf> {
    (0..files)
        .map(|f| {
            let records: Vec<_> = (0..per_file)
                .map(|i| {
                    let day = 1 + (i + f) % days;
                    let second = (per_file - i) % 60;
                    json!({
                        "time": format!("2026-05-{day:02}T10:00:{second:02}Z"),
                        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app",
                        "operationName": "MICROSOFT.WEB/SITES/START/ACTION",
                        "category": "Administrative",
                        "resultType": "Success",
                        "correlationId": format!("f{f}-r{i}"),
                    })
                })
                .collect();
            let path = dir.join(format!("message-{f:03}.json"));
            std::fs::write(&path, json!({ "records": records }).to_string()).unwrap();
            path
        })
        .collect()
}

fn files_per_day(lake: &Path) -> Vec<usize> {
    let table = Lake::open(lake)
        .unwrap()
        .table("AzureActivity")
        .unwrap()
        .unwrap();
    let days: BTreeSet<_> = table.files.iter().map(|f| f.day).collect();
    days.iter()
        .map(|d| table.files.iter().filter(|f| f.day == *d).count())
        .collect()
}

fn correlation_ids(lake: &Path) -> Vec<String> {
    let mut ids: Vec<String> = strings(&read_table(lake, "AzureActivity"), "CorrelationId")
        .into_iter()
        .flatten()
        .collect();
    ids.sort();
    ids
}

#[test]
fn one_run_writes_one_file_per_table_and_day() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let files = write_inputs(inputs.path(), 40, 30, 3);
    let summary = run(lake.path(), &files, &IngestOptions::default());
    assert_eq!(summary.ingested, 1200);
    assert_eq!(files_per_day(lake.path()), [1, 1, 1]);
    // One commit records all 40 sources.
    let log = read_log(lake.path()).unwrap();
    assert_eq!(log.sources.len(), 40);
    assert_eq!(log.file_ids.len(), 1);
    // Nothing is added the second time.
    let again = run(lake.path(), &files, &IngestOptions::default());
    assert_eq!(again.duplicate_sources, 40);
    assert_eq!(correlation_ids(lake.path()).len(), 1200);
}

#[test]
fn input_spanning_more_days_than_open_files_keeps_every_row() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    // Every file touches 20 of 28 days, so the writer has to close files it will need again.
    // One worker that hands every row over at once, so that the files are opened in the order
    // of the input (several workers flushing side by side at the commit may fill each day's
    // file while it is open).
    let files = write_inputs(inputs.path(), 12, 20, 28);
    let options = IngestOptions {
        threads: 1,
        max_buffered_bytes: 1,
        ..IngestOptions::default()
    };
    let summary = run(lake.path(), &files, &options);
    assert_eq!(summary.ingested, 240);
    let per_day = files_per_day(lake.path());
    assert_eq!(per_day.len(), 28);
    assert!(
        per_day.iter().sum::<usize>() > 28,
        "more partitions than MAX_OPEN_FILES ({}): some files were closed early: {per_day:?}",
        goshawk_ingest::MAX_OPEN_FILES
    );
    let ids = correlation_ids(lake.path());
    assert_eq!(ids.len(), 240);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 240);
    // Compaction puts each day back into one file.
    compact(lake.path(), &CompactOptions::default()).unwrap();
    assert_eq!(files_per_day(lake.path()), vec![1; 28]);
    assert_eq!(correlation_ids(lake.path()), ids);
}

#[test]
fn compaction_merges_the_files_of_many_runs_and_keeps_every_row_once() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let files = write_inputs(inputs.path(), 6, 50, 2);
    for file in &files {
        run(
            lake.path(),
            std::slice::from_ref(file),
            &IngestOptions::default(),
        );
    }
    assert_eq!(files_per_day(lake.path()), [6, 6]);
    let before = correlation_ids(lake.path());
    assert_eq!(before.len(), 300);

    // A partition with fewer small files than `min_files` is left as it is.
    let summary = compact(
        lake.path(),
        &CompactOptions {
            min_files: 7,
            ..CompactOptions::default()
        },
    )
    .unwrap();
    assert!(summary.partitions.is_empty(), "{summary:#?}");
    assert_eq!(files_per_day(lake.path()), [6, 6]);

    let summary = compact(lake.path(), &CompactOptions::default()).unwrap();
    assert_eq!((summary.files_before, summary.files_after), (12, 2));
    assert_eq!(summary.partitions.len(), 2);
    assert_eq!(files_per_day(lake.path()), [1, 1]);
    assert_eq!(correlation_ids(lake.path()), before);
    // The replaced files are gone from the disk too.
    let on_disk = walk(lake.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert_eq!(on_disk, 2);
    // A second compaction has nothing to do; re-ingesting adds nothing.
    let summary = compact(lake.path(), &CompactOptions::default()).unwrap();
    assert!(summary.partitions.is_empty(), "{summary:#?}");
    let again = run(lake.path(), &files, &IngestOptions::default());
    assert_eq!(again.duplicate_sources, 6);
    assert_eq!(correlation_ids(lake.path()), before);

    // Files left at or above the size limit are not merged.
    let summary = compact(
        lake.path(),
        &CompactOptions {
            max_file_rows: 10,
            ..CompactOptions::default()
        },
    )
    .unwrap();
    assert!(summary.partitions.is_empty(), "{summary:#?}");
}

#[test]
fn a_replaced_file_left_by_a_crash_is_invisible_and_removed() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let files = write_inputs(inputs.path(), 2, 20, 1);
    for file in &files {
        run(
            lake.path(),
            std::slice::from_ref(file),
            &IngestOptions::default(),
        );
    }
    let old: Vec<PathBuf> = Lake::open(lake.path())
        .unwrap()
        .table("AzureActivity")
        .unwrap()
        .unwrap()
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    let saved: Vec<Vec<u8>> = old.iter().map(|p| std::fs::read(p).unwrap()).collect();
    compact(lake.path(), &CompactOptions::default()).unwrap();
    // What a crash after the manifest line and before the deletes leaves behind.
    for (path, bytes) in old.iter().zip(&saved) {
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(correlation_ids(lake.path()).len(), 40);
    let summary = run(lake.path(), &[], &IngestOptions::default());
    assert_eq!(summary.orphans_removed.len(), 2, "{summary:#?}");
    assert!(old.iter().all(|p| !p.exists()));
    assert_eq!(correlation_ids(lake.path()).len(), 40);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
