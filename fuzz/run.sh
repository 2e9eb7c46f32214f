#!/usr/bin/env bash
# Fuzz the KQL parser for N seconds (default 600), seeded with every query of the shared corpus.
set -euo pipefail
seconds=${1:-600}
here=$(cd "$(dirname "$0")" && pwd)
corpus_dir="$here/corpus/parse_query"
shared="$here/../../shared/corpus"
mkdir -p "$corpus_dir"
if [ -d "$shared" ] && [ -z "$(ls -A "$corpus_dir")" ]; then
  python3 - "$shared" "$corpus_dir" <<'PY'
import hashlib, json, pathlib, sys
shared, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
sources = [("sentinel/queries.jsonl", "query"), ("kusto-docs/examples.jsonl", "query"),
           ("kusto-oracle/cases.jsonl", "Kql")]
for rel, field in sources:
    for line in (shared / rel).read_text(encoding="utf-8").splitlines():
        text = json.loads(line)[field].encode()
        (out / hashlib.sha1(text).hexdigest()).write_bytes(text)
PY
fi
cd "$here/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_query "$corpus_dir" -- \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096
