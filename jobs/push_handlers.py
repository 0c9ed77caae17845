"""What each kind of outbox message sends to the DMS: one handler per kind.

A handler ``handler(dms, message, location) -> DMS id`` sends one claimed message over the
delivery job's connection (jobs/pushes.py, which maps each kind to its handler in ``HANDLERS``)
and may record what it sent on the message's payload; the receipt of a payment export is
jobs/payments.py. Portal records take the DMS's shape by the one mapping,
:mod:`connectors.portal_fields`. :class:`NotAccepted` ends a message the console will not send.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value

from connectors import CatalogueEntry
from connectors.portal_fields import appointment_fields, customer_fields, vehicle_fields
from connectors.records import KINDS, json_ready
from webapp.extensions import db
from webapp.models import (
    Appointment,
    Asset,
    ChangeSource,
    Customer,
    Location,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    utcnow,
)
from webapp.models.change_history import record_change


class NotAccepted(Exception):
    """The console will not send this message (the vendor does not take it, or its record is
    gone); ``entry`` explains it. Nothing was sent."""

    def __init__(self, entry: CatalogueEntry, message: str) -> None:
        super().__init__(message)
        self.entry = entry
        self.message = message


_LINKS = "outbox_pending_links"


def _link(record, dms_id: str) -> None:
    """Record a DMS id on a portal record without bumping its edit version.

    The object in the session gets the id at once (a later message of the chunk for the
    same customer sees it); the UPDATEs are written together by :func:`write_links`
    before the chunk commits.
    """
    set_committed_value(record, "dms_id", dms_id)
    db.session.info.setdefault(_LINKS, {}).setdefault(type(record).__table__, []).append(
        {"b_id": record.id, "b_dms_id": dms_id}
    )


def write_links() -> None:
    """Write the DMS ids recorded by :func:`_link` (one executemany per table)."""
    for table, rows in db.session.info.pop(_LINKS, {}).items():
        db.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(dms_id=bindparam("b_dms_id")), rows
        )


def forget_links() -> None:
    """Drop DMS ids recorded by a chunk that was not committed (its messages are sent again)."""
    db.session.info.pop(_LINKS, None)


def _ensure_customer(dms, message: OutboxMessage, customer: Customer) -> str:
    """The customer's DMS id, creating the customer with the appointment when it has none."""
    if customer.dms_id:
        return customer.dms_id
    created = dms.create_customer(
        customer_fields(customer), f"{message.idempotency_key}:customer", for_appointment=True
    )
    _link(customer, created.dms_id)
    return created.dms_id


def _ensure_vehicle(dms, message: OutboxMessage, asset: Asset | None, owner_dms_id: str) -> str | None:
    """The vehicle's DMS id, creating it with the appointment when it has none."""
    if asset is None:
        return None
    if asset.dms_id:
        return asset.dms_id
    created = dms.create_vehicle(
        vehicle_fields(asset, owner_dms_id), f"{message.idempotency_key}:vehicle", for_appointment=True
    )
    _link(asset, created.dms_id)
    return created.dms_id


def _as_payload(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as JSON for the message's payload (what was sent)."""
    return json_ready(dict(fields))


def _appointment(message: OutboxMessage) -> Appointment:
    appointment = db.session.get(Appointment, message.target_id)
    if appointment is None:
        raise NotAccepted(
            CatalogueEntry("GONE", "The appointment no longer exists", "Dismiss this push."), "appointment deleted"
        )
    return appointment


def _create_appointment(dms, message: OutboxMessage, appointment: Appointment) -> str:
    customer_dms_id = _ensure_customer(dms, message, appointment.customer)
    vehicle_dms_id = _ensure_vehicle(dms, message, appointment.asset, customer_dms_id)
    fields = {"customer_dms_id": customer_dms_id, "vehicle_dms_id": vehicle_dms_id, **appointment_fields(appointment)}
    message.payload = _as_payload(fields)
    created = dms.create_appointment(fields, message.idempotency_key)
    _link(appointment, created.dms_id)
    return created.dms_id


def send_appointment_create(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create the appointment (and its customer/vehicle when the DMS lacks them)."""
    appointment = _appointment(message)
    if appointment.dms_id:  # an earlier message already created it
        return appointment.dms_id
    return _create_appointment(dms, message, appointment)


def send_appointment_update(dms, message: OutboxMessage, location: Location) -> str | None:
    """Send the appointment's current time, advisor, opcodes and notes."""
    appointment = _appointment(message)
    if not appointment.dms_id:  # its create was dismissed: the DMS gets it as new
        return _create_appointment(dms, message, appointment)
    fields = appointment_fields(appointment)
    message.payload = _as_payload(fields)
    return dms.update_appointment(appointment.dms_id, fields).dms_id


def send_appointment_cancel(dms, message: OutboxMessage, location: Location) -> str | None:
    """Cancel the appointment in the DMS (nothing to do if it never got there)."""
    appointment = _appointment(message)
    if not appointment.dms_id:
        message.payload = {"note": "The appointment never reached the DMS; nothing to cancel there."}
        return None
    return dms.cancel_appointment(appointment.dms_id).dms_id


def send_customer(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create or update a customer (payload ``fields`` or the record; ``for_appointment``)."""
    customer = db.session.get(Customer, message.target_id)
    payload = message.payload or {}
    fields = payload.get("fields") or customer_fields(customer)
    for_appointment = bool(payload.get("for_appointment"))
    if customer.dms_id:
        return dms.update_customer(customer.dms_id, fields, payload.get("etag"), for_appointment=for_appointment).dms_id
    created = dms.create_customer(fields, message.idempotency_key, for_appointment=for_appointment)
    _link(customer, created.dms_id)
    return created.dms_id


def send_vehicle(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create or update a vehicle (payload ``fields`` or the record; ``for_appointment``)."""
    asset = db.session.get(Asset, message.target_id)
    payload = message.payload or {}
    owner = asset.customer.dms_id if asset.customer else None
    fields = payload.get("fields") or vehicle_fields(asset, owner)
    for_appointment = bool(payload.get("for_appointment"))
    if asset.dms_id:
        return dms.update_vehicle(asset.dms_id, fields, payload.get("etag"), for_appointment=for_appointment).dms_id
    created = dms.create_vehicle(fields, message.idempotency_key, for_appointment=for_appointment)
    _link(asset, created.dms_id)
    return created.dms_id


def send_write_back(dms, message: OutboxMessage, location: Location) -> str | None:
    """Write sync-wizard results back: payload ``{"data_type", "dms_id", "fields", "etag"?}``.

    Fields the vendor does not accept are not sent; they are listed in the payload's
    ``not_sent_fields`` so the wizard's summary can say so.
    """
    payload = dict(message.payload or {})
    profile = dms.profile
    data_type = payload["data_type"]
    writable = KINDS[data_type].writable(profile)
    fields = {k: v for k, v in (payload.get("fields") or {}).items() if k in writable}
    payload["not_sent_fields"] = sorted(set(payload.get("fields") or {}) - set(fields))
    message.payload = payload
    # Only customers and vehicles are written back (their kinds have ``writable`` fields).
    update_record = {"customers": dms.update_customer, "vehicles": dms.update_vehicle}[data_type]
    return update_record(payload["dms_id"], fields, payload.get("etag")).dms_id


def stamp_last_synced_on_write_back(session, message: OutboxMessage) -> None:
    """A sync wizard's write-back the DMS took: the portal and the DMS now agree, so Last Synced
    is stamped (the wizard's apply leaves it alone while the write-back is on its way, and a
    refused one - an ETag conflict - never stamps). A bulk UPDATE, so someone editing the
    record meanwhile is not told it was "changed by someone else"."""
    if message.kind != OutboxKind.WIZARD_WRITE_BACK or message.status != OutboxStatus.SENT:
        return
    payload = message.payload or {}
    model = {Customer.__tablename__: Customer, Asset.__tablename__: Asset}.get(message.target_type)
    if model is None or payload.get("not_sent_fields"):  # fields the DMS did not take still differ
        return
    record = session.get(model, message.target_id)
    if record is None:
        return
    old, now = record.last_synced_at, utcnow()
    session.execute(update(model.__table__).where(model.__table__.c.id == record.id).values(last_synced_at=now))
    set_committed_value(record, "last_synced_at", now)
    record_change(
        record=record,
        field="last_synced_at",
        old=old.isoformat() if old else None,
        new=now.isoformat(),
        source=ChangeSource.SYNC_WIZARD,
        user_id=message.created_by_id,
        context={
            "sync_session_id": payload.get("sync_session_id"),
            "dms_id": payload.get("dms_id"),
            "outbox_message_id": message.id,
            "write_back": "confirmed by the DMS",
        },
    )
