#!/usr/bin/env bash
# Ingest throughput: goshawk ingest vs. DuckDB (read_json + COPY to Parquet) on the same
# >= 1 GB of Event Hub style Azure Activity messages. Reports MB/s, records/s and peak RSS
# (/usr/bin/time -v) of each.
#
# Usage: bench/ingest/run.sh [BYTES]   (default 1100000000; GOSHAWK_BIN=path skips the build)
# Writes to bench-out/ingest/ and a Python venv in .venv-bench-ingest/ (both git-ignored).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
bytes="${1:-1100000000}"
out="$repo/bench-out/ingest"
venv="$repo/.venv-bench-ingest"
target="${CARGO_TARGET_DIR:-$repo/target}"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet duckdb
fi
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# GOSHAWK_BIN: an already built release binary (skips the build).
goshawk="${GOSHAWK_BIN:-}"
if [[ -z "$goshawk" ]]; then
    (cd "$repo" && cargo build --release -p goshawk)
    goshawk="$target/release/goshawk"
fi

rm -rf "$out/lake" "$out/duckdb.parquet"
mkdir -p "$out"
if [[ ! -f "$out/input.json" ]] || [[ "$(cat "$out/input.json")" != *"\"target\": $bytes"* ]]; then
    rm -rf "$out/input"
    info=$("$venv/bin/python" "$repo/bench/ingest/gen_eventhub.py" --out "$out/input" --bytes "$bytes")
    echo "${info%\}}, \"target\": $bytes}" > "$out/input.json"
fi
records=$(sed -E 's/.*"records": ([0-9]+).*/\1/' "$out/input.json")
input_bytes=$(du -sb "$out/input" | cut -f1)
sync

measure() { # name, command...
    local name="$1"; shift
    /usr/bin/time -v "$@" > "$out/$name.stdout" 2> "$out/$name.time"
    local wall rss user sys
    wall=$(grep 'Elapsed (wall clock)' "$out/$name.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$out/$name.time" | awk '{print $NF}')
    user=$(grep 'User time (seconds)' "$out/$name.time" | awk '{print $NF}')
    sys=$(grep 'System time (seconds)' "$out/$name.time" | awk '{print $NF}')
    python3 - "$name" "$wall" "$rss" "$input_bytes" "$records" "$user" "$sys" <<'PY'
import sys
name, wall, rss, size, records = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
user, system = float(sys.argv[6]), float(sys.argv[7])
parts = [float(p) for p in wall.split(":")]
seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
# CPU seconds matter on a shared machine, where wall time depends on the neighbours' load.
print(f"| {name} | {seconds:.1f} | {size / seconds / 1e6:.1f} | {records / seconds:,.0f} | {user:.1f} + {system:.1f} | {size / (user + system) / 1e6:.0f} | {rss / 1024:.0f} |")
PY
}

echo "input: $input_bytes bytes, $records records, $(ls "$out/input" | wc -l) files; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | wall s | MB/s | records/s | CPU s (user + sys) | MB per CPU s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
measure goshawk "$goshawk" ingest "$out/input" --data "$out/lake" --quiet
measure duckdb "$venv/bin/python" "$repo/bench/ingest/duckdb_ingest.py" "$out/input" "$out/duckdb.parquet"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "goshawk lake: $(du -sb "$out/lake" | cut -f1) bytes in $(find "$out/lake" -name '*.parquet' | wc -l) data files; duckdb parquet: $(du -sb "$out/duckdb.parquet" | cut -f1) bytes"
"$goshawk" tables --data "$out/lake"
echo "duckdb rows: $(cat "$out/duckdb.stdout")"
