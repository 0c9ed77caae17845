"""Workers on different machines claim work without duplicates (issue 22).

Two real worker processes, each as on a machine of its own (its own working directory and
instance folder; the same database, Redis and credentials key), serve the same queues while
pulls and DMS pushes of three locations, one per wire protocol, are queued: every pull runs
once, every push reaches the sandbox DMS exactly once, and both workers take part."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import func, select

from tests.test_pushes import advisor, book, connected_location, created, dms_customer, messages
from tests.waiting import wait_for
from tests.worker_process import ROOT, worker_env
from webapp.credentials import configured_keys
from webapp.extensions import db
from webapp.models import DmsRecord, OutboxStatus, RunStatus, SyncRun
from webapp.redis_conn import get_redis
from webapp.services.queues import ALL_QUEUES
from webapp.services.runs import enqueue_pull

ACCOUNTS = ("alpha-cdk", "beta-karmak", "gamma-reynolds")
DATA_TYPES = ("customers", "vehicles")
BOOKINGS_PER_LOCATION = 8
FINISHED = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELLED}


def start_worker_on_host(app, host_dir, key: str) -> subprocess.Popen:
    """``python -m jobs.worker`` (every queue) started in ``host_dir``/cwd with its own instance folder."""
    cwd = host_dir / "cwd"
    cwd.mkdir(parents=True)
    env = worker_env(
        app,
        {
            "INSTANCE_PATH": str(host_dir / "instance"),
            "CREDENTIALS_KEYS": key,  # what every machine of an install shares
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / f"two_hosts_{host_dir.name}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.worker"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _runs(app) -> list[SyncRun]:
    with app.app_context():
        rows = list(db.session.scalars(select(SyncRun).order_by(SyncRun.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_two_workers_on_two_hosts_run_every_pull_and_push_once(app, make, sandbox, tmp_path, redis_url):
    redis = get_redis(redis_url)
    with app.app_context():
        key = configured_keys(app)[0]
    workers = [start_worker_on_host(app, tmp_path / host, key) for host in ("host-a", "host-b")]
    try:
        # Both are listening before any work is queued.
        registered = wait_for(
            lambda: (lambda found: found if len(found) == 2 else None)(Worker.all(connection=redis)),
            90,
            "both workers to register",
        )
        pids = {worker.name: worker.pid for worker in registered}
        assert set(pids.values()) == {proc.pid for proc in workers}

        locations = {account: connected_location(make, sandbox, account) for account in ACCOUNTS}
        booked = {}
        for account, location in locations.items():
            customer = dms_customer(make, sandbox, location, account)
            adv = advisor(make, location)
            booked[account] = [
                book(app, location, customer, adv, notes=f"{account} visit {n}") for n in range(BOOKINGS_PER_LOCATION)
            ]
        with app.app_context():
            for location in locations.values():
                for data_type in DATA_TYPES:
                    assert enqueue_pull(location.id, data_type) is not None

        def all_done() -> bool:
            runs = _runs(app)
            pending = [m for m in messages(app) if m.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)]
            return (
                len(runs) == len(ACCOUNTS) * len(DATA_TYPES) and all(r.status in FINISHED for r in runs) and not pending
            )

        wait_for(all_done, 300, "every pull and push to finish", poll=0.5)
        finished_jobs = [
            Job.fetch(job_id, connection=redis)
            for name in ALL_QUEUES
            for job_id in FinishedJobRegistry(name, connection=redis).get_job_ids()
        ]
    finally:
        for proc in workers:
            stop(proc)

    # Every pull ran once: one run per location and data type, each succeeded, its records stored once.
    runs = _runs(app)
    assert sorted((r.location_id, r.data_type) for r in runs) == sorted(
        (location.id, data_type) for location in locations.values() for data_type in DATA_TYPES
    )
    assert all(r.status == RunStatus.SUCCEEDED for r in runs), [(r.id, r.status, r.error) for r in runs]
    with app.app_context():
        for run in runs:
            stored = db.session.scalar(
                select(func.count())
                .select_from(DmsRecord)
                .where(DmsRecord.location_id == run.location_id, DmsRecord.data_type == run.data_type)
            )
            distinct = db.session.scalar(
                select(func.count(func.distinct(DmsRecord.dms_id))).where(
                    DmsRecord.location_id == run.location_id, DmsRecord.data_type == run.data_type
                )
            )
            assert stored == distinct == run.fetched > 0

    # Every push reached the DMS once: sent at the first attempt, one appointment each, none twice.
    sent = messages(app)
    assert len(sent) == len(ACCOUNTS) * BOOKINGS_PER_LOCATION
    assert all(m.status == OutboxStatus.SENT and m.attempts == 1 for m in sent), [
        (m.id, m.status, m.attempts, m.error_message) for m in sent if m.status != OutboxStatus.SENT or m.attempts != 1
    ]
    for account in ACCOUNTS:
        assert created(sandbox, account) == BOOKINGS_PER_LOCATION
        assert sandbox.control.count_created(account).get("customers", 0) == 0
    assert len({m.dms_id for m in sent}) == len(sent)

    # RQ handed each job to one worker, once; both workers took part; none failed.
    assert finished_jobs and all(len(job.results()) <= 1 for job in finished_jobs)
    assert {job.worker_name for job in finished_jobs} == set(pids)
    assert not any(FailedJobRegistry(name, connection=redis).get_job_ids() for name in ALL_QUEUES)
    assert all(Queue(name, connection=redis).count == 0 for name in ALL_QUEUES)
