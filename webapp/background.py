"""Is the background machinery working: Redis (the job queue), the ``rq cron`` scheduler, the
scheduled jobs, the workers? Read by the Integration health page, ``/healthz`` and the
"Background work is paused" banner; and what a request answers when Redis is unreachable.

Everything here asks Redis with the request path's short time-out (``REDIS_REQUEST_TIMEOUT``)
and never raises: a dead Redis is a state to show, not a 500.

How each state is known:

- the scheduler: ``rq cron`` checks in to the ``rq:cron_schedulers`` registry at least
  every minute; late after ``SCHEDULER_LATE_AFTER`` s, not running after
  ``SCHEDULER_DEAD_AFTER`` s (or when it has no entry: it deregisters when stopped);
- scheduled jobs: the heartbeat job it enqueues every minute (jobs/housekeeping.py) must
  have been run by a worker within ``HEARTBEAT_LATE_AFTER`` s;
- workers: RQ's worker registry, minus workers on this machine whose process is gone (a
  killed worker's entry otherwise lingers for minutes); every queue needs one.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import redis
from flask import Flask, current_app

#: Errors that mean "Redis cannot be reached" (or no Redis is configured).
UNREACHABLE = (redis.RedisError, OSError, RuntimeError)

SCHEDULER_LATE_AFTER = 90
SCHEDULER_DEAD_AFTER = 180
HEARTBEAT_LATE_AFTER = 120
#: The banner's Redis check is reused for this many seconds per process.
BANNER_CACHE_SECONDS = 5.0

PAUSED_TITLE = "Background work is paused"
ACTION_PAUSED_MESSAGE = (
    "Background work is paused: the console cannot reach Redis, its job queue, so this could not "
    "start its background work. Try again in a few minutes; if it lasts, tell a Service Manager "
    "or Global Admin (Integration health shows the cause).")


@dataclass
class Check:
    """One line of the Background work panel (and one field of ``/healthz``)."""

    name: str   # redis, scheduler, scheduled_jobs, workers
    label: str
    state: str  # ok, late, down, unknown
    text: str
    fix: str = ""

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

    def get(self, name: str) -> Check:
        """The check called ``name``."""
        return next(check for check in self.checks if check.name == name)

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


def _pid_gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def live_workers(client) -> list:  # noqa: ANN001
    """Registered RQ workers, without those of this machine whose process has died."""
    from rq import Worker

    host = socket.gethostname()
    return [worker for worker in Worker.all(connection=client)
            if not (worker.hostname == host and worker.pid and _pid_gone(worker.pid))]


def _scheduler_check(client, now: float) -> Check:  # noqa: ANN001
    from rq.cron_scheduler_registry import get_registry_key

    label = "Scheduler (rq cron)"
    fix = ("make run restarts a stopped scheduler by itself (its log says so); if the console's "
           "processes are run some other way, start `rq cron jobs.cron` again.")
    seen = [score for _name, score in client.zrange(get_registry_key(), 0, -1, withscores=True)]
    if not seen:
        return Check("scheduler", label, "down",
                     "Not running: no scheduler is registered, so scheduled pulls and push retries are not started.",
                     fix)
    age = max(0.0, now - max(seen))
    if age > SCHEDULER_DEAD_AFTER:
        return Check("scheduler", label, "down",
                     f"Not running: last seen {ago(age)} ago (it checks in every minute). Scheduled pulls "
                     "and push retries are not started.", fix)
    if age > SCHEDULER_LATE_AFTER:
        return Check("scheduler", label, "late",
                     f"Last seen {ago(age)} ago; it checks in every minute.", fix)
    return Check("scheduler", label, "ok", f"Running: last seen {ago(age)} ago.")


def _heartbeat_check(client, now: float) -> Check:  # noqa: ANN001
    from jobs.housekeeping import scheduler_heartbeat_age

    label = "Scheduled jobs"
    fix = "Check the Scheduler and Workers lines of this panel: one of them has stopped, or every worker is busy."
    age = scheduler_heartbeat_age(client, now)
    if age is None:
        return Check("scheduled_jobs", label, "down",
                     "None has run in the last hour, or since Redis started (the scheduler enqueues one every "
                     "minute for a worker to run).",
                     fix)
    if age > HEARTBEAT_LATE_AFTER:
        return Check("scheduled_jobs", label, "late",
                     f"Waiting: the every-minute check job last ran {ago(age)} ago.", fix)
    return Check("scheduled_jobs", label, "ok", f"Running: the every-minute check job ran {ago(age)} ago.")


def _workers_check(client) -> Check:  # noqa: ANN001
    from rq import Queue

    from jobs.queues import ALL_QUEUES

    label = "Workers"
    fix = ("make run restarts a stopped worker by itself (its log says so); if the console's processes "
           "are run some other way, start `python -m jobs.worker` again.")
    workers = live_workers(client)
    waiting = sum(Queue(name, connection=client).count for name in ALL_QUEUES)
    waiting_text = f"{waiting} job{'s' if waiting != 1 else ''} waiting"
    served = {name for worker in workers for name in worker.queue_names()}
    unserved = [name for name in ALL_QUEUES if name not in served]
    if not workers:
        return Check("workers", label, "down",
                     f"No worker is running: pulls, DMS pushes and lookups wait ({waiting_text}).", fix)
    if unserved:
        return Check("workers", label, "down",
                     f"No worker serves the {', '.join(unserved)} queue{'s' if len(unserved) > 1 else ''} "
                     f"({waiting_text}).", fix)
    return Check("workers", label, "ok",
                 f"{len(workers)} worker{'s' if len(workers) != 1 else ''} serving every queue ({waiting_text}).")


def background_health() -> BackgroundHealth:
    """Every check, asked now."""
    redis_label = "Redis (job queue)"
    try:
        client = _client()
        client.ping()
    except UNREACHABLE as error:
        unknown = "Cannot be checked while Redis is unreachable."
        return BackgroundHealth([
            Check("redis", redis_label, "down",
                  f"Unreachable ({type(error).__name__}): Pull now is unavailable; DMS pushes wait and are sent "
                  "when it is back.",
                  "make run restarts its embedded Redis by itself; a separate Redis server (REDIS_URL) must be "
                  "restarted by whoever runs it."),
            Check("scheduler", "Scheduler (rq cron)", "unknown", unknown),
            Check("scheduled_jobs", "Scheduled jobs", "unknown", unknown),
            Check("workers", "Workers", "unknown", unknown),
        ])
    checks = [Check("redis", redis_label, "ok", "Reachable.")]
    now = time.time()
    for name, label, check in (("scheduler", "Scheduler (rq cron)", lambda: _scheduler_check(client, now)),
                               ("scheduled_jobs", "Scheduled jobs", lambda: _heartbeat_check(client, now)),
                               ("workers", "Workers", lambda: _workers_check(client))):
        try:
            checks.append(check())
        except UNREACHABLE as error:  # Redis went away between two questions
            checks.append(Check(name, label, "unknown", f"Could not be read ({type(error).__name__})."))
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
    """The banner's check for templates, and a readable answer when a request needs Redis."""
    from webapp.errors import respond

    @app.context_processor
    def _background_context() -> dict:
        # A callable: only pages that show the banner (signed in, full page) pay for the check.
        return {"background_paused": background_paused}

    def _unreachable(error: Exception):
        app.logger.warning("Redis unreachable during a request (%s: %s)", type(error).__name__, error)
        _banner_cache.pop(app.config.get("REDIS_URL") or "", None)
        return respond(503, PAUSED_TITLE, ACTION_PAUSED_MESSAGE)

    app.register_error_handler(redis.exceptions.ConnectionError, _unreachable)
    app.register_error_handler(redis.exceptions.TimeoutError, _unreachable)
