"""The worker entry point: ``python -m jobs.worker [queue ...]``.

Each job runs inside the Flask application context (models, config), with a fresh
database session that is removed when the job ends.
"""
from __future__ import annotations

import os
import sys

from rq import SimpleWorker, Worker

from jobs.queues import ALL_QUEUES
from webapp.redis_conn import get_redis

_app = None


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


class AppSimpleWorker(AppContextMixin, SimpleWorker):
    """In-process worker (tests: ``AppSimpleWorker(...).work(burst=True)``)."""


def main(argv: list[str]) -> None:
    """Serve the given queues (default: all) until stopped."""
    queues = argv or list(ALL_QUEUES)
    get_app()  # fail fast on bad configuration
    worker = AppWorker(queues, connection=get_redis())
    worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
