"""Which pulls are due, per location and data type, at each vendor's cadence, and the push sweep.

The scheduler (jobs/scheduler.py) runs :func:`dispatch_due_pulls` every 15 s on the ``maintenance`` queue (see
jobs/cron.py): the workers ``make run`` starts take that queue first, so long pulls do not
delay it (a plain ``python -m jobs.worker`` takes it last). Reading the cadences from the
locations at each tick (rather than registering one cron entry per location) means a new
location, a changed vendor or a cadence override takes effect within a tick without
restarting the single scheduler process. What is due when is :mod:`webapp.services.cadences`;
reconciliations are made only for data types with a pull.

An inactive location (Admin → Locations, "Active" unticked) gets nothing: no pulls, daily
file imports or reconciliations (:func:`dispatch_due_pulls`), and its pending DMS pushes
are not woken (:func:`wake_due_pushes`, the push sweep the scheduler runs). They stay
pending, with their data, and go out after the location is made active again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import String, and_, case, cast, literal, or_, select, true, union_all

import connectors
from jobs.extracts import enqueue_import_if_new
from jobs.pushes import STUCK_AFTER
from webapp.extensions import db
from webapp.models import Location, OutboxMessage, OutboxStatus, SyncRun, utcnow
from webapp.models.base import UTCDateTime
from webapp.outbox import wake
from webapp.services.cadences import (
    RECONCILE_AT,
    SERVES_A_PULL_SLOT,
    SERVES_A_RECONCILE_SLOT,
    cadences,
    due_at,
    nightly_slots,
)
from webapp.services.related_ros import recover_lost_lookups
from webapp.services.runs import enqueue_pulls, enqueue_reconcile, pairs_under_way, recover_dead_runs

log = logging.getLogger(__name__)

RECONCILED_TYPES = ("customers", "vehicles")


def _served_starts(locations: list[Location], data_types: set[str], now: datetime) -> dict:
    """One query for all the locations and data types: ``{(location id, data type): (start of the
    latest run serving a pull slot, start of a reconciliation since the last 03:00 slot)}``.

    Each value is read from ``ix_sync_run_recent`` (location, data type, started_at), so the cost
    does not grow with the runs' history (a GROUP BY over sync_run would read all of it): the
    latest serving run is nearly always the newest run of its data type; a reconciliation is only
    looked for among the runs since the location's 03:00 slot (one slot per time zone), not by
    walking back through every pull since the last one."""
    if not locations or not data_types:
        return {}
    kinds = union_all(
        *(select(cast(literal(data_type), String(32)).label("data_type")) for data_type in sorted(data_types))
    ).subquery("kinds")
    same_pair = (SyncRun.location_id == Location.id, SyncRun.data_type == kinds.c.data_type)
    pulled = (
        select(SyncRun.started_at)
        .where(*same_pair, SERVES_A_PULL_SLOT)
        .order_by(SyncRun.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    slot_by_zone = {location.timezone: nightly_slots(location, RECONCILE_AT, now)[0] for location in locations}
    reconcile_slot = case(
        {zone: literal(slot, UTCDateTime()) for zone, slot in slot_by_zone.items()}, value=Location.timezone
    )
    reconciled = (
        select(SyncRun.started_at)
        .where(*same_pair, SERVES_A_RECONCILE_SLOT, SyncRun.started_at >= reconcile_slot)
        .order_by(SyncRun.started_at)
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Location.id, kinds.c.data_type, pulled, case((kinds.c.data_type.in_(RECONCILED_TYPES), reconciled)))
        .select_from(Location)
        .join(kinds, true())  # every location with every data type
        .where(Location.id.in_([location.id for location in locations]))
    )
    return {(location_id, data_type): (pull, reconcile) for location_id, data_type, pull, reconcile in rows}


def dispatch_due_pulls(now: datetime | None = None) -> dict[str, int]:
    """Enqueue every due pull and reconciliation; returns counts (for logs and tests).

    First, runs and related-RO lookups that died (a killed worker, a restarted Redis) are
    ended and started again at once (:func:`webapp.services.runs.recover_dead_runs`,
    :func:`webapp.services.related_ros.recover_lost_lookups`), so their data types do not wait for
    a due time."""
    now = now or utcnow()
    started, lookups = recover_dead_runs(), recover_lost_lookups()
    if started or lookups:
        log.warning("started again: %d runs that died, %d related-RO lookups whose job was lost", len(started), lookups)
    counts = {"pulls": 0, "reconciliations": 0, "imports": 0}
    locations = [
        location
        for location in db.session.scalars(
            select(Location).where(Location.is_active.is_(True), Location.dms_vendor.is_not(None))
        )
        if location.has_dms
    ]
    location_cadences = {location.id: cadences(location) for location in locations}
    served = _served_starts(
        locations, {data_type for by_type in location_cadences.values() for data_type in by_type}, now
    )
    # The runs under way now are alive (the sweep above ended the dead ones): their data types get
    # nothing at this tick, without asking after each run again (hundreds when the workers are behind).
    under_way = pairs_under_way()
    due_pulls = []  # (due time, data type, location id)
    for location in locations:
        # Reconciliations first: they are rare, and a pull queued first would make them wait a day.
        for data_type in RECONCILED_TYPES:
            pulled, reconciled = served.get((location.id, data_type), (None, None))
            if data_type not in location_cadences[location.id] or pulled is None:
                continue  # nothing pulled yet: nothing to reconcile
            if reconciled is None and (location.id, data_type) not in under_way:
                if enqueue_reconcile(location.id, data_type) is not None:
                    counts["reconciliations"] += 1
        if connectors.get_profile(location.dms_vendor).daily_data_file and location.dms_extract_dir:
            # A new daily data file is imported before the regular pulls queue up.
            for data_type in ("customers", "vehicles"):
                if enqueue_import_if_new(location, data_type) is not None:
                    counts["imports"] += 1
        for data_type, cadence in location_cadences[location.id].items():
            due = due_at(location, data_type, cadence, served.get((location.id, data_type), (None, None))[0], now)
            if due is not None and due <= now and (location.id, data_type) not in under_way:
                due_pulls.append((due, data_type, location.id))
    # All at once, the longest due first; at equal due times (never pulled) a data type across the
    # locations, so the workers do not take several runs of one location, all but one to wait for its DMS.
    due_pulls.sort()
    counts["pulls"] = len(enqueue_pulls([(location_id, data_type) for _due, data_type, location_id in due_pulls]))
    return counts


def wake_due_pushes(now: datetime | None = None) -> int:
    """Cron sweep (every minute): wake the push delivery (:func:`jobs.pushes.deliver_pushes`) of
    every *active* location with due or stuck messages: the safety net for lost wake-ups and
    Redis hiccups. Inactive locations are left out (their delivery job would send nothing)."""
    now = now or utcnow()
    msg = OutboxMessage
    location_ids = list(
        db.session.scalars(
            select(msg.location_id)
            .join(Location, Location.id == msg.location_id)
            .where(
                Location.is_active.is_(True),
                or_(
                    and_(
                        msg.status == OutboxStatus.PENDING,
                        or_(msg.next_attempt_at.is_(None), msg.next_attempt_at <= now),
                    ),
                    and_(msg.status == OutboxStatus.SENDING, msg.last_attempt_at < now - STUCK_AFTER),
                ),
            )
            .distinct()
        )
    )
    for location_id in location_ids:
        wake(location_id)
    return len(location_ids)
