"""Redis locks with a TTL, kept alive while their holder lives.

:class:`RunLock` makes sure two runs of the same location and data type never run at once
(``rq cron`` has no lock of its own, and delivery is at least once); :class:`LocationSlot`
lets only one run at a time talk to a location's DMS, so a hung DMS holds at most one
worker (see :mod:`jobs.pulls`).

A lock's value names its owner (the sync run id). While a job holds one, a keeper thread
(:meth:`RedisLock.kept`) pushes its expiry back every third of its TTL, so a long DMS call
never lets it lapse, and a killed worker's lock expires within ``ttl`` seconds: a running
run whose lock has no holder is dead (:func:`jobs.pulls.active_run`).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: Seconds a lock outlives a killed holder: how soon a dead run is noticed (``RUN_LOCK_TTL``).
LOCK_TTL = int(os.environ.get("RUN_LOCK_TTL", "30"))

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLock:
    """An exclusive lock on ``key``, held by ``owner`` for ``ttl`` seconds at a time."""

    def __init__(self, redis: Redis, key: str, owner: str | bytes, ttl: int = LOCK_TTL):
        self.redis = redis
        self.key = key
        self.owner = owner
        self.ttl = ttl
        self.lost = False

    def acquire(self) -> bool:
        """Take the lock (or keep it, if this owner already holds it)."""
        if self.redis.set(self.key, self.owner, nx=True, ex=self.ttl):
            return True
        return self.extend()

    def extend(self) -> bool:
        """Push the expiry back; False if the lock is no longer ours."""
        if self.lost:
            return False
        return bool(self.redis.eval(_EXTEND, 1, self.key, self.owner, self.ttl))

    def release(self) -> bool:
        """Give the lock up, only if it is still ours; False when it was not."""
        return bool(self.redis.eval(_RELEASE, 1, self.key, self.owner))

    def holder(self) -> str | None:
        """Who holds the lock now, if anyone."""
        value = self.redis.get(self.key)
        return value.decode() if value else None

    @contextmanager
    def kept(self) -> Iterator[RedisLock]:
        """Hold the (acquired) lock alive until the block ends, then release it.

        Once an extension finds the lock gone (Redis restarted, or it lapsed), :attr:`lost` is
        set and :meth:`extend` answers False from then on: the holder stops before writing."""
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    if not bool(self.redis.eval(_EXTEND, 1, self.key, self.owner, self.ttl)):
                        self.lost = True
                        return
                except RedisError as exc:  # a Redis hiccup: try again at the next beat
                    log.warning("could not extend %s: %s", self.key, exc)

        thread = threading.Thread(target=keep, name=f"keep {self.key}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=5)
            try:
                self.release()
            except RedisError as exc:  # it expires by itself within ttl seconds
                log.warning("could not release %s: %s", self.key, exc)


class RunLock(RedisLock):
    """Exclusive lock for one (location, data type)."""

    def __init__(self, redis: Redis, location_id: int, data_type: str, owner: str, ttl: int = LOCK_TTL):
        super().__init__(redis, f"dms-console:pull-lock:{location_id}:{data_type}", owner, ttl)


class LocationSlot(RedisLock):
    """The one place, per location, for a run that talks to its DMS."""

    def __init__(self, redis: Redis, location_id: int, owner: str, ttl: int = LOCK_TTL):
        super().__init__(redis, f"dms-console:dms-slot:{location_id}", owner, ttl)
