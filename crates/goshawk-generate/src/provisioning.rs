//! Entra ID provisioning logs: Microsoft Graph `provisioningObjectSummary` objects, written as
//! Graph API result pages before the diagnostic setting existed and as Azure Monitor
//! diagnostic-settings records (Event Hub messages) after it.

use rand::Rng;

use crate::json::{self, TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_SECOND};
use crate::random::{
    StreamRng, chance, poisson, splitmix64, stream_rng, value_rng, weighted_index,
};
use crate::scenarios::PlantedProvisioning;
use crate::sink::{GraphPager, MessageWriter, Output, WriteStats};
use crate::world::{self, CYCLE_TICKS, Flow, PROVISIONING_ERRORS, World};
use crate::{Chunk, GenerateError, Profile, Window};

/// Records per Graph page (the API's `$top` maximum for this endpoint).
pub(crate) const GRAPH_PAGE_SIZE: usize = 1000;
/// Records per diagnostic-settings message.
pub(crate) const MESSAGE_RECORDS: usize = 100;

/// Graph's `provisioningAction` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Create,
    Update,
    Delete,
    Disable,
    StagedDelete,
    Other,
}

impl Action {
    const ALL: [Action; 6] = [
        Action::Update,
        Action::Create,
        Action::Other,
        Action::Disable,
        Action::StagedDelete,
        Action::Delete,
    ];
    /// Background mix in percent, in the order of [`Action::ALL`].
    pub(crate) const MIX_PERCENT: [u32; 6] = [50, 16, 12, 9, 7, 6];

    pub(crate) fn graph_name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Disable => "disable",
            Action::StagedDelete => "stagedDelete",
            Action::Other => "other",
        }
    }

    fn step_verb(self) -> &'static str {
        match self {
            Action::Create => "Add",
            Action::Update | Action::Disable | Action::Other => "Update",
            Action::Delete | Action::StagedDelete => "Delete",
        }
    }
}

/// Graph's `provisioningResult` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Failure,
    Skipped,
    Warning,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::Success,
        Status::Skipped,
        Status::Failure,
        Status::Warning,
    ];
    /// Background mix in tenths of a percent, in the order of [`Status::ALL`].
    pub(crate) const MIX_PERMILLE: [u32; 4] = [855, 85, 35, 25];

    fn graph_name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
        }
    }

    fn result_type(self) -> &'static str {
        match self {
            Status::Success => "Success",
            Status::Failure => "Failure",
            Status::Skipped => "Skipped",
            // Log Analytics documents only Success, Failure and Skipped; a warning is an
            // operation that went through with caveats.
            Status::Warning => "Success",
        }
    }
}

/// One provisioning event before serialisation.
pub(crate) struct Spec {
    pub time: i64,
    pub job: usize,
    pub cycle: i64,
    pub action: Action,
    pub status: Status,
    pub error: Option<usize>,
    pub user: u64,
    /// Index into the planted scenario records, which fix the id and the error text.
    pub planted: Option<usize>,
    /// Seeds the record details (ids, durations, attribute values).
    pub seed: u64,
}

/// Streams the provisioning logs of one day (`chunk`); returns (Graph pages, messages) stats.
/// A day owns the records whose time falls in it: cycles are planned hour by hour, each hour
/// from its own generator, so the previous day's last hour is planned again here for the
/// records of cycles that pass midnight. Records before the tenant created its diagnostic
/// setting (a midnight, so a whole day is on one side) were exported from the Graph API a day
/// at a time; later ones arrived through the Event Hub.
pub(crate) fn generate(
    world: &World,
    window: &Window,
    planted: &[PlantedProvisioning],
    chunk: &Chunk,
    profile: Profile,
    out: &Output,
) -> Result<(WriteStats, WriteStats), GenerateError> {
    let day_start = chunk.day * TICKS_PER_DAY;
    let day_end = day_start + TICKS_PER_DAY;
    let to_graph = day_start < window.diagnostic_setting_created;
    let mut pager = GraphPager::new(
        out.dir.join(crate::GRAPH_DIR),
        chunk.day,
        GRAPH_PAGE_SIZE,
        out.discard,
    );
    let mut messages = MessageWriter::new(
        out.dir.join(crate::PROVISIONING_EVENT_HUB_DIR),
        MESSAGE_RECORDS,
        out.discard,
    );
    let mut specs: Vec<Spec> = Vec::new();
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut object = Vec::with_capacity(8 * 1024);
    let first_hour = window.start.div_euclid(TICKS_PER_HOUR) * TICKS_PER_HOUR;
    let previous_hour = chunk.start - TICKS_PER_HOUR;
    let hours = (previous_hour >= first_hour)
        .then_some(previous_hour)
        .into_iter()
        .chain(chunk.hours());
    let mut planted_next = planted.partition_point(|p| p.time < day_start);
    for hour_start in hours {
        let hour_end = hour_start + TICKS_PER_HOUR;
        specs.clear();
        let mut rng = stream_rng(
            world.seed,
            "provisioning",
            hour_start.div_euclid(TICKS_PER_HOUR),
        );
        background_hour(world, window, &mut rng, hour_start, profile, &mut specs);
        specs.retain(|spec| spec.time >= day_start && spec.time < day_end);
        while planted_next < planted.len() && planted[planted_next].time < hour_end.min(day_end) {
            let plant = &planted[planted_next];
            specs.push(Spec {
                time: plant.time,
                job: plant.job,
                cycle: plant.cycle,
                action: plant.action,
                status: Status::Failure,
                error: Some(plant.error),
                user: plant.user,
                planted: Some(planted_next),
                seed: splitmix64(world.seed ^ 0x9a17_ed00 ^ planted_next as u64),
            });
            planted_next += 1;
        }
        specs.sort_by_key(|spec| (spec.time, spec.job, spec.planted));
        for spec in &specs {
            if spec.time < window.start || spec.time >= window.end {
                continue;
            }
            buf.clear();
            let plant = spec.planted.map(|index| &planted[index]);
            let mut rng = value_rng(spec.seed);
            if to_graph {
                write_object(&mut buf, world, &mut rng, spec, plant);
                pager.push(&buf)?;
            } else {
                write_diagnostic_record(&mut buf, &mut object, world, &mut rng, spec, plant);
                messages.push(spec.time, &buf)?;
            }
        }
    }
    pager.finish()?;
    messages.finish()?;
    Ok((pager.stats, messages.stats))
}

/// Expected changes per cycle of a job at a time: a floor of overnight deltas plus changes that
/// follow the working day (HR edits, joiners and leavers).
pub(crate) fn changes_per_cycle(peak: f64, ticks: i64) -> f64 {
    peak * (0.15 + world::activity_factor(ticks) / 1.9)
}

fn background_hour(
    world: &World,
    window: &Window,
    rng: &mut StreamRng,
    hour_start: i64,
    profile: Profile,
    specs: &mut Vec<Spec>,
) {
    let rate = profile.provisioning_rate();
    let hour_end = hour_start + TICKS_PER_HOUR;
    for (job_index, job) in world.jobs.iter().enumerate() {
        let base = window.start + job.cycle_offset;
        let first = (hour_start - base).div_euclid(CYCLE_TICKS) + 1;
        let first = if base + (first - 1) * CYCLE_TICKS >= hour_start {
            first - 1
        } else {
            first
        };
        let mut k = first;
        while base + k * CYCLE_TICKS < hour_end {
            let start = world.cycle_start(job_index, window.start, k);
            let count = poisson(
                rng,
                rate * changes_per_cycle(job.app.peak_changes_per_cycle, start),
            );
            let mut time = start + 4 * TICKS_PER_SECOND;
            for _ in 0..count {
                time += rng.random_range(TICKS_PER_SECOND..6 * TICKS_PER_SECOND);
                let status = Status::ALL[weighted_index(rng, &Status::MIX_PERMILLE)];
                let error = match status {
                    Status::Failure => Some(weighted_index(rng, &job.app.error_weights)),
                    _ => None,
                };
                specs.push(Spec {
                    time,
                    job: job_index,
                    cycle: k,
                    action: Action::ALL[weighted_index(rng, &Action::MIX_PERCENT)],
                    status,
                    error,
                    user: rng.random_range(0..world.directory_users),
                    planted: None,
                    seed: rng.random(),
                });
            }
            k += 1;
        }
    }
}

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Finance",
    "Engineering",
    "Marketing",
    "Operations",
    "Legal",
    "Support",
    "HR",
];
const TITLES: &[&str] = &[
    "Account Executive",
    "Analyst",
    "Software Engineer",
    "Product Manager",
    "Accountant",
    "Support Engineer",
    "Recruiter",
    "Counsel",
    "Designer",
    "Team Lead",
];
const GROUPS: &[&str] = &[
    "All Sales",
    "Finance Readers",
    "Engineering",
    "AWS-Developers",
    "AWS-ReadOnly",
    "ServiceNow ITIL",
    "GitHub Maintainers",
    "Slack Guests",
    "Marketing",
    "Support Tier 2",
];

fn is_group_job(world: &World, spec: &Spec) -> bool {
    let job = &world.jobs[spec.job];
    job.app.flow == Flow::OutboundScim && job.label == "groups"
}

/// Writes a Graph `provisioningObjectSummary`; returns the change id (the correlation id of
/// the diagnostic record) and the error text.
fn write_object(
    buf: &mut Vec<u8>,
    world: &World,
    rng: &mut StreamRng,
    spec: &Spec,
    plant: Option<&PlantedProvisioning>,
) -> (String, Option<String>, i64) {
    let job = &world.jobs[spec.job];
    let app = job.app;
    let group = is_group_job(world, spec);
    let (display_name, local) = if group {
        let name = GROUPS[(spec.user % GROUPS.len() as u64) as usize];
        (
            name.to_string(),
            name.to_ascii_lowercase().replace(' ', "-"),
        )
    } else {
        world::user_name(spec.user)
    };
    let object_name = if group {
        display_name.clone()
    } else {
        format!("{local}@contoso.com")
    };
    let change_id = json::new_guid(rng);
    let duration_ms: i64 = match spec.status {
        Status::Failure => rng.random_range(900..9000),
        Status::Skipped => rng.random_range(20..300),
        _ => rng.random_range(150..2500),
    };
    let reason = spec
        .error
        .map(|error| match plant.and_then(|p| p.reason.as_ref()) {
            Some(reason) => reason.clone(),
            None => PROVISIONING_ERRORS[error]
                .reason
                .replace("{object}", &object_name)
                .replace("{target}", app.target_system),
        });
    buf.push(b'{');
    match plant {
        Some(plant) => json::member_safe(buf, "id", &plant.record_id),
        None => {
            json::key(buf, "id");
            json::guid(buf, rng);
            buf.push(b',');
        }
    }
    json::key(buf, "activityDateTime");
    json::datetime(buf, spec.time, 7);
    buf.push(b',');
    json::member_safe(buf, "tenantId", &world.tenant_id);
    json::member_safe(buf, "jobId", &job.job_id);
    json::member_safe(buf, "cycleId", &world.cycle_id(spec.job, spec.cycle));
    json::member_safe(buf, "changeId", &change_id);
    json::member_safe(buf, "provisioningAction", spec.action.graph_name());
    json::member_int(buf, "durationInMilliseconds", duration_ms);
    buf.extend_from_slice(
        b"\"initiatedBy\":{\"id\":\"\",\"displayName\":\"Azure AD Provisioning Service\",\"initiatorType\":\"system\"},",
    );
    buf.extend_from_slice(b"\"servicePrincipal\":{");
    json::member_safe(buf, "id", &job.service_principal_id);
    json::member_safe(buf, "displayName", &job.service_principal_name);
    json::close(buf, b'}');
    buf.extend_from_slice(b",\"sourceSystem\":{");
    json::member_safe(buf, "id", &job.source_system_id);
    json::member_safe(buf, "displayName", app.source_system);
    buf.extend_from_slice(b"\"details\":{}},\"targetSystem\":{");
    json::member_safe(buf, "id", &job.target_system_id);
    json::member_safe(buf, "displayName", app.target_system);
    buf.extend_from_slice(b"\"details\":{}},");
    let identity_type = if group { "Group" } else { "User" };
    let source_key = splitmix64(spec.user ^ job.key.rotate_left(7));
    let target_key = splitmix64(source_key ^ 0x7a);
    buf.extend_from_slice(b"\"sourceIdentity\":{");
    json::member_safe(buf, "id", &source_id(app.flow, spec.user, source_key));
    json::member_safe(buf, "displayName", &display_name);
    json::member_safe(buf, "identityType", identity_type);
    buf.extend_from_slice(b"\"details\":{");
    if !group {
        json::member_safe(buf, "userPrincipalName", &object_name);
    }
    json::close(buf, b'}');
    buf.extend_from_slice(b"},\"targetIdentity\":{");
    let target_known = !(spec.action == Action::Create && spec.status != Status::Success);
    let target_id = if target_known {
        json::guid_from(target_key, source_key)
    } else {
        String::new()
    };
    json::member_safe(buf, "id", &target_id);
    json::member_safe(buf, "displayName", &display_name);
    json::member_safe(buf, "identityType", identity_type);
    buf.extend_from_slice(b"\"details\":{}},\"provisioningStatusInfo\":{");
    json::member_safe(buf, "status", spec.status.graph_name());
    json::key(buf, "errorInformation");
    match (spec.error, &reason) {
        (Some(error), Some(reason)) => {
            let kind = &PROVISIONING_ERRORS[error];
            buf.push(b'{');
            json::member_safe(buf, "errorCode", kind.code);
            json::member_str(buf, "reason", reason);
            json::member_safe(buf, "additionalDetails", kind.additional_details);
            json::member_safe(buf, "errorCategory", kind.category);
            json::member_safe(buf, "recommendedAction", kind.recommended_action);
            json::close(buf, b'}');
        }
        _ => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b"},\"provisioningSteps\":[");
    write_steps(
        buf,
        app,
        spec,
        identity_type,
        &object_name,
        reason.as_deref(),
    );
    buf.extend_from_slice(b"],\"modifiedProperties\":[");
    if spec.status != Status::Skipped {
        write_modified_properties(buf, rng, spec, &display_name, &object_name, group);
    }
    buf.extend_from_slice(b"]}");
    (change_id, reason, duration_ms)
}

/// The id an identity has in the source system of the flow.
fn source_id(flow: Flow, user: u64, key: u64) -> String {
    match flow {
        // Workday worker ids are numeric employee ids.
        Flow::InboundHr => format!("{}", 21_000 + user),
        Flow::OutboundScim | Flow::CloudSync => json::guid_from(key, key.rotate_left(17)),
    }
}

/// A provisioning step; the name and description are concatenations of safe parts (table
/// texts, verbs, object names), unless `unsafe_description` is given (an error reason).
fn step(
    buf: &mut Vec<u8>,
    name: &[&str],
    step_type: &str,
    status: &str,
    description: &[&str],
    unsafe_description: Option<&str>,
) {
    buf.extend_from_slice(b"{\"name\":\"");
    for part in name {
        buf.extend_from_slice(part.as_bytes());
    }
    buf.extend_from_slice(b"\",\"description\":");
    match unsafe_description {
        Some(text) => json::str(buf, text),
        None => {
            buf.push(b'"');
            for part in description {
                debug_assert!(json::is_safe(part), "{part:?}");
                buf.extend_from_slice(part.as_bytes());
            }
            buf.push(b'"');
        }
    }
    buf.push(b',');
    json::member_safe(buf, "provisioningStepType", step_type);
    json::member_safe(buf, "status", status);
    buf.extend_from_slice(b"\"details\":{}},");
}

fn write_steps(
    buf: &mut Vec<u8>,
    app: &world::AppTemplate,
    spec: &Spec,
    identity_type: &str,
    object: &str,
    reason: Option<&str>,
) {
    let verb = spec.action.step_verb();
    let source = app.source_system;
    let target = app.target_system;
    step(
        buf,
        &["EntryImport", verb],
        "import",
        "success",
        &[
            "Received ",
            identity_type,
            " '",
            object,
            "' change of type (",
            verb,
            ") from ",
            source,
        ],
        None,
    );
    if spec.status == Status::Skipped {
        step(
            buf,
            &["EntitlementEvaluation"],
            "scoping",
            "skipped",
            &[
                identity_type,
                " '",
                object,
                "' will be skipped: it is not assigned to the application or not in scope (NotEffectivelyEntitled)",
            ],
            None,
        );
        if buf.last() == Some(&b',') {
            buf.pop();
        }
        return;
    }
    step(
        buf,
        &["EntitlementEvaluation"],
        "scoping",
        "success",
        &[
            "Determine if ",
            identity_type,
            " in scope by evaluating against each scoping filter",
        ],
        None,
    );
    let past = past(spec.action);
    step(
        buf,
        &["EntrySynchronization", verb],
        "matching",
        "success",
        &[
            identity_type,
            " '",
            object,
            "' was matched in ",
            target,
            " and will be ",
            past,
        ],
        None,
    );
    let export = ["EntryExport", verb];
    match spec.status {
        Status::Failure => step(
            buf,
            &export,
            "export",
            "failure",
            &[],
            Some(reason.unwrap_or("")),
        ),
        Status::Warning => step(
            buf,
            &export,
            "export",
            "warning",
            &[
                identity_type,
                " '",
                object,
                "' was ",
                past,
                " in ",
                target,
                ", but some attribute values were not exported",
            ],
            None,
        ),
        _ => step(
            buf,
            &export,
            "export",
            "success",
            &[identity_type, " '", object, "' was ", past, " in ", target],
            None,
        ),
    }
    if buf.last() == Some(&b',') {
        buf.pop();
    }
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update | Action::Other => "updated",
        Action::Delete => "deleted",
        Action::Disable => "disabled",
        Action::StagedDelete => "soft-deleted",
    }
}

fn property(buf: &mut Vec<u8>, name: &str, old: Option<&str>, new: &str) {
    buf.push(b'{');
    json::member_safe(buf, "displayName", name);
    json::key(buf, "oldValue");
    match old {
        Some(old) => json::safe(buf, old),
        None => buf.extend_from_slice(b"null"),
    }
    buf.push(b',');
    json::key(buf, "newValue");
    json::safe(buf, new);
    buf.extend_from_slice(b"},");
}

fn write_modified_properties(
    buf: &mut Vec<u8>,
    rng: &mut StreamRng,
    spec: &Spec,
    display_name: &str,
    object: &str,
    group: bool,
) {
    let pick = |rng: &mut StreamRng, list: &[&'static str]| list[rng.random_range(0..list.len())];
    match spec.action {
        Action::Create if group => {
            property(buf, "displayName", None, display_name);
            property(buf, "externalId", None, object);
        }
        Action::Create => {
            property(buf, "accountEnabled", None, "True");
            property(buf, "displayName", None, display_name);
            property(buf, "userPrincipalName", None, object);
            property(buf, "department", None, pick(rng, DEPARTMENTS));
        }
        Action::Update if group => {
            property(buf, "members", None, "1 member added");
        }
        Action::Update => {
            let old = pick(rng, DEPARTMENTS);
            let new = pick(rng, DEPARTMENTS);
            property(buf, "department", Some(old), new);
            if chance(rng, 0.4) {
                property(buf, "jobTitle", Some(pick(rng, TITLES)), pick(rng, TITLES));
            }
        }
        Action::Disable => property(buf, "accountEnabled", Some("True"), "False"),
        Action::StagedDelete | Action::Delete | Action::Other => {}
    }
    if buf.last() == Some(&b',') {
        buf.pop();
    }
}

/// The Azure Monitor diagnostic-settings record: the envelope columns followed by the Graph
/// object under `properties`. The envelope is written after the object because it repeats
/// values (change id, error text, duration) that the object decides.
fn write_diagnostic_record(
    buf: &mut Vec<u8>,
    object: &mut Vec<u8>,
    world: &World,
    rng: &mut StreamRng,
    spec: &Spec,
    plant: Option<&PlantedProvisioning>,
) {
    object.clear();
    let (change_id, reason, duration_ms) = write_object(object, world, rng, spec, plant);
    buf.push(b'{');
    json::key(buf, "time");
    json::datetime(buf, spec.time, 7);
    buf.push(b',');
    buf.extend_from_slice(b"\"resourceId\":\"/tenants/");
    buf.extend_from_slice(world.tenant_id.as_bytes());
    buf.extend_from_slice(b"/providers/Microsoft.aadiam\",");
    json::member_safe(buf, "operationName", "Provisioning activity");
    json::member_safe(buf, "operationVersion", "1.0");
    json::member_safe(buf, "category", "ProvisioningLogs");
    json::member_safe(buf, "tenantId", &world.tenant_id);
    json::member_safe(buf, "resultType", spec.status.result_type());
    let signature = spec
        .error
        .map_or("None", |error| PROVISIONING_ERRORS[error].code);
    json::member_safe(buf, "resultSignature", signature);
    json::member_str(buf, "resultDescription", reason.as_deref().unwrap_or(""));
    json::member_int(buf, "durationMs", duration_ms);
    json::member_safe(buf, "callerIpAddress", "");
    json::member_safe(buf, "correlationId", &change_id);
    json::member_safe(buf, "identity", "Azure AD Provisioning Service");
    json::member_safe(buf, "level", "Informational");
    json::member_safe(buf, "location", "");
    json::key(buf, "properties");
    buf.extend_from_slice(object);
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects write these with `json::safe`, unchecked: none may need escaping.
    #[test]
    fn table_strings_need_no_escaping() {
        for text in DEPARTMENTS.iter().chain(TITLES).chain(GROUPS) {
            assert!(json::is_safe(text), "{text:?}");
        }
        for action in Action::ALL {
            assert!(json::is_safe(action.graph_name()) && json::is_safe(past(action)));
        }
    }
}
