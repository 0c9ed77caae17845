"""Small recurring jobs that let operators see the background machinery is alive.

``record_scheduler_heartbeat`` is enqueued every minute by the ``rq cron`` scheduler
(jobs/cron.py) on the maintenance queue and run by a worker: its timestamp proves that the
scheduler enqueues *and* a worker runs what it enqueued. ``webapp.background`` reads it
(Integration health, ``/healthz``) together with the scheduler's own registration.
"""
from __future__ import annotations

import time

from webapp.redis_conn import get_redis

SCHEDULER_HEARTBEAT_KEY = "dms-console:scheduler-heartbeat"
#: Written every this many seconds (the interval registered in jobs/cron.py).
HEARTBEAT_INTERVAL = 60


def record_scheduler_heartbeat() -> float:
    """Store when the scheduler last enqueued work and a worker ran it (shown by /healthz)."""
    now = time.time()
    get_redis().set(SCHEDULER_HEARTBEAT_KEY, now, ex=3600)
    return now


def scheduler_heartbeat_age(client=None, now: float | None = None) -> float | None:  # noqa: ANN001
    """Seconds since the last heartbeat, or None when there has been none (within the hour)."""
    value = (client or get_redis()).get(SCHEDULER_HEARTBEAT_KEY)
    return None if value is None else max(0.0, (now or time.time()) - float(value))
