//! Running a job over the lake: the datafeed's KQL is queried for the complete buckets not yet
//! processed, events are grouped by bucket, each detector learns and scores every bucket in
//! time order, records are explained and re-scored, and the state and the MLAnomalies table
//! are saved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ahash::{AHashMap, AHashSet};
use arrow::array::{
    Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use futures::StreamExt;
use goshawk_kql_engine::catalog::{Catalog, LakeCatalog};
use goshawk_kql_engine::session::{QueryEngine, QueryError};
use serde::Serialize;

use crate::config::{DetectorSpec, Function, JobSpec};
use crate::error::MlError;
use crate::explain::{RareFacts, count_sentence, rare_sentence};
use crate::model::{COUNT_WARM_UP_BUCKETS, Tail};
use crate::scoring::{WRITE_THRESHOLD, raw_score, record_score};
use crate::state::{self, JobState, StoredRecord};
use crate::{results, time};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Where a job that never ran starts (default: its first event).
    pub start: Option<i64>,
    /// The run's "now": only buckets that end by `end - query_delay` are processed.
    pub end: i64,
    /// Forget the saved state and learn from scratch.
    pub reset: bool,
    /// How many partitions DataFusion splits the datafeed's scan into; None keeps its default
    /// (one per core), 1 reads the lake on one core.
    pub target_partitions: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub job_id: String,
    /// The buckets processed, `[from, to)` in Unix ns; None when there was nothing to do.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub buckets: u64,
    pub events: u64,
    pub new_records: usize,
    pub rescored: usize,
    pub records: usize,
    /// Influencers the datafeed does not produce (for example source.geo.city_name without
    /// a GeoIP database); the job runs without them.
    pub missing_influencers: Vec<String>,
    pub snapshot: Option<PathBuf>,
}

/// Runs (or resumes) `spec` over the lake at `lake` up to `options.end`.
pub async fn run_job(
    lake: &Path,
    spec: &JobSpec,
    options: &RunOptions,
) -> Result<(JobState, RunSummary), MlError> {
    let catalog = LakeCatalog::open(lake).map_err(|err| MlError::Lake {
        path: lake.to_path_buf(),
        message: err.to_string(),
    })?;
    run_job_on(lake, &catalog, spec, options).await
}

/// [`run_job`] over any catalog (the state and results still live under `lake`).
pub async fn run_job_on(
    lake: &Path,
    catalog: &dyn Catalog,
    spec: &JobSpec,
    options: &RunOptions,
) -> Result<(JobState, RunSummary), MlError> {
    if options.reset {
        state::remove(lake, &spec.job_id)?;
    }
    let fingerprint = spec.fingerprint();
    let mut job_state = match state::load(lake, &spec.job_id)? {
        Some(saved) if saved.fingerprint != fingerprint => {
            return Err(MlError::Config {
                job_id: spec.job_id.clone(),
                message: "the job's configuration changed since its model was saved; rerun with --reset to learn from scratch".to_string(),
            });
        }
        Some(saved) => saved,
        None => JobState::new(&spec.job_id, fingerprint, spec.detectors.len()),
    };
    let span = spec.bucket_span_seconds * time::NANOS_PER_SECOND;
    let feed = Datafeed::open(catalog, spec, options)?;
    let missing_influencers = feed.missing_influencers.clone();

    let end_complete =
        (options.end - spec.query_delay_seconds * time::NANOS_PER_SECOND).div_euclid(span) * span;
    let mut from = job_state.next_bucket_start;
    if let Some(start) = options.start {
        let aligned = start.div_euclid(span) * span;
        from = Some(from.map_or(aligned, |f| f.max(aligned)));
    }
    let mut summary = RunSummary {
        job_id: spec.job_id.clone(),
        from: None,
        to: None,
        buckets: 0,
        events: 0,
        new_records: 0,
        rescored: 0,
        records: job_state.records.len(),
        missing_influencers,
        snapshot: None,
    };
    // A job that never ran starts at its first event: the datafeed is read once, without a
    // lower bound, and the first bucket is found among the rows read.
    let to = end_complete;
    let events = match from {
        Some(from) if from >= to => None,
        _ => feed.read(from, to).await?,
    };
    let Some(events) = events else {
        results::write_job_results(lake, spec, &job_state)?;
        return Ok((job_state, summary));
    };
    let from = events.from;
    summary.from = Some(from);
    summary.to = Some(to);
    summary.events = events.rows as u64;
    summary.buckets = u64::try_from((to - from) / span).unwrap_or(0);

    summary.new_records = learn(spec, &mut job_state, &events);
    summary.rescored = rescore(&mut job_state);
    summary.records = job_state.records.len();
    job_state.events += summary.events;
    job_state.buckets += summary.buckets;
    job_state.next_bucket_start = Some(to);
    summary.snapshot = Some(state::save(lake, &mut job_state)?);
    results::write_job_results(lake, spec, &job_state)?;
    Ok((job_state, summary))
}

/// A job's datafeed over a catalog, checked against the job's fields.
pub struct Datafeed<'a> {
    spec: &'a JobSpec,
    engine: QueryEngine<'a>,
    /// The job's fields that the datafeed produces, in [`JobSpec::fields`] order.
    fields: Vec<String>,
    /// Influencers the datafeed does not produce.
    pub missing_influencers: Vec<String>,
}

impl<'a> Datafeed<'a> {
    /// Plans the datafeed once to learn its columns; fails when it lacks the time field or a
    /// detector's field.
    pub fn open(
        catalog: &'a dyn Catalog,
        spec: &'a JobSpec,
        options: &RunOptions,
    ) -> Result<Datafeed<'a>, MlError> {
        let mut engine = QueryEngine::new(catalog, options.end);
        if let Some(partitions) = options.target_partitions {
            engine = engine.with_target_partitions(partitions);
        }
        let columns = datafeed_columns(&engine, spec)?;
        let missing_influencers: Vec<String> = spec
            .influencers
            .iter()
            .filter(|i| !columns.contains(i))
            .cloned()
            .collect();
        for d in &spec.detectors {
            for name in [
                &d.field_name,
                &d.by_field_name,
                &d.over_field_name,
                &d.partition_field_name,
            ]
            .into_iter()
            .flatten()
            {
                if !columns.contains(name) {
                    return Err(MlError::Config {
                        job_id: spec.job_id.clone(),
                        message: format!(
                            "the datafeed has no column '{name}' (it has: {})",
                            columns.join(", ")
                        ),
                    });
                }
            }
        }
        let fields = spec
            .fields()
            .into_iter()
            .filter(|f| columns.contains(f))
            .collect();
        Ok(Datafeed {
            spec,
            engine,
            fields,
            missing_influencers,
        })
    }

    /// The events of the buckets `[from, to)`, from the bucket of the first event when `from`
    /// is None; None when there is none to learn.
    pub async fn read(&self, from: Option<i64>, to: i64) -> Result<Option<Events>, MlError> {
        let span = self.spec.bucket_span_seconds * time::NANOS_PER_SECOND;
        load_events(&self.engine, self.spec, &self.fields, from, to, span).await
    }
}

/// Learns and scores every bucket of `events` in order; returns how many records were written.
pub fn learn(spec: &JobSpec, state: &mut JobState, events: &Events) -> usize {
    let before = state.records.len();
    let mut processor = Processor::new(spec, events);
    for bucket in 0..events.bucket_count {
        processor.bucket(state, bucket);
    }
    state.records.len() - before
}

/// The column names the datafeed's query produces.
fn datafeed_columns(engine: &QueryEngine<'_>, spec: &JobSpec) -> Result<Vec<String>, MlError> {
    let planned = engine
        .plan(&spec.datafeed_kql)
        .map_err(|err| datafeed_error(spec, &spec.datafeed_kql, &err))?;
    let columns: Vec<String> = planned.columns.iter().map(|c| c.name.clone()).collect();
    if !columns.contains(&spec.time_field) {
        return Err(MlError::Config {
            job_id: spec.job_id.clone(),
            message: format!(
                "the datafeed has no time column '{}' (it has: {})",
                spec.time_field,
                columns.join(", ")
            ),
        });
    }
    Ok(columns)
}

fn datafeed_error(spec: &JobSpec, text: &str, err: &QueryError) -> MlError {
    MlError::Datafeed {
        job_id: spec.job_id.clone(),
        message: err
            .render(text, &format!("datafeed of {}", spec.job_id))
            .trim_end()
            .to_string(),
    }
}

/// A KQL column reference that works for dotted ECS names.
fn column(name: &str) -> String {
    format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn time_array(spec: &JobSpec, array: &ArrayRef) -> Result<TimestampNanosecondArray, MlError> {
    let cast_to = DataType::Timestamp(TimeUnit::Nanosecond, None);
    let array = cast(array, &cast_to).map_err(|err| MlError::Config {
        job_id: spec.job_id.clone(),
        message: format!(
            "the time column '{}' is not a datetime: {err}",
            spec.time_field
        ),
    })?;
    array
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .cloned()
        .ok_or_else(|| MlError::Config {
            job_id: spec.job_id.clone(),
            message: format!("the time column '{}' is not a datetime", spec.time_field),
        })
}

/// String values interned to dense ids; 0 is "missing" (null or empty).
#[derive(Debug, Default)]
pub struct Interner {
    ids: AHashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            ids: AHashMap::new(),
            strings: vec!["".into()],
        }
    }

    fn intern(&mut self, value: &str) -> u32 {
        if value.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(value.into());
        self.ids.insert(value.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }
}

/// The datafeed's rows for `[from, to)`, interned and grouped by bucket.
pub struct Events {
    pub fields: Vec<String>,
    pub interner: Interner,
    /// `rows * fields.len()` ids, rows in bucket order.
    pub values: Vec<u32>,
    /// Row range of each bucket: bucket i is rows `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<usize>,
    pub rows: usize,
    pub from: i64,
    pub span: i64,
    pub bucket_count: usize,
}

impl Events {
    fn row(&self, row: usize) -> &[u32] {
        let stride = self.fields.len();
        &self.values[row * stride..(row + 1) * stride]
    }

    fn field_index(&self, name: &Option<String>) -> Option<usize> {
        name.as_ref()
            .and_then(|n| self.fields.iter().position(|f| f == n))
    }
}

/// Reads the datafeed for `[from, to)` (from the first event when `from` is None), keeping only
/// the job's fields; None when there is no complete bucket with events to learn.
async fn load_events(
    engine: &QueryEngine<'_>,
    spec: &JobSpec,
    fields: &[String],
    from: Option<i64>,
    to: i64,
    span: i64,
) -> Result<Option<Events>, MlError> {
    let time_column = column(&spec.time_field);
    let mut projection = vec![time_column.clone()];
    projection.extend(fields.iter().map(|f| column(f)));
    let lower = from
        .map(|from| format!("{time_column} >= datetime({}) and ", time::format_kql(from)))
        .unwrap_or_default();
    // The projection names only the job's fields, so DataFusion reads only the lake columns
    // they are computed from and the datafeed's other columns (wide JSON) stay on disk.
    let text = format!(
        "{}\n| where {lower}{time_column} < datetime({})\n| project {}",
        spec.datafeed_kql,
        time::format_kql(to),
        projection.join(", ")
    );
    let planned = engine
        .plan(&text)
        .map_err(|err| datafeed_error(spec, &text, &err))?;
    let mut stream = engine
        .execute_stream(planned)
        .await
        .map_err(|err| datafeed_error(spec, &text, &err))?;
    let mut builder = EventsBuilder::new(spec, fields);
    while let Some(batch) = stream.next().await {
        let batch =
            batch.map_err(|err| datafeed_error(spec, &text, &QueryError::Execution(err)))?;
        builder.push(&batch)?;
    }
    let Some(from) = from.or_else(|| builder.first_time().map(|t| t.div_euclid(span) * span))
    else {
        return Ok(None);
    };
    if from >= to {
        return Ok(None);
    }
    let bucket_count = usize::try_from((to - from) / span).unwrap_or(0);
    Ok(Some(builder.finish(from, span, bucket_count)))
}

/// Interns `batches` (time column first, then `fields`) and orders rows by bucket.
pub fn events_from_batches(
    spec: &JobSpec,
    fields: &[String],
    batches: &[RecordBatch],
    from: i64,
    span: i64,
    bucket_count: usize,
) -> Result<Events, MlError> {
    let mut builder = EventsBuilder::new(spec, fields);
    for batch in batches {
        builder.push(batch)?;
    }
    Ok(builder.finish(from, span, bucket_count))
}

/// Folds datafeed batches (time column first, then the job's fields) into interned rows as
/// they arrive, so that only one batch of the datafeed is held at a time.
pub struct EventsBuilder<'a> {
    spec: &'a JobSpec,
    fields: Vec<String>,
    interner: Interner,
    /// Row-major ids, `fields.len()` per row, in datafeed order.
    unordered: Vec<u32>,
    /// Each row's time (rows without a time are dropped: they belong to no bucket).
    times: Vec<i64>,
    /// Per string view, its id: within one array equal views are equal strings, and Parquet's
    /// dictionary pages decode to repeated views, so most rows cost a u128 lookup rather than
    /// a string hash.
    view_ids: AHashMap<u128, u32>,
    cast_holder: Vec<ArrayRef>,
}

impl<'a> EventsBuilder<'a> {
    pub fn new(spec: &'a JobSpec, fields: &[String]) -> EventsBuilder<'a> {
        EventsBuilder {
            spec,
            fields: fields.to_vec(),
            interner: Interner::new(),
            unordered: Vec::new(),
            times: Vec::new(),
            view_ids: AHashMap::new(),
            cast_holder: Vec::new(),
        }
    }

    /// The earliest time among the rows pushed so far.
    pub fn first_time(&self) -> Option<i64> {
        self.times.iter().copied().min()
    }

    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), MlError> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let stride = self.fields.len();
        if batch.num_columns() != stride + 1 {
            return Err(MlError::Config {
                job_id: self.spec.job_id.clone(),
                message: format!(
                    "the datafeed gave {} columns where {} were asked for",
                    batch.num_columns(),
                    stride + 1
                ),
            });
        }
        let times = time_array(self.spec, batch.column(0))?;
        let keep: Vec<usize> = (0..rows).filter(|&row| times.is_valid(row)).collect();
        if keep.is_empty() {
            return Ok(());
        }
        self.times.extend(keep.iter().map(|&row| times.value(row)));
        let base = self.unordered.len();
        self.unordered.resize(base + keep.len() * stride, 0);
        self.cast_holder.clear();
        for j in 0..stride {
            let array = batch.column(j + 1);
            let strings =
                string_column(array, &mut self.cast_holder).map_err(|err| MlError::Config {
                    job_id: self.spec.job_id.clone(),
                    message: format!("column '{}' cannot be read as text: {err}", self.fields[j]),
                })?;
            let out = self.unordered[base..].iter_mut().skip(j).step_by(stride);
            match strings {
                Strings::View(array) => {
                    self.view_ids.clear();
                    let views = array.views();
                    let nulls = array.nulls();
                    for (slot, &row) in out.zip(&keep) {
                        if nulls.is_some_and(|n| n.is_null(row)) {
                            continue;
                        }
                        let view = views[row];
                        *slot = match self.view_ids.get(&view) {
                            Some(&id) => id,
                            None => {
                                let id = self.interner.intern(array.value(row));
                                self.view_ids.insert(view, id);
                                id
                            }
                        };
                    }
                }
                other => {
                    let mut last: Option<(&str, u32)> = None;
                    for (slot, &row) in out.zip(&keep) {
                        let Some(value) = other.value(row) else {
                            continue;
                        };
                        *slot = match last {
                            Some((previous, id)) if previous == value => id,
                            _ => {
                                let id = self.interner.intern(value);
                                last = Some((value, id));
                                id
                            }
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Orders the rows of `[from, from + bucket_count * span)` by bucket (rows outside are
    /// left out).
    pub fn finish(self, from: i64, span: i64, bucket_count: usize) -> Events {
        let stride = self.fields.len();
        let bucket_of = |time: i64| -> Option<usize> {
            let offset = time.checked_sub(from)?;
            if offset < 0 {
                return None;
            }
            usize::try_from(offset / span)
                .ok()
                .filter(|&b| b < bucket_count)
        };
        // Counting sort by bucket keeps each bucket's rows in datafeed order.
        let mut offsets = vec![0usize; bucket_count + 1];
        for &time in &self.times {
            if let Some(b) = bucket_of(time) {
                offsets[b + 1] += 1;
            }
        }
        for i in 0..bucket_count {
            offsets[i + 1] += offsets[i];
        }
        let rows = offsets[bucket_count];
        let mut values = vec![0u32; rows * stride];
        let mut next = offsets.clone();
        for (row, &time) in self.times.iter().enumerate() {
            let Some(b) = bucket_of(time) else {
                continue;
            };
            let target = next[b];
            next[b] += 1;
            values[target * stride..(target + 1) * stride]
                .copy_from_slice(&self.unordered[row * stride..(row + 1) * stride]);
        }
        Events {
            fields: self.fields,
            interner: self.interner,
            values,
            offsets,
            rows,
            from,
            span,
            bucket_count,
        }
    }
}

enum Strings<'a> {
    View(&'a StringViewArray),
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
}

impl Strings<'_> {
    fn value(&self, row: usize) -> Option<&str> {
        match self {
            Strings::View(a) => a.is_valid(row).then(|| a.value(row)),
            Strings::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Strings::Large(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

fn string_column<'a>(
    array: &'a ArrayRef,
    holder: &'a mut Vec<ArrayRef>,
) -> Result<Strings<'a>, arrow::error::ArrowError> {
    let array: &'a ArrayRef = match array.data_type() {
        DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8 => array,
        _ => {
            holder.push(cast(array, &DataType::Utf8)?);
            holder.last().unwrap_or(array)
        }
    };
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringViewArray>() {
        return Ok(Strings::View(a));
    }
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Ok(Strings::Utf8(a));
    }
    if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        return Ok(Strings::Large(a));
    }
    Err(arrow::error::ArrowError::CastError(format!(
        "unexpected type {}",
        array.data_type()
    )))
}

/// Field positions of one detector in the event rows.
struct DetectorColumns {
    field: Option<usize>,
    by: Option<usize>,
    over: Option<usize>,
    partition: Option<usize>,
}

/// Learns and scores buckets in order.
struct Processor<'a> {
    spec: &'a JobSpec,
    events: &'a Events,
    columns: Vec<DetectorColumns>,
    /// Influencer name and its position (influencers the datafeed lacks are absent).
    influencers: Vec<(String, usize)>,
}

/// A key of up to three ids (partition, by, over); 0 where the detector has no such field.
type EntityIds = (u32, u32, u32);

impl<'a> Processor<'a> {
    fn new(spec: &'a JobSpec, events: &'a Events) -> Processor<'a> {
        let columns = spec
            .detectors
            .iter()
            .map(|d| DetectorColumns {
                field: events.field_index(&d.field_name),
                by: events.field_index(&d.by_field_name),
                over: events.field_index(&d.over_field_name),
                partition: events.field_index(&d.partition_field_name),
            })
            .collect();
        let influencers = spec
            .influencers
            .iter()
            .filter_map(|name| {
                events
                    .field_index(&Some(name.clone()))
                    .map(|i| (name.clone(), i))
            })
            .collect();
        Processor {
            spec,
            events,
            columns,
            influencers,
        }
    }

    fn bucket(&mut self, state: &mut JobState, bucket: usize) {
        let rows = self.events.offsets[bucket]..self.events.offsets[bucket + 1];
        if rows.is_empty() {
            // Empty buckets neither age nor score the models.
            return;
        }
        let bucket_start = self.events.from + bucket as i64 * self.events.span;
        for (index, detector) in self.spec.detectors.iter().enumerate() {
            if detector.function.is_rare() {
                self.rare(state, index, detector, rows.clone(), bucket_start);
            } else {
                self.counting(state, index, detector, rows.clone(), bucket_start);
            }
        }
    }

    fn ids(&self, columns: &DetectorColumns, row: &[u32]) -> Option<EntityIds> {
        let get = |c: Option<usize>| c.map_or(Some(0), |i| (row[i] != 0).then_some(row[i]));
        let partition = columns.partition.map_or(0, |i| row[i]);
        Some((partition, get(columns.by)?, get(columns.over)?))
    }

    fn rare(
        &self,
        state: &mut JobState,
        index: usize,
        detector: &DetectorSpec,
        rows: std::ops::Range<usize>,
        bucket_start: i64,
    ) {
        let columns = &self.columns[index];
        // Per partition: per by-value, the over-values (population) or the event count.
        let mut present: BTreeMap<u32, AHashMap<u32, (AHashSet<u32>, u64)>> = BTreeMap::new();
        for row in rows.clone() {
            let Some((partition, by, over)) = self.ids(columns, self.events.row(row)) else {
                continue;
            };
            let entry = present.entry(partition).or_default().entry(by).or_default();
            if columns.over.is_some() {
                entry.0.insert(over);
            }
            entry.1 += 1;
        }
        let span_seconds = self.spec.bucket_span_seconds;
        let interner = &self.events.interner;
        for (partition, values) in present {
            let partition_value = interner.get(partition);
            let model = state.detectors[index]
                .rare
                .entry(partition_value.to_string())
                .or_default();
            // Sorted so that the update and the records come out in a stable order.
            let mut values: Vec<(u32, (AHashSet<u32>, u64))> = values.into_iter().collect();
            values.sort_by(|a, b| interner.get(a.0).cmp(interner.get(b.0)));
            let increments: Vec<(&str, f64)> = values
                .iter()
                .map(|(by, (overs, events))| {
                    let increment = match detector.function {
                        Function::FreqRare => *events as f64,
                        _ if columns.over.is_some() => overs.len() as f64,
                        _ => 1.0,
                    };
                    (interner.get(*by), increment)
                })
                .collect();
            let priors: Vec<f64> = increments
                .iter()
                .map(|(v, _)| model.concentration(v))
                .collect();
            model.update(increments.iter().copied(), bucket_start, span_seconds);
            let distribution = model.distribution();
            // P depends on the value only through a_v, so a tie group (values with the same
            // history) costs one set of quantile inversions.
            let mut by_concentration: Vec<(u64, f64)> = Vec::new();
            let probabilities: Vec<f64> = increments
                .iter()
                .map(|(v, _)| {
                    let a = model.concentration(v);
                    if let Some(&(_, p)) = by_concentration
                        .iter()
                        .find(|(bits, _)| *bits == a.to_bits())
                    {
                        return p;
                    }
                    let p = distribution.probability(a, model.total);
                    by_concentration.push((a.to_bits(), p));
                    p
                })
                .collect();
            let (total, first_bucket_start) = (model.total, model.first_bucket_start);
            for (i, (by, (overs, _))) in values.iter().enumerate() {
                let by_value = interner.get(*by);
                let p = probabilities[i];
                let entity_key = format!("{index}\u{1f}{partition_value}\u{1f}{by_value}");
                let Scored {
                    raw,
                    entity_max,
                    score,
                } = score_probability(state, &entity_key, p);
                let Some(score) = score else {
                    continue;
                };
                let mut overs: Vec<u32> = if columns.over.is_some() {
                    overs.iter().copied().collect()
                } else {
                    vec![0]
                };
                overs.sort_by(|a, b| interner.get(*a).cmp(interner.get(*b)));
                for over in overs {
                    let influencers =
                        self.influencers_of(columns, rows.clone(), (partition, *by, over));
                    let skip: Vec<&str> = [
                        &detector.by_field_name,
                        &detector.partition_field_name,
                        &detector.over_field_name,
                    ]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                    let over_value = interner.get(over);
                    let explanation = rare_sentence(&RareFacts {
                        words: &self.spec.explain,
                        value: by_value,
                        prior_concentration: priors[i],
                        total,
                        history_seconds: (bucket_start
                            - first_bucket_start.unwrap_or(bucket_start))
                            / time::NANOS_PER_SECOND
                            + self.spec.bucket_span_seconds,
                        partition: detector
                            .partition_field_name
                            .as_deref()
                            .map(|name| (name, partition_value)),
                        over: detector
                            .over_field_name
                            .as_deref()
                            .map(|name| (name, over_value)),
                        probability: p,
                        influencers: &influencers,
                        skip: &skip,
                    });
                    state.records.push(StoredRecord {
                        detector_index: index,
                        function: detector.function.name().to_string(),
                        bucket_start,
                        by_field_name: detector.by_field_name.clone(),
                        by_field_value: Some(by_value.to_string()),
                        over_field_name: detector.over_field_name.clone(),
                        over_field_value: detector
                            .over_field_name
                            .as_ref()
                            .map(|_| over_value.to_string()),
                        partition_field_name: detector.partition_field_name.clone(),
                        partition_field_value: detector
                            .partition_field_name
                            .as_ref()
                            .map(|_| partition_value.to_string()),
                        probability: p,
                        raw_score: raw,
                        record_score: score,
                        initial_record_score: score,
                        actual: None,
                        typical: None,
                        influencers,
                        explanation,
                        entity_key: entity_key.clone(),
                        scored_entity_max: entity_max,
                        scored_job_max: state.history.max(),
                    });
                }
            }
        }
    }

    fn counting(
        &self,
        state: &mut JobState,
        index: usize,
        detector: &DetectorSpec,
        rows: std::ops::Range<usize>,
        bucket_start: i64,
    ) {
        let columns = &self.columns[index];
        let interner = &self.events.interner;
        let mut observed: AHashMap<EntityIds, (u64, AHashSet<u32>)> = AHashMap::new();
        for row in rows.clone() {
            let values = self.events.row(row);
            let Some(ids) = self.ids(columns, values) else {
                continue;
            };
            let entry = observed.entry(ids).or_default();
            entry.0 += 1;
            if let Some(field) = columns.field
                && values[field] != 0
            {
                entry.1.insert(values[field]);
            }
        }
        let key_of = |(partition, by, over): EntityIds| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                interner.get(partition),
                interner.get(by),
                interner.get(over)
            )
        };
        let mut bucket_values: BTreeMap<String, (f64, Option<EntityIds>)> = state.detectors[index]
            .counts
            .keys()
            .map(|k| (k.clone(), (0.0, None)))
            .collect();
        for (ids, (count, distinct)) in &observed {
            let x = if detector.function.is_distinct() {
                distinct.len() as f64
            } else {
                *count as f64
            };
            bucket_values.insert(key_of(*ids), (x, Some(*ids)));
        }
        let tail = match detector.function {
            Function::HighCount | Function::HighDistinctCount => Tail::High,
            Function::LowCount | Function::LowDistinctCount => Tail::Low,
            _ => Tail::Both,
        };
        let what = if detector.function.is_distinct() {
            format!(
                "distinct {}",
                detector.field_name.as_deref().unwrap_or("values")
            )
        } else {
            "events".to_string()
        };
        for (key, (x, ids)) in bucket_values {
            let model = state.detectors[index]
                .counts
                .entry(key.clone())
                .or_default();
            let warm = model.buckets >= COUNT_WARM_UP_BUCKETS;
            let p = model.probability(x, tail);
            let typical = model.mean();
            model.update(x, self.spec.bucket_span_seconds);
            if !warm {
                continue;
            }
            let entity_key = format!("{index}\u{1f}{key}");
            let Scored {
                raw,
                entity_max,
                score,
            } = score_probability(state, &entity_key, p);
            let Some(score) = score else {
                continue;
            };
            let mut parts = key.split('\u{1f}');
            let (partition_value, by_value, over_value) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let influencers = match ids {
                Some(ids) => self.influencers_of(columns, rows.clone(), ids),
                None => Vec::new(),
            };
            let entity = [&partition_value, &by_value, &over_value]
                .into_iter()
                .filter(|v| !v.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ");
            let skip: Vec<&str> = [
                &detector.by_field_name,
                &detector.partition_field_name,
                &detector.over_field_name,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
            let explanation = count_sentence(&what, &entity, x, typical, p, &influencers, &skip);
            let named = |name: &Option<String>, value: String| name.as_ref().map(|_| value);
            state.records.push(StoredRecord {
                detector_index: index,
                function: detector.function.name().to_string(),
                bucket_start,
                by_field_name: detector.by_field_name.clone(),
                by_field_value: named(&detector.by_field_name, by_value),
                over_field_name: detector.over_field_name.clone(),
                over_field_value: named(&detector.over_field_name, over_value),
                partition_field_name: detector.partition_field_name.clone(),
                partition_field_value: named(&detector.partition_field_name, partition_value),
                probability: p,
                raw_score: raw,
                record_score: score,
                initial_record_score: score,
                actual: Some(x),
                typical: Some(typical),
                influencers,
                explanation,
                entity_key,
                scored_entity_max: entity_max,
                scored_job_max: state.history.max(),
            });
        }
    }

    /// Every influencer value among the bucket's rows of one entity (attribution only).
    fn influencers_of(
        &self,
        columns: &DetectorColumns,
        rows: std::ops::Range<usize>,
        entity: EntityIds,
    ) -> Vec<(String, Vec<String>)> {
        let mut sets: Vec<Vec<u32>> = vec![Vec::new(); self.influencers.len()];
        for row in rows {
            let values = self.events.row(row);
            if self.ids(columns, values) != Some(entity) {
                continue;
            }
            for (set, (_, position)) in sets.iter_mut().zip(&self.influencers) {
                let id = values[*position];
                if id != 0 && !set.contains(&id) {
                    set.push(id);
                }
            }
        }
        self.influencers
            .iter()
            .zip(sets)
            .filter(|(_, set)| !set.is_empty())
            .map(|((name, _), set)| {
                let mut values: Vec<String> = set
                    .into_iter()
                    .map(|id| self.events.interner.get(id).to_string())
                    .collect();
                values.sort();
                (name.clone(), values)
            })
            .collect()
    }
}

/// How much a maximum must grow before earlier records are re-scored.
const RESCORE_GROWTH: f64 = 1.1;

/// Re-scores records whose entity's or job's largest raw score grew by more than 10 % since
/// they were scored; their initial score stays. Returns how many changed.
pub fn rescore(state: &mut JobState) -> usize {
    let job_max = state.history.max();
    let mut changed = 0;
    for record in &mut state.records {
        let entity_max = state
            .entity_max
            .get(&record.entity_key)
            .copied()
            .unwrap_or(record.scored_entity_max);
        let grew = entity_max > RESCORE_GROWTH * record.scored_entity_max
            || job_max > RESCORE_GROWTH * record.scored_job_max;
        if !grew {
            continue;
        }
        let percentile = state.history.percentile(record.raw_score);
        let score = record_score(percentile, record.raw_score, entity_max, record.probability);
        record.scored_entity_max = entity_max;
        record.scored_job_max = job_max;
        if score != record.record_score {
            record.record_score = score;
            changed += 1;
        }
    }
    changed
}

/// What one probability adds to a job: its raw score, the entity's largest raw score so far,
/// and the record score when the probability is low enough to write a record.
struct Scored {
    raw: f64,
    entity_max: f64,
    score: Option<f64>,
}

/// Adds `p`'s raw score to the job's score history and to `entity_key`'s maximum (every
/// scored value counts, written or not), then scores it if it passes the write threshold.
fn score_probability(state: &mut JobState, entity_key: &str, p: f64) -> Scored {
    let raw = raw_score(p);
    state.history.add(raw);
    let entity_max = match state.entity_max.get_mut(entity_key) {
        Some(max) => {
            *max = max.max(raw);
            *max
        }
        None => {
            state
                .entity_max
                .insert(entity_key.to_string(), raw.max(0.0));
            raw.max(0.0)
        }
    };
    let score = (p < WRITE_THRESHOLD)
        .then(|| record_score(state.history.percentile(raw), raw, entity_max, p));
    Scored {
        raw,
        entity_max,
        score,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;

    use super::*;
    use crate::config::{DetectorSpec, ExplainWords};

    const HOUR: i64 = 3600 * time::NANOS_PER_SECOND;

    fn spec(partition: Option<&str>) -> JobSpec {
        JobSpec {
            job_id: "t".to_string(),
            description: String::new(),
            bucket_span_seconds: 3600,
            query_delay_seconds: 0,
            detectors: vec![DetectorSpec {
                function: Function::Rare,
                field_name: None,
                by_field_name: Some("event.action".to_string()),
                over_field_name: None,
                partition_field_name: partition.map(str::to_string),
                description: "rare".to_string(),
            }],
            influencers: vec!["user.email".to_string()],
            time_field: "TimeGenerated".to_string(),
            datafeed_kql: "T".to_string(),
            explain: ExplainWords {
                verb: "failed".to_string(),
                unit: "failing operation-hours".to_string(),
            },
        }
    }

    /// SplitMix64: a tiny deterministic generator for synthetic histories.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Twelve routine failing operations with unequal weights, two or three distinct ones an
    /// hour (as the generator's background), then one never-seen operation at hour `hours`.
    fn history_then_new(hours: i64, seed: u64) -> Vec<(i64, String, String)> {
        let weights = [
            14.0, 12.0, 11.0, 10.0, 9.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.0, 4.0,
        ];
        let mut rng = Rng(seed);
        let mut rows = Vec::new();
        for hour in 0..=hours {
            let k = if rng.unit() < 0.5 { 2 } else { 3 };
            let mut chosen: Vec<usize> = Vec::new();
            while chosen.len() < k {
                let total: f64 = (0..12)
                    .filter(|i| !chosen.contains(i))
                    .map(|i| weights[i])
                    .sum();
                let mut x = rng.unit() * total;
                for i in (0..12).filter(|i| !chosen.contains(i)) {
                    x -= weights[i];
                    if x <= 0.0 {
                        chosen.push(i);
                        break;
                    }
                }
            }
            for i in chosen {
                rows.push((
                    hour * HOUR + 60,
                    format!("Routine/op{i}/action"),
                    "ops@contoso.com".to_string(),
                ));
            }
        }
        rows.push((
            hours * HOUR + 120,
            "Microsoft.Authorization/roleAssignments/write".to_string(),
            "megan@contoso.com".to_string(),
        ));
        rows
    }

    fn run(spec: &JobSpec, rows: &[(i64, String, String)], hours: i64) -> JobState {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new(
                "TimeGenerated",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
            arrow::datatypes::Field::new("event.action", DataType::Utf8, true),
            arrow::datatypes::Field::new("user.email", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(
                    rows.iter()
                        .map(|r| Some(r.0))
                        .collect::<TimestampNanosecondArray>()
                        .with_timezone("UTC"),
                ),
                Arc::new(
                    rows.iter()
                        .map(|r| Some(r.1.as_str()))
                        .collect::<StringArray>(),
                ),
                Arc::new(
                    rows.iter()
                        .map(|r| Some(r.2.as_str()))
                        .collect::<StringArray>(),
                ),
            ],
        )
        .unwrap();
        let fields = spec.fields();
        let events =
            events_from_batches(spec, &fields, &[batch], 0, HOUR, (hours + 1) as usize).unwrap();
        let mut state = JobState::new(&spec.job_id, spec.fingerprint(), 1);
        learn(spec, &mut state, &events);
        state
    }

    /// The never-seen operation's (record_score, probability, model total A).
    fn new_operation_score(hours: i64, seed: u64) -> Option<(f64, f64, f64)> {
        let spec = spec(None);
        let state = run(&spec, &history_then_new(hours, seed), hours);
        let total = state.detectors[0].rare.get("")?.total;
        state
            .records
            .iter()
            .find(|r| {
                r.by_field_value.as_deref() == Some("Microsoft.Authorization/roleAssignments/write")
            })
            .map(|r| (r.record_score, r.probability, total))
    }

    /// The consequence: with two or three distinct failing operations an hour, a
    /// never-seen failing operation after 24 hours of history stays far from an alert (about
    /// 15-20), and reaches 50 only once the model holds about 400 operation-hours.
    #[test]
    fn first_seen_operation_needs_about_400_operation_hours_to_alert() {
        for seed in 1..=3 {
            let (score, p, _) = new_operation_score(24, seed).expect("a record is written");
            assert!(
                (10.0..25.0).contains(&score),
                "seed {seed}: 24 h scores {score} (p {p})"
            );
            let (score, p, _) = new_operation_score(30 * 24, seed).expect("a record");
            assert!(score >= 50.0, "seed {seed}: 30 d scores {score} (p {p})");
            // The first hour (in steps of 12) at which the new operation scores 50.
            let crossing = (1..=60)
                .map(|step| step * 12)
                .find_map(|hours| {
                    let (score, _, total) = new_operation_score(hours, seed)?;
                    (score >= 50.0).then_some(total)
                })
                .expect("crosses 50 within 30 days");
            assert!(
                (300.0..550.0).contains(&crossing),
                "seed {seed}: crosses 50 at A = {crossing}"
            );
        }
    }
}
