//! Deliberately malformed input for the ingester's reject path, with a manifest of every bad
//! record so a test can check that each lands in the rejects and nothing else does.

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::json::{self, TICKS_PER_HOUR};
use crate::sink::{self, WriteStats};
use crate::world::World;
use crate::{BAD_RECORDS_DIR, GenerateError};

/// One line of `bad_records.jsonl`.
#[derive(Debug, Serialize)]
struct BadRecord {
    /// Path relative to the output directory, with `/` separators.
    file: String,
    /// 1-based line of the bad record (the line where a truncated document ends).
    line: u64,
    /// Position in the file's `value` or `records` array, where the file has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_index: Option<u64>,
    kind: &'static str,
    problem: &'static str,
}

fn timestamp(ticks: i64) -> String {
    let mut buf = Vec::new();
    json::datetime_raw(&mut buf, ticks, 7);
    String::from_utf8_lossy(&buf).into_owned()
}

fn activity_record(world: &World, time: &str, correlation: u32) -> Value {
    let subscription = &world.subscriptions[0].id;
    json!({
        "time": time,
        "resourceId": format!("/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG-WEB-PROD/PROVIDERS/MICROSOFT.WEB/SITES/APP-WEB-PROD-01", subscription.to_ascii_uppercase()),
        "operationName": "Microsoft.Web/sites/restart/action",
        "category": "Administrative",
        "resultType": "Success",
        "resultSignature": "Succeeded.OK",
        "durationMs": 812,
        "callerIpAddress": "198.51.100.24",
        "correlationId": format!("00000000-0000-4000-8000-{correlation:012}"),
        "identity": {"authorization": {"scope": format!("/subscriptions/{subscription}/resourceGroups/rg-web-prod/providers/Microsoft.Web/sites/app-web-prod-01"), "action": "Microsoft.Web/sites/restart/action"},
                      "claims": {"appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "name": "Megan Bowen", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "megan.bowen@contoso.com"}},
        "level": "Informational",
        "location": "westeurope",
        "properties": {"statusCode": "OK", "eventCategory": "Administrative", "message": "Microsoft.Web/sites/restart/action"},
    })
}

fn provisioning_object(world: &World, time: &str, id: u32) -> Value {
    json!({
        "id": format!("00000000-0000-4000-8000-{id:012}"),
        "activityDateTime": time,
        "tenantId": world.tenant_id,
        "jobId": world.jobs[0].job_id,
        "cycleId": "00000000-0000-4000-8000-00000000c1c1",
        "changeId": format!("00000000-0000-4000-8000-{:012}", id + 1000),
        "provisioningAction": "update",
        "durationInMilliseconds": 640,
        "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
        "servicePrincipal": {"id": world.jobs[0].service_principal_id, "displayName": world.jobs[0].service_principal_name},
        "sourceSystem": {"id": world.jobs[0].source_system_id, "displayName": "Azure Active Directory", "details": {}},
        "targetSystem": {"id": world.jobs[0].target_system_id, "displayName": "ServiceNow", "details": {}},
        "sourceIdentity": {"id": "00000000-0000-4000-8000-0000000000aa", "displayName": "Adele Vance", "identityType": "User", "details": {}},
        "targetIdentity": {"id": "00000000-0000-4000-8000-0000000000bb", "displayName": "Adele Vance", "identityType": "User", "details": {}},
        "provisioningStatusInfo": {"status": "success", "errorInformation": null},
        "provisioningSteps": [],
        "modifiedProperties": [{"displayName": "department", "oldValue": "Sales", "newValue": "Finance"}],
    })
}

fn line(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Writes the bad file set and its manifest; returns the stats and the number of bad records.
pub(crate) fn write_bad_records(
    world: &World,
    window_end: i64,
    out_dir: &Path,
) -> Result<(WriteStats, u64), GenerateError> {
    let mut stats = WriteStats::default();
    let mut manifest: Vec<BadRecord> = Vec::new();
    let good_time = timestamp(window_end - 2 * TICKS_PER_HOUR);
    let dir = out_dir.join(BAD_RECORDS_DIR);
    let relative = |name: &str| format!("{BAD_RECORDS_DIR}/{name}");
    let write = |name: &str, content: &[u8], stats: &mut WriteStats| {
        stats.files += 1;
        stats.bytes += content.len() as u64;
        sink::write_file(&dir.join(name), content, false)
    };

    // Storage-account JSON Lines with bad lines between good ones.
    let name = "activity/PT1H.json";
    let mut content = line(&activity_record(world, &good_time, 1));
    let truncated = line(&activity_record(world, &good_time, 2));
    content.extend_from_slice(&truncated[..truncated.len() / 2]);
    content.push(b'\n');
    manifest.push(BadRecord {
        file: relative(name),
        line: 2,
        record_index: None,
        kind: "truncated_json",
        problem: "the record is cut off halfway through",
    });
    let mut wrong_time = activity_record(world, &good_time, 3);
    wrong_time["time"] = json!(1_777_594_426);
    content.extend_from_slice(&line(&wrong_time));
    manifest.push(BadRecord {
        file: relative(name),
        line: 3,
        record_index: None,
        kind: "wrong_type",
        problem: "time is a number, not an ISO 8601 string",
    });
    let mut impossible = activity_record(world, &good_time, 4);
    impossible["time"] = json!("2026-02-30T25:61:00.0000000Z");
    content.extend_from_slice(&line(&impossible));
    manifest.push(BadRecord {
        file: relative(name),
        line: 4,
        record_index: None,
        kind: "impossible_date",
        problem: "time 2026-02-30T25:61:00 does not exist",
    });
    content.extend_from_slice(&[
        0xff, 0xfe, 0x00, 0x9c, 0x1b, b'{', 0xc3, 0x28, 0x80, 0x07, b'\n',
    ]);
    manifest.push(BadRecord {
        file: relative(name),
        line: 5,
        record_index: None,
        kind: "binary_garbage",
        problem: "bytes that are neither UTF-8 nor JSON",
    });
    content.extend_from_slice(&line(&activity_record(world, &good_time, 6)));
    let mut wrong_duration = activity_record(world, &good_time, 7);
    wrong_duration["durationMs"] = json!({"value": 812});
    wrong_duration["operationName"] = json!(42);
    content.extend_from_slice(&line(&wrong_duration));
    manifest.push(BadRecord {
        file: relative(name),
        line: 7,
        record_index: None,
        kind: "wrong_type",
        problem: "operationName is a number and durationMs an object",
    });
    write(name, &content, &mut stats)?;

    // An Event Hub message cut short: the whole document is unreadable.
    let name = "activity/truncated-message.json";
    let message = serde_json::to_vec(&json!({"records": [activity_record(world, &good_time, 8), activity_record(world, &good_time, 9)]})).unwrap_or_default();
    write(name, &message[..message.len() * 2 / 3], &mut stats)?;
    manifest.push(BadRecord {
        file: relative(name),
        line: 1,
        record_index: None,
        kind: "truncated_json",
        problem: "the {\"records\":[...]} message ends before its closing brackets",
    });

    // A Graph page with one object per line.
    let name = "provisioning/graph-page.json";
    let mut content = b"{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#auditLogs/provisioning\",\"value\":[\n".to_vec();
    let mut objects = vec![provisioning_object(world, &good_time, 11)];
    let mut bad_date = provisioning_object(world, &good_time, 12);
    bad_date["activityDateTime"] = json!("2026-13-45T10:00:00Z");
    objects.push(bad_date);
    let mut bad_duration = provisioning_object(world, &good_time, 13);
    bad_duration["durationInMilliseconds"] = json!("fast");
    objects.push(bad_duration);
    let mut bad_status = provisioning_object(world, &good_time, 14);
    bad_status["provisioningStatusInfo"] = json!(["success"]);
    objects.push(bad_status);
    objects.push(provisioning_object(world, &good_time, 15));
    for (index, object) in objects.iter().enumerate() {
        content.extend_from_slice(&serde_json::to_vec(object).unwrap_or_default());
        content.extend_from_slice(if index + 1 < objects.len() {
            b",\n"
        } else {
            b"\n"
        });
    }
    content.extend_from_slice(b"]}\n");
    manifest.push(BadRecord {
        file: relative(name),
        line: 3,
        record_index: Some(1),
        kind: "impossible_date",
        problem: "activityDateTime month 13 day 45",
    });
    manifest.push(BadRecord {
        file: relative(name),
        line: 4,
        record_index: Some(2),
        kind: "wrong_type",
        problem: "durationInMilliseconds is a string",
    });
    manifest.push(BadRecord {
        file: relative(name),
        line: 5,
        record_index: Some(3),
        kind: "wrong_type",
        problem: "provisioningStatusInfo is an array, not an object",
    });
    write(name, &content, &mut stats)?;

    // Diagnostic-settings records, one per line.
    let name = "provisioning/diagnostic-records.json";
    let envelope = |time: Value, object: Value| {
        json!({
            "time": time,
            "resourceId": format!("/tenants/{}/providers/Microsoft.aadiam", world.tenant_id),
            "operationName": "Provisioning activity",
            "operationVersion": "1.0",
            "category": "ProvisioningLogs",
            "tenantId": world.tenant_id,
            "resultType": "Success",
            "resultSignature": "None",
            "resultDescription": "",
            "durationMs": 640,
            "callerIpAddress": "",
            "correlationId": object["changeId"].clone(),
            "identity": "Azure AD Provisioning Service",
            "level": "Informational",
            "location": "",
            "properties": object,
        })
    };
    let good = envelope(json!(good_time), provisioning_object(world, &good_time, 21));
    let mut bad_time = envelope(
        json!("2026-04-31T24:00:00.0000000Z"),
        provisioning_object(world, &good_time, 22),
    );
    bad_time["properties"]["activityDateTime"] = json!("2026-04-31T24:00:00.0000000Z");
    let mut bad_properties = envelope(json!(good_time), provisioning_object(world, &good_time, 23));
    bad_properties["properties"] = json!("provisioning details unavailable");
    let mut content = b"{\"records\":[\n".to_vec();
    for (index, record) in [good, bad_time, bad_properties].iter().enumerate() {
        content.extend_from_slice(&serde_json::to_vec(record).unwrap_or_default());
        content.extend_from_slice(if index < 2 { b",\n" } else { b"\n" });
    }
    content.extend_from_slice(b"]}\n");
    manifest.push(BadRecord {
        file: relative(name),
        line: 3,
        record_index: Some(1),
        kind: "impossible_date",
        problem: "time 2026-04-31T24:00:00 does not exist",
    });
    manifest.push(BadRecord {
        file: relative(name),
        line: 4,
        record_index: Some(2),
        kind: "wrong_type",
        problem: "properties is a string, not the provisioning object",
    });
    write(name, &content, &mut stats)?;

    let name = "provisioning/empty.json";
    write(name, b"", &mut stats)?;
    manifest.push(BadRecord {
        file: relative(name),
        line: 1,
        record_index: None,
        kind: "empty_file",
        problem: "the file is empty",
    });

    let mut jsonl = Vec::new();
    for record in &manifest {
        jsonl.extend_from_slice(&serde_json::to_vec(record).unwrap_or_default());
        jsonl.push(b'\n');
    }
    let manifest_path = out_dir.join(crate::BAD_RECORDS_MANIFEST);
    sink::write_file(&manifest_path, &jsonl, false)?;
    stats.files += 1;
    stats.bytes += jsonl.len() as u64;
    Ok((stats, manifest.len() as u64))
}
