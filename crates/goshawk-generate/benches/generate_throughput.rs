//! Generation throughput:
//! `cargo bench -p goshawk-generate --bench generate_throughput -- [SCALE] [DIR] [--threads=N] [--dry-run]`.
//! Writes a full 30-day data set at the given scale (default 50) into a fresh directory under
//! DIR (default: the system temp directory), or only counts it with `--dry-run`, and prints
//! records/s, MB/s and the CPU time the generation took (user and system, all threads).

use std::process::ExitCode;

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, RunOptions, generate_with};

/// (user, system) CPU seconds of this process so far, from /proc/self/stat (Linux; None
/// elsewhere). The kernel reports them in USER_HZ ticks, 100 a second on every Linux ABI.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user / 100.0, system / 100.0))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut run = RunOptions::default();
    let mut positional = Vec::new();
    for arg in &args {
        if let Some(threads) = arg.strip_prefix("--threads=") {
            match threads.parse() {
                Ok(threads) => run.threads = threads,
                Err(err) => {
                    eprintln!("bad --threads {threads:?}: {err}");
                    return ExitCode::from(2);
                }
            }
        } else if arg == "--dry-run" {
            run.dry_run = true;
        } else if !arg.starts_with("--") {
            // `cargo bench` passes `--bench`; the rest is ours.
            positional.push(arg.as_str());
        }
    }
    let scale: u32 = match positional.first().map(|s| s.parse()) {
        None => 50,
        Some(Ok(scale)) => scale,
        Some(Err(err)) => {
            eprintln!("bad scale {:?}: {err}", positional[0]);
            return ExitCode::from(2);
        }
    };
    let parent = positional
        .get(1)
        .map_or_else(std::env::temp_dir, Into::into);
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
    let cpu_before = cpu_seconds();
    let result = generate_with(&opts, &run);
    let cpu_after = cpu_seconds();
    match result {
        Ok(summary) => {
            println!("{summary}");
            let records = summary.records() as f64;
            println!(
                "scale {scale}, {} threads{}: {} records in {:.3} s = {:.0} records/s, {:.1} MB/s",
                if run.threads == 0 {
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                } else {
                    run.threads
                },
                if run.dry_run { ", dry run" } else { "" },
                summary.records(),
                summary.elapsed.as_secs_f64(),
                summary.records_per_second(),
                summary.bytes as f64 / 1e6 / summary.elapsed.as_secs_f64()
            );
            if let (Some((user0, sys0)), Some((user1, sys1))) = (cpu_before, cpu_after) {
                let (user, system) = (user1 - user0, sys1 - sys0);
                println!(
                    "CPU: {user:.2} s user + {system:.2} s system = {:.2} us user + {:.2} us system per record",
                    user * 1e6 / records.max(1.0),
                    system * 1e6 / records.max(1.0)
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
