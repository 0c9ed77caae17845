"""Pull workers yield the CPU to the web server and the push workers (jobs/worker.py lower_priority).

Each case runs in a fresh Python process: niceness can only go up, and the suite's own must not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _niceness_after(queues: list[str], setting: str | None = None) -> int:
    """The niceness a process has after ``lower_priority(queues)``, minus the one it started with."""
    env = {k: v for k, v in os.environ.items() if k != "PULL_WORKER_NICE"}
    if setting is not None:
        env["PULL_WORKER_NICE"] = setting
    code = (
        "import os, sys\n"
        "from jobs.worker import lower_priority\n"
        "before = os.nice(0)\n"
        f"lower_priority({queues!r})\n"
        "print(os.nice(0) - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.parametrize(
    ("queues", "added"),
    [
        (["maintenance", "pulls"], 10),  # make run's pull workers
        (["pulls"], 10),
        (["maintenance", "pushes", "lookups"], 0),  # interactive workers keep their priority
        (["pushes", "pulls"], 0),  # a worker that also takes pushes
        ([], 0),  # no queue named: every queue
    ],
)
def test_only_pull_workers_lower_their_priority(queues, added):
    assert _niceness_after(queues) == added


def test_the_setting_chooses_how_much_and_zero_turns_it_off():
    assert _niceness_after(["pulls"], "5") == 5
    assert _niceness_after(["pulls"], "0") == 0
