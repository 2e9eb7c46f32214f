//! The simulated tenant: its provisioning apps and jobs, subscriptions, resource groups and the
//! people and workloads that call Azure Resource Manager. Everything here is derived from the
//! seed up front and is small; the records themselves are produced by the streams.

use crate::json::{TICKS_PER_DAY, TICKS_PER_MINUTE, guid_from, new_guid, new_hex32};
use crate::random::{StreamRng, splitmix64, stream_rng};

/// Incremental provisioning cycles run every 40 minutes in Entra ID.
pub(crate) const CYCLE_TICKS: i64 = 40 * TICKS_PER_MINUTE;
/// Cycles start up to this late after their nominal slot (scheduler jitter).
pub(crate) const CYCLE_JITTER_SECONDS: u64 = 90;

/// Which way identities flow through a provisioning job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Entra ID to a SCIM application.
    OutboundScim,
    /// An HR system (Workday) to on-premises Active Directory.
    InboundHr,
    /// On-premises Active Directory to Entra ID (cloud sync agent).
    CloudSync,
}

/// A provisioning application template: one service principal per instance, several jobs each.
pub(crate) struct AppTemplate {
    pub display_name: &'static str,
    pub template_id: &'static str,
    pub flow: Flow,
    pub source_system: &'static str,
    pub target_system: &'static str,
    pub jobs: &'static [&'static str],
    /// Expected changes per cycle at the busiest business hour, per job.
    pub peak_changes_per_cycle: f64,
    /// Relative weights of [`PROVISIONING_ERRORS`] for background failures of this app.
    pub error_weights: [u32; PROVISIONING_ERRORS.len()],
}

const ENTRA: &str = "Azure Active Directory";

pub(crate) static APPS: &[AppTemplate] = &[
    AppTemplate {
        display_name: "ServiceNow",
        template_id: "ServiceNowOutDelta",
        flow: Flow::OutboundScim,
        source_system: ENTRA,
        target_system: "ServiceNow",
        jobs: &["users", "groups"],
        peak_changes_per_cycle: 0.16,
        error_weights: [5, 0, 1, 3, 1, 2, 0],
    },
    AppTemplate {
        display_name: "Workday to Active Directory User Provisioning",
        template_id: "workdayToAD",
        flow: Flow::InboundHr,
        source_system: "Workday",
        target_system: "Active Directory",
        jobs: &["contoso.com", "emea.contoso.com"],
        peak_changes_per_cycle: 0.18,
        error_weights: [0, 0, 3, 3, 4, 1, 2],
    },
    AppTemplate {
        display_name: "Salesforce",
        template_id: "SalesForce",
        flow: Flow::OutboundScim,
        source_system: ENTRA,
        target_system: "Salesforce",
        jobs: &["production", "sandbox"],
        peak_changes_per_cycle: 0.1,
        error_weights: [5, 0, 1, 2, 1, 2, 0],
    },
    AppTemplate {
        display_name: "AWS IAM Identity Center",
        template_id: "aWSSingleSignOn",
        flow: Flow::OutboundScim,
        source_system: ENTRA,
        target_system: "AWS IAM Identity Center",
        jobs: &["users", "groups"],
        peak_changes_per_cycle: 0.1,
        error_weights: [6, 0, 1, 2, 1, 1, 0],
    },
    AppTemplate {
        display_name: "GitHub Enterprise Managed User",
        template_id: "gitHubEnterpriseManagedUser",
        flow: Flow::OutboundScim,
        source_system: ENTRA,
        target_system: "GitHub Enterprise Managed User",
        jobs: &["contoso-emu", "contoso-labs"],
        peak_changes_per_cycle: 0.09,
        error_weights: [5, 0, 1, 3, 1, 1, 0],
    },
    AppTemplate {
        display_name: "Slack",
        template_id: "slack",
        flow: Flow::OutboundScim,
        source_system: ENTRA,
        target_system: "Slack",
        jobs: &["workspace", "enterprise-grid"],
        peak_changes_per_cycle: 0.09,
        error_weights: [5, 0, 1, 2, 1, 1, 0],
    },
    AppTemplate {
        display_name: "contoso.com (Microsoft Entra Cloud Sync)",
        template_id: "AD2AADProvisioning",
        flow: Flow::CloudSync,
        source_system: "Active Directory",
        target_system: ENTRA,
        jobs: &["corp.contoso.com", "emea.contoso.com", "lab.contoso.com"],
        peak_changes_per_cycle: 0.14,
        error_weights: [0, 4, 2, 2, 1, 0, 3],
    },
];

/// An Entra provisioning error code with the texts Entra attaches to it.
pub(crate) struct ProvisioningErrorKind {
    pub code: &'static str,
    /// `failure` (the service or target failed) or `nonServiceFailure` (data or configuration).
    pub category: &'static str,
    /// `{object}` and `{target}` are replaced per record.
    pub reason: &'static str,
    pub additional_details: &'static str,
    pub recommended_action: &'static str,
}

pub(crate) const SCIM_BAD_RESPONSE: usize = 0;
pub(crate) const SCHEMA_ATTRIBUTE_NOT_FOUND: usize = 5;

pub(crate) static PROVISIONING_ERRORS: [ProvisioningErrorKind; 7] = [
    ProvisioningErrorKind {
        code: "SystemForCrossDomainIdentityManagementBadResponse",
        category: "failure",
        reason: "Failed to update User '{object}' in {target}; Error: The SCIM endpoint returned an unexpected response. StatusCode: BadRequest. Message: The request was not valid.",
        additional_details: "The SCIM endpoint is not fully compatible with the Microsoft Entra SCIM client.",
        recommended_action: "Review the response from the application and confirm the SCIM endpoint follows RFC 7644.",
    },
    ProvisioningErrorKind {
        code: "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises",
        category: "nonServiceFailure",
        reason: "Failed to update User '{object}' in {target}; the object is mastered on-premises and synchronized by Microsoft Entra Connect, so it cannot be updated in the cloud.",
        additional_details: "The object's source of authority is on-premises Active Directory.",
        recommended_action: "Make the change in on-premises Active Directory or convert the object to cloud-managed.",
    },
    ProvisioningErrorKind {
        code: "AzureActiveDirectoryInsufficientRights",
        category: "nonServiceFailure",
        reason: "Insufficient privileges to complete the operation on '{object}' in {target}.",
        additional_details: "The provisioning service principal lacks the directory role needed for this change.",
        recommended_action: "Grant the provisioning service principal the required permissions and retry.",
    },
    ProvisioningErrorKind {
        code: "DuplicateTargetEntries",
        category: "nonServiceFailure",
        reason: "The operation failed because more than one object in {target} matched '{object}' on the matching attribute.",
        additional_details: "Multiple target objects share the value of the matching attribute.",
        recommended_action: "Remove the duplicate objects from the target system or change the matching attribute.",
    },
    ProvisioningErrorKind {
        code: "DuplicateSourceEntries",
        category: "nonServiceFailure",
        reason: "The operation failed because the matching attribute of '{object}' is shared by more than one object in the source system.",
        additional_details: "Multiple source objects share the value of the matching attribute.",
        recommended_action: "Make the matching attribute unique in the source system.",
    },
    ProvisioningErrorKind {
        code: "SchemaAttributeNotFound",
        category: "nonServiceFailure",
        reason: "Unable to process '{object}': the attribute mapped to {target} was not found in the target schema.",
        additional_details: "An attribute mapping references an attribute that the target schema does not define.",
        recommended_action: "Update the attribute mappings to match the target application's schema.",
    },
    ProvisioningErrorKind {
        code: "HybridSynchronizationActiveDirectoryInsufficientAccessRights",
        category: "nonServiceFailure",
        reason: "Insufficient access rights to update '{object}' in {target}.",
        additional_details: "The service account used by the provisioning agent lacks permissions on the organizational unit.",
        recommended_action: "Grant the provisioning agent's gMSA write permissions on the target organizational unit.",
    },
];

/// A provisioning job instance: one of an app's jobs on one service-principal instance.
pub(crate) struct Job {
    pub app: &'static AppTemplate,
    pub label: &'static str,
    pub job_id: String,
    pub service_principal_id: String,
    pub service_principal_name: String,
    pub source_system_id: String,
    pub target_system_id: String,
    /// Offset of the first cycle from the window start, within one cycle period.
    pub cycle_offset: i64,
    pub key: u64,
}

/// One caller of Azure Resource Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind {
    User,
    ServicePrincipal,
    ManagedIdentity,
}

pub(crate) struct Caller {
    pub kind: CallerKind,
    /// UPN for users, display name otherwise.
    pub principal_name: String,
    pub object_id: String,
    /// The object id without dashes, as role-assignment evidence writes it.
    pub principal_id_hex: String,
    pub usual_ip: &'static str,
    pub role: &'static str,
    pub usual_subscriptions: &'static [usize],
    /// Background operations of this caller, as (index into OPERATIONS, weight).
    pub operations: &'static [(usize, u32)],
    pub weight: u32,
    /// Scenario-only callers never appear in background traffic.
    pub background: bool,
    /// The static part of the JWT claims object (members after the time claims).
    pub claims_tail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Subscription,
    ResourceGroup,
    /// A resource directly under the subscription (`/subscriptions/x/providers/...`).
    SubscriptionResource,
    GroupResource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read,
    /// Writes, deletes and actions answered synchronously: Start, then Success.
    Sync,
    /// Long-running operations: Start, then Accept (202).
    Async,
    /// Azure Policy effects, logged as a single record in category Policy.
    Policy,
}

pub(crate) struct Operation {
    pub name: &'static str,
    pub kind: OpKind,
    pub scope: Scope,
    pub provider: &'static str,
    pub resource_type: &'static str,
    pub name_prefix: &'static str,
    /// A child segment (`securityRules/allow-https`) for operations on sub-resources.
    pub child: &'static str,
    /// HTTP status text on success (`OK`, `Created`, `Accepted`).
    pub success_status: &'static str,
}

macro_rules! op {
    ($name:expr, $kind:ident, $scope:ident, $provider:expr, $rtype:expr, $prefix:expr, $child:expr, $status:expr) => {
        Operation {
            name: $name,
            kind: OpKind::$kind,
            scope: Scope::$scope,
            provider: $provider,
            resource_type: $rtype,
            name_prefix: $prefix,
            child: $child,
            success_status: $status,
        }
    };
}

pub(crate) const OP_SUBSCRIPTION_READ: usize = 0;
pub(crate) const OP_RESOURCE_GROUP_READ: usize = 1;
pub(crate) const OP_KEYVAULT_READ: usize = 3;
pub(crate) const OP_VM_START: usize = 8;
pub(crate) const OP_STORAGE_LIST_KEYS: usize = 12;
pub(crate) const OP_ROLE_ASSIGNMENT_WRITE: usize = 20;
pub(crate) const OP_POLICY_DENY: usize = 24;
pub(crate) const OP_POLICY_ASSIGNMENT_WRITE: usize = 26;

pub(crate) static OPERATIONS: &[Operation] = &[
    op!(
        "Microsoft.Resources/subscriptions/read",
        Read,
        Subscription,
        "",
        "",
        "",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        Read,
        ResourceGroup,
        "",
        "",
        "",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Compute/virtualMachines/read",
        Read,
        GroupResource,
        "Microsoft.Compute",
        "virtualMachines",
        "vm",
        "",
        "OK"
    ),
    op!(
        "Microsoft.KeyVault/vaults/read",
        Read,
        GroupResource,
        "Microsoft.KeyVault",
        "vaults",
        "kv",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Storage/storageAccounts/read",
        Read,
        GroupResource,
        "Microsoft.Storage",
        "storageAccounts",
        "st",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        Sync,
        ResourceGroup,
        "",
        "",
        "",
        "",
        "Created"
    ),
    op!(
        "Microsoft.Resources/deployments/write",
        Async,
        GroupResource,
        "Microsoft.Resources",
        "deployments",
        "deploy",
        "",
        "Created"
    ),
    op!(
        "Microsoft.Compute/virtualMachines/write",
        Async,
        GroupResource,
        "Microsoft.Compute",
        "virtualMachines",
        "vm",
        "",
        "Created"
    ),
    op!(
        "Microsoft.Compute/virtualMachines/start/action",
        Async,
        GroupResource,
        "Microsoft.Compute",
        "virtualMachines",
        "vm",
        "",
        "Accepted"
    ),
    op!(
        "Microsoft.Compute/virtualMachines/deallocate/action",
        Async,
        GroupResource,
        "Microsoft.Compute",
        "virtualMachines",
        "vm",
        "",
        "Accepted"
    ),
    op!(
        "Microsoft.Compute/disks/delete",
        Async,
        GroupResource,
        "Microsoft.Compute",
        "disks",
        "disk",
        "",
        "Accepted"
    ),
    op!(
        "Microsoft.Storage/storageAccounts/write",
        Sync,
        GroupResource,
        "Microsoft.Storage",
        "storageAccounts",
        "st",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Storage/storageAccounts/listKeys/action",
        Sync,
        GroupResource,
        "Microsoft.Storage",
        "storageAccounts",
        "st",
        "",
        "OK"
    ),
    op!(
        "Microsoft.KeyVault/vaults/write",
        Sync,
        GroupResource,
        "Microsoft.KeyVault",
        "vaults",
        "kv",
        "",
        "OK"
    ),
    op!(
        "Microsoft.KeyVault/vaults/accessPolicies/write",
        Sync,
        GroupResource,
        "Microsoft.KeyVault",
        "vaults",
        "kv",
        "accessPolicies/add",
        "OK"
    ),
    op!(
        "Microsoft.Network/networkSecurityGroups/write",
        Sync,
        GroupResource,
        "Microsoft.Network",
        "networkSecurityGroups",
        "nsg",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        Sync,
        GroupResource,
        "Microsoft.Network",
        "networkSecurityGroups",
        "nsg",
        "securityRules/allow-https",
        "OK"
    ),
    op!(
        "Microsoft.Network/publicIPAddresses/delete",
        Async,
        GroupResource,
        "Microsoft.Network",
        "publicIPAddresses",
        "pip",
        "",
        "Accepted"
    ),
    op!(
        "Microsoft.Web/sites/write",
        Sync,
        GroupResource,
        "Microsoft.Web",
        "sites",
        "app",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Web/sites/restart/action",
        Sync,
        GroupResource,
        "Microsoft.Web",
        "sites",
        "app",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Authorization/roleAssignments/write",
        Sync,
        SubscriptionResource,
        "Microsoft.Authorization",
        "roleAssignments",
        "",
        "",
        "Created"
    ),
    op!(
        "Microsoft.Authorization/roleAssignments/delete",
        Sync,
        SubscriptionResource,
        "Microsoft.Authorization",
        "roleAssignments",
        "",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Insights/diagnosticSettings/write",
        Sync,
        SubscriptionResource,
        "Microsoft.Insights",
        "diagnosticSettings",
        "diag",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Sql/servers/databases/write",
        Async,
        GroupResource,
        "Microsoft.Sql",
        "servers",
        "sql",
        "databases/appdb",
        "Accepted"
    ),
    op!(
        "Microsoft.Authorization/policies/deny/action",
        Policy,
        GroupResource,
        "Microsoft.Network",
        "publicIPAddresses",
        "pip",
        "",
        "Forbidden"
    ),
    op!(
        "Microsoft.Authorization/policies/audit/action",
        Policy,
        GroupResource,
        "Microsoft.Storage",
        "storageAccounts",
        "st",
        "",
        "OK"
    ),
    op!(
        "Microsoft.Authorization/policyAssignments/write",
        Sync,
        SubscriptionResource,
        "Microsoft.Authorization",
        "policyAssignments",
        "deny-public-ip",
        "",
        "Created"
    ),
];

/// A benign, recurring failure: (operation, HTTP status, ARM error code, weight).
pub(crate) struct BenignFailure {
    pub operation: usize,
    pub status: &'static str,
    pub error_code: &'static str,
    pub message: &'static str,
    pub weight: u32,
}

/// The background's failing operations. The ML job ranks failing operations by rarity, so
/// this set is fixed and the planted attack fails only on operations outside it.
pub(crate) static BENIGN_FAILURES: &[BenignFailure] = &[
    BenignFailure {
        operation: 6,
        status: "BadRequest",
        error_code: "InvalidTemplate",
        message: "Deployment template validation failed: the template parameter 'vmSize' is not valid.",
        weight: 5,
    },
    BenignFailure {
        operation: 6,
        status: "Conflict",
        error_code: "DeploymentActive",
        message: "Unable to edit or replace deployment: previous deployment is still active.",
        weight: 2,
    },
    BenignFailure {
        operation: 7,
        status: "Conflict",
        error_code: "OperationNotAllowed",
        message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
        weight: 3,
    },
    BenignFailure {
        operation: 8,
        status: "Conflict",
        error_code: "OperationNotAllowed",
        message: "Cannot start the virtual machine because it is being updated.",
        weight: 2,
    },
    BenignFailure {
        operation: 10,
        status: "NotFound",
        error_code: "ResourceNotFound",
        message: "The Resource was not found.",
        weight: 2,
    },
    BenignFailure {
        operation: 12,
        status: "Forbidden",
        error_code: "AuthorizationFailed",
        message: "The client does not have authorization to perform action 'Microsoft.Storage/storageAccounts/listKeys/action' over the scope or the scope is invalid.",
        weight: 3,
    },
    BenignFailure {
        operation: 16,
        status: "BadRequest",
        error_code: "SecurityRuleInvalidPortRange",
        message: "Security rule has invalid Port range.",
        weight: 2,
    },
    BenignFailure {
        operation: 17,
        status: "BadRequest",
        error_code: "PublicIPAddressInUse",
        message: "Public IP address can not be deleted since it is still allocated to a resource.",
        weight: 2,
    },
    BenignFailure {
        operation: 18,
        status: "Conflict",
        error_code: "Conflict",
        message: "Website with given name already exists.",
        weight: 2,
    },
    BenignFailure {
        operation: 22,
        status: "BadRequest",
        error_code: "BadRequest",
        message: "Diagnostic settings does not support retention for new diagnostic settings.",
        weight: 1,
    },
    BenignFailure {
        operation: 23,
        status: "Conflict",
        error_code: "ServerBusy",
        message: "The server is busy processing another operation.",
        weight: 1,
    },
    BenignFailure {
        operation: OP_POLICY_DENY,
        status: "Forbidden",
        error_code: "RequestDisallowedByPolicy",
        message: "Resource was disallowed by policy 'Deny public IP addresses'.",
        weight: 3,
    },
];

pub(crate) struct Subscription {
    pub id: String,
    /// Storage account (PT1H.json blobs) or Event Hub, per the subscription's diagnostic setting.
    pub exports_to_storage: bool,
    pub resource_groups: &'static [&'static str],
    pub location: &'static str,
}

const SUBSCRIPTIONS: &[(&str, bool, &[&str], &str)] = &[
    (
        "Contoso Production",
        true,
        &[
            "rg-web-prod",
            "rg-data-prod",
            "rg-network-prod",
            "rg-identity-prod",
            "rg-aks-prod",
        ],
        "westeurope",
    ),
    (
        "Contoso Development",
        false,
        &["rg-web-dev", "rg-data-dev", "rg-sandbox-dev", "rg-ci-dev"],
        "westeurope",
    ),
    (
        "Contoso Shared Services",
        true,
        &[
            "rg-monitoring",
            "rg-backup",
            "rg-hub-network",
            "rg-automation",
        ],
        "northeurope",
    ),
    (
        "Contoso Finance",
        false,
        &["rg-erp-prod", "rg-reporting", "rg-finance-data"],
        "westeurope",
    ),
];

pub(crate) const SUB_PRODUCTION: usize = 0;
pub(crate) const SUB_SHARED: usize = 2;
pub(crate) const SUB_FINANCE: usize = 3;

/// Background callers: (kind, name, usual IP, role, subscriptions, operations, weight).
type CallerSpec = (
    CallerKind,
    &'static str,
    &'static str,
    &'static str,
    &'static [usize],
    &'static [(usize, u32)],
    u32,
);

const CALLERS: &[CallerSpec] = &[
    (
        CallerKind::User,
        "Megan Bowen",
        "198.51.100.24",
        "Website Contributor",
        &[0, 1],
        &[(18, 6), (19, 5), (6, 2), (4, 1)],
        5,
    ),
    (
        CallerKind::User,
        "Alex Wilber",
        "198.51.100.24",
        "Contributor",
        &[0, 1, 2],
        &[(7, 3), (8, 3), (9, 3), (2, 4), (6, 3), (17, 1), (10, 1)],
        6,
    ),
    (
        CallerKind::User,
        "Diego Siciliani",
        "198.51.100.31",
        "Network Contributor",
        &[0, 2],
        &[(15, 3), (16, 4), (17, 2), (5, 1)],
        4,
    ),
    (
        CallerKind::User,
        "Isaiah Langer",
        "203.0.113.77",
        "Owner",
        &[0, 1, 2, 3],
        &[(20, 2), (21, 1), (0, 2), (1, 3), (22, 2), (5, 1)],
        3,
    ),
    (
        CallerKind::User,
        "Lee Gu",
        "198.51.100.31",
        "Contributor",
        &[1],
        &[(6, 4), (7, 2), (18, 3), (11, 2), (12, 1), (23, 1)],
        5,
    ),
    (
        CallerKind::User,
        "Nestor Wilke",
        "203.0.113.77",
        "Key Vault Contributor",
        &[0, 3],
        &[(13, 2), (14, 4), (3, 2)],
        3,
    ),
    (
        CallerKind::User,
        "Pradeep Gupta",
        "198.51.100.24",
        "Contributor",
        &[3],
        &[(23, 2), (11, 2), (4, 2), (6, 2)],
        3,
    ),
    (
        CallerKind::User,
        "Johanna Lorenz",
        "198.51.100.31",
        "Reader",
        &[0, 1],
        &[(0, 1), (1, 3), (2, 3), (4, 2)],
        2,
    ),
    (
        CallerKind::ServicePrincipal,
        "sp-terraform-ci",
        "20.50.2.14",
        "Contributor",
        &[0, 1, 3],
        &[(6, 6), (15, 2), (11, 2), (7, 2), (17, 1), (12, 2)],
        7,
    ),
    (
        CallerKind::ServicePrincipal,
        "sp-azure-devops-release",
        "13.69.98.101",
        "Contributor",
        &[0, 1],
        &[(6, 5), (18, 4), (19, 2), (23, 1)],
        6,
    ),
    (
        CallerKind::ServicePrincipal,
        "sp-backup-orchestrator",
        "51.105.72.9",
        "Backup Contributor",
        &[0, 2, 3],
        &[(2, 4), (10, 2), (12, 2)],
        3,
    ),
    (
        CallerKind::ManagedIdentity,
        "mi-func-orders",
        "20.61.15.200",
        "Storage Account Contributor",
        &[0],
        &[(12, 5), (4, 2)],
        4,
    ),
    (
        CallerKind::ManagedIdentity,
        "mi-aks-agentpool",
        "20.54.120.33",
        "Network Contributor",
        &[0],
        &[(15, 2), (2, 3), (10, 1), (22, 1)],
        4,
    ),
    (
        CallerKind::ManagedIdentity,
        "mi-logic-sync",
        "20.67.3.142",
        "Contributor",
        &[2, 3],
        &[(11, 1), (8, 2), (9, 2), (25, 3)],
        3,
    ),
    // Scenario-only callers follow; background traffic never picks them.
    (
        CallerKind::ManagedIdentity,
        "mi-automation-patching",
        "20.105.208.17",
        "Virtual Machine Contributor",
        &[0, 2],
        &[],
        0,
    ),
];

pub(crate) const CALLER_COMPROMISED_USER: usize = 0;
pub(crate) const CALLER_ADMIN: usize = 3;
pub(crate) const CALLER_TERRAFORM: usize = 8;
pub(crate) const CALLER_AUTOMATION: usize = 14;

const AZURE_PORTAL_APP_ID: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";

pub(crate) struct World {
    pub seed: u64,
    pub tenant_id: String,
    pub jobs: Vec<Job>,
    /// Jobs 0..base_job_count are the first instance of each app; scenarios use those.
    pub subscriptions: Vec<Subscription>,
    pub callers: Vec<Caller>,
    pub directory_users: u64,
}

impl World {
    pub(crate) fn new(seed: u64, scale: u32) -> World {
        let mut rng = stream_rng(seed, "world", 0);
        let tenant_id = new_guid(&mut rng);
        let mut jobs = Vec::new();
        for instance in 0..scale {
            for app in APPS {
                let service_principal_id = new_guid(&mut rng);
                let service_principal_name = if instance == 0 {
                    app.display_name.to_string()
                } else {
                    format!("{} ({})", app.display_name, instance + 1)
                };
                let source_system_id = new_guid(&mut rng);
                let target_system_id = new_guid(&mut rng);
                let object_hex = service_principal_id.replace('-', "");
                for &label in app.jobs {
                    let key = splitmix64(seed ^ (jobs.len() as u64 + 1));
                    jobs.push(Job {
                        app,
                        label,
                        job_id: format!(
                            "{}.{}.{}",
                            app.template_id,
                            object_hex,
                            new_hex32(&mut rng)
                        ),
                        service_principal_id: service_principal_id.clone(),
                        service_principal_name: service_principal_name.clone(),
                        source_system_id: source_system_id.clone(),
                        target_system_id: target_system_id.clone(),
                        cycle_offset: (key % CYCLE_TICKS as u64) as i64,
                        key,
                    });
                }
            }
        }
        let subscriptions = SUBSCRIPTIONS
            .iter()
            .map(
                |&(_display_name, exports_to_storage, resource_groups, location)| Subscription {
                    id: new_guid(&mut rng),
                    exports_to_storage,
                    resource_groups,
                    location,
                },
            )
            .collect();
        let callers = CALLERS
            .iter()
            .map(|spec| make_caller(&mut rng, &tenant_id, spec))
            .collect();
        World {
            seed,
            tenant_id,
            jobs,
            subscriptions,
            callers,
            directory_users: 1500 * u64::from(scale),
        }
    }

    /// Start of cycle `k` of a job: a fixed 40-minute grid per job plus scheduler jitter, both
    /// pure functions so that planted scenario records land in real cycles.
    pub(crate) fn cycle_start(&self, job: usize, window_start: i64, k: i64) -> i64 {
        let key = self.jobs[job].key;
        let jitter =
            splitmix64(key ^ (k as u64).wrapping_mul(0x9e37)) % (CYCLE_JITTER_SECONDS * 1000);
        window_start + self.jobs[job].cycle_offset + k * CYCLE_TICKS + jitter as i64 * 10_000
    }

    pub(crate) fn cycle_id(&self, job: usize, k: i64) -> String {
        let high = splitmix64(self.jobs[job].key ^ (k as u64));
        let low = splitmix64(high ^ self.seed);
        guid_from(high, low)
    }
}

fn make_caller(rng: &mut StreamRng, tenant_id: &str, spec: &CallerSpec) -> Caller {
    let &(kind, name, usual_ip, role, usual_subscriptions, operations, weight) = spec;
    let object_id = new_guid(rng);
    let app_id = match kind {
        CallerKind::User => AZURE_PORTAL_APP_ID.to_string(),
        _ => new_guid(rng),
    };
    let principal_name = match kind {
        CallerKind::User => format!(
            "{}@contoso.com",
            name.to_ascii_lowercase().replace(' ', ".")
        ),
        _ => name.to_string(),
    };
    let mut tail = Vec::with_capacity(1024);
    let issuer = format!("https://sts.windows.net/{tenant_id}/");
    let member =
        |buf: &mut Vec<u8>, key: &str, value: &str| crate::json::member_str(buf, key, value);
    member(&mut tail, "ver", "1.0");
    member(
        &mut tail,
        "http://schemas.microsoft.com/identity/claims/tenantid",
        tenant_id,
    );
    member(
        &mut tail,
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
        &object_id,
    );
    member(&mut tail, "appid", &app_id);
    match kind {
        CallerKind::User => {
            member(&mut tail, "appidacr", "0");
            member(
                &mut tail,
                "http://schemas.microsoft.com/claims/authnmethodsreferences",
                "pwd,mfa",
            );
            member(&mut tail, "name", name);
            member(
                &mut tail,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                &principal_name,
            );
            member(
                &mut tail,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                &principal_name,
            );
            member(
                &mut tail,
                "http://schemas.microsoft.com/identity/claims/scope",
                "user_impersonation",
            );
            member(&mut tail, "idtyp", "user");
        }
        CallerKind::ServicePrincipal | CallerKind::ManagedIdentity => {
            member(&mut tail, "appidacr", "2");
            member(
                &mut tail,
                "http://schemas.microsoft.com/identity/claims/identityprovider",
                &issuer,
            );
            member(
                &mut tail,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
                &object_id,
            );
            member(&mut tail, "idtyp", "app");
            if kind == CallerKind::ManagedIdentity {
                let mirid = format!(
                    "/subscriptions/{}/resourcegroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                    object_id
                );
                member(&mut tail, "xms_mirid", &mirid);
            }
        }
    }
    if tail.last() == Some(&b',') {
        tail.pop();
    }
    Caller {
        kind,
        principal_name,
        principal_id_hex: object_id.replace('-', ""),
        object_id,
        usual_ip,
        role,
        usual_subscriptions,
        operations,
        weight,
        background: weight > 0,
        claims_tail: String::from_utf8_lossy(&tail).into_owned(),
    }
}

/// Activity by hour of day (UTC), mean about 1: the tenant works European office hours.
pub(crate) const DIURNAL: [f64; 24] = [
    0.25, 0.2, 0.2, 0.2, 0.25, 0.35, 0.6, 1.1, 1.7, 1.9, 1.9, 1.8, 1.6, 1.8, 1.9, 1.8, 1.6, 1.2,
    0.8, 0.6, 0.45, 0.35, 0.3, 0.25,
];

/// Weekend days carry about a third of a weekday's human-driven activity.
pub(crate) const WEEKEND_FACTOR: f64 = 0.35;

/// Day of week of a timestamp, 0 = Monday.
pub(crate) fn weekday(ticks: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (ticks.div_euclid(TICKS_PER_DAY) + 3).rem_euclid(7)
}

/// The human-activity multiplier of the hour containing `ticks`.
pub(crate) fn activity_factor(ticks: i64) -> f64 {
    let hour = (ticks.rem_euclid(TICKS_PER_DAY) / crate::json::TICKS_PER_HOUR) as usize;
    let weekend = weekday(ticks) >= 5;
    DIURNAL[hour % 24] * if weekend { WEEKEND_FACTOR } else { 1.0 }
}

/// First and last names for directory users; user `n` gets a stable name from these.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Bianca",
    "Brian",
    "Carlos",
    "Chloe",
    "Daniel",
    "Diego",
    "Elena",
    "Emily",
    "Fatima",
    "Grady",
    "Hannah",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Joni",
    "Johanna",
    "Kenji",
    "Lee",
    "Lidia",
    "Lynne",
    "Mateo",
    "Megan",
    "Miriam",
    "Nestor",
    "Nora",
    "Omar",
    "Patti",
    "Pradeep",
    "Priya",
    "Raul",
    "Sofia",
    "Tomas",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Kowalski",
    "Nakamura",
    "Siciliani",
    "Lorenz",
    "Gupta",
    "Gu",
    "Wilke",
    "Langer",
    "Holt",
    "Sherman",
    "Bowen",
    "Adams",
    "Okafor",
    "Haddad",
    "Rossi",
    "Novak",
    "Jensen",
    "Moreau",
    "Silva",
    "Schmidt",
    "Tanaka",
    "Kaur",
    "Murphy",
    "Cohen",
    "Larsen",
    "Dubois",
    "Costa",
    "Weber",
    "Petrov",
    "Ali",
    "Kim",
    "Brown",
    "Garcia",
    "Meyer",
    "Fischer",
    "Young",
    "Ng",
];

/// Display name and UPN local part of directory user `n`.
pub(crate) fn user_name(n: u64) -> (String, String) {
    let first = FIRST_NAMES[(n % FIRST_NAMES.len() as u64) as usize];
    let last = LAST_NAMES[(n / FIRST_NAMES.len() as u64 % LAST_NAMES.len() as u64) as usize];
    let round = n / (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
    let local = if round == 0 {
        format!(
            "{}.{}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        )
    } else {
        format!(
            "{}.{}{}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            round + 1
        )
    };
    (format!("{first} {last}"), local)
}
