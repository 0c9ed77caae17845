"""The console's RQ queues and how to reach them.

The web side and the core services queue jobs by their dotted name (``"jobs.pulls.run_pull"``:
RQ imports the function in the worker), so nothing outside jobs/ imports a job module.
"""

from __future__ import annotations

from datetime import timedelta

from rq import Queue, get_current_job
from rq.job import Job

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


def superseded(job_id: str | None) -> bool:
    """True inside an RQ job that is not ``job_id``, the current job of what it works on: an older
    job of a run or lookup queued again since (a next try, a wait), which must do nothing."""
    job = get_current_job()
    return job is not None and job_id is not None and job.id != job_id


def enqueue(queue: Queue, func, *, delay: float = 0.0, **options) -> Job:
    """Queue ``func`` (a job's dotted name, or the function) on ``queue``, ``delay`` seconds from now
    when given (RQ's scheduler, run by every worker, moves it to the queue then); ``options`` as for
    ``Queue.enqueue``."""
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), func, **options)
    return queue.enqueue(func, **options)
