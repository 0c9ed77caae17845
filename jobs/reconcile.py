"""The reconciliation job: flag the mirror's records the DMS no longer has as deleted.

Started nightly by the scheduler's dispatch (jobs/schedule.py) through
:func:`webapp.services.runs.enqueue_reconcile`; claimed like every run (jobs/claim.py).
"""

from __future__ import annotations

from connectors import AuthenticationError, DmsError, MalformedResponseError, TransientDmsError
from jobs.claim import LOCK_LOST, LockLost, claim, run_to_execute, skip_run, wait_for_slot
from jobs.dms_errors import describe_dms_error
from jobs.pulls import cursor_of
from webapp.extensions import db
from webapp.models import Location, RunStatus, utcnow
from webapp.services.mirror import mark_deleted
from webapp.services.runs import RECONCILE_JOB, next_reconciliation


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
        return skip_run(
            run,
            "Nothing to do: the console queues the reconciliation again by itself once the other "
            "run has finished (it checks every minute).",
        )
    lock, slot = claimed
    if slot is None:
        return wait_for_slot(run, RECONCILE_JOB, attempt)
    try:
        with lock.kept(), slot.kept():
            run.status = RunStatus.RUNNING
            db.session.commit()
            with location.connect_dms(60) as dms:
                present = set(dms.list_ids(run.data_type))
            if not lock.renew():
                raise LockLost()
            run.fetched = len(present)
            run.deleted = mark_deleted(db.session, location, run.data_type, present)
            cursor_row = cursor_of(location.id, run.data_type)
            cursor_row.last_reconciled_at = utcnow()
            run.status = RunStatus.SUCCEEDED
    except LockLost:
        db.session.rollback()
        run.status, run.error, run.fix_hint = RunStatus.FAILED, LOCK_LOST, next_reconciliation()
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
        return (
            "A Global Admin checks the dealer account and the credentials under Admin → Locations (Test "
            f"connection). {next_reconciliation()}"
        )
    if isinstance(exc, TransientDmsError):
        return f"{next_reconciliation()} If it keeps failing, check with the DMS vendor that the DMS is up."
    if isinstance(exc, MalformedResponseError):
        return f"{next_reconciliation()} If it fails again, ask the DMS vendor to correct what the message names."
    if exc.fix_hint and exc.fix_hint != type(exc).default_hint:
        return f"{exc.fix_hint} {next_reconciliation()}"
    return (
        f"A Global Admin checks the DMS connection under Admin → Locations (Test connection). {next_reconciliation()}"
    )
