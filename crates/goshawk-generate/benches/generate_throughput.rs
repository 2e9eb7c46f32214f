//! Generation throughput: `cargo bench -p goshawk-generate --bench generate_throughput -- [SCALE] [DIR]`.
//! Writes a full 30-day data set at the given scale (default 50) into a fresh directory under
//! DIR (default: the system temp directory) and prints records/s and MB/s.

use std::process::ExitCode;

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, generate};

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; positional arguments are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let scale: u32 = match args.first().map(|s| s.parse()) {
        None => 50,
        Some(Ok(scale)) => scale,
        Some(Err(err)) => {
            eprintln!("bad scale {:?}: {err}", args[0]);
            return ExitCode::from(2);
        }
    };
    let parent = args.get(1).map_or_else(std::env::temp_dir, Into::into);
    let dir = match tempfile::Builder::new()
        .prefix("goshawk-bench-")
        .tempdir_in(&parent)
    {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!(
                "cannot create a directory under {}: {err}",
                parent.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let Some(end) = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single() else {
        return ExitCode::FAILURE;
    };
    let mut opts = GenerateOptions::new(dir.path().join("out"), end);
    opts.scale = scale;
    match generate(&opts) {
        Ok(summary) => {
            println!("{summary}");
            println!(
                "scale {scale}: {} records in {:.3} s = {:.0} records/s, {:.1} MB/s",
                summary.records(),
                summary.elapsed.as_secs_f64(),
                summary.records_per_second(),
                summary.bytes as f64 / 1e6 / summary.elapsed.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
