//! Throughput of the rare job reading lake data, and the memory one by-value costs.
//!
//! Setup (not timed): `goshawk generate` at `GOSHAWK_ML_BENCH_SCALE` (default 20) for 30 days,
//! ingested into a temporary lake. Timed: `run_job` of the built-in
//! `azure_activitylogs_rare_event_failures` from scratch over the whole lake (datafeed KQL over
//! Parquet, bucketing, learning, scoring, snapshot and MLAnomalies written), on a
//! current-thread runtime with DataFusion's target partitions left at its default; throughput is
//! in datafeed events (failed operations) per second.
//!
//! Memory per by-value: the resident set size grows by this much per value when one partition's
//! model learns 200,000 distinct values (read from /proc/self/statm, Linux only).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use goshawk_ml::model::RareModel;
use goshawk_ml::{JobSpec, RunOptions, builtin_job, run_job};

const END: &str = "2026-05-01T00:00:00Z";

fn lake(dir: &Path) -> std::path::PathBuf {
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
    let options = RunOptions {
        start: None,
        end: END
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap(),
        reset: true,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (_, summary) = runtime.block_on(run_job(&lake, &spec, &options)).unwrap();
    eprintln!(
        "rare job: {} events in {} buckets, {} records",
        summary.events, summary.buckets, summary.records
    );
    let mut group = c.benchmark_group("ml");
    group.sample_size(10);
    group.throughput(Throughput::Elements(summary.events));
    group.bench_function("rare_event_failures_full_run", |b| {
        b.iter(|| runtime.block_on(run_job(&lake, &spec, &options)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
