"""Redis locks with a TTL, kept alive while their holder lives (redis-py's :class:`redis.lock.Lock`).

:class:`RunLock` makes sure two runs of the same location and data type never run at once
(delivery is at least once); :class:`LocationSlot` lets only one run at a time talk to a
location's DMS, so a hung DMS holds at most one worker (see :mod:`jobs.claim`).

A lock's token names its owner (the sync run id), so a retried job of the same run takes its own
lock back. While a job holds one, a keeper thread (:meth:`RedisLock.kept`) renews it every third
of its TTL: a long DMS call never lets it lapse, and a killed worker's lock expires within
``ttl`` seconds, so a running run whose lock has no holder is dead
(:func:`webapp.services.runs.active_run`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

log = logging.getLogger(__name__)

#: Seconds a lock outlives a killed holder: how soon a dead run is noticed (``RUN_LOCK_TTL``).
LOCK_TTL = int(os.environ.get("RUN_LOCK_TTL", "30"))


class RedisLock(Lock):
    """An exclusive, non-blocking lock on ``key``, held by ``owner`` for ``ttl`` seconds at a time.

    Not thread-local: the keeper thread renews the lock its job took."""

    def __init__(self, redis: Redis, key: str, owner: str | bytes, ttl: int = LOCK_TTL):
        super().__init__(redis, key, timeout=ttl, blocking=False, thread_local=False)
        self.owner = owner.encode() if isinstance(owner, str) else owner
        self.lost = False

    def acquire(self) -> bool:  # type: ignore[override]
        """Take the lock, or keep it if this owner already holds it (a retried job of the same run)."""
        if super().acquire(blocking=False, token=self.owner):
            return True
        self.local.token = self.owner
        return self.renew()

    def renew(self) -> bool:
        """Reset the expiry to ``ttl``; False (and :attr:`lost` from then on) once the lock is not ours."""
        if self.lost:
            return False
        try:
            return self.reacquire()
        except LockError:  # LockNotOwnedError included: it lapsed, or Redis lost it
            self.lost = True
            return False

    def release(self) -> bool:  # type: ignore[override]
        """Give the lock up, only if its owner still holds it; False when it did not."""
        self.local.token = self.owner
        try:
            super().release()
            return True
        except LockError:
            return False

    def holder(self) -> str | None:
        """Who holds the lock now, if anyone."""
        value = self.redis.get(self.name)
        return value.decode() if value else None

    @contextmanager
    def kept(self) -> Iterator[RedisLock]:
        """Keep the (acquired) lock alive until the block ends, then release it.

        Once a renewal finds the lock gone (Redis restarted, or it lapsed), :attr:`lost` is set and
        :meth:`renew` answers False from then on: the holder stops before writing."""
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self.timeout / 3):
                try:
                    if not self.renew():
                        return
                except RedisError as exc:  # a Redis hiccup: try again at the next beat
                    log.warning("could not renew %s: %s", self.name, exc)

        thread = threading.Thread(target=keep, name=f"keep {self.name}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=5)
            try:
                self.release()
            except RedisError as exc:  # it expires by itself within ttl seconds
                log.warning("could not release %s: %s", self.name, exc)


class RunLock(RedisLock):
    """Exclusive lock for one (location, data type)."""

    def __init__(self, redis: Redis, location_id: int, data_type: str, owner: str, ttl: int = LOCK_TTL):
        super().__init__(redis, f"dms-console:pull-lock:{location_id}:{data_type}", owner, ttl)


class LocationSlot(RedisLock):
    """The one place, per location, for a run that talks to its DMS."""

    def __init__(self, redis: Redis, location_id: int, owner: str, ttl: int = LOCK_TTL):
        super().__init__(redis, f"dms-console:dms-slot:{location_id}", owner, ttl)
