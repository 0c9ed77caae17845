"""Pull jobs: stream changed records from a location's DMS into the mirror.

A run is a :class:`SyncRun` row created when the pull is asked for; the RQ job takes its
id. The job is safe to run twice or to resume after a crash: every page is committed
together with the cursor that follows it, a lock keeps two pulls of the same location
and data type apart, and a retried job continues from the last committed page.
"""
from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import os
import queue
import signal
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import NamedTuple

from rq import Callback, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select, text

from connectors import (AuthenticationError, DmsError, MalformedResponseError, NotSupportedError,
                        TransientDmsError)
from jobs import failpoints
from jobs.dms_errors import describe_dms_error, describe_failed_try, in_about, retry_delay
from jobs.locks import LocationSlot, RunLock
from jobs.mirror import PreparedPage, mark_deleted, prepare_page, store_page
from jobs.queues import PULLS, enqueue, get_queue, superseded
from webapp.extensions import db
from webapp.models import DmsRecord, Location, RunStatus, RunTrigger, SyncCursor, SyncRun, utcnow
from webapp.models.dms_mirror import RUNS_UNDER_WAY
from webapp.redis_conn import get_redis

log = logging.getLogger(__name__)

PAGE_SIZE = int(os.environ.get("PULL_PAGE_SIZE", "1000"))
MAX_ATTEMPTS = 6  # tries of a run against a DMS that fails transiently (timeouts, 5xx, 429)
MAX_BACKOFF = 60.0  # seconds; the wait before try n is 2**(n-2) s (or the DMS's Retry-After), at most this
SLOT_WAIT = 5.0  # seconds before a run whose location's DMS is busy with another run looks again
CALL_TIMEOUT = 30.0  # seconds per DMS request during a pull
PREFETCH_PAGES = int(os.environ.get("PULL_PREFETCH_PAGES", "2"))  # pages read ahead while one is written
# Where a pull reads and prepares its pages while it writes the previous one: "process" (a
# forked reading process: the two use two cores) or "thread" (one core; where fork is not
# available, or to debug). See _pages_of.
READER = os.environ.get("PULL_READER", "process" if hasattr(os, "fork") else "thread")
ANALYZE_AT = 1_000  # rows created in one run when PostgreSQL's statistics are refreshed (once)
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# A queued run is saved before its job is queued, and gets its job id right after: a queued run
# without a job id younger than this may be in that instant (see :func:`active_run`).
ENQUEUE_GRACE = timedelta(minutes=1)
RETRY = Retry(max=3, interval=[10, 60, 300])  # RQ's retries of a run whose job died unexpectedly
JOB_TIMEOUT = 6 * 3600
CANCEL_KEY = "dms-console:cancel-run:{}"
AGAIN_KEY = "dms-console:pull-again:{}:{}"  # a webhook arrived while a pull was running


class RunCancelled(Exception):
    """A person cancelled the run (backfills)."""


class LockLost(Exception):
    """The run's lock lapsed (another run may hold it now): the run stops before writing again.

    Not a DMS error, and not retried inside the job: a retry would write without the lock."""


#: What follows a pull that stopped: the next one resumes (shown under Integration health, which it names).
NEXT_PULL_CONTINUES = ("Nothing is lost: the next pull of this data continues from the last saved page "
                       "(Integration health shows when; Pull now there starts one at once).")
#: What follows a daily file import that stopped.
FILE_IMPORTED_AGAIN = ("Nothing is lost: the file is not marked imported, so the console imports it again at its "
                       "next check of the folder (every minute).")
LOCK_LOST = ("The console lost its hold on this run (its lock ran out), so it stopped to avoid two runs "
             "writing the same data. This was not caused by the DMS.")


def skip_run(run: SyncRun, fix_hint: str | None = None) -> dict:
    """End ``run`` as skipped because another run of its location and data type holds the lock."""
    run.status = RunStatus.SKIPPED
    run.finished_at = utcnow()
    run.error = "Skipped: another run of the same data (a pull, an import or a reconciliation) was under way."
    run.fix_hint = fix_hint
    db.session.commit()
    return {"status": run.status.value}


# --------------------------------------------------------------------------- enqueueing
def enqueue_run(run: SyncRun, func, *, delay: float = 0.0, attempt: int = 1,  # noqa: ANN001 - an RQ job
                **options) -> SyncRun:
    """Queue ``func(run.id)`` for the run saved as queued, and record the job's id.

    ``delay``: start it that many seconds from now (a retry, or a wait for the DMS); ``attempt``:
    which try of the run it is. Two commits: the run exists before its job can start. When
    queueing fails (Redis down or restarted) the run is marked cancelled at once and the error
    is raised again, so no queued run is left waiting for a job that does not exist."""
    job_id = f"sync-run-{run.id}" if run.job_id is None else f"sync-run-{run.id}-{uuid.uuid4().hex[:8]}"
    options = {"job_id": job_id, "job_timeout": JOB_TIMEOUT, "retry": RETRY,
               "on_failure": Callback(on_pull_failure), "result_ttl": 3600, "failure_ttl": 7 * 86400,
               "args": (run.id,), "kwargs": {"attempt": attempt} if attempt > 1 else {}, **options}
    try:
        job = enqueue(get_queue(PULLS), func, delay=delay, **options)
    except Exception:
        db.session.rollback()
        run.status = RunStatus.CANCELLED
        run.finished_at = utcnow()
        run.error = "Not started: the job queue (Redis) could not be reached."
        run.fix_hint = _start_again_hint(run)
        db.session.commit()
        raise
    run.job_id = job.id
    db.session.commit()
    return run


def active_run(location_id: int, data_type: str) -> SyncRun | None:
    """A queued or running run of this location and data type that is still alive.

    A run found dead is ended (with what happened and what follows) and None is returned:
    - running, but its lock has no holder (the lock outlives a killed worker by
      :data:`~jobs.locks.LOCK_TTL` seconds; a live job keeps it);
    - queued, but its job is not in the queue (lost with a restarted Redis, or never queued)."""
    run = db.session.scalar(
        select(SyncRun).where(SyncRun.location_id == location_id, SyncRun.data_type == data_type,
                              SyncRun.status.in_(ACTIVE)).order_by(SyncRun.id.desc()).limit(1))
    if run is None or _alive(run):
        return run
    _end_dead(run)
    return None


def _alive(run: SyncRun) -> bool:
    if RunLock(get_redis(), run.location_id, run.data_type, "?").holder():
        return True
    if run.status == RunStatus.RUNNING:  # alive only while its job waits for RQ's retry (see on_pull_failure)
        return _job_status(run) in (JobStatus.SCHEDULED, JobStatus.QUEUED)
    return not _job_missing(run)


def _job_status(run: SyncRun) -> JobStatus | None:
    """The status of the run's current RQ job (None when it no longer exists)."""
    if run.job_id is None:
        return None
    try:
        return Job.fetch(run.job_id, connection=get_redis()).get_status()
    except NoSuchJobError:
        return None


def _end_dead(run: SyncRun) -> bool:
    """End a run found dead; False when it ended by itself meanwhile (it is then left as it is)."""
    db.session.refresh(run)  # it may have just finished and given its lock up
    if run.status not in ACTIVE:
        return False
    if run.status == RunStatus.RUNNING:
        run.status = RunStatus.FAILED
        run.error = ("The run stopped without finishing: the background worker running it stopped "
                     "(for example a restart).")
        run.fix_hint = _AFTER_LAST_RETRY["backfill" if run.trigger == RunTrigger.BACKFILL else "run_pull"]
    else:
        run.status = RunStatus.CANCELLED
        run.error = ("Not started: its job was no longer in the job queue (Redis), for example because Redis "
                     "restarted before a worker took it.")
        run.fix_hint = _start_again_hint(run)
    run.finished_at = utcnow()
    db.session.commit()
    return True


def recover_dead_runs() -> list[SyncRun]:
    """Sweep (run by the scheduler's dispatch, every few seconds): end every dead run and start
    its work again at once, so a killed worker or a restarted Redis delays a data type by
    :data:`~jobs.locks.LOCK_TTL` seconds plus a sweep, not until its next due time.

    Pulls and backfills continue from where the dead run got to; a reconciliation is made
    again; a daily file import needs nothing (the file is not marked imported, so the
    folder check imports it again). Returns the runs started again."""
    runs = db.session.scalars(select(SyncRun).where(RUNS_UNDER_WAY).order_by(SyncRun.id)).all()
    started = []
    for run in runs:
        if _alive(run) or not _end_dead(run):
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
        position = {"cursor_after": dead.cursor_after, "expected_total": dead.expected_total,
                    "fetched": dead.fetched}
    return start_run(dead.location_id, dead.data_type, dead.trigger, run_pull,
                     description=f"{dead.trigger.value} pull of {dead.data_type} for location "
                                 f"{dead.location_id} (continuing run {dead.id})", **position)


def _job_missing(run: SyncRun) -> bool:
    """True when the queued run's RQ job does not exist (lost with Redis, or never queued)."""
    if run.job_id is None:  # saved but never queued, unless it is being queued this instant
        return utcnow() - run.started_at > ENQUEUE_GRACE
    return not Job.exists(run.job_id, connection=get_redis())


def _start_again_hint(run: SyncRun) -> str:
    """What happens to a run that never started (its job could not be queued, or was lost)."""
    if run.trigger == RunTrigger.BACKFILL:
        return ("Nothing was read. Start the historical backfill again under Integration health once its "
                "Background work panel shows Redis as reachable.")
    if run.trigger == RunTrigger.FILE:
        return "Nothing was imported: the console checks the folder every minute and imports the file then."
    if run.trigger == RunTrigger.RECONCILE:
        return f"Nothing was checked. {_next_reconciliation()}"
    return f"Nothing was read. {NEXT_PULL_CONTINUES}"


def _next_reconciliation() -> str:
    from jobs.schedule import RECONCILE_AT  # jobs.schedule imports this module

    return (f"The next reconciliation runs by itself at {RECONCILE_AT:%H:%M} (the location's time) and flags "
            "the records the DMS no longer has.")


def start_run(location_id: int, data_type: str, trigger: RunTrigger, func, *,  # noqa: ANN001 - an RQ job
              description: str | None = None, **fields) -> SyncRun | None:
    """Save a queued run (``fields``: more of its columns) and queue ``func`` for it
    (:func:`enqueue_run`); None, and nothing queued behind it, while another run of this
    location and data type is active. Every kind of run starts here."""
    if active_run(location_id, data_type) is not None:
        return None
    run = SyncRun(location_id=location_id, data_type=data_type, trigger=trigger, status=RunStatus.QUEUED, **fields)
    db.session.add(run)
    db.session.commit()
    return enqueue_run(run, func, description=description)  # None: RQ describes it by its call


def enqueue_pull(location_id: int, data_type: str, trigger: RunTrigger = RunTrigger.SCHEDULE) -> SyncRun | None:
    """Create a queued run and its job; None (skipped, not queued behind) if one is active."""
    return start_run(location_id, data_type, trigger, run_pull,
                     description=f"{trigger.value} pull of {data_type} for location {location_id}")


def enqueue_backfill(location_id: int, data_type: str) -> SyncRun | None:
    """Historical pull: read everything the DMS has of ``data_type`` (where the vendor allows)."""
    return enqueue_pull(location_id, data_type, RunTrigger.BACKFILL)


def pull_again_after(location_id: int, data_type: str) -> None:
    """Make the running pull queue one more when it ends (its read position may be past the change)."""
    get_redis().set(AGAIN_KEY.format(location_id, data_type), 1, ex=3600)


def request_cancel(run: SyncRun) -> None:
    """Ask a running run to stop after its current page."""
    get_redis().set(CANCEL_KEY.format(run.id), 1, ex=86400)


def on_pull_failure(job, connection, exc_type, exc_value, tb) -> None:  # noqa: ANN001 - RQ callback
    """The job died (exception or lost worker): say so on the run; a retry may follow.

    The failure callback of every run's job (pulls and backfills, daily file imports,
    reconciliations): what happens next is worded by the job's function."""
    from jobs.worker import get_app

    with get_app().app_context():
        run = db.session.get(SyncRun, job.args[0]) if job.args else None
        if run is None or run.status not in ACTIVE or (run.job_id and run.job_id != job.id):
            return
        retrying = bool(job.retries_left)
        run.error = (f"The run stopped on an unexpected problem in the console ({exc_type.__name__}), "
                     "not on an answer from the DMS.")
        kind = (job.func_name or "").rsplit(".", 1)[-1]
        if retrying:
            minutes = max(1, math.ceil(job.get_retry_interval() / 60))
            within = "within a minute" if minutes == 1 else f"within {minutes} minutes"
            run.fix_hint = (f"Nothing to do: the console runs it again by itself {within}, "
                            f"{_RETRY_RESUMES.get(kind, _RETRY_RESUMES['run_pull'])}")
        else:
            run.status = RunStatus.FAILED
            run.finished_at = utcnow()
            if kind == "run_pull" and run.trigger == RunTrigger.BACKFILL:
                kind = "backfill"
            run.fix_hint = f"{_after_last_retry(kind)} If it happens again, contact support with the time of this run."
        db.session.commit()


#: What a retry of each kind of run's job does (completes "the console runs it again ... within N minutes, ").
_RETRY_RESUMES = {
    "run_pull": "continuing from the last saved page.",
    "run_import": "reading the file again (records already imported are not written twice).",
    "run_reconcile": "reading the DMS's list of records again.",
}
_AFTER_LAST_RETRY = {
    "run_pull": NEXT_PULL_CONTINUES,
    "backfill": "Pages already read are kept: start the historical backfill again under Integration health.",
    "run_import": FILE_IMPORTED_AGAIN,
}


def _after_last_retry(kind: str) -> str:
    if kind == "run_reconcile":
        return _next_reconciliation()
    return _AFTER_LAST_RETRY.get(kind, _AFTER_LAST_RETRY["run_pull"])


# --------------------------------------------------------------------------- the job
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


def run_to_execute(run_id: int) -> SyncRun | None:
    """The run this job is to execute; None when it has finished or this is an older job of it
    (a duplicate delivery, or a job from before it was queued again): the job then does nothing."""
    run = db.session.get(SyncRun, run_id)
    if run is None or run.status not in ACTIVE or superseded(run.job_id):
        return None
    return run


def wait_for_slot(run: SyncRun, func, attempt: int) -> dict:  # noqa: ANN001 - an RQ job function
    """The location's DMS is busy with another run: look again in :data:`SLOT_WAIT` seconds."""
    run.status = RunStatus.QUEUED
    db.session.commit()
    enqueue_run(run, func, delay=SLOT_WAIT, attempt=attempt,
                description=f"{run.trigger.value} run {run.id} of {run.data_type} (waiting for the DMS)")
    return {"status": "waiting"}


def run_pull(run_id: int, attempt: int = 1) -> dict | None:
    """Execute sync run ``run_id`` (a pull, a backfill). Idempotent and resumable.

    ``attempt``: which try this is. A DMS that fails transiently ends the try and queues the
    next one after a back-off (:func:`retry_later`): no worker sleeps while it waits."""
    run = run_to_execute(run_id)
    if run is None:
        return None
    location = db.session.get(Location, run.location_id)
    claimed = claim(run, uses_dms=run.trigger != RunTrigger.BACKFILL)
    if claimed is None:
        return skip_run(run)
    lock, slot = claimed
    if slot is None and run.trigger != RunTrigger.BACKFILL:
        return wait_for_slot(run, run_pull, attempt)
    try:
        with ExitStack() as held:
            held.enter_context(lock.kept())
            if slot is not None:
                held.enter_context(slot.kept())
            return _execute(run, location, lock, attempt)
    except BaseException:
        db.session.rollback()  # release the page's uncommitted writes before RQ's failure handling
        raise
    finally:
        redis = get_redis()
        if run.status not in ACTIVE:
            redis.delete(CANCEL_KEY.format(run.id))
            if redis.getdel(AGAIN_KEY.format(run.location_id, run.data_type)):
                enqueue_pull(run.location_id, run.data_type, RunTrigger.WEBHOOK)


def retry_later(run: SyncRun, func, attempt: int, exc: TransientDmsError) -> None:  # noqa: ANN001 - RQ job
    """Queue try ``attempt + 1`` of the run after a back-off; the run waits as queued, saying so."""
    delay = retry_delay(attempt, exc.retry_after, base=1.0, cap=MAX_BACKOFF)
    run.status = RunStatus.QUEUED
    run.error = describe_failed_try(exc, attempt, MAX_ATTEMPTS)
    run.fix_hint = (f"Nothing to do: the console tries again by itself {in_about(delay)} after that try "
                    f"(try {attempt + 1} of {MAX_ATTEMPTS}), continuing from the last saved page; the worker "
                    "does other work meanwhile.")
    db.session.commit()
    log.warning("run %s: %s; try %s in %.1fs", run.id, exc, attempt + 1, delay)
    enqueue_run(run, func, delay=delay, attempt=attempt + 1,
                description=f"{run.trigger.value} run {run.id} of {run.data_type}, try {attempt + 1}")


def _execute(run: SyncRun, location: Location, lock: RunLock, attempt: int = 1) -> dict:
    run.status = RunStatus.RUNNING
    db.session.commit()
    backfill = run.trigger == RunTrigger.BACKFILL
    cursor_row = _cursor_row(location.id, run.data_type)
    if run.cursor_before is None and not backfill:
        run.cursor_before = cursor_row.cursor
    run_started = run.started_at
    try:
        if not location.has_dms:
            raise NotSupportedError("This location has no DMS connection.",
                                    fix_hint="A Global Admin sets up the DMS connection under Admin → Locations.")
        with location.connect_dms(CALL_TIMEOUT) as dms:
            if backfill and run.expected_total is None:
                # Count first so the progress bar can show how far the backfill has got.
                run.expected_total = sum(1 for _ in dms.list_ids(run.data_type))
                db.session.commit()
            resume = run.cursor_after if backfill else cursor_row.cursor
            _read(dms, run, location, cursor_row, resume, run_started, lock, backfill)
        run.status = RunStatus.SUCCEEDED
        run.error = run.fix_hint = None
    except RunCancelled:
        db.session.rollback()
        run.status = RunStatus.CANCELLED
        run.error = "Cancelled. Pages already read are kept."
    except LockLost:
        db.session.rollback()
        run.status = RunStatus.FAILED
        run.error = LOCK_LOST
        run.fix_hint = _AFTER_LAST_RETRY["backfill"] if backfill else NEXT_PULL_CONTINUES
    except TransientDmsError as exc:
        db.session.rollback()
        if attempt < MAX_ATTEMPTS:
            retry_later(run, run_pull, attempt, exc)
            return {"status": "retrying", "fetched": run.fetched}
        run.status = RunStatus.FAILED
        run.error = describe_dms_error(exc, attempt)
        run.fix_hint = _hint(exc)
    except DmsError as exc:
        db.session.rollback()
        run.status = RunStatus.FAILED
        run.error = describe_dms_error(exc, attempt)
        run.fix_hint = _hint(exc)
    run.finished_at = utcnow()
    db.session.commit()
    return {"status": run.status.value, "fetched": run.fetched}


def _read(dms, run: SyncRun, location: Location, cursor_row: SyncCursor, resume: str | None,
          run_started: datetime, lock: RunLock, backfill: bool) -> None:
    """Read pages from ``resume`` on, committing each page with its cursor."""
    session = db.session()
    # The run, its location and cursor are this job's own: re-reading them after every
    # page's commit (the default) cost several queries a page for nothing.
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        _read_pages(dms, run, location, cursor_row, resume, run_started, lock, backfill)
    finally:
        session.expire_on_commit = expire_on_commit


def _read_pages(dms, run: SyncRun, location: Location, cursor_row: SyncCursor, resume: str | None,
                run_started: datetime, lock: RunLock, backfill: bool) -> None:
    redis = get_redis()
    analyzed = False
    for page, prepared in _pages_of(dms, location, run.data_type, resume):
        if redis.exists(CANCEL_KEY.format(run.id)):
            raise RunCancelled()
        if not lock.extend():  # held until the page is committed: another run may have it now
            raise LockLost()
        result = store_page(db.session, location, run.data_type, prepared, run_id=run.id)
        run.fetched += page.count
        run.created += result.created
        run.updated += result.updated
        run.unchanged += result.unchanged
        if result.notes:
            run.notes = (run.notes or []) + result.notes[: max(0, 25 - len(run.notes or []))]
        run.cursor_after = page.next_cursor
        if not backfill:
            cursor_row.cursor = page.next_cursor
            cursor_row.updated_at = utcnow()
        _after_page(location.id, run.data_type, result.changed_ids)
        failpoints.hit("pull.before_commit")
        db.session.commit()
        failpoints.hit("pull.after_commit")
        if not analyzed and run.created >= ANALYZE_AT and db.engine.dialect.name == "postgresql":
            _refresh_statistics()
            analyzed = True
        _progress(run)
        # The run covers changes up to its start; later edits belong to the next run.
        if page.earliest_change is not None and page.earliest_change > run_started:
            break


def _refresh_statistics() -> None:
    """PostgreSQL: fresh planner statistics of the mirror and the search index.

    The pull's own lookups by key do not depend on statistics
    (:func:`~webapp.models.base.keyed`: statistics refreshed as the mirror grows could not
    keep up, and a page's lookup reached 3 s at 200,000 rows). This refresh, once a run has
    created 1,000 rows, gives the console's other queries (searches, the integration page)
    a mirror that is no longer planned as empty; autovacuum keeps the statistics after that.
    The payload columns (canonical and raw) are left out: sorting a sample of large JSON texts was most of an
    ANALYZE's cost, and no query filters on them. Measured in-process: 210,000 records took
    22.3 s with whole-row ANALYZEs at every doubling and 19.2 s with one of these; 420,000
    took 41.2 s with one at each tenfold growth and 35.1 s with one.
    """
    columns = ", ".join(column.name for column in DmsRecord.__table__.columns
                        if column.name not in ("payload", "raw_payload", "drift_fields"))
    db.session.execute(text(f"ANALYZE dms_record ({columns})"))
    db.session.execute(text("ANALYZE search_token"))
    db.session.commit()


class PageSummary(NamedTuple):
    """What the pull loop needs of a page besides its prepared records."""

    count: int
    next_cursor: str | None
    earliest_change: datetime | None  # the oldest modification time in the page (None: empty page)


def _prepared(dms, data_type: str, resume: str | None) -> Iterator[tuple[PageSummary, PreparedPage]]:
    """The DMS's pages of changes from ``resume`` on, each summarised, with its
    :func:`~jobs.mirror.prepare_page` work done."""
    for page in dms.iter_changes(data_type, cursor=resume, page_size=PAGE_SIZE):
        earliest = min(r.modified_at for r in page.records) if page.records else None
        yield PageSummary(len(page.records), page.next_cursor, earliest), prepare_page(data_type, page.records)


def _pages_of(dms, location: Location, data_type: str, resume: str | None) -> Iterator:
    """The prepared pages of the changes from ``resume`` on, read ahead of the writing.

    Reading a page (HTTP, JSON, parsing) and preparing it (encoding, hashing, normalising,
    search tokens) is half of a pull's work, and the writing of the previous page the other
    half. In a thread the two still take turns on the interpreter lock; in a reading process
    they run on two cores at once (measured: tests/bench/pull.py).
    """
    if READER == "process":
        settings = {**location.connector_settings(), "timeout": CALL_TIMEOUT}
        return _from_reading_process(location.dms_vendor, settings, data_type, resume)
    return prefetched(_prepared(dms, data_type, resume))


def _from_reading_process(vendor: str, settings: dict, data_type: str, resume: str | None) -> Iterator:
    """Yield what :func:`_reading_process` sends: pages in order, then its error if it had one.

    The process is forked (it starts at once and inherits the configuration) and owns its
    own DMS connection; it never touches the database. Pages cross a pipe that holds about
    one page, so at most a page or two are read ahead and memory stays flat. Leaving the
    loop early stops the process.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    reader = context.Process(target=_reading_process, args=(sender, vendor, settings, data_type, resume),
                             name=f"pull-reader-{data_type}", daemon=True)
    reader.start()
    sender.close()
    try:
        while True:
            try:
                item, error = receiver.recv()
            except EOFError:
                raise TransientDmsError(
                    "the console's process reading the DMS stopped unexpectedly",
                    fix_hint=f"{NEXT_PULL_CONTINUES} If it happens again, contact support with the time of this "
                             "run.") from None
            if error is not None:
                raise error
            if item == _FINISHED:
                return
            yield item
    finally:
        receiver.close()
        reader.join(timeout=1)
        if reader.is_alive():
            reader.terminate()
            reader.join(timeout=5)


_FINISHED = "finished"


def _reading_process(sender, vendor: str, settings: dict, data_type: str, resume: str | None) -> None:
    """The reading process: fetch, parse and prepare each page, and send it to the pull."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the worker's handlers: stopping it stops it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops this
    gc.freeze()  # what it inherits is the pull's, not garbage: collections need not walk it
    import connectors

    try:
        with connectors.connect(vendor, settings) as dms:
            for item in _prepared(dms, data_type, resume):
                sender.send((item, None))
        sender.send((_FINISHED, None))
    except BaseException as exc:  # noqa: BLE001 - handed to the pull, raised there in order
        try:
            sender.send((None, exc))
        except (OSError, EOFError):
            return  # the pull is gone: nobody to tell
        except Exception:  # noqa: BLE001 - the error itself would not cross the pipe
            sender.send((None, TransientDmsError(
                f"the console could not read from the DMS ({type(exc).__name__}: {exc})")))


_DONE = object()


def prefetched(pages: Iterable, depth: int = PREFETCH_PAGES) -> Iterator:
    """Yield ``pages`` while a helper thread already fetches the next ones from the DMS.

    The DMS works on its page, and the helper prepares it, while this worker writes the
    previous one to the database, so they overlap instead of taking turns. The iterator
    (and the connector's HTTP session) is used by the helper thread only; its errors are
    raised here, in order, after the pages that came before them. Leaving the loop early
    stops the thread at its next page.
    """
    if depth <= 0:
        yield from pages
        return
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        handoff.put((page, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item = (_DONE, None)
        except BaseException as exc:  # handed to the consumer, raised there
            item = (None, exc)
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=fetch, name="pull-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            page, error = handoff.get()
            if error is not None:
                raise error
            if page is _DONE:
                return
            yield page
    finally:
        stop.set()
        thread.join(timeout=CALL_TIMEOUT + 5)


def _after_page(location_id: int, data_type: str, changed_ids: list[str]) -> None:
    """Hooks other areas hang on new DMS data (e.g. update requests confirmed by the DMS).

    They run in the page's transaction: what they change is committed with the page, or
    not at all."""
    for hook in AFTER_PAGE_HOOKS:
        hook(db.session, location_id, data_type, changed_ids)


def _confirm_update_requests(session, location_id: int, data_type: str, changed_ids: list[str]) -> None:
    """Approved customer-info corrections the DMS now carries become "Confirmed by DMS"."""
    if data_type == "customers" and changed_ids:
        from webapp.update_requests.confirm import confirm_from_mirror
        confirm_from_mirror(session, location_id, changed_ids)


AFTER_PAGE_HOOKS: list = [_confirm_update_requests]


def _progress(run: SyncRun) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["fetched"] = run.fetched
        job.save_meta()


def _cursor_row(location_id: int, data_type: str) -> SyncCursor:
    row = db.session.scalar(select(SyncCursor).where(SyncCursor.location_id == location_id,
                                                     SyncCursor.data_type == data_type))
    if row is None:
        row = SyncCursor(location_id=location_id, data_type=data_type)
        db.session.add(row)
        db.session.commit()
    return row



def _hint(exc: DmsError) -> str:
    """The DMS's own specific hint when it gave one, else ours for the pull's situation."""
    # A busy DMS's catalogue hint promises a retry of the request, which this run has already
    # made: what happens next is the pull's to say.
    vendor_retry_hint = isinstance(exc, TransientDmsError) and exc.entry is not None
    if exc.fix_hint and exc.fix_hint != type(exc).default_hint and not vendor_retry_hint:
        return exc.fix_hint
    return _default_hint(exc)


def _default_hint(exc: DmsError) -> str:
    if isinstance(exc, MalformedResponseError):
        return ("Pages before the bad record were saved. Every pull of this data stops at that record until "
                "it is corrected: ask the DMS vendor to correct it, then use Pull now under Integration health.")
    if isinstance(exc, AuthenticationError):
        return ("Every pull fails until the sign-in works: a Global Admin checks the dealer account and the "
                "credentials under Admin → Locations (Test connection), then Pull now under Integration health.")
    if isinstance(exc, TransientDmsError):
        return ("Nothing is lost: the next pull of this data tries again from where this one stopped "
                "(Integration health shows when; Pull now there starts one at once). If it keeps failing, "
                "check with the DMS vendor that the DMS is up.")
    return ("A Global Admin checks the DMS connection under Admin → Locations (Test connection), then Pull now "
            "under Integration health.")


# --------------------------------------------------------------------------- reconciliation
def enqueue_reconcile(location_id: int, data_type: str) -> SyncRun | None:
    """Queue a full reconciliation (finds records deleted in the DMS)."""
    return start_run(location_id, data_type, RunTrigger.RECONCILE, run_reconcile)


def run_reconcile(run_id: int, attempt: int = 1) -> dict | None:
    """List every id the DMS has; flag mirror rows it no longer has as deleted.

    One try: a reconciliation that fails is not retried (the next one is the nightly one, see
    :func:`_reconcile_hint`). It waits, queued, while another run talks to the location's DMS."""
    run = run_to_execute(run_id)
    if run is None:
        return None
    location = db.session.get(Location, run.location_id)
    claimed = claim(run, uses_dms=True)
    if claimed is None:
        return skip_run(run, "Nothing to do: the console queues the reconciliation again by itself once the other "
                             "run has finished (it checks every minute).")
    lock, slot = claimed
    if slot is None:
        return wait_for_slot(run, run_reconcile, attempt)
    try:
        with lock.kept(), slot.kept():
            run.status = RunStatus.RUNNING
            db.session.commit()
            with location.connect_dms(60) as dms:
                present = set(dms.list_ids(run.data_type))
            if not lock.extend():
                raise LockLost()
            run.fetched = len(present)
            run.deleted = mark_deleted(db.session, location, run.data_type, present)
            cursor_row = _cursor_row(location.id, run.data_type)
            cursor_row.last_reconciled_at = utcnow()
            run.status = RunStatus.SUCCEEDED
    except LockLost:
        db.session.rollback()
        run.status, run.error, run.fix_hint = RunStatus.FAILED, LOCK_LOST, _next_reconciliation()
    except DmsError as exc:
        db.session.rollback()
        run.status, run.error, run.fix_hint = RunStatus.FAILED, describe_dms_error(exc, 1), _reconcile_hint(exc)
    except BaseException:
        db.session.rollback()  # release uncommitted writes before RQ's failure handling
        raise
    run.finished_at = utcnow()
    db.session.commit()
    return {"status": run.status.value, "deleted": run.deleted}


def _reconcile_hint(exc: DmsError) -> str:
    """A failed reconciliation's fix: what a person can do, and that the next one is the nightly one."""
    if isinstance(exc, AuthenticationError):
        return ("A Global Admin checks the dealer account and the credentials under Admin → Locations (Test "
                f"connection). {_next_reconciliation()}")
    if isinstance(exc, TransientDmsError):
        return f"{_next_reconciliation()} If it keeps failing, check with the DMS vendor that the DMS is up."
    if isinstance(exc, MalformedResponseError):
        return f"{_next_reconciliation()} If it fails again, ask the DMS vendor to correct what the message names."
    if exc.fix_hint and exc.fix_hint != type(exc).default_hint:
        return f"{exc.fix_hint} {_next_reconciliation()}"
    return (f"A Global Admin checks the DMS connection under Admin → Locations (Test connection). "
            f"{_next_reconciliation()}")
