"""The worker entry point: ``python -m jobs.worker [queue ...]``.

Each job runs inside the Flask application context (models, config), with a fresh
database session that is removed when the job ends.
"""
from __future__ import annotations

import gc
import os
import sys
from datetime import datetime, timezone

from rq import SimpleWorker, Worker

from jobs.locks import RedisLock
from jobs.queues import ALL_QUEUES
from webapp.redis_conn import get_redis

_app = None


def set_app(app) -> None:  # noqa: ANN001
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


class AppContextMixin:
    """Run every job inside an application context."""

    def perform_job(self, job, queue):  # noqa: ANN001 - RQ signature
        """Push an app context around the job and clean the session afterwards."""
        from webapp.extensions import db

        app = get_app()
        with app.app_context():
            if os.getpid() != getattr(self, "_parent_pid", os.getpid()):
                db.engine.dispose(close=False)  # a forked work-horse must not share sockets
            try:
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
        from webapp.background import PID_NAMESPACE_KEY, pid_namespace

        super().register_birth()
        namespace = pid_namespace()
        if namespace:
            self.connection.set(PID_NAMESPACE_KEY.format(self.name), namespace, ex=7 * 24 * 3600)

    def register_death(self) -> None:
        """Deregister, forgetting the recorded pid namespace."""
        from webapp.background import PID_NAMESPACE_KEY

        self.connection.delete(PID_NAMESPACE_KEY.format(self.name))
        super().register_death()

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, after freeing the scheduler locks of schedulers that died."""
        release_dead_scheduler_locks(self.connection, self.queue_names())
        super().run_maintenance_tasks()


#: Seconds without a heartbeat after which a scheduler holding a queue's lock is taken for dead
#: (a live one beats every second).
SCHEDULER_DEAD_AFTER = 10


def release_dead_scheduler_locks(connection, queue_names: list[str]) -> list[str]:  # noqa: ANN001
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
        silent = datetime.now(timezone.utc) - utcparse(beat.decode()).replace(tzinfo=timezone.utc)
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
        job_monitoring_interval=int(os.environ.get("WORKER_MONITOR_INTERVAL", "10")),
        maintenance_interval=int(os.environ.get("WORKER_MAINTENANCE_INTERVAL", "15")),
    )


def preload(app) -> None:  # noqa: ANN001
    """Do once, in the worker, the set-up every job's forked work-horse would otherwise
    repeat: mapping the models, the database dialect's first-connection queries, the DMS
    connectors' TLS context and HTTP modules. Measured: a pull of one small page took
    0.3-0.5 s in a work-horse against 0.15-0.25 s in a warm process."""
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
    preload(get_app())  # also fails fast on bad configuration
    make_worker(queues).work(with_scheduler=not burst, burst=burst)


if __name__ == "__main__":
    main(sys.argv[1:])
