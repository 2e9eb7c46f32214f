//! The `MLAnomalies` table: every job's records as Parquet under `DIR/_ml/MLAnomalies/`, one
//! file per job rewritten atomically after each run (re-scoring changes earlier rows), and a
//! catalog that lets KQL query it beside the lake's tables.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::SchemaRef;
use goshawk_kql_engine::catalog::{Catalog, MemoryCatalog, TableRef};
use goshawk_rules::anomaly::{AnomalyRecord, FieldValue, Influencer};
use goshawk_types::KustoType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::JobSpec;
use crate::error::MlError;
use crate::state::{JobState, ML_DIR, StoredRecord, sync_dir};

/// The table's name in KQL.
pub const TABLE: &str = "MLAnomalies";

/// The table's columns. `TimeGenerated` is the bucket start, so the usual time filters work.
pub const COLUMNS: &[(&str, KustoType)] = &[
    ("TimeGenerated", KustoType::DateTime),
    ("JobId", KustoType::String),
    ("DetectorIndex", KustoType::Long),
    ("Function", KustoType::String),
    ("BucketSpanSeconds", KustoType::Long),
    ("ByFieldName", KustoType::String),
    ("ByFieldValue", KustoType::String),
    ("OverFieldName", KustoType::String),
    ("OverFieldValue", KustoType::String),
    ("PartitionFieldName", KustoType::String),
    ("PartitionFieldValue", KustoType::String),
    ("Probability", KustoType::Real),
    ("RecordScore", KustoType::Real),
    ("InitialRecordScore", KustoType::Real),
    ("Actual", KustoType::Real),
    ("Typical", KustoType::Real),
    ("Influencers", KustoType::Dynamic),
    ("Explanation", KustoType::String),
];

pub fn schema() -> SchemaRef {
    goshawk_types::arrow_schema(COLUMNS.iter().copied())
}

/// `DIR/_ml/MLAnomalies`.
pub fn results_dir(lake: &Path) -> PathBuf {
    lake.join(ML_DIR).join(TABLE)
}

/// The job's records as one batch of the table.
pub fn batch(spec: &JobSpec, records: &[StoredRecord]) -> Result<RecordBatch, MlError> {
    let strings = |f: &dyn Fn(&StoredRecord) -> Option<String>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<StringArray>())
    };
    let reals = |f: &dyn Fn(&StoredRecord) -> Option<f64>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            records
                .iter()
                .map(|r| Some(r.bucket_start))
                .collect::<TimestampNanosecondArray>()
                .with_timezone("UTC"),
        ),
        strings(&|_| Some(spec.job_id.clone())),
        Arc::new(
            records
                .iter()
                .map(|r| Some(r.detector_index as i64))
                .collect::<Int64Array>(),
        ),
        strings(&|r| Some(r.function.clone())),
        Arc::new(
            records
                .iter()
                .map(|_| Some(spec.bucket_span_seconds))
                .collect::<Int64Array>(),
        ),
        strings(&|r| r.by_field_name.clone()),
        strings(&|r| r.by_field_value.clone()),
        strings(&|r| r.over_field_name.clone()),
        strings(&|r| r.over_field_value.clone()),
        strings(&|r| r.partition_field_name.clone()),
        strings(&|r| r.partition_field_value.clone()),
        reals(&|r| Some(r.probability)),
        reals(&|r| Some(r.record_score)),
        reals(&|r| Some(r.initial_record_score)),
        reals(&|r| r.actual),
        reals(&|r| r.typical),
        strings(&|r| Some(influencers_json(&r.influencers))),
        strings(&|r| Some(r.explanation.clone())),
    ];
    RecordBatch::try_new(schema(), columns).map_err(|err| MlError::Config {
        job_id: spec.job_id.clone(),
        message: format!("cannot build the MLAnomalies rows: {err}"),
    })
}

/// Influencers as a dynamic bag: `{"user.email": ["a@b"], "source.ip": ["1.2.3.4"]}`.
fn influencers_json(influencers: &[(String, Vec<String>)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = influencers
        .iter()
        .map(|(name, values)| (name.clone(), serde_json::json!(values)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Rewrites the job's file of the table: temporary file, fsync, rename.
pub fn write_job_results(lake: &Path, spec: &JobSpec, state: &JobState) -> Result<(), MlError> {
    let dir = results_dir(lake);
    fs::create_dir_all(&dir).map_err(MlError::io(&dir))?;
    let batch = batch(spec, &state.records)?;
    let name = format!("{}.parquet", spec.job_id);
    let final_path = dir.join(&name);
    let temp_path = dir.join(format!(".{name}.tmp"));
    let parquet_error = |err: parquet::errors::ParquetError| MlError::State {
        path: temp_path.clone(),
        message: format!("cannot write Parquet: {err}"),
    };
    let file = File::create(&temp_path).map_err(MlError::io(&temp_path))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).map_err(parquet_error)?;
    writer.write(&batch).map_err(parquet_error)?;
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all().map_err(MlError::io(&temp_path))?;
    drop(file);
    fs::rename(&temp_path, &final_path).map_err(MlError::io(&final_path))?;
    sync_dir(&dir)
}

/// Every job's rows of the table.
pub fn read_all(lake: &Path) -> Result<Vec<RecordBatch>, MlError> {
    let dir = results_dir(lake);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(MlError::io(&dir)(err)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(MlError::io(&dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".parquet") && !name.starts_with('.') {
            paths.push(path);
        }
    }
    paths.sort();
    let expected = schema();
    let mut batches = Vec::new();
    for path in paths {
        let bad = |message: String| MlError::State {
            path: path.clone(),
            message,
        };
        let file = File::open(&path).map_err(MlError::io(&path))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|err| bad(format!("cannot read Parquet: {err}")))?;
        for batch in reader {
            let batch = batch.map_err(|err| bad(format!("cannot read Parquet: {err}")))?;
            let batch = RecordBatch::try_new(expected.clone(), batch.columns().to_vec())
                .map_err(|err| bad(format!("not an MLAnomalies file: {err}")))?;
            batches.push(batch);
        }
    }
    Ok(batches)
}

/// A catalog with the one table `MLAnomalies` (empty when no job has run); layer it under the
/// lake's catalog.
pub struct AnomaliesCatalog {
    inner: MemoryCatalog,
}

impl AnomaliesCatalog {
    pub fn open(lake: &Path) -> Result<AnomaliesCatalog, MlError> {
        let batches = read_all(lake)?;
        let mut inner = MemoryCatalog::new();
        inner
            .add_batches(TABLE, schema(), batches)
            .map_err(|err| MlError::Lake {
                path: lake.to_path_buf(),
                message: format!("cannot register {TABLE}: {err}"),
            })?;
        Ok(AnomaliesCatalog { inner })
    }
}

impl Catalog for AnomaliesCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        self.inner.table(name)
    }

    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }
}

/// A stored record as the rules crate's [`AnomalyRecord`].
pub fn anomaly_record(spec: &JobSpec, record: &StoredRecord) -> AnomalyRecord {
    let field = |name: &Option<String>, value: &Option<String>| {
        name.as_ref().map(|name| FieldValue {
            name: name.clone(),
            value: value.clone().unwrap_or_default(),
        })
    };
    AnomalyRecord {
        job_id: spec.job_id.clone(),
        bucket_start_nanos: record.bucket_start,
        bucket_span_seconds: spec.bucket_span_seconds,
        function: record.function.clone(),
        by_field: field(&record.by_field_name, &record.by_field_value),
        over_field: field(&record.over_field_name, &record.over_field_value),
        partition_field: field(&record.partition_field_name, &record.partition_field_value),
        probability: record.probability,
        record_score: record.record_score,
        initial_record_score: record.initial_record_score,
        influencers: record
            .influencers
            .iter()
            .map(|(name, values)| Influencer {
                field_name: name.clone(),
                values: values.clone(),
            })
            .collect(),
        explanation: record.explanation.clone(),
    }
}
