"""How often each data type is pulled at a location, and when its next pull is due.

Read by the scheduler's dispatch (jobs/schedule.py, every 15 s) to start what is due, and by the
Integration health page to show the cadences and the next due time.

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
rule: one since the 03:00 slot (any outcome but skipped or cancelled) serves the night.

The offset spreads locations over the cadence: ``zlib.crc32(f"{location_id}:{data_type}")``
modulo N minutes, in whole seconds. It is stable across processes and restarts (Python's
``hash()`` of a str is salted per process, so it would move the grid at every restart), so 200
rooftops on "every 15 mins" start at different seconds of the quarter-hour rather than all
at once, and each keeps its own grid. It depends on N, so a changed cadence gets a new grid.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

import connectors
from webapp.extensions import db
from webapp.models import Location, RunStatus, RunTrigger, SyncRun, utcnow

AUTO_CATCH_UP_MINUTES = 60
NIGHTLY_AT = dtime(2, 0)
RECONCILE_AT = dtime(3, 0)
#: Where every "every N minutes" grid is counted from (plus the location's offset).
GRID_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Runs that serve a slot: scheduled (and reconciliation) runs of any outcome but these ...
NOT_SERVING = (RunStatus.SKIPPED, RunStatus.CANCELLED)
#: ... and runs someone or something else started, while queued or running or once succeeded.
ON_REQUEST_TRIGGERS = (RunTrigger.MANUAL, RunTrigger.WEBHOOK, RunTrigger.FILE)
ON_REQUEST_SERVING = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED)
SERVES_A_PULL_SLOT = or_(
    and_(SyncRun.trigger == RunTrigger.SCHEDULE, SyncRun.status.not_in(NOT_SERVING)),
    and_(SyncRun.trigger.in_(ON_REQUEST_TRIGGERS), SyncRun.status.in_(ON_REQUEST_SERVING)),
)
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
            result[data_type] = Cadence(
                f"{mode.label} (catch-up every {AUTO_CATCH_UP_MINUTES} mins)", AUTO_CATCH_UP_MINUTES
            )
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


def nightly_slots(location: Location, at: dtime, now: datetime) -> tuple[datetime, datetime]:
    """The last occurrence of ``at`` (local time) at or before ``now``, and the next one after it."""
    local_now = now.astimezone(ZoneInfo(location.timezone))
    slot = datetime.combine(local_now.date(), at, tzinfo=local_now.tzinfo)
    if slot > local_now:
        slot = datetime.combine(local_now.date() - timedelta(days=1), at, tzinfo=local_now.tzinfo)
    return slot, datetime.combine(slot.date() + timedelta(days=1), at, tzinfo=local_now.tzinfo)


def _slots(location: Location, data_type: str, cadence: Cadence, now: datetime) -> tuple[datetime, datetime] | None:
    """The latest slot at or before ``now`` and the one after it (None: not scheduled)."""
    if cadence.nightly:
        return nightly_slots(location, NIGHTLY_AT, now)
    if cadence.minutes is None:
        return None
    period = timedelta(minutes=cadence.minutes)
    origin = GRID_EPOCH + grid_offset(location.id, data_type, cadence.minutes)
    slot = origin + (now - origin) // period * period
    return slot, slot + period


def due_at(
    location: Location, data_type: str, cadence: Cadence, served: datetime | None, now: datetime
) -> datetime | None:
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
        select(SyncRun.started_at)
        .where(SyncRun.location_id == location_id, SyncRun.data_type == data_type, SERVES_A_PULL_SLOT)
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    )


def next_due(location: Location, data_type: str, cadence: Cadence, now: datetime | None = None) -> datetime | None:
    """When the scheduler next pulls ``data_type`` at this location (a time at or before ``now``: at its
    next tick, within 15 s); None when it is not scheduled. The rule :func:`dispatch_due_pulls` goes by."""
    if not cadence.scheduled:
        return None
    return due_at(location, data_type, cadence, last_served(location.id, data_type), now or utcnow())
