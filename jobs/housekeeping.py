"""Small recurring jobs that let operators see the background machinery is alive."""
from __future__ import annotations

import time

from webapp.redis_conn import get_redis

SCHEDULER_HEARTBEAT_KEY = "dms-console:scheduler-heartbeat"


def record_scheduler_heartbeat() -> float:
    """Store when the scheduler last enqueued work and a worker ran it (shown by /healthz)."""
    now = time.time()
    get_redis().set(SCHEDULER_HEARTBEAT_KEY, now, ex=3600)
    return now


def scheduler_heartbeat_age() -> float | None:
    """Seconds since the last heartbeat, or None when there has been none."""
    value = get_redis().get(SCHEDULER_HEARTBEAT_KEY)
    return None if value is None else max(0.0, time.time() - float(value))
