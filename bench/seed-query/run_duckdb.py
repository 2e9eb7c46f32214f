"""Runs the seed query once in this process, with DuckDB SQL (`sql`) or duckdb-kql (`kql`),
and writes the result rows as JSON (datetimes as epoch nanoseconds, sets as lists).

Usage: run_duckdb.py sql|kql PARQUET NOW OUT.json
Prints the in-process seconds (connect + query + fetch) on stdout.
"""

import datetime
import json
import pathlib
import sys
import time

import duckdb

HERE = pathlib.Path(__file__).resolve().parent


def ns(value):
    if value is None:
        return None
    delta = value - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def as_list(value):
    # duckdb-kql returns dynamic arrays as JSON text; DuckDB SQL as lists.
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


def main():
    mode, parquet, now, out = sys.argv[1:5]
    now_dt = datetime.datetime.fromisoformat(now.replace("Z", "+00:00"))
    start = time.perf_counter()
    if mode == "sql":
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        sql = (HERE / "seed.sql").read_text().format(
            file=parquet, now=now_dt.strftime("%Y-%m-%d %H:%M:%S+00")
        )
        relation = con.sql(sql)
    elif mode == "kql":
        import duckdb_kql

        con = duckdb_kql.connect()
        # A view, not a copy: DuckDB reads the Parquet file when the query runs, as the other
        # two do. TimeGenerated is cast to TIMESTAMPTZ (microseconds): duckdb-kql's SQL uses
        # date_trunc and comparisons that DuckDB 2.0 does not define on TIMESTAMPTZ_NS.
        con.sql(
            "CREATE VIEW AADProvisioningLogs AS SELECT * REPLACE "
            "(CAST(TimeGenerated AS TIMESTAMPTZ) AS TimeGenerated) "
            f"FROM read_parquet('{parquet}')"
        )
        relation = duckdb_kql.query(con, (HERE / "seed.kql").read_text(), query_now=now_dt)
    else:
        sys.exit(f"unknown mode {mode!r} (expected sql or kql)")
    columns = [c for c in relation.columns]
    rows = relation.fetchall()
    elapsed = time.perf_counter() - start
    result = []
    for row in rows:
        r = dict(zip(columns, row))
        result.append([
            r["JobId"], r["SPName"], r["ResultSignature"], int(r["Failures"]),
            int(r["AffectedTargets"]), as_list(r["ErrorMessages"]), as_list(r["Operations"]),
            int(r["DistinctDays"]), ns(r["FirstSeen"]), ns(r["LastSeen"]), bool(r["Sustained"]),
        ])
    pathlib.Path(out).write_text(json.dumps({"columns": columns, "rows": result}))
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    main()
