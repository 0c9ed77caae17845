"""Which pulls are due, per location and data type, at each vendor's cadence.

``rq cron`` runs :func:`dispatch_due_pulls` every minute (see jobs/cron.py). Reading the
cadences from the locations at each tick (rather than registering one cron entry per
location) means a new location, a changed vendor or a cadence override takes effect
within a minute without restarting the single scheduler process.

Cadences come from the vendor profile (DESIGN.md §5, seed 000):
- every N minutes: due N minutes after the last scheduled or manual start;
- nightly: once a night, from 02:00 in the location's time zone;
- "Auto" (the DMS pushes changes by webhook): a catch-up pull every hour in case a
  webhook was lost;
- "Comes with RO": pulled on the repair-order cadence (the vehicle arrives with the RO);
- on demand: never scheduled (Pull now / historical backfill on the health page).
A location may override the minutes of any data type (``Location.cadence_overrides``).
Full reconciliations (records deleted in the DMS) run nightly from 03:00 local time.

An inactive location (Admin → Locations, "Active" unticked) gets nothing: no pulls, daily
file imports or reconciliations (:func:`dispatch_due_pulls`), and its pending DMS pushes
are not woken (:func:`wake_due_pushes`, the push sweep ``rq cron`` runs). They stay
pending, with their data, and go out after the location is made active again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

import connectors
from jobs.pulls import enqueue_pull, enqueue_reconcile
from webapp.extensions import db
from webapp.models import Location, OutboxMessage, OutboxStatus, RunStatus, RunTrigger, SyncRun, utcnow

AUTO_CATCH_UP_MINUTES = 60
NIGHTLY_AT = dtime(2, 0)
RECONCILE_AT = dtime(3, 0)
RECONCILED_TYPES = ("customers", "vehicles")
REGULAR_TRIGGERS = (RunTrigger.SCHEDULE, RunTrigger.MANUAL, RunTrigger.WEBHOOK, RunTrigger.FILE)


@dataclass(frozen=True)
class Cadence:
    """How often a data type is pulled for a location."""

    label: str  # as staff read it: "Every 15 mins", "Nightly", "Auto", ...
    minutes: int | None  # the interval, None when not scheduled by interval
    nightly: bool = False

    @property
    def scheduled(self) -> bool:
        """True when the scheduler starts pulls of this data type by itself."""
        return self.minutes is not None or self.nightly


def cadences(location: Location) -> dict[str, Cadence]:
    """The cadence of every data type the location's vendor delivers."""
    if not location.dms_vendor:
        return {}
    profile = connectors.get_profile(location.dms_vendor)
    overrides = location.cadence_overrides or {}
    ro_mode = profile.pull_mode("repair_orders")
    result: dict[str, Cadence] = {}
    for data_type, mode in profile.pull.items():
        if not mode.available:
            continue
        override = overrides.get(data_type)
        if override:
            result[data_type] = Cadence(f"Every {int(override)} mins (location setting)", int(override))
        elif mode.kind == "minutes":
            result[data_type] = Cadence(mode.label, mode.minutes)
        elif mode.kind == "nightly":
            result[data_type] = Cadence(mode.label, None, nightly=True)
        elif mode.kind == "dms_push":
            result[data_type] = Cadence(f"{mode.label} (catch-up every {AUTO_CATCH_UP_MINUTES} mins)",
                                        AUTO_CATCH_UP_MINUTES)
        elif mode.kind == "with_ro":
            minutes = ro_mode.minutes if ro_mode.kind == "minutes" else AUTO_CATCH_UP_MINUTES
            result[data_type] = Cadence(f"{mode.label} (every {minutes} mins)", minutes)
        else:
            result[data_type] = Cadence(mode.label, None)
    return result


def last_started(location_id: int, data_type: str, triggers=REGULAR_TRIGGERS) -> datetime | None:
    """When the last regular run of this data type started."""
    return db.session.scalar(select(func.max(SyncRun.started_at)).where(
        SyncRun.location_id == location_id, SyncRun.data_type == data_type, SyncRun.trigger.in_(triggers),
        SyncRun.status != RunStatus.SKIPPED))


def _last_nightly_slot(location: Location, at: dtime, now: datetime) -> datetime:
    """The most recent occurrence of ``at`` (local time) not after ``now``, in UTC."""
    local_now = now.astimezone(ZoneInfo(location.timezone))
    slot = datetime.combine(local_now.date(), at, tzinfo=local_now.tzinfo)
    if slot > local_now:
        slot -= timedelta(days=1)
    return slot


def is_due(location: Location, cadence: Cadence, last: datetime | None, now: datetime) -> bool:
    """True when a pull of this cadence should start now."""
    if cadence.nightly:
        return last is None or last < _last_nightly_slot(location, NIGHTLY_AT, now)
    if cadence.minutes is None:
        return False
    return last is None or now - last >= timedelta(minutes=cadence.minutes)


def dispatch_due_pulls(now: datetime | None = None) -> dict[str, int]:
    """Enqueue every due pull and reconciliation; returns counts (for logs and tests)."""
    now = now or utcnow()
    counts = {"pulls": 0, "reconciliations": 0, "imports": 0}
    locations = db.session.scalars(select(Location).where(Location.is_active.is_(True),
                                                           Location.dms_vendor.is_not(None))).all()
    for location in locations:
        if not location.has_dms:
            continue
        location_cadences = cadences(location)
        # Reconciliations first: they are rare, and a pull queued first would make them wait a day.
        for data_type in RECONCILED_TYPES:
            if data_type not in location_cadences or last_started(location.id, data_type) is None:
                continue  # nothing pulled yet: nothing to reconcile
            last = last_started(location.id, data_type, (RunTrigger.RECONCILE,))
            if last is None or last < _last_nightly_slot(location, RECONCILE_AT, now):
                if enqueue_reconcile(location.id, data_type) is not None:
                    counts["reconciliations"] += 1
        if connectors.get_profile(location.dms_vendor).daily_data_file and location.dms_extract_dir:
            # A new daily data file is imported before the regular pulls queue up.
            from jobs.extracts import enqueue_import_if_new

            for data_type in ("customers", "vehicles"):
                if enqueue_import_if_new(location, data_type) is not None:
                    counts["imports"] += 1
        for data_type, cadence in location_cadences.items():
            if is_due(location, cadence, last_started(location.id, data_type), now):
                if enqueue_pull(location.id, data_type, RunTrigger.SCHEDULE) is not None:
                    counts["pulls"] += 1
    return counts


def wake_due_pushes(now: datetime | None = None) -> int:
    """Cron sweep (every minute): wake the push delivery (:func:`jobs.pushes.deliver_pushes`) of
    every *active* location with due or stuck messages: the safety net for lost wake-ups and
    Redis hiccups. Inactive locations are left out (their delivery job would send nothing)."""
    from jobs.pushes import STUCK_AFTER
    from webapp.outbox import wake

    now = now or utcnow()
    msg = OutboxMessage
    location_ids = list(db.session.scalars(
        select(msg.location_id).join(Location, Location.id == msg.location_id).where(
            Location.is_active.is_(True),
            or_(and_(msg.status == OutboxStatus.PENDING,
                     or_(msg.next_attempt_at.is_(None), msg.next_attempt_at <= now)),
                and_(msg.status == OutboxStatus.SENDING, msg.last_attempt_at < now - STUCK_AFTER))).distinct()))
    for location_id in location_ids:
        wake(location_id)
    return len(location_ids)
