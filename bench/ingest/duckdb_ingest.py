"""The DuckDB baseline: read_json of the same Event Hub messages, COPY to zstd Parquet."""

import sys

import duckdb

src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(
    f"""
    COPY (
        SELECT unnest(records, recursive := false)
        FROM read_json('{src}/*.json', format = 'auto', maximum_object_size = 67108864)
    ) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)
    """
)
print(con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchone()[0])
