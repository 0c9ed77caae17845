"""Is the background machinery working: Redis (the job queue), the scheduler (jobs/scheduler.py), the
scheduled jobs, the workers? Read by the Integration health page, ``/healthz`` and the
"Background work is paused" banner; and what a request answers when Redis is unreachable.

Everything here asks Redis with the request path's short time-out (``REDIS_REQUEST_TIMEOUT``)
and never raises: a dead Redis is a state to show, not a 500.

How each state is known:

- the scheduler: the one holding the scheduler lock (jobs/scheduler.py) checks in to RQ's
  ``rq:cron_schedulers`` registry at least every minute; late after ``SCHEDULER_LATE_AFTER`` s,
  not running after ``SCHEDULER_DEAD_AFTER`` s (or when it has no entry: it deregisters when
  stopped or when it loses the lock); the lock's holder and the standbys are named when running;
- scheduled jobs: the heartbeat job it enqueues every minute (jobs/housekeeping.py) must
  have been run by a worker within ``HEARTBEAT_LATE_AFTER`` s;
- workers: RQ's worker registry, minus workers whose last heartbeat is older than their
  ``worker_ttl`` (RQ's default, 420 s: a killed worker still counts until then; RQ drops its
  entry a minute later); every queue needs one. The heartbeat is in Redis, so this holds
  wherever the worker runs (another machine, or a container with this hostname but its own
  process ids, where asking this machine for the worker's pid would wrongly find none).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC

import psutil
import redis
from flask import Flask, current_app

from webapp.services.liveness import (
    PID_NAMESPACE_KEY,
    pid_namespace,
    scheduler_heartbeat_age,
    scheduler_lock_holder,
    scheduler_standbys,
)
from webapp.services.queues import ALL_QUEUES

#: Errors that mean "Redis cannot be reached" (or no Redis is configured).
UNREACHABLE = (redis.RedisError, OSError, RuntimeError)

SCHEDULER_LATE_AFTER = 90
SCHEDULER_DEAD_AFTER = 180
HEARTBEAT_LATE_AFTER = 120
#: The banner's Redis check is reused for this many seconds per process.
BANNER_CACHE_SECONDS = 5.0

#: Each check's name (``/healthz``) and label (Integration health), in display order.
LABELS = {
    "redis": "Redis (job queue)",
    "scheduler": "Scheduler",
    "scheduled_jobs": "Scheduled jobs",
    "workers": "Workers",
}

PAUSED_TITLE = "Background work is paused"
#: What an unreachable Redis stops, in the same words on the Redis line of Integration
#: health, in the banner and in the answer to an action that needed Redis.
REDIS_DOWN_CONSEQUENCES = "Pull now is unavailable, and DMS pushes wait and are sent when it is back."
#: The "Background work is paused" banner (templates/base.html), after the title.
PAUSED_MESSAGE = f"the console cannot reach Redis, its job queue. Pages keep working; {REDIS_DOWN_CONSEQUENCES}"
#: The answer to an action that needed Redis (any role: it names who can look further).
ACTION_PAUSED_MESSAGE = (
    f"{PAUSED_TITLE}: the console cannot reach Redis, its job queue, so this could not start its background "
    f"work. {REDIS_DOWN_CONSEQUENCES} Try again in a few minutes; if it lasts, tell a Service Manager or "
    "Global Admin (their Integration health page shows the cause)."
)


@dataclass
class Check:
    """One line of the Background work panel (and one field of ``/healthz``)."""

    name: str  # a key of LABELS
    state: str  # ok, late, down, unknown
    text: str
    fix: str = ""

    @property
    def label(self) -> str:
        """What Integration health calls it."""
        return LABELS[self.name]

    @property
    def ok(self) -> bool:
        """Nothing to do."""
        return self.state == "ok"

    def summary(self) -> str:
        """``ok``, or the state and why (``/healthz``)."""
        return "ok" if self.ok else f"{self.state}: {self.text}"


@dataclass
class BackgroundHealth:
    """Every check, in display order."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when every check is ok."""
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, str]:
        """``{name: summary}`` for ``/healthz``."""
        return {check.name: check.summary() for check in self.checks}


def ago(seconds: float) -> str:
    """``45 s``, ``95 s``, ``3 min``, ``2 h``."""
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


def _client():
    from webapp.redis_conn import get_redis, request_timeout

    return get_redis(timeout=request_timeout())


def redis_reachable() -> bool:
    """Does Redis answer a PING within the request time-out?"""
    try:
        return bool(_client().ping())
    except UNREACHABLE:
        return False


def heartbeat_lapsed(worker, now: float) -> bool:
    """True when the worker has not sent its heartbeat within its ``worker_ttl``: it is gone.

    A running worker sends one at least every ``worker_ttl - 15`` s (after each wait for a
    job, and every few seconds while a job runs); RQ only drops its entry a minute after that.
    """
    last = worker.last_heartbeat
    if last is None:
        return True
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return now - last.timestamp() > worker.worker_ttl


def process_gone(worker, client, host: str, namespace: str | None) -> bool:
    """True when ``worker`` ran in this machine's process table and its process has died.

    Only when the worker shares our host name and, where it recorded one, our pid namespace:
    a worker in another container may share the host name but not the pids, and only its
    heartbeat can tell about it."""
    if worker.hostname != host or not worker.pid:
        return False
    theirs = client.get(PID_NAMESPACE_KEY.format(worker.name))
    if theirs is not None and (namespace is None or theirs.decode() != namespace):
        return False
    try:
        return psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def live_workers(client, now: float | None = None) -> list:
    """Registered RQ workers, without those whose heartbeat has lapsed or whose process is seen to be gone."""
    from rq import Worker

    now = time.time() if now is None else now
    host, namespace = socket.gethostname(), pid_namespace()
    return [
        worker
        for worker in Worker.all(connection=client)
        if not heartbeat_lapsed(worker, now) and not process_gone(worker, client, host, namespace)
    ]


def _scheduler_check(client, now: float) -> Check:
    from rq.cron_scheduler_registry import get_registry_key

    fix = (
        "make run restarts a stopped scheduler by itself (its log says so); if the console's "
        "processes are run some other way, start `python -m jobs.scheduler` again."
    )
    seen = [score for _name, score in client.zrange(get_registry_key(), 0, -1, withscores=True)]
    if not seen:
        return Check(
            "scheduler",
            "down",
            "Not running: no scheduler is registered, so scheduled pulls and push retries are not started.",
            fix,
        )
    age = max(0.0, now - max(seen))
    if age > SCHEDULER_DEAD_AFTER:
        return Check(
            "scheduler",
            "down",
            f"Not running: last seen {ago(age)} ago (it checks in every minute). Scheduled pulls "
            "and push retries are not started.",
            fix,
        )
    if age > SCHEDULER_LATE_AFTER:
        return Check("scheduler", "late", f"Last seen {ago(age)} ago; it checks in every minute.", fix)
    return Check("scheduler", "ok", f"Running: last seen {ago(age)} ago{_holder_text(client, now)}.")


def _holder_text(client, now: float) -> str:
    """`` (host:pid:id holds the scheduler lock; 1 standby waiting)`` (jobs/scheduler.py), or
    nothing when no process holds it."""
    holder = scheduler_lock_holder(client)
    if holder is None:
        return ""
    standbys = len(scheduler_standbys(client, now))
    return f" ({holder} holds the scheduler lock; {standbys} standby{'s' if standbys != 1 else ''} waiting)"


def _heartbeat_check(client, now: float) -> Check:
    fix = "Check the Scheduler and Workers lines of this panel: one of them has stopped, or every worker is busy."
    age = scheduler_heartbeat_age(client, now)
    if age is None:
        return Check(
            "scheduled_jobs",
            "down",
            "None has run in the last hour, or since Redis started (the scheduler enqueues one every "
            "minute for a worker to run).",
            fix,
        )
    if age > HEARTBEAT_LATE_AFTER:
        return Check("scheduled_jobs", "late", f"Waiting: the every-minute check job last ran {ago(age)} ago.", fix)
    return Check("scheduled_jobs", "ok", f"Running: the every-minute check job ran {ago(age)} ago.")


def _workers_check(client, now: float) -> Check:
    from rq import Queue

    fix = (
        "make run restarts a stopped worker by itself (its log says so); if the console's processes "
        "are run some other way, start `python -m jobs.worker` again."
    )
    workers = live_workers(client, now)
    waiting = sum(Queue(name, connection=client).count for name in ALL_QUEUES)
    waiting_text = f"{waiting} job{'s' if waiting != 1 else ''} waiting"
    served = {name for worker in workers for name in worker.queue_names()}
    unserved = [name for name in ALL_QUEUES if name not in served]
    if not workers:
        return Check(
            "workers", "down", f"No worker is running: pulls, DMS pushes and lookups wait ({waiting_text}).", fix
        )
    if unserved:
        return Check(
            "workers",
            "down",
            f"No worker serves the {', '.join(unserved)} queue{'s' if len(unserved) > 1 else ''} ({waiting_text}).",
            fix,
        )
    return Check(
        "workers",
        "ok",
        f"{len(workers)} worker{'s' if len(workers) != 1 else ''} serving every queue ({waiting_text}).",
    )


def background_health() -> BackgroundHealth:
    """Every check, asked now."""
    try:
        client = _client()
        client.ping()
    except UNREACHABLE as error:
        redis_down = Check(
            "redis",
            "down",
            f"Unreachable ({type(error).__name__}): {REDIS_DOWN_CONSEQUENCES}",
            "make run restarts its embedded Redis by itself; a separate Redis server (REDIS_URL) "
            "must be restarted by whoever runs it.",
        )
        unknown = [
            Check(name, "unknown", "Cannot be checked while Redis is unreachable.")
            for name in LABELS
            if name != "redis"
        ]
        return BackgroundHealth([redis_down, *unknown])
    checks = [Check("redis", "ok", "Reachable.")]
    now = time.time()
    for name, ask in (
        ("scheduler", _scheduler_check),
        ("scheduled_jobs", _heartbeat_check),
        ("workers", _workers_check),
    ):
        try:
            checks.append(ask(client, now))
        except UNREACHABLE as error:  # Redis went away between two questions
            checks.append(Check(name, "unknown", f"Could not be read ({type(error).__name__})."))
    return BackgroundHealth(checks)


# --------------------------------------------------------------------------- the banner
_banner_cache: dict[str, tuple[float, bool]] = {}


def background_paused() -> bool:
    """True while Redis cannot be reached (asked at most every few seconds per process)."""
    url = current_app.config.get("REDIS_URL") or ""
    now = time.monotonic()
    cached = _banner_cache.get(url)
    if cached is not None and now < cached[0]:
        return cached[1]
    paused = not redis_reachable()
    _banner_cache[url] = (now + float(current_app.config.get("BACKGROUND_CHECK_CACHE", BANNER_CACHE_SECONDS)), paused)
    return paused


def forget_cached_state() -> None:
    """Ask Redis again on the next page (tests; after a restart)."""
    _banner_cache.clear()


def init_app(app: Flask) -> None:
    """A readable answer when a request needs Redis and cannot reach it (the banner's check,
    :func:`background_paused`, is a template global: webapp/template_filters.py)."""
    from webapp.errors import respond

    def _unreachable(error: Exception):
        app.logger.warning("Redis unreachable during a request (%s: %s)", type(error).__name__, error)
        _banner_cache.pop(app.config.get("REDIS_URL") or "", None)
        return respond(503, PAUSED_TITLE, ACTION_PAUSED_MESSAGE)

    app.register_error_handler(redis.exceptions.ConnectionError, _unreachable)
    app.register_error_handler(redis.exceptions.TimeoutError, _unreachable)
