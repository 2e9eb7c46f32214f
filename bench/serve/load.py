#!/usr/bin/env python3
"""Load test for `goshawk serve`: N concurrent clients send one query to /v2/rest/query for a
fixed time over keep-alive HTTP/1.1 connections; prints requests, errors, p50/p90/p99/max latency
and throughput as JSON.

Standard library only, so it runs without a virtual environment. Each client is a thread; the
server's work per request (milliseconds to seconds) dwarfs the client's, so the GIL does not
limit the measurement.
"""
import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlparse


def client(url, token, body, deadline, latencies, errors, lock):
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
    }
    mine, bad = [], []
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            conn.request("POST", "/v2/rest/query", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.monotonic() - started
            if response.status != 200:
                bad.append(f"HTTP {response.status}: {payload[:300]!r}")
                continue
            frames = json.loads(payload)
            if not any(f.get("TableKind") == "PrimaryResult" for f in frames):
                bad.append("no PrimaryResult frame")
                continue
            mine.append(elapsed)
        except Exception as error:  # a dropped connection is an error to report, then reconnect
            bad.append(f"{type(error).__name__}: {error}")
            conn.close()
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
    conn.close()
    with lock:
        latencies.extend(mine)
        errors.extend(bad)


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--query-file", required=True)
    parser.add_argument("--now", default="2026-05-01T00:00:00Z")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    with open(args.query_file, encoding="utf-8") as f:
        query = f.read()
    body = json.dumps({
        "db": "goshawk",
        "csl": query,
        "properties": json.dumps({"Options": {"query_now": args.now}}),
    })
    latencies, errors, lock = [], [], threading.Lock()
    started = time.monotonic()
    deadline = started + args.seconds
    threads = [
        threading.Thread(
            target=client,
            args=(args.url, args.token, body, deadline, latencies, errors, lock),
        )
        for _ in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()
    ms = lambda v: None if v is None else round(v * 1000, 1)
    print(json.dumps({
        "clients": args.clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:5],
        "throughput_per_s": round(len(latencies) / wall, 2),
        "p50_ms": ms(percentile(latencies, 50)),
        "p90_ms": ms(percentile(latencies, 90)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(latencies[-1] if latencies else None),
    }, indent=2))


if __name__ == "__main__":
    main()
