"""The scheduler's heartbeat: proof that the scheduler enqueues *and* a worker runs what it enqueued.

``record_scheduler_heartbeat`` is enqueued every minute by the scheduler (jobs/scheduler.py,
RQ's cron scheduler with the registrations of jobs/cron.py) on the maintenance queue and run by
a worker. ``webapp.background`` reads its age (:mod:`webapp.services.liveness`) for the
Background work panel and the ``scheduled_jobs`` line of ``/healthz``.
"""

from __future__ import annotations

import time

from webapp.redis_conn import get_redis
from webapp.services.liveness import SCHEDULER_HEARTBEAT_KEY

#: Written every this many seconds (the interval registered in jobs/cron.py).
HEARTBEAT_INTERVAL = 60


def record_scheduler_heartbeat() -> float:
    """Store when the scheduler last enqueued work and a worker ran it."""
    now = time.time()
    get_redis().set(SCHEDULER_HEARTBEAT_KEY, now, ex=3600)
    return now
