//! Every file in the shared corpus's samples/ ingests into the right table, or its records are
//! rejected with a reason; spot checks on values.

mod common;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use common::*;
use goshawk_ingest::{IngestOptions, Lake, SourceStatus, parse_datetime};
use goshawk_types::{KustoType, table_schema};

#[test]
fn activity_log_records_become_azure_activity_rows() {
    let lake = tempfile::tempdir().unwrap();
    let input = samples().join("azure_activity/activity_log_records.json");
    let summary = run(lake.path(), &[input], &IngestOptions::default());
    assert_eq!(summary.rejected, 0, "{summary:#?}");
    assert_eq!(summary.tables["AzureActivity"].ingested, 7);

    let batches = read_table(lake.path(), "AzureActivity");
    assert_eq!(row_count(&batches), 7);
    // Exactly the lake schema, Kusto types in the field metadata.
    let expected = table_schema("AzureActivity").unwrap().lake_arrow_schema();
    for batch in &batches {
        assert_eq!(batch.schema().fields(), expected.fields());
        let field = batch.schema().field_with_name("Claims_d").unwrap().clone();
        assert_eq!(KustoType::from_field(&field), Some(KustoType::Dynamic));
    }

    let ids = strings(&batches, "CorrelationId");
    let row = |correlation: &str| {
        ids.iter()
            .position(|c| c.as_deref() == Some(correlation))
            .unwrap_or_else(|| panic!("no row with CorrelationId {correlation}"))
    };
    let first = row("aaaa6666-bb77-8888-99cc-000000dddddd");
    let time = times(&batches, "TimeGenerated")[first].unwrap();
    assert_eq!(
        time,
        parse_datetime("2019-01-21T22:14:26.9792776Z").unwrap()
    );
    assert_eq!(time % 1_000_000_000, 979_277_600, "ticks kept");
    assert_eq!(
        strings(&batches, "Caller")[first].as_deref(),
        Some("admin@contoso.com")
    );
    assert_eq!(
        strings(&batches, "OperationNameValue")[first].as_deref(),
        Some("microsoft.support/supporttickets/write")
    );
    assert_eq!(
        strings(&batches, "CategoryValue")[first].as_deref(),
        Some("Write")
    );
    assert_eq!(
        strings(&batches, "ActivityStatusValue")[first].as_deref(),
        Some("Success")
    );
    assert_eq!(
        strings(&batches, "ActivitySubstatusValue")[first].as_deref(),
        Some("Created")
    );
    assert_eq!(
        strings(&batches, "SubscriptionId")[first].as_deref(),
        Some("s1")
    );
    assert_eq!(
        strings(&batches, "ResourceGroup")[first].as_deref(),
        Some("MSSupportGroup")
    );
    assert_eq!(
        strings(&batches, "ResourceProviderValue")[first].as_deref(),
        Some("microsoft.support")
    );
    assert_eq!(
        strings(&batches, "Type")[first].as_deref(),
        Some("AzureActivity")
    );
    let claims: serde_json::Value =
        serde_json::from_str(strings(&batches, "Claims_d")[first].as_deref().unwrap()).unwrap();
    assert_eq!(claims["name"], "John Smith");
    let claims_text = strings(&batches, "Claims")[first].clone().unwrap();
    assert!(
        !claims_text.contains('\n'),
        "JSON-in-string columns are compact"
    );
    let extra: serde_json::Value = serde_json::from_str(
        strings(&batches, "AdditionalFields")[first]
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        extra["durationMs"], 2826,
        "fields without a column are kept"
    );
    assert_eq!(extra["resultSignature"], "Succeeded.Created");
    assert_eq!(extra["location"], "global");

    let statuses = strings(&batches, "ActivityStatusValue");
    let failures = statuses
        .iter()
        .filter(|s| s.as_deref() == Some("Failure"))
        .count();
    assert_eq!(failures, 2, "raw resultType Failure stays queryable");
    let tables = Lake::open(lake.path()).unwrap().tables().unwrap();
    assert_eq!(tables.len(), 1);
    let stats = tables[0].stats().unwrap();
    assert_eq!(stats.rows, 7);
    assert_eq!(
        stats.min_time.as_deref(),
        Some("2019-01-21T22:14:26.9792776Z")
    );
}

#[test]
fn log_analytics_csv_exports() {
    let lake = tempfile::tempdir().unwrap();
    let lab = samples().join("sentinel_training_lab");
    let summary = run(
        lake.path(),
        &[
            lab.join("azureActivity_adele.csv"),
            lab.join("azure_activity.csv"),
            lab.join("sign-in_adelete.csv"),
        ],
        &IngestOptions::default(),
    );
    assert_eq!(summary.rejected, 0, "{summary:#?}");
    assert_eq!(summary.tables["AzureActivity"].ingested, 23 + 325);
    assert_eq!(summary.tables["SigninLogs"].ingested, 56);

    let activity = read_table(lake.path(), "AzureActivity");
    let operations = strings(&activity, "OperationNameValue");
    assert!(operations.iter().flatten().any(|o| o.contains('/')));
    let times = times(&activity, "TimeGenerated");
    assert!(times.iter().all(Option::is_some));
    let properties = strings(&activity, "Properties");
    let non_empty: Vec<&String> = properties.iter().flatten().collect();
    assert!(!non_empty.is_empty());
    for text in non_empty {
        if text.starts_with('{') {
            assert!(
                !text.contains("\n"),
                "pretty-printed JSON cells are stored compact"
            );
            serde_json::from_str::<serde_json::Value>(text).unwrap();
        }
    }

    let signins = read_table(lake.path(), "SigninLogs");
    // `_dynamic` / `_string` pairs land in the one column.
    let devices = strings(&signins, "DeviceDetail");
    assert!(
        devices
            .iter()
            .flatten()
            .all(|d| serde_json::from_str::<serde_json::Value>(d).is_ok())
    );
    assert!(devices.iter().filter(|d| d.is_some()).count() > 50);
    let result_types = strings(&signins, "ResultType");
    assert!(
        result_types
            .iter()
            .flatten()
            .all(|r| r.parse::<i64>().is_ok()),
        "ResultType stays a string of digits"
    );
    let interactive = signins[0].column_by_name("IsInteractive").unwrap();
    assert_eq!(
        interactive.data_type(),
        &arrow::datatypes::DataType::Boolean
    );
    let duration = signins[0]
        .column_by_name("DurationMs")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    assert_eq!(duration.len(), signins[0].num_rows());
}

#[test]
fn every_sample_record_is_in_the_lake_or_in_the_rejects() {
    let lake = tempfile::tempdir().unwrap();
    // The samples directory also holds README files, which are not logs.
    let summary = run(
        lake.path(),
        &[samples().join("**/*.csv"), samples().join("**/*.json")],
        &IngestOptions::default(),
    );
    assert_eq!(summary.sources.len(), 11);
    assert_eq!(summary.unreadable_sources, 0);
    for source in &summary.sources {
        assert_eq!(source.status, SourceStatus::Ingested, "{source:?}");
        let expected = if source.path.ends_with(".csv") {
            let mut reader = csv::ReaderBuilder::new().from_path(&source.path).unwrap();
            reader.records().count() as u64
        } else if source.path.ends_with(".json") {
            7
        } else {
            panic!("unexpected input {}", source.path);
        };
        assert_eq!(
            source.ingested_total() + source.rejected,
            expected,
            "{source:#?}"
        );
    }
    let rejects = reject_lines(lake.path());
    assert_eq!(rejects.len() as u64, summary.rejected);
    for reject in &rejects {
        assert!(reject["source"].as_str().unwrap().contains("samples"));
        assert!(
            reject["line"].as_u64().unwrap() >= 2,
            "CSV rows start after the header: {reject}"
        );
        assert!(!reject["reason"].as_str().unwrap().is_empty());
    }
    let reasons: Vec<&str> = rejects
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("OfficeActivity is not one goshawk stores"))
    );
    assert!(reasons.iter().any(|r| r.contains("no TimeGenerated")));
    assert!(reasons.iter().any(|r| r.contains("use --table")));
}
