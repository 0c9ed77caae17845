"""What the background processes leave in Redis to show they are alive, and how to read it.

The scheduler's heartbeat job (jobs/housekeeping.py) stamps a time every minute; the scheduler
(jobs/scheduler.py) holds a lock named after itself while standbys check in; each worker
(jobs/worker.py) records its pid namespace. ``webapp.background`` reads them for the Background
work panel (Integration health) and ``/healthz``.
"""

from __future__ import annotations

import os
import time

from webapp.redis_conn import get_redis

SCHEDULER_HEARTBEAT_KEY = "dms-console:scheduler-heartbeat"
#: Only the scheduler process holding this lock enqueues (jobs/scheduler.py); its value names it.
SCHEDULER_LOCK_KEY = "dms-console:scheduler-lock"
#: Scheduler processes waiting for the lock (standbys), scored by when each last checked in.
SCHEDULER_STANDBYS_KEY = "dms-console:scheduler-standbys"
#: A standby checks in at least this often (seconds); older entries are of standbys that are gone.
STANDBY_CHECK_IN = 10
#: Where each of the console's workers records its pid namespace (see jobs.worker).
PID_NAMESPACE_KEY = "dms-console:worker-pid-namespace:{}"


def scheduler_heartbeat_age(client=None, now: float | None = None) -> float | None:
    """Seconds since the last heartbeat, or None when there has been none (within the hour)."""
    value = (client or get_redis()).get(SCHEDULER_HEARTBEAT_KEY)
    return None if value is None else max(0.0, (now or time.time()) - float(value))


def scheduler_lock_holder(client=None) -> str | None:
    """The name (``host:pid:id``) of the scheduler process holding the lock, or None."""
    value = (client or get_redis()).get(SCHEDULER_LOCK_KEY)
    return None if value is None else _text(value)


def scheduler_standbys(client=None, now: float | None = None) -> list[str]:
    """The names of the standby schedulers that checked in within the last three check-ins."""
    since = (now or time.time()) - 3 * STANDBY_CHECK_IN
    names = (client or get_redis()).zrangebyscore(SCHEDULER_STANDBYS_KEY, since, "+inf")
    return [_text(name) for name in names]


def pid_namespace() -> str | None:
    """This process's pid namespace (Linux), or None where it cannot be read."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
