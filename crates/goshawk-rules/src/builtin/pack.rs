//! The built-in detections (Sentinel YAML and Elastic TOML under `builtin/rules/`).

/// `(origin, text)` of one file under `builtin/rules/`, so that the origin always names the file
/// that was included.
macro_rules! rule {
    ($file:literal) => {
        (
            concat!("builtin/rules/", $file),
            include_str!(concat!("rules/", $file)),
        )
    };
}

/// `(origin, text)` of every built-in rule file.
pub(super) const FILES: &[(&str, &str)] = &[
    rule!("hunt01.yaml"),
    rule!("rare_azure_activity_failures.toml"),
    rule!("rare_azure_activity_failures_by_caller.toml"),
    rule!("spike_azure_activity_failures.toml"),
    rule!("unusual_azure_operation_for_user.toml"),
    rule!("aadprov_failure_burst.yaml"),
    rule!("aadprov_mass_deprovisioning.yaml"),
    rule!("az_role_assignment_new_principal.yaml"),
    rule!("az_access_denied_burst.yaml"),
    rule!("az_logging_or_lock_removed.yaml"),
    rule!("az_keyvault_access_policy_new_caller.yaml"),
    rule!("signin_password_spray.yaml"),
    rule!("signin_mfa_fatigue.yaml"),
    rule!("audit_high_privilege_consent.yaml"),
    rule!("audit_sp_credentials_added.yaml"),
    rule!("audit_privileged_role_outside_pim.yaml"),
];
