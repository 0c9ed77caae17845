"""A worker process SIGKILLed in the middle of a pull, at several points.

The worker is a real ``python -m jobs.worker`` process on the test database and Redis.
A failpoint kills its whole process group (worker and work-horse) at the chosen moment.
Recovery is RQ's own: the abandoned job is found in the started-job registry during
maintenance (forced here instead of waiting for the heartbeat to lapse) and re-queued,
and a new worker finishes it. The mirror must then equal the DMS: no lost and no
duplicated records.
"""

from __future__ import annotations

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from tests.conftest import dms_settings
from tests.worker_process import recover_abandoned, run_worker
from webapp.extensions import db
from webapp.models import DmsRecord, RunStatus, RunTrigger, SyncRun
from webapp.redis_conn import get_redis
from webapp.services.runs import enqueue_pull


def _pull_worker(app, failpoint: str | None) -> int:
    """A burst pulls worker reading small pages, so a pull has many commits to be killed between."""
    return run_worker(app, "pulls", failpoint, "kill-worker.log", extra_env={"PULL_PAGE_SIZE": "15"})


@pytest.mark.parametrize("failpoint", ["pull.before_commit=2", "pull.after_commit=3", "pull.before_commit=6"])
def test_sigkill_mid_pull_loses_and_duplicates_nothing(app, make, sandbox, failpoint):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    with app.app_context():
        run_id = enqueue_pull(location.id, "customers", RunTrigger.SCHEDULE).id
    assert _pull_worker(app, failpoint) == -9  # the failpoint killed the worker
    redis = get_redis(app.config["REDIS_URL"])
    with app.app_context():
        partial = db.session.scalar(select(func.count(DmsRecord.id)).where(DmsRecord.location_id == location.id))
        assert db.session.get(SyncRun, run_id).status == RunStatus.RUNNING
    assert 0 < partial < 120 or failpoint.endswith("=2")
    recover_abandoned(redis, "pulls")
    assert FailedJobRegistry("pulls", connection=redis).count == 0  # re-queued, not failed
    assert _pull_worker(app, None) == 0
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == RunStatus.SUCCEEDED, run.error
        mirrored = list(db.session.scalars(select(DmsRecord.dms_id).where(DmsRecord.location_id == location.id)))
    with sandbox.connect("alpha-cdk") as dms:
        expected = list(dms.list_ids("customers"))
    assert len(mirrored) == len(set(mirrored))  # nothing duplicated
    assert sorted(mirrored) == sorted(expected)  # nothing lost
