"""Adding a DMS-only customer or vehicle to the portal, after a duplicate check.

The record is fetched live from the DMS first (the mirror's copy only when the DMS cannot
be reached). The new portal record is linked to its DMS id, takes the DMS values
(normalised), gets a Last Synced time (not when it came from the copy) and one Change
History row per copied field (source DMS, who added it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.domain.duplicates import Match, likely_duplicates, score_asset, score_customer
from webapp.domain.fields import portal_values
from webapp.domain.normalise import normalise_email, normalise_vin
from webapp.domain.search_tokens import ASSET, CUSTOMER, compact, name_words, phone_digits
from webapp.models import Asset, ChangeSource, Customer, DmsRecord, Location, utcnow
from webapp.models.change_history import record_change
from webapp.record_kinds import PORTAL_MODELS
from webapp.search import live
from webapp.search.engine import candidate_ids

DUPLICATE_CANDIDATES = 200


def dms_payload(
    session: Session, mirror: Select, location: Location, data_type: str, dms_id: str
) -> tuple[dict[str, Any] | None, live.LiveResult | None]:
    """The DMS record to add, asked of the DMS itself first: (payload, failure).

    * the DMS answered: ``(its record, None)``, or ``(None, None)`` when it no longer has it;
    * the DMS could not be reached and the mirror has a copy: ``(the copy, failure)``: usable,
      but possibly stale, so the caller says so and does not stamp Last Synced;
    * unreachable and no copy: ``(None, failure)``.
    """
    payload, failure = live.fetch(location, data_type, dms_id)
    if failure is None:
        return payload, None
    row = session.scalar(
        mirror.where(DmsRecord.data_type == data_type, DmsRecord.dms_id == dms_id, DmsRecord.deleted_at.is_(None))
    )
    return (dict(row.payload) if row is not None else None), failure


def duplicate_customers(session: Session, base: Select, location_id: int, payload: Mapping[str, Any]) -> list[Match]:
    """Portal customers that look like the DMS customer ``payload``, best first."""
    alternatives: list[tuple[str, ...]] = []
    for phone in payload.get("phones") or ():
        digits = phone_digits(phone)
        if digits and len(digits) >= 7:
            alternatives.append(("p" + digits[::-1],))
    for email in payload.get("emails") or ():
        address = normalise_email(email)
        if address:
            alternatives.append(("e" + address,))
    person = name_words(payload.get("first_name"), payload.get("last_name"))
    if person:
        alternatives.append(tuple("n" + w for w in person))
        if payload.get("last_name"):
            # Same last name and a first name starting alike ("Bob" / "Bobby", typos later on).
            first = name_words(payload.get("first_name"))
            last = name_words(payload.get("last_name"))
            if first and last:
                alternatives.append(("n" + first[0][:1], *("n" + w for w in last)))
    company = name_words(payload.get("company_name"))
    if company:
        alternatives.append(tuple("n" + w for w in company))
    ids = candidate_ids(session, CUSTOMER, location_id, alternatives, DUPLICATE_CANDIDATES)
    if not ids:
        return []
    candidates = session.scalars(base.where(Customer.id.in_(ids)))
    return likely_duplicates(score_customer(payload, c) for c in candidates if c.dms_id != payload.get("dms_id"))


def duplicate_assets(session: Session, base: Select, location_id: int, payload: Mapping[str, Any]) -> list[Match]:
    """Portal assets that look like the DMS vehicle ``payload``, best first."""
    alternatives: list[tuple[str, ...]] = []
    checked = normalise_vin(payload.get("vin"))
    if checked:
        alternatives.append(("v" + checked.vin,))
        if len(checked.vin) >= 8:
            alternatives.append(("r" + checked.vin[::-1][:8],))
    if compact(payload.get("unit_number")):
        alternatives.append(("u" + compact(payload.get("unit_number")),))
    if compact(payload.get("plate")):
        alternatives.append(("l" + compact(payload.get("plate")),))
    ids = candidate_ids(session, ASSET, location_id, alternatives, DUPLICATE_CANDIDATES)
    if not ids:
        return []
    candidates = session.scalars(base.where(Asset.id.in_(ids)))
    return likely_duplicates(score_asset(payload, a) for a in candidates if a.dms_id != payload.get("dms_id"))


def existing(session: Session, base: Select, data_type: str, dms_id: str) -> Any | None:
    """The portal record already linked to ``dms_id`` (``base`` = scoped select of the model)."""
    model = PORTAL_MODELS[data_type]
    return session.scalar(base.where(model.dms_id == dms_id))


def add_from_dms(
    session: Session,
    base: Select,
    location: Location,
    data_type: str,
    payload: Mapping[str, Any],
    user_id: int | None,
    synced: bool = True,
) -> tuple[Any, bool]:
    """Create the portal record of a DMS record; returns (record, created). Commits.

    ``synced``: False when ``payload`` is the mirror's copy (the DMS could not be asked):
    the record then gets no Last Synced time."""
    model = PORTAL_MODELS[data_type]
    dms_id = str(payload["dms_id"])
    found = existing(session, base, data_type, dms_id)
    if found is not None:
        return found, False
    values = {k: v for k, v in portal_values(data_type, payload).items() if v not in (None, "")}
    record = model(location_id=location.id, dms_id=dms_id, last_synced_at=utcnow() if synced else None, **values)
    if data_type == "vehicles" and payload.get("owner_dms_id"):
        owner = session.scalar(
            select(Customer.id).where(
                Customer.location_id == location.id, Customer.dms_id == str(payload["owner_dms_id"])
            )
        )
        record.customer_id = owner
    session.add(record)
    try:
        session.flush()
    except IntegrityError:  # someone added the same DMS record a moment ago
        session.rollback()
        return existing(session, base, data_type, dms_id), False
    context = {"added_from_dms": dms_id}
    record_change(
        record=record, field="dms_id", old=None, new=dms_id, source=ChangeSource.DMS, user_id=user_id, context=context
    )
    for attr in values:
        value = getattr(record, attr)  # as stored (normalised)
        if value not in (None, "", False):
            record_change(
                record=record,
                field=attr,
                old=None,
                new=value,
                source=ChangeSource.DMS,
                user_id=user_id,
                context=context,
            )
    if getattr(record, "customer_id", None):
        record_change(
            record=record,
            field="customer_id",
            old=None,
            new=record.customer_id,
            source=ChangeSource.DMS,
            user_id=user_id,
            context=context,
        )
    session.commit()
    return record, True
