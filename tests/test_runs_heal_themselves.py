"""Issue 17, items 1 and 2: a run whose worker died or whose job was lost is started again at
once, and a DMS that fails or hangs delays only its own location's work.

Real Redis and RQ: in-process workers (``run_jobs``) and, where a process must die or two
must work at once, real ``python -m jobs.worker`` processes.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC

import pytest
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.worker_process import run_worker, start_worker, worker_env
from webapp.extensions import db
from webapp.models import DmsRecord, LookupTrigger, RelatedLookupStatus, Role, RunStatus, RunTrigger, SyncRun
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.locks import LocationSlot, RunLock
from webapp.services.queues import PULLS
from webapp.services.related_ros import recover_lost_lookups, request_related_lookup
from webapp.services.runs import enqueue_backfill, enqueue_pull, recover_dead_runs


def _run(app, run_id: int) -> SyncRun:
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        db.session.expunge(run)
        return run


def _runs(app, location_id: int, data_type: str) -> list[SyncRun]:
    with app.app_context():
        runs = list(
            db.session.scalars(
                select(SyncRun)
                .where(SyncRun.location_id == location_id, SyncRun.data_type == data_type)
                .order_by(SyncRun.id)
            )
        )
        for run in runs:
            db.session.expunge(run)
        return runs


def _mirror(app, location_id: int, data_type: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(DmsRecord.dms_id).where(DmsRecord.location_id == location_id, DmsRecord.data_type == data_type)
            )
        )


def _dms_ids(sandbox, account: str, data_type: str) -> list[str]:
    with sandbox.connect(account) as dms:
        return list(dms.list_ids(data_type))


@pytest.fixture()
def alpha(make, sandbox):
    return make.location(name="Alpha", **dms_settings(sandbox, "alpha-cdk"))


@pytest.fixture()
def beta(make, sandbox):
    return make.location(name="Beta", **dms_settings(sandbox, "beta-karmak"))


# --------------------------------------------------------------------------- 1. dead runs start again
def test_a_running_run_whose_worker_died_is_started_again_at_once(app, alpha, sandbox, run_jobs):
    """Taken by a worker that then died: running, its job 'started', no lock holder (it lapsed)."""
    with app.app_context():
        dead = enqueue_pull(alpha.id, "customers", RunTrigger.SCHEDULE)
        dead.status = RunStatus.RUNNING
        db.session.commit()
        Job.fetch(dead.job_id, connection=get_redis()).set_status(JobStatus.STARTED)
        get_redis().delete(f"rq:queue:{PULLS}")  # the worker had taken it off the queue
        dead_id = dead.id
        again = recover_dead_runs()
        assert [r.trigger for r in again] == [RunTrigger.SCHEDULE]
        again_id = again[0].id
        assert enqueue_pull(alpha.id, "customers") is None  # the new one is the active run
    old = _run(app, dead_id)
    assert old.status == RunStatus.FAILED and "worker running it stopped" in old.error
    assert f"started it again at once (run #{again_id})" in old.fix_hint
    run_jobs()
    assert _run(app, again_id).status == RunStatus.SUCCEEDED
    assert sorted(_mirror(app, alpha.id, "customers")) == sorted(_dms_ids(sandbox, "alpha-cdk", "customers"))


def test_a_queued_run_whose_job_was_lost_with_redis_is_queued_again(app, alpha, run_jobs):
    with app.app_context():
        lost_id = enqueue_pull(alpha.id, "vehicles", RunTrigger.MANUAL).id
    get_redis(app.config["REDIS_URL"]).flushdb()  # Redis restarted with nothing kept
    with app.app_context():
        again = [(r.id, r.trigger) for r in recover_dead_runs()]
    assert len(again) == 1 and again[0][1] == RunTrigger.MANUAL
    assert _run(app, lost_id).status == RunStatus.CANCELLED
    run_jobs()
    assert _run(app, again[0][0]).status == RunStatus.SUCCEEDED


def test_a_backfill_started_again_continues_from_where_it_got(app, alpha, run_jobs):
    with app.app_context():
        dead = enqueue_backfill(alpha.id, "customers")
        dead.status, dead.cursor_after, dead.fetched, dead.expected_total = RunStatus.RUNNING, "40", 40, 120
        db.session.commit()
        Job.fetch(dead.job_id, connection=get_redis()).set_status(JobStatus.STARTED)
        get_redis().delete(f"rq:queue:{PULLS}")
        [again] = recover_dead_runs()
        assert (again.trigger, again.cursor_after, again.fetched, again.expected_total) == (
            RunTrigger.BACKFILL,
            "40",
            40,
            120,
        )


def test_a_live_run_is_left_alone(app, alpha):
    """Running with its lock held, or queued with its job in the queue, or waiting for RQ's retry."""
    with app.app_context():
        queued = enqueue_pull(alpha.id, "customers").id
        running = enqueue_pull(alpha.id, "vehicles")
        running.status = RunStatus.RUNNING
        db.session.commit()
        RunLock(get_redis(), alpha.id, "vehicles", owner=str(running.id)).acquire()
        retrying = enqueue_pull(alpha.id, "repair_orders")
        retrying.status = RunStatus.RUNNING
        db.session.commit()
        Job.fetch(retrying.job_id, connection=get_redis()).set_status(JobStatus.SCHEDULED)
        assert recover_dead_runs() == []
        ids = [queued, running.id, retrying.id]
    for run_id in ids:
        assert _run(app, run_id).status in (RunStatus.QUEUED, RunStatus.RUNNING)


def test_a_worker_killed_mid_pull_is_replaced_within_the_lock_time(app, alpha, sandbox, run_jobs):
    """kill -9 of a real worker between pages: once its lock lapses (2 s here, RUN_LOCK_TTL) the
    sweep starts the pull again, without waiting for RQ's maintenance; nothing lost or doubled."""
    with app.app_context():
        run_id = enqueue_pull(alpha.id, "customers", RunTrigger.SCHEDULE).id
    code = run_worker(
        app, "pulls", "pull.after_commit=3", "heal-kill.log", extra_env={"PULL_PAGE_SIZE": "15", "RUN_LOCK_TTL": "2"}
    )
    assert code == -9
    redis = get_redis(app.config["REDIS_URL"])
    with app.app_context():
        lock = RunLock(redis, alpha.id, "customers", "?")
        for _ in range(100):  # the dead worker's lock lapses by itself
            if lock.holder() is None:
                break
            time.sleep(0.1)
        assert lock.holder() is None
        again = [r.id for r in recover_dead_runs()]
    runs = _runs(app, alpha.id, "customers")
    assert again == [runs[1].id]
    assert runs[0].id == run_id and runs[0].status == RunStatus.FAILED
    assert len(runs) == 2 and runs[1].status == RunStatus.QUEUED
    run_jobs()
    assert _run(app, runs[1].id).status == RunStatus.SUCCEEDED
    mirrored = _mirror(app, alpha.id, "customers")
    assert len(mirrored) == len(set(mirrored))
    assert sorted(mirrored) == sorted(_dms_ids(sandbox, "alpha-cdk", "customers"))


# --------------------------------------------------------------------------- 2. retries are rescheduled
def test_a_failing_dms_queues_the_next_try_and_the_worker_moves_on(
    app, client, auth, make, alpha, beta, sandbox, run_jobs
):
    sandbox.control.inject_fault("503", count=1, account="alpha-cdk")
    with app.app_context():
        a = enqueue_pull(alpha.id, "customers", RunTrigger.MANUAL).id
        b = enqueue_pull(beta.id, "customers", RunTrigger.MANUAL).id
    run_jobs(retries_within=0)  # the tries due later are not worked yet
    waiting = _run(app, a)
    assert waiting.status == RunStatus.QUEUED
    assert waiting.error.startswith(
        f"Try 1 of {retry_policy.PULLS.tries} did not get through: the DMS answered with an error"
    )
    assert "tries again by itself about a second after that try (try 2 of 6)" in waiting.fix_hint
    assert _run(app, b).status == RunStatus.SUCCEEDED  # the other location's pull did not wait
    scheduled = ScheduledJobRegistry(PULLS, connection=get_redis(app.config["REDIS_URL"]))
    assert scheduled.get_job_ids() == [waiting.job_id]
    with app.app_context():
        assert enqueue_pull(alpha.id, "customers") is None  # the waiting run is alive
    auth.login(make.user(Role.SERVICE_MANAGER, alpha).email, PASSWORD)
    row = soup(client.get("/integrations/")).select_one("#row-customers")
    assert "Waiting to try again" in row.text and "Try 1 of 6 did not get through" in row.text
    run_jobs()
    done = _run(app, a)
    assert done.status == RunStatus.SUCCEEDED and done.error is None
    assert sorted(_mirror(app, alpha.id, "customers")) == sorted(_dms_ids(sandbox, "alpha-cdk", "customers"))


def test_a_dms_busy_with_another_run_makes_the_next_wait_without_a_worker(app, alpha, beta, run_jobs):
    redis = get_redis(app.config["REDIS_URL"])
    slot = LocationSlot(redis, alpha.id, owner="another-run")
    assert slot.acquire()
    with app.app_context():
        a = enqueue_pull(alpha.id, "vehicles").id
        b = enqueue_pull(beta.id, "vehicles").id
    run_jobs(retries_within=0)
    assert _run(app, a).status == RunStatus.QUEUED and _run(app, a).error is None
    assert _run(app, b).status == RunStatus.SUCCEEDED
    slot.release()
    run_jobs()
    assert _run(app, a).status == RunStatus.SUCCEEDED


def _worker_process(app, queue: str, log_name: str) -> subprocess.Popen:
    return start_worker(worker_env(app), queue, log_name)


def test_a_hung_dms_holds_one_worker_and_the_neighbour_is_pulled_meanwhile(app, alpha, beta, sandbox):
    """Three pulls of a location whose DMS hangs are queued before a neighbour's; two real worker
    processes. The neighbour's pull finishes while the hung location's first pull is still
    waiting for its DMS: that DMS held one worker, not both."""
    sandbox.control.inject_fault("hang", count=100, account="alpha-cdk", hang_seconds=12)
    with app.app_context():
        hung = [enqueue_pull(alpha.id, t).id for t in ("customers", "vehicles", "repair_orders")]
        neighbour = enqueue_pull(beta.id, "customers").id
    workers = [_worker_process(app, PULLS, f"heal-hung-{n}.log") for n in (1, 2)]
    try:
        deadline = time.monotonic() + 60
        while _run(app, neighbour).status != RunStatus.SUCCEEDED and time.monotonic() < deadline:
            time.sleep(0.2)
        states = sorted(_run(app, run_id).status.value for run_id in hung)
        assert _run(app, neighbour).status == RunStatus.SUCCEEDED
        # Whichever of them the two workers took first holds the DMS; the others wait, queued.
        assert states == ["queued", "queued", "running"], f"the neighbour waited for the hung DMS: {states}"
    finally:
        for proc in workers:
            os.killpg(proc.pid, 9)
            proc.wait()
        sandbox.control.clear_faults()


# --------------------------------------------------------------------------- related-RO lookups
@pytest.fixture()
def karmak_case(make, sandbox):
    loc = make.location(name="Beta Trucks", **dms_settings(sandbox, "beta-karmak"), related_ro_enabled=True)
    customer = make.customer(loc)
    return make.case(loc, make.asset(loc, customer), ro_number="100004")


def test_a_related_ro_lookup_queues_its_next_try_instead_of_sleeping(app, karmak_case, sandbox, run_jobs):
    sandbox.control.inject_fault("503", count=1, account="beta-karmak")
    with app.app_context():
        case = db.session.merge(karmak_case)
        assert request_related_lookup(case, LookupTrigger.EXPORT)
        first_job = case.related_lookup_job_id
    run_jobs(retries_within=0)
    with app.app_context():
        case = db.session.merge(karmak_case)
        db.session.refresh(case)
        assert case.related_lookup_status == RelatedLookupStatus.PENDING
        assert case.related_lookup_attempts == 1 and case.related_lookup_job_id != first_job
    run_jobs()
    with app.app_context():
        case = db.session.merge(karmak_case)
        db.session.refresh(case)
        assert case.related_lookup_status == RelatedLookupStatus.DONE
        assert case.related_lookup_attempts == 2


def test_a_lookup_whose_job_was_lost_is_queued_again(app, karmak_case, run_jobs):
    from datetime import timedelta

    from webapp.models import Case, utcnow

    with app.app_context():
        case = db.session.merge(karmak_case)
        assert request_related_lookup(case, LookupTrigger.EXPORT)
        case.related_lookup_requested_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    get_redis(app.config["REDIS_URL"]).flushdb()
    with app.app_context():
        assert recover_lost_lookups() == 1
        assert recover_lost_lookups() == 0  # queued: alive now
    run_jobs()
    with app.app_context():
        assert db.session.get(Case, karmak_case.id).related_lookup_status == RelatedLookupStatus.DONE


# --------------------------------------------------------------------------- make run's workers
def test_make_run_starts_pull_workers_apart_from_the_interactive_ones():
    from webapp.runner import worker_processes

    default = worker_processes({})
    assert [name for name, _ in default] == ["worker pulls-1", "worker pulls-2", "worker pushes-1", "worker pushes-2"]
    assert all("pulls" not in queues for name, queues in default if "pushes" in name)
    assert all(queues == ("maintenance", "pulls") for name, queues in default if "pulls" in name)
    assert len(worker_processes({"PULL_WORKERS": "3", "INTERACTIVE_WORKERS": "1"})) == 4


# --------------------------------------------------------------------------- a dead worker's scheduler
def test_a_dead_schedulers_lock_is_freed_so_delayed_work_resumes(app):
    """A killed worker's RQ scheduler keeps the queue's scheduler lock for 61 s; a worker's
    maintenance frees it once the scheduler has missed 10 s of heartbeats, and only then."""
    from datetime import datetime, timedelta

    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
    from rq.utils import utcformat

    from jobs.worker import release_dead_scheduler_locks

    redis = get_redis(app.config["REDIS_URL"])
    now = datetime.now(UTC)
    for queue, holder, beat in (("pulls", "dead", now - timedelta(seconds=30)), ("pushes", "alive", now)):
        redis.set(RQScheduler.get_locking_key(queue), holder, ex=61)
        redis.hset(SCHEDULER_KEY_TEMPLATE % holder, "last_heartbeat", utcformat(beat))
    assert release_dead_scheduler_locks(redis, ["pulls", "pushes", "lookups"]) == ["pulls"]
    assert redis.get(RQScheduler.get_locking_key("pulls")) is None
    assert redis.get(RQScheduler.get_locking_key("pushes")) == b"alive"
