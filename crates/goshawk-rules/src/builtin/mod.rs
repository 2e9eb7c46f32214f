//! The detections compiled into the binary, written in goshawk's own words and loaded through
//! the same code path as a user's content files.

use std::path::Path;

use crate::load::{LoadedRule, RuleLoadError, load_str};

/// HUNT-01 "Provisioning Failures by Job and Error (30d)".
pub const HUNT01_ID: &str = "aa1f0001-2001-4201-9201-aadprov-hunt01";

/// Elastic's "Rare Azure Activity Logs Event Failures" (machine_learning).
pub const RARE_AZURE_ACTIVITY_FAILURES_ID: &str = "c17ffbf9-595a-4c0b-a126-aacedb6dd179";

/// "Provisioning failure burst for one job": the threshold rule a low-and-slow campaign evades.
pub const PROVISIONING_FAILURE_BURST_ID: &str = "74e59dcb-5e2f-4099-b486-7581998724cf";

mod ml;
mod pack;

/// `(origin, text)` of every built-in content file: rules, then ML jobs and datafeeds.
pub fn builtin_files() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    pack::FILES.iter().chain(ml::FILES)
}

/// Every built-in rule. The error list is empty unless a built-in file is broken, which the
/// tests rule out; it is returned rather than hidden so that callers report it like any other.
pub fn builtin_rules() -> (Vec<LoadedRule>, Vec<RuleLoadError>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (origin, text) in builtin_files() {
        match load_str(Path::new(origin), text) {
            Ok(rule) => rules.push(rule),
            Err(err) => errors.push(err),
        }
    }
    (rules, errors)
}

/// The built-in rule with this id.
pub fn builtin_rule(id: &str) -> Option<LoadedRule> {
    builtin_rules().0.into_iter().find(|rule| rule.id() == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RuleDocument;

    #[test]
    fn every_builtin_loads_and_hunt01_is_the_seed_query() {
        let (rules, errors) = builtin_rules();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), builtin_files().count());
        let name_of = |id: &str| builtin_rule(id).map(|rule| rule.name().to_string());
        assert_eq!(
            name_of(RARE_AZURE_ACTIVITY_FAILURES_ID).as_deref(),
            Some("Rare Azure Activity Logs Event Failures")
        );
        assert_eq!(
            name_of(PROVISIONING_FAILURE_BURST_ID).as_deref(),
            Some("Provisioning failure burst for one job")
        );
        let hunt01 = builtin_rule(HUNT01_ID).expect("HUNT-01 is built in");
        let RuleDocument::Sentinel(rule) = &hunt01.document else {
            panic!("{hunt01:?}")
        };
        assert_eq!(rule.name, "Provisioning Failures by Job and Error (30d)");
        assert_eq!(rule.severity.as_deref(), Some("Medium"));
        assert_eq!(rule.tactics, ["DefenseEvasion"]);
        assert_eq!(rule.relevant_techniques, ["T1556"]);
        assert_eq!(rule.data_types(), ["AADProvisioningLogs"]);
        assert!(!rule.is_analytic_rule(), "a hunting query has no schedule");
        assert!(
            rule.query
                .starts_with("AADProvisioningLogs\n| where TimeGenerated > ago(30d)\n")
        );
        assert!(
            rule.query
                .ends_with("| extend Sustained = DistinctDays >= 3\n| order by Failures desc\n")
        );
    }
}
