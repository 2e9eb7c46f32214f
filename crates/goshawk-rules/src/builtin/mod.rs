//! Detections compiled into the binary.

/// HUNT-01 "Provisioning Failures by Job and Error (30d)": retro-hunts persistent provisioning
/// connector failures, low-and-slow campaigns of bad SCIM calls that stay under analytic-rule
/// thresholds, and schema-drift failures, over 30 days of `AADProvisioningLogs`.
pub mod hunt01 {
    pub const ID: &str = "aa1f0001-2001-4201-9201-aadprov-hunt01";
    pub const NAME: &str = "Provisioning Failures by Job and Error (30d)";
    /// The seed query, verbatim.
    pub const QUERY: &str = include_str!("hunt01.kql");
}
