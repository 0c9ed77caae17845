"""Benchmark: stream a full customer pull from the sandbox DMS through the connector.

Run: ``.venv/bin/python tests/bench/connector.py`` (``BENCH_SCALE=0.1`` for a tenth of the size).

The sandbox runs in its own process; each measured pull runs in a fresh client process, so
the figures are the client's alone. It pulls 20,000 and then 200,000 customers (times the
scale) with ``iter_changes`` and reports the rate of the big pull and the ratio of the
client's peak RSS at 200k to its peak at 20k (flat memory = close to 1.0).

Targets (issue 3): ``records_per_s >= 20000`` and ``rss_ratio <= 1.2``. The last line is
exactly ``records_per_s=<n> rss_ratio=<r>``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE_SIZE = 1000


def client(base_url: str, account: str) -> None:
    """Child process: pull every customer once and print count, seconds and peak RSS (KiB)."""
    sys.path.insert(0, str(ROOT))
    from connectors import connect

    settings = {"base_url": base_url, "account": account, "api_key": f"sandbox-key-{account}", "timeout": 120}
    with connect("cdk", settings) as dms:
        count = 0
        started = time.perf_counter()
        for page in dms.iter_changes("customers", page_size=PAGE_SIZE):
            count += len(page.records)
        elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"count": count, "seconds": elapsed, "peak_rss_kib": peak_kib}))


def run_client(base_url: str, account: str) -> dict:
    """Run :func:`client` in a fresh interpreter and return its figures."""
    out = subprocess.run([sys.executable, __file__, "--client", base_url, account], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Start the sandbox, warm both accounts, measure, print the figures."""
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    small, big = int(20000 * scale), int(200000 * scale)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as data_dir:
        server = subprocess.Popen(
            [sys.executable, "-m", "connectors.sandbox", "--port", "0", "--data-dir", data_dir,
             "--account", f"bench-small:cdk:{small}", "--account", f"bench-big:cdk:{big}"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            if "listening on" not in line:
                raise SystemExit(f"sandbox did not start: {line!r}")
            base_url = line.rsplit(" ", 1)[-1].strip()
            import httpx
            started = time.perf_counter()
            for account in ("bench-small", "bench-big"):
                # The sandbox generates a data type on first touch; do that outside the timing.
                token = httpx.post(f"{base_url}/oauth/token", json={"account": account,
                                                                   "api_key": f"sandbox-key-{account}"}).json()
                httpx.get(f"{base_url}/v1/{account}/customers", params={"limit": 1}, timeout=600,
                          headers={"Authorization": f"Bearer {token['access_token']}"}).raise_for_status()
            print(f"generated {small + big} customers in {time.perf_counter() - started:.1f}s", flush=True)
            small_run = run_client(base_url, "bench-small")
            big_run = run_client(base_url, "bench-big")
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert small_run["count"] == small and big_run["count"] == big, (small_run, big_run)
    rate = big_run["count"] / big_run["seconds"]
    ratio = big_run["peak_rss_kib"] / small_run["peak_rss_kib"]
    print(f"small: {small_run['count']} records in {small_run['seconds']:.2f}s, peak RSS "
          f"{small_run['peak_rss_kib'] / 1024:.1f} MiB")
    print(f"big:   {big_run['count']} records in {big_run['seconds']:.2f}s, peak RSS "
          f"{big_run['peak_rss_kib'] / 1024:.1f} MiB")
    print(f"records_per_s={rate:.0f} rss_ratio={ratio:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--client":
        client(sys.argv[2], sys.argv[3])
    else:
        main()
