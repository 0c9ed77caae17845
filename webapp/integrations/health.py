"""What the integration health page shows: per data type, is the DMS data fresh?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask_login import current_user

import connectors
from connectors.records import DATA_TYPES, KINDS
from webapp.domain.times import zone_of
from webapp.extensions import db
from webapp.models import DmsRecord, Location, RunStatus, RunTrigger, SyncRun, utcnow
from webapp.permissions import Permission, can
from webapp.scoping import scoped
from webapp.services.cadences import Cadence, cadences

DATA_TYPE_LABELS = {data_type: KINDS[data_type].label for data_type in DATA_TYPES}


@dataclass
class Lag:
    """Freshness as a state with words, not only a colour."""

    state: str  # "ok", "late", "stale", "failing", "never", "unscheduled"
    text: str


@dataclass
class DataTypeHealth:
    """One row of the health page."""

    data_type: str
    label: str
    cadence: Cadence
    last_success: SyncRun | None
    last_run: SyncRun | None
    active: SyncRun | None
    lag: Lag
    can_backfill: bool


def lag_state(cadence: Cadence, last_success: SyncRun | None, last_run: SyncRun | None, now: datetime) -> Lag:
    """Green within 1.5 intervals of the last success, yellow within 3, red beyond or failing."""
    if (
        last_run is not None
        and last_run.status == RunStatus.FAILED
        and (last_success is None or last_run.started_at > last_success.started_at)
    ):
        return Lag("failing", "Last pull failed")
    if not cadence.scheduled:
        return Lag("unscheduled", "On demand")
    if last_success is None:
        return Lag("never", "Never pulled")
    interval = timedelta(hours=24) if cadence.nightly else timedelta(minutes=cadence.minutes)
    age = now - (last_success.finished_at or last_success.started_at)
    if age <= interval * 1.5:
        return Lag("ok", "On time")
    if age <= interval * 3:
        return Lag("late", "Running late")
    return Lag("stale", "Out of date")


def _latest(location_id: int, data_type: str, *conditions) -> SyncRun | None:
    return db.session.scalar(
        scoped(SyncRun)
        .where(SyncRun.data_type == data_type, *conditions)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def health_rows(location: Location) -> list[DataTypeHealth]:
    """One row per data type the vendor delivers."""
    now = utcnow()
    profile = connectors.get_profile(location.dms_vendor) if location.dms_vendor else None
    rows = []
    for data_type, cadence in cadences(location).items():
        last_success = _latest(
            location.id, data_type, SyncRun.status == RunStatus.SUCCEEDED, SyncRun.trigger != RunTrigger.RECONCILE
        )
        # The row describes pulls; reconciliations are listed with the recent runs.
        last_run = _latest(
            location.id, data_type, SyncRun.status != RunStatus.SKIPPED, SyncRun.trigger != RunTrigger.RECONCILE
        )
        active = _latest(location.id, data_type, SyncRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
        historical = {"repair_orders": profile.historical_ros, "customers": profile.historical_customers}.get(data_type)
        rows.append(
            DataTypeHealth(
                data_type=data_type,
                label=DATA_TYPE_LABELS.get(data_type, data_type),
                cadence=cadence,
                last_success=last_success,
                last_run=last_run,
                active=active,
                lag=lag_state(cadence, last_success, last_run, now),
                can_backfill=bool(historical and historical.available),
            )
        )
    return rows


def recent_runs(limit: int = 25) -> list[SyncRun]:
    """The location's latest runs, newest first."""
    return list(db.session.scalars(scoped(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)))


@dataclass
class ChartBar:
    """One hour of the records-pulled chart."""

    x: float
    height: float
    hour: datetime
    records: int


def pulled_per_hour(location: Location, days: int = 7, width: float = 840, height: float = 120) -> dict:
    """Records pulled per hour over the location's last ``days`` days (today included), laid out
    as SVG bars, and per day: the days are the location's, from its midnight to its midnight."""
    zone = zone_of(location)
    today = utcnow().astimezone(zone).date()
    midnights = [
        datetime.combine(today - timedelta(days=days - 1 - i), time(0), tzinfo=zone).astimezone(UTC)
        for i in range(days + 1)
    ]
    start, end = midnights[0], midnights[-1]
    runs = db.session.execute(
        scoped(SyncRun)
        .with_only_columns(SyncRun.started_at, SyncRun.fetched)
        .where(SyncRun.started_at >= start, SyncRun.started_at < end)
    ).all()
    # Hours counted from the first local midnight (a day is 23 or 25 hours when the clocks change).
    hours = [start + timedelta(hours=i) for i in range(int((end - start) / timedelta(hours=1)))]
    buckets: dict[int, int] = {}
    per_day = {midnight.astimezone(zone).strftime("%a %d %b"): 0 for midnight in midnights[:-1]}
    for started_at, fetched in runs:
        index = int((started_at - start) / timedelta(hours=1))
        buckets[index] = buckets.get(index, 0) + (fetched or 0)
        day = started_at.astimezone(zone).strftime("%a %d %b")
        per_day[day] = per_day.get(day, 0) + (fetched or 0)
    peak = max(buckets.values(), default=0) or 1
    slot = width / len(hours)
    bars = [
        ChartBar(x=i * slot, height=round(height * records / peak, 1), hour=hours[i], records=records)
        for i, records in sorted(buckets.items())
        if records
    ]
    day_marks = [
        (int((midnight - start) / timedelta(hours=1)) * slot, midnight.astimezone(zone).strftime("%a"))
        for midnight in midnights[:-1]
    ]
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "slot": max(1.0, slot - 1),
        "peak": peak,
        "per_day": per_day,
        "total": sum(buckets.values()),
        "days": days,
        "day_marks": day_marks,
    }


#: How many records an admin sees "as received" on a run's page.
AS_RECEIVED_LIMIT = 10


def records_as_received(run: SyncRun, limit: int = AS_RECEIVED_LIMIT) -> list[DmsRecord]:
    """For admins: the last records a finished run wrote, with the vendor's raw record beside
    the canonical one (diagnosing a mapping problem). Empty for other roles and live runs."""
    if run.finished_at is None or not can(current_user, Permission.MANAGE_LOCATIONS):
        return []
    return list(
        db.session.scalars(
            scoped(DmsRecord)
            .where(
                DmsRecord.data_type == run.data_type,
                DmsRecord.last_changed_at >= run.started_at,
                DmsRecord.last_changed_at <= run.finished_at,
            )
            .order_by(DmsRecord.last_changed_at.desc(), DmsRecord.id.desc())
            .limit(limit)
        )
    )
