""""Confirmed by DMS": a pull brought the values a request asked for.

The pull job calls :func:`confirm_from_mirror` after writing each page of customers to
the DMS mirror, inside the page's transaction (this function never commits). Approved
requests whose values the DMS now carries become *confirmed by DMS*; still-pending ones
are closed automatically, since the DMS brought the values anyway, and say so.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import Customer, DmsRecord, Location, utcnow
from webapp.models.base import one_of
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.template_filters import format_local
from webapp.update_requests.fields import dms_has, ordered_attrs


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
    when = format_local(now, session.get(Location, location_id), with_zone=True)
    for update_request, dms_id in rows:
        record = mirror.get(dms_id)
        if record is None or not _carries(update_request, record.payload or {}):
            continue
        if update_request.status is UpdateRequestStatus.APPROVED:
            update_request.status = UpdateRequestStatus.CONFIRMED
            update_request.closed_reason = f"The DMS pull of {when} brought the approved values."
        else:
            update_request.status = UpdateRequestStatus.CLOSED_BY_DMS
            update_request.closed_reason = (f"Closed automatically: the DMS pull of {when} already brought the "
                                            "requested values, so no review was needed.")
        update_request.confirmed_at = now
        changed.append(update_request.id)
    return changed


def _carries(update_request: UpdateRequest, payload: dict) -> bool:
    """True when the DMS record carries every requested value."""
    attrs = ordered_attrs(update_request.requested_values)
    return bool(attrs) and all(dms_has(attr, update_request.requested_values[attr], payload) for attr in attrs)
