//! Each source shape and container: Graph pages, diagnostic records (Event Hub and PT1H.json),
//! ARM REST events, UTF-16, gzip, BOM, arrays, concatenated values.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use goshawk_ingest::{IngestOptions, SourceStatus, parse_datetime};
use serde_json::{Value, json};

fn graph_provisioning(id: &str, action: &str, status: &str) -> Value {
    json!({
        "id": id,
        "activityDateTime": "2026-05-01T00:10:11.1234567Z",
        "tenantId": "11111111-2222-3333-4444-555555555555",
        "jobId": "scim.contoso.1",
        "cycleId": "cycle-1",
        "changeId": format!("change-{id}"),
        "provisioningAction": action,
        "durationInMilliseconds": 412,
        "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
        "servicePrincipal": {"id": "sp-1", "displayName": "Contoso SCIM"},
        "sourceSystem": {"id": "ss-1", "displayName": "Azure Active Directory", "details": {}},
        "targetSystem": {"id": "ts-1", "displayName": "Contoso", "details": {"ApplicationId": "app-1"}},
        "sourceIdentity": {"id": "user-1", "displayName": "Alex", "identityType": "User", "details": {}},
        "targetIdentity": {"id": "", "displayName": "", "identityType": "urn:ietf:params:scim:schemas:core:2.0:User", "details": {}},
        "modifiedProperties": [{"displayName": "accountEnabled", "oldValue": null, "newValue": "True"}],
        "provisioningSteps": [{"name": "EntryImport", "provisioningStepType": "import", "status": "success", "description": "Retrieved Alex"}],
        "provisioningStatusInfo": {
            "status": status,
            "errorInformation": if status == "failure" {
                json!({"errorCode": "SystemForCrossDomainIdentityManagementBadRequest", "reason": "The SCIM endpoint said 400", "errorCategory": "NonServiceFailure"})
            } else {
                Value::Null
            }
        }
    })
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn graph_provisioning_page_and_diagnostic_records() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    // A Graph page, pretty-printed, with paging metadata before and after the value array.
    let page = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/provisioning",
        "value": [graph_provisioning("p1", "create", "failure"), graph_provisioning("p2", "stagedDelete", "success")],
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/provisioning?$skiptoken=x"
    });
    write(
        &inputs.path().join("graph/page1.json"),
        serde_json::to_string_pretty(&page).unwrap().as_bytes(),
    );
    // Storage account layout: JSON Lines of diagnostic records.
    let mut lines = String::new();
    for i in 0..3 {
        let record = json!({
            "time": format!("2026-05-01T00:2{i}:00.0000001Z"),
            "resourceId": "/tenants/11111111-2222-3333-4444-555555555555/providers/Microsoft.aadiam",
            "operationName": "Provisioning activity",
            "operationVersion": "1.0",
            "category": "ProvisioningLogs",
            "tenantId": "11111111-2222-3333-4444-555555555555",
            "resultType": "Failure",
            "resultSignature": "None",
            "durationMs": "1234",
            "correlationId": format!("corr-{i}"),
            "level": "4",
            "properties": graph_provisioning(&format!("d{i}"), "update", "failure"),
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    let pt1h = inputs.path().join(
        "resourceId=/TENANTS/11111111-2222-3333-4444-555555555555/PROVIDERS/MICROSOFT.AADIAM/y=2026/m=05/d=01/h=00/m=00/PT1H.json",
    );
    write(&pt1h, lines.as_bytes());

    let summary = run(
        lake.path(),
        &[inputs.path().to_path_buf()],
        &IngestOptions::default(),
    );
    assert_eq!(summary.rejected, 0, "{summary:#?}");
    assert_eq!(summary.tables["AADProvisioningLogs"].ingested, 5);

    let batches = read_table(lake.path(), "AADProvisioningLogs");
    let ids = strings(&batches, "Id");
    let p1 = ids.iter().position(|i| i.as_deref() == Some("p1")).unwrap();
    let p2 = ids.iter().position(|i| i.as_deref() == Some("p2")).unwrap();
    assert_eq!(
        strings(&batches, "ResultType")[p1].as_deref(),
        Some("Failure")
    );
    assert_eq!(
        strings(&batches, "ResultType")[p2].as_deref(),
        Some("Success")
    );
    assert_eq!(strings(&batches, "Action")[p1].as_deref(), Some("Create"));
    assert_eq!(
        strings(&batches, "Action")[p2].as_deref(),
        Some("StagedDelete")
    );
    assert_eq!(
        strings(&batches, "ProvisioningAction")[p2].as_deref(),
        Some("stagedDelete")
    );
    assert_eq!(
        strings(&batches, "ResultSignature")[p1].as_deref(),
        Some("SystemForCrossDomainIdentityManagementBadRequest")
    );
    let service_principal: Value = serde_json::from_str(
        strings(&batches, "ServicePrincipal")[p1]
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    // Log Analytics' shape, which `parse_json(ServicePrincipal).Name` (HUNT-01) reads.
    assert_eq!(
        service_principal,
        json!({"Id": "sp-1", "Name": "Contoso SCIM"})
    );
    let source_identity = strings(&batches, "SourceIdentity")[p1].clone().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&source_identity).unwrap(),
        json!({"Id": "user-1", "Name": "Alex", "identityType": "User", "details": {}})
    );
    // Microsoft's queries `parse SourceIdentity with * "\"identityType\":\"" Type "\"" *`.
    assert!(
        source_identity.contains(r#""identityType":"User""#),
        "{source_identity}"
    );
    assert_eq!(
        strings(&batches, "OperationName")[p1].as_deref(),
        Some("Provisioning activity")
    );
    let steps = strings(&batches, "ProvisioningSteps")[p1].clone().unwrap();
    assert!(
        steps.starts_with('[') && !steps.contains(": "),
        "compact JSON text: {steps}"
    );
    assert_eq!(
        times(&batches, "TimeGenerated")[p1],
        Some(parse_datetime("2026-05-01T00:10:11.1234567Z").unwrap())
    );
    let extra: Value = serde_json::from_str(
        strings(&batches, "AdditionalFields")[p1]
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        extra["sourceSystem"]["displayName"],
        "Azure Active Directory"
    );

    let d0 = ids.iter().position(|i| i.as_deref() == Some("d0")).unwrap();
    assert_eq!(
        strings(&batches, "OperationName")[d0].as_deref(),
        Some("Provisioning activity")
    );
    assert_eq!(
        strings(&batches, "CorrelationId")[d0].as_deref(),
        Some("corr-0")
    );
    assert_eq!(
        times(&batches, "TimeGenerated")[d0],
        Some(parse_datetime("2026-05-01T00:20:00.0000001Z").unwrap()),
        "the envelope time wins, to the tick"
    );
    let lake_dir = lake.path().join("AADProvisioningLogs/day=2026-05-01");
    assert!(lake_dir.is_dir());
}

#[test]
fn event_hub_gzip_arm_events_utf16_graph_pages_and_odd_layouts() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();

    // Event Hub message, gzip-compressed, under a name that does not say so.
    let activity = |i: u32, result: &str| {
        json!({
            "time": format!("2026-05-02T0{i}:00:00.5Z"),
            "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/RA1",
            "operationName": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
            "category": "Administrative",
            "resultType": result,
            "resultSignature": "Succeeded.Created",
            "durationMs": 12,
            "callerIpAddress": "203.0.113.9",
            "correlationId": format!("eh-{i}"),
            "identity": {"claims": {"appid": "app-9", "http://schemas.microsoft.com/identity/claims/tenantid": "tttt"}},
            "level": "Informational",
            "properties": {"statusCode": "Created", "entity": "/subscriptions/x"}
        })
    };
    let message =
        json!({"records": [activity(1, "Success"), activity(2, "Failure"), activity(3, "Start")]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(message.to_string().as_bytes()).unwrap();
    write(
        &inputs.path().join("eventhub/message-0001.bin"),
        &gz.finish().unwrap(),
    );

    // `az monitor activity-log list` output: a pretty-printed array of ARM events.
    let arm = |i: u32, status: &str| {
        json!({
            "authorization": {"action": "Microsoft.Authorization/roleAssignments/write", "scope": "/subscriptions/00000000-0000-0000-0000-000000000001"},
            "caller": "alice@contoso.com",
            "channels": "Operation",
            "claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contoso.com"},
            "correlationId": format!("arm-{i}"),
            "eventDataId": format!("ed-{i}"),
            "eventName": {"localizedValue": "End request", "value": "EndRequest"},
            "category": {"localizedValue": "Administrative", "value": "Administrative"},
            "eventTimestamp": format!("2026-05-02T10:00:0{i}.1234567+00:00"),
            "httpRequest": {"clientIpAddress": "198.51.100.1", "clientRequestId": "cr", "method": "PUT"},
            "level": "Informational",
            "operationId": "op-1",
            "operationName": {"localizedValue": "Create role assignment", "value": "Microsoft.Authorization/roleAssignments/write"},
            "properties": {"statusCode": "Created", "hierarchy": "tenant/mg/00000000-0000-0000-0000-000000000001"},
            "resourceGroupName": "rg1",
            "resourceProviderName": {"localizedValue": "Microsoft Authorization", "value": "Microsoft.Authorization"},
            "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Authorization/roleAssignments/ra1",
            "status": {"localizedValue": status, "value": status},
            "subStatus": {"localizedValue": "Created (HTTP Status Code: 201)", "value": "Created"},
            "submissionTimestamp": "2026-05-02T10:00:30.5+00:00",
            "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "tenantId": "tttt"
        })
    };
    let events = json!([arm(1, "Succeeded"), arm(2, "Failed")]);
    write(
        &inputs.path().join("arm/events.txt"),
        serde_json::to_string_pretty(&events).unwrap().as_bytes(),
    );

    // A Graph signIns page saved by PowerShell: UTF-16 LE with a BOM.
    let sign_in = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
        "value": [{
            "id": "si-1", "createdDateTime": "2026-05-03T08:00:00Z", "userDisplayName": "Alex",
            "userPrincipalName": "alex@contoso.com", "userId": "u-1", "appId": "app-1",
            "appDisplayName": "Azure Portal", "ipAddress": "198.51.100.7", "clientAppUsed": "Browser",
            "correlationId": "c-si", "conditionalAccessStatus": "notApplied", "isInteractive": true,
            "riskDetail": "none", "riskEventTypes_v2": [], "resourceDisplayName": "Azure Service Management API",
            "resourceId": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "status": {"errorCode": 50126, "failureReason": "Invalid username or password", "additionalDetails": null},
            "deviceDetail": {"operatingSystem": "Windows 10", "browser": "Edge"},
            "location": {"city": "Oslo", "countryOrRegion": "NO", "geoCoordinates": {"latitude": 59.9, "longitude": 10.7}},
            "appliedConditionalAccessPolicies": []
        }],
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=abc"
    });
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in serde_json::to_string_pretty(&sign_in)
        .unwrap()
        .encode_utf16()
    {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    write(&inputs.path().join("graph/signins.json"), &utf16);

    // Concatenated values with a UTF-8 BOM: a directoryAudit and an AuditLogs diagnostic record,
    // followed by two top-level arrays on one line.
    let audit = json!({
        "id": "Directory_1", "category": "UserManagement", "correlationId": "c-a", "result": "success",
        "activityDisplayName": "Add user", "activityDateTime": "2026-05-04T09:00:00.5Z",
        "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.com"}},
        "targetResources": [{"id": "u-2", "displayName": "Bob", "type": "User"}],
        "additionalDetails": []
    });
    let audit_record = json!({
        "time": "2026-05-04T09:00:01Z", "category": "AuditLogs", "operationName": "Add user",
        "resultType": "Success", "tenantId": "tttt", "resourceId": "/tenants/tttt/providers/Microsoft.aadiam",
        "properties": audit.clone()
    });
    let mut mixed = vec![0xEF, 0xBB, 0xBF];
    mixed.extend_from_slice(format!("{audit}{audit_record}\n[{audit}] [{audit}]").as_bytes());
    write(&inputs.path().join("mixed/audits.log"), &mixed);

    let summary = run(
        lake.path(),
        &[inputs.path().to_path_buf()],
        &IngestOptions::default(),
    );
    assert_eq!(summary.rejected, 0, "{summary:#?}");
    assert!(summary.sources.iter().any(|s| s.gzip));
    assert_eq!(summary.tables["AzureActivity"].ingested, 5);
    assert_eq!(summary.tables["SigninLogs"].ingested, 1);
    assert_eq!(summary.tables["AuditLogs"].ingested, 4);

    let activity = read_table(lake.path(), "AzureActivity");
    let correlation = strings(&activity, "CorrelationId");
    let at = |id: &str| {
        correlation
            .iter()
            .position(|c| c.as_deref() == Some(id))
            .unwrap()
    };
    let eh2 = at("eh-2");
    assert_eq!(
        strings(&activity, "ActivityStatusValue")[eh2].as_deref(),
        Some("Failure")
    );
    assert_eq!(
        strings(&activity, "OperationNameValue")[eh2].as_deref(),
        Some("MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE")
    );
    assert_eq!(
        strings(&activity, "ResourceProviderValue")[eh2].as_deref(),
        Some("MICROSOFT.AUTHORIZATION")
    );
    assert_eq!(strings(&activity, "Caller")[eh2].as_deref(), Some("app-9"));
    assert_eq!(
        strings(&activity, "ResourceGroup")[eh2].as_deref(),
        Some("RG1")
    );
    assert_eq!(
        strings(&activity, "_ResourceId")[eh2].as_deref(),
        Some(
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1/providers/microsoft.authorization/roleassignments/ra1"
        )
    );
    let arm2 = at("arm-2");
    assert_eq!(
        strings(&activity, "ActivityStatusValue")[arm2].as_deref(),
        Some("Failure")
    );
    assert_eq!(
        strings(&activity, "ActivityStatus")[arm2].as_deref(),
        Some("Failed")
    );
    assert_eq!(
        strings(&activity, "OperationNameValue")[arm2].as_deref(),
        Some("Microsoft.Authorization/roleAssignments/write")
    );
    assert_eq!(
        strings(&activity, "OperationName")[arm2].as_deref(),
        Some("Create role assignment")
    );
    assert_eq!(
        strings(&activity, "CallerIpAddress")[arm2].as_deref(),
        Some("198.51.100.1")
    );
    assert_eq!(
        strings(&activity, "ActivitySubstatusValue")[arm2].as_deref(),
        Some("Created")
    );
    assert_eq!(
        strings(&activity, "Hierarchy")[arm2].as_deref(),
        Some("tenant/mg/00000000-0000-0000-0000-000000000001")
    );
    assert_eq!(
        times(&activity, "EventSubmissionTimestamp")[arm2],
        Some(parse_datetime("2026-05-02T10:00:30.5Z").unwrap())
    );

    let signins = read_table(lake.path(), "SigninLogs");
    assert_eq!(strings(&signins, "ResultType")[0].as_deref(), Some("50126"));
    assert_eq!(
        strings(&signins, "UserPrincipalName")[0].as_deref(),
        Some("alex@contoso.com")
    );
    assert_eq!(strings(&signins, "Location")[0].as_deref(), Some("NO"));
    let location: Value =
        serde_json::from_str(strings(&signins, "LocationDetails")[0].as_deref().unwrap()).unwrap();
    assert_eq!(location["city"], "Oslo");

    let audits = read_table(lake.path(), "AuditLogs");
    let operations = strings(&audits, "OperationName");
    assert!(operations.iter().all(|o| o.as_deref() == Some("Add user")));
    let targets: Value =
        serde_json::from_str(strings(&audits, "TargetResources")[0].as_deref().unwrap()).unwrap();
    assert_eq!(targets[0]["displayName"], "Bob");
}

#[test]
fn a_second_ingest_of_the_same_content_adds_nothing() {
    let lake = tempfile::tempdir().unwrap();
    let input = samples().join("azure_activity/activity_log_records.json");
    let first = run(
        lake.path(),
        std::slice::from_ref(&input),
        &IngestOptions::default(),
    );
    assert_eq!(first.ingested, 7);
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("renamed.json");
    std::fs::copy(&input, &copy).unwrap();
    let second = run(lake.path(), &[input, copy], &IngestOptions::default());
    assert_eq!(second.ingested, 0);
    assert_eq!(second.duplicate_sources, 2);
    assert!(
        second
            .sources
            .iter()
            .all(|s| s.status == SourceStatus::Duplicate)
    );
    assert_eq!(row_count(&read_table(lake.path(), "AzureActivity")), 7);
}

#[test]
fn table_option_decides_only_where_the_content_cannot() {
    let inputs = tempfile::tempdir().unwrap();
    let csv_path = inputs.path().join("export.csv");
    let csv_text = "TimeGenerated [UTC],UserPrincipalName,Note,Extra1,Extra2\n\
                    \"4/28/2021, 2:32:14.029 PM\",alex@contoso.com,first,a,b\n\
                    \"4/28/2021, 2:33:00.000 PM\",kim@contoso.com,second,c,d\n";
    write(&csv_path, csv_text.as_bytes());

    let unforced = tempfile::tempdir().unwrap();
    let summary = run(
        unforced.path(),
        std::slice::from_ref(&csv_path),
        &IngestOptions::default(),
    );
    assert_eq!((summary.ingested, summary.rejected), (0, 2));
    assert!(
        reject_lines(unforced.path())[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--table")
    );

    let forced = tempfile::tempdir().unwrap();
    let options = IngestOptions {
        table: Some("signinlogs".to_string()),
        ..IngestOptions::default()
    };
    let summary = run(forced.path(), std::slice::from_ref(&csv_path), &options);
    assert_eq!((summary.ingested, summary.rejected), (2, 0), "{summary:#?}");
    let rows = read_table(forced.path(), "SigninLogs");
    assert_eq!(
        strings(&rows, "UserPrincipalName")[0].as_deref(),
        Some("alex@contoso.com")
    );
    assert_eq!(
        times(&rows, "TimeGenerated")[0],
        Some(parse_datetime("2021-04-28T14:32:14.029Z").unwrap())
    );
    let extra: Value =
        serde_json::from_str(strings(&rows, "AdditionalFields")[0].as_deref().unwrap()).unwrap();
    assert_eq!(extra["Note"], "first");

    // Content that names its table wins; a contradicting --table rejects the record.
    let activity = samples().join("azure_activity/activity_log_records.json");
    let contradicted = tempfile::tempdir().unwrap();
    let summary = run(contradicted.path(), &[activity], &options);
    assert_eq!((summary.ingested, summary.rejected), (0, 7));
    let reason = reject_lines(contradicted.path())[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("--table says SigninLogs"), "{reason}");
}

/// The JSON-text twins (`Properties` / `Properties_d`, ...) hold the same text whether a record's
/// object is compact, pretty-printed or a plain string, and whatever the records before it held.
#[test]
fn json_twin_columns_follow_each_record() {
    let inputs = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let record = |i: usize, properties: Value| {
        json!({
            "time": format!("2026-05-01T00:00:{i:02}Z"),
            "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM",
            "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
            "category": "Administrative",
            "resultType": "Success",
            "correlationId": format!("c-{i}"),
            "properties": properties,
        })
    };
    let records = vec![
        record(0, json!({"statusCode": "OK", "n": 0})),
        record(1, json!({"statusCode": "OK", "n": 1})),
        record(2, json!("plain text properties")),
        record(3, Value::Null),
        record(4, json!({"statusCode": "Created", "n": [1, 2]})),
    ];
    // Compact, as Event Hub writes it; and pretty-printed, so that the text is written anew.
    let compact = serde_json::to_string(&json!({ "records": records })).unwrap();
    write(&inputs.path().join("compact.json"), compact.as_bytes());
    let pretty: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["time"] = json!(r["time"].as_str().unwrap().replace("00:00:", "00:01:"));
            r["correlationId"] = json!(format!("p{}", r["correlationId"].as_str().unwrap()));
            r
        })
        .collect();
    let pretty = serde_json::to_string_pretty(&json!({ "records": pretty })).unwrap();
    write(&inputs.path().join("pretty.json"), pretty.as_bytes());
    // Objects only, out of time order: the twin columns share one array for the whole chunk.
    let shuffled: Vec<Value> = (0..6)
        .rev()
        .map(|i| {
            let mut r = record(i, json!({"statusCode": "OK", "n": i}));
            r["time"] = json!(format!("2026-05-01T00:02:{i:02}Z"));
            r["correlationId"] = json!(format!("s-{i}"));
            r
        })
        .collect();
    let shuffled = serde_json::to_string(&json!({ "records": shuffled })).unwrap();
    write(&inputs.path().join("shuffled.json"), shuffled.as_bytes());
    // One worker, so that each file's records start a chunk of their own.
    let options = IngestOptions {
        threads: 1,
        ..IngestOptions::default()
    };
    let summary = run(
        lake.path(),
        &[inputs.path().join("shuffled.json")],
        &options,
    );
    assert_eq!(summary.ingested, 6);
    let sources = [
        inputs.path().join("compact.json"),
        inputs.path().join("pretty.json"),
    ];
    let summary = run(lake.path(), &sources, &options);
    assert_eq!(summary.ingested, 10);
    let batches = read_table(lake.path(), "AzureActivity");
    let ids = strings(&batches, "CorrelationId");
    let text = strings(&batches, "Properties");
    let dynamic = strings(&batches, "Properties_d");
    let mut rows: Vec<_> = ids
        .into_iter()
        .zip(text.into_iter().zip(dynamic))
        .map(|(id, cells)| (id.unwrap(), cells))
        .collect();
    rows.sort();
    let object = |n: &str, status: &str| Some(format!(r#"{{"statusCode":"{status}","n":{n}}}"#));
    for prefix in ["c-", "pc-"] {
        let of = |i: usize| {
            &rows
                .iter()
                .find(|(id, _)| *id == format!("{prefix}{i}"))
                .unwrap()
                .1
        };
        assert_eq!(of(0), &(object("0", "OK"), object("0", "OK")));
        assert_eq!(of(1), &(object("1", "OK"), object("1", "OK")));
        assert_eq!(of(2).0.as_deref(), Some("plain text properties"));
        assert_eq!(of(2).1.as_deref(), Some(r#""plain text properties""#));
        assert_eq!(of(3), &(None, None));
        assert_eq!(
            of(4),
            &(object("[1,2]", "Created"), object("[1,2]", "Created"))
        );
    }
    for i in 0..6 {
        let (_, cells) = rows.iter().find(|(id, _)| *id == format!("s-{i}")).unwrap();
        let expected = object(&i.to_string(), "OK");
        assert_eq!(cells, &(expected.clone(), expected));
    }
}
