//! The built-in Elastic-style anomaly-detection jobs and their datafeeds (JSON under
//! `builtin/ml/`), which the built-in machine_learning rules name by job id. Each datafeed is KQL
//! over the lake that maps AzureActivity onto the ECS names the jobs use (docs/ml.md).

/// `(origin, text)` of every built-in job and datafeed file.
pub(super) const FILES: &[(&str, &str)] = &[
    (
        "builtin/ml/azure_activitylogs_rare_event_failures.json",
        include_str!("ml/azure_activitylogs_rare_event_failures.json"),
    ),
    (
        "builtin/ml/datafeed-azure_activitylogs_rare_event_failures.json",
        include_str!("ml/datafeed-azure_activitylogs_rare_event_failures.json"),
    ),
    (
        "builtin/ml/azure_activitylogs_rare_event_failures_by_caller.json",
        include_str!("ml/azure_activitylogs_rare_event_failures_by_caller.json"),
    ),
    (
        "builtin/ml/datafeed-azure_activitylogs_rare_event_failures_by_caller.json",
        include_str!("ml/datafeed-azure_activitylogs_rare_event_failures_by_caller.json"),
    ),
    (
        "builtin/ml/azure_activitylogs_high_count_failures.json",
        include_str!("ml/azure_activitylogs_high_count_failures.json"),
    ),
    (
        "builtin/ml/datafeed-azure_activitylogs_high_count_failures.json",
        include_str!("ml/datafeed-azure_activitylogs_high_count_failures.json"),
    ),
    (
        "builtin/ml/azure_activitylogs_rare_operation_for_user.json",
        include_str!("ml/azure_activitylogs_rare_operation_for_user.json"),
    ),
    (
        "builtin/ml/datafeed-azure_activitylogs_rare_operation_for_user.json",
        include_str!("ml/datafeed-azure_activitylogs_rare_operation_for_user.json"),
    ),
];
