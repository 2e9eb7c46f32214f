#!/usr/bin/env bash
# The seed query (issue 3) on 5M AADProvisioningLogs rows in one Parquet file: goshawk vs.
# DuckDB SQL vs. duckdb-kql, same file, one run. Prints a markdown table (median wall time,
# CPU time, peak RSS, ratios) and whether each tool's result agrees with an exact reference.
#
# Usage: bench/seed-query/run.sh [ROWS] [REPS]     (defaults 5000000 and 5)
#   GOSHAWK_BIN=path   an already built release binary (skips `cargo build --release`)
# Writes the data and the outputs to bench-out/seed-query/ and a Python venv to
# bench/seed-query/.venv/ (both git-ignored). The Parquet file is generated once per row
# count and reused (it is deterministic).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rows="${1:-5000000}"
reps="${2:-5}"
out="$repo/bench-out/seed-query"
venv="$here/.venv"
now="2026-05-01T00:00:00Z"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'duckdb==2.0.0' 'duckdb-kql==1.1.2' pyarrow pytz
fi

goshawk="${GOSHAWK_BIN:-}"
if [[ -z "$goshawk" ]]; then
    (cd "$repo" && cargo build --release -p goshawk)
    goshawk="${CARGO_TARGET_DIR:-$repo/target}/release/goshawk"
fi

mkdir -p "$out"
data="$out/AADProvisioningLogs-$rows.parquet"
if [[ ! -f "$data" ]]; then
    # The generator's window ends 12 hours before its default --now, which is $now.
    "$venv/bin/python" "$here/gen_provisioning.py" --out "$data.tmp" --rows "$rows"
    mv "$data.tmp" "$data"
fi
echo "data: $data ($(du -h "$data" | cut -f1), $rows rows)" >&2

"$venv/bin/python" "$here/bench.py" --goshawk "$goshawk" --parquet "$data" --now "$now" \
    --reps "$reps" --out "$out"
