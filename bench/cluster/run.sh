#!/usr/bin/env bash
# Scale-out: the same queries run locally and on a cluster of one scheduler with 1, 2 and 4
# executors on this machine (`goshawk scheduler` / `goshawk executor`, feature `distributed`).
# Each executor runs one task at a time, so N executors offer N cores; the local run uses every
# core. Reports the median wall time of RUNS runs per query and setup, and the scaling
# efficiency T(1 executor) / (N * T(N executors)).
#
# Usage: bench/cluster/run.sh [LAKE] [RUNS]
#   LAKE  a lake directory (default: bench-out/cluster/lake, generated: WINDOWS windows of 30 days
#         at scale SCALE, environment WINDOWS=5 SCALE=200, about 4.9M rows)
#   GOSHAWK_BIN=path skips the release build (it must be built with --features distributed).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$repo/bench-out/cluster"
lake="${1:-$out/lake}"
runs="${2:-3}"
windows="${WINDOWS:-5}"
scale="${SCALE:-200}"
target="${CARGO_TARGET_DIR:-$repo/target}"
goshawk="${GOSHAWK_BIN:-}"
if [[ -z "$goshawk" ]]; then
    (cd "$repo" && cargo build --release -p goshawk --features distributed)
    goshawk="$target/release/goshawk"
fi
mkdir -p "$out"

if [[ ! -f "$lake/_manifest.jsonl" ]]; then
    # Windows of 30 days one after another, each generated, ingested and deleted, so the raw
    # JSON of only one window is on disk at a time.
    for ((w = 0; w < windows; w++)); do
        end=$(date -u -d "2026-05-01 - $((30 * w)) days" +%Y-%m-%dT00:00:00Z)
        rm -rf "$out/raw"
        "$goshawk" generate --out "$out/raw" --days 30 --end "$end" --scale "$scale" \
            --seed $((w + 1)) > /dev/null
        "$goshawk" ingest "$out/raw" --data "$lake" --quiet
    done
    rm -rf "$out/raw"
fi
"$goshawk" tables --data "$lake"

now="2026-05-01T00:00:00Z"
declare -A queries=(
    # HUNT-01 over the whole lake (150 days) instead of its 30.
    [hunt01_all_days]="$(sed 's/ago(30d)/ago(3650d)/' "$repo/crates/goshawk/tests/fixtures/check/hunt01.kql")"
    [failures_by_hour]='AzureActivity
| where ActivityStatusValue =~ "Failure"
| extend Issuer = tostring(Claims_d.iss)
| summarize Failures = count(), Callers = dcount(Caller) by OperationNameValue, Issuer, bin(TimeGenerated, 1h)
| count'
    [properties_by_day]='AzureActivity
| extend Properties = parse_json(Properties)
| summarize Events = count(), Resources = dcount(tostring(Properties.resource)) by Category = tostring(Properties.eventCategory), bin(TimeGenerated, 1d)
| count'
    [join_rate]='AADProvisioningLogs
| where ResultType =~ "Failure"
| summarize Failures = count() by JobId, SP = tostring(parse_json(ServicePrincipal).Name)
| join kind=inner (AADProvisioningLogs | summarize Runs = count(), Targets = dcount(TargetIdentity) by JobId) on JobId
| project JobId, SP, Failures, Runs, Targets, Rate = todouble(Failures) / Runs'
)

pids=()
stop_cluster() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    pids=()
}
trap stop_cluster EXIT

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    exit 1
}

start_cluster() { # executors
    "$goshawk" scheduler --bind 127.0.0.1:50050 2> /dev/null &
    pids+=($!)
    wait_port 50050
    for ((i = 0; i < $1; i++)); do
        local port=$((50100 + 10 * i))
        rm -rf "$out/work-$i"
        "$goshawk" executor --scheduler 127.0.0.1:50050 --bind "127.0.0.1:$port" \
            --concurrent-tasks 1 --work-dir "$out/work-$i" 2> /dev/null &
        pids+=($!)
        wait_port "$port"
    done
    sleep 2 # the executors register with the scheduler after they listen
}

median_seconds() { # command...
    local times=()
    for ((r = 0; r < runs; r++)); do
        local start end
        start=$(date +%s.%N)
        "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

declare -A results
for name in "${!queries[@]}"; do
    results[$name,local]=$(median_seconds "$goshawk" query --data "$lake" --now "$now" -q "${queries[$name]}")
done
for executors in 1 2 4; do
    start_cluster "$executors"
    # The cluster splits each stage into as many partitions as it has task slots at most.
    export DATAFUSION_EXECUTION_TARGET_PARTITIONS=$executors
    for name in "${!queries[@]}"; do
        results[$name,$executors]=$(median_seconds "$goshawk" query --data "$lake" --now "$now" \
            --cluster df://127.0.0.1:50050 -q "${queries[$name]}")
    done
    unset DATAFUSION_EXECUTION_TARGET_PARTITIONS
    stop_cluster
done

echo
echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); median of $runs runs, seconds"
echo
echo "| query | local (all cores) | 1 executor | 2 executors | 4 executors | efficiency 2 | efficiency 4 |"
echo "|---|---|---|---|---|---|---|"
for name in $(printf '%s\n' "${!queries[@]}" | sort); do
    t1=${results[$name,1]}; t2=${results[$name,2]}; t4=${results[$name,4]}
    e2=$(echo "scale=2; $t1 / (2 * $t2)" | bc); e4=$(echo "scale=2; $t1 / (4 * $t4)" | bc)
    printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$name" "${results[$name,local]}" \
        "$t1" "$t2" "$t4" "$e2" "$e4"
done
