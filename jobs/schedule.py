"""Which pulls are due, per location and data type, at each vendor's cadence.

``rq cron`` runs :func:`dispatch_due_pulls` every 15 s on the ``maintenance`` queue (see
jobs/cron.py): the workers ``make run`` starts take that queue first, so long pulls do not
delay it (a plain ``python -m jobs.worker`` takes it last). Reading the cadences from the
locations at each tick (rather than registering one cron entry per location) means a new
location, a changed vendor or a cadence override takes effect within a tick without
restarting the single scheduler process.

Cadences come from the vendor profile (DESIGN.md §5, seed 000):
- every N minutes: on a fixed grid (below);
- nightly: once a night, from 02:00 in the location's time zone;
- "Auto" (the DMS pushes changes by webhook): a catch-up pull every hour in case a
  webhook was lost;
- "Comes with RO": pulled on the repair-order cadence (the vehicle arrives with the RO);
- on demand: never scheduled (Pull now / historical backfill on the health page).
A location may override the minutes of any data type (``Location.cadence_overrides``).
Full reconciliations (records deleted in the DMS) run nightly from 03:00 local time.

Due times. Every scheduled data type of a location has *slots*: for "every N minutes",
``GRID_EPOCH + offset + k * N minutes``; for nightly pulls and reconciliations, 02:00 / 03:00
local time each night. A data type is due when the latest slot at or before now has not been
*served*: no run of it started at or after the slot that is either a scheduled run (any outcome
but skipped or cancelled: one that failed still counts, its retries are the job's business, so
a DMS that is down is not asked again at every tick) or a manual, webhook or file run that
succeeded or is still queued or running. So a pull never drifts to N+1 minutes (a tick a few
ms early catches the slot at the next tick, 15 s later, not a minute later), a failed Pull now
never moves the clock, and a successful one just after a slot stands in for that slot's pull.
A data type without any such run (never pulled) is due at once. Reconciliations go by the same
rule: one since the 03:00 slot (any outcome but skipped or cancelled) serves the night; they
are made only for data types with a pull.

The offset spreads locations over the cadence: ``zlib.crc32(f"{location_id}:{data_type}")``
modulo N minutes, in whole seconds. It is stable across processes and restarts (Python's
``hash()`` of a str is salted per process, so it would move the grid at every restart), so 200
rooftops on "every 15 mins" start at different seconds of the quarter-hour rather than all
at once, and each keeps its own grid. It depends on N, so a changed cadence gets a new grid.

An inactive location (Admin → Locations, "Active" unticked) gets nothing: no pulls, daily
file imports or reconciliations (:func:`dispatch_due_pulls`), and its pending DMS pushes
are not woken (:func:`wake_due_pushes`, the push sweep ``rq cron`` runs). They stay
pending, with their data, and go out after the location is made active again.
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, literal, or_, select, true, union_all

import connectors
from jobs.pulls import enqueue_pull, enqueue_reconcile, recover_dead_runs
from webapp.extensions import db
from webapp.models import Location, OutboxMessage, OutboxStatus, RunStatus, RunTrigger, SyncRun, utcnow
from webapp.models.base import UTCDateTime

log = logging.getLogger(__name__)

AUTO_CATCH_UP_MINUTES = 60
NIGHTLY_AT = dtime(2, 0)
RECONCILE_AT = dtime(3, 0)
RECONCILED_TYPES = ("customers", "vehicles")
#: Where every "every N minutes" grid is counted from (plus the location's offset).
GRID_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Runs that serve a slot: scheduled (and reconciliation) runs of any outcome but these ...
NOT_SERVING = (RunStatus.SKIPPED, RunStatus.CANCELLED)
#: ... and runs someone or something else started, while queued or running or once succeeded.
ON_REQUEST_TRIGGERS = (RunTrigger.MANUAL, RunTrigger.WEBHOOK, RunTrigger.FILE)
ON_REQUEST_SERVING = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED)
SERVES_A_PULL_SLOT = or_(and_(SyncRun.trigger == RunTrigger.SCHEDULE, SyncRun.status.not_in(NOT_SERVING)),
                         and_(SyncRun.trigger.in_(ON_REQUEST_TRIGGERS), SyncRun.status.in_(ON_REQUEST_SERVING)))
SERVES_A_RECONCILE_SLOT = and_(SyncRun.trigger == RunTrigger.RECONCILE, SyncRun.status.not_in(NOT_SERVING))


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


# --------------------------------------------------------------------------- the grid
def grid_offset(location_id: int, data_type: str, minutes: int) -> timedelta:
    """Where in each N-minute period this location's pulls of ``data_type`` are due (whole seconds)."""
    return timedelta(seconds=zlib.crc32(f"{location_id}:{data_type}".encode()) % (minutes * 60))


def _nightly_slots(location: Location, at: dtime, now: datetime) -> tuple[datetime, datetime]:
    """The last occurrence of ``at`` (local time) at or before ``now``, and the next one after it."""
    local_now = now.astimezone(ZoneInfo(location.timezone))
    slot = datetime.combine(local_now.date(), at, tzinfo=local_now.tzinfo)
    if slot > local_now:
        slot = datetime.combine(local_now.date() - timedelta(days=1), at, tzinfo=local_now.tzinfo)
    return slot, datetime.combine(slot.date() + timedelta(days=1), at, tzinfo=local_now.tzinfo)


def _slots(location: Location, data_type: str, cadence: Cadence, now: datetime) -> tuple[datetime, datetime] | None:
    """The latest slot at or before ``now`` and the one after it (None: not scheduled)."""
    if cadence.nightly:
        return _nightly_slots(location, NIGHTLY_AT, now)
    if cadence.minutes is None:
        return None
    period = timedelta(minutes=cadence.minutes)
    origin = GRID_EPOCH + grid_offset(location.id, data_type, cadence.minutes)
    slot = origin + (now - origin) // period * period
    return slot, slot + period


def due_at(location: Location, data_type: str, cadence: Cadence, served: datetime | None,
           now: datetime) -> datetime | None:
    """When the next pull of ``data_type`` is due, given the start of the latest run that served a
    slot (:func:`last_served`): a time at or before ``now`` when it is due now (``now`` itself when
    it was never pulled), None when the cadence is not scheduled."""
    slots = _slots(location, data_type, cadence, now)
    if slots is None:
        return None
    if served is None:
        return now
    latest, following = slots
    return latest if served < latest else following


def is_due(location: Location, data_type: str, cadence: Cadence, served: datetime | None, now: datetime) -> bool:
    """True when a pull of ``data_type`` should start now (see :func:`due_at`)."""
    due = due_at(location, data_type, cadence, served, now)
    return due is not None and due <= now


def last_served(location_id: int, data_type: str) -> datetime | None:
    """The start of the latest run of this data type that serves a slot (see the module docstring)."""
    return db.session.scalar(
        select(SyncRun.started_at).where(SyncRun.location_id == location_id, SyncRun.data_type == data_type,
                                         SERVES_A_PULL_SLOT)
        .order_by(SyncRun.started_at.desc()).limit(1))


def next_due(location: Location, data_type: str, cadence: Cadence, now: datetime | None = None) -> datetime | None:
    """When the scheduler next pulls ``data_type`` at this location (a time at or before ``now``: at its
    next tick, within 15 s); None when it is not scheduled. The rule :func:`dispatch_due_pulls` goes by."""
    if not cadence.scheduled:
        return None
    return due_at(location, data_type, cadence, last_served(location.id, data_type), now or utcnow())


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
    kinds = union_all(*(select(cast(literal(data_type), String(32)).label("data_type"))
                        for data_type in sorted(data_types))).subquery("kinds")
    same_pair = (SyncRun.location_id == Location.id, SyncRun.data_type == kinds.c.data_type)
    pulled = (select(SyncRun.started_at).where(*same_pair, SERVES_A_PULL_SLOT)
              .order_by(SyncRun.started_at.desc()).limit(1).scalar_subquery())
    slot_by_zone = {location.timezone: _nightly_slots(location, RECONCILE_AT, now)[0] for location in locations}
    reconcile_slot = case({zone: literal(slot, UTCDateTime()) for zone, slot in slot_by_zone.items()},
                          value=Location.timezone)
    reconciled = (select(SyncRun.started_at).where(*same_pair, SERVES_A_RECONCILE_SLOT,
                                                   SyncRun.started_at >= reconcile_slot)
                  .order_by(SyncRun.started_at).limit(1).scalar_subquery())
    rows = db.session.execute(
        select(Location.id, kinds.c.data_type, pulled,
               case((kinds.c.data_type.in_(RECONCILED_TYPES), reconciled)))
        .select_from(Location).join(kinds, true())  # every location with every data type
        .where(Location.id.in_([location.id for location in locations])))
    return {(location_id, data_type): (pull, reconcile) for location_id, data_type, pull, reconcile in rows}


def dispatch_due_pulls(now: datetime | None = None) -> dict[str, int]:
    """Enqueue every due pull and reconciliation; returns counts (for logs and tests).

    First, runs and related-RO lookups that died (a killed worker, a restarted Redis) are
    ended and started again at once (:func:`jobs.pulls.recover_dead_runs`,
    :func:`jobs.cases.recover_lost_lookups`), so their data types do not wait for a due time."""
    from jobs.cases import recover_lost_lookups

    now = now or utcnow()
    started, lookups = recover_dead_runs(), recover_lost_lookups()
    if started or lookups:
        log.warning("started again: %d runs that died, %d related-RO lookups whose job was lost",
                    len(started), lookups)
    counts = {"pulls": 0, "reconciliations": 0, "imports": 0}
    locations = [location for location in db.session.scalars(
        select(Location).where(Location.is_active.is_(True), Location.dms_vendor.is_not(None))) if location.has_dms]
    location_cadences = {location.id: cadences(location) for location in locations}
    served = _served_starts(locations, {data_type for by_type in location_cadences.values() for data_type in by_type},
                           now)
    for location in locations:
        # Reconciliations first: they are rare, and a pull queued first would make them wait a day.
        for data_type in RECONCILED_TYPES:
            pulled, reconciled = served.get((location.id, data_type), (None, None))
            if data_type not in location_cadences[location.id] or pulled is None:
                continue  # nothing pulled yet: nothing to reconcile
            if reconciled is None and enqueue_reconcile(location.id, data_type) is not None:
                counts["reconciliations"] += 1
        if connectors.get_profile(location.dms_vendor).daily_data_file and location.dms_extract_dir:
            # A new daily data file is imported before the regular pulls queue up.
            from jobs.extracts import enqueue_import_if_new

            for data_type in ("customers", "vehicles"):
                if enqueue_import_if_new(location, data_type) is not None:
                    counts["imports"] += 1
        for data_type, cadence in location_cadences[location.id].items():
            pulled = served.get((location.id, data_type), (None, None))[0]
            if is_due(location, data_type, cadence, pulled, now):
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
