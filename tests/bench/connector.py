"""Benchmark: stream a full customer pull from the sandbox DMS through each wire protocol.

Run: ``.venv/bin/python tests/bench/connector.py`` (``BENCH_SCALE=0.1`` for a tenth of the size).

The sandbox runs in its own process; each measured pull runs in a fresh client process, so
the figures are the client's alone (parsing the wire format and validating canonical
records). For each protocol - STAR REST (a CDK account), OpenTrack SOAP (Dealertrack) and
the console's own REST dialect (CDK) - it pulls 20,000 and then 200,000 customers (times
the scale) with ``iter_changes`` and reports the rate of the big pull and the ratio of the
client's peak RSS at 200k to its peak at 20k (flat memory = close to 1.0).

Targets: STAR >= 20,000 records/s, OpenTrack >= 8,000/s, console dialect >= 20,000/s, and
every ``rss_ratio <= 1.2``. The last line is exactly
``star_records_per_s=<n> opentrack_records_per_s=<n> console_records_per_s=<n> rss_ratio=<max>``.
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


PROTOCOLS = (("star", "cdk"), ("opentrack", "dealertrack"), ("console", "cdk"))


def client(base_url: str, account: str, vendor: str, protocol: str) -> None:
    """Child process: pull every customer once and print count, seconds and peak RSS (KiB)."""
    sys.path.insert(0, str(ROOT))
    from connectors import connect
    from connectors.sandbox.testing import connection_settings

    settings = {**connection_settings(base_url, account, protocol, f"sandbox-key-{account}"), "timeout": 600}
    with connect(vendor, settings) as dms:
        count = 0
        started = time.perf_counter()
        for page in dms.iter_changes("customers", page_size=PAGE_SIZE):
            count += len(page.records)
        elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"count": count, "seconds": elapsed, "peak_rss_kib": peak_kib}))


def run_client(base_url: str, account: str, vendor: str, protocol: str) -> dict:
    """Run :func:`client` in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--client", base_url, account, vendor, protocol],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm(base_url: str, account: str, vendor: str, protocol: str) -> None:
    """Make the sandbox generate the account's customers (it does so on first touch), untimed."""
    sys.path.insert(0, str(ROOT))
    from connectors import connect
    from connectors.sandbox.testing import connection_settings

    settings = {**connection_settings(base_url, account, protocol, f"sandbox-key-{account}"), "timeout": 900}
    with connect(vendor, settings) as dms:
        next(iter(dms.iter_changes("customers", page_size=1)))


def main() -> None:
    """Start the sandbox, warm every account, measure each protocol, print the figures."""
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    small, big = int(20000 * scale), int(200000 * scale)
    accounts = [
        f"bench-{protocol}-{size}:{vendor}:{count}:{protocol}"
        for protocol, vendor in PROTOCOLS
        for size, count in (("small", small), ("big", big))
    ]
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as data_dir:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "connectors.sandbox",
                "--port",
                "0",
                "--data-dir",
                data_dir,
                *[arg for account in accounts for arg in ("--account", account)],
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = server.stdout.readline()
            if "listening on" not in line:
                raise SystemExit(f"sandbox did not start: {line!r}")
            base_url = line.rsplit(" ", 1)[-1].strip()
            started = time.perf_counter()
            for protocol, vendor in PROTOCOLS:
                for size in ("small", "big"):
                    warm(base_url, f"bench-{protocol}-{size}", vendor, protocol)
            print(f"generated {3 * (small + big)} customers in {time.perf_counter() - started:.1f}s", flush=True)
            for protocol, vendor in PROTOCOLS:
                small_run = run_client(base_url, f"bench-{protocol}-small", vendor, protocol)
                big_run = run_client(base_url, f"bench-{protocol}-big", vendor, protocol)
                assert small_run["count"] == small and big_run["count"] == big, (protocol, small_run, big_run)
                rate = big_run["count"] / big_run["seconds"]
                ratio = big_run["peak_rss_kib"] / small_run["peak_rss_kib"]
                results[protocol] = (rate, ratio)
                print(
                    f"{protocol}: small {small_run['count']} in {small_run['seconds']:.2f}s "
                    f"(peak {small_run['peak_rss_kib'] / 1024:.1f} MiB); big {big_run['count']} in "
                    f"{big_run['seconds']:.2f}s (peak {big_run['peak_rss_kib'] / 1024:.1f} MiB): "
                    f"{rate:.0f} records/s, rss_ratio {ratio:.3f}",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"star_records_per_s={results['star'][0]:.0f} opentrack_records_per_s={results['opentrack'][0]:.0f} "
        f"console_records_per_s={results['console'][0]:.0f} "
        f"rss_ratio={max(ratio for _, ratio in results.values()):.3f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        client(*sys.argv[2:])
    else:
        main()
