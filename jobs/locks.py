"""A Redis lock with a TTL that makes sure two pulls of the same location and data type
never run at once (``rq cron`` has no lock of its own, and delivery is at least once).

The lock's value names its owner (the sync run id). A crashed owner's lock expires after
``ttl`` seconds; the same run retried after a crash may take its own lock over at once.
"""
from __future__ import annotations

from redis import Redis

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


class RunLock:
    """Exclusive lock for one (location, data type)."""

    def __init__(self, redis: Redis, location_id: int, data_type: str, owner: str, ttl: int = 120):
        self.redis = redis
        self.key = f"dms-console:pull-lock:{location_id}:{data_type}"
        self.owner = owner
        self.ttl = ttl

    def acquire(self) -> bool:
        """Take the lock (or keep it, if this owner already holds it)."""
        if self.redis.set(self.key, self.owner, nx=True, ex=self.ttl):
            return True
        return self.extend()

    def extend(self) -> bool:
        """Push the expiry back; False if the lock is no longer ours."""
        return bool(self.redis.eval(_EXTEND, 1, self.key, self.owner, self.ttl))

    def release(self) -> None:
        """Give the lock up, only if it is still ours."""
        self.redis.eval(_RELEASE, 1, self.key, self.owner)

    def holder(self) -> str | None:
        """Who holds the lock now, if anyone."""
        value = self.redis.get(self.key)
        return value.decode() if value else None
