"""The sandbox as a program: ``python -m connectors.sandbox`` starts, serves and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from connectors import connect

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_accounts_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.sandbox",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--seed",
            "7",
            "--account",
            "demo-cdk:cdk:40",
            "--account",
            "demo-karmak:karmak:30",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base_url = line.rsplit(" ", 1)[-1].strip()
        with connect(
            "karmak", {"base_url": base_url, "account": "demo-karmak", "api_key": "sandbox-key-demo-karmak"}
        ) as dms:
            assert len(list(dms.list_ids("customers"))) == 30
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert (tmp_path / "sandbox.sqlite3").exists()
