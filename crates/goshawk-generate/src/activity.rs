//! Azure Activity logs in the diagnostic-settings shape. Each subscription's diagnostic setting
//! sends to either a storage account (hourly `PT1H.json` JSON Lines blobs) or an Event Hub
//! (`{"records":[...]}` messages).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::json::{self, TICKS_PER_HOUR, TICKS_PER_SECOND};
use crate::random::{
    StreamRng, chance, poisson, splitmix64, stream_rng, value_rng, weighted_index,
};
use crate::scenarios::PlantedActivity;
use crate::sink::{self, MessageWriter, WriteStats};
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
    writer: Option<(BufWriter<File>, PathBuf)>,
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
    out_dir: &Path,
) -> Result<(WriteStats, WriteStats), GenerateError> {
    let mut rng = stream_rng(world.seed, "activity", chunk.day);
    let tables = Tables::new(world);
    let storage_root = out_dir.join(crate::ACTIVITY_STORAGE_DIR);
    let mut storage = WriteStats::default();
    let mut messages =
        MessageWriter::new(out_dir.join(crate::ACTIVITY_EVENT_HUB_DIR), MESSAGE_RECORDS);
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
    let mut planted_next = planted.partition_point(|p| p.event.time < chunk.start);
    let success_rate = profile.success_events_per_hour() * f64::from(scale);
    let distinct_low = profile.distinct_failures_low();
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
        // The steady benign failures: a few distinct failing operations every hour.
        let distinct = distinct_low + usize::from(chance(&mut rng, 0.5));
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
            let repeats = u64::from(scale) * if chance(&mut rng, 0.15) { 2 } else { 1 };
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
            let correlation_id = match event.planted {
                Some(index) => planted[index].correlation_id.clone(),
                None => json::new_guid(&mut event_rng),
            };
            let records = write_event_records(
                &mut record,
                &mut scratch,
                world,
                &mut event_rng,
                event,
                &correlation_id,
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
                    blob.writer = Some((sink::create_file(&path)?, path));
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

/// Reused string buffers for the paths of one event.
#[derive(Default)]
struct Scratch {
    scope: String,
    resource_id: String,
    hierarchy: String,
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
    world: &World,
    rng: &mut StreamRng,
    event: &Event,
    correlation_id: &str,
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
            world,
            rng,
            event,
            op,
            Phase::Start,
            0,
            event.time,
            correlation_id,
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
        world,
        rng,
        event,
        op,
        phase,
        duration_ms,
        end_time,
        correlation_id,
    );
    records.push((start, out.len() - 1));
    records
}

fn build_paths(scratch: &mut Scratch, world: &World, event: &Event, op: &Operation) {
    use std::fmt::Write;
    let subscription = &world.subscriptions[event.subscription];
    let group =
        subscription.resource_groups[event.resource_group % subscription.resource_groups.len()];
    let scope = &mut scratch.scope;
    scope.clear();
    let _ = write!(scope, "/subscriptions/{}", subscription.id);
    match op.scope {
        Scope::Subscription => {}
        Scope::ResourceGroup => {
            let _ = write!(scope, "/resourceGroups/{group}");
        }
        Scope::SubscriptionResource => {
            let _ = write!(scope, "/providers/{}/{}/", op.provider, op.resource_type);
            match op.name_prefix {
                "" => scope.push_str(&json::guid_from(
                    splitmix64(event.time as u64 ^ event.caller as u64),
                    splitmix64(event.resource as u64),
                )),
                prefix => scope.push_str(prefix),
            }
        }
        Scope::GroupResource => {
            let short = group.trim_start_matches("rg-");
            let _ = write!(
                scope,
                "/resourceGroups/{group}/providers/{}/{}/",
                op.provider, op.resource_type
            );
            if op.name_prefix == "st" {
                let _ = write!(scope, "st{}{:02}", short.replace('-', ""), event.resource);
            } else {
                let _ = write!(scope, "{}-{short}-{:02}", op.name_prefix, event.resource);
            }
            if !op.child.is_empty() {
                scope.push('/');
                scope.push_str(op.child);
            }
        }
    }
    scratch.resource_id.clear();
    scratch.resource_id.push_str(scope);
    scratch.resource_id.make_ascii_uppercase();
    scratch.hierarchy.clear();
    let _ = write!(
        scratch.hierarchy,
        "{}/mg-contoso/mg-landingzones/{}",
        world.tenant_id, subscription.id
    );
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
    world: &World,
    rng: &mut StreamRng,
    event: &Event,
    op: &Operation,
    phase: Phase,
    duration_ms: i64,
    time: i64,
    correlation_id: &str,
) {
    let caller = &world.callers[event.caller];
    let subscription = &world.subscriptions[event.subscription];
    let policy = op.kind == OpKind::Policy;
    let category = if policy { "Policy" } else { "Administrative" };
    let (result_type, signature, level, status_code): (&str, String, &str, Option<&str>) =
        match (phase, event.outcome) {
            (Phase::Start, _) => ("Start", "Started.".into(), "Informational", None),
            (Phase::Accept, _) => (
                "Accept",
                format!("Accepted.{}", op.success_status),
                "Informational",
                Some(op.success_status),
            ),
            (Phase::Success, _) if policy => {
                ("Success", "Succeeded.".into(), "Warning", Some("OK"))
            }
            (Phase::Success, _) => (
                "Success",
                format!("Succeeded.{}", op.success_status),
                "Informational",
                Some(op.success_status),
            ),
            (Phase::Failure, Outcome::Failure { status, .. }) => {
                ("Failure", format!("Failed.{status}"), "Error", Some(status))
            }
            (Phase::Failure, Outcome::Success) => ("Failure", "Failed.".into(), "Error", None),
        };
    out.push(b'{');
    json::key(out, "time");
    json::datetime(out, time, 7);
    out.push(b',');
    json::member_str(out, "resourceId", &scratch.resource_id);
    json::member_str(out, "operationName", op.name);
    json::member_str(out, "category", category);
    json::member_str(out, "resultType", result_type);
    json::member_str(out, "resultSignature", &signature);
    json::member_int(out, "durationMs", duration_ms);
    json::member_str(out, "callerIpAddress", event.ip.unwrap_or(caller.usual_ip));
    json::member_str(out, "correlationId", correlation_id);
    out.extend_from_slice(b"\"identity\":{\"authorization\":{");
    json::member_str(out, "scope", &scratch.scope);
    json::member_str(out, "action", op.name);
    if !(phase == Phase::Failure && event.outcome.is_denial()) {
        let assignment =
            splitmix64(world.seed ^ (event.caller as u64) << 8 ^ event.subscription as u64);
        out.extend_from_slice(b"\"evidence\":{");
        json::member_str(out, "role", caller.role);
        json::key(out, "roleAssignmentScope");
        out.extend_from_slice(b"\"/subscriptions/");
        out.extend_from_slice(subscription.id.as_bytes());
        out.extend_from_slice(b"\",");
        json::member_str(
            out,
            "roleAssignmentId",
            &format!("{:016x}{:016x}", assignment, splitmix64(assignment)),
        );
        json::member_str(
            out,
            "roleDefinitionId",
            &format!(
                "{:016x}{:016x}",
                splitmix64(caller.role.len() as u64),
                assignment ^ 0x5a5a
            ),
        );
        json::member_str(out, "principalId", &caller.principal_id_hex);
        let principal_type = if caller.kind == CallerKind::User {
            "User"
        } else {
            "ServicePrincipal"
        };
        json::member_str(out, "principalType", principal_type);
        json::close(out, b'}');
        out.push(b',');
    }
    json::close(out, b'}');
    out.extend_from_slice(b",\"claims\":{");
    json::member_str(out, "aud", "https://management.core.windows.net/");
    out.extend_from_slice(b"\"iss\":\"https://sts.windows.net/");
    out.extend_from_slice(world.tenant_id.as_bytes());
    out.extend_from_slice(b"/\",");
    let issued = time / TICKS_PER_SECOND - 600 - (time / TICKS_PER_SECOND) % 1800;
    json::member_str(out, "iat", itoa::Buffer::new().format(issued));
    json::member_str(out, "nbf", itoa::Buffer::new().format(issued));
    json::member_str(out, "exp", itoa::Buffer::new().format(issued + 4200));
    if caller.kind == CallerKind::User {
        json::member_str(out, "ipaddr", event.ip.unwrap_or(caller.usual_ip));
    }
    out.extend_from_slice(caller.claims_tail.as_bytes());
    out.extend_from_slice(b"}},");
    json::member_str(out, "level", level);
    json::member_str(out, "location", subscription.location);
    out.extend_from_slice(b"\"properties\":{");
    if let Some(status) = status_code {
        json::member_str(out, "statusCode", status);
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
        let mut status_message = String::with_capacity(256);
        status_message.push_str("{\"error\":{\"code\":\"");
        status_message.push_str(error_code);
        status_message.push_str("\",\"message\":\"");
        if error_code == "AuthorizationFailed" {
            status_message.push_str(&format!(
                "The client '{}' with object id '{}' does not have authorization to perform action '{}' over scope '{}' or the scope is invalid.",
                caller.principal_name, caller.object_id, op.name, scratch.scope
            ));
        } else {
            status_message.push_str(message);
        }
        status_message.push_str("\"}}");
        json::member_str(out, "statusMessage", &status_message);
    }
    if policy {
        let effect = if phase == Phase::Failure {
            "Deny"
        } else {
            "Audit"
        };
        let assignment = if phase == Phase::Failure {
            "deny-public-ip"
        } else {
            "audit-storage-tls"
        };
        let policies = format!(
            "[{{\"policyDefinitionId\":\"/providers/Microsoft.Authorization/policyDefinitions/{assignment}/\",\"policyDefinitionName\":\"{assignment}\",\"policyDefinitionEffect\":\"{effect}\",\"policyAssignmentId\":\"/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/{assignment}/\",\"policyAssignmentName\":\"{assignment}\",\"policyAssignmentScope\":\"/subscriptions/{}\"}}]",
            subscription.id, subscription.id
        );
        json::member_str(out, "isComplianceCheck", "False");
        json::member_str(out, "resourceLocation", subscription.location);
        json::member_str(out, "ancestors", &world.tenant_id);
        json::member_str(out, "policies", &policies);
    }
    json::member_str(out, "eventCategory", category);
    json::member_str(out, "entity", &scratch.resource_id);
    json::member_str(out, "message", op.name);
    json::member_str(out, "hierarchy", &scratch.hierarchy);
    json::close(out, b'}');
    out.extend_from_slice(b"}\n");
}
