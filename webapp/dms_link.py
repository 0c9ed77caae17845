"""Linking a portal customer or asset to a DMS record, changing that link, and unlinking it.

Used when the DMS no longer has the linked record ("Record not found in the DMS") or the
record was linked to the wrong one. The person searches the DMS itself (the live lookup of
:mod:`webapp.search.live`, the DMS tab's) and picks the record. Linking only sets ``dms_id``
(with a Change History row): the portal's values are left as they are and Last Synced is not
stamped, because they may differ from the DMS record; the page then offers Sync with DMS.
The routes in :mod:`webapp.customers.routes` and :mod:`webapp.assets.routes` declare the
permission and load the record through the scoping helper; these functions do the rest.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import ChangeSource, DmsRecord
from webapp.models.change_history import record_change
from webapp.record_kinds import PORTAL_KINDS
from webapp.rendering import render
from webapp.scoping import current_location_or_404, scoped
from webapp.search import adding, live
from webapp.search.web import DmsRow

TEMPLATE = "dms_link/link.html"
NOUNS = {"customers": "customer", "vehicles": "asset"}


def _linked_elsewhere(data_type: str, record: Any, dms_ids: list[str]) -> dict[str, Any]:
    """Other portal records of the location already linked to one of ``dms_ids``, by DMS id."""
    model = PORTAL_KINDS[data_type].model
    if not dms_ids:
        return {}
    rows = db.session.scalars(scoped(model).where(model.dms_id.in_(dms_ids), model.id != record.id))
    return {row.dms_id: row for row in rows}


def _page(
    data_type: str,
    record: Any,
    status: int = 200,
    error: str | None = None,
    fix_hint: str | None = None,
    taken: Any = None,
):
    """The link page: the record's current link, a DMS search box and, for a search, the DMS's answer."""
    kind = PORTAL_KINDS[data_type]
    location = current_location_or_404()
    q = (request.values.get("q") or "").strip()[:200]
    rows: list[DmsRow] = []
    live_result = None
    if q:
        live_result = live.lookup(location, data_type, q)
        rows = [DmsRow(str(p.get("dms_id")), dict(p)) for p in live_result.payloads if p.get("dms_id")]
    others = _linked_elsewhere(data_type, record, [row.dms_id for row in rows])
    return render(
        TEMPLATE,
        block="results",
        status=status,
        kind=kind,
        data_type=data_type,
        noun=NOUNS[data_type],
        record=record,
        label=kind.label_of(record),
        detail_url=kind.detail_url(record),
        location=location,
        q=q,
        rows=rows,
        live_result=live_result,
        others=others,
        other_url=kind.detail_url,
        error=error,
        fix_hint=fix_hint,
        taken=taken,
        search_url=url_for(f"{kind.blueprint}.dms_link", **{kind.id_arg: record.id}),
    )


def link_page(data_type: str, record: Any):
    """The link page: GET searches the DMS for the record to link, POST links the one picked."""
    if request.method == "POST":
        return link(data_type, record)
    return _page(data_type, record)


def link(data_type: str, record: Any):
    """POST: link ``record`` to the DMS record the person picked (``dms_id``)."""
    kind = PORTAL_KINDS[data_type]
    location = current_location_or_404()
    dms_id = (request.form.get("dms_id") or "").strip()[:64]
    if not dms_id:
        return _page(data_type, record, 422, error="Choose the DMS record to link.")
    label = kind.label_of(record)
    if dms_id == record.dms_id:
        flash(f"{label} is already linked to DMS record {dms_id}.", "info")
        return redirect(kind.detail_url(record), code=303)
    taken = _linked_elsewhere(data_type, record, [dms_id]).get(dms_id)
    if taken is not None:
        return _page(
            data_type,
            record,
            409,
            taken=taken,
            error=f"Not linked: DMS record {dms_id} is already linked to {kind.label_of(taken)} in the "
            f"portal. One DMS record belongs to one portal {NOUNS[data_type]}: unlink it there "
            "first, or pick another record.",
        )
    payload, failure = adding.dms_payload(db.session, scoped(DmsRecord), location, data_type, dms_id)
    if payload is None:
        if failure is not None:
            return _page(data_type, record, 422, error=f"Not linked: {failure.error}", fix_hint=failure.fix_hint)
        return _page(
            data_type,
            record,
            422,
            error=f"Not linked: the DMS has no record {dms_id}; it may have been deleted or merged there.",
        )
    old = record.dms_id
    record.dms_id = dms_id
    record.last_synced_at = None  # synced with another DMS record, if ever: not with this one yet
    record_change(
        record=record,
        field="dms_id",
        old=old,
        new=dms_id,
        source=ChangeSource.PORTAL,
        user_id=current_user.id,
        context={"action": "dms_link"},
    )
    try:
        db.session.commit()
    except IntegrityError:  # linked to another record meanwhile
        db.session.rollback()
        return _page(
            data_type,
            record,
            409,
            error=f"Not linked: DMS record {dms_id} was just linked to another portal {NOUNS[data_type]}.",
        )
    flash(
        f"{label} is now linked to DMS record {dms_id}. Its values were not changed and may differ from the "
        "DMS: use Sync with DMS to compare them.",
        "success",
    )
    return redirect(kind.detail_url(record), code=303)


def unlink(data_type: str, record: Any):
    """POST: clear the record's DMS link. The form names the DMS id it showed: a link changed
    meanwhile (or a post without it) is not cleared."""
    kind = PORTAL_KINDS[data_type]
    shown = (request.form.get("dms_id") or "").strip()[:64]
    label = kind.label_of(record)
    if not record.dms_id:
        flash(f"{label} is not linked to the DMS.", "info")
        return redirect(kind.detail_url(record), code=303)
    if shown != record.dms_id:
        flash(f"Not unlinked: {label} is linked to DMS record {record.dms_id} now. Check it and try again.", "error")
        return redirect(kind.detail_url(record), code=303)
    record.dms_id = None
    record.last_synced_at = None  # no DMS record to be in step with
    record_change(
        record=record,
        field="dms_id",
        old=shown,
        new=None,
        source=ChangeSource.PORTAL,
        user_id=current_user.id,
        context={"action": "dms_unlink"},
    )
    db.session.commit()
    flash(
        f"{label} is no longer linked to the DMS (it was DMS record {shown}). Link it again with Link to a DMS record.",
        "success",
    )
    return redirect(kind.detail_url(record), code=303)
