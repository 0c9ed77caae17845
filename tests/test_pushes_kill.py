"""A real worker process SIGKILLed between sending an appointment and recording the result,
at several points: after recovery each appointment exists in the DMS exactly once, with its
DMS id recorded in the console (the resend carries the same idempotency key)."""

from __future__ import annotations

import pytest
from rq.registry import FailedJobRegistry

from tests.test_pushes import advisor, appointment_row, book, connected_location, created, dms_customer, messages
from tests.worker_process import recover_abandoned, run_worker
from webapp.models import OutboxStatus
from webapp.redis_conn import get_redis


@pytest.mark.parametrize(
    "failpoint", ["push.after_send=1", "push.after_send=3", "push.before_send=2", "push.after_commit=2"]
)
def test_sigkill_between_send_and_record_creates_each_appointment_once(app, make, sandbox, failpoint):
    location = connected_location(make, sandbox)
    customer = dms_customer(make, sandbox, location)
    adv = advisor(make, location)
    ids = [book(app, location, customer, adv, notes=f"visit {n}") for n in range(4)]
    assert run_worker(app, "pushes", failpoint, "push-kill-worker.log") == -9  # the failpoint killed the worker
    before = [m.status for m in messages(app)]
    assert OutboxStatus.SENDING in before or failpoint.startswith("push.after_commit")
    redis = get_redis(app.config["REDIS_URL"])
    recover_abandoned(redis, "pushes")
    assert FailedJobRegistry("pushes", connection=redis).count == 0  # re-queued, not failed
    assert run_worker(app, "pushes", None, "push-kill-worker.log") == 0
    assert [m.status for m in messages(app)] == [OutboxStatus.SENT] * 4
    dms_ids = [appointment_row(app, i).dms_id for i in ids]
    assert all(dms_ids) and len(set(dms_ids)) == 4
    assert created(sandbox) == 4  # exactly once each
    for dms_id, n in zip(dms_ids, range(4)):
        assert sandbox.control.get_record("alpha-cdk", "appointments", dms_id)["notes"] == f"visit {n}"
