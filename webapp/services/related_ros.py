"""Related RO numbers of a case (seed 002): can this location's DMS return them, and asking for them.

Related RO numbers are fetched from the DMS when a case is exported and again when it is closed
(by a person or by the auto-close job), if the location has the feature enabled and its DMS
offers it (Karmak's Alternate RO numbers). :func:`request_related_lookup` marks the case as
checking and queues the lookup job (``jobs.cases.lookup_related_ros``, by name): the lookup never
runs on the request path, and the case page polls until it is done.
"""

from __future__ import annotations

from datetime import timedelta

from rq import Callback
from rq.job import Job
from sqlalchemy import select

import connectors
from webapp.extensions import db
from webapp.models import Case, Location, LookupTrigger, RelatedLookupStatus, utcnow
from webapp.models.case import LOOKUPS_PENDING
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.queues import LOOKUPS, enqueue, get_queue

#: The lookup job and its failure callback, by name (RQ imports them in the worker).
LOOKUP_JOB = "jobs.cases.lookup_related_ros"
ON_LOOKUP_FAILURE = "jobs.cases.on_lookup_failure"
#: What a DMS without related RO numbers does not do, in its profile's wording (``refusal_text``).
NOT_OFFERED = "does not offer related RO numbers"


def related_ro_availability(location: Location) -> tuple[bool, str | None]:
    """(supported, reason if not): can this location's DMS return related RO numbers at all?"""
    if not location.dms_vendor:
        return False, "No DMS is connected to this location."
    try:
        profile = connectors.get_profile(location.dms_vendor)
    except (KeyError, ValueError, LookupError):
        return False, f"{location.dms_vendor_name} is not a DMS this console knows."
    if not profile.related_ros:
        return False, f"{profile.refusal_text(NOT_OFFERED)}; today only Karmak Fusion (Alternate RO Numbers) does."
    return True, None


def related_ro_active(location: Location) -> bool:
    """True when lookups run for this location: enabled here and supported by its DMS."""
    return bool(location.related_ro_enabled) and related_ro_availability(location)[0] and location.has_dms


def request_related_lookup(case: Case, trigger: LookupTrigger) -> bool:
    """Mark ``case`` as checking and enqueue its lookup; False when the feature is off,
    the DMS cannot do it, or the case has no RO number. Commits."""
    location = db.session.get(Location, case.location_id)
    if not case.ro_number or location is None or not related_ro_active(location):
        return False
    case.related_lookup_status = RelatedLookupStatus.PENDING
    case.related_lookup_trigger = trigger
    case.related_lookup_requested_at = utcnow()
    case.related_lookup_error = case.related_lookup_fix_hint = None
    db.session.commit()
    enqueue_lookup(case, description=f"related RO lookup ({trigger.value}) for case {case.id}")
    return True


def enqueue_lookup(case: Case, delay: float = 0.0, attempt: int = 1, description: str = "") -> None:
    """Queue try ``attempt`` of the case's lookup (``delay`` seconds from now) and record its job id."""
    options = {
        # RQ-level retries cover a lost worker; DMS hiccups queue the next try (see lookup_related_ros).
        "job_timeout": 300,
        "retry": retry_policy.CRASHED_JOBS.rq_retry(),
        "on_failure": Callback(ON_LOOKUP_FAILURE),
        "result_ttl": 3600,
        "failure_ttl": 7 * 86400,
        "args": (case.id,),
        "kwargs": {"attempt": attempt} if attempt > 1 else {},
        "description": description or f"related RO lookup for case {case.id}, try {attempt}",
    }
    case.related_lookup_job_id = enqueue(get_queue(LOOKUPS), LOOKUP_JOB, delay=delay, **options).id
    db.session.commit()


def recover_lost_lookups() -> int:
    """Sweep: lookups still pending whose job is gone (Redis restarted) are queued again, so a
    case page never shows "Checking…" for ever. Returns how many were queued again."""
    redis = get_redis()
    cutoff = utcnow() - timedelta(minutes=1)  # a lookup being queued this instant has no job id yet
    pending = db.session.scalars(select(Case).where(LOOKUPS_PENDING, Case.related_lookup_requested_at < cutoff)).all()
    count = 0
    for case in pending:
        if case.related_lookup_job_id and Job.exists(case.related_lookup_job_id, connection=redis):
            continue
        enqueue_lookup(case, description=f"related RO lookup for case {case.id} (queued again: its job was lost)")
        count += 1
    return count
