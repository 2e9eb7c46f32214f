//! Elastic's ECS field names for Azure Activity, as the built-in datafeeds compute them from
//! the lake's AzureActivity columns (docs/ml.md has the table and the reasons).
//!
//! | ECS field | from | note |
//! |---|---|---|
//! | `@timestamp` | `TimeGenerated` | the job's time field |
//! | `event.action` | `OperationNameValue` | the operation as Azure writes it, case kept |
//! | `event.outcome` | `ActivityStatusValue` | `failure` for Failure, `success` for Success, else `unknown` |
//! | `event.module` / `event.dataset` | constant | `azure` / `azure.activitylogs` |
//! | `source.ip` | `CallerIpAddress` | |
//! | `user.name` | `Caller` | UPN or object id: the caller as Azure writes it |
//! | `user.email` | `Caller` | only when the caller is an e-mail address |
//! | `source.geo.*` | | only with a GeoIP database, which goshawk does not configure: the influencer is left out |

/// The KQL that maps AzureActivity onto ECS names; every built-in Azure Activity datafeed
/// starts with it.
pub const AZURE_ACTIVITY_ECS: &str = r#"AzureActivity
| extend ['event.action'] = OperationNameValue,
    ['event.outcome'] = case(ActivityStatusValue =~ "Failure", "failure", ActivityStatusValue =~ "Success", "success", "unknown"),
    ['event.module'] = "azure",
    ['event.dataset'] = "azure.activitylogs",
    ['source.ip'] = CallerIpAddress,
    ['user.name'] = Caller,
    ['user.email'] = iff(Caller contains "@", Caller, "")
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const FAILURES_ONLY: &str = "| where ActivityStatusValue =~ \"Failure\"\n";

    #[test]
    fn every_builtin_datafeed_uses_the_mapping() {
        let jobs = crate::jobs::builtin_jobs();
        assert_eq!(jobs.len(), 4);
        for definition in jobs {
            let feed = definition
                .datafeed
                .expect("every built-in job has a datafeed");
            let kql = feed.kql.clone().expect("built-in datafeeds are KQL");
            // The failure jobs keep only failed operations before mapping, on the raw column:
            // the same rows as the mapping's `event.outcome == "failure"`, and the mapping is
            // then computed for failures only.
            let mapped = kql.replacen(FAILURES_ONLY, "", 1);
            assert!(mapped.starts_with(AZURE_ACTIVITY_ECS), "{}", feed.job_id);
            crate::JobSpec::new(&definition.job, &feed).expect("built-in jobs are valid");
        }
    }
}
