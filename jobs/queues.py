"""The console's RQ queues and how to reach them."""
from __future__ import annotations

from rq import Queue

from webapp.redis_conn import get_redis

# Separate queues so a long historical backfill never delays an appointment push.
PUSHES = "pushes"
LOOKUPS = "lookups"
PULLS = "pulls"
MAINTENANCE = "maintenance"
ALL_QUEUES = (PUSHES, LOOKUPS, PULLS, MAINTENANCE)  # a worker serves them in this order


def get_queue(name: str) -> Queue:
    """The named queue on the configured Redis."""
    return Queue(name, connection=get_redis())
