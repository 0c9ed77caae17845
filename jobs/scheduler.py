"""The scheduler entry point: ``python -m jobs.scheduler [--url REDIS_URL] [--lock-ttl SECONDS]``.

RQ's cron scheduler (``rq cron``) has no lock of its own: two of them enqueue everything twice.
This process runs the same :class:`rq.cron.CronScheduler`, with the registrations of
jobs/cron.py, only while it holds a Redis lock (redis-py's :class:`redis.lock.Lock`, ``--lock-ttl``
seconds, default 30, renewed with ``reacquire()`` before every enqueue and at least every third
of the TTL). Start one on each of two machines: the second waits as a standby and takes over
within the TTL (plus a second) once the first is gone, SIGKILL included. A holder that loses the
lock (Redis restarted empty, or the process was frozen past the TTL and the standby took over)
stops enqueueing and waits like a standby until it holds the lock again.

Nothing fences the moment between a renewal and the enqueue that follows it: a holder frozen
longer than the TTL right there could enqueue one round beside its successor. The jobs it
enqueues are safe to run twice (webapp/services/locks.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import threading
import time
import uuid

import redis
from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound

from webapp.logging_setup import configure_logging
from webapp.services.liveness import SCHEDULER_LOCK_KEY, SCHEDULER_STANDBYS_KEY, STANDBY_CHECK_IN, scheduler_lock_holder

#: The module whose ``rq.cron.register`` calls say what is enqueued, and when.
CRON_CONFIG = "jobs.cron"
#: Seconds the lock outlives its holder's last renewal (``SCHEDULER_LOCK_TTL``).
LOCK_TTL = 30.0
#: Redis errors: lock errors are among them (``LockError`` is a ``RedisError``), so they come first.
UNREACHABLE = (redis.RedisError, OSError)

log = logging.getLogger("jobs.scheduler")


class SingleScheduler:
    """RQ's cron scheduler, run only while this process holds the scheduler lock."""

    def __init__(
        self, connection: redis.Redis, lock_ttl: float = LOCK_TTL, config: str = CRON_CONFIG, name: str = ""
    ) -> None:
        self.connection = connection
        self.config = config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # thread_local=False: the token is this process's, whichever thread renews or releases it.
        self.lock = Lock(connection, SCHEDULER_LOCK_KEY, timeout=lock_ttl, thread_local=False)
        self.renew_every = lock_ttl / 3
        #: How often a standby asks for the lock.
        self.poll = min(1.0, lock_ttl / 10)
        #: The running cron scheduler while the lock is held; None while standing by.
        self.cron: CronScheduler | None = None
        self.stopping = threading.Event()
        self._terms = 0  # times this process took the lock: each term has a CronScheduler of its own
        self._had_lock = False
        self._last_said = ""
        self._checked_in = 0.0

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """Schedule while holding the lock, stand by otherwise, until :meth:`stop`."""
        log.info("scheduler %s started (lock TTL %g s)", self.name, self.lock.timeout)
        # Imported before the lock is asked for: a take-over then only re-reads the registrations
        # (milliseconds) instead of importing the jobs' modules while the lock's TTL runs.
        importlib.import_module(self.config)
        try:
            while not self.stopping.is_set():
                if self.cron is None:
                    self._stand_by()
                else:
                    self._tick()
        finally:
            self._step_down(release=True)
            self._leave_standbys()
            log.info("scheduler %s stopped", self.name)

    def stop(self, *_args) -> None:
        """Leave :meth:`run` soon (signal handler): the lock is released for the standby."""
        self.stopping.set()

    def _stand_by(self) -> None:
        """Take the lock if it is free; otherwise check in as a standby and wait a moment."""
        try:
            if self._acquire():
                self._take_over()
                return
            holder = scheduler_lock_holder(self.connection)
            self._check_in()
        except UNREACHABLE as error:
            self._say(f"Redis unreachable ({type(error).__name__}): not scheduling; trying again")
            self.stopping.wait(self.renew_every)
            return
        if holder:  # else it expired a moment ago: the next try takes it
            self._say(f"standby: scheduler {holder} holds the lock; waiting to take over")
        self.stopping.wait(self.poll)

    def _acquire(self) -> bool:
        """True once this process holds the lock: taken now, or still its own (a step-down on a
        Redis error while the key survived)."""
        if self._had_lock:
            try:
                return self.lock.reacquire()
            except LockNotOwnedError:
                pass
        if self.lock.acquire(blocking=False, token=self.name):
            self._had_lock = True
            return True
        return False

    def _take_over(self) -> None:
        """Start a cron scheduler with the registrations of :data:`CRON_CONFIG`."""
        self._terms += 1
        cron = CronScheduler(connection=self.connection, name=f"{self.name}:{self._terms}")
        cron.load_config_from_file(self.config)
        try:
            cron.register_birth()
            self._leave_standbys()
        except UNREACHABLE as error:
            self._say(f"Redis unreachable ({type(error).__name__}) while taking over: not scheduling")
            self._release()
            return
        self.cron = cron
        self._say(f"holds the scheduler lock: scheduling {len(cron.get_jobs())} jobs")

    def _tick(self) -> None:
        """Renew the lock, enqueue what is due, sleep until the next job or renewal."""
        assert self.cron is not None
        try:
            self.lock.reacquire()  # ours for another TTL, or it raises: nothing is enqueued then
        except LockNotOwnedError:
            log.warning(
                "lost the scheduler lock (now held by %s): not scheduling until it holds it again", self._holder()
            )
            self._step_down()
            return
        except UNREACHABLE as error:
            log.warning("Redis unreachable (%s): not scheduling until it holds the lock again", type(error).__name__)
            self._step_down()
            return
        try:
            if self.cron.enqueue_jobs():
                self.cron.save()
            self.cron.heartbeat()
        except UNREACHABLE as error:
            log.warning("Redis unreachable (%s): not scheduling until it holds the lock again", type(error).__name__)
            self._step_down()
            return
        self.stopping.wait(min(self.cron.calculate_sleep_interval(), self.renew_every))

    # ------------------------------------------------------------------ leaving
    def _step_down(self, release: bool = False) -> None:
        """Stop scheduling: deregister the cron scheduler (and give the lock back if ``release``)."""
        cron, self.cron = self.cron, None
        if cron is not None:
            try:
                cron.register_death()
            except (SchedulerNotFound, *UNREACHABLE):
                pass  # gone with Redis's data, or Redis is unreachable: its entry expires
        self._last_said = ""
        if release:
            self._release()

    def _release(self) -> None:
        """Give the lock back if it is still this process's (never another's)."""
        if not self._had_lock:
            return
        try:
            self.lock.release()
        except (LockError, *UNREACHABLE):
            pass  # not ours any more, or Redis is unreachable: it expires by itself
        self._had_lock = False

    # ------------------------------------------------------------------ what others see
    def _check_in(self) -> None:
        """Record this standby (Integration health counts them), at most every few seconds."""
        now = time.time()
        if now - self._checked_in < min(STANDBY_CHECK_IN, self.renew_every):
            return
        with self.connection.pipeline() as pipe:
            pipe.zadd(SCHEDULER_STANDBYS_KEY, {self.name: now})
            pipe.zremrangebyscore(SCHEDULER_STANDBYS_KEY, "-inf", now - 3 * STANDBY_CHECK_IN)
            pipe.expire(SCHEDULER_STANDBYS_KEY, 3 * STANDBY_CHECK_IN)
            pipe.execute()
        self._checked_in = now

    def _leave_standbys(self) -> None:
        try:
            self.connection.zrem(SCHEDULER_STANDBYS_KEY, self.name)
        except UNREACHABLE:
            pass
        self._checked_in = 0.0

    def _holder(self) -> str:
        try:
            return scheduler_lock_holder(self.connection) or "nobody"
        except UNREACHABLE:
            return "unknown"

    def _say(self, message: str) -> None:
        """Log a change of state once (a standby asks every second)."""
        if message != self._last_said:
            log.info("%s", message)
            self._last_said = message


def main(argv: list[str] | None = None) -> int:
    """Run a scheduler until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m jobs.scheduler",
        description="Enqueue the console's recurring jobs (jobs/cron.py) while holding the scheduler lock; "
        "a second one started elsewhere waits as a standby.",
    )
    parser.add_argument("--url", default=os.environ.get("REDIS_URL"), help="Redis URL (default: REDIS_URL)")
    parser.add_argument(
        "--lock-ttl",
        type=float,
        default=float(os.environ.get("SCHEDULER_LOCK_TTL") or LOCK_TTL),
        help="seconds a standby waits after the holder's last renewal (default: SCHEDULER_LOCK_TTL or 30)",
    )
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no Redis to use: give --url or set REDIS_URL")
    if args.lock_ttl < 3:
        parser.error("--lock-ttl must be at least 3 seconds")
    configure_logging("scheduler")  # one key=value line per record, at LOG_LEVEL
    from webapp.redis_conn import get_redis

    # Short time-outs and no retries: a call that cannot finish well within the TTL must fail
    # (and the scheduler stop enqueueing) rather than hang while the standby takes over.
    connection = get_redis(args.url, timeout=max(0.5, min(5.0, args.lock_ttl / 6)))
    scheduler = SingleScheduler(connection, lock_ttl=args.lock_ttl)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, scheduler.stop)
    scheduler.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
