"""What every run's job does first: find its run, take its claim, or skip, or wait for the DMS.

Pulls and backfills (jobs/pulls.py), reconciliations (jobs/reconcile.py) and daily-file imports
(jobs/extracts.py) are queued by :func:`webapp.services.runs.start_run`; each job takes the run's
id, executes it only while it is the run's current job (:func:`run_to_execute`) and holds the
run's lock, and the location's DMS slot when it talks to the DMS (:func:`claim`), until it ends.
:func:`on_run_failure` is the failure callback of all of them.
"""

from __future__ import annotations

import math

from jobs.worker import get_app
from webapp.extensions import db
from webapp.models import RunStatus, RunTrigger, SyncRun, utcnow
from webapp.redis_conn import get_redis
from webapp.services.locks import LocationSlot, RunLock
from webapp.services.queues import superseded
from webapp.services.runs import ACTIVE, RETRY_RESUMES, after_last_retry, enqueue_run

SLOT_WAIT = 5.0  # seconds before a run whose location's DMS is busy with another run looks again


class LockLost(Exception):
    """The run's lock lapsed (another run may hold it now): the run stops before writing again.

    Not a DMS error, and not retried inside the job: a retry would write without the lock."""


LOCK_LOST = (
    "The console lost its hold on this run (its lock ran out), so it stopped to avoid two runs "
    "writing the same data. This was not caused by the DMS."
)


def run_to_execute(run_id: int) -> SyncRun | None:
    """The run this job is to execute; None when it has finished or this is an older job of it
    (a duplicate delivery, or a job from before it was queued again): the job then does nothing."""
    run = db.session.get(SyncRun, run_id)
    if run is None or run.status not in ACTIVE or superseded(run.job_id):
        return None
    return run


def claim(run: SyncRun, *, uses_dms: bool) -> tuple[RunLock, LocationSlot | None] | None:
    """Take the run's lock and, when it talks to the DMS, its location's slot (one run at a time
    per DMS, so a DMS that hangs holds one worker, never all of them). None when the lock is
    another run's; ``(lock, None)`` with the lock given back when only the slot is busy."""
    redis = get_redis()
    lock = RunLock(redis, run.location_id, run.data_type, owner=str(run.id))
    if not lock.acquire():
        return None
    if not uses_dms:
        return lock, None
    slot = LocationSlot(redis, run.location_id, owner=str(run.id))
    if not slot.acquire():
        lock.release()
        return lock, None
    return lock, slot


def skip_run(run: SyncRun, fix_hint: str | None = None) -> dict:
    """End ``run`` as skipped because another run of its location and data type holds the lock."""
    run.status = RunStatus.SKIPPED
    run.finished_at = utcnow()
    run.error = "Skipped: another run of the same data (a pull, an import or a reconciliation) was under way."
    run.fix_hint = fix_hint
    db.session.commit()
    return {"status": run.status.value}


def wait_for_slot(run: SyncRun, job: str, attempt: int) -> dict:
    """The location's DMS is busy with another run: queue the run's job (named ``job``) again,
    to look again in :data:`SLOT_WAIT` seconds."""
    run.status = RunStatus.QUEUED
    db.session.commit()
    enqueue_run(
        run,
        job,
        delay=SLOT_WAIT,
        attempt=attempt,
        description=f"{run.trigger.value} run {run.id} of {run.data_type} (waiting for the DMS)",
    )
    return {"status": "waiting"}


def on_run_failure(job, connection, exc_type, exc_value, tb) -> None:
    """The job died (exception or lost worker): say so on the run; a retry may follow.

    The failure callback of every run's job (pulls and backfills, daily file imports,
    reconciliations): what happens next is worded by the job's function."""
    with get_app().app_context():
        run = db.session.get(SyncRun, job.args[0]) if job.args else None
        if run is None or run.status not in ACTIVE or (run.job_id and run.job_id != job.id):
            return
        retrying = bool(job.retries_left)
        run.error = (
            f"The run stopped on an unexpected problem in the console ({exc_type.__name__}), "
            "not on an answer from the DMS."
        )
        kind = (job.func_name or "").rsplit(".", 1)[-1]
        if retrying:
            minutes = max(1, math.ceil(job.get_retry_interval() / 60))
            within = "within a minute" if minutes == 1 else f"within {minutes} minutes"
            run.fix_hint = (
                f"Nothing to do: the console runs it again by itself {within}, "
                f"{RETRY_RESUMES.get(kind, RETRY_RESUMES['run_pull'])}"
            )
        else:
            run.status = RunStatus.FAILED
            run.finished_at = utcnow()
            if kind == "run_pull" and run.trigger == RunTrigger.BACKFILL:
                kind = "backfill"
            run.fix_hint = f"{after_last_retry(kind)} If it happens again, contact support with the time of this run."
        db.session.commit()
