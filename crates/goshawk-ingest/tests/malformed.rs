//! Nothing lost: malformed input of every kind ends up in the rejects with file, line and
//! reason, and never stops the good records around it or the other files.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use goshawk_ingest::{IngestOptions, SourceStatus};
use serde_json::{Value, json};

fn activity(correlation: &str, time: &str) -> Value {
    json!({
        "time": time,
        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app",
        "operationName": "MICROSOFT.WEB/SITES/START/ACTION",
        "category": "Administrative",
        "resultType": "Success",
        "correlationId": correlation,
        "properties": {"statusCode": "OK"}
    })
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn rejects_of<'a>(rejects: &'a [Value], file: &str) -> Vec<&'a Value> {
    rejects
        .iter()
        .filter(|r| r["source"].as_str().is_some_and(|s| s.ends_with(file)))
        .collect()
}

#[test]
fn malformed_records_go_to_the_rejects_with_file_and_line() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let dir = inputs.path();

    let good = |n: u32| activity(&format!("good-{n}"), "2026-05-01T10:00:00Z").to_string();
    let wrong_type = json!({
        "time": "2026-05-01T10:00:00Z", "category": "ProvisioningLogs", "resultType": "Success",
        "durationMs": "fast", "properties": {"id": "x"}
    });
    let impossible_date = activity("bad-date", "2026-02-30T10:00:00Z");
    let lines = [
        good(1),
        r#"{"time": "2026-05-01T00:00:00Z", "resourceId": "/subscriptions/s1/resourceGr"#
            .to_string(),
        good(2),
        wrong_type.to_string(),
        impossible_date.to_string(),
        good(3),
        r#"{"time": "2026-05-01T00:00:00Z","#.to_string(),
        good(4),
        r#"{"time": "2026-05-01T00:00:00Z" "category": 1}"#.to_string(),
        "[1, 2, 3]".to_string(),
        good(5),
    ];
    write(&dir.join("records.jsonl"), lines.join("\n").as_bytes());

    // A pretty-printed array with a scalar element and an element of the wrong shape.
    let array = format!(
        "[\n  {},\n  42,\n  {},\n  {{\"hello\": \"world\"}}\n]\n",
        good(6),
        good(7)
    );
    write(&dir.join("array.json"), array.as_bytes());

    let mut garbage = Vec::new();
    for i in 0..4096u32 {
        garbage.push((i.wrapping_mul(2_654_435_761) >> 13) as u8);
    }
    write(&dir.join("garbage.bin"), &garbage);
    write(&dir.join("empty.json"), b"");
    let empty_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default())
        .finish()
        .unwrap();
    write(&dir.join("empty.json.gz"), &empty_gz);

    // A single line far above the record limit, then a normal line.
    let huge = activity("huge", "2026-05-01T10:00:00Z");
    let mut huge = huge.as_object().unwrap().clone();
    huge.insert("padding".into(), Value::String("x".repeat(3 << 20)));
    let huge_text = format!("{}\n{}\n", Value::Object(huge), good(8));
    write(&dir.join("huge.jsonl"), huge_text.as_bytes());

    // gzip cut in the middle of its stream.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    for n in 10..200 {
        gz.write_all(good(n).as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    let full = gz.finish().unwrap();
    write(&dir.join("cut.gz"), &full[..full.len() / 2]);

    let missing = dir.join("does-not-exist.json");
    let options = IngestOptions {
        max_record_bytes: 1 << 20,
        ..IngestOptions::default()
    };
    let mut input_list = vec![dir.to_path_buf()];
    input_list.push(missing.clone());
    let summary = run(lake.path(), &input_list, &options);
    let rejects = reject_lines(lake.path());
    assert_eq!(rejects.len() as u64, summary.rejected);
    let source = |name: &str| {
        summary
            .sources
            .iter()
            .find(|s| s.path.ends_with(name))
            .unwrap_or_else(|| panic!("no report for {name}: {summary:#?}"))
    };

    // records.jsonl: 11 lines = 5 good + 6 rejected, each at its own line.
    let records = source("records.jsonl");
    assert_eq!(records.ingested_total(), 5, "{records:#?}");
    assert_eq!(
        records.rejected,
        6,
        "{:#?}",
        rejects_of(&rejects, "records.jsonl")
    );
    let mut lines_rejected: Vec<u64> = rejects_of(&rejects, "records.jsonl")
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    lines_rejected.sort();
    assert_eq!(lines_rejected, vec![2, 4, 5, 7, 9, 10]);
    let reasons: Vec<String> = rejects_of(&rejects, "records.jsonl")
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("DurationMs") && r.contains("fast")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("2026-02-30")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("truncated")),
        "{reasons:?}"
    );

    let array = source("array.json");
    assert_eq!(array.ingested_total(), 2);
    assert_eq!(
        array.rejected,
        2,
        "{:#?}",
        rejects_of(&rejects, "array.json")
    );

    let garbage = source("garbage.bin");
    assert_eq!(garbage.ingested_total(), 0);
    assert!(garbage.rejected > 0);
    let covered: u64 = rejects_of(&rejects, "garbage.bin")
        .iter()
        .map(|r| r["raw_bytes"].as_u64().unwrap())
        .sum();
    assert!(covered > 0);

    for empty in ["empty.json", "empty.json.gz"] {
        let report = source(empty);
        assert_eq!(report.status, SourceStatus::Ingested);
        assert_eq!((report.ingested_total(), report.rejected), (0, 0));
    }
    assert!(source("empty.json.gz").gzip);

    let huge = source("huge.jsonl");
    assert_eq!((huge.ingested_total(), huge.rejected), (1, 1));
    let huge_reject = rejects_of(&rejects, "huge.jsonl")[0];
    assert!(
        huge_reject["reason"]
            .as_str()
            .unwrap()
            .contains("larger than the limit")
    );
    assert_eq!(huge_reject["raw_truncated"], true);
    assert!(huge_reject["raw"].as_str().unwrap().len() <= 64 << 10);
    assert!(huge_reject["raw_bytes"].as_u64().unwrap() > 3 << 20);

    let cut = source("cut.gz");
    assert_eq!(cut.status, SourceStatus::Partial);
    assert!(cut.ingested_total() > 0);
    assert!(cut.error.as_deref().unwrap().contains("cut.gz"));

    let missing_report = source("does-not-exist.json");
    assert_eq!(missing_report.status, SourceStatus::Unreadable);
    assert!(
        missing_report
            .error
            .as_deref()
            .unwrap()
            .contains("does-not-exist.json")
    );
    assert!(!summary.is_complete());

    // Every reject names its file and line, and the lake holds exactly the good rows.
    for reject in &rejects {
        assert!(
            reject["source"]
                .as_str()
                .unwrap()
                .starts_with(&*dir.to_string_lossy())
        );
        assert!(reject["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }
    let rows = read_table(lake.path(), "AzureActivity");
    assert_eq!(row_count(&rows) as u64, summary.ingested);
}

#[test]
fn a_json_array_streams_with_memory_bounded_by_the_largest_record() {
    // 60k records in one pretty-printed array: the scanner never holds more than one element,
    // and the sink writes several files when its buffer budget is small.
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let path = inputs.path().join("big.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    file.write_all(b"{\"records\": [\n").unwrap();
    let count = 60_000;
    for i in 0..count {
        let record = activity(
            &format!("c{i}"),
            &format!("2026-05-0{}T10:00:00Z", 1 + i % 3),
        );
        if i > 0 {
            file.write_all(b",\n").unwrap();
        }
        file.write_all(record.to_string().as_bytes()).unwrap();
    }
    file.write_all(b"\n]}\n").unwrap();
    drop(file);
    let options = IngestOptions {
        max_buffered_bytes: 1 << 20,
        max_pending_bytes: 64 << 10,
        max_file_rows: 15_000,
        ..IngestOptions::default()
    };
    let summary = run(lake.path(), &[path], &options);
    assert_eq!(summary.rejected, 0);
    assert_eq!(summary.ingested, count);
    let lake_table = goshawk_ingest::Lake::open(lake.path())
        .unwrap()
        .table("AzureActivity")
        .unwrap()
        .unwrap();
    // 20,000 rows a day: each day's file is cut at 15,000 rows.
    assert_eq!(lake_table.files.len(), 6, "files were closed along the way");
    let row_groups: usize = lake_table
        .files
        .iter()
        .map(|f| {
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&f.path).unwrap())
                .map(|r| parquet::file::reader::FileReader::metadata(&r).num_row_groups())
                .unwrap()
        })
        .sum();
    assert!(
        row_groups > lake_table.files.len(),
        "row groups were written out before they were full: {row_groups}"
    );
    let days: std::collections::BTreeSet<_> = lake_table.files.iter().map(|f| f.day).collect();
    assert_eq!(days.len(), 3);
    assert_eq!(lake_table.stats().unwrap().rows, count);
}

/// An envelope read in memory is stored record by record as it is parsed; when a flaw turns up
/// part way, the records already stored are not stored again and the rest is read as the
/// streaming reader reads it. The result is the one the streaming reader alone gives (the same
/// text, gzipped, only ever goes through it).
#[test]
fn a_flaw_part_way_through_an_envelope_gives_what_the_streaming_reader_gives() {
    let record = |i: usize| activity(&format!("r{i}"), &format!("2026-05-01T00:00:{i:02}Z"));
    let good = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| record(i).to_string())
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let flawed = [
        // A record that is not JSON, between good ones.
        format!(
            "{{\"records\":[\n{},\n{{\"time\": tru}},\n{}\n]}}",
            good(0..3),
            good(3..5)
        ),
        // A record that is not an object.
        format!("{{\"records\":[{},[1,2],{}]}}", good(0..2), good(2..4)),
        // Text after the envelope.
        format!("{{\"records\":[{}]}}\ntrailing words\n", good(0..4)),
        // A second envelope after the first (valid: concatenated values; nothing to reject).
        format!(
            "{{\"records\":[{}]}}{{\"records\":[{}]}}",
            good(0..2),
            good(2..5)
        ),
        // Cut off part way through a record.
        format!(
            "{{\"records\":[{},{}",
            good(0..3),
            &record(3).to_string()[..40]
        ),
        // A record with a raw line break inside a string.
        format!(
            "{{\"records\":[{},{{\"time\":\"a\nb\"}},{}]}}",
            good(0..2),
            good(2..3)
        ),
        // A repeated member name (serde_json's rules decide), then a stray comma (which the
        // streaming reader passes over: nothing to reject).
        format!(
            "{{\"records\":[{},{{\"correlationId\":\"x\",\"correlationId\":\"dup\",\"time\":\"2026-05-01T01:00:00Z\",\"category\":\"Administrative\"}},,{}]}}",
            good(0..2),
            good(2..3)
        ),
    ];
    for (n, text) in flawed.iter().enumerate() {
        let inputs = tempfile::tempdir().unwrap();
        let plain = inputs.path().join("message.json");
        std::fs::write(&plain, text).unwrap();
        let zipped = inputs.path().join("message.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(&zipped, gz.finish().unwrap()).unwrap();

        let outcome = |source: &Path| {
            let lake = tempfile::tempdir().unwrap();
            let summary = run(
                lake.path(),
                &[source.to_path_buf()],
                &IngestOptions::default(),
            );
            let mut ids: Vec<String> =
                strings(&read_table(lake.path(), "AzureActivity"), "CorrelationId")
                    .into_iter()
                    .flatten()
                    .collect();
            ids.sort();
            let mut rejects: Vec<(u64, u64, String)> = reject_lines(lake.path())
                .iter()
                .map(|r| {
                    (
                        r["line"].as_u64().unwrap(),
                        r["byte_offset"].as_u64().unwrap(),
                        r["reason"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            rejects.sort();
            (summary.ingested, summary.rejected, ids, rejects)
        };
        let (fast, streamed) = (outcome(&plain), outcome(&zipped));
        assert_eq!(fast, streamed, "flawed envelope #{n}");
        assert!(!fast.2.is_empty(), "flawed envelope #{n} stored nothing");
        let clean = [3, 6].contains(&n);
        assert_eq!(
            fast.1 == 0,
            clean,
            "flawed envelope #{n}: {} rejected",
            fast.1
        );
    }
}
