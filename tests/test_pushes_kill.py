"""A real worker process SIGKILLed between sending an appointment and recording the result,
at several points: after recovery each appointment exists in the DMS exactly once, with its
DMS id recorded in the console (the resend carries the same idempotency key)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from tests.test_pushes import advisor, appointment_row, book, connected_location, created, dms_customer, messages
from webapp.models import OutboxStatus
from webapp.redis_conn import get_redis

ROOT = Path(__file__).resolve().parents[1]


def _run_worker(app, failpoint: str | None, timeout: float = 60) -> int:
    """A burst ``python -m jobs.worker pushes`` process; its exit code (-9 when killed)."""
    env = {k: v for k, v in os.environ.items() if k != "DMS_FAILPOINTS"}
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
                "SECRET_KEY": "test-secret-key", "INSTANCE_PATH": str(app.config["INSTANCE_DIR"])})
    if failpoint:
        env["DMS_FAILPOINTS"] = failpoint
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / "push-kill-worker.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "pushes"], cwd=ROOT, env=env,
                                start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        raise


def _recover_abandoned(redis) -> None:
    """What a worker's maintenance does once the dead job's heartbeat has lapsed."""
    StartedJobRegistry("pushes", connection=redis).cleanup(timestamp=time.time() + 3600)
    scheduled = ScheduledJobRegistry("pushes", connection=redis)
    queue = Queue("pushes", connection=redis)
    for job_id in scheduled.get_job_ids():
        queue.enqueue_job(scheduled.job_class.fetch(job_id, connection=redis))
        scheduled.remove(job_id)


@pytest.mark.parametrize("failpoint", ["push.after_send=1", "push.after_send=3", "push.before_send=2",
                                       "push.after_commit=2"])
def test_sigkill_between_send_and_record_creates_each_appointment_once(app, make, sandbox, failpoint):
    location = connected_location(make, sandbox)
    customer = dms_customer(make, sandbox, location)
    adv = advisor(make, location)
    ids = [book(app, location, customer, adv, notes=f"visit {n}") for n in range(4)]
    assert _run_worker(app, failpoint) == -9  # the failpoint killed the worker
    before = [m.status for m in messages(app)]
    assert OutboxStatus.SENDING in before or failpoint.startswith("push.after_commit")
    redis = get_redis(app.config["REDIS_URL"])
    _recover_abandoned(redis)
    assert FailedJobRegistry("pushes", connection=redis).count == 0  # re-queued, not failed
    assert _run_worker(app, None) == 0
    assert [m.status for m in messages(app)] == [OutboxStatus.SENT] * 4
    dms_ids = [appointment_row(app, i).dms_id for i in ids]
    assert all(dms_ids) and len(set(dms_ids)) == 4
    assert created(sandbox) == 4  # exactly once each
    for dms_id, n in zip(dms_ids, range(4)):
        assert sandbox.control.get_record("alpha-cdk", "appointments", dms_id)["notes"] == f"visit {n}"
