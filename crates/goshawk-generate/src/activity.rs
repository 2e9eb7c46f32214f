//! Azure Activity logs in the diagnostic-settings shape. Each subscription's diagnostic setting
//! sends to either a storage account (hourly `PT1H.json` JSON Lines blobs) or an Event Hub
//! (`{"records":[...]}` messages).

use std::path::PathBuf;

use rand::Rng;

use crate::json::{self, TICKS_PER_HOUR, TICKS_PER_SECOND};
use crate::random::{
    StreamRng, chance, poisson, splitmix64, stream_rng, value_rng, weighted_index,
};
use crate::scenarios::PlantedActivity;
use crate::sink::{self, MessageWriter, Output, WriteStats};
use crate::world::{
    BENIGN_FAILURES, CALLER_TERRAFORM, CallerKind, OPERATIONS, OpKind, Operation, Scope, World,
};
use crate::{Chunk, GenerateError, Profile, Window};

/// Records per Event Hub message.
pub(crate) const MESSAGE_RECORDS: usize = 100;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure {
        status: &'static str,
        error_code: &'static str,
        message: &'static str,
    },
}

impl Outcome {
    fn is_denial(self) -> bool {
        matches!(
            self,
            Outcome::Failure {
                error_code: "AuthorizationFailed" | "RequestDisallowedByPolicy",
                ..
            }
        )
    }
}

/// One Azure Resource Manager operation before serialisation (one or two records).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub time: i64,
    pub caller: usize,
    pub operation: usize,
    pub subscription: usize,
    pub resource_group: usize,
    pub resource: u32,
    pub outcome: Outcome,
    /// Where the caller came from when it is not their usual address.
    pub ip: Option<&'static str>,
    /// Index into the planted scenario events, which fix the correlation id.
    pub planted: Option<usize>,
    /// Seeds the record details (ids, durations) independently of other events.
    pub seed: u64,
}

/// The background's choices that do not change from hour to hour.
struct Tables {
    background: Vec<usize>,
    caller_weights: Vec<u32>,
    op_callers: Vec<Vec<usize>>,
    op_weights: Vec<Vec<u32>>,
    failure_weights: Vec<u32>,
}

impl Tables {
    fn new(world: &World) -> Tables {
        let background: Vec<usize> = (0..world.callers.len())
            .filter(|&c| world.callers[c].background)
            .collect();
        let caller_weights = background
            .iter()
            .map(|&c| world.callers[c].weight)
            .collect();
        let op_callers = (0..OPERATIONS.len())
            .map(|op| {
                background
                    .iter()
                    .copied()
                    .filter(|&c| world.callers[c].operations.iter().any(|&(o, _)| o == op))
                    .collect()
            })
            .collect();
        let op_weights = world
            .callers
            .iter()
            .map(|caller| {
                caller
                    .operations
                    .iter()
                    .map(|&(_, weight)| weight)
                    .collect()
            })
            .collect();
        let failure_weights = BENIGN_FAILURES.iter().map(|f| f.weight).collect();
        Tables {
            background,
            caller_weights,
            op_callers,
            op_weights,
            failure_weights,
        }
    }
}

/// The PT1H.json blob of one subscription for the current hour, opened on its first record.
struct Blob {
    writer: Option<(sink::Writer, PathBuf)>,
    records: u64,
    bytes: u64,
}

/// Writes the activity records of one day (`chunk`): subscriptions whose diagnostic setting
/// sends to a storage account get hourly `PT1H.json` blobs, the others Event Hub messages.
/// Returns (Event Hub messages, storage blobs) stats.
pub(crate) fn generate(
    world: &World,
    window: &Window,
    scale: u32,
    planted: &[PlantedActivity],
    chunk: &Chunk,
    profile: Profile,
    out: &Output,
) -> Result<(WriteStats, WriteStats), GenerateError> {
    let mut rng = stream_rng(world.seed, "activity", chunk.day);
    let tables = Tables::new(world);
    let storage_root = out.dir.join(crate::ACTIVITY_STORAGE_DIR);
    let mut storage = WriteStats::default();
    let mut messages = MessageWriter::new(
        out.dir.join(crate::ACTIVITY_EVENT_HUB_DIR),
        MESSAGE_RECORDS,
        out.discard,
    );
    let mut blobs: Vec<Blob> = (0..world.subscriptions.len())
        .map(|_| Blob {
            writer: None,
            records: 0,
            bytes: 0,
        })
        .collect();
    let mut events: Vec<Event> = Vec::new();
    let mut record = Vec::with_capacity(16 * 1024);
    let mut scratch = Scratch::default();
    let fragments = Fragments::new(world);
    let mut planted_next = planted.partition_point(|p| p.event.time < chunk.start);
    let success_rate = profile.success_events_per_hour() * f64::from(scale);
    let repeat_chance = profile.repeat_failure_chance();
    for hour_start in chunk.hours() {
        let hour_end = hour_start + TICKS_PER_HOUR;
        events.clear();
        let count = poisson(
            &mut rng,
            success_rate * crate::world::activity_factor(hour_start),
        );
        for _ in 0..count {
            let caller = tables.background[weighted_index(&mut rng, &tables.caller_weights)];
            let operations = world.callers[caller].operations;
            let operation = operations[weighted_index(&mut rng, &tables.op_weights[caller])].0;
            events.push(background_event(
                world,
                &mut rng,
                hour_start,
                caller,
                operation,
                Outcome::Success,
            ));
        }
        // The steady benign failures: two or three distinct failing operations every hour, in
        // the demo profile too: the rare-failure ML job scores a never-seen failing operation
        // by how much failure history it has (about one over the failing operations seen), so
        // with fewer the compromised identity's failures stay below its anomaly threshold.
        let distinct = if chance(&mut rng, 0.5) { 2 } else { 3 };
        let mut chosen: Vec<usize> = Vec::with_capacity(3);
        while chosen.len() < distinct {
            let pick = weighted_index(&mut rng, &tables.failure_weights);
            let op = BENIGN_FAILURES[pick].operation;
            if chosen.iter().all(|&c| BENIGN_FAILURES[c].operation != op) {
                chosen.push(pick);
            }
        }
        for &pick in &chosen {
            let failure = &BENIGN_FAILURES[pick];
            let repeats = u64::from(scale)
                * if chance(&mut rng, repeat_chance) {
                    2
                } else {
                    1
                };
            for _ in 0..repeats {
                let callers = &tables.op_callers[failure.operation];
                let caller = if callers.is_empty() {
                    CALLER_TERRAFORM
                } else {
                    callers[rng.random_range(0..callers.len())]
                };
                let outcome = Outcome::Failure {
                    status: failure.status,
                    error_code: failure.error_code,
                    message: failure.message,
                };
                events.push(background_event(
                    world,
                    &mut rng,
                    hour_start,
                    caller,
                    failure.operation,
                    outcome,
                ));
            }
        }
        while planted_next < planted.len() && planted[planted_next].event.time < hour_end {
            let mut event = planted[planted_next].event.clone();
            event.planted = Some(planted_next);
            events.push(event);
            planted_next += 1;
        }
        events.sort_by_key(|event| (event.time, event.planted));
        for event in &events {
            if event.time < window.start || event.time >= window.end {
                continue;
            }
            let mut event_rng = value_rng(event.seed);
            scratch.correlation_id.clear();
            match event.planted {
                Some(index) => scratch
                    .correlation_id
                    .extend_from_slice(planted[index].correlation_id.as_bytes()),
                None => json::guid_raw(&mut scratch.correlation_id, &mut event_rng),
            }
            let records = write_event_records(
                &mut record,
                &mut scratch,
                &fragments,
                world,
                &mut event_rng,
                event,
            );
            if world.subscriptions[event.subscription].exports_to_storage {
                // PT1H.json: JSON Lines, one record per line, in the blob of the hour the
                // operation started.
                let blob = &mut blobs[event.subscription];
                if blob.writer.is_none() {
                    let path = sink::pt1h_path(
                        &storage_root,
                        &world.subscriptions[event.subscription].id,
                        hour_start,
                    );
                    blob.writer = Some((sink::create_file(&path, out.discard)?, path));
                }
                if let Some((writer, path)) = blob.writer.as_mut() {
                    sink::write_all(writer, path, &record)?;
                }
                blob.records += records.count as u64;
                blob.bytes += record.len() as u64;
            } else {
                for &(start, end) in records.as_slice() {
                    messages.push(hour_start, &record[start..end])?;
                }
            }
        }
        for blob in &mut blobs {
            if let Some((writer, path)) = blob.writer.take() {
                sink::finish_file(writer, &path)?;
                storage.files += 1;
                storage.records += blob.records;
                storage.bytes += blob.bytes;
                blob.records = 0;
                blob.bytes = 0;
            }
        }
    }
    messages.finish()?;
    Ok((messages.stats, storage))
}

fn background_event(
    world: &World,
    rng: &mut StreamRng,
    hour_start: i64,
    caller: usize,
    operation: usize,
    outcome: Outcome,
) -> Event {
    let spec = &world.callers[caller];
    let subscription =
        spec.usual_subscriptions[rng.random_range(0..spec.usual_subscriptions.len())];
    let groups = world.subscriptions[subscription].resource_groups.len();
    // Users sometimes work from home rather than the office.
    let ip = if spec.kind == CallerKind::User && chance(rng, 0.1) {
        Some(HOME_IPS[rng.random_range(0..HOME_IPS.len())])
    } else {
        None
    };
    Event {
        time: hour_start + rng.random_range(0..TICKS_PER_HOUR),
        caller,
        operation,
        subscription,
        resource_group: rng.random_range(0..groups),
        resource: rng.random_range(1..5),
        outcome,
        ip,
        planted: None,
        seed: rng.random(),
    }
}

const HOME_IPS: &[&str] = &[
    "203.0.113.145",
    "203.0.113.201",
    "198.51.100.187",
    "192.0.2.66",
];

/// Reused buffers for the paths and ids of one event.
#[derive(Default)]
struct Scratch {
    scope: Vec<u8>,
    resource_id: Vec<u8>,
    correlation_id: Vec<u8>,
}

/// Record parts that are the same for every event of a caller or subscription, rendered once:
/// the role-assignment evidence, the issuer claim, the management-group hierarchy and the
/// policy details.
struct Fragments {
    /// `"evidence":{...},` per caller and subscription.
    evidence: Vec<Vec<u8>>,
    /// `"iss":"https://sts.windows.net/<tenant>/",`
    issuer: Vec<u8>,
    /// `"hierarchy":"<tenant>/mg-contoso/mg-landingzones/<subscription>"` per subscription.
    hierarchy: Vec<Vec<u8>>,
    /// `"isComplianceCheck":...,"policies":"...",` per subscription for audit (0) and deny (1).
    policy: Vec<[Vec<u8>; 2]>,
}

impl Fragments {
    fn new(world: &World) -> Fragments {
        let subscriptions = world.subscriptions.len();
        let mut evidence = Vec::with_capacity(world.callers.len() * subscriptions);
        for (caller_index, caller) in world.callers.iter().enumerate() {
            for (subscription_index, subscription) in world.subscriptions.iter().enumerate() {
                let assignment =
                    splitmix64(world.seed ^ (caller_index as u64) << 8 ^ subscription_index as u64);
                let mut out = Vec::with_capacity(512);
                out.extend_from_slice(b"\"evidence\":{");
                json::member_str(&mut out, "role", caller.role);
                json::key(&mut out, "roleAssignmentScope");
                out.extend_from_slice(b"\"/subscriptions/");
                out.extend_from_slice(subscription.id.as_bytes());
                out.extend_from_slice(b"\",");
                json::member_str(
                    &mut out,
                    "roleAssignmentId",
                    &format!("{:016x}{:016x}", assignment, splitmix64(assignment)),
                );
                json::member_str(
                    &mut out,
                    "roleDefinitionId",
                    &format!(
                        "{:016x}{:016x}",
                        splitmix64(caller.role.len() as u64),
                        assignment ^ 0x5a5a
                    ),
                );
                json::member_str(&mut out, "principalId", &caller.principal_id_hex);
                let principal_type = if caller.kind == CallerKind::User {
                    "User"
                } else {
                    "ServicePrincipal"
                };
                json::member_str(&mut out, "principalType", principal_type);
                json::close(&mut out, b'}');
                out.push(b',');
                evidence.push(out);
            }
        }
        let mut issuer = Vec::with_capacity(80);
        issuer.extend_from_slice(b"\"iss\":\"https://sts.windows.net/");
        issuer.extend_from_slice(world.tenant_id.as_bytes());
        issuer.extend_from_slice(b"/\",");
        let hierarchy = world
            .subscriptions
            .iter()
            .map(|subscription| {
                let mut out = Vec::with_capacity(128);
                json::key(&mut out, "hierarchy");
                json::str(
                    &mut out,
                    &format!(
                        "{}/mg-contoso/mg-landingzones/{}",
                        world.tenant_id, subscription.id
                    ),
                );
                out
            })
            .collect();
        let policy = world
            .subscriptions
            .iter()
            .map(|subscription| {
                [false, true].map(|deny| {
                    let (effect, assignment) = if deny {
                        ("Deny", "deny-public-ip")
                    } else {
                        ("Audit", "audit-storage-tls")
                    };
                    let policies = format!(
                        "[{{\"policyDefinitionId\":\"/providers/Microsoft.Authorization/policyDefinitions/{assignment}/\",\"policyDefinitionName\":\"{assignment}\",\"policyDefinitionEffect\":\"{effect}\",\"policyAssignmentId\":\"/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/{assignment}/\",\"policyAssignmentName\":\"{assignment}\",\"policyAssignmentScope\":\"/subscriptions/{}\"}}]",
                        subscription.id, subscription.id
                    );
                    let mut out = Vec::with_capacity(640);
                    json::member_str(&mut out, "isComplianceCheck", "False");
                    json::member_str(&mut out, "resourceLocation", subscription.location);
                    json::member_str(&mut out, "ancestors", &world.tenant_id);
                    json::member_str(&mut out, "policies", &policies);
                    out
                })
            })
            .collect();
        Fragments {
            evidence,
            issuer,
            hierarchy,
            policy,
        }
    }
}

/// `"key":"value",` for bytes built from safe parts (ids, table names, path segments).
fn member_bytes(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    json::key(out, name);
    out.push(b'"');
    out.extend_from_slice(value);
    out.extend_from_slice(b"\",");
}

/// Byte ranges of an event's records (one or two) in the output buffer, newline excluded.
struct RecordRanges {
    ranges: [(usize, usize); 2],
    count: usize,
}

impl RecordRanges {
    fn push(&mut self, range: (usize, usize)) {
        self.ranges[self.count] = range;
        self.count += 1;
    }

    fn as_slice(&self) -> &[(usize, usize)] {
        &self.ranges[..self.count]
    }
}

/// Writes the event's records into `out` (each followed by a newline) and returns their byte
/// ranges in `out`.
fn write_event_records(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    fragments: &Fragments,
    world: &World,
    rng: &mut StreamRng,
    event: &Event,
) -> RecordRanges {
    out.clear();
    let op = &OPERATIONS[event.operation];
    build_paths(scratch, world, event, op);
    let mut records = RecordRanges {
        ranges: [(0, 0); 2],
        count: 0,
    };
    // Requests refused up front (4xx: denied, invalid, conflicting, missing) never start an
    // operation, so only writes that succeed log a Start record first.
    let single = matches!(op.kind, OpKind::Read | OpKind::Policy)
        || matches!(event.outcome, Outcome::Failure { .. });
    let duration_ms: i64 = match (op.kind, event.outcome) {
        (_, Outcome::Failure { .. }) => rng.random_range(8..600),
        (OpKind::Read, _) => rng.random_range(5..180),
        (OpKind::Policy, _) => 0,
        (OpKind::Sync, _) => rng.random_range(150..4000),
        (OpKind::Async, _) => rng.random_range(800..20_000),
    };
    if !single {
        let start = out.len();
        write_record(
            out,
            scratch,
            fragments,
            world,
            rng,
            event,
            op,
            Phase::Start,
            0,
            event.time,
        );
        records.push((start, out.len() - 1));
    }
    let end_time = if single {
        event.time
    } else {
        event.time + duration_ms * 10_000
    };
    let phase = match (op.kind, event.outcome) {
        (_, Outcome::Failure { .. }) => Phase::Failure,
        (OpKind::Async, Outcome::Success) => Phase::Accept,
        _ => Phase::Success,
    };
    let start = out.len();
    write_record(
        out,
        scratch,
        fragments,
        world,
        rng,
        event,
        op,
        phase,
        duration_ms,
        end_time,
    );
    records.push((start, out.len() - 1));
    records
}

/// Two decimal digits (resource numbers are 1 to 99).
fn two_digits(out: &mut Vec<u8>, value: u32) {
    out.push(b'0' + (value / 10 % 10) as u8);
    out.push(b'0' + (value % 10) as u8);
}

fn build_paths(scratch: &mut Scratch, world: &World, event: &Event, op: &Operation) {
    let subscription = &world.subscriptions[event.subscription];
    let group =
        subscription.resource_groups[event.resource_group % subscription.resource_groups.len()];
    let scope = &mut scratch.scope;
    scope.clear();
    scope.extend_from_slice(b"/subscriptions/");
    scope.extend_from_slice(subscription.id.as_bytes());
    match op.scope {
        Scope::Subscription => {}
        Scope::ResourceGroup => {
            scope.extend_from_slice(b"/resourceGroups/");
            scope.extend_from_slice(group.as_bytes());
        }
        Scope::SubscriptionResource => {
            scope.extend_from_slice(b"/providers/");
            scope.extend_from_slice(op.provider.as_bytes());
            scope.push(b'/');
            scope.extend_from_slice(op.resource_type.as_bytes());
            scope.push(b'/');
            match op.name_prefix {
                "" => json::guid_from_raw(
                    scope,
                    splitmix64(event.time as u64 ^ event.caller as u64),
                    splitmix64(event.resource as u64),
                ),
                prefix => scope.extend_from_slice(prefix.as_bytes()),
            }
        }
        Scope::GroupResource => {
            let short = group.trim_start_matches("rg-");
            scope.extend_from_slice(b"/resourceGroups/");
            scope.extend_from_slice(group.as_bytes());
            scope.extend_from_slice(b"/providers/");
            scope.extend_from_slice(op.provider.as_bytes());
            scope.push(b'/');
            scope.extend_from_slice(op.resource_type.as_bytes());
            scope.push(b'/');
            if op.name_prefix == "st" {
                // Storage account names allow only lower-case letters and digits.
                scope.extend_from_slice(b"st");
                scope.extend(short.bytes().filter(|&b| b != b'-'));
            } else {
                scope.extend_from_slice(op.name_prefix.as_bytes());
                scope.push(b'-');
                scope.extend_from_slice(short.as_bytes());
                scope.push(b'-');
            }
            two_digits(scope, event.resource);
            if !op.child.is_empty() {
                scope.push(b'/');
                scope.extend_from_slice(op.child.as_bytes());
            }
        }
    }
    scratch.resource_id.clear();
    scratch.resource_id.extend_from_slice(scope);
    scratch.resource_id.make_ascii_uppercase();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Accept,
    Success,
    Failure,
}

#[allow(clippy::too_many_arguments)]
fn write_record(
    out: &mut Vec<u8>,
    scratch: &Scratch,
    fragments: &Fragments,
    world: &World,
    rng: &mut StreamRng,
    event: &Event,
    op: &Operation,
    phase: Phase,
    duration_ms: i64,
    time: i64,
) {
    let caller = &world.callers[event.caller];
    let subscription = &world.subscriptions[event.subscription];
    let policy = op.kind == OpKind::Policy;
    let category = if policy { "Policy" } else { "Administrative" };
    // (resultType, resultSignature prefix and suffix, level, statusCode)
    let (result_type, signature, signature_detail, level, status_code): (
        &str,
        &str,
        &str,
        &str,
        Option<&str>,
    ) = match (phase, event.outcome) {
        (Phase::Start, _) => ("Start", "Started.", "", "Informational", None),
        (Phase::Accept, _) => (
            "Accept",
            "Accepted.",
            op.success_status,
            "Informational",
            Some(op.success_status),
        ),
        (Phase::Success, _) if policy => ("Success", "Succeeded.", "", "Warning", Some("OK")),
        (Phase::Success, _) => (
            "Success",
            "Succeeded.",
            op.success_status,
            "Informational",
            Some(op.success_status),
        ),
        (Phase::Failure, Outcome::Failure { status, .. }) => {
            ("Failure", "Failed.", status, "Error", Some(status))
        }
        (Phase::Failure, Outcome::Success) => ("Failure", "Failed.", "", "Error", None),
    };
    let ip = event.ip.unwrap_or(caller.usual_ip);
    out.extend_from_slice(b"{\"time\":");
    json::datetime(out, time, 7);
    out.push(b',');
    member_bytes(out, "resourceId", &scratch.resource_id);
    json::member_safe(out, "operationName", op.name);
    json::member_safe(out, "category", category);
    json::member_safe(out, "resultType", result_type);
    out.extend_from_slice(b"\"resultSignature\":\"");
    out.extend_from_slice(signature.as_bytes());
    out.extend_from_slice(signature_detail.as_bytes());
    out.extend_from_slice(b"\",");
    json::member_int(out, "durationMs", duration_ms);
    json::member_safe(out, "callerIpAddress", ip);
    member_bytes(out, "correlationId", &scratch.correlation_id);
    out.extend_from_slice(b"\"identity\":{\"authorization\":{");
    member_bytes(out, "scope", &scratch.scope);
    json::member_safe(out, "action", op.name);
    if !(phase == Phase::Failure && event.outcome.is_denial()) {
        let index = event.caller * world.subscriptions.len() + event.subscription;
        out.extend_from_slice(&fragments.evidence[index]);
    }
    json::close(out, b'}');
    out.extend_from_slice(b",\"claims\":{\"aud\":\"https://management.core.windows.net/\",");
    out.extend_from_slice(&fragments.issuer);
    let issued = time / TICKS_PER_SECOND - 600 - (time / TICKS_PER_SECOND) % 1800;
    let mut number = itoa::Buffer::new();
    json::member_safe(out, "iat", number.format(issued));
    json::member_safe(out, "nbf", number.format(issued));
    json::member_safe(out, "exp", number.format(issued + 4200));
    if caller.kind == CallerKind::User {
        json::member_safe(out, "ipaddr", ip);
    }
    out.extend_from_slice(caller.claims_tail.as_bytes());
    out.extend_from_slice(b"}},");
    json::member_safe(out, "level", level);
    json::member_safe(out, "location", subscription.location);
    out.extend_from_slice(b"\"properties\":{");
    if let Some(status) = status_code {
        json::member_safe(out, "statusCode", status);
    }
    if phase == Phase::Start {
        out.extend_from_slice(b"\"serviceRequestId\":null,");
    } else {
        json::key(out, "serviceRequestId");
        json::guid(out, rng);
        out.push(b',');
    }
    if let (
        Phase::Failure,
        Outcome::Failure {
            error_code,
            message,
            ..
        },
    ) = (phase, event.outcome)
    {
        // The ARM error JSON as text, escaped in place: every part is safe, so the only
        // characters to escape are the quotes written here.
        out.extend_from_slice(b"\"statusMessage\":\"{\\\"error\\\":{\\\"code\\\":\\\"");
        out.extend_from_slice(error_code.as_bytes());
        out.extend_from_slice(b"\\\",\\\"message\\\":\\\"");
        if error_code == "AuthorizationFailed" {
            out.extend_from_slice(b"The client '");
            out.extend_from_slice(caller.principal_name.as_bytes());
            out.extend_from_slice(b"' with object id '");
            out.extend_from_slice(caller.object_id.as_bytes());
            out.extend_from_slice(b"' does not have authorization to perform action '");
            out.extend_from_slice(op.name.as_bytes());
            out.extend_from_slice(b"' over scope '");
            out.extend_from_slice(&scratch.scope);
            out.extend_from_slice(b"' or the scope is invalid.");
        } else {
            out.extend_from_slice(message.as_bytes());
        }
        out.extend_from_slice(b"\\\"}}\",");
    }
    if policy {
        let deny = usize::from(phase == Phase::Failure);
        out.extend_from_slice(&fragments.policy[event.subscription][deny]);
    }
    json::member_safe(out, "eventCategory", category);
    member_bytes(out, "entity", &scratch.resource_id);
    json::member_safe(out, "message", op.name);
    out.extend_from_slice(&fragments.hierarchy[event.subscription]);
    out.extend_from_slice(b"}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{APPS, PROVISIONING_ERRORS};

    /// Records write these table strings with `json::safe`, unchecked: none may need escaping.
    #[test]
    fn table_strings_need_no_escaping() {
        let mut strings: Vec<&str> = Vec::new();
        for op in OPERATIONS {
            strings.extend([
                op.name,
                op.provider,
                op.resource_type,
                op.name_prefix,
                op.child,
                op.success_status,
            ]);
        }
        for failure in BENIGN_FAILURES {
            strings.extend([failure.status, failure.error_code, failure.message]);
        }
        for error in &PROVISIONING_ERRORS {
            strings.extend([
                error.code,
                error.category,
                error.reason,
                error.additional_details,
                error.recommended_action,
            ]);
        }
        for app in APPS {
            strings.extend([
                app.display_name,
                app.template_id,
                app.source_system,
                app.target_system,
            ]);
            strings.extend(app.jobs);
        }
        strings.extend(HOME_IPS);
        let world = World::new(3, 2);
        let mut owned: Vec<String> = Vec::new();
        for caller in &world.callers {
            strings.extend([caller.usual_ip, caller.role]);
            owned.extend([
                caller.principal_name.clone(),
                caller.object_id.clone(),
                caller.principal_id_hex.clone(),
            ]);
        }
        for subscription in &world.subscriptions {
            strings.push(subscription.location);
            strings.extend(subscription.resource_groups);
            owned.push(subscription.id.clone());
        }
        for job in &world.jobs {
            owned.extend([
                job.job_id.clone(),
                job.service_principal_name.clone(),
                job.service_principal_id.clone(),
            ]);
        }
        owned.push(world.tenant_id.clone());
        for n in [0, 1, 1599, 1600, 4000] {
            let (display, local) = crate::world::user_name(n);
            owned.extend([display, local]);
        }
        for text in strings
            .iter()
            .copied()
            .chain(owned.iter().map(String::as_str))
        {
            assert!(json::is_safe(text), "{text:?} needs escaping");
        }
    }

    /// The hand-escaped statusMessage equals serialising the error JSON as a string.
    #[test]
    fn status_message_is_the_escaped_error_json() {
        let world = World::new(1, 1);
        let fragments = Fragments::new(&world);
        let mut scratch = Scratch::default();
        scratch.correlation_id.extend_from_slice(b"c0ffee");
        let event = Event {
            time: 17_776_000_000_000_000,
            caller: 0,
            operation: crate::world::OP_ROLE_ASSIGNMENT_WRITE,
            subscription: 1,
            resource_group: 0,
            resource: 1,
            outcome: Outcome::Failure {
                status: "Forbidden",
                error_code: "AuthorizationFailed",
                message: "",
            },
            ip: None,
            planted: None,
            seed: 7,
        };
        let op = &OPERATIONS[event.operation];
        build_paths(&mut scratch, &world, &event, op);
        let mut out = Vec::new();
        let mut rng = value_rng(1);
        write_record(
            &mut out,
            &scratch,
            &fragments,
            &world,
            &mut rng,
            &event,
            op,
            Phase::Failure,
            12,
            event.time,
        );
        let record: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        let message: serde_json::Value = serde_json::from_str(
            record["properties"]["statusMessage"]
                .as_str()
                .expect("statusMessage"),
        )
        .expect("statusMessage is JSON");
        let text = message["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(message["error"]["code"], "AuthorizationFailed");
        assert!(
            text.starts_with("The client 'megan.bowen@contoso.com' with object id '"),
            "{text}"
        );
        assert!(
            text.contains("/providers/Microsoft.Authorization/roleAssignments/"),
            "{text}"
        );
        assert!(
            record["identity"]["authorization"]
                .get("evidence")
                .is_none()
        );
    }
}
