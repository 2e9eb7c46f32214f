//! Crash safety: `goshawk ingest` killed with SIGKILL part way, then run again, leaves no
//! duplicate and no missing rows. The kill points are found with the documented test hook
//! GOSHAWK_INGEST_PAUSE_MS (a sleep after each committed source) and, for a kill in the middle
//! of writing, a plain timer.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use goshawk_generate::{GenerateOptions, generate};
use goshawk_ingest::{Lake, PAUSE_ENV, read_manifest};

/// Ingests the generated logs (not the generator's ground_truth.jsonl, which is no log).
fn goshawk_ingest(generated: &Path, lake: &Path, pause_ms: Option<u64>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_goshawk"));
    command
        .arg("ingest")
        .arg(generated.join("activity"))
        .arg(generated.join("provisioning"))
        .arg("--data")
        .arg(lake)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(pause) = pause_ms {
        command.env(PAUSE_ENV, pause.to_string());
    }
    command
}

fn manifest_len(lake: &Path) -> usize {
    read_manifest(lake).map(|m| m.len()).unwrap_or(0)
}

/// Starts an ingest and SIGKILLs it once `ready` says so (or after `limit`).
fn kill_when(mut command: Command, limit: Duration, ready: impl Fn() -> bool) {
    let mut child = command.spawn().expect("goshawk starts");
    let started = Instant::now();
    while !ready() && started.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
}

#[test]
fn killed_ingest_rerun_gives_every_row_once() {
    let out = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let generated = generate(&GenerateOptions {
        out_dir: out.path().to_path_buf(),
        days: 21,
        end: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap(),
        scale: 1,
        seed: 3,
        with_bad_records: false,
    })
    .expect("generator runs");
    let expected: u64 = generated.streams.iter().map(|s| s.records).sum();
    let files = (walk(&out.path().join("activity")).len()
        + walk(&out.path().join("provisioning")).len()) as u64;

    // Kill between sources: after some have been committed.
    kill_when(
        goshawk_ingest(out.path(), lake.path(), Some(20)),
        Duration::from_secs(60),
        || manifest_len(lake.path()) >= 10,
    );
    let after_first = manifest_len(lake.path());
    assert!(
        after_first >= 10 && (after_first as u64) < files,
        "killed part way: {after_first}"
    );

    // Kill at arbitrary points while files are being written.
    for delay_ms in [40, 90, 170] {
        let before = manifest_len(lake.path());
        let started = Instant::now();
        kill_when(
            goshawk_ingest(out.path(), lake.path(), None),
            Duration::from_secs(60),
            || started.elapsed() >= Duration::from_millis(delay_ms),
        );
        assert!(manifest_len(lake.path()) >= before);
    }

    let status = goshawk_ingest(out.path(), lake.path(), None)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    let manifest = read_manifest(lake.path()).unwrap();
    let hashes: std::collections::BTreeSet<&str> =
        manifest.iter().map(|e| e.blake3.as_str()).collect();
    assert_eq!(hashes.len(), manifest.len(), "each source recorded once");
    assert_eq!(manifest.len() as u64, files);
    let rows: u64 = Lake::open(lake.path())
        .unwrap()
        .tables()
        .unwrap()
        .iter()
        .map(|t| t.stats().unwrap().rows)
        .sum();
    assert_eq!(rows, expected, "no duplicate and no missing rows");
    let manifest_rows: u64 = manifest.iter().flat_map(|e| e.rows.values()).sum();
    assert_eq!(manifest_rows, expected);
    // No temporary files left behind.
    for entry in walk(lake.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.ends_with(".tmp"), "leftover {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
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
