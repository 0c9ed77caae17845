"""Case jobs: the related-RO lookup (seed 002) and the auto-close rule.

The lookup is asked for by :func:`webapp.services.related_ros.request_related_lookup` (when a
case is exported or closed, by a person or by the auto-close job); it runs here, never on the
request path, and the case page polls until it is done.

Jobs take ids and are idempotent: a lookup replaces the stored numbers with what the DMS
returns now; auto-close only touches cases that are still open.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

import connectors
from connectors import AuthenticationError, DmsError, NotSupportedError, TransientDmsError
from jobs.dms_errors import describe_dms_error, describe_failed_try, in_about
from jobs.worker import get_app
from webapp.extensions import db
from webapp.models import (
    Case,
    CaseStatus,
    DmsRecord,
    Location,
    LookupTrigger,
    RelatedLookupStatus,
    RelatedRoNumber,
    utcnow,
)
from webapp.services import retry_policy
from webapp.services.queues import MAINTENANCE, get_queue, superseded
from webapp.services.related_ros import (
    NOT_OFFERED,
    enqueue_lookup,
    related_ro_active,
    related_ro_availability,
    request_related_lookup,
)

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # seconds per related-RO request
CLOSED_RO_STATUSES = ("closed", "invoiced")  # an invoiced RO is closed too


def on_lookup_failure(job, connection, exc_type, exc_value, tb) -> None:
    """The job itself crashed (not a DMS error): show a failure with Retry once no retry is left."""
    if job.retries_left:
        return
    with get_app().app_context():
        case = db.session.get(Case, job.args[0]) if job.args else None
        if case is None or case.related_lookup_status != RelatedLookupStatus.PENDING:
            return
        case.related_lookup_status = RelatedLookupStatus.FAILED
        case.related_lookup_error = f"The lookup stopped unexpectedly ({exc_type.__name__})."
        case.related_lookup_fix_hint = "Retry. If it keeps failing, contact support."
        case.related_lookup_finished_at = utcnow()
        db.session.commit()


# --------------------------------------------------------------------------- the lookup job
def lookup_related_ros(case_id: int, attempt: int = 1) -> dict | None:
    """Ask the DMS for the RO numbers related to case ``case_id``'s RO and store them.

    Transient DMS failures (timeouts, 5xx, 429) end this try and queue the next one after an
    exponential back-off (honouring Retry-After), up to MAX_ATTEMPTS tries: no worker sleeps
    meanwhile. Other DMS errors end the lookup with a readable message and the DMS's fix hint,
    and the page offers Retry.
    """
    case = db.session.get(Case, case_id)
    if case is None:
        return None
    if superseded(case.related_lookup_job_id):
        return None  # an older job of a lookup asked for again
    location = db.session.get(Location, case.location_id)
    case.related_lookup_status = RelatedLookupStatus.PENDING
    case.related_lookup_attempts = attempt
    case.related_lookup_error = case.related_lookup_fix_hint = None  # this try is asking now ("Checking…")
    db.session.commit()
    try:
        if not related_ro_active(location):
            raise _not_available(location)
        if not case.ro_number:
            raise NotSupportedError("This case has no RO number.", fix_hint="Add the RO number, then retry.")
        try:
            with location.connect_dms(CALL_TIMEOUT) as dms:
                numbers = dms.related_ro_numbers(case.ro_number)
        except ValueError as exc:  # incomplete DMS settings (connectors.connect)
            raise AuthenticationError(f"The DMS connection is not fully set up ({exc}).") from exc
    except TransientDmsError as exc:
        db.session.rollback()
        policy = retry_policy.RELATED_RO_LOOKUPS
        if policy.another_try(attempt):
            delay = policy.delay(attempt, exc.retry_after)
            log.warning("case %s related-RO lookup: %s; try %s in %.1fs", case.id, exc, attempt + 1, delay)
            # The case page says so while it waits: what happened, and when the next try is.
            case.related_lookup_error = describe_failed_try(exc, attempt, policy.tries)
            case.related_lookup_fix_hint = (
                f"Nothing to do: the console asks the DMS again by itself in "
                f"{in_about(delay)} (try {attempt + 1} of {policy.tries})."
            )
            enqueue_lookup(case, delay, attempt + 1)
            return {"status": "retrying", "attempt": attempt}
        return _failed(case, exc, attempt)
    except DmsError as exc:
        db.session.rollback()
        return _failed(case, exc, attempt)
    store_related_ros(case, numbers)
    case.related_lookup_status = RelatedLookupStatus.DONE
    case.related_lookup_error = case.related_lookup_fix_hint = None
    case.related_lookup_finished_at = utcnow()
    db.session.commit()
    return {"status": "done", "related_ro_numbers": numbers}


def _not_available(location: Location) -> NotSupportedError:
    """Why the lookup cannot run: the DMS does not offer related RO numbers (in its profile's
    wording), or they are not enabled for this location."""
    if location.dms_vendor and not related_ro_availability(location)[0]:
        try:
            return connectors.get_profile(location.dms_vendor).refusal(NOT_OFFERED)
        except KeyError:  # a DMS this console does not know
            pass
    return NotSupportedError(
        "Related RO numbers are not enabled for this location.",
        fix_hint="An Administrator or Service Manager can enable them under External Interfaces (Karmak Fusion only).",
    )


def _failed(case: Case, exc: DmsError, attempts: int) -> dict:
    case.related_lookup_status = RelatedLookupStatus.FAILED
    case.related_lookup_error = describe_dms_error(exc, attempts)
    case.related_lookup_fix_hint = exc.fix_hint
    case.related_lookup_finished_at = utcnow()
    db.session.commit()
    return {"status": "failed", "error": case.related_lookup_error}


def store_related_ros(case: Case, numbers: list[str]) -> None:
    """Replace the case's related RO numbers with ``numbers``, keeping the DMS's order
    (duplicates and the case's own RO number dropped)."""
    seen: set[str] = set()
    fresh = []
    for number in numbers:
        number = str(number).strip()
        if not number or number in seen or number == case.ro_number:
            continue
        seen.add(number)
        fresh.append(number)
    case.related_ros.clear()
    db.session.flush()  # the old rows go before the new ones arrive
    now = utcnow()
    for position, number in enumerate(fresh):
        case.related_ros.append(RelatedRoNumber(ro_number=number[:64], position=position, fetched_at=now))


# --------------------------------------------------------------------------- auto-close
def auto_close_cases() -> dict:
    """Cron entry: queue one auto-close run per location that has a rule."""
    location_ids = list(
        db.session.scalars(
            select(Location.id).where(Location.is_active.is_(True), Location.case_auto_close_days.is_not(None))
        )
    )
    queue = get_queue(MAINTENANCE)
    for location_id in location_ids:
        queue.enqueue(
            auto_close_location,
            location_id,
            job_timeout=600,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description=f"auto-close cases of location {location_id}",
        )
    return {"locations": len(location_ids)}


def cases_due_for_auto_close(location: Location, now=None) -> list[Case]:
    """Open cases of ``location`` that its rule closes now: idle ``case_auto_close_days``
    days and, when the rule asks, whose RO the DMS mirror shows closed (or invoiced)."""
    if not location.case_auto_close_days:
        return []
    cutoff = (now or utcnow()) - timedelta(days=location.case_auto_close_days)
    # The location comes from the job's argument, not a signed-in user: filter by it directly.
    cases = list(
        db.session.scalars(
            select(Case).where(
                Case.location_id == location.id, Case.status == CaseStatus.OPEN, Case.last_activity_at <= cutoff
            )
        )
    )
    if not location.case_auto_close_requires_closed_ro:
        return cases
    numbers = {c.ro_number for c in cases if c.ro_number}
    closed = {
        row.ro_number
        for row in db.session.scalars(
            select(DmsRecord).where(
                DmsRecord.location_id == location.id,
                DmsRecord.data_type == "repair_orders",
                DmsRecord.ro_number.in_(numbers),
                DmsRecord.deleted_at.is_(None),
            )
        )
        if str((row.payload or {}).get("status", "")).lower() in CLOSED_RO_STATUSES
    }
    return [c for c in cases if c.ro_number in closed]


def auto_close_location(location_id: int) -> dict:
    """Close the cases of one location that its rule says are done; each then gets its
    related-RO lookup (seed 002: auto-closed cases too). Idempotent."""
    location = db.session.get(Location, location_id)
    if location is None:
        return {"closed": 0}
    closed = 0
    for case in cases_due_for_auto_close(location):
        case.status = CaseStatus.CLOSED
        case.closed_at = utcnow()
        case.closed_by_id = None
        case.closed_automatically = True
        db.session.commit()
        closed += 1
        request_related_lookup(case, LookupTrigger.AUTO_CLOSE)
    return {"closed": closed}
