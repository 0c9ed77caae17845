"""The Appointments list's rows: appointments pulled from the DMS beside those booked in the console.

Used by ``appointments.index``; it lives beside the repair-order list because both merge
the DMS mirror with the console's own records the same way (one page key over two
sources, never OFFSET; see :mod:`webapp.repair_orders.queries`). A pulled appointment that
is the DMS's copy of a console booking (same DMS id as the console appointment's
``dms_id``) is left out: the console's row stands for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import joinedload

from connectors.records import parse_datetime
from webapp.extensions import db
from webapp.models import Appointment, AppointmentStatus, Asset, DmsRecord, Location, PushState, User, utcnow
from webapp.repair_orders.queries import (
    PageKey,
    advisor_label,
    advisor_names,
    brand_condition,
    json_text,
    key_after,
    moment_after,
    moment_key,
    parties,
    related,
    time_key,
)
from webapp.scoping import scoped

APPOINTMENTS = "appointments"
PAGE_SIZE = 50
DMS, CONSOLE = "dms", "console"
_RANK = {DMS: 0, CONSOLE: 1}
# Tabs of the list: (value, label). Upcoming runs soonest first, the others latest first.
SHOWS = (("upcoming", "Upcoming"), ("failed", "Push failed"), ("cancelled", "Cancelled"), ("all", "All"))
# Pulled appointments still ahead of the customer (the DMS's other statuses: completed, cancelled).
DMS_ACTIVE = ("scheduled", "arrived")
# Upcoming keeps this morning's appointments on the list for the rest of the day.
UPCOMING_GRACE = timedelta(hours=12)


def scheduled_key(table: Any = DmsRecord) -> Any:
    """A pulled appointment's time as a page key (index ``ix_dms_record_appt_scheduled`` on PostgreSQL)."""
    return time_key("scheduled_at", table.payload)


@dataclass
class AppointmentRow:
    """One line of the list, booked in the console or pulled from the DMS."""

    source: str
    record_id: int
    key: str
    scheduled_at: datetime | None
    status: str  # scheduled, arrived, completed, cancelled
    customer: str | None = None
    customer_id: int | None = None  # portal customer to link
    vehicle: str | None = None
    advisor: str | None = None
    work: str = ""
    brand: str | None = None
    push_state: PushState | None = None  # console bookings only
    dms_id: str | None = None
    deleted_at: datetime | None = None  # pulled ones the DMS no longer has (shown, marked)

    @property
    def page_key(self) -> PageKey:
        """Where the next page starts when this is the last row."""
        return PageKey(self.key, _RANK[self.source], self.record_id)

    @property
    def status_label(self) -> str:
        """Scheduled / Arrived / Completed / Cancelled."""
        return self.status.title()


@dataclass
class AppointmentPage:
    """One page of the list."""

    rows: list[AppointmentRow]
    next_key: PageKey | None
    ascending: bool


def _dms_ids(
    location: Location,
    show: str,
    advisor: User | None,
    brand: str | None,
    after: PageKey | None,
    ascending: bool,
    limit: int,
) -> list[tuple[str, int]]:
    if show == "failed":
        return []  # push failures are the console's own
    key = scheduled_key()
    status = json_text(DmsRecord.payload, "status")
    query = (
        scoped(DmsRecord)
        .with_only_columns(key.label("key"), DmsRecord.id)
        .where(
            DmsRecord.location_id == location.id,
            DmsRecord.data_type == APPOINTMENTS,
            ~exists(
                select(Appointment.id).where(
                    Appointment.location_id == location.id, Appointment.dms_id == DmsRecord.dms_id
                )
            ),
        )
    )
    if show == "upcoming":
        query = query.where(
            key >= moment_key(utcnow() - UPCOMING_GRACE),
            DmsRecord.deleted_at.is_(None),
            func.coalesce(status, "scheduled").in_(DMS_ACTIVE),
        )
    elif show == "cancelled":
        query = query.where(status == "cancelled")
    if advisor is not None:
        dms_id = (advisor.advisor_dms_id or "").strip().upper()
        if not dms_id:
            return []
        query = query.where(func.upper(json_text(DmsRecord.payload, "advisor_dms_id")) == dms_id)
    if brand:
        query = query.where(brand_condition(location, brand))
    if after is not None:
        query = query.where(key_after(key, DmsRecord.id, _RANK[DMS], after, ascending))
    order = (key.asc(), DmsRecord.id.asc()) if ascending else (key.desc(), DmsRecord.id.desc())
    return [(row.key, row.id) for row in db.session.execute(query.order_by(*order).limit(limit))]


def _console(
    location: Location,
    show: str,
    advisor: User | None,
    brand: str | None,
    after: PageKey | None,
    ascending: bool,
    limit: int,
) -> list[Appointment]:
    query = scoped(Appointment).outerjoin(Asset, Asset.id == Appointment.asset_id)
    if show == "upcoming":
        query = query.where(
            Appointment.status == AppointmentStatus.SCHEDULED, Appointment.scheduled_at >= utcnow() - UPCOMING_GRACE
        )
    elif show == "cancelled":
        query = query.where(Appointment.status == AppointmentStatus.CANCELLED)
    elif show == "failed":
        query = query.where(Appointment.push_state == PushState.FAILED)
    if advisor is not None:
        query = query.where(Appointment.advisor_id == advisor.id)
    if brand:
        query = query.where(func.lower(func.coalesce(Appointment.brand, Asset.make)) == brand.strip().lower())
    condition = (
        moment_after(Appointment.scheduled_at, Appointment.id, _RANK[CONSOLE], after, ascending)
        if after is not None
        else None
    )
    if condition is not None:
        query = query.where(condition)
    order = (
        (Appointment.scheduled_at.asc(), Appointment.id.asc())
        if ascending
        else (Appointment.scheduled_at.desc(), Appointment.id.desc())
    )
    query = query.options(
        joinedload(Appointment.customer), joinedload(Appointment.asset), joinedload(Appointment.advisor)
    )
    return list(db.session.scalars(query.order_by(*order).limit(limit)).unique())


def _dms_rows(location: Location, ids: list[tuple[str, int]], people: list[User] | None) -> list[AppointmentRow]:
    if not ids:
        return []
    records = {r.id: r for r in db.session.scalars(scoped(DmsRecord).where(DmsRecord.id.in_([i for _, i in ids])))}
    payloads = [records[i].payload for _, i in ids]
    found = related(location, (p.get("customer_dms_id") for p in payloads), (p.get("vehicle_dms_id") for p in payloads))
    names = advisor_names(location, people)
    rows = []
    for key, record_id in ids:
        record = records[record_id]
        payload = record.payload
        who = parties(found, payload.get("customer_dms_id"), payload.get("vehicle_dms_id"))
        try:
            scheduled = parse_datetime(payload.get("scheduled_at"))
        except (TypeError, ValueError):
            scheduled = None
        rows.append(
            AppointmentRow(
                source=DMS,
                record_id=record_id,
                key=key,
                scheduled_at=scheduled,
                status=str(payload.get("status") or "scheduled"),
                deleted_at=record.deleted_at,
                customer=who.customer,
                customer_id=who.customer_id,
                vehicle=who.vehicle,
                advisor=advisor_label(names, payload.get("advisor_dms_id")),
                work=", ".join(str(c) for c in payload.get("opcodes") or []) or str(payload.get("notes") or "")[:40],
                brand=who.brand,
                dms_id=record.dms_id,
            )
        )
    return rows


def _console_row(appointment: Appointment) -> AppointmentRow:
    asset = appointment.asset
    return AppointmentRow(
        source=CONSOLE,
        record_id=appointment.id,
        key=moment_key(appointment.scheduled_at),
        scheduled_at=appointment.scheduled_at,
        status=appointment.status.value,
        customer=appointment.customer.display_name if appointment.customer else None,
        customer_id=appointment.customer_id,
        vehicle=asset.description if asset else None,
        advisor=appointment.advisor.name if appointment.advisor else None,
        work=", ".join(appointment.opcodes or []) or (appointment.notes or "")[:40],
        brand=appointment.brand or (asset.make if asset else None),
        push_state=appointment.push_state,
        dms_id=appointment.dms_id,
    )


def page(
    location: Location,
    *,
    show: str = "upcoming",
    advisor: User | None = None,
    brand: str | None = None,
    after: PageKey | None = None,
    size: int = PAGE_SIZE,
    people: list[User] | None = None,
) -> AppointmentPage:
    """One page of the merged list: Upcoming soonest first, every other tab latest first
    (``people``: the location's advisors, when the caller has loaded them already)."""
    ascending = show == "upcoming"
    dms_ids = _dms_ids(location, show, advisor, brand, after, ascending, size + 1)
    console = _console(location, show, advisor, brand, after, ascending, size + 1)
    rows = _dms_rows(location, dms_ids, people) + [_console_row(a) for a in console]
    rows.sort(key=lambda r: (r.key, _RANK[r.source], r.record_id), reverse=not ascending)
    shown = rows[:size]
    return AppointmentPage(shown, shown[-1].page_key if len(rows) > size else None, ascending)


def has_any(location: Location) -> bool:
    """True when the location has any appointment, pulled or booked (an empty Upcoming tab then
    says where the others are)."""
    pulled = db.session.scalar(
        scoped(DmsRecord)
        .with_only_columns(DmsRecord.id)
        .where(DmsRecord.location_id == location.id, DmsRecord.data_type == APPOINTMENTS)
        .limit(1)
    )
    return (
        pulled is not None
        or db.session.scalar(scoped(Appointment).with_only_columns(Appointment.id).limit(1)) is not None
    )
