//! The planted scenarios and their ground truth. The plan is small (a few hundred events) and
//! is decided before the streams run, so the streams only merge it into their hours.

use rand::Rng;
use serde_json::{Value, json};

use crate::Window;
use crate::activity::{Event, Outcome};
use crate::json::{self, TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND};
use crate::provisioning::Action;
use crate::random::{StreamRng, chance, stream_rng};
use crate::world::{
    self, CALLER_ADMIN, CALLER_AUTOMATION, CALLER_COMPROMISED_USER, CALLER_TERRAFORM, CYCLE_TICKS,
    OP_KEYVAULT_READ, OP_POLICY_ASSIGNMENT_WRITE, OP_POLICY_DENY, OP_RESOURCE_GROUP_READ,
    OP_ROLE_ASSIGNMENT_WRITE, OP_STORAGE_LIST_KEYS, OP_SUBSCRIPTION_READ, OP_VM_START, OPERATIONS,
    PROVISIONING_ERRORS, SCHEMA_ATTRIBUTE_NOT_FOUND, SCIM_BAD_RESPONSE, SUB_FINANCE,
    SUB_PRODUCTION, SUB_SHARED, World,
};

/// The reference hunting query: per JobId, service principal and ResultSignature over 30 days,
/// Failures >= 10 and failures on >= 3 distinct days.
pub const HUNT_01: &str = "HUNT-01";
/// Elastic ML `rare` on the operation name of failed Azure Activity records, 60-minute buckets.
pub const ML_RARE_FAILING_OPERATION: &str = "ML-rare-failing-operation";
/// A typical per-hour/per-day threshold analytic rule (e.g. >= 5 failures of one job in 1 h).
pub const BURST_THRESHOLD_RULE: &str = "threshold-burst-rule";

/// The IP the compromised identity uses; it never appears in the background.
pub const ATTACKER_IP: &str = "185.220.101.47";

pub(crate) struct PlantedProvisioning {
    pub time: i64,
    pub job: usize,
    pub cycle: i64,
    pub action: Action,
    pub error: usize,
    pub user: u64,
    pub record_id: String,
    pub reason: Option<String>,
}

pub(crate) struct PlantedActivity {
    pub event: Event,
    pub correlation_id: String,
}

pub(crate) struct Plan {
    pub provisioning: Vec<PlantedProvisioning>,
    pub activity: Vec<PlantedActivity>,
    pub ground_truth: Vec<Value>,
}

fn timestamp(ticks: i64) -> String {
    let mut buf = Vec::with_capacity(28);
    json::datetime_raw(&mut buf, ticks, 7);
    String::from_utf8_lossy(&buf).into_owned()
}

fn find_job(world: &World, template_id: &str, label: &str) -> usize {
    world
        .jobs
        .iter()
        .position(|job| job.app.template_id == template_id && job.label == label)
        .unwrap_or(0)
}

fn cycle_containing(world: &World, window: &Window, job: usize, ticks: i64) -> i64 {
    (ticks - window.start - world.jobs[job].cycle_offset).div_euclid(CYCLE_TICKS)
}

fn upn(user: u64) -> String {
    format!("{}@contoso.com", world::user_name(user).1)
}

pub(crate) fn plan(world: &World, window: &Window) -> Plan {
    let mut rng = stream_rng(world.seed, "scenarios", 0);
    let anchor = window.end.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY;
    let mut plan = Plan {
        provisioning: Vec::new(),
        activity: Vec::new(),
        ground_truth: Vec::new(),
    };
    schema_drift(world, window, anchor, &mut rng, &mut plan);
    low_and_slow(world, window, anchor, &mut rng, &mut plan);
    compromised_identity(world, anchor, &mut rng, &mut plan);
    automation_rollout(world, anchor, &mut rng, &mut plan);
    policy_rollout(world, anchor, &mut rng, &mut plan);
    plan.provisioning.sort_by_key(|p| p.time);
    plan.activity.sort_by_key(|p| p.event.time);
    plan
}

fn distinct_days(times: &[i64]) -> usize {
    let mut days: Vec<i64> = times.iter().map(|t| t.div_euclid(TICKS_PER_DAY)).collect();
    days.sort_unstable();
    days.dedup();
    days.len()
}

fn provisioning_truth(
    world: &World,
    plants: &[PlantedProvisioning],
    job: usize,
    error: usize,
) -> serde_json::Map<String, Value> {
    let times: Vec<i64> = plants.iter().map(|p| p.time).collect();
    let job_ref = &world.jobs[job];
    let mut users: Vec<String> = plants.iter().map(|p| upn(p.user)).collect();
    users.sort();
    users.dedup();
    let mut map = serde_json::Map::new();
    map.insert("table".into(), json!("AADProvisioningLogs"));
    map.insert(
        "entities".into(),
        json!({
            "service_principal": job_ref.service_principal_name,
            "service_principal_id": job_ref.service_principal_id,
            "job_id": job_ref.job_id,
            "result_signature": PROVISIONING_ERRORS[error].code,
            "users": users,
        }),
    );
    map.insert(
        "time_start".into(),
        json!(timestamp(times.iter().copied().min().unwrap_or(0))),
    );
    map.insert(
        "time_end".into(),
        json!(timestamp(times.iter().copied().max().unwrap_or(0))),
    );
    map.insert("failures".into(), json!(plants.len()));
    map.insert("failure_days".into(), json!(distinct_days(&times)));
    map.insert(
        "record_ids".into(),
        json!(
            plants
                .iter()
                .map(|p| p.record_id.as_str())
                .collect::<Vec<_>>()
        ),
    );
    map
}

/// (a) A ServiceNow attribute was renamed; the users job fails with SchemaAttributeNotFound in
/// most cycles for four days until the mapping is fixed.
fn schema_drift(world: &World, window: &Window, anchor: i64, rng: &mut StreamRng, plan: &mut Plan) {
    let job = find_job(world, "ServiceNowOutDelta", "users");
    let begin = anchor - 12 * TICKS_PER_DAY + 9 * TICKS_PER_HOUR + 30 * TICKS_PER_MINUTE;
    let end = begin + 4 * TICKS_PER_DAY + 90 * TICKS_PER_MINUTE;
    let mut plants = Vec::new();
    let mut k = cycle_containing(world, window, job, begin) + 1;
    while world.cycle_start(job, window.start, k) < end {
        if chance(rng, 0.55) {
            let user = rng.random_range(0..world.directory_users);
            let action = if chance(rng, 0.8) {
                Action::Update
            } else {
                Action::Create
            };
            let start = world.cycle_start(job, window.start, k);
            plants.push(PlantedProvisioning {
                time: start + 6 * TICKS_PER_SECOND + rng.random_range(0..20 * TICKS_PER_SECOND),
                job,
                cycle: k,
                action,
                error: SCHEMA_ATTRIBUTE_NOT_FOUND,
                user,
                record_id: json::new_guid(rng),
                reason: Some(format!(
                    "Unable to process '{}': the attribute 'u_cost_center' mapped to ServiceNow was not found in the target schema.",
                    upn(user)
                )),
            });
        }
        k += 1;
    }
    let mut truth = provisioning_truth(world, &plants, job, SCHEMA_ATTRIBUTE_NOT_FOUND);
    truth.insert("scenario".into(), json!("a"));
    truth.insert("name".into(), json!("schema-drift-connector-failure"));
    truth.insert(
        "description".into(),
        json!("The ServiceNow attribute u_cost_center was renamed; every few cycles the users job fails with SchemaAttributeNotFound for four days until the attribute mapping is fixed."),
    );
    let failures = plants.len();
    let days = distinct_days(&plants.iter().map(|p| p.time).collect::<Vec<_>>());
    truth.insert(
        "detections".into(),
        json!([
            {"detection": HUNT_01, "should_fire": true,
             "why": format!("{failures} planted failures with one JobId, service principal and ResultSignature on {days} distinct days: Failures >= 10 and Sustained >= 3")},
            {"detection": ML_RARE_FAILING_OPERATION, "should_fire": false,
             "why": "provisioning records are not Azure Activity records"},
        ]),
    );
    plan.provisioning.extend(plants);
    plan.ground_truth.push(Value::Object(truth));
}

/// (b) Someone keeps pushing two accounts into a privileged AWS group; AWS rejects each attempt.
/// One or two failures on working days, never two in the same hour.
fn low_and_slow(world: &World, window: &Window, anchor: i64, rng: &mut StreamRng, plan: &mut Plan) {
    let job = find_job(world, "aWSSingleSignOn", "users");
    let accounts = [1337 % world.directory_users, 421 % world.directory_users];
    let first_day = anchor - 20 * TICKS_PER_DAY;
    let mut plants = Vec::new();
    for day in 0..17 {
        let day_start = first_day + day * TICKS_PER_DAY;
        if world::weekday(day_start) >= 5 {
            continue;
        }
        let count = if chance(rng, 0.4) { 2 } else { 1 };
        let first_hour = rng.random_range(8..17);
        let mut hours = vec![first_hour];
        if count == 2 {
            // At least two hours apart, so no hourly window ever sees two.
            hours.push(if first_hour < 12 {
                first_hour + rng.random_range(2..6)
            } else {
                first_hour - rng.random_range(2..6)
            });
        }
        for hour in hours {
            let hour_start = day_start + hour * TICKS_PER_HOUR;
            let cycle = cycle_containing(world, window, job, hour_start) + 1;
            let start = world.cycle_start(job, window.start, cycle);
            let user = accounts[rng.random_range(0..accounts.len())];
            plants.push(PlantedProvisioning {
                time: start + 10 * TICKS_PER_SECOND,
                job,
                cycle,
                action: Action::Update,
                error: SCIM_BAD_RESPONSE,
                user,
                record_id: json::new_guid(rng),
                reason: Some(format!(
                    "Failed to update User '{}' in AWS IAM Identity Center; Error: The SCIM endpoint returned an unexpected response. StatusCode: Forbidden. Message: Adding the user to group 'AWSAdministratorAccess' is not permitted.",
                    upn(user)
                )),
            });
        }
    }
    plants.sort_by_key(|p| p.time);
    let mut truth = provisioning_truth(world, &plants, job, SCIM_BAD_RESPONSE);
    truth.insert("scenario".into(), json!("b"));
    truth.insert("name".into(), json!("low-and-slow-scim-campaign"));
    truth.insert(
        "description".into(),
        json!("Two accounts are repeatedly pushed towards the AWSAdministratorAccess group through the AWS IAM Identity Center SCIM job; AWS rejects every attempt. One or two failures per working day during office hours, never two within the same hour."),
    );
    truth.insert("max_failures_per_day".into(), json!(2));
    truth.insert("max_failures_per_hour".into(), json!(1));
    let failures = plants.len();
    truth.insert(
        "detections".into(),
        json!([
            {"detection": HUNT_01, "should_fire": true,
             "why": format!("{failures} failures over weeks for one JobId, service principal and ResultSignature reach the 30-day rollup thresholds")},
            {"detection": BURST_THRESHOLD_RULE, "should_fire": false,
             "why": "at most two failures a day and never two in one hour: no burst"},
            {"detection": ML_RARE_FAILING_OPERATION, "should_fire": false,
             "why": "provisioning records are not Azure Activity records"},
        ]),
    );
    plan.provisioning.extend(plants);
    plan.ground_truth.push(Value::Object(truth));
}

#[allow(clippy::too_many_arguments)]
fn activity_event(
    rng: &mut StreamRng,
    time: i64,
    caller: usize,
    operation: usize,
    subscription: usize,
    resource_group: usize,
    outcome: Outcome,
    ip: Option<&'static str>,
) -> PlantedActivity {
    PlantedActivity {
        event: Event {
            time,
            caller,
            operation,
            subscription,
            resource_group,
            resource: rng.random_range(1..5),
            outcome,
            ip,
            planted: None,
            seed: rng.random(),
        },
        correlation_id: json::new_guid(rng),
    }
}

const DENIED: Outcome = Outcome::Failure {
    status: "Forbidden",
    error_code: "AuthorizationFailed",
    message: "The client does not have authorization to perform the action.",
};

fn activity_truth(world: &World, plants: &[PlantedActivity]) -> serde_json::Map<String, Value> {
    let times: Vec<i64> = plants.iter().map(|p| p.event.time).collect();
    let mut failing: Vec<&str> = plants
        .iter()
        .filter(|p| matches!(p.event.outcome, Outcome::Failure { .. }))
        .map(|p| OPERATIONS[p.event.operation].name)
        .collect();
    failing.sort_unstable();
    failing.dedup();
    let mut operations: Vec<&str> = plants
        .iter()
        .map(|p| OPERATIONS[p.event.operation].name)
        .collect();
    operations.sort_unstable();
    operations.dedup();
    let mut callers: Vec<&str> = plants
        .iter()
        .map(|p| world.callers[p.event.caller].principal_name.as_str())
        .collect();
    callers.sort_unstable();
    callers.dedup();
    let mut ips: Vec<&str> = plants
        .iter()
        .map(|p| p.event.ip.unwrap_or(world.callers[p.event.caller].usual_ip))
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let mut map = serde_json::Map::new();
    map.insert("table".into(), json!("AzureActivity"));
    map.insert(
        "entities".into(),
        json!({"callers": callers, "ips": ips, "operations": operations, "failing_operations": failing}),
    );
    map.insert(
        "time_start".into(),
        json!(timestamp(times.iter().copied().min().unwrap_or(0))),
    );
    map.insert(
        "time_end".into(),
        json!(timestamp(times.iter().copied().max().unwrap_or(0))),
    );
    map.insert("operations".into(), json!(plants.len()));
    map.insert(
        "failures".into(),
        json!(
            plants
                .iter()
                .filter(|p| matches!(p.event.outcome, Outcome::Failure { .. }))
                .count()
        ),
    );
    map.insert(
        "correlation_ids".into(),
        json!(
            plants
                .iter()
                .map(|p| p.correlation_id.as_str())
                .collect::<Vec<_>>()
        ),
    );
    map
}

/// (c) A user's credentials are used at night from an unfamiliar address to enumerate
/// subscriptions, resource groups and a key vault, then to grant itself a role.
fn compromised_identity(world: &World, anchor: i64, rng: &mut StreamRng, plan: &mut Plan) {
    let caller = CALLER_COMPROMISED_USER;
    let ip = Some(ATTACKER_IP);
    let mut time = anchor - TICKS_PER_DAY + 2 * TICKS_PER_HOUR + 13 * TICKS_PER_MINUTE;
    let mut steps: Vec<(usize, usize, usize, Outcome)> = vec![
        (OP_SUBSCRIPTION_READ, SUB_PRODUCTION, 0, Outcome::Success),
        (OP_SUBSCRIPTION_READ, 1, 0, Outcome::Success),
        (OP_SUBSCRIPTION_READ, SUB_SHARED, 0, DENIED),
        (OP_SUBSCRIPTION_READ, SUB_FINANCE, 0, DENIED),
    ];
    for group in 0..3 {
        steps.push((
            OP_RESOURCE_GROUP_READ,
            SUB_PRODUCTION,
            group,
            Outcome::Success,
        ));
    }
    for group in 0..3 {
        steps.push((OP_RESOURCE_GROUP_READ, SUB_FINANCE, group, DENIED));
    }
    for group in 0..2 {
        steps.push((OP_RESOURCE_GROUP_READ, SUB_SHARED, group, DENIED));
    }
    steps.push((OP_KEYVAULT_READ, SUB_PRODUCTION, 3, DENIED));
    steps.push((OP_KEYVAULT_READ, SUB_FINANCE, 2, DENIED));
    steps.push((OP_ROLE_ASSIGNMENT_WRITE, SUB_PRODUCTION, 0, DENIED));
    steps.push((OP_ROLE_ASSIGNMENT_WRITE, SUB_FINANCE, 0, DENIED));
    let mut plants = Vec::new();
    for (operation, subscription, group, outcome) in steps {
        time += rng.random_range(15 * TICKS_PER_SECOND..150 * TICKS_PER_SECOND);
        plants.push(activity_event(
            rng,
            time,
            caller,
            operation,
            subscription,
            group,
            outcome,
            ip,
        ));
    }
    let mut truth = activity_truth(world, &plants);
    truth.insert("scenario".into(), json!("c"));
    truth.insert("name".into(), json!("compromised-identity-enumeration"));
    truth.insert(
        "description".into(),
        json!(format!("The account of {} signs in at night from {ATTACKER_IP}, enumerates subscriptions, resource groups and key vaults, is denied (AuthorizationFailed) on operations it never used before, then fails to write a role assignment.", world.callers[caller].principal_name)),
    );
    truth.insert(
        "detections".into(),
        json!([
            {"detection": ML_RARE_FAILING_OPERATION, "should_fire": true,
             "why": "within one hour four operations fail that never fail in the background (subscription, resource group and key vault reads, role assignment writes)"},
            {"detection": HUNT_01, "should_fire": false, "why": "no provisioning records are involved"},
        ]),
    );
    plan.activity.extend(plants);
    plan.ground_truth.push(Value::Object(truth));
}

/// (d) A new patching automation account is rolled out before its role assignment exists:
/// expected denials for a day on operations that fail routinely anyway, then success.
fn automation_rollout(world: &World, anchor: i64, rng: &mut StreamRng, plan: &mut Plan) {
    let caller = CALLER_AUTOMATION;
    let begin = anchor - 6 * TICKS_PER_DAY + 10 * TICKS_PER_HOUR;
    let mut plants = Vec::new();
    for hour in 0..54 {
        let run = begin + hour * TICKS_PER_HOUR + rng.random_range(0..5 * TICKS_PER_MINUTE);
        let denied = hour < 26;
        let outcome = if denied { DENIED } else { Outcome::Success };
        for (index, subscription) in [SUB_PRODUCTION, SUB_SHARED].into_iter().enumerate() {
            let time = run + index as i64 * 40 * TICKS_PER_SECOND;
            plants.push(activity_event(
                rng,
                time,
                caller,
                OP_VM_START,
                subscription,
                index,
                outcome,
                None,
            ));
        }
        if hour % 6 == 0 {
            let time = run + 2 * TICKS_PER_MINUTE;
            plants.push(activity_event(
                rng,
                time,
                caller,
                OP_STORAGE_LIST_KEYS,
                SUB_SHARED,
                1,
                outcome,
                None,
            ));
        }
    }
    let mut truth = activity_truth(world, &plants);
    truth.insert("scenario".into(), json!("d1"));
    truth.insert("name".into(), json!("benign-automation-rollout"));
    truth.insert(
        "description".into(),
        json!("A new managed identity for VM patching starts hourly runs before its role assignment is in place: a day of expected AuthorizationFailed denials, then success. Benign (change ticket)."),
    );
    truth.insert("benign".into(), json!(true));
    truth.insert(
        "detections".into(),
        json!([
            {"detection": ML_RARE_FAILING_OPERATION, "should_fire": false,
             "why": "the denied operations (virtualMachines/start/action, storageAccounts/listKeys/action) fail every few hours in the background, so they are not rare; a rule keyed on new callers would fire, a false positive"},
            {"detection": HUNT_01, "should_fire": false, "why": "no provisioning records are involved"},
        ]),
    );
    plan.activity.extend(plants);
    plan.ground_truth.push(Value::Object(truth));
}

/// (d) A "deny public IP" policy is assigned; the CI pipeline hits it for a few hours.
fn policy_rollout(world: &World, anchor: i64, rng: &mut StreamRng, plan: &mut Plan) {
    let begin = anchor - 4 * TICKS_PER_DAY + 13 * TICKS_PER_HOUR + 5 * TICKS_PER_MINUTE;
    let mut plants = vec![activity_event(
        rng,
        begin,
        CALLER_ADMIN,
        OP_POLICY_ASSIGNMENT_WRITE,
        SUB_PRODUCTION,
        0,
        Outcome::Success,
        None,
    )];
    let denial = Outcome::Failure {
        status: "Forbidden",
        error_code: "RequestDisallowedByPolicy",
        message: "Resource was disallowed by policy 'Deny public IP addresses'.",
    };
    let mut time = begin + 5 * TICKS_PER_MINUTE;
    for index in 0..18 {
        time += rng.random_range(4 * TICKS_PER_MINUTE..15 * TICKS_PER_MINUTE);
        let subscription = if index % 3 == 0 { 1 } else { SUB_PRODUCTION };
        plants.push(activity_event(
            rng,
            time,
            CALLER_TERRAFORM,
            OP_POLICY_DENY,
            subscription,
            index % 3,
            denial,
            None,
        ));
    }
    let mut truth = activity_truth(world, &plants);
    truth.insert("scenario".into(), json!("d2"));
    truth.insert("name".into(), json!("benign-policy-deny-rollout"));
    truth.insert(
        "description".into(),
        json!("An administrator assigns a 'deny public IP addresses' policy; for a few hours the CI pipeline's deployments are denied (Microsoft.Authorization/policies/deny/action, category Policy). Benign."),
    );
    truth.insert("benign".into(), json!(true));
    truth.insert(
        "detections".into(),
        json!([
            {"detection": ML_RARE_FAILING_OPERATION, "should_fire": false,
             "why": "policies/deny/action fails routinely in the background; only its volume rises"},
            {"detection": HUNT_01, "should_fire": false, "why": "no provisioning records are involved"},
        ]),
    );
    plan.activity.extend(plants);
    plan.ground_truth.push(Value::Object(truth));
}
