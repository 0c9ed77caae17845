"""A real ``python -m jobs.worker --burst`` process for the kill tests, and RQ's recovery.

A failpoint (``DMS_FAILPOINTS``, see jobs/failpoints.py) kills the worker's whole process
group at the chosen moment. Recovery is RQ's own: the abandoned job is found in the
started-job registry during maintenance (forced here instead of waiting for the heartbeat
to lapse) and re-queued, and the next worker finishes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

ROOT = Path(__file__).resolve().parents[1]


def run_worker(
    app, queue: str, failpoint: str | None, log_name: str, timeout: float = 60, extra_env: dict | None = None
) -> int:
    """Run a burst worker on ``queue`` against the test database and Redis; its exit code
    (-9 when the failpoint killed it)."""
    env = worker_env(app, extra_env)
    if failpoint:
        env["DMS_FAILPOINTS"] = failpoint
    proc = start_worker(env, queue, log_name)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        raise


def worker_env(app, extra_env: dict | None = None) -> dict:
    """The environment of a worker (or scheduler) process on the test database and Redis."""
    env = {k: v for k, v in os.environ.items() if k != "DMS_FAILPOINTS"}
    env.update(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "SECRET_KEY": "test-secret-key",
            "INSTANCE_PATH": str(app.config["INSTANCE_DIR"]),
            **(extra_env or {}),
        }
    )
    return env


def start_worker(env: dict, queue: str, log_name: str) -> subprocess.Popen:
    """A burst worker process on ``queue`` in its own process group, logging to test-artifacts/."""
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / log_name, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "--burst", queue],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def recover_abandoned(redis, queue_name: str) -> None:
    """What a worker's maintenance does once the dead job's heartbeat has lapsed."""
    StartedJobRegistry(queue_name, connection=redis).cleanup(timestamp=time.time() + 3600)
    scheduled = ScheduledJobRegistry(queue_name, connection=redis)
    queue = Queue(queue_name, connection=redis)
    for job_id in scheduled.get_job_ids():  # retry back-off: due now for the test
        queue.enqueue_job(scheduled.job_class.fetch(job_id, connection=redis))
        scheduled.remove(job_id)
