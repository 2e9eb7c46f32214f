#!/usr/bin/env bash
# Load test of `goshawk serve` (issue 8): CLIENTS concurrent clients send the seed query
# (bench/seed-query/seed.kql) to /v2/rest/query for SECONDS seconds against a lake of generated
# logs; prints the row count of the lake and load.py's JSON (requests, errors, p50/p99).
#
# Usage: bench/serve/run.sh [SCALE] [CLIENTS] [SECONDS]      (defaults 200, 50, 60; scale 200 is
# about 970,000 records in the lake)
#   GOSHAWK_BIN=path   an already built release binary (skips `cargo build --release`)
#   SERVE_ARGS="..."   extra `goshawk serve` options (default: --query-timeout 600, so that slow
#                      answers are measured rather than cut off at the 60 s default)
# The lake is generated once per scale under bench-out/serve/ (git-ignored) and reused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
scale="${1:-200}"
clients="${2:-50}"
seconds="${3:-60}"
out="$repo/bench-out/serve"
now="2026-05-01T00:00:00Z"

goshawk="${GOSHAWK_BIN:-}"
if [[ -z "$goshawk" ]]; then
    (cd "$repo" && cargo build --release -p goshawk)
    goshawk="${CARGO_TARGET_DIR:-$repo/target}/release/goshawk"
fi

mkdir -p "$out"
lake="$out/lake-$scale"
if [[ ! -d "$lake" ]]; then
    gen="$out/gen-$scale"
    rm -rf "$gen" "$lake.tmp"
    "$goshawk" generate --out "$gen" --scale "$scale" --days 30 --end "$now" --seed 1 >&2
    "$goshawk" ingest "$gen/activity" "$gen/provisioning" --data "$lake.tmp" --quiet >&2
    mv "$lake.tmp" "$lake"
    rm -rf "$gen"
fi
rows="$("$goshawk" query --data "$lake" --format csv -q 'AADProvisioningLogs | count' | tail -n 1)"
echo "lake: $lake, AADProvisioningLogs rows: $rows" >&2

token_file="$out/token"
echo "bench-token-$$-$RANDOM" > "$token_file"
inbox="$out/inbox"
mkdir -p "$inbox"
log="$out/serve.log"
"$goshawk" serve --data "$lake" --inbox "$inbox" --listen 127.0.0.1:0 \
    --token-file "$token_file" --no-builtin ${SERVE_ARGS:---query-timeout 600} 2> "$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 600); do
    addr="$(sed -n 's/^goshawk serve: listening on //p' "$log")"
    [[ -n "$addr" ]] && break
    sleep 0.1
done
[[ -n "$addr" ]] || { cat "$log" >&2; echo "goshawk serve did not start" >&2; exit 1; }

python3 "$here/load.py" --url "$addr" --token "$(cat "$token_file")" \
    --query-file "$repo/bench/seed-query/seed.kql" --now "$now" \
    --clients "$clients" --seconds "$seconds"
kill -TERM "$server"
wait "$server"
trap - EXIT
