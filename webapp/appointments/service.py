"""Booking, rescheduling and cancelling appointments, and the vendor pre-flight checks.

Nothing here talks to the DMS: a change is saved together with its outbox row and the
delivery job sends it (``jobs/pushes.py``). Before anything is queued, :func:`preflight`
runs the vendor's own rules (``VendorProfile.validate_appointment`` with the location's
options) plus the checks the console can make from its own data: opcodes against the
pulled opcode list, and advisors' DMS ids missing or shared with another user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

import connectors
from connectors.portal_fields import customer_fields
from webapp.extensions import db
from webapp.models import (
    Appointment,
    AppointmentStatus,
    Asset,
    ChangeSource,
    Customer,
    DmsRecord,
    Location,
    OutboxKind,
    OutboxStatus,
    PushState,
    Role,
    User,
)
from webapp.models.change_history import record_change
from webapp.outbox import dismiss_message, enqueue_push, messages_of, refresh_push_state, requeue

ADVISOR_ROLES = (Role.SERVICE_ADVISOR, Role.SERVICE_MANAGER)
# Which form field a vendor rule is about (codes without the vendor prefix).
FIELD_OF_CODE = {
    "NO-OPCODE-NOTES": "opcodes",
    "OPCODE-INVALID": "opcodes",
    "ADVISOR-MISSING": "advisor_id",
    "ADVISOR-INVALID": "advisor_id",
    "LASTNAME-MISSING": "customer",
    "ADDRESS-EMAIL-REQUIRED": "customer",
    "REQUIRED-FIELD": "customer",
    "DISPATCH-INVALID": "dispatch_code",
}


@dataclass(frozen=True)
class Finding:
    """A broken pre-flight rule: the vendor's code, the catalogue's title and fix hint, and the field."""

    code: str
    title: str
    fix_hint: str
    field: str
    detail: str = ""


# --------------------------------------------------------------------------- reference data
def advisors(location: Location) -> list[User]:
    """Service advisors and managers of the location (those without a DMS id included, flagged)."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.location_id == location.id, User.role.in_(ADVISOR_ROLES), User.active.is_(True))
            .order_by(User.name)
        )
    )


def shared_advisor_ids(location: Location) -> dict[str, list[User]]:
    """Advisor DMS ids used by more than one active user of the location."""
    users = [u for u in advisors(location) if (u.advisor_dms_id or "").strip()]
    by_id: dict[str, list[User]] = {}
    for user in users:
        by_id.setdefault(user.advisor_dms_id.strip().upper(), []).append(user)
    return {dms_id: holders for dms_id, holders in by_id.items() if len(holders) > 1}


def opcode_rows(location: Location, query: str = "", limit: int | None = None) -> list[DmsRecord]:
    """Active opcodes pulled from the location's DMS, optionally matching ``query`` (code or description)."""
    rows = db.session.scalars(
        select(DmsRecord)
        .where(DmsRecord.location_id == location.id, DmsRecord.data_type == "opcodes", DmsRecord.deleted_at.is_(None))
        .order_by(DmsRecord.dms_id)
    )
    needle = query.strip().lower()
    found = []
    for row in rows:
        if row.payload.get("active") is False:
            continue
        if (
            needle
            and needle not in row.dms_id.lower()
            and needle not in str(row.payload.get("description", "")).lower()
        ):
            continue
        found.append(row)
        if limit and len(found) >= limit:
            break
    return found


def has_opcode_list(location: Location) -> bool:
    """True once opcodes have been pulled for the location (Reynolds, for one, has no opcode pull)."""
    return bool(
        db.session.scalar(
            select(func.count(DmsRecord.id)).where(
                DmsRecord.location_id == location.id, DmsRecord.data_type == "opcodes"
            )
        )
    )


def push_options(location: Location) -> dict[str, Any]:
    """The location's options for its vendor's rules (e.g. CDK's require_address / require_email)."""
    return dict(location.dms_options or {})


# --------------------------------------------------------------------------- pre-flight
def preflight(
    location: Location, *, customer: Customer, advisor: User | None, opcodes: list[str], notes: str | None
) -> list[Finding]:
    """Every vendor rule the appointment would break, before anything is queued."""
    if not location.dms_vendor:
        return []
    profile = connectors.get_profile(location.dms_vendor)
    appointment = {
        "opcodes": opcodes,
        "notes": notes or "",
        "advisor_dms_id": (advisor.advisor_dms_id or "").strip() if advisor else "",
    }
    findings: list[Finding] = []
    seen: set[str] = set()

    def add(entry, detail: str = "") -> None:
        if entry.code in seen:
            return
        seen.add(entry.code)
        suffix = entry.code.split("-", 1)[1] if "-" in entry.code else entry.code
        findings.append(Finding(entry.code, entry.title, entry.fix_hint, FIELD_OF_CODE.get(suffix, "form"), detail))

    for entry in profile.validate_appointment(appointment, customer_fields(customer), push_options(location)):
        add(entry)
    if opcodes and has_opcode_list(location):
        known = {row.dms_id for row in opcode_rows(location)}
        unknown = [code for code in opcodes if code not in known]
        if unknown:
            add(
                profile.entry(profile.code_for("OPCODE-INVALID")),
                f"Not in {location.dms_vendor_name}'s opcode list: {', '.join(unknown)}.",
            )
    if advisor is not None and appointment["advisor_dms_id"]:
        holders = shared_advisor_ids(location).get(appointment["advisor_dms_id"].upper(), [])
        if len(holders) > 1:
            others = ", ".join(u.name for u in holders if u.id != advisor.id)
            add(
                profile.entry(profile.code_for("ADVISOR-INVALID")),
                f"DMS ID {appointment['advisor_dms_id']} is also entered for {others}.",
            )
    elif advisor is None:
        add(profile.entry(profile.code_for("ADVISOR-MISSING")), "Choose the service advisor.")
    return findings


def preflight_appointment(appointment: Appointment) -> list[Finding]:
    """Pre-flight of a saved appointment as it is now (Retry and advisor fixes use it)."""
    location = db.session.get(Location, appointment.location_id)
    return preflight(
        location,
        customer=appointment.customer,
        advisor=appointment.advisor,
        opcodes=list(appointment.opcodes or []),
        notes=appointment.notes,
    )


# --------------------------------------------------------------------------- changes
def book(
    location: Location,
    *,
    customer: Customer,
    asset: Asset | None,
    advisor: User | None,
    scheduled_at: datetime,
    opcodes: list[str],
    notes: str | None,
    dispatch_code: str | None,
    brand: str | None,
    user_id: int | None,
) -> Appointment:
    """Save a new appointment and queue its push in the same transaction (never waits on the DMS)."""
    appointment = Appointment(
        location_id=location.id,
        customer_id=customer.id,
        asset_id=asset.id if asset else None,
        advisor_id=advisor.id if advisor else None,
        scheduled_at=scheduled_at,
        opcodes=opcodes,
        notes=notes or None,
        dispatch_code=dispatch_code or None,
        brand=brand or None,
        status=AppointmentStatus.SCHEDULED,
        push_state=PushState.PENDING,
        created_by_id=user_id,
    )
    db.session.add(appointment)
    db.session.flush()
    enqueue_push(
        db.session,
        location,
        OutboxKind.APPOINTMENT_CREATE,
        appointment,
        payload={"scheduled_at": scheduled_at.isoformat(), "opcodes": opcodes},
        advisor_id=appointment.advisor_id,
        brand=appointment.brand,
        user_id=user_id,
    )
    db.session.commit()
    return appointment


EDITABLE = ("scheduled_at", "advisor_id", "opcodes", "notes", "dispatch_code", "brand", "asset_id")


def reschedule(appointment: Appointment, changes: dict[str, Any], user_id: int | None) -> list[str]:
    """Apply changed fields (with Change History) and queue the DMS update; returns changed field names.

    When the DMS has not got the appointment yet (its create is still waiting, or was
    refused), no second message is queued: the create sends the appointment as it is
    now - and a refused create is put back in line, since this edit is usually the fix.
    """
    changed = []
    for field in EDITABLE:
        if field not in changes:
            continue
        old, new = getattr(appointment, field), changes[field]
        if (old or None) == (new or None):
            continue
        record_change(record=appointment, field=field, old=old, new=new, source=ChangeSource.PORTAL, user_id=user_id)
        setattr(appointment, field, new)
        changed.append(field)
    if not changed:
        return changed
    location = db.session.get(Location, appointment.location_id)
    messages = messages_of(db.session, "appointment", appointment.id)
    unsent = [
        m
        for m in messages
        if m.status in (OutboxStatus.PENDING, OutboxStatus.FAILED)
        and m.kind in (OutboxKind.APPOINTMENT_CREATE, OutboxKind.APPOINTMENT_UPDATE)
    ]
    sending = any(m.status == OutboxStatus.SENDING for m in messages)
    if unsent and not sending:
        for message in unsent:
            message.advisor_id, message.brand = appointment.advisor_id, appointment.brand
            if message.status == OutboxStatus.FAILED:
                requeue(db.session, message)
    else:
        enqueue_push(
            db.session,
            location,
            OutboxKind.APPOINTMENT_UPDATE,
            appointment,
            payload={"changed": changed},
            advisor_id=appointment.advisor_id,
            brand=appointment.brand,
            user_id=user_id,
        )
    refresh_push_state(db.session, "appointment", appointment.id)
    db.session.commit()
    return changed


def cancel(appointment: Appointment, user_id: int | None) -> bool:
    """Cancel in the console and queue the cancellation for the DMS (if the DMS ever had it);
    True when the DMS is told, False when its waiting pushes were withdrawn instead."""
    if appointment.is_cancelled:
        return False
    record_change(
        record=appointment,
        field="status",
        old=appointment.status.value,
        new=AppointmentStatus.CANCELLED.value,
        source=ChangeSource.PORTAL,
        user_id=user_id,
    )
    appointment.status = AppointmentStatus.CANCELLED
    messages = messages_of(db.session, "appointment", appointment.id)
    reached_dms = appointment.dms_id or any(m.status in (OutboxStatus.SENDING, OutboxStatus.SENT) for m in messages)
    if not reached_dms:
        for message in messages:
            dismiss_message(db.session, message, "Appointment cancelled before it reached the DMS.", user_id)
    else:
        location = db.session.get(Location, appointment.location_id)
        enqueue_push(
            db.session,
            location,
            OutboxKind.APPOINTMENT_CANCEL,
            appointment,
            payload={},
            advisor_id=appointment.advisor_id,
            brand=appointment.brand,
            user_id=user_id,
        )
    refresh_push_state(db.session, "appointment", appointment.id)
    db.session.commit()
    return bool(reached_dms)
