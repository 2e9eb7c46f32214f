"""Times the seed query on one Parquet file with goshawk, DuckDB SQL and duckdb-kql, checks that
the three agree with an exact reference, and prints a markdown table.

Usage: bench.py --goshawk BIN --parquet FILE [--now ISO] [--reps N] [--out DIR]

Each run is a fresh process (what a user runs); the tools take turns, after one untimed warm-up
each (so all three read the file from the page cache). Wall time is the process's; CPU time and
peak RSS come from wait4()'s rusage for that very process.
"""

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import duckdb

HERE = pathlib.Path(__file__).resolve().parent


def run_measured(argv, stdout_path):
    stderr_path = stdout_path.with_suffix(".stderr")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
        # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        sys.exit(f"{argv[0]} failed with exit code {code}:\n{stderr_path.read_text()}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def parse_kusto_datetime(text):
    # 2026-04-01T00:02:23.2027193Z: seconds by fromisoformat, the fraction by hand (up to 9
    # digits; Python's datetime stops at microseconds).
    text = text.rstrip("Z")
    whole, _, fraction = text.partition(".")
    base = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc)
    seconds = int(base.timestamp())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def goshawk_rows(csv_path):
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = []
        for record in reader:
            r = dict(zip(header, record))
            rows.append([
                r["JobId"], r["SPName"], r["ResultSignature"], int(r["Failures"]),
                int(r["AffectedTargets"]), json.loads(r["ErrorMessages"]),
                json.loads(r["Operations"]), int(r["DistinctDays"]),
                parse_kusto_datetime(r["FirstSeen"]), parse_kusto_datetime(r["LastSeen"]),
                {"True": True, "true": True, "False": False, "false": False}[r["Sustained"]],
            ])
    return header, rows


def reference(parquet, now):
    """Exact answer with full distinct sets, by DuckDB, untimed."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.sql(f"""
        SELECT JobId, SPName, ResultSignature, count(*), count(DISTINCT TargetIdentity),
               list(DISTINCT ResultDescription), list(DISTINCT OperationName),
               count(DISTINCT date_trunc('day', t)), epoch_ns(min(t)), epoch_ns(max(t))
        FROM (SELECT *, CAST(TimeGenerated AS TIMESTAMPTZ) AS t,
                     coalesce(json_extract_string(TRY_CAST(ServicePrincipal AS JSON), '$.Name'),
                              '') AS SPName
              FROM read_parquet('{parquet}')
              WHERE CAST(TimeGenerated AS TIMESTAMPTZ) > TIMESTAMPTZ '{now}' - INTERVAL 30 DAY
                AND lower(ResultType) = 'failure')
        GROUP BY ALL HAVING count(*) >= 10
    """).fetchall()
    return {tuple(r[:3]): r[3:] for r in rows}


def check(name, rows, ref, dcount_tolerance):
    """Discrepancies of one tool's rows against the reference, as readable lines."""
    problems = []
    keys = {tuple(r[:3]) for r in rows}
    if len(keys) != len(rows):
        problems.append(f"{len(rows) - len(keys)} duplicate group keys")
    missing, extra = set(ref) - keys, keys - set(ref)
    if missing or extra:
        problems.append(f"group keys: {len(missing)} missing, {len(extra)} unexpected")
    failures = [r[3] for r in rows]
    if any(a < b for a, b in zip(failures, failures[1:])):
        problems.append("not sorted by Failures desc")
    counts = {k: 0 for k in ["Failures", "AffectedTargets", "ErrorMessages", "Operations",
                             "DistinctDays", "FirstSeen", "LastSeen", "Sustained"]}
    worst_dcount = 0.0
    exact_dcount = 0
    for r in rows:
        expected = ref.get(tuple(r[:3]))
        if expected is None:
            continue
        e_fail, e_targets, e_msgs, e_ops, e_days, e_first, e_last = expected
        counts["Failures"] += r[3] != e_fail
        error = abs(r[4] - e_targets) / e_targets
        worst_dcount = max(worst_dcount, error)
        exact_dcount += r[4] == e_targets
        counts["AffectedTargets"] += error > dcount_tolerance
        for column, got, full, cap in (("ErrorMessages", r[5], e_msgs, 5),
                                       ("Operations", r[6], e_ops, 10)):
            # make_set(x, cap): up to `cap` distinct values of the group, which ones is
            # unspecified (Kusto gives no order either).
            ok = len(set(got)) == len(got) == min(cap, len(full)) and set(got) <= set(full)
            counts[column] += not ok
        counts["DistinctDays"] += r[7] != e_days
        counts["FirstSeen"] += r[8] != e_first
        counts["LastSeen"] += r[9] != e_last
        counts["Sustained"] += r[10] != (e_days >= 3)
    for column, n in counts.items():
        if n:
            problems.append(f"{column}: {n} of {len(rows)} rows differ")
    summary = (f"{len(rows)} rows; AffectedTargets exact in {exact_dcount}, "
               f"worst relative error {worst_dcount:.4f}")
    return problems, summary


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, DuckDB {duckdb.__version__}, load average at start "
            f"{os.getloadavg()[0]:.1f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--goshawk", required=True)
    parser.add_argument("--parquet", required=True)
    parser.add_argument("--now", default="2026-05-01T00:00:00Z")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(HERE.parent.parent / "bench-out" / "seed-query"))
    args = parser.parse_args()
    parquet = str(pathlib.Path(args.parquet).resolve())
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable

    tools = {
        "goshawk": [args.goshawk, "query", "--table", f"AADProvisioningLogs={parquet}",
                    "--now", args.now, "--format", "csv", str(HERE / "seed.kql")],
        "duckdb (SQL)": [python, str(HERE / "run_duckdb.py"), "sql", parquet, args.now,
                         str(out / "duckdb-sql.json")],
        "duckdb-kql": [python, str(HERE / "run_duckdb.py"), "kql", parquet, args.now,
                       str(out / "duckdb-kql.json")],
    }
    stdout_of = {name: out / f"{name.split()[0]}.stdout" for name in tools}
    print(f"machine: {machine()}", file=sys.stderr)
    for name, argv in tools.items():
        print(f"warm-up: {name}", file=sys.stderr)
        run_measured(argv, stdout_of[name])
    samples = {name: [] for name in tools}
    for rep in range(args.reps):
        for name, argv in tools.items():
            sample = run_measured(argv, stdout_of[name])
            samples[name].append(sample)
            print(f"rep {rep + 1}: {name}: {sample['wall']:.2f} s wall, {sample['cpu']:.2f} s "
                  f"CPU, {sample['rss_mib']:.0f} MiB", file=sys.stderr)

    now_sql = args.now.replace("T", " ").replace("Z", "+00")
    ref = reference(parquet, now_sql)
    _, g_rows = goshawk_rows(stdout_of["goshawk"])
    results = {
        "goshawk": (g_rows, 0.05),
        "duckdb (SQL)": (json.loads((out / "duckdb-sql.json").read_text())["rows"], 0.0),
        "duckdb-kql": (json.loads((out / "duckdb-kql.json").read_text())["rows"], 0.0),
    }
    checks = {}
    for name, (rows, tolerance) in results.items():
        checks[name] = check(name, rows, ref, tolerance)

    g_wall = statistics.median(s["wall"] for s in samples["goshawk"])
    g_rss = max(s["rss_mib"] for s in samples["goshawk"])
    print(f"\n{len(ref)} groups with Failures >= 10 in the exact reference; {args.reps} timed "
          f"runs per tool after one warm-up.\n")
    print("| tool | median wall s | min..max wall s | median CPU s | peak RSS MiB "
          "| wall vs goshawk | RSS vs goshawk | result |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in samples.items():
        walls = [s["wall"] for s in runs]
        wall = statistics.median(walls)
        cpu = statistics.median(s["cpu"] for s in runs)
        rss = max(s["rss_mib"] for s in runs)
        problems, _ = checks[name]
        verdict = "agrees" if not problems else "; ".join(problems)
        print(f"| {name} | {wall:.2f} | {min(walls):.2f}..{max(walls):.2f} | {cpu:.2f} "
              f"| {rss:.0f} | {wall / g_wall:.2f}x | {rss / g_rss:.2f}x | {verdict} |")
    print()
    for name, (problems, summary) in checks.items():
        print(f"- {name}: {summary}")
    if checks["goshawk"][0]:
        sys.exit("goshawk's result does not match the reference")


if __name__ == "__main__":
    main()
