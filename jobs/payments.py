"""Payment export through the outbox: the sending handler and what happens after delivery.

Receipts are queued by :func:`webapp.dms_activity.service.export_ready` as outbox messages
of kind ``payment.export`` with the receipt's own idempotency key; ``jobs.pushes.deliver_pushes``
delivers them (claim, backoff for transient failures, recovery of a killed worker) and maps the
kind to :func:`send_payment` (``jobs.pushes.HANDLERS``). What is particular to receipts:

* :func:`send_payment` sends one receipt. Right before sending it moves
  the receipt to Exporting with a conditional UPDATE that never matches a Void or Posted
  receipt, so a voided receipt is never sent (even if its message is retried from the
  Failed pushes page) and voiding cannot slip in while the DMS is being called. A receipt
  already Posted is not sent again.
* :func:`after_delivery` (an ``AFTER_DELIVERY_HOOKS`` entry) marks the receipt Posted
  (posted date, reference id) or Failed (reason and fix hint) in the same transaction as
  the message, writes the History row, and fills the workfile's DMS Customer/Vehicle ID
  when a "not listed - export as new" record was created.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from connectors import CatalogueEntry
from jobs.push_handlers import NotAccepted
from webapp.extensions import db
from webapp.models import Location, OutboxKind, OutboxMessage, OutboxStatus, Payment, PaymentStatus, Workfile, utcnow
from webapp.models.workfile import DmsEventKind, record_event

log = logging.getLogger(__name__)


def send_payment(dms, message: OutboxMessage, location: Location) -> str | None:
    """Post one receipt: payload ``{"ro_number", "amount", "method", "payer", "received_at"}``."""
    if message.target_type != Payment.__tablename__:
        return dms.export_payment(message.payload, message.idempotency_key).dms_id
    claimed = db.session.execute(
        update(Payment)
        .where(
            Payment.id == message.target_id,
            Payment.status.in_((PaymentStatus.READY, PaymentStatus.EXPORTING, PaymentStatus.FAILED)),
        )
        .values(status=PaymentStatus.EXPORTING, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()  # from here on the receipt cannot be voided until the result is recorded
    if not claimed:
        payment = db.session.get(Payment, message.target_id)
        if payment is not None and payment.status == PaymentStatus.POSTED:
            return payment.reference_id  # already in the DMS: never post it twice
        raise NotAccepted(
            CatalogueEntry(
                "RECEIPT-VOID", "The receipt was voided", "A void receipt is never exported. Dismiss this push."
            ),
            "receipt voided or deleted; nothing was sent",
        )
    return dms.export_payment(message.payload, message.idempotency_key).dms_id


def _payment_delivered(session, message: OutboxMessage) -> None:
    payment = session.get(Payment, message.target_id)
    if payment is None:
        return
    session.refresh(payment)
    workfile = payment.workfile
    if message.status == OutboxStatus.SENT:
        if payment.status == PaymentStatus.POSTED:
            return
        payment.status = PaymentStatus.POSTED
        payment.posted_at = message.sent_at or utcnow()
        payment.reference_id = message.dms_id
        payment.failure_reason = payment.failure_hint = None
        record_event(
            workfile,
            DmsEventKind.PAYMENT_POSTED,
            user_id=payment.exported_by_id,
            payment=payment,
            reference_id=message.dms_id,
        )
    elif message.status == OutboxStatus.FAILED and payment.status == PaymentStatus.EXPORTING:
        reason = message.error_title or "The DMS refused the receipt"
        if message.error_message and message.error_message not in reason:
            reason = f"{reason} ({message.error_message})"
        payment.status = PaymentStatus.FAILED
        payment.failure_reason = reason[:2000]
        payment.failure_hint = message.fix_hint
        record_event(
            workfile, DmsEventKind.PAYMENT_FAILED, user_id=payment.exported_by_id, payment=payment, detail=reason[:500]
        )


def _record_delivered(session, message: OutboxMessage) -> None:
    """A "not listed - export as new" customer or vehicle reached the DMS (or was refused)."""
    workfile_id = (message.payload or {}).get("workfile_id")
    if not workfile_id:
        return
    workfile = session.get(Workfile, workfile_id)
    if workfile is None or workfile.location_id != message.location_id:
        return
    is_customer = message.kind == OutboxKind.CUSTOMER_PUSH
    attr = "customer_export_message_id" if is_customer else "vehicle_export_message_id"
    if getattr(workfile, attr) != message.id:
        return  # a later choice replaced this export
    field = "dms_customer_id" if is_customer else "dms_vehicle_id"
    if message.status == OutboxStatus.SENT and message.dms_id:
        old = getattr(workfile, field)
        setattr(workfile, field, message.dms_id)
        setattr(workfile, attr, None)
        if is_customer:
            kind = DmsEventKind.CUSTOMER_ID_CHANGED if old else DmsEventKind.CUSTOMER_ID_ADDED
        else:
            kind = DmsEventKind.VEHICLE_ID_CHANGED if old else DmsEventKind.VEHICLE_ID_ADDED
        record_event(
            workfile,
            kind,
            user_id=message.created_by_id,
            reference_id=message.dms_id,
            detail="exported as a new record",
        )
    elif message.status == OutboxStatus.FAILED:
        kind = DmsEventKind.CUSTOMER_EXPORT_FAILED if is_customer else DmsEventKind.VEHICLE_EXPORT_FAILED
        record_event(
            workfile,
            kind,
            user_id=message.created_by_id,
            detail=f"{message.error_title or 'refused'}: {message.fix_hint or ''}"[:500],
        )


def after_delivery(session, message: OutboxMessage) -> None:
    """Reflect a sent or refused message on its receipt or workfile (same transaction)."""
    if message.kind == OutboxKind.PAYMENT_EXPORT and message.target_type == Payment.__tablename__:
        _payment_delivered(session, message)
    elif message.kind in (OutboxKind.CUSTOMER_PUSH, OutboxKind.VEHICLE_PUSH):
        _record_delivered(session, message)
