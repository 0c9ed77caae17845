"""The search page and add-from-DMS flow, shared by Customers and Assets.

The routes in :mod:`webapp.customers.routes` and :mod:`webapp.assets.routes` declare
the permissions and call these with their data type ("customers" or "vehicles").
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_login import current_user

from webapp.domain.last_synced import BAND_FILTERS
from webapp.extensions import db
from webapp.models import DmsRecord, utcnow
from webapp.record_kinds import PORTAL_KINDS
from webapp.rendering import render, wants_fragment
from webapp.scoping import current_location_or_404, scoped
from webapp.search import adding, engine, live
from webapp.search.web import SORT_CHOICES, DmsRow, request_args, with_events


def search_context(data_type: str, args: dict[str, Any]) -> dict[str, Any]:
    """Everything the search page shows for ``args`` (q, tab, page, sort, live, band)."""
    kind = PORTAL_KINDS[data_type]
    location = current_location_or_404()
    model = kind.model
    sort = args["sort"] if args["sort"] in dict(SORT_CHOICES[data_type]) else kind.default_sort
    context: dict[str, Any] = {
        **args,
        "sort": sort,
        "sorts": SORT_CHOICES[data_type],
        "location": location,
        "is_fragment": wants_fragment(),
        "results": None,
        "dms_rows": [],
        "live_result": None,
        "add_panel": None,
        "band": args.get("band", ""),
        "bands": BAND_FILTERS,
        "band_counts": None,
    }
    if args["tab"] == "portal":
        now = utcnow()  # one moment for the filter and its counts
        total = None
        if not args["q"].strip():  # a listing: the counts describe it. A search (each keystroke) skips them:
            # they count the whole location, would not describe the matches, and cost a scan per keystroke.
            counts = engine.band_counts(db.session, scoped(model), model.last_synced_at, now, location.timezone)
            context["band_counts"] = counts
            total = counts.get(context["band"], counts["all"])  # the listing's own count: no second scan
        context["results"] = getattr(engine, kind.portal_search)(
            db.session,
            scoped(model),
            location.id,
            args["q"],
            page=args["page"],
            sort=sort,
            band=context["band"],
            now=now,
            tz_name=location.timezone,
            total=total,
        )
        return context
    mirror = engine.search_mirror(db.session, scoped(DmsRecord), location.id, data_type, args["q"], page=args["page"])
    rows = [DmsRow(r.dms_id, dict(r.payload or {})) for r in mirror.rows]
    live_result = None
    if args["q"].strip() and (args["live"] or mirror.total == 0):
        live_result = live.lookup(location, data_type, args["q"])
        # Live values replace the mirror's (older) copy on screen, and refresh the mirror.
        rows = live.merge_rows(rows, live_result, DmsRow)
        live.refresh_mirror(db.session, location, data_type, live_result.records)
    linked = engine.portal_ids_by_dms_id(db.session, scoped(model), model, [row.dms_id for row in rows])
    for row in rows:
        row.portal_id = linked.get(row.dms_id)
    context.update(results=mirror, dms_rows=rows, live_result=live_result)
    return context


def search_page(data_type: str):
    """GET the search page, or only its results block for a live-search request."""
    context = search_context(data_type, request_args())
    return render(PORTAL_KINDS[data_type].template, block="results", **context)


def _panel(data_type: str, status: int = 200, **panel: Any):
    """Answer an add-from-DMS POST: the panel alone (htmx) or the whole page around it."""
    args = {"q": request.form.get("q", "")[:10_000], "tab": "dms", "page": 1, "sort": "", "live": False, "band": ""}
    if wants_fragment():
        context = {"add_panel": panel, "is_fragment": True, **args}
        return render(PORTAL_KINDS[data_type].template, block="add_panel", status=status, **context)
    context = search_context(data_type, args)
    context["add_panel"] = panel
    return render(PORTAL_KINDS[data_type].template, status=status, **context)


def add_from_dms(data_type: str):
    """POST: add a DMS-only record to the portal (after a duplicate check unless confirmed)."""
    kind = PORTAL_KINDS[data_type]
    location = current_location_or_404()
    model = kind.model
    dms_id = request.form.get("dms_id", "").strip()[:64]
    if not dms_id:
        return _panel(data_type, 422, state="error", message="Choose a DMS record to add.")
    already = adding.existing(db.session, scoped(model), data_type, dms_id)
    if already is not None:
        return _panel(data_type, 200, state="exists", record=already, message="This record is already in the portal.")
    payload, failure = adding.dms_payload(db.session, scoped(DmsRecord), location, data_type, dms_id)
    if failure is not None and payload is None:
        return _panel(data_type, 422, state="error", message=failure.error, fix_hint=failure.fix_hint)
    from_copy = failure is not None  # the DMS could not be asked: the mirror's copy, maybe stale
    if payload is None:
        return _panel(
            data_type,
            422,
            state="error",
            message=f"The DMS has no record {dms_id} any more; it may have been deleted or merged there.",
        )
    row = DmsRow(dms_id, payload)
    if request.form.get("confirm") != "1":
        duplicates = getattr(adding, kind.duplicates)(db.session, scoped(model), location.id, payload)
        if duplicates:
            return _panel(data_type, 200, state="duplicates", row=row, duplicates=duplicates)
    record, created = adding.add_from_dms(
        db.session, scoped(model), location, data_type, payload, current_user.id, synced=not from_copy
    )
    label = kind.label_of(record)
    detail_url = kind.detail_url(record)
    message = f"{label} added to the portal from the DMS." if created else f"{label} is already in the portal."
    if created and from_copy:
        message = (
            f"{label} added to the portal from the last copy pulled from the DMS ({failure.error}). "
            "It may be out of date and is not marked as synced: use Sync with DMS once the DMS answers."
        )
    if not wants_fragment():
        flash(message, "warning" if from_copy else "success")
        return redirect(detail_url, code=303)
    response = _panel(
        data_type, 200, state="added", record=record, message=message, detail_url=detail_url, from_copy=from_copy
    )
    return with_events(response, message, "warning" if from_copy else "success", refresh=True)
