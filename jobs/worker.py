"""The worker entry point: ``python -m jobs.worker [queue ...]``.

Each job runs inside the Flask application context (models, config), with a fresh
database session that is removed when the job ends, and logs with its job id and, when the job
works for one location, that location's id (webapp/logging_setup.py).
"""

from __future__ import annotations

import gc
import os
import sys
from datetime import UTC, datetime

from rq import SimpleWorker, Worker
from rq.job import Job
from rq.utils import import_attribute
from sqlalchemy import select

from webapp.logging_setup import configure_logging, log_context
from webapp.redis_conn import get_redis
from webapp.services.liveness import PID_NAMESPACE_KEY, pid_namespace
from webapp.services.locks import RedisLock
from webapp.services.queues import ALL_QUEUES

_app = None


def set_app(app) -> None:
    """Use ``app`` for jobs run in this process (tests hand in their configured app)."""
    global _app
    _app = app


def get_app():
    """The Flask app for jobs (created once per process)."""
    global _app
    if _app is None:
        from webapp import create_app

        _app = create_app()
    return _app


#: Jobs queued by an earlier version name a function (RQ stores a job's function and its failure
#: callback by dotted name) that has moved since: its new home. Jobs still in Redis at an upgrade run.
MOVED_JOBS = {
    "jobs.pulls.run_reconcile": "jobs.reconcile.run_reconcile",
    "jobs.pulls.on_pull_failure": "jobs.claim.on_run_failure",
}


class AppJob(Job):
    """An RQ job that finds a moved function (:data:`MOVED_JOBS`) in its new home."""

    @property
    def func(self):
        """The job's function, where it lives now."""
        moved = MOVED_JOBS.get(self.func_name)
        return import_attribute(moved) if moved else super().func

    @property
    def failure_callback(self):
        """The job's failure callback, where it lives now."""
        self._failure_callback_name = MOVED_JOBS.get(self._failure_callback_name, self._failure_callback_name)
        return super().failure_callback


#: Jobs that work for one location, and how their first argument leads to it: the location's id
#: itself, or the id of a row (a sync run, a case) that has one.
LOCATION_OF_JOB = {
    "jobs.pushes.deliver_pushes": None,
    "jobs.pulls.run_pull": "SyncRun",
    "jobs.reconcile.run_reconcile": "SyncRun",
    "jobs.extracts.run_import": "SyncRun",
    "jobs.cases.lookup_related_ros": "Case",
}


def job_location_id(job) -> int | None:
    """The id of the location ``job`` works for (:data:`LOCATION_OF_JOB`); None for other jobs, when
    its row is gone, or when the database cannot say (a log field never keeps a job from running:
    the job meets the same error itself, and RQ records it)."""
    from webapp import models
    from webapp.extensions import db

    try:
        func_name = MOVED_JOBS.get(job.func_name, job.func_name)
        if func_name not in LOCATION_OF_JOB or not job.args:
            return None
        model_name = LOCATION_OF_JOB[func_name]
        if model_name is None:
            return job.args[0]
        model = getattr(models, model_name)
        location_id = db.session.scalar(select(model.location_id).where(model.id == job.args[0]))
    except Exception:
        location_id = None
    db.session.rollback()  # the job starts in a transaction of its own, as it would without this look-up
    return location_id


class AppContextMixin:
    """Run every job inside an application context, logging with its job and location ids."""

    def perform_job(self, job, queue):
        """Push an app context around the job and clean the session afterwards."""
        from webapp.extensions import db

        app = get_app()
        with app.app_context():
            if os.getpid() != getattr(self, "_parent_pid", os.getpid()):
                db.engine.dispose(close=False)  # a forked work-horse must not share sockets
            try:
                with log_context(job_id=job.id):
                    with log_context(location_id=job_location_id(job)):
                        return super().perform_job(job, queue)
            finally:
                db.session.remove()


class AppWorker(AppContextMixin, Worker):
    """Forking worker (production)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parent_pid = os.getpid()

    def register_birth(self) -> None:
        """Register, and record this worker's pid namespace: Integration health may then drop it
        at once when its process is gone (only from a process of the same namespace)."""
        super().register_birth()
        namespace = pid_namespace()
        if namespace:
            self.connection.set(PID_NAMESPACE_KEY.format(self.name), namespace, ex=7 * 24 * 3600)

    def register_death(self) -> None:
        """Deregister, forgetting the recorded pid namespace."""
        self.connection.delete(PID_NAMESPACE_KEY.format(self.name))
        super().register_death()

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, after freeing the scheduler locks of schedulers that died."""
        release_dead_scheduler_locks(self.connection, self.queue_names())
        super().run_maintenance_tasks()


#: Seconds without a heartbeat after which a scheduler holding a queue's lock is taken for dead
#: (a live one beats every second).
SCHEDULER_DEAD_AFTER = 10


def release_dead_scheduler_locks(connection, queue_names: list[str]) -> list[str]:
    """Free the scheduler locks of ``queue_names`` held by a scheduler that stopped beating.

    Each worker runs an RQ scheduler, one per queue at a time, that moves delayed jobs (the next
    try of a pull, a wait for a busy DMS) to their queue. A killed worker's scheduler keeps its
    lock for 61 s and the others would only take it over at a later maintenance: until then no
    delayed job of that queue starts. Returns the queues freed."""
    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
    from rq.utils import utcparse

    freed = []
    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        holder = connection.get(key)
        if not holder:
            continue
        beat = connection.hget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "last_heartbeat")
        if beat is None:
            continue  # not registered yet (it is starting) or already gone with its lock
        silent = datetime.now(UTC) - utcparse(beat.decode()).replace(tzinfo=UTC)
        if silent.total_seconds() > SCHEDULER_DEAD_AFTER and RedisLock(connection, key, owner=holder).release():
            freed.append(name)
    return freed


class AppSimpleWorker(AppContextMixin, SimpleWorker):
    """In-process worker (tests: ``AppSimpleWorker(...).work(burst=True)``)."""


def make_worker(queues: list[str] | None = None, simple: bool = False) -> Worker:
    """A worker on ``queues`` (default: all), tuned so a killed worker's job is recovered
    within a minute or two: heartbeats every ``WORKER_MONITOR_INTERVAL`` s (default 10, so a
    dead job's registry entry lapses after 70 s) and maintenance — which re-queues abandoned
    jobs and frees a dead scheduler's locks — every ``WORKER_MAINTENANCE_INTERVAL`` s (default 15;
    RQ's own default is 600)."""
    cls = AppSimpleWorker if simple else AppWorker
    return cls(
        queues or list(ALL_QUEUES),
        connection=get_redis(),
        job_class=AppJob,
        job_monitoring_interval=int(os.environ.get("WORKER_MONITOR_INTERVAL", "10")),
        maintenance_interval=int(os.environ.get("WORKER_MAINTENANCE_INTERVAL", "15")),
    )


def preload(app) -> None:
    """Do once, in the worker, the set-up every job's forked work-horse would otherwise
    repeat: mapping the models, the database dialect's first-connection queries, the DMS
    connectors' TLS context and HTTP modules (a small pull in a cold work-horse took about
    twice as long as in a warm process)."""
    from sqlalchemy.orm import configure_mappers

    from connectors.http import preload as preload_http
    from webapp.extensions import db

    preload_http()
    configure_mappers()
    with app.app_context():
        with db.engine.connect():
            pass
        db.engine.dispose()  # no connection is shared with the work-horses
    # What is loaded now lives as long as the worker: the work-horses' garbage collections
    # need not walk it (nor copy its memory pages by touching them), as Python's gc.freeze
    # documentation advises before forking.
    gc.freeze()


def main(argv: list[str]) -> None:
    """``python -m jobs.worker [--burst] [queue ...]``: serve the queues until stopped
    (``--burst``: until they are empty)."""
    burst = "--burst" in argv
    queues = [a for a in argv if not a.startswith("--")]
    configure_logging("worker")  # before the app is built, which would name the process "web"
    preload(get_app())  # also fails fast on bad configuration
    make_worker(queues).work(with_scheduler=not burst, burst=burst)


if __name__ == "__main__":
    main(sys.argv[1:])
