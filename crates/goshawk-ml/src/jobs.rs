//! Where jobs come from: the built-in jobs (with their datafeeds) and job files.

use std::path::Path;

use goshawk_rules::elastic::{Datafeed, MlJob};
use goshawk_rules::{RuleDocument, load_file};

use crate::error::MlError;

/// A job and the datafeed that feeds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDefinition {
    pub job: MlJob,
    pub datafeed: Option<Datafeed>,
}

/// Pairs jobs with datafeeds (by job id) among loaded content.
pub fn pair_jobs(documents: impl IntoIterator<Item = RuleDocument>) -> Vec<JobDefinition> {
    let mut jobs = Vec::new();
    let mut datafeeds = Vec::new();
    for document in documents {
        match document {
            RuleDocument::MlJob(job) => jobs.push(*job),
            RuleDocument::Datafeed(feed) => datafeeds.push(*feed),
            _ => {}
        }
    }
    jobs.into_iter()
        .map(|job| {
            let datafeed = datafeeds.iter().find(|d| d.job_id == job.job_id).cloned();
            JobDefinition { job, datafeed }
        })
        .collect()
}

/// The built-in jobs, in file order.
pub fn builtin_jobs() -> Vec<JobDefinition> {
    let (rules, _) = goshawk_rules::builtin::builtin_rules();
    pair_jobs(rules.into_iter().map(|r| r.document))
}

/// The built-in job with this id.
pub fn builtin_job(job_id: &str) -> Option<JobDefinition> {
    builtin_jobs().into_iter().find(|d| d.job.job_id == job_id)
}

/// A job from a JSON file. Its datafeed is, in order: `datafeed_file` when given; the job's
/// own `datafeed_config` (as Elastic's create-job API accepts it); a file
/// `datafeed-<job_id>.json` or `datafeed_<job_id>.json` beside the job; the built-in datafeed
/// of the same job id.
pub fn load_job_file(path: &Path, datafeed_file: Option<&Path>) -> Result<JobDefinition, MlError> {
    let config = |message: String| MlError::Config {
        job_id: path.display().to_string(),
        message,
    };
    let loaded = load_file(path).map_err(|err| config(err.to_string()))?;
    let RuleDocument::MlJob(job) = loaded.document else {
        return Err(config(
            "not an anomaly-detection job (no `analysis_config`)".to_string(),
        ));
    };
    let job = *job;
    let datafeed = if let Some(file) = datafeed_file {
        let loaded = load_file(file).map_err(|err| config(err.to_string()))?;
        match loaded.document {
            RuleDocument::Datafeed(feed) => Some(*feed),
            _ => {
                return Err(config(format!(
                    "{}: not a datafeed (no `job_id`)",
                    file.display()
                )));
            }
        }
    } else if let Some(value) = job.extra.get("datafeed_config") {
        let mut value = value.clone();
        if let Some(object) = value.as_object_mut() {
            object
                .entry("job_id")
                .or_insert_with(|| serde_json::json!(job.job_id));
        }
        Some(
            serde_json::from_value(value)
                .map_err(|err| config(format!("datafeed_config: {err}")))?,
        )
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        let sibling = [
            format!("datafeed-{}.json", job.job_id),
            format!("datafeed_{}.json", job.job_id),
        ]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file());
        match sibling {
            Some(file) => match load_file(&file)
                .map_err(|err| config(err.to_string()))?
                .document
            {
                RuleDocument::Datafeed(feed) => Some(*feed),
                _ => None,
            },
            None => builtin_job(&job.job_id).and_then(|d| d.datafeed),
        }
    };
    Ok(JobDefinition { job, datafeed })
}
