"""The pull job: stream changed records from a location's DMS into the mirror.

A run (pull or backfill) is started by :func:`webapp.services.runs.start_run`; its job,
:func:`run_pull`, takes the run's id. The job is safe to run twice or to resume after a crash:
every page is committed together with the cursor that follows it, the run's claim keeps two
runs of the same location and data type apart (jobs/claim.py), and a retried job continues
from the last committed page. Its pages are read ahead of the writing (jobs/pull_pages.py).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import datetime

from rq import get_current_job
from sqlalchemy import select, text

from connectors import AuthenticationError, DmsError, MalformedResponseError, NotSupportedError, TransientDmsError
from jobs import failpoints, pull_pages
from jobs.claim import LOCK_LOST, LockLost, claim, run_to_execute, skip_run, wait_for_slot
from jobs.dms_errors import describe_dms_error, describe_failed_try, in_about
from webapp.extensions import db
from webapp.models import DmsRecord, Location, RunStatus, RunTrigger, SyncCursor, SyncRun, utcnow
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.locks import RunLock
from webapp.services.mirror import store_page
from webapp.services.runs import (
    ACTIVE,
    AFTER_LAST_RETRY,
    AGAIN_KEY,
    CANCEL_KEY,
    NEXT_PULL_CONTINUES,
    PULL_JOB,
    enqueue_pull,
    enqueue_run,
)
from webapp.services.update_request_confirmation import confirm_from_mirror

log = logging.getLogger(__name__)

ANALYZE_AT = 1_000  # rows created in one run when PostgreSQL's statistics are refreshed (once)


class RunCancelled(Exception):
    """A person cancelled the run (backfills)."""


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
        return wait_for_slot(run, PULL_JOB, attempt)
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


def retry_later(run: SyncRun, attempt: int, exc: TransientDmsError) -> None:
    """Queue try ``attempt + 1`` of the pull after a back-off; the run waits as queued, saying so."""
    policy = retry_policy.PULLS
    delay = policy.delay(attempt, exc.retry_after)
    run.status = RunStatus.QUEUED
    run.error = describe_failed_try(exc, attempt, policy.tries)
    run.fix_hint = (
        f"Nothing to do: the console tries again by itself {in_about(delay)} after that try "
        f"(try {attempt + 1} of {policy.tries}), continuing from the last saved page; the worker "
        "does other work meanwhile."
    )
    db.session.commit()
    log.warning("run %s: %s; try %s in %.1fs", run.id, exc, attempt + 1, delay)
    enqueue_run(
        run,
        PULL_JOB,
        delay=delay,
        attempt=attempt + 1,
        description=f"{run.trigger.value} run {run.id} of {run.data_type}, try {attempt + 1}",
    )


def _execute(run: SyncRun, location: Location, lock: RunLock, attempt: int = 1) -> dict:
    run.status = RunStatus.RUNNING
    db.session.commit()
    backfill = run.trigger == RunTrigger.BACKFILL
    cursor_row = cursor_of(location.id, run.data_type)
    if run.cursor_before is None and not backfill:
        run.cursor_before = cursor_row.cursor
    run_started = run.started_at
    try:
        if not location.has_dms:
            raise NotSupportedError(
                "This location has no DMS connection.",
                fix_hint="A Global Admin sets up the DMS connection under Admin → Locations.",
            )
        with location.connect_dms(pull_pages.CALL_TIMEOUT) as dms:
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
        run.fix_hint = AFTER_LAST_RETRY["backfill"] if backfill else NEXT_PULL_CONTINUES
    except TransientDmsError as exc:
        db.session.rollback()
        if retry_policy.PULLS.another_try(attempt):
            retry_later(run, attempt, exc)
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


def _read(
    dms,
    run: SyncRun,
    location: Location,
    cursor_row: SyncCursor,
    resume: str | None,
    run_started: datetime,
    lock: RunLock,
    backfill: bool,
) -> None:
    """Read pages from ``resume`` on, committing each page with its cursor."""
    session = db.session()
    # The run, its location and cursor are this job's own: re-reading them after every
    # page's commit (the default) cost several queries a page for nothing.
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        _read_pages(dms, run, location, cursor_row, resume, run_started, lock, backfill)
    finally:
        session.expire_on_commit = expire_on_commit


def _read_pages(
    dms,
    run: SyncRun,
    location: Location,
    cursor_row: SyncCursor,
    resume: str | None,
    run_started: datetime,
    lock: RunLock,
    backfill: bool,
) -> None:
    redis = get_redis()
    analyzed = False
    for page, prepared in pull_pages.pages_of(dms, location, run.data_type, resume):
        if redis.exists(CANCEL_KEY.format(run.id)):
            raise RunCancelled()
        if not lock.renew():  # held until the page is committed: another run may have it now
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
    """PostgreSQL: fresh planner statistics of the mirror and the search index, once a run has
    created :data:`ANALYZE_AT` rows, so the console's other queries (searches, the integration page)
    stop planning a mirror that is no longer empty as empty; autovacuum keeps them after that. The
    JSON payload columns are left out: sampling them was most of an ANALYZE's cost, and no query
    filters on them."""
    columns = ", ".join(
        column.name
        for column in DmsRecord.__table__.columns
        if column.name not in ("payload", "raw_payload", "drift_fields")
    )
    db.session.execute(text(f"ANALYZE dms_record ({columns})"))
    db.session.execute(text("ANALYZE search_token"))
    db.session.commit()


def _after_page(location_id: int, data_type: str, changed_ids: list[str]) -> None:
    """What new DMS data changes elsewhere, in the page's transaction (committed with the page, or
    not at all): approved customer-info corrections the DMS now carries become "Confirmed by DMS"."""
    if data_type == "customers" and changed_ids:
        confirm_from_mirror(db.session, location_id, changed_ids)


def _progress(run: SyncRun) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["fetched"] = run.fetched
        job.save_meta()


def cursor_of(location_id: int, data_type: str) -> SyncCursor:
    """The location's read position of ``data_type`` (created on first use)."""
    row = db.session.scalar(
        select(SyncCursor).where(SyncCursor.location_id == location_id, SyncCursor.data_type == data_type)
    )
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
        return (
            "Pages before the bad record were saved. Every pull of this data stops at that record until "
            "it is corrected: ask the DMS vendor to correct it, then use Pull now under Integration health."
        )
    if isinstance(exc, AuthenticationError):
        return (
            "Every pull fails until the sign-in works: a Global Admin checks the dealer account and the "
            "credentials under Admin → Locations (Test connection), then Pull now under Integration health."
        )
    if isinstance(exc, TransientDmsError):
        return (
            "Nothing is lost: the next pull of this data tries again from where this one stopped "
            "(Integration health shows when; Pull now there starts one at once). If it keeps failing, "
            "check with the DMS vendor that the DMS is up."
        )
    return (
        "A Global Admin checks the DMS connection under Admin → Locations (Test connection), then Pull now "
        "under Integration health."
    )
