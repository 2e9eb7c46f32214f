//! Throughput of the rare job reading lake data, and the memory one by-value costs.
//!
//! Setup (not timed): `goshawk generate` at `GOSHAWK_ML_BENCH_SCALE` (default 20) for 30 days
//! ending 2026-05-01, ingested into a temporary lake; or the lake at `GOSHAWK_ML_BENCH_LAKE`
//! (its `_ml` state is reset). Timed: `run_job` of the built-in
//! `azure_activitylogs_rare_event_failures` from scratch over the whole lake (datafeed KQL over
//! Parquet, bucketing, learning, scoring, snapshot and MLAnomalies written), then the datafeed
//! read alone and the model work alone, all on one core (a current-thread runtime and one
//! DataFusion partition); throughput is in datafeed events (failed operations) per second.
//!
//! Memory per by-value: the resident set size grows by this much per value when one partition's
//! model learns 200,000 distinct values (read from /proc/self/statm, Linux only).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use goshawk_kql_engine::catalog::LakeCatalog;
use goshawk_ml::model::RareModel;
use goshawk_ml::runner::{Datafeed, learn};
use goshawk_ml::state::JobState;
use goshawk_ml::{JobSpec, RunOptions, builtin_job, run_job};

const END: &str = "2026-05-01T00:00:00Z";

fn lake(dir: &Path) -> std::path::PathBuf {
    if let Some(existing) = std::env::var_os("GOSHAWK_ML_BENCH_LAKE") {
        return existing.into();
    }
    let scale: u32 = std::env::var("GOSHAWK_ML_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let logs = dir.join("logs");
    let lake = dir.join("lake");
    let mut options = goshawk_generate::GenerateOptions::new(&logs, END.parse().unwrap());
    options.scale = scale;
    goshawk_generate::generate(&options).unwrap();
    let inputs = goshawk_ingest::expand_inputs(&[logs.display().to_string()]).unwrap();
    goshawk_ingest::ingest(
        &lake,
        &inputs.files,
        &goshawk_ingest::IngestOptions::default(),
        &goshawk_ingest::Progress::default(),
    )
    .unwrap();
    lake
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn memory_per_value() {
    const VALUES: usize = 200_000;
    let names: Vec<String> = (0..VALUES)
        .map(|i| format!("Microsoft.Bench/resource{i:08}/write"))
        .collect();
    let before = resident_bytes();
    let mut model = RareModel::default();
    for chunk in names.chunks(1000) {
        model.update(chunk.iter().map(|n| (n.as_str(), 1.0)), 0, 3600);
    }
    let after = resident_bytes();
    if let (Some(before), Some(after)) = (before, after) {
        eprintln!(
            "rare model: {} values, {:.0} bytes per by-value (RSS, names of {} bytes included)",
            model.concentrations.len(),
            after.saturating_sub(before) as f64 / VALUES as f64,
            names[0].len()
        );
    }
}

fn bench(c: &mut Criterion) {
    memory_per_value();
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let definition = builtin_job("azure_activitylogs_rare_event_failures").unwrap();
    let spec = JobSpec::new(&definition.job, definition.datafeed.as_ref().unwrap()).unwrap();
    let end = END
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap();
    // One core: a current-thread runtime and one DataFusion partition.
    let options = RunOptions {
        start: None,
        end,
        reset: true,
        target_partitions: Some(1),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (_, summary) = runtime.block_on(run_job(&lake, &spec, &options)).unwrap();
    eprintln!(
        "rare job: {} events in {} buckets, {} records",
        summary.events, summary.buckets, summary.records
    );
    let catalog = LakeCatalog::open(&lake).unwrap();
    let span = spec.bucket_span_seconds * 1_000_000_000;
    let to = end.div_euclid(span) * span;
    let read = || {
        let feed = Datafeed::open(&catalog, &spec, &options).unwrap();
        runtime
            .block_on(feed.read(None, to))
            .unwrap()
            .expect("the lake has events")
    };
    let events = read();
    assert_eq!(events.rows as u64, summary.events);

    let mut group = c.benchmark_group("ml");
    group.sample_size(10);
    group.throughput(Throughput::Elements(summary.events));
    // The whole job given a lake: datafeed, learning, scoring, snapshot and MLAnomalies.
    group.bench_function("rare_event_failures_full_run", |b| {
        b.iter(|| runtime.block_on(run_job(&lake, &spec, &options)).unwrap())
    });
    // The datafeed alone: KQL over the lake, interned and ordered by bucket.
    group.bench_function("rare_event_failures_datafeed_read", |b| b.iter(read));
    // The model work alone: every bucket learnt and scored from scratch.
    group.bench_function("rare_event_failures_model", |b| {
        b.iter(|| {
            let mut state = JobState::new(&spec.job_id, spec.fingerprint(), spec.detectors.len());
            learn(&spec, &mut state, &events)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
