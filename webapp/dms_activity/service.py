"""What the DMS Activity pages do, without Flask: DMS ids, RO reservation, receipts and exports.

Every state change of a receipt is a conditional UPDATE checked by its rowcount, so two
requests (a double click, two users) can never both move the same receipt: only one
claim of a Ready receipt wins, a Void receipt matches no export or retry, and an
exporting or posted receipt cannot be voided. Exports go through the outbox
(:mod:`webapp.outbox`) with the receipt's own idempotency key; ``jobs.payments`` sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

import connectors
from connectors import DmsError
from connectors.portal_fields import vehicle_fields
from connectors.records import KINDS, RepairOrder
from webapp import audit
from webapp.extensions import db
from webapp.models import (
    Appointment,
    Asset,
    Customer,
    Location,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    Workfile,
    utcnow,
)
from webapp.models.workfile import DmsEventKind, record_event
from webapp.outbox import dismiss_message, enqueue_push, requeue, retry_message
from webapp.record_kinds import PORTAL_KINDS
from webapp.repair_orders import queries
from webapp.scoping import scoped
from webapp.search.web import customer_name

NEW_RECORD = "__new__"  # the "not listed - export as new" choice

ID_FIELDS = {
    "dms_repair_id": (DmsEventKind.REPAIR_ID_ADDED, DmsEventKind.REPAIR_ID_CHANGED),
    "dms_customer_id": (DmsEventKind.CUSTOMER_ID_ADDED, DmsEventKind.CUSTOMER_ID_CHANGED),
    "dms_vehicle_id": (DmsEventKind.VEHICLE_ID_ADDED, DmsEventKind.VEHICLE_ID_CHANGED),
}


class Refused(Exception):
    """The action is not possible; ``message`` says why in plain words (nothing changed)."""

    def __init__(self, message: str, fix_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix_hint = fix_hint


def profile_of(location: Location):
    """The vendor profile of the location's DMS, or None when none is connected."""
    if not location.dms_vendor:
        return None
    try:
        return connectors.get_profile(location.dms_vendor)
    except KeyError:
        return None


def payment_export_supported(location: Location) -> bool:
    """True when the location's DMS takes payment exports (seed 003's note)."""
    profile = profile_of(location)
    return bool(profile and profile.payment_export and location.has_dms)


def connect(location: Location):
    """A connector for a short, user-initiated lookup."""
    if not location.has_dms:
        raise Refused("This location has no DMS connection.", "A Global Admin can set it up under Admin → Locations.")
    return location.connect_dms(current_app.config["DMS_LOOKUP_TIMEOUT"])


# --------------------------------------------------------------------------- Properties
def set_dms_id(
    workfile: Workfile, field: str, value: str | None, user_id: int | None, detail: str | None = None
) -> bool:
    """Set one of the three DMS ids; History gets "added" or "changed". False if unchanged."""
    if workfile.is_closed:
        raise Refused("The RO is closed: its DMS ids can no longer be changed.")
    value = (value or "").strip() or None
    old = getattr(workfile, field)
    if value == old:
        return False
    setattr(workfile, field, value)
    added, changed = ID_FIELDS[field]
    if value is not None:
        note = detail or (f"was {old}" if old else None)
        record_event(workfile, changed if old else added, user_id=user_id, reference_id=value, detail=note)
    else:
        record_event(workfile, changed, user_id=user_id, detail=f"removed (was {old})")
    return True


def convert_to_ro(workfile: Workfile, location: Location, user_id: int | None) -> str:
    """Reserve an RO number in the DMS and fill the DMS Repair ID (the caller commits).

    The reservation key belongs to the workfile, so a double click or a retry after a
    timeout gets the same number back instead of burning a second one. On failure a
    History row is written and :class:`Refused` says what to do (type the id by hand).
    """
    if workfile.is_closed:
        raise Refused("The RO is closed: its DMS ids can no longer be changed.")
    profile = profile_of(location)
    if profile is None or not location.has_dms:
        raise Refused(
            "This location has no DMS connection to reserve an RO number in.",
            "Type the DMS Repair ID by hand, or ask a Global Admin to set up the DMS connection "
            "under Admin → Locations.",
        )
    if not profile.ro_number_reservation:
        raise Refused(
            profile.refusal_text("does not reserve RO numbers."),
            "Create the RO in the DMS and type its number as the DMS Repair ID.",
        )
    if not workfile.ro_reservation_key:
        workfile.ro_reservation_key = f"{location.code}-ro-{workfile.id}-{uuid.uuid4().hex[:12]}"
        db.session.flush()
    try:
        with connect(location) as dms:
            number = dms.reserve_ro_number(workfile.ro_reservation_key)
    except (DmsError, ValueError) as exc:
        message = getattr(exc, "title", None) or str(exc)
        hint = getattr(exc, "fix_hint", None) or (
            "Try again in a minute. If it keeps failing, ask a Service Manager "
            "to check the DMS connection on the Integration health page."
        )
        record_event(workfile, DmsEventKind.RO_RESERVATION_FAILED, user_id=user_id, detail=str(exc)[:500])
        db.session.commit()
        raise Refused(
            f"The DMS could not reserve an RO number: {message}", f"{hint} You can type the DMS Repair ID by hand."
        ) from exc
    set_dms_id(workfile, "dms_repair_id", number, user_id, detail="reserved on Convert to RO")
    return number


def search(location: Location, what: str, query: str, limit: int = 15) -> list:
    """DMS customers or vehicles matching ``query`` (a short, time-limited lookup)."""
    query = (query or "").strip()
    if len(query) < 2:
        return []
    try:
        with connect(location) as dms:
            return getattr(dms, PORTAL_KINDS[what].dms_search)(query, limit=limit)
    except (DmsError, ValueError) as exc:
        raise Refused(
            f"The DMS search failed: {getattr(exc, 'title', None) or exc}", getattr(exc, "fix_hint", None)
        ) from exc


def _push_mode_refusal(location: Location, data_type: str) -> str | None:
    """Why the location's DMS will not take a new customer/vehicle on its own, or None."""
    from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT

    profile = profile_of(location)
    if profile is None or not location.has_dms:
        return "This location has no DMS connection."
    mode = profile.push_mode(data_type)
    noun = KINDS[data_type].noun
    if mode == PUSH_NOT_AVAILABLE:
        return profile.refusal_text(f"does not accept new {noun} records from outside.")
    if mode == PUSH_WITH_APPOINTMENT:
        return profile.refusal_text(f"accepts new {noun} records only together with an appointment.")
    return None


def _drop_stale_dms_id(record: Customer | Asset, location: Location, data_type: str, user_id: int | None) -> str | None:
    """Before an "export as new" reuses the portal record's DMS id: ask the DMS whether it
    still has that record. Still there: None (the id is reused). Gone (deleted or merged in
    the DMS): the stale id is cleared (Change History says so) and a note for the user is
    returned, so a new record gets exported. The DMS not answering refuses the export rather
    than guess."""
    dms_id = record.dms_id
    try:
        with connect(location) as dms:
            found = dms.fetch_one(data_type, dms_id)
    except (DmsError, ValueError) as exc:
        raise Refused(
            f"Could not check with the DMS that it still has {KINDS[data_type].noun} {dms_id}: "
            f"{getattr(exc, 'title', None) or exc}",
            getattr(exc, "fix_hint", None) or "Try again in a minute.",
        ) from exc
    if found is not None:
        return None
    from webapp.models import ChangeSource
    from webapp.models.change_history import record_change

    record.dms_id = None
    record_change(
        record=record,
        field="dms_id",
        old=dms_id,
        new=None,
        source=ChangeSource.PORTAL,
        user_id=user_id,
        context={"stale_dms_id": dms_id},
    )
    return (
        f"The DMS no longer has {KINDS[data_type].noun} {dms_id} (deleted or merged there), so it was not reused: "
        f"a new {KINDS[data_type].noun} record is being exported instead."
    )


def export_new_customer(workfile: Workfile, location: Location, user_id: int | None) -> str | None:
    """ "Customer not listed - export as new customer record" (the caller commits).

    Returns a note for the user when the customer's DMS id was stale and dropped."""
    if workfile.is_closed:
        raise Refused("The RO is closed: its DMS ids can no longer be changed.")
    customer = workfile.customer
    if customer is None:
        raise Refused(
            "This workfile is not linked to a portal customer, so there is nothing to export.",
            "Pick the DMS customer from the search, or type the DMS Customer ID by hand.",
        )
    note = None
    if customer.dms_id:  # already in the DMS (if the DMS still has it): no need to create it twice
        note = _drop_stale_dms_id(customer, location, "customers", user_id)
        if note is None:
            set_dms_id(workfile, "dms_customer_id", customer.dms_id, user_id, detail="from the linked portal customer")
            return None
    reason = _push_mode_refusal(location, "customers")
    if reason:
        raise Refused(reason, "Add the customer in the DMS, then pick it here or type its id.")
    message = enqueue_push(
        db.session, location, OutboxKind.CUSTOMER_PUSH, customer, payload={"workfile_id": workfile.id}, user_id=user_id
    )
    db.session.flush()
    workfile.customer_export_message_id = message.id
    record_event(workfile, DmsEventKind.CUSTOMER_EXPORT_REQUESTED, user_id=user_id, detail=customer.display_name)
    return note


def export_new_vehicle(workfile: Workfile, location: Location, fields: dict, user_id: int | None) -> str | None:
    """ "Vehicle not listed - export as new vehicle record" with the confirmed make/model.

    Returns a note for the user when the vehicle's DMS id was stale and dropped."""
    if workfile.is_closed:
        raise Refused("The RO is closed: its DMS ids can no longer be changed.")
    asset = workfile.asset
    if asset is None:
        raise Refused(
            "This workfile is not linked to a portal vehicle, so there is nothing to export.",
            "Pick the DMS vehicle from the search, or type the DMS Vehicle ID by hand.",
        )
    note = None
    if asset.dms_id:
        note = _drop_stale_dms_id(asset, location, "vehicles", user_id)
        if note is None:
            set_dms_id(workfile, "dms_vehicle_id", asset.dms_id, user_id, detail="from the linked portal vehicle")
            return None
    reason = _push_mode_refusal(location, "vehicles")
    if reason:
        raise Refused(reason, "Add the vehicle in the DMS, then pick it here or type its id.")
    values = vehicle_fields(
        asset, workfile.dms_customer_id or (workfile.customer.dms_id if workfile.customer else None)
    )
    values.update({k: v for k, v in fields.items() if v not in (None, "")})
    message = enqueue_push(
        db.session,
        location,
        OutboxKind.VEHICLE_PUSH,
        asset,
        payload={"workfile_id": workfile.id, "fields": values},
        user_id=user_id,
    )
    db.session.flush()
    workfile.vehicle_export_message_id = message.id
    record_event(
        workfile,
        DmsEventKind.VEHICLE_EXPORT_REQUESTED,
        user_id=user_id,
        detail=" ".join(str(values.get(k) or "") for k in ("year", "make", "model")).strip(),
    )
    return note


def export_message(workfile: Workfile, which: str) -> OutboxMessage | None:
    """The outbox message of a pending/failed "export as new" customer or vehicle."""
    message_id = workfile.customer_export_message_id if which == "customer" else workfile.vehicle_export_message_id
    if message_id is None:
        return None
    return export_message_by_id(workfile, message_id)


def export_message_by_id(workfile: Workfile, message_id: int) -> OutboxMessage | None:
    """An "export as new" outbox message of this workfile (None for any other message)."""
    message = db.session.scalar(
        scoped(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.location_id == workfile.location_id)
    )
    if message is None or (message.payload or {}).get("workfile_id") != workfile.id:
        return None
    return message


# --------------------------------------------------------------------------- Payments
@dataclass
class ExportResult:
    """What "Export all Ready payments" did."""

    batch: str
    claimed: int


def add_payment(
    workfile: Workfile,
    location: Location,
    *,
    kind: PaymentKind,
    amount: Decimal,
    payer: str,
    method: str,
    received_at,
    user_id: int | None,
    reference: str | None = None,
) -> Payment:
    """Save a Ready receipt on the workfile (the caller commits)."""
    if workfile.is_closed:
        raise Refused("The RO is closed: receipts can no longer be added here.")
    payment = Payment(
        location_id=workfile.location_id,
        workfile_id=workfile.id,
        kind=kind,
        amount=amount,
        payer=payer,
        method=method,
        received_at=received_at or utcnow(),
        reference=(reference or "").strip()[:64] or None,
        status=PaymentStatus.READY,
        created_by_id=user_id,
        idempotency_key=f"{location.code}-pay-{workfile.id}-{uuid.uuid4().hex}"[:80],
    )
    db.session.add(payment)
    db.session.flush()
    record_event(
        workfile,
        DmsEventKind.PAYMENT_ADDED,
        user_id=user_id,
        payment=payment,
        detail=f"{kind.label} from {payer}" + (f" (ref. {payment.reference})" if payment.reference else ""),
    )
    return payment


def payment_payload(workfile: Workfile, payment: Payment) -> dict:
    """What the DMS gets for a receipt (fixed at export time: replays send the same body)."""
    return {
        "ro_number": workfile.dms_repair_id,
        "amount": f"{payment.amount:.2f}",
        "method": payment.method,
        "payer": payment.kind.value,
        "received_at": payment.received_at.isoformat(),
    }


def _claim(payment_id: int, from_statuses: tuple[PaymentStatus, ...], batch: str, user_id: int | None) -> bool:
    """Move one receipt to Exporting if (and only if) it is still in ``from_statuses``."""
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(from_statuses))
        .values(
            status=PaymentStatus.EXPORTING,
            export_batch=batch,
            exported_by_id=user_id,
            failure_reason=None,
            failure_hint=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def export_ready(workfile: Workfile, location: Location, user_id: int | None) -> ExportResult:
    """Queue every Ready receipt of the workfile for export (the caller commits).

    Nothing is sent (and nothing changes) when the DMS does not take payment exports or
    the workfile has no DMS Repair ID.
    """
    if not payment_export_supported(location):
        profile = profile_of(location)
        refusal = (
            profile.refusal_text("does not support payment export.")
            if profile
            else "This location's DMS does not support payment export."
        )
        raise Refused(
            f"{refusal} Nothing was sent to the DMS.",
            "Post these receipts directly in the DMS.",
        )
    if not workfile.dms_repair_id:
        raise Refused(
            "This workfile has no DMS Repair ID yet, so the DMS cannot post receipts to it.",
            "Convert to RO (or type the DMS Repair ID) on the Properties tab, then export again.",
        )
    batch = uuid.uuid4().hex
    ready = list(
        db.session.scalars(
            select(Payment.id)
            .where(Payment.workfile_id == workfile.id, Payment.status == PaymentStatus.READY)
            .order_by(Payment.id)
        )
    )
    claimed = 0
    for payment_id in ready:
        if not _claim(payment_id, (PaymentStatus.READY,), batch, user_id):
            continue  # someone else's export took it a moment ago
        payment = db.session.get(Payment, payment_id)
        db.session.refresh(payment)
        message = enqueue_push(
            db.session,
            location,
            OutboxKind.PAYMENT_EXPORT,
            payment,
            payload=payment_payload(workfile, payment),
            idempotency_key=payment.idempotency_key,
            user_id=user_id,
        )
        db.session.flush()
        payment.outbox_message_id = message.id
        claimed += 1
    if claimed:
        audit.record(
            "payment.exported",
            location_id=location.id,
            target=f"workfile {workfile.id}",
            detail=f"{claimed} receipt(s) queued for export, batch {batch}",
        )
    return ExportResult(batch, claimed)


def retry_payment(payment: Payment, location: Location, user_id: int | None) -> str:
    """Send a Failed receipt again (the caller commits); returns the new batch id."""
    if not payment_export_supported(location):
        raise Refused("This location's DMS does not support payment export. Nothing was sent to the DMS.")
    if not payment.workfile.dms_repair_id:
        raise Refused("This workfile has no DMS Repair ID yet.", "Add it on the Properties tab, then retry.")
    batch = uuid.uuid4().hex
    if not _claim(payment.id, (PaymentStatus.FAILED,), batch, user_id):
        db.session.refresh(payment)
        raise Refused(f"This receipt is {payment.status.label}: only Failed receipts can be retried.")
    db.session.refresh(payment)
    message = db.session.get(OutboxMessage, payment.outbox_message_id) if payment.outbox_message_id else None
    if message is None:
        message = enqueue_push(
            db.session,
            location,
            OutboxKind.PAYMENT_EXPORT,
            payment,
            payload=payment_payload(payment.workfile, payment),
            idempotency_key=payment.idempotency_key,
            user_id=user_id,
        )
        db.session.flush()
        payment.outbox_message_id = message.id
    elif message.status == OutboxStatus.FAILED:
        retry_message(db.session, message, user_id)
    elif message.status == OutboxStatus.DISMISSED:
        requeue(db.session, message)
    # A refused message gets a new key from the outbox (the DMS may remember its refusal).
    payment.idempotency_key = message.idempotency_key
    record_event(payment.workfile, DmsEventKind.PAYMENT_RETRIED, user_id=user_id, payment=payment)
    return batch


def void_payment(payment: Payment, user_id: int | None, reason: str | None = None) -> None:
    """Void a Ready or Failed receipt (the caller commits). Its export can never happen after.

    ``reason`` is kept on the receipt and shown in History.
    """
    reason = (reason or "").strip()[:500] or None
    result = db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_((PaymentStatus.READY, PaymentStatus.FAILED)))
        .values(
            status=PaymentStatus.VOID, voided_at=utcnow(), voided_by_id=user_id, void_reason=reason, updated_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    if result.rowcount != 1:
        if payment.status == PaymentStatus.VOID:
            raise Refused("This receipt is already Void.")
        if payment.status == PaymentStatus.POSTED:
            raise Refused(
                "This receipt is Posted in the DMS; it cannot be voided here: it must be reversed in the DMS.",
                "Reverse the receipt in the DMS; the reversal is then the DMS's record.",
            )
        raise Refused(
            "This receipt is being exported right now; it cannot be voided.",
            "Wait for the export to finish, then void it if it failed.",
        )
    if payment.outbox_message_id:
        message = db.session.get(OutboxMessage, payment.outbox_message_id)
        if message is not None and message.status in (OutboxStatus.FAILED, OutboxStatus.PENDING):
            # Nobody may resend it from the Failed pushes page either.
            dismiss_message(db.session, message, "The receipt was voided on the workfile.", user_id)
    record_event(
        payment.workfile,
        DmsEventKind.PAYMENT_VOIDED,
        user_id=user_id,
        payment=payment,
        detail=f"Reason: {reason}" if reason else None,
    )


def batch_payments(workfile: Workfile, batch: str) -> list[Payment]:
    """The receipts of one export, in order."""
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.workfile_id == workfile.id, Payment.export_batch == batch)
            .order_by(Payment.id)
        )
    )


def messages_by_id(payments: list[Payment]) -> dict[int, OutboxMessage]:
    """The outbox message of each receipt (to say "retrying automatically")."""
    ids = [p.outbox_message_id for p in payments if p.outbox_message_id]
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}


# --------------------------------------------------------------------------- Workfiles staff create
def _add_once(workfile: Workfile, existing: Callable[[], Workfile | None]) -> tuple[Workfile, bool]:
    """Insert ``workfile``; when its (location, DMS RO) or (location, appointment) pair is taken
    (another request made that workfile a moment ago), the one already there. Returns
    ``(workfile, created)``."""
    try:
        with db.session.begin_nested():
            db.session.add(workfile)
            db.session.flush()
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found, False
    return workfile, True


def workfile_of_appointment(appointment: Appointment) -> Workfile | None:
    """The workfile an appointment was checked in to (one per appointment)."""
    return db.session.scalar(
        scoped(Workfile).where(
            Workfile.location_id == appointment.location_id, Workfile.appointment_id == appointment.id
        )
    )


def new_workfile(
    location: Location,
    *,
    customer: Customer | None,
    asset: Asset | None,
    user_id: int | None,
    insurer: str | None = None,
    total: Decimal | None = None,
    appointment: Appointment | None = None,
) -> tuple[Workfile, bool]:
    """A new open workfile for a portal customer and/or vehicle (the caller commits).

    The header (name, vehicle, VIN) is copied from the portal records as they are now, and
    the DMS Customer/Vehicle IDs are filled when those records are already linked to the DMS.
    Returns ``(workfile, created)``: an appointment has one workfile, so when two check-ins of
    it race, the second gets the first one's workfile.
    """
    if customer is None and asset is not None:
        customer = asset.customer
    workfile = Workfile(
        location_id=location.id,
        customer_id=customer.id if customer else None,
        asset_id=asset.id if asset else None,
        customer_name=(customer.display_name if customer else "")[:160],
        insurer=(insurer or "").strip() or None,
        total=total or Decimal("0.00"),
        vehicle_year=asset.year if asset else None,
        vehicle_make=asset.make if asset else None,
        vehicle_model=asset.model if asset else None,
        vin=asset.vin if asset else None,
        appointment_id=appointment.id if appointment else None,
        created_by_id=user_id,
    )
    workfile, created = _add_once(workfile, lambda: workfile_of_appointment(appointment) if appointment else None)
    if not created:
        return workfile, False
    origin = f"from appointment #{appointment.id}" if appointment else None
    record_event(workfile, DmsEventKind.WORKFILE_CREATED, user_id=user_id, detail=origin)
    if customer is not None and customer.dms_id:
        set_dms_id(workfile, "dms_customer_id", customer.dms_id, user_id, detail="from the linked portal customer")
    if asset is not None and asset.dms_id:
        set_dms_id(workfile, "dms_vehicle_id", asset.dms_id, user_id, detail="from the linked portal vehicle")
    return workfile, True


def workfile_linking(location: Location, dms_ro_id: str) -> Workfile | None:
    """The workfile of this location already linked to the DMS RO ``dms_ro_id``."""
    return db.session.scalar(
        scoped(Workfile).where(Workfile.location_id == location.id, Workfile.dms_ro_id == dms_ro_id)
    )


def _apply_ro(workfile: Workfile, location: Location, ro: RepairOrder, user_id: int | None, how: str) -> list[str]:
    """Link ``workfile`` to the DMS repair order ``ro`` and fill what it knows.

    DMS ids already on the workfile are kept; the returned notes say where the RO names others.
    """
    number = (ro.ro_number or ro.dms_id)[:64]
    workfile.dms_ro_id = ro.dms_id[:64]
    record_event(workfile, DmsEventKind.RO_LINKED, user_id=user_id, reference_id=number, detail=how)
    set_dms_id(workfile, "dms_repair_id", number, user_id, detail=how)
    customer_dms_id, vehicle_dms_id = (ro.customer_dms_id or "")[:64], (ro.vehicle_dms_id or "")[:64]
    notes = []
    for field, value, noun in (
        ("dms_customer_id", customer_dms_id, "customer"),
        ("dms_vehicle_id", vehicle_dms_id, "vehicle"),
    ):
        if not value:
            continue
        if not getattr(workfile, field):
            set_dms_id(workfile, field, value, user_id, detail="from the DMS repair order")
        elif getattr(workfile, field) != value:
            notes.append(
                f"The DMS RO is for DMS {noun} {value}, but this workfile's DMS {noun.title()} ID is "
                f"{getattr(workfile, field)}. Check it on the Properties tab."
            )
    found = queries.related(location, [customer_dms_id], [vehicle_dms_id])
    customer = found.portal_customers.get(customer_dms_id)
    if workfile.customer_id is None and customer is not None:
        workfile.customer_id = customer.id
        workfile.customer_name = customer.display_name[:160]
    mirror_customer = found.mirror_customers.get(customer_dms_id)
    if not workfile.customer_name and mirror_customer is not None:
        workfile.customer_name = customer_name(mirror_customer.payload, default="")[:160]
    asset = found.portal_assets.get(vehicle_dms_id)
    if workfile.asset_id is None and asset is not None:
        workfile.asset_id = asset.id
        workfile.vehicle_year, workfile.vehicle_make = asset.year, asset.make
        workfile.vehicle_model, workfile.vin = asset.model, asset.vin
    vehicle = found.mirror_vehicles.get(vehicle_dms_id)
    if not workfile.vin and not workfile.vehicle_make and vehicle is not None:
        data = vehicle.payload or {}
        year = data.get("year")
        workfile.vehicle_year = year if isinstance(year, int) else None
        workfile.vehicle_make = str(data.get("make") or "")[:40] or None
        workfile.vehicle_model = str(data.get("model") or "")[:60] or None
        workfile.vin = str(data.get("vin") or "")[:32] or None
    if not workfile.total:
        workfile.total = sum(ro.totals_by_pay_type.values(), Decimal("0.00")).quantize(Decimal("0.01"))
    return notes


def start_from_dms_ro(location: Location, ro: RepairOrder, user_id: int | None) -> tuple[Workfile, bool]:
    """The workfile of a pulled RO (``ro``: the mirror's copy, parsed): the one already linked to
    it, or a new one (the caller commits).

    Returns ``(workfile, created)``. Two clicks at once cannot make two workfiles: the
    (location, DMS RO) pair is unique, and the loser of that race gets the winner's workfile.
    """
    dms_ro_id = ro.dms_id[:64]
    existing = workfile_linking(location, dms_ro_id)
    if existing is not None:
        return existing, False
    workfile, created = _add_once(
        Workfile(
            location_id=location.id, customer_name="", total=Decimal("0.00"), created_by_id=user_id, dms_ro_id=dms_ro_id
        ),
        lambda: workfile_linking(location, dms_ro_id),
    )
    if not created:
        return workfile, False
    record_event(
        workfile, DmsEventKind.WORKFILE_CREATED, user_id=user_id, detail="from a repair order pulled from the DMS"
    )
    _apply_ro(workfile, location, ro, user_id, "from the pulled DMS repair order")
    return workfile, True


def link_ro_by_number(
    workfile: Workfile, location: Location, number: str, user_id: int | None
) -> tuple[str, list[str]]:
    """Look the RO number up live in the DMS and link the workfile to it (the caller commits).

    Returns the RO number linked and notes on DMS ids that differ from the RO's. :class:`Refused`
    says what went wrong: no such RO, the DMS could not be reached (nothing changes, a History
    row says so), or another workfile has it.
    """
    if workfile.is_closed:
        raise Refused("The RO is closed: its DMS ids can no longer be changed.")
    number = (number or "").strip()
    if not number:
        raise Refused("Enter the RO number to look up.")
    try:
        with connect(location) as dms:
            ro = dms.fetch_one("repair_orders", number)
    except (DmsError, ValueError) as exc:
        message = getattr(exc, "title", None) or str(exc)
        record_event(
            workfile, DmsEventKind.RO_LINK_FAILED, user_id=user_id, reference_id=number[:64], detail=str(exc)[:500]
        )
        db.session.commit()
        raise Refused(
            f"The DMS could not be reached to look up RO {number}: {message}",
            getattr(exc, "fix_hint", None)
            or "Try again in a minute. If it keeps failing, ask a Service "
            "Manager to check the DMS connection on the Integration health page.",
        ) from exc
    if ro is None:
        raise Refused(
            f"The DMS has no repair order {number}.",
            "Check the number on the DMS's RO; it must be an RO that already exists there.",
        )
    shown = ro.ro_number or number
    other = workfile_linking(location, ro.dms_id[:64])
    if other is not None and other.id != workfile.id:
        raise Refused(
            f"Workfile {other.number} is already linked to RO {shown}.",
            f"Open {other.number} from Repair orders instead.",
        )
    if workfile.dms_ro_id == ro.dms_id[:64]:
        raise Refused(f"This workfile is already linked to RO {shown}.")
    notes = _apply_ro(workfile, location, ro, user_id, f"looked up by RO number {number}")
    return workfile.dms_repair_id or number, notes
