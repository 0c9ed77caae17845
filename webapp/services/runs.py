"""Starting, finding and cancelling sync runs: pulls, backfills, reconciliations, daily-file imports.

A run is a :class:`SyncRun` row saved as queued before its RQ job is queued (by the job's dotted
name: the web side never imports jobs/); the job takes the run's id (jobs/pulls.py,
jobs/reconcile.py, jobs/extracts.py) and claims it (jobs/claim.py). Every kind of run starts in
:func:`start_run`, and one active run per location and data type at a time: a run found dead (its
worker killed, its job lost with Redis) is ended here, with what happened and what follows.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from rq import Callback
from rq.job import Job, JobStatus
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Location, RunStatus, RunTrigger, SyncRun, utcnow
from webapp.models.dms_mirror import RUNS_UNDER_WAY
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.cadences import RECONCILE_AT
from webapp.services.locks import RunLock
from webapp.services.queues import PULLS, enqueue, get_queue

#: The jobs runs are queued as, by name (RQ imports them in the worker).
PULL_JOB = "jobs.pulls.run_pull"
RECONCILE_JOB = "jobs.reconcile.run_reconcile"
IMPORT_JOB = "jobs.extracts.run_import"
#: The failure callback of every run's job: it says on the run what happened (a retry may follow).
ON_RUN_FAILURE = "jobs.claim.on_run_failure"

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# A queued run is saved before its job is queued, and gets its job id right after: a queued run
# without a job id younger than this may be in that instant (see :func:`active_run`).
ENQUEUE_GRACE = timedelta(minutes=1)
JOB_TIMEOUT = 6 * 3600
CANCEL_KEY = "dms-console:cancel-run:{}"
AGAIN_KEY = "dms-console:pull-again:{}:{}"  # a webhook arrived while a pull was running


#: What follows a pull that stopped: the next one resumes (shown under Integration health, which it names).
NEXT_PULL_CONTINUES = (
    "Nothing is lost: the next pull of this data continues from the last saved page "
    "(Integration health shows when; Pull now there starts one at once)."
)
#: What follows a daily file import that stopped.
FILE_IMPORTED_AGAIN = (
    "Nothing is lost: the file is not marked imported, so the console imports it again at its "
    "next check of the folder (every minute)."
)

#: What a retry of each kind of run's job does (completes "the console runs it again ... within N minutes, ").
RETRY_RESUMES = {
    "run_pull": "continuing from the last saved page.",
    "run_import": "reading the file again (records already imported are not written twice).",
    "run_reconcile": "reading the DMS's list of records again.",
}
#: What follows a run whose last try failed (completes the run's fix hint), by its job.
AFTER_LAST_RETRY = {
    "run_pull": NEXT_PULL_CONTINUES,
    "backfill": "Pages already read are kept: start the historical backfill again under Integration health.",
    "run_import": FILE_IMPORTED_AGAIN,
}


def after_last_retry(kind: str) -> str:
    """What follows a run whose last try failed, by the job that ran it (``run_pull``, ``backfill`` ...)."""
    if kind == "run_reconcile":
        return next_reconciliation()
    return AFTER_LAST_RETRY.get(kind, AFTER_LAST_RETRY["run_pull"])


def enqueue_run(run: SyncRun, job: str, *, delay: float = 0.0, attempt: int = 1, **options) -> SyncRun:
    """Queue the job named ``job`` (``job(run.id)``) for the run saved as queued, and record its id.

    ``delay``: start it that many seconds from now (a retry, or a wait for the DMS); ``attempt``:
    which try of the run it is. Two commits: the run exists before its job can start. When
    queueing fails (Redis down or restarted) the run is marked cancelled at once and the error
    is raised again, so no queued run is left waiting for a job that does not exist."""
    try:
        queued = enqueue(get_queue(PULLS), job, delay=delay, **_job_options(run, attempt, **options))
    except Exception:
        _not_queued([run])
        raise
    run.job_id = queued.id
    db.session.commit()
    return run


def _job_options(run: SyncRun, attempt: int = 1, **options) -> dict:
    """The ``Queue.enqueue`` options of a job of ``run`` (``options`` added): its id (a run's first job
    is ``sync-run-<id>``, a later one gets a new id), time-out, retries and failure callback, TTLs."""
    return {
        "job_id": f"sync-run-{run.id}" if run.job_id is None else f"sync-run-{run.id}-{uuid.uuid4().hex[:8]}",
        "job_timeout": JOB_TIMEOUT,
        "retry": retry_policy.CRASHED_JOBS.rq_retry(),  # a worker that died (DMS errors are the job's)
        "on_failure": Callback(ON_RUN_FAILURE),
        "result_ttl": 3600,
        "failure_ttl": 7 * 86400,
        "args": (run.id,),
        "kwargs": {"attempt": attempt} if attempt > 1 else {},
        **options,
    }


def _not_queued(runs: list[SyncRun]) -> None:
    """End runs whose job could not be queued (Redis down or restarted) as cancelled, saying so."""
    db.session.rollback()
    for run in runs:
        run.status = RunStatus.CANCELLED
        run.finished_at = utcnow()
        run.error = "Not started: the job queue (Redis) could not be reached."
        run.fix_hint = _start_again_hint(run)
    db.session.commit()


def start_run(
    location_id: int, data_type: str, trigger: RunTrigger, job: str, *, description: str | None = None, **fields
) -> SyncRun | None:
    """Save a queued run (``fields``: more of its columns) and queue the job named ``job`` for it
    (:func:`enqueue_run`); None, and nothing queued behind it, while another run of this
    location and data type is active. Every kind of run starts here."""
    if active_run(location_id, data_type) is not None:
        return None
    run = SyncRun(location_id=location_id, data_type=data_type, trigger=trigger, status=RunStatus.QUEUED, **fields)
    db.session.add(run)
    db.session.commit()
    return enqueue_run(run, job, description=description)  # None: RQ describes it by its call


def enqueue_pull(location_id: int, data_type: str, trigger: RunTrigger = RunTrigger.SCHEDULE) -> SyncRun | None:
    """Create a queued run and its job; None (skipped, not queued behind) if one is active."""
    return start_run(
        location_id,
        data_type,
        trigger,
        PULL_JOB,
        description=f"{trigger.value} pull of {data_type} for location {location_id}",
    )


def pairs_under_way() -> set[tuple[int, str]]:
    """The (location id, data type) pairs with a run queued or running, in one query."""
    return {
        tuple(row) for row in db.session.execute(select(SyncRun.location_id, SyncRun.data_type).where(RUNS_UNDER_WAY))
    }


def enqueue_pulls(pairs: list[tuple[int, str]], trigger: RunTrigger = RunTrigger.SCHEDULE) -> list[SyncRun]:
    """:func:`enqueue_pull` for many (location id, data type) pairs, queued in this order; the runs
    queued. The scheduler's dispatch starts a hundred at a tick: one at a time (two commits and a
    Redis round trip each) a tick at 200 locations took seconds of the 15 s between ticks. Here one
    query finds the active runs (a pair with a live one gets nothing, as in :func:`start_run`), one
    commit saves the new runs, one Redis round trip queues their jobs and a second commit their ids."""
    under_way = pairs_under_way()
    runs = [
        SyncRun(location_id=location_id, data_type=data_type, trigger=trigger, status=RunStatus.QUEUED)
        for location_id, data_type in pairs
        if (location_id, data_type) not in under_way or active_run(location_id, data_type) is None
    ]
    if not runs:
        return []
    db.session.add_all(runs)
    db.session.commit()
    queue = get_queue(PULLS)
    try:
        with queue.connection.pipeline() as pipe:
            options = [
                _job_options(run, description=f"{trigger.value} pull of {run.data_type} for location {run.location_id}")
                for run in runs
            ]
            for option in options:
                queue.enqueue(PULL_JOB, pipeline=pipe, **option)
            pipe.execute()
    except Exception:
        _not_queued(runs)
        raise
    for run, option in zip(runs, options):
        run.job_id = option["job_id"]
    db.session.commit()
    return runs


def enqueue_backfill(location_id: int, data_type: str) -> SyncRun | None:
    """Historical pull: read everything the DMS has of ``data_type`` (where the vendor allows)."""
    return enqueue_pull(location_id, data_type, RunTrigger.BACKFILL)


def enqueue_reconcile(location_id: int, data_type: str) -> SyncRun | None:
    """Queue a full reconciliation (finds records deleted in the DMS)."""
    return start_run(location_id, data_type, RunTrigger.RECONCILE, RECONCILE_JOB)


def pull_again_after(location_id: int, data_type: str) -> None:
    """Make the running pull queue one more when it ends (its read position may be past the change)."""
    get_redis().set(AGAIN_KEY.format(location_id, data_type), 1, ex=3600)


def request_cancel(run: SyncRun) -> None:
    """Ask a running run to stop after its current page."""
    get_redis().set(CANCEL_KEY.format(run.id), 1, ex=86400)


def active_run(location_id: int, data_type: str) -> SyncRun | None:
    """A queued or running run of this location and data type that is still alive.

    A run found dead is ended (with what happened and what follows) and None is returned:
    - running, but its lock has no holder (the lock outlives a killed worker by
      :data:`~webapp.services.locks.LOCK_TTL` seconds; a live job keeps it);
    - queued, but its job is not in the queue (lost with a restarted Redis, or never queued)."""
    run = db.session.scalar(
        select(SyncRun)
        .where(SyncRun.location_id == location_id, SyncRun.data_type == data_type, SyncRun.status.in_(ACTIVE))
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if run is None or _alive([run])[0]:
        return run
    _end_dead(run)
    return None


def _alive(runs: list[SyncRun]) -> list[bool]:
    """Which of ``runs`` (queued or running) are alive: their lock has a holder; or, running, their
    job waits for RQ's retry (see jobs.claim.on_run_failure); or, queued, their job exists (a run
    saved but not queued yet is given :data:`ENQUEUE_GRACE`). Asked of Redis in one round trip: the
    recovery sweep looks at every run under way at each tick, a thousand when the workers are behind."""
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for run in runs:
            pipe.get(RunLock(redis, run.location_id, run.data_type, "?").name)
            pipe.hget(Job.key_for(run.job_id or ""), "status")  # None: no such job
        answers = pipe.execute()
    alive = []
    for run, holder, status in zip(runs, answers[::2], answers[1::2]):
        job_status = JobStatus(status.decode()) if status and run.job_id else None
        if holder:
            alive.append(True)
        elif run.status == RunStatus.RUNNING:
            alive.append(job_status in (JobStatus.SCHEDULED, JobStatus.QUEUED))
        elif run.job_id is None:  # saved but never queued, unless it is being queued this instant
            alive.append(utcnow() - run.started_at <= ENQUEUE_GRACE)
        else:
            alive.append(job_status is not None)
    return alive


def _end_dead(run: SyncRun) -> bool:
    """End a run found dead; False when it ended by itself meanwhile (it is then left as it is)."""
    db.session.refresh(run)  # it may have just finished and given its lock up
    if run.status not in ACTIVE:
        return False
    if run.status == RunStatus.RUNNING:
        run.status = RunStatus.FAILED
        run.error = (
            "The run stopped without finishing: the background worker running it stopped (for example a restart)."
        )
        run.fix_hint = AFTER_LAST_RETRY["backfill" if run.trigger == RunTrigger.BACKFILL else "run_pull"]
    else:
        run.status = RunStatus.CANCELLED
        run.error = (
            "Not started: its job was no longer in the job queue (Redis), for example because Redis "
            "restarted before a worker took it."
        )
        run.fix_hint = _start_again_hint(run)
    run.finished_at = utcnow()
    db.session.commit()
    return True


def recover_dead_runs() -> list[SyncRun]:
    """Sweep (run by the scheduler's dispatch, every few seconds): end every dead run and start
    its work again at once, so a killed worker or a restarted Redis delays a data type by
    :data:`~webapp.services.locks.LOCK_TTL` seconds plus a sweep, not until its next due time.

    Pulls and backfills continue from where the dead run got to; a reconciliation is made
    again; a daily file import needs nothing (the file is not marked imported, so the
    folder check imports it again). Returns the runs started again."""
    runs = db.session.scalars(select(SyncRun).where(RUNS_UNDER_WAY).order_by(SyncRun.id)).all()
    started = []
    for run, alive in zip(runs, _alive(runs)):
        if alive or not _end_dead(run):
            continue
        again = _continue(run)
        if again is not None:
            run.fix_hint = f"Nothing to do: the console started it again at once (run #{again.id})."
            db.session.commit()
            started.append(again)
    return started


def _continue(dead: SyncRun) -> SyncRun | None:
    """A new run doing what the dead one had left to do (None when nothing needs one)."""
    if dead.trigger == RunTrigger.FILE:
        return None
    location = db.session.get(Location, dead.location_id)
    if location is None or not location.is_active or not location.has_dms:
        return None
    if dead.trigger == RunTrigger.RECONCILE:
        return enqueue_reconcile(dead.location_id, dead.data_type)
    position = {}
    if dead.trigger == RunTrigger.BACKFILL:  # a backfill's position is its own: carry it over
        position = {"cursor_after": dead.cursor_after, "expected_total": dead.expected_total, "fetched": dead.fetched}
    return start_run(
        dead.location_id,
        dead.data_type,
        dead.trigger,
        PULL_JOB,
        description=f"{dead.trigger.value} pull of {dead.data_type} for location "
        f"{dead.location_id} (continuing run {dead.id})",
        **position,
    )


def _start_again_hint(run: SyncRun) -> str:
    """What happens to a run that never started (its job could not be queued, or was lost)."""
    if run.trigger == RunTrigger.BACKFILL:
        return (
            "Nothing was read. Start the historical backfill again under Integration health once its "
            "Background work panel shows Redis as reachable."
        )
    if run.trigger == RunTrigger.FILE:
        return "Nothing was imported: the console checks the folder every minute and imports the file then."
    if run.trigger == RunTrigger.RECONCILE:
        return f"Nothing was checked. {next_reconciliation()}"
    return f"Nothing was read. {NEXT_PULL_CONTINUES}"


def next_reconciliation() -> str:
    """When the next reconciliation comes by itself (what follows a failed or lost one)."""
    return (
        f"The next reconciliation runs by itself at {RECONCILE_AT:%H:%M} (the location's time) and flags "
        "the records the DMS no longer has."
    )
