//! Log Analytics table schemas for the tables goshawk ingests.
//!
//! Column names, order and types follow the Azure Monitor Logs table reference (as curated in
//! the shared test corpus, which a test compares against). goshawk appends one column of its own,
//! [`EXTRA_COLUMN`], so that source fields the schema lacks are kept rather than dropped.

use std::sync::Arc;

use arrow_schema::Schema;

use crate::KustoType::{self, *};

/// The dynamic column that holds every source field the table schema has no column for.
pub const EXTRA_COLUMN: &str = "AdditionalFields";

/// A Log Analytics table: its name and columns in the documented order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    pub name: &'static str,
    pub columns: &'static [(&'static str, KustoType)],
}

impl TableSchema {
    /// The documented columns followed by goshawk's [`EXTRA_COLUMN`]: the shape stored in the lake.
    pub fn lake_columns(&self) -> impl Iterator<Item = (&'static str, KustoType)> + '_ {
        self.columns
            .iter()
            .copied()
            .chain(std::iter::once((EXTRA_COLUMN, Dynamic)))
    }

    pub fn lake_arrow_schema(&self) -> Arc<Schema> {
        crate::arrow_schema(self.lake_columns())
    }

    pub fn column_type(&self, column: &str) -> Option<KustoType> {
        self.lake_columns()
            .find(|(name, _)| *name == column)
            .map(|(_, ty)| ty)
    }
}

/// The tables goshawk's ingester writes.
pub fn ingested_tables() -> &'static [TableSchema] {
    TABLES
}

/// Look a table up by name, case-insensitively as Log Analytics does for table names.
pub fn table_schema(name: &str) -> Option<&'static TableSchema> {
    TABLES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

static TABLES: &[TableSchema] = &[
    TableSchema {
        name: "AADProvisioningLogs",
        columns: AADPROVISIONING_LOGS_COLUMNS,
    },
    TableSchema {
        name: "AzureActivity",
        columns: AZURE_ACTIVITY_COLUMNS,
    },
    TableSchema {
        name: "SigninLogs",
        columns: SIGNIN_LOGS_COLUMNS,
    },
    TableSchema {
        name: "AuditLogs",
        columns: AUDIT_LOGS_COLUMNS,
    },
];

const AADPROVISIONING_LOGS_COLUMNS: &[(&str, KustoType)] = &[
    ("AADTenantId", String),
    ("_BilledSize", Real),
    ("Category", String),
    ("ChangeId", String),
    ("CorrelationId", String),
    ("CycleId", String),
    ("DurationMs", Long),
    ("Id", String),
    ("InitiatedBy", String),
    ("_IsBillable", String),
    ("JobId", String),
    ("ModifiedProperties", String),
    ("OperationName", String),
    ("OperationVersion", String),
    ("ProvisioningAction", String),
    ("ProvisioningStatusInfo", String),
    ("ProvisioningSteps", String),
    ("ResultDescription", String),
    ("ResultSignature", String),
    ("ResultType", String),
    ("ServicePrincipal", String),
    ("SourceIdentity", String),
    ("SourceSystem", String),
    ("TargetIdentity", String),
    ("TargetSystem", String),
    ("TenantId", String),
    ("TimeGenerated", DateTime),
    ("Type", String),
    ("Action", String),
    ("StatusInfo", String),
];

const AZURE_ACTIVITY_COLUMNS: &[(&str, KustoType)] = &[
    ("ActivityStatus", String),
    ("ActivityStatusValue", String),
    ("ActivitySubstatus", String),
    ("ActivitySubstatusValue", String),
    ("Authorization", String),
    ("Authorization_d", Dynamic),
    ("_BilledSize", Real),
    ("Caller", String),
    ("CallerIpAddress", String),
    ("Category", String),
    ("CategoryValue", String),
    ("Claims", String),
    ("Claims_d", Dynamic),
    ("CorrelationId", String),
    ("EventDataId", String),
    ("EventSubmissionTimestamp", DateTime),
    ("Hierarchy", String),
    ("HTTPRequest", String),
    ("_IsBillable", String),
    ("Level", String),
    ("OperationId", String),
    ("OperationName", String),
    ("OperationNameValue", String),
    ("Properties", String),
    ("Properties_d", Dynamic),
    ("Resource", String),
    ("ResourceGroup", String),
    ("ResourceId", String),
    ("_ResourceId", String),
    ("ResourceProvider", String),
    ("ResourceProviderValue", String),
    ("SourceSystem", String),
    ("SubscriptionId", String),
    ("_SubscriptionId", String),
    ("TenantId", String),
    ("TimeGenerated", DateTime),
    ("Type", String),
];

const SIGNIN_LOGS_COLUMNS: &[(&str, KustoType)] = &[
    ("AADTenantId", String),
    ("AlternateSignInName", String),
    ("AppDisplayName", String),
    ("AppId", String),
    ("AppliedConditionalAccessPolicies", String),
    ("AppliedEventListeners", Dynamic),
    ("AuthenticationContextClassReferences", String),
    ("AuthenticationDetails", String),
    ("AuthenticationMethodsUsed", String),
    ("AuthenticationProcessingDetails", String),
    ("AuthenticationProtocol", String),
    ("AuthenticationRequirement", String),
    ("AuthenticationRequirementPolicies", String),
    ("AutonomousSystemNumber", String),
    ("_BilledSize", Real),
    ("Category", String),
    ("ClientAppUsed", String),
    ("ConditionalAccessPolicies", Dynamic),
    ("ConditionalAccessStatus", String),
    ("CorrelationId", String),
    ("CreatedDateTime", DateTime),
    ("CrossTenantAccessType", String),
    ("DeviceDetail", Dynamic),
    ("DurationMs", Long),
    ("FlaggedForReview", Bool),
    ("HomeTenantId", String),
    ("Id", String),
    ("Identity", String),
    ("IPAddress", String),
    ("IPAddressFromResourceProvider", String),
    ("_IsBillable", String),
    ("IsInteractive", Bool),
    ("IsRisky", Bool),
    ("Level", String),
    ("Location", String),
    ("LocationDetails", Dynamic),
    ("MfaDetail", Dynamic),
    ("NetworkLocationDetails", String),
    ("OperationName", String),
    ("OperationVersion", String),
    ("OriginalRequestId", String),
    ("ProcessingTimeInMilliseconds", String),
    ("Resource", String),
    ("ResourceDisplayName", String),
    ("ResourceGroup", String),
    ("ResourceId", String),
    ("ResourceIdentity", String),
    ("ResourceProvider", String),
    ("ResourceServicePrincipalId", String),
    ("ResourceTenantId", String),
    ("ResultDescription", String),
    ("ResultSignature", String),
    ("ResultType", String),
    ("RiskDetail", String),
    ("RiskEventTypes", String),
    ("RiskEventTypes_V2", String),
    ("RiskLevel", String),
    ("RiskLevelAggregated", String),
    ("RiskLevelDuringSignIn", String),
    ("RiskState", String),
    ("ServicePrincipalId", String),
    ("ServicePrincipalName", String),
    ("SessionLifetimePolicies", String),
    ("SignInIdentifier", String),
    ("SignInIdentifierType", String),
    ("SourceSystem", String),
    ("Status", Dynamic),
    ("TimeGenerated", DateTime),
    ("TokenIssuerName", String),
    ("TokenIssuerType", String),
    ("Type", String),
    ("UniqueTokenIdentifier", String),
    ("UserAgent", String),
    ("UserDisplayName", String),
    ("UserId", String),
    ("UserPrincipalName", String),
    ("UserType", String),
    ("TenantId", String),
];

const AUDIT_LOGS_COLUMNS: &[(&str, KustoType)] = &[
    ("AADOperationType", String),
    ("AADTenantId", String),
    ("ActivityDateTime", DateTime),
    ("ActivityDisplayName", String),
    ("AdditionalDetails", Dynamic),
    ("_BilledSize", Real),
    ("Category", String),
    ("CorrelationId", String),
    ("DurationMs", Long),
    ("Id", String),
    ("Identity", String),
    ("InitiatedBy", Dynamic),
    ("_IsBillable", String),
    ("Level", String),
    ("Location", String),
    ("LoggedByService", String),
    ("OperationName", String),
    ("OperationVersion", String),
    ("Resource", String),
    ("ResourceGroup", String),
    ("ResourceId", String),
    ("ResourceProvider", String),
    ("Result", String),
    ("ResultDescription", String),
    ("ResultReason", String),
    ("ResultSignature", String),
    ("ResultType", String),
    ("SourceSystem", String),
    ("TargetResources", Dynamic),
    ("TimeGenerated", DateTime),
    ("Type", String),
    ("TenantId", String),
];

#[cfg(test)]
mod tests {
    // The schema tables above glob-import KustoType's variants, one of which is `String`.
    use std::string::String;

    use super::*;

    /// The compiled-in schemas must equal the curated schemas of the shared corpus, column for
    /// column, so that a Sentinel query resolves the same columns here as in Log Analytics.
    #[test]
    fn schemas_match_the_curated_corpus_schemas() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/schemas");
        assert!(
            dir.is_dir(),
            "the shared corpus is missing at {}",
            dir.display()
        );
        for table in ingested_tables() {
            let path = dir.join(format!("{}.json", table.name));
            let text = std::fs::read_to_string(&path).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let expected: Vec<(String, String)> = json["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["type"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let actual: Vec<(String, String)> = table
                .columns
                .iter()
                .map(|(n, t)| (n.to_string(), t.name().to_string()))
                .collect();
            assert_eq!(actual, expected, "{}", table.name);
        }
    }

    #[test]
    fn lake_schema_appends_the_extra_column() {
        let t = table_schema("aadprovisioninglogs").unwrap();
        assert_eq!(t.name, "AADProvisioningLogs");
        let schema = t.lake_arrow_schema();
        assert_eq!(schema.fields().len(), t.columns.len() + 1);
        assert_eq!(t.column_type(EXTRA_COLUMN), Some(Dynamic));
        assert_eq!(t.column_type("TimeGenerated"), Some(DateTime));
    }
}
