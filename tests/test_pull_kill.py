"""A worker process SIGKILLed in the middle of a pull, at several points.

The worker is a real ``python -m jobs.worker`` process on the test database and Redis.
A failpoint kills its whole process group (worker and work-horse) at the chosen moment.
Recovery is RQ's own: the abandoned job is found in the started-job registry during
maintenance (forced here instead of waiting for the heartbeat to lapse) and re-queued,
and a new worker finishes it. The mirror must then equal the DMS: no lost and no
duplicated records.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from jobs.pulls import enqueue_pull
from tests.conftest import dms_settings
from webapp.extensions import db
from webapp.models import DmsRecord, RunStatus, RunTrigger, SyncRun
from webapp.redis_conn import get_redis

ROOT = Path(__file__).resolve().parents[1]


def _worker_env(app, failpoint: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DMS_FAILPOINTS",)}
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
                "SECRET_KEY": "test-secret-key", "INSTANCE_PATH": str(app.config["INSTANCE_DIR"]),
                "PULL_PAGE_SIZE": "15"})
    if failpoint:
        env["DMS_FAILPOINTS"] = failpoint
    return env


def _run_worker(app, failpoint: str | None, timeout: float = 60) -> int:
    """Run a burst worker process; return its exit code (-9 when the failpoint killed it)."""
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / "kill-worker.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "pulls"], cwd=ROOT,
                                env=_worker_env(app, failpoint), start_new_session=True,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        raise


def _recover_abandoned(redis) -> None:
    """What a worker's maintenance does once the dead job's heartbeat has lapsed."""
    started = StartedJobRegistry("pulls", connection=redis)
    started.cleanup(timestamp=time.time() + 3600)
    scheduled = ScheduledJobRegistry("pulls", connection=redis)
    queue = Queue("pulls", connection=redis)
    for job_id in scheduled.get_job_ids():  # retry back-off: due now for the test
        queue.enqueue_job(scheduled.job_class.fetch(job_id, connection=redis))
        scheduled.remove(job_id)


@pytest.mark.parametrize("failpoint", ["pull.before_commit=2", "pull.after_commit=3", "pull.before_commit=6"])
def test_sigkill_mid_pull_loses_and_duplicates_nothing(app, make, sandbox, failpoint):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    with app.app_context():
        run_id = enqueue_pull(location.id, "customers", RunTrigger.SCHEDULE).id
    assert _run_worker(app, failpoint) == -9  # the failpoint killed the worker
    redis = get_redis(app.config["REDIS_URL"])
    with app.app_context():
        partial = db.session.scalar(select(func.count(DmsRecord.id)).where(DmsRecord.location_id == location.id))
        assert db.session.get(SyncRun, run_id).status == RunStatus.RUNNING
    assert 0 < partial < 120 or failpoint.endswith("=2")
    _recover_abandoned(redis)
    assert FailedJobRegistry("pulls", connection=redis).count == 0  # re-queued, not failed
    assert _run_worker(app, None) == 0
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == RunStatus.SUCCEEDED, run.error
        mirrored = list(db.session.scalars(select(DmsRecord.dms_id).where(DmsRecord.location_id == location.id)))
    with sandbox.connect("alpha-cdk") as dms:
        expected = list(dms.list_ids("customers"))
    assert len(mirrored) == len(set(mirrored))  # nothing duplicated
    assert sorted(mirrored) == sorted(expected)  # nothing lost
