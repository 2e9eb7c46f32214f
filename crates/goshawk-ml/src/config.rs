//! A runnable job: Elastic's job and datafeed JSON (as loaded by goshawk-rules) checked and
//! turned into spans in seconds, detector functions and the datafeed's KQL.

use goshawk_rules::elastic::{Datafeed, Detector, MlJob};
use serde::Serialize;

use crate::error::MlError;

/// The detector functions goshawk runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Rare,
    FreqRare,
    Count,
    HighCount,
    LowCount,
    DistinctCount,
    HighDistinctCount,
    LowDistinctCount,
}

impl Function {
    pub fn parse(name: &str) -> Option<Function> {
        Some(match name {
            "rare" => Function::Rare,
            "freq_rare" => Function::FreqRare,
            "count" => Function::Count,
            "high_count" => Function::HighCount,
            "low_count" => Function::LowCount,
            "distinct_count" => Function::DistinctCount,
            "high_distinct_count" => Function::HighDistinctCount,
            "low_distinct_count" => Function::LowDistinctCount,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Function::Rare => "rare",
            Function::FreqRare => "freq_rare",
            Function::Count => "count",
            Function::HighCount => "high_count",
            Function::LowCount => "low_count",
            Function::DistinctCount => "distinct_count",
            Function::HighDistinctCount => "high_distinct_count",
            Function::LowDistinctCount => "low_distinct_count",
        }
    }

    pub fn is_rare(self) -> bool {
        matches!(self, Function::Rare | Function::FreqRare)
    }

    pub fn is_distinct(self) -> bool {
        matches!(
            self,
            Function::DistinctCount | Function::HighDistinctCount | Function::LowDistinctCount
        )
    }
}

/// One detector of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorSpec {
    pub function: Function,
    pub field_name: Option<String>,
    pub by_field_name: Option<String>,
    pub over_field_name: Option<String>,
    pub partition_field_name: Option<String>,
    pub description: String,
}

/// Words the explanation uses for a job, from the job's
/// `custom_settings.goshawk_explain.{verb, unit}` (for example "failed" and "failing
/// operation-hours"); defaults "occurred" and "value-buckets".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainWords {
    pub verb: String,
    pub unit: String,
}

/// A job ready to run over the lake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSpec {
    pub job_id: String,
    pub description: String,
    pub bucket_span_seconds: i64,
    pub query_delay_seconds: i64,
    pub detectors: Vec<DetectorSpec>,
    pub influencers: Vec<String>,
    /// The datafeed's time column (ECS `@timestamp` is the lake's `TimeGenerated`).
    pub time_field: String,
    pub datafeed_kql: String,
    pub explain: ExplainWords,
}

impl JobSpec {
    /// Checks a job and its datafeed. The datafeed must carry a `kql` query: an Elasticsearch
    /// DSL query cannot run over the lake.
    pub fn new(job: &MlJob, datafeed: &Datafeed) -> Result<JobSpec, MlError> {
        let bad = |message: String| MlError::Config {
            job_id: job.job_id.clone(),
            message,
        };
        if datafeed.job_id != job.job_id {
            return Err(bad(format!(
                "the datafeed is for job '{}'",
                datafeed.job_id
            )));
        }
        let datafeed_kql = datafeed
            .kql
            .clone()
            .filter(|kql| !kql.trim().is_empty())
            .ok_or_else(|| {
                bad("the datafeed has no `kql` query (goshawk runs datafeeds as KQL over the lake; an Elasticsearch `query` cannot run here)".to_string())
            })?;
        let bucket_span_seconds = parse_duration(&job.analysis_config.bucket_span)
            .map_err(|m| bad(format!("analysis_config.bucket_span: {m}")))?;
        let query_delay_seconds = match &datafeed.query_delay {
            Some(text) => parse_duration(text).map_err(|m| bad(format!("query_delay: {m}")))?,
            None => 0,
        };
        if job.analysis_config.detectors.is_empty() {
            return Err(bad("analysis_config.detectors is empty".to_string()));
        }
        let detectors = job
            .analysis_config
            .detectors
            .iter()
            .enumerate()
            .map(|(i, d)| detector(d).map_err(|m| bad(format!("detector {i}: {m}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let time_field = job
            .data_description
            .as_ref()
            .and_then(|d| d.get("time_field"))
            .and_then(|t| t.as_str())
            .filter(|t| *t != "@timestamp" && *t != "time")
            .unwrap_or("TimeGenerated")
            .to_string();
        let words = job
            .extra
            .get("custom_settings")
            .and_then(|c| c.get("goshawk_explain"));
        let word = |key: &str, default: &str| {
            words
                .and_then(|w| w.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or(default)
                .to_string()
        };
        Ok(JobSpec {
            job_id: job.job_id.clone(),
            description: job.description.clone(),
            bucket_span_seconds,
            query_delay_seconds,
            detectors,
            influencers: job.analysis_config.influencers.clone(),
            time_field,
            datafeed_kql,
            explain: ExplainWords {
                verb: word("verb", "occurred"),
                unit: word("unit", "value-buckets"),
            },
        })
    }

    /// What a saved model depends on: a snapshot made with a different configuration is not
    /// resumed.
    pub fn fingerprint(&self) -> String {
        serde_json::json!({
            "bucket_span_seconds": self.bucket_span_seconds,
            "detectors": self.detectors,
            "time_field": self.time_field,
            "datafeed_kql": self.datafeed_kql,
        })
        .to_string()
    }

    /// Every field the job reads from the datafeed, without duplicates, time field excluded.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let mut add = |name: &Option<String>| {
            if let Some(name) = name
                && !fields.contains(name)
            {
                fields.push(name.clone());
            }
        };
        for d in &self.detectors {
            add(&d.field_name);
            add(&d.by_field_name);
            add(&d.over_field_name);
            add(&d.partition_field_name);
        }
        for influencer in &self.influencers {
            add(&Some(influencer.clone()));
        }
        fields
    }
}

fn detector(d: &Detector) -> Result<DetectorSpec, String> {
    let function = Function::parse(&d.function).ok_or_else(|| {
        format!(
            "function '{}' is not supported (rare, freq_rare, count, high_count, low_count, distinct_count, high_distinct_count, low_distinct_count)",
            d.function
        )
    })?;
    let nonempty = |f: &Option<String>| f.clone().filter(|s| !s.is_empty());
    let spec = DetectorSpec {
        function,
        field_name: nonempty(&d.field_name),
        by_field_name: nonempty(&d.by_field_name),
        over_field_name: nonempty(&d.over_field_name),
        partition_field_name: nonempty(&d.partition_field_name),
        description: d
            .detector_description
            .clone()
            .unwrap_or_else(|| d.function.clone()),
    };
    if function.is_rare() && spec.by_field_name.is_none() {
        return Err(format!("{} needs a by_field_name", function.name()));
    }
    if function == Function::FreqRare && spec.over_field_name.is_none() {
        return Err("freq_rare needs an over_field_name".to_string());
    }
    if function.is_distinct() && spec.field_name.is_none() {
        return Err(format!("{} needs a field_name", function.name()));
    }
    Ok(spec)
}

/// An Elastic time value (`60m`, `1h`, `15m`, `30s`, `1d`, `90000ms`) in whole seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{text}' has no unit (d, h, m, s or ms)"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("'{text}' does not start with a whole number"))?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3600),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        "ms" if number % 1000 == 0 => Some(number / 1000),
        "ms" => return Err(format!("'{text}' is not a whole number of seconds")),
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (d, h, m, s or ms)"
            ));
        }
    }
    .ok_or_else(|| format!("'{text}' is too long"))?;
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60m"), Ok(3600));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("90000ms"), Ok(90));
        assert!(parse_duration("60").unwrap_err().contains("no unit"));
        assert!(parse_duration("5w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("1500ms").is_err());
    }
}
