//! Recognises the source shape of a JSON record and maps it onto a Log Analytics table row.
//! The field-by-field mapping of every shape is documented in docs/ingest.md; keep the two in
//! step.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::convert::Cell;
use crate::jsonref::{JsonRef, ObjectRef};
use crate::row::{ColumnIndex, Row, RowBuilder, TableIndex, Tables};

/// The source shapes goshawk recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Azure Monitor diagnostic-settings record (Event Hub message, storage `PT1H.json`).
    DiagnosticRecord,
    /// ARM REST activity event (`az monitor activity-log list`, `/eventtypes/management/values`).
    ArmActivityEvent,
    /// Microsoft Graph `provisioningObjectSummary` (`/auditLogs/provisioning`).
    GraphProvisioning,
    /// Microsoft Graph `signIn` (`/auditLogs/signIns`).
    GraphSignIn,
    /// Microsoft Graph `directoryAudit` (`/auditLogs/directoryAudits`).
    GraphDirectoryAudit,
    /// A Log Analytics row (query export as JSON or CSV): columns by name.
    LogAnalyticsRow,
}

/// Diagnostic categories of the Azure Activity log, current and legacy (`Write`, `Action`,
/// `Delete` appear in older Event Hub exports).
const ACTIVITY_CATEGORIES: &[&str] = &[
    "Administrative",
    "Policy",
    "Security",
    "ServiceHealth",
    "Alert",
    "Recommendation",
    "Autoscale",
    "ResourceHealth",
    "Write",
    "Action",
    "Delete",
];

/// A record mapped to a table.
#[derive(Debug)]
pub struct Mapped<'t, 'a> {
    pub table: &'t TableIndex,
    pub shape: Shape,
    pub row: Row<'a>,
}

/// Maps one JSON record. `forced` is the `--table` choice: used when the content does not say
/// which table the record belongs to, and a record whose content says otherwise is refused.
pub fn map_record<'t>(
    value: Value,
    tables: &'t Tables,
    forced: Option<&'t TableIndex>,
) -> Result<Mapped<'t, 'static>, String> {
    let Value::Object(mut record) = value else {
        return Err(format!("expected a JSON object, found {}", kind_of(&value)));
    };
    let (shape, table_name) = classify(&record, forced)?;
    let table = tables
        .get(&table_name)
        .ok_or_else(|| format!("table {table_name} is not one goshawk stores (AADProvisioningLogs, AzureActivity, SigninLogs, AuditLogs)"))?;
    if let Some(forced) = forced
        && forced.name() != table.name()
    {
        return Err(format!(
            "the record is a {} record but --table says {}",
            table.name(),
            forced.name()
        ));
    }
    let mut row = RowBuilder::new(table);
    let fallbacks: &[&str] = match shape {
        Shape::DiagnosticRecord => {
            diagnostic(&mut row, &mut record)?;
            &[]
        }
        Shape::ArmActivityEvent => {
            arm_activity(&mut row, &mut record)?;
            &[]
        }
        Shape::GraphProvisioning => {
            graph_provisioning(&mut row, &mut record)?;
            &[]
        }
        Shape::GraphSignIn => {
            graph_sign_in(&mut row, &mut record)?;
            &[]
        }
        Shape::GraphDirectoryAudit => {
            graph_directory_audit(&mut row, &mut record)?;
            &[]
        }
        Shape::LogAnalyticsRow => {
            record.remove("$table");
            &[
                "EventSubmissionTimestamp",
                "CreatedDateTime",
                "ActivityDateTime",
            ]
        }
    };
    row.set_by_name(record)?;
    Ok(Mapped {
        table,
        shape,
        row: row.finish(fallbacks)?,
    })
}

/// [`map_record`] of a borrowed JSON record. Azure Activity diagnostic records, by far the
/// most numerous (every Event Hub message and `PT1H.json` blob of the Activity log), are mapped
/// straight from the borrowed tree; every other shape goes through `Value`. Both give the same
/// row, which `tests::borrowed_mapping_matches_value_mapping` checks on the corpus samples.
pub fn map_record_ref<'t, 'a>(
    value: JsonRef<'a>,
    tables: &'t Tables,
    forced: Option<&'t TableIndex>,
) -> Result<Mapped<'t, 'a>, String> {
    let JsonRef::Object(mut record) = value else {
        return map_record(value.into_value(), tables, forced);
    };
    let activity_table = tables
        .get("AzureActivity")
        .filter(|table| forced.is_none_or(|f| f.name() == table.name()));
    let (table, columns) = match (activity_table, tables.activity_columns()) {
        (Some(table), Some(columns)) if is_activity_diagnostic(&record) => (table, columns),
        _ => return map_record(Value::Object(record.into_map()), tables, forced),
    };
    let mut row = RowBuilder::new(table);
    check_envelope_types_ref(&record)?;
    diagnostic_activity_ref(&mut row, columns, &mut record)?;
    row.set_by_name_ref(record)?;
    Ok(Mapped {
        table,
        shape: Shape::DiagnosticRecord,
        row: row.finish(&[])?,
    })
}

/// `classify`'s test for an Activity log diagnostic record.
fn is_activity_diagnostic(record: &ObjectRef) -> bool {
    record
        .get("category")
        .and_then(JsonRef::as_str)
        .is_some_and(|category| {
            ACTIVITY_CATEGORIES
                .iter()
                .any(|c| c.eq_ignore_ascii_case(category))
        })
        && (record.contains_key("time") || record.contains_key("resourceId"))
}

fn check_envelope_types_ref(record: &ObjectRef) -> Result<(), String> {
    for key in STRING_ENVELOPE_FIELDS {
        if let Some(value) = record.get(key)
            && !matches!(value, JsonRef::Str(_) | JsonRef::Null)
        {
            return Err(format!("{key} is {}, not a string", value.kind()));
        }
    }
    Ok(())
}

/// The first of `names` that holds a string with something other than whitespace.
fn claim_ref<'r, 'a>(claims: &'r ObjectRef<'a>, names: &[&str]) -> Option<&'r JsonRef<'a>> {
    names.iter().find_map(|name| {
        claims
            .get(name)
            .filter(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
    })
}

/// Declares a struct of column indexes, one per listed column, looked up in a table once.
macro_rules! column_indexes {
    ($(#[$doc:meta])* $name:ident { $($field:ident = $column:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            $($field: ColumnIndex,)*
        }

        impl $name {
            /// `None` when the table lacks one of the columns.
            pub fn new(table: &TableIndex) -> Option<Self> {
                Some($name {
                    $($field: ColumnIndex(table.column($column)?),)*
                })
            }
        }
    };
}

column_indexes! {
    /// The AzureActivity columns [`diagnostic_activity_ref`] writes: the Activity log is most
    /// of what is ingested, and looking each column up by name was a twentieth of the time.
    ActivityColumns {
        time_generated = "TimeGenerated",
        operation_name_value = "OperationNameValue",
        operation_name = "OperationName",
        category_value = "CategoryValue",
        category = "Category",
        activity_status_value = "ActivityStatusValue",
        activity_status = "ActivityStatus",
        caller_ip_address = "CallerIpAddress",
        correlation_id = "CorrelationId",
        level = "Level",
        event_data_id = "EventDataId",
        operation_id = "OperationId",
        activity_substatus_value = "ActivitySubstatusValue",
        activity_substatus = "ActivitySubstatus",
        hierarchy = "Hierarchy",
        event_submission_timestamp = "EventSubmissionTimestamp",
        properties = "Properties",
        properties_d = "Properties_d",
        caller = "Caller",
        tenant_id = "TenantId",
        claims = "Claims",
        claims_d = "Claims_d",
        authorization = "Authorization",
        authorization_d = "Authorization_d",
        resource_id = "ResourceId",
        resource_id_lower = "_ResourceId",
        subscription_id = "SubscriptionId",
        subscription_id_lower = "_SubscriptionId",
        resource_group = "ResourceGroup",
        resource = "Resource",
        resource_provider_value = "ResourceProviderValue",
        resource_provider = "ResourceProvider",
        source_system = "SourceSystem",
    }
}

fn resource_columns_ref<'a>(
    row: &mut RowBuilder<'_, 'a>,
    columns: &ActivityColumns,
    resource_id: &JsonRef<'a>,
) -> Result<(), String> {
    row.set_ref(columns.resource_id, resource_id)?;
    match resource_id {
        // The parts are slices of the record's text: the row borrows them.
        JsonRef::Str(Cow::Borrowed(text)) => {
            resource_parts(row, columns, text, RowBuilder::set_borrowed)
        }
        JsonRef::Str(Cow::Owned(text)) => {
            resource_parts(row, columns, text, |row, column, part| {
                row.set_str(column, part)
            })
        }
        _ => Ok(()),
    }
}

/// The columns parsed out of a resource id, stored with `set` (borrowing or copying).
fn resource_parts<'t, 'a, 's>(
    row: &mut RowBuilder<'t, 'a>,
    columns: &ActivityColumns,
    text: &'s str,
    set: impl Fn(&mut RowBuilder<'t, 'a>, ColumnIndex, &'s str) -> Result<(), String>,
) -> Result<(), String> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        row.set_string(columns.resource_id_lower, text.to_ascii_lowercase())?;
    } else {
        set(row, columns.resource_id_lower, text)?;
    }
    let parts = parse_resource_id(text);
    if let Some(subscription) = parts.subscription {
        set(row, columns.subscription_id, subscription)?;
        set(row, columns.subscription_id_lower, subscription)?;
    }
    for (column, part) in [
        (columns.resource_group, parts.resource_group),
        (columns.resource, parts.resource),
        (columns.resource_provider_value, parts.provider),
        (columns.resource_provider, parts.provider),
    ] {
        if let Some(part) = part
            && !row.is_set(column)
        {
            set(row, column, part)?;
        }
    }
    Ok(())
}

fn set_json_twins_ref<'a>(
    row: &mut RowBuilder<'_, 'a>,
    text_column: ColumnIndex,
    dynamic_column: ColumnIndex,
    value: JsonRef<'a>,
) -> Result<(), String> {
    if value.is_container() {
        row.set_value(text_column, value)?;
        return row.copy_if_unset_any(text_column, dynamic_column);
    }
    row.set_ref(text_column, &value)?;
    row.set_ref(dynamic_column, &value)
}

/// `diagnostic_activity` on a borrowed record, step for step (the order of removals matters:
/// it decides the order of the members left for `AdditionalFields`).
fn diagnostic_activity_ref<'a>(
    row: &mut RowBuilder<'_, 'a>,
    c: &ActivityColumns,
    record: &mut ObjectRef<'a>,
) -> Result<(), String> {
    if let Some(time) = record.remove("time") {
        row.set_ref(c.time_generated, &time)?;
    }
    if let Some(operation) = record.remove("operationName") {
        row.set_ref(c.operation_name_value, &operation)?;
        row.set_ref(c.operation_name, &operation)?;
    }
    if let Some(category) = record.remove("category") {
        row.set_ref(c.category_value, &category)?;
        row.set_ref(c.category, &category)?;
    }
    if let Some(result) = record.remove("resultType") {
        row.set_ref(c.activity_status_value, &result)?;
        row.set_ref(c.activity_status, &result)?;
    }
    for (key, column) in [
        ("callerIpAddress", c.caller_ip_address),
        ("correlationId", c.correlation_id),
        ("level", c.level),
        ("eventDataId", c.event_data_id),
        ("operationId", c.operation_id),
    ] {
        if let Some(value) = record.remove(key) {
            row.set_ref(column, &value)?;
        }
    }
    if let Some(properties) = record.remove("properties") {
        if let JsonRef::Object(props) = &properties {
            if let Some(status) = props.get("statusCode") {
                row.set_ref(c.activity_substatus_value, status)?;
                row.set_ref(c.activity_substatus, status)?;
            }
            if let Some(hierarchy) = props.get("hierarchy") {
                row.set_ref(c.hierarchy, hierarchy)?;
            }
            if let Some(submitted) = props.get("eventSubmissionTimestamp") {
                row.set_ref(c.event_submission_timestamp, submitted)?;
            }
        }
        set_json_twins_ref(row, c.properties, c.properties_d, properties)?;
    }
    if let Some(signature) = record.get("resultSignature").and_then(JsonRef::as_str)
        && let Some((_, status)) = signature.split_once('.')
    {
        row.set_default_str(c.activity_substatus_value, status)?;
        row.set_default_str(c.activity_substatus, status)?;
    }
    let identity = match record.remove("identity") {
        Some(JsonRef::Object(identity)) => Some(identity),
        Some(other) => {
            row.keep_extra_ref(Cow::Borrowed("identity"), other);
            None
        }
        None => None,
    };
    if let Some(mut identity) = identity {
        if let Some(claims) = identity.remove("claims") {
            if let JsonRef::Object(claims_map) = &claims {
                let caller = claim_ref(claims_map, UPN_CLAIMS)
                    .or_else(|| claim_ref(claims_map, NAME_CLAIMS))
                    .or_else(|| claim_ref(claims_map, APPID_CLAIMS))
                    .or_else(|| claim_ref(claims_map, OBJECTID_CLAIMS));
                if let Some(caller) = caller {
                    match caller.as_borrowed_str() {
                        Some(text) => row.set_borrowed(c.caller, text.trim())?,
                        None => {
                            row.set_str(c.caller, caller.as_str().unwrap_or_default().trim())?
                        }
                    }
                }
                if let Some(tenant) = claim_ref(claims_map, TENANT_CLAIMS) {
                    row.set_ref(c.tenant_id, tenant)?;
                }
            }
            set_json_twins_ref(row, c.claims, c.claims_d, claims)?;
        }
        if let Some(authorization) = identity.remove("authorization") {
            set_json_twins_ref(row, c.authorization, c.authorization_d, authorization)?;
        }
        if !identity.is_empty() {
            row.keep_extra_ref(Cow::Borrowed("identity"), JsonRef::Object(identity));
        }
    }
    if let Some(tenant) = record.remove("tenantId") {
        row.set_ref(c.tenant_id, &tenant)?;
    }
    if let Some(resource_id) = record.remove("resourceId") {
        resource_columns_ref(row, c, &resource_id)?;
    }
    row.copy_if_unset(c.time_generated, c.event_submission_timestamp)?;
    row.set_borrowed(c.source_system, "Azure")?;
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn str_field<'a>(record: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

fn classify(
    record: &Map<String, Value>,
    forced: Option<&TableIndex>,
) -> Result<(Shape, String), String> {
    let has = |key: &str| record.contains_key(key);
    if let Some(category) = str_field(record, "category")
        && (has("time") || has("resourceId"))
    {
        let table = if category.eq_ignore_ascii_case("ProvisioningLogs") {
            "AADProvisioningLogs"
        } else if category.eq_ignore_ascii_case("SignInLogs") {
            "SigninLogs"
        } else if category.eq_ignore_ascii_case("AuditLogs") {
            "AuditLogs"
        } else if ACTIVITY_CATEGORIES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(category))
        {
            "AzureActivity"
        } else {
            return Err(format!(
                "diagnostic category '{category}' is not one goshawk stores (ProvisioningLogs, SignInLogs, AuditLogs, and the Activity log categories)"
            ));
        };
        return Ok((Shape::DiagnosticRecord, table.to_string()));
    }
    if has("eventTimestamp") && record.get("operationName").is_some_and(Value::is_object) {
        return Ok((Shape::ArmActivityEvent, "AzureActivity".to_string()));
    }
    if has("activityDateTime") && (has("provisioningAction") || (has("jobId") && has("cycleId"))) {
        return Ok((Shape::GraphProvisioning, "AADProvisioningLogs".to_string()));
    }
    if has("createdDateTime")
        && has("status")
        && (has("userPrincipalName") || has("appDisplayName"))
    {
        return Ok((Shape::GraphSignIn, "SigninLogs".to_string()));
    }
    if has("activityDateTime") && has("activityDisplayName") {
        return Ok((Shape::GraphDirectoryAudit, "AuditLogs".to_string()));
    }
    for key in ["$table", "Type"] {
        if let Some(name) = str_field(record, key).filter(|n| !n.is_empty()) {
            // The Sentinel training lab uploads exports to `<Table>_CL` custom tables.
            let name = name.strip_suffix("_CL").unwrap_or(name);
            return Ok((Shape::LogAnalyticsRow, name.to_string()));
        }
    }
    if let Some(forced) = forced {
        return Ok((Shape::LogAnalyticsRow, forced.name().to_string()));
    }
    Err("cannot tell which table this record belongs to (no known source shape and no Type column); use --table".to_string())
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}[/...]`.
#[derive(Debug, Default, PartialEq)]
pub struct ResourceIdParts<'a> {
    pub subscription: Option<&'a str>,
    pub resource_group: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub resource: Option<&'a str>,
}

pub fn parse_resource_id(resource_id: &str) -> ResourceIdParts<'_> {
    // One pass without collecting the segments (this runs for every Activity record): each
    // name takes the segment after its first (case-insensitive) occurrence, as a lookup of
    // the first position would.
    const NAMES: [&str; 3] = ["subscriptions", "resourceGroups", "providers"];
    let mut values: [Option<&str>; 3] = [None; 3];
    let mut seen = [false; 3];
    let mut pending = [false; 3];
    let mut last = None;
    for segment in resource_id.split('/').filter(|s| !s.is_empty()) {
        for i in 0..NAMES.len() {
            if pending[i] {
                values[i] = Some(segment);
                pending[i] = false;
            } else if !seen[i] && segment.eq_ignore_ascii_case(NAMES[i]) {
                seen[i] = true;
                pending[i] = true;
            }
        }
        last = Some(segment);
    }
    let [subscription, resource_group, provider] = values;
    ResourceIdParts {
        subscription,
        resource_group,
        provider,
        resource: if provider.is_some() || resource_group.is_some() {
            last
        } else {
            None
        },
    }
}

/// Common Azure Monitor envelope fields of a diagnostic record, then the payload by category.
fn diagnostic(row: &mut RowBuilder, record: &mut Map<String, Value>) -> Result<(), String> {
    check_envelope_types(record)?;
    match row.table.name() {
        "AzureActivity" => diagnostic_activity(row, record),
        "AADProvisioningLogs" => {
            diagnostic_entra(row, record)?;
            if let Some(mut payload) = payload_object(record)? {
                graph_provisioning(row, &mut payload)?;
                row.set_by_name(payload)?;
            }
            Ok(())
        }
        "SigninLogs" => {
            diagnostic_entra(row, record)?;
            if let Some(ip) = record.remove("callerIpAddress") {
                row.set("IPAddress", &ip)?;
            }
            if let Some(mut payload) = payload_object(record)? {
                graph_sign_in(row, &mut payload)?;
                row.set_by_name(payload)?;
            }
            Ok(())
        }
        _ => {
            diagnostic_entra(row, record)?;
            if let Some(mut payload) = payload_object(record)? {
                graph_directory_audit(row, &mut payload)?;
                row.set_by_name(payload)?;
            }
            Ok(())
        }
    }
}

/// The `properties` payload of an Entra ID diagnostic record, which must be an object.
fn payload_object(record: &mut Map<String, Value>) -> Result<Option<Map<String, Value>>, String> {
    match record.remove("properties") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(payload)) => Ok(Some(payload)),
        Some(other) => Err(format!(
            "properties is {}, not the object Azure writes",
            kind_of(&other)
        )),
    }
}

/// Fields that Azure always writes as strings; any other JSON type means the record is not
/// what it claims to be.
const STRING_ENVELOPE_FIELDS: &[&str] = &[
    "time",
    "resourceId",
    "operationName",
    "category",
    "resultType",
    "resultSignature",
    "correlationId",
    "callerIpAddress",
];

fn check_envelope_types(record: &Map<String, Value>) -> Result<(), String> {
    for key in STRING_ENVELOPE_FIELDS {
        if let Some(value) = record.get(*key)
            && !(value.is_string() || value.is_null())
        {
            return Err(format!("{key} is {}, not a string", kind_of(value)));
        }
    }
    Ok(())
}

/// Envelope fields of Entra ID diagnostic records; they take precedence over the payload's.
fn diagnostic_entra(row: &mut RowBuilder, record: &mut Map<String, Value>) -> Result<(), String> {
    let pairs = [
        ("time", "TimeGenerated"),
        ("operationName", "OperationName"),
        ("operationVersion", "OperationVersion"),
        ("category", "Category"),
        ("resultType", "ResultType"),
        ("resultSignature", "ResultSignature"),
        ("resultDescription", "ResultDescription"),
        ("durationMs", "DurationMs"),
        ("correlationId", "CorrelationId"),
        ("level", "Level"),
        ("location", "Location"),
        ("resourceId", "ResourceId"),
    ];
    for (key, column) in pairs {
        if row.table.column(column).is_none() {
            continue;
        }
        if let Some(value) = record.remove(key) {
            row.set(column, &value)?;
        }
    }
    if let Some(value) = record.remove("identity") {
        if row.table.column("Identity").is_some() {
            row.set("Identity", &value)?;
        } else {
            row.keep_extra("identity".to_string(), value);
        }
    }
    if let Some(tenant) = record.remove("tenantId") {
        row.set("TenantId", &tenant)?;
        if row.table.column("AADTenantId").is_some() {
            row.set("AADTenantId", &tenant)?;
        }
    }
    row.set_text("SourceSystem", "Azure AD")
}

fn claim<'a>(claims: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| {
        claims
            .get(*name)
            .filter(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
    })
}

const UPN_CLAIMS: &[&str] = &[
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
];
const NAME_CLAIMS: &[&str] = &[
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "unique_name",
];
const APPID_CLAIMS: &[&str] = &["appid", "azp"];
const OBJECTID_CLAIMS: &[&str] = &[
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
];
const TENANT_CLAIMS: &[&str] = &[
    "http://schemas.microsoft.com/identity/claims/tenantid",
    "tid",
];

fn trimmed(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.trim().to_string()),
        other => other.clone(),
    }
}

/// Fills the columns derived from an ARM resource id.
fn resource_columns(row: &mut RowBuilder, resource_id: &Value) -> Result<(), String> {
    row.set("ResourceId", resource_id)?;
    let Some(text) = resource_id.as_str() else {
        return Ok(());
    };
    row.set_text("_ResourceId", &text.to_ascii_lowercase())?;
    let parts = parse_resource_id(text);
    if let Some(subscription) = parts.subscription {
        row.set_text("SubscriptionId", subscription)?;
        row.set_text("_SubscriptionId", subscription)?;
    }
    if let Some(group) = parts.resource_group {
        row.set_default("ResourceGroup", &Value::String(group.to_string()))?;
    }
    if let Some(resource) = parts.resource {
        row.set_default("Resource", &Value::String(resource.to_string()))?;
    }
    if let Some(provider) = parts.provider {
        row.set_default(
            "ResourceProviderValue",
            &Value::String(provider.to_string()),
        )?;
        row.set_default("ResourceProvider", &Value::String(provider.to_string()))?;
    }
    Ok(())
}

fn set_json_twins(
    row: &mut RowBuilder,
    text_column: &str,
    dynamic_column: &str,
    value: &Value,
) -> Result<(), String> {
    row.set(text_column, value)?;
    if value.is_object() || value.is_array() {
        // Both columns hold the same compact text: serialise once.
        return row.copy_if_unset_any(text_column, dynamic_column);
    }
    row.set(dynamic_column, value)
}

/// Activity log diagnostic record -> AzureActivity, following Azure Monitor's own mapping.
fn diagnostic_activity(
    row: &mut RowBuilder,
    record: &mut Map<String, Value>,
) -> Result<(), String> {
    if let Some(time) = record.remove("time") {
        row.set("TimeGenerated", &time)?;
    }
    if let Some(operation) = record.remove("operationName") {
        row.set("OperationNameValue", &operation)?;
        row.set("OperationName", &operation)?;
    }
    if let Some(category) = record.remove("category") {
        row.set("CategoryValue", &category)?;
        row.set("Category", &category)?;
    }
    if let Some(result) = record.remove("resultType") {
        row.set("ActivityStatusValue", &result)?;
        row.set("ActivityStatus", &result)?;
    }
    for (key, column) in [
        ("callerIpAddress", "CallerIpAddress"),
        ("correlationId", "CorrelationId"),
        ("level", "Level"),
        ("eventDataId", "EventDataId"),
        ("operationId", "OperationId"),
    ] {
        if let Some(value) = record.remove(key) {
            row.set(column, &value)?;
        }
    }
    if let Some(properties) = record.remove("properties") {
        if let Value::Object(props) = &properties {
            if let Some(status) = props.get("statusCode") {
                row.set("ActivitySubstatusValue", status)?;
                row.set("ActivitySubstatus", status)?;
            }
            if let Some(hierarchy) = props.get("hierarchy") {
                row.set("Hierarchy", hierarchy)?;
            }
            if let Some(submitted) = props.get("eventSubmissionTimestamp") {
                row.set("EventSubmissionTimestamp", submitted)?;
            }
        }
        set_json_twins(row, "Properties", "Properties_d", &properties)?;
    }
    if let Some(signature) = record.get("resultSignature").and_then(Value::as_str) {
        // "Succeeded.Created" / "Failed.NotFound": the part after the dot is the HTTP status
        // name that Azure Monitor puts in ActivitySubstatusValue when properties lack statusCode.
        if let Some((_, status)) = signature.split_once('.') {
            let status = Value::String(status.to_string());
            row.set_default("ActivitySubstatusValue", &status)?;
            row.set_default("ActivitySubstatus", &status)?;
        }
    }
    let identity = match record.remove("identity") {
        Some(Value::Object(identity)) => Some(identity),
        Some(other) => {
            row.keep_extra("identity".to_string(), other);
            None
        }
        None => None,
    };
    if let Some(mut identity) = identity {
        if let Some(claims) = identity.remove("claims") {
            if let Value::Object(claims_map) = &claims {
                let caller = claim(claims_map, UPN_CLAIMS)
                    .or_else(|| claim(claims_map, NAME_CLAIMS))
                    .or_else(|| claim(claims_map, APPID_CLAIMS))
                    .or_else(|| claim(claims_map, OBJECTID_CLAIMS));
                if let Some(caller) = caller {
                    row.set("Caller", &trimmed(caller))?;
                }
                if let Some(tenant) = claim(claims_map, TENANT_CLAIMS) {
                    row.set("TenantId", tenant)?;
                }
            }
            set_json_twins(row, "Claims", "Claims_d", &claims)?;
        }
        if let Some(authorization) = identity.remove("authorization") {
            set_json_twins(row, "Authorization", "Authorization_d", &authorization)?;
        }
        if !identity.is_empty() {
            row.keep_extra("identity".to_string(), Value::Object(identity));
        }
    }
    if let Some(tenant) = record.remove("tenantId") {
        row.set("TenantId", &tenant)?;
    }
    if let Some(resource_id) = record.remove("resourceId") {
        resource_columns(row, &resource_id)?;
    }
    // Diagnostic records carry one time; Azure Monitor's submission time is the same moment
    // give or take seconds, and queries expect the column filled.
    row.copy_if_unset("TimeGenerated", "EventSubmissionTimestamp")?;
    row.set_text("SourceSystem", "Azure")?;
    // resultSignature, durationMs, location, resultDescription and envelope extras
    // (RoleLocation, Stamp, ReleaseVersion, ...) have no AzureActivity column: AdditionalFields.
    Ok(())
}

/// The `{ "value": ..., "localizedValue": ... }` pairs of ARM REST events.
fn localized(
    row: &mut RowBuilder,
    value: Option<Value>,
    value_column: &str,
    text_column: &str,
) -> Result<(), String> {
    match value {
        Some(Value::Object(mut pair)) => {
            if let Some(v) = pair.remove("value") {
                row.set(value_column, &v)?;
            }
            if let Some(text) = pair.remove("localizedValue") {
                row.set(text_column, &text)?;
            }
            if !pair.is_empty() {
                row.keep_extra(value_column.to_string(), Value::Object(pair));
            }
            Ok(())
        }
        Some(Value::Null) | None => Ok(()),
        Some(other) => {
            row.set(value_column, &other)?;
            row.set(text_column, &other)
        }
    }
}

/// ARM REST activity event -> AzureActivity.
fn arm_activity(row: &mut RowBuilder, record: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(time) = record.remove("eventTimestamp") {
        row.set("TimeGenerated", &time)?;
    }
    if let Some(submitted) = record.remove("submissionTimestamp") {
        row.set("EventSubmissionTimestamp", &submitted)?;
    }
    localized(
        row,
        record.remove("operationName"),
        "OperationNameValue",
        "OperationName",
    )?;
    localized(row, record.remove("category"), "CategoryValue", "Category")?;
    localized(
        row,
        record.remove("status"),
        "ActivityStatusValue",
        "ActivityStatus",
    )?;
    // ARM reports Succeeded/Failed/Started/Accepted; the table (like the diagnostic records'
    // resultType) has Success/Failure/Start/Accept, which is what queries compare with. The ARM
    // spelling stays in ActivityStatus.
    if let Some(Cell::Str(status)) = row.cell("ActivityStatusValue") {
        let table_value = match status.as_ref() {
            "Succeeded" => Some("Success"),
            "Failed" => Some("Failure"),
            "Started" => Some("Start"),
            "Accepted" => Some("Accept"),
            _ => None,
        };
        if let Some(table_value) = table_value {
            if !row.is_set("ActivityStatus") {
                row.set_text("ActivityStatus", &status)?;
            }
            row.set_text("ActivityStatusValue", table_value)?;
        }
    }
    localized(
        row,
        record.remove("subStatus"),
        "ActivitySubstatusValue",
        "ActivitySubstatus",
    )?;
    localized(
        row,
        record.remove("resourceProviderName"),
        "ResourceProviderValue",
        "ResourceProvider",
    )?;
    if let Some(claims) = record.remove("claims") {
        set_json_twins(row, "Claims", "Claims_d", &claims)?;
    }
    if let Some(authorization) = record.remove("authorization") {
        set_json_twins(row, "Authorization", "Authorization_d", &authorization)?;
    }
    if let Some(properties) = record.remove("properties") {
        if let Some(hierarchy) = properties.get("hierarchy") {
            row.set("Hierarchy", hierarchy)?;
        }
        set_json_twins(row, "Properties", "Properties_d", &properties)?;
    }
    if let Some(http) = record.remove("httpRequest") {
        if let Some(ip) = http.get("clientIpAddress") {
            row.set("CallerIpAddress", ip)?;
        }
        row.set("HTTPRequest", &http)?;
    }
    if let Some(group) = record.remove("resourceGroupName") {
        row.set("ResourceGroup", &group)?;
    }
    if let Some(resource_id) = record.remove("resourceId") {
        resource_columns(row, &resource_id)?;
    }
    for (key, column) in [
        ("caller", "Caller"),
        ("correlationId", "CorrelationId"),
        ("eventDataId", "EventDataId"),
        ("operationId", "OperationId"),
        ("level", "Level"),
        ("tenantId", "TenantId"),
    ] {
        if let Some(value) = record.remove(key) {
            row.set(column, &value)?;
        }
    }
    if let Some(subscription) = record.remove("subscriptionId") {
        row.set("SubscriptionId", &subscription)?;
        row.set("_SubscriptionId", &subscription)?;
    }
    row.set_text("SourceSystem", "Azure")
}

/// Graph `provisioningAction` (camelCase enum) as the PascalCase `Action` column values
/// Microsoft's queries compare with (`Create`, `Update`, `Delete`, `StagedDelete`, ...).
fn pascal_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Graph provisioningObjectSummary -> AADProvisioningLogs. Also maps the `properties` payload of
/// ProvisioningLogs diagnostic records, whose envelope fields were set first and win.
fn graph_provisioning(row: &mut RowBuilder, record: &mut Map<String, Value>) -> Result<(), String> {
    for key in [
        "servicePrincipal",
        "initiatedBy",
        "sourceIdentity",
        "targetIdentity",
        "targetSystem",
    ] {
        if let Some(Value::Object(object)) = record.get_mut(key) {
            log_analytics_identity_keys(object);
        }
    }
    if let Some(time) = record.remove("activityDateTime") {
        row.set_default("TimeGenerated", &time)?;
        row.keep_extra("activityDateTime".to_string(), time);
    }
    if let Some(tenant) = record.remove("tenantId") {
        row.set_default("AADTenantId", &tenant)?;
        row.set_default("TenantId", &tenant)?;
    }
    if let Some(duration) = record.remove("durationInMilliseconds") {
        row.set_default("DurationMs", &duration)?;
    }
    if let Some(action) = record.remove("provisioningAction") {
        if let Some(text) = action.as_str() {
            row.set_default("Action", &Value::String(pascal_case(text)))?;
        }
        row.set_default("ProvisioningAction", &action)?;
    }
    if let Some(status) = record.remove("provisioningStatusInfo") {
        if !(status.is_object() || status.is_null()) {
            return Err(format!(
                "provisioningStatusInfo is {}, not an object",
                kind_of(&status)
            ));
        }
        if let Some(result) = status.get("status").and_then(Value::as_str) {
            // Graph spells the status in lower case; the table has Success/Failure/Skipped.
            row.set_default("ResultType", &Value::String(pascal_case(result)))?;
        }
        if let Some(error) = status.get("errorInformation").filter(|e| e.is_object()) {
            if let Some(code) = error.get("errorCode").filter(|c| !c.is_null()) {
                row.set_default("ResultSignature", code)?;
            }
            if let Some(reason) = error.get("reason").filter(|c| !c.is_null()) {
                row.set_default("ResultDescription", reason)?;
            }
        }
        row.set_default("ProvisioningStatusInfo", &status)?;
    }
    // Graph's sourceSystem is the connected application, not the Log Analytics SourceSystem
    // (agent type) column: it must not be matched by name.
    if let Some(source_system) = record.remove("sourceSystem") {
        row.keep_extra("sourceSystem".to_string(), source_system);
    }
    row.set_default("Category", &Value::String("ProvisioningLogs".to_string()))?;
    // Every row of the table carries this operation name; Graph records have no such field.
    row.set_default(
        "OperationName",
        &Value::String("Provisioning activity".to_string()),
    )?;
    row.set_default("SourceSystem", &Value::String("Azure AD".to_string()))
}

/// Log Analytics stores the identity objects of provisioning events with `Id` and `Name` keys
/// (`{"Id":"...","Name":"ServiceNow"}`), where Graph writes `id` and `displayName`; Microsoft's
/// own queries read `parse_json(ServicePrincipal).Name` and `SourceIdentity.Id`, and member access
/// is case-sensitive. Other keys (`identityType`, `details`) keep Graph's spelling, as in the table.
fn log_analytics_identity_keys(object: &mut Map<String, Value>) {
    if object.contains_key("Id") || object.contains_key("Name") {
        return;
    }
    // Rebuilt rather than renamed in place, so that every key keeps its position.
    *object = std::mem::take(object)
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "id" => ("Id".to_string(), value),
            "displayName" => ("Name".to_string(), value),
            _ => (key, value),
        })
        .collect();
}

/// Graph signIn -> SigninLogs (also the payload of SignInLogs diagnostic records).
fn graph_sign_in(row: &mut RowBuilder, record: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(created) = record.remove("createdDateTime") {
        row.set_default("TimeGenerated", &created)?;
        row.set_default("CreatedDateTime", &created)?;
    }
    if let Some(status) = record.remove("status") {
        if let Some(code) = status.get("errorCode").filter(|c| !c.is_null()) {
            // The table holds the AAD error code as a string ("0" = success).
            let code = match code {
                Value::Number(n) => Value::String(n.to_string()),
                other => other.clone(),
            };
            row.set_default("ResultType", &code)?;
        }
        if let Some(reason) = status.get("failureReason").filter(|c| !c.is_null()) {
            row.set_default("ResultDescription", reason)?;
        }
        row.set_default("Status", &status)?;
    }
    if let Some(location) = record.remove("location") {
        if let Some(country) = location.get("countryOrRegion") {
            row.set_default("Location", country)?;
        }
        row.set_default("LocationDetails", &location)?;
    }
    if let Some(policies) = record.remove("appliedConditionalAccessPolicies") {
        row.set_default("ConditionalAccessPolicies", &policies)?;
    }
    if let Some(resource) = record.remove("resourceId") {
        // Graph's resourceId is the resource application id, not an ARM resource id.
        row.set_default("ResourceIdentity", &resource)?;
    }
    if let Some(ip) = record.remove("ipAddress") {
        row.set_default("IPAddress", &ip)?;
    }
    Ok(())
}

/// Graph directoryAudit -> AuditLogs (also the payload of AuditLogs diagnostic records).
fn graph_directory_audit(
    row: &mut RowBuilder,
    record: &mut Map<String, Value>,
) -> Result<(), String> {
    if let Some(time) = record.remove("activityDateTime") {
        row.set_default("TimeGenerated", &time)?;
        row.set_default("ActivityDateTime", &time)?;
    }
    if let Some(name) = record.remove("activityDisplayName") {
        row.set_default("OperationName", &name)?;
        row.set_default("ActivityDisplayName", &name)?;
    }
    if let Some(operation_type) = record.remove("operationType") {
        row.set_default("AADOperationType", &operation_type)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn resource_ids_split_into_parts() {
        let parts = parse_resource_id(
            "/subscriptions/s1/resourceGroups/MSSupportGroup/providers/microsoft.support/supporttickets/123",
        );
        assert_eq!(parts.subscription, Some("s1"));
        assert_eq!(parts.resource_group, Some("MSSupportGroup"));
        assert_eq!(parts.provider, Some("microsoft.support"));
        assert_eq!(parts.resource, Some("123"));
        let subscription_only = parse_resource_id("/subscriptions/s1");
        assert_eq!(subscription_only.subscription, Some("s1"));
        assert_eq!(subscription_only.resource, None);
        // The segment after the first occurrence of a name, even where it is a name itself.
        let repeated = parse_resource_id("//SUBSCRIPTIONS/providers/x/subscriptions/s2/providers");
        assert_eq!(repeated.subscription, Some("providers"));
        assert_eq!(repeated.provider, Some("x"));
        assert_eq!(repeated.resource_group, None);
        assert_eq!(repeated.resource, Some("providers"));
        let trailing = parse_resource_id("/subscriptions/s1/resourcegroups");
        assert_eq!(trailing.resource_group, None);
        assert_eq!(trailing.resource, None);
    }

    /// Both mapping paths on one record: the same table, shape and row, or the same reason.
    fn assert_paths_agree(text: &str, tables: &Tables, forced: Option<&TableIndex>) {
        let value: Value = serde_json::from_str(text).expect("test records are JSON");
        let borrowed = JsonRef::parse(text.as_bytes()).expect("test records are JSON");
        let by_value =
            map_record(value, tables, forced).map(|m| (m.table.name(), m.shape, m.row.resolved()));
        let by_ref = map_record_ref(borrowed, tables, forced)
            .map(|m| (m.table.name(), m.shape, m.row.resolved()));
        assert_eq!(by_ref, by_value, "{text}");
    }

    const ACTIVITY: &str = r#"{"time":"2026-04-10T09:40:20.9369531Z","resourceId":"/SUBSCRIPTIONS/B5BE10C3-DEB7-4201-948B-F3533BCCC960/RESOURCEGROUPS/RG-CI-DEV/PROVIDERS/MICROSOFT.RESOURCES/DEPLOYMENTS/DEPLOY-CI-DEV-03","operationName":"Microsoft.Resources/deployments/write","category":"Administrative","resultType":"Start","resultSignature":"Started.","durationMs":0,"callerIpAddress":"198.51.100.31","correlationId":"8e303395-1671-4e18-8cf7-2c0c7303dca6","identity":{"authorization":{"scope":"/subscriptions/b5be10c3/resourceGroups/rg-ci-dev","action":"Microsoft.Resources/deployments/write","evidence":{"role":"Contributor","principalType":"User"}},"claims":{"aud":"https://management.core.windows.net/","iat":"1775812800","http://schemas.microsoft.com/identity/claims/tenantid":"fa5de877-9ec3-460b-843f-e24fe0690af2","appid":"c44b4083","name":"Lee Gu","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":" lee.gu@contoso.com ","idtyp":"user"}},"level":"Informational","location":"westeurope","properties":{"serviceRequestId":null,"eventCategory":"Administrative","statusCode":"Created","hierarchy":"fa5de877/mg-contoso","message":"Microsoft.Resources/deployments/write"}}"#;

    #[test]
    fn borrowed_mapping_matches_value_mapping() {
        let tables = Tables::new();
        let activity = tables.get("AzureActivity");
        let provisioning = tables.get("AADProvisioningLogs");
        let variants = [
            ACTIVITY.to_string(),
            // Repeated members, escapes, extras, odd types and casing.
            ACTIVITY.replace(r#""level":"Informational""#, r#""level":"Warning","Level":"x","resultSignature":"Failed.Forbidden","stamp\n":"\u00e9\/","durationMs":12.5,"time":"2026-04-11T00:00:00Z""#),
            ACTIVITY.replace(r#""category":"Administrative""#, r#""category":"policy""#),
            ACTIVITY.replace(r#""category":"Administrative""#, r#""category":"Unknown""#),
            ACTIVITY.replace(r#""category":"Administrative""#, r#""category":7"#),
            ACTIVITY.replace(r#""resultType":"Start""#, r#""resultType":7"#),
            ACTIVITY.replace(r#""resultType":"Start""#, r#""resultType":null"#),
            ACTIVITY.replace(r#""time":"2026-04-10T09:40:20.9369531Z""#, r#""time":"2026-02-30T00:00:00Z""#),
            ACTIVITY.replace(r#""time":"2026-04-10T09:40:20.9369531Z","#, ""),
            ACTIVITY.replace(r#""identity":{"#, r#""identity":{"scheme":"Bearer","#),
            ACTIVITY.replace(r#""identity":{"#, r#""identityX":{"#),
            ACTIVITY.replace(r#""claims":{"#, r#""claims":"{\"a\": 1}","claimsX":{"#),
            ACTIVITY.replace(r#""properties":{"#, r#""properties":"not json","p":{"#),
            ACTIVITY.replace(r#""properties":{"#, r#""tenantId":"t1","properties":{"eventSubmissionTimestamp":"2026-04-10T09:40:21Z","#),
            ACTIVITY.replace(r#""properties":{"#, r#""properties":{"statusCode":{"code":1},"#),
            ACTIVITY.replace(r#""properties":{"#, r#""properties":{"eventSubmissionTimestamp":5,"#),
            ACTIVITY.replace(r#""resourceId":"/SUB"#, r#""resourceId":"{\"x\":[1, 2]}","r":"/SUB"#),
            r#"{"category":"Administrative","resourceId":"/subscriptions/s1"}"#.to_string(),
            r#"{"category":"ProvisioningLogs","time":"2026-04-10T09:40:20Z","properties":{"jobId":"j"}}"#.to_string(),
            r#"[1,2]"#.to_string(),
            r#""text""#.to_string(),
        ];
        // The fast path is the one under test.
        let Ok(JsonRef::Object(record)) = JsonRef::parse(ACTIVITY.as_bytes()) else {
            panic!("ACTIVITY is an object");
        };
        assert!(is_activity_diagnostic(&record));
        for text in &variants {
            for forced in [None, activity, provisioning] {
                assert_paths_agree(text, &tables, forced);
            }
        }
        let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/samples/azure_activity/activity_log_records.json");
        let text = std::fs::read_to_string(&sample).expect("the corpus sample is readable");
        let envelope: Value = serde_json::from_str(&text).expect("the sample is JSON");
        let records = envelope["records"]
            .as_array()
            .expect("an Event Hub envelope");
        assert!(records.len() > 1);
        for record in records {
            assert_paths_agree(&record.to_string(), &tables, None);
        }
    }
}
