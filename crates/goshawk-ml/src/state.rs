//! A job's persistent state: its models, score history and records, saved as versioned
//! snapshot files (`DIR/_ml/<job_id>/snapshot-<generation>.json`) written atomically, so a job
//! killed mid-run resumes from its last complete snapshot.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MlError;
use crate::model::{CountModel, RareModel};
use crate::scoring::ScoreHistory;

/// The snapshot format; a snapshot of another version is not read.
pub const STATE_VERSION: u32 = 1;
/// The directory under the lake that holds ML state and results.
pub const ML_DIR: &str = "_ml";
/// Snapshots kept per job (the newest and the one before it).
const KEEP_SNAPSHOTS: usize = 2;

/// Models of one detector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// Rare functions: one Dirichlet model per partition value ("" without a partition field).
    #[serde(default)]
    pub rare: BTreeMap<String, RareModel>,
    /// Counting functions: one model per entity key (partition, by and over values).
    #[serde(default)]
    pub counts: BTreeMap<String, CountModel>,
}

/// A record as the job keeps it, with what re-scoring needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub detector_index: usize,
    pub function: String,
    pub bucket_start: i64,
    pub by_field_name: Option<String>,
    pub by_field_value: Option<String>,
    pub over_field_name: Option<String>,
    pub over_field_value: Option<String>,
    pub partition_field_name: Option<String>,
    pub partition_field_value: Option<String>,
    pub probability: f64,
    pub raw_score: f64,
    pub record_score: f64,
    pub initial_record_score: f64,
    /// The bucket's value and the model's mean, for counting functions.
    pub actual: Option<f64>,
    pub typical: Option<f64>,
    /// Influencer field and its values, in the job's influencer order.
    pub influencers: Vec<(String, Vec<String>)>,
    pub explanation: String,
    /// The entity whose largest raw score caps this record (ceiling 2).
    pub entity_key: String,
    /// The entity's and the job's largest raw scores when the record was last scored.
    pub scored_entity_max: f64,
    pub scored_job_max: f64,
}

/// Everything a job has learnt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    pub version: u32,
    pub generation: u64,
    pub job_id: String,
    pub fingerprint: String,
    /// The first bucket not yet processed: everything before it is final.
    pub next_bucket_start: Option<i64>,
    pub detectors: Vec<DetectorState>,
    pub history: ScoreHistory,
    /// Largest raw score per entity key.
    pub entity_max: BTreeMap<String, f64>,
    pub records: Vec<StoredRecord>,
    pub events: u64,
    pub buckets: u64,
}

impl JobState {
    pub fn new(job_id: &str, fingerprint: String, detectors: usize) -> JobState {
        JobState {
            version: STATE_VERSION,
            generation: 0,
            job_id: job_id.to_string(),
            fingerprint,
            next_bucket_start: None,
            detectors: vec![DetectorState::default(); detectors],
            history: ScoreHistory::default(),
            entity_max: BTreeMap::new(),
            records: Vec::new(),
            events: 0,
            buckets: 0,
        }
    }
}

/// `DIR/_ml/<job_id>`.
pub fn job_dir(lake: &Path, job_id: &str) -> PathBuf {
    lake.join(ML_DIR).join(job_id)
}

fn snapshot_name(generation: u64) -> String {
    format!("snapshot-{generation:010}.json")
}

/// Snapshot files of a job, newest first.
fn snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, MlError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(MlError::io(dir)(err)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(MlError::io(dir))?.path();
        let generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("snapshot-"))
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(generation) = generation {
            found.push((generation, path));
        }
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.0));
    Ok(found)
}

/// The newest snapshot of the job, or None when the job never ran. A snapshot that does not
/// parse is an error rather than silently skipped: resuming from an older model would relearn
/// buckets twice.
pub fn load(lake: &Path, job_id: &str) -> Result<Option<JobState>, MlError> {
    let dir = job_dir(lake, job_id);
    let Some((_, path)) = snapshots(&dir)?.into_iter().next() else {
        return Ok(None);
    };
    let file = File::open(&path).map_err(MlError::io(&path))?;
    let state: JobState =
        serde_json::from_reader(BufReader::new(file)).map_err(|err| MlError::State {
            path: path.clone(),
            message: format!("cannot read the snapshot: {err}"),
        })?;
    if state.version != STATE_VERSION {
        return Err(MlError::State {
            path,
            message: format!(
                "snapshot version {} (this goshawk reads version {STATE_VERSION}); rerun the job with --reset",
                state.version
            ),
        });
    }
    Ok(Some(state))
}

/// Writes `state` as the next generation: temporary file, fsync, rename, fsync of the
/// directory; then removes all but the newest snapshots.
pub fn save(lake: &Path, state: &mut JobState) -> Result<PathBuf, MlError> {
    let dir = job_dir(lake, &state.job_id);
    fs::create_dir_all(&dir).map_err(MlError::io(&dir))?;
    let newest = snapshots(&dir)?.first().map_or(0, |(g, _)| *g);
    state.generation = newest.max(state.generation) + 1;
    let name = snapshot_name(state.generation);
    let final_path = dir.join(&name);
    let temp_path = dir.join(format!(".{name}.tmp"));
    let file = File::create(&temp_path).map_err(MlError::io(&temp_path))?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer(&mut writer, state).map_err(|err| MlError::State {
        path: temp_path.clone(),
        message: format!("cannot write the snapshot: {err}"),
    })?;
    writer.flush().map_err(MlError::io(&temp_path))?;
    let file = writer
        .into_inner()
        .map_err(|err| MlError::io(&temp_path)(err.into_error()))?;
    file.sync_all().map_err(MlError::io(&temp_path))?;
    drop(file);
    fs::rename(&temp_path, &final_path).map_err(MlError::io(&final_path))?;
    sync_dir(&dir)?;
    for (_, old) in snapshots(&dir)?.into_iter().skip(KEEP_SNAPSHOTS) {
        fs::remove_file(&old).map_err(MlError::io(&old))?;
    }
    Ok(final_path)
}

/// Forgets a job's state (for `--reset`).
pub fn remove(lake: &Path, job_id: &str) -> Result<(), MlError> {
    let dir = job_dir(lake, job_id);
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(MlError::io(&dir)(err)),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), MlError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(MlError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_versioned_and_pruned() {
        let lake = tempfile::tempdir().unwrap();
        assert_eq!(load(lake.path(), "j").unwrap(), None);
        let mut state = JobState::new("j", "fp".to_string(), 1);
        for i in 0..4 {
            state.events = i;
            save(lake.path(), &mut state).unwrap();
        }
        assert_eq!(state.generation, 4);
        let loaded = load(lake.path(), "j").unwrap().unwrap();
        assert_eq!(loaded.events, 3);
        assert_eq!(loaded.generation, 4);
        let files = snapshots(&job_dir(lake.path(), "j")).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, 4);
        remove(lake.path(), "j").unwrap();
        assert_eq!(load(lake.path(), "j").unwrap(), None);
    }

    #[test]
    fn a_corrupt_snapshot_is_reported_with_its_path() {
        let lake = tempfile::tempdir().unwrap();
        let dir = job_dir(lake.path(), "j");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(snapshot_name(7)), "{not json").unwrap();
        let err = load(lake.path(), "j").unwrap_err().to_string();
        assert!(err.contains("snapshot-0000000007.json"), "{err}");
    }
}
