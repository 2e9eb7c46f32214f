//! `goshawk ingest` without the CLI around it, for profiling the ingester on its own (the CLI
//! pulls in the query engine and takes much longer to build in release mode):
//! `cargo run --release -p goshawk-ingest --example ingest_lake -- LAKE INPUT...`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use goshawk_ingest::{IngestOptions, Progress, expand_inputs, ingest};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((lake, inputs)) = args.split_first().filter(|(_, inputs)| !inputs.is_empty()) else {
        eprintln!("usage: ingest_lake LAKE INPUT...");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let expanded = match expand_inputs(inputs) {
        Ok(expanded) => expanded,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let progress = Progress::default();
    match ingest(
        Path::new(lake),
        &expanded.files,
        &IngestOptions::default(),
        &progress,
    ) {
        Ok(summary) => {
            let seconds = started.elapsed().as_secs_f64();
            let bytes: u64 = summary.sources.iter().map(|s| s.bytes).sum();
            println!(
                "{} rows, {} rejected, {} sources, {bytes} bytes in {seconds:.2} s: {:.1} MB/s, {:.0} rows/s",
                summary.ingested,
                summary.rejected,
                summary.sources.len(),
                bytes as f64 / 1e6 / seconds,
                summary.ingested as f64 / seconds
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
