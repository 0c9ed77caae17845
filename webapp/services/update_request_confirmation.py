""" "Confirmed by DMS": a pull brought the values a request asked for.

The pull job calls :func:`confirm_from_mirror` after writing each page of customers to
the DMS mirror, inside the page's transaction (this function never commits). Approved
requests whose values the DMS now carries become *confirmed by DMS*; still-pending ones
are closed automatically, since the DMS brought the values anyway, and say so.

A request is never closed on data the customer record does not have: in "Review
differences" mode the pull leaves linked records alone, so confirming applies the
requested values to the customer here (as the requester typed them, each with a Change
History entry "confirmed by the DMS, request #N"), in the same transaction. When the
customer cannot take them, the request stays open with a note saying why.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.fields import differing_fields
from webapp.domain.times import format_local
from webapp.domain.update_request_fields import differs, dms_has, label, ordered_attrs
from webapp.models import ChangeSource, Customer, DmsRecord, Location, SyncMode, utcnow
from webapp.models.base import one_of
from webapp.models.change_history import record_change
from webapp.models.notification import NotificationKind
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.services.notifications import notify

#: What a value the DMS confirmed says in Change History (``context["source_detail"]``, shown as its source).
CONFIRMED_REASON = "confirmed by the DMS, request #{id}"


def confirm_from_mirror(session: Session, location_id: int, customer_dms_ids: Iterable[str]) -> list[int]:
    """Confirm or close the open requests of these customers whose values the mirror now shows.

    Values are compared normalised (E.164 phones, e-mail case, accents and case of names).
    Returns the ids of the requests it changed. Idempotent: a confirmed request is left alone.
    """
    dms_ids = sorted({str(dms_id) for dms_id in customer_dms_ids if dms_id})
    if not dms_ids:
        return []
    rows = session.execute(
        select(UpdateRequest, Customer.dms_id)
        .join(Customer, Customer.id == UpdateRequest.customer_id)
        .where(
            UpdateRequest.location_id == location_id,
            Customer.location_id == location_id,
            one_of(session, Customer.dms_id, dms_ids),
            UpdateRequest.status.in_([UpdateRequestStatus.PENDING, UpdateRequestStatus.APPROVED]),
        )
        .order_by(UpdateRequest.id)
    ).all()
    if not rows:
        return []
    mirror = {
        record.dms_id: record
        for record in session.scalars(
            select(DmsRecord).where(
                DmsRecord.location_id == location_id,
                DmsRecord.data_type == "customers",
                DmsRecord.dms_id.in_({dms_id for _, dms_id in rows}),
                DmsRecord.deleted_at.is_(None),
            )
        )
    }
    changed: list[int] = []
    now = utcnow()
    # Written into the request's text: in the location's time, as every screen shows times.
    location = session.get(Location, location_id)
    when = format_local(now, location, with_zone=True)
    automatic = location.sync_mode == SyncMode.AUTOMATIC
    for update_request, dms_id in rows:
        record = mirror.get(dms_id)
        if record is None or not _carries(update_request, record.payload or {}):
            continue
        customer = _customer_of(session, update_request, location_id, dms_id)
        if customer is None:
            note = (
                f"The DMS pull of {when} brought the requested values, but the customer record is no longer "
                f"linked to DMS customer {dms_id}, so they could not be applied. The request stays open."
            )
            if update_request.closed_reason != note:
                update_request.closed_reason = note
                changed.append(update_request.id)
            continue
        updated = _apply(update_request, customer)
        if updated and not automatic:  # the differences the sync wizard shows, now that the customer has them
            record.drift_fields = differing_fields("customers", customer, record.payload or {}) or None
        applied = (
            f" {', '.join(updated)} updated on the customer record."
            if updated
            else " The customer record already had them."
        )
        if update_request.status is UpdateRequestStatus.APPROVED:
            update_request.status = UpdateRequestStatus.CONFIRMED
            update_request.closed_reason = f"The DMS pull of {when} brought the approved values.{applied}"
        else:
            update_request.status = UpdateRequestStatus.CLOSED_BY_DMS
            update_request.closed_reason = (
                f"Closed automatically: the DMS pull of {when} already brought the "
                f"requested values, so no review was needed.{applied}"
            )
        update_request.confirmed_at = now
        notify(session, update_request, NotificationKind.CONFIRMED, _confirmed_text(update_request, customer, when))
        changed.append(update_request.id)
    return changed


def _confirmed_text(update_request: UpdateRequest, customer: Customer, when: str) -> str:
    """What the requester is told when the DMS confirmed (or closed) their request."""
    if update_request.status is UpdateRequestStatus.CONFIRMED:
        return (
            f"Your update request #{update_request.id} for {customer.display_name} was confirmed by the DMS: "
            f"the pull of {when} brought the approved values."
        )
    return (
        f"Your update request #{update_request.id} for {customer.display_name} was closed automatically: "
        f"the DMS pull of {when} already brought the requested values, so no review was needed."
    )


def _customer_of(session: Session, update_request: UpdateRequest, location_id: int, dms_id: str) -> Customer | None:
    """The request's customer, if it still exists and is still linked to the DMS record that confirmed it."""
    customer = session.get(Customer, update_request.customer_id)
    if customer is None or customer.location_id != location_id or customer.dms_id != dms_id:
        return None
    return customer


def _apply(update_request: UpdateRequest, customer: Customer) -> list[str]:
    """Write the requested values (as the requester typed them) onto the customer where they differ,
    each with a Change History entry naming the request. Returns the labels of the fields changed.
    The DMS matched them folded ('SMITH' confirms 'Smith'); the customer gets what was requested."""
    requested = update_request.requested_values
    context = {"update_request_id": update_request.id, "source_detail": CONFIRMED_REASON.format(id=update_request.id)}
    updated = []
    for attr in ordered_attrs(requested):
        old, new = getattr(customer, attr), requested[attr]
        if not differs(attr, old, new):
            continue
        setattr(customer, attr, new)
        record_change(record=customer, field=attr, old=old, new=new, source=ChangeSource.DMS, context=context)
        updated.append(label(attr))
    return updated


def _carries(update_request: UpdateRequest, payload: dict) -> bool:
    """True when the DMS record carries every requested value."""
    attrs = ordered_attrs(update_request.requested_values)
    return bool(attrs) and all(dms_has(attr, update_request.requested_values[attr], payload) for attr in attrs)
