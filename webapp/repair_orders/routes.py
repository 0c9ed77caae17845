"""Repair-order pages: the list (DMS ROs and console workfiles) and a pulled RO's page.

Everyone with ``VIEW_RECORDS`` reads; the page of an open pulled RO offers DMS Activity
(a POST to ``dms_activity.start_from_dms_ro``) to those with ``SYNC_RECORDS``. Every read
goes through :mod:`webapp.scoping`: another location's RO is a 404.
"""
from __future__ import annotations

from flask import current_app, request, url_for
from flask_login import current_user

import connectors
from webapp.models import Location
from webapp.permissions import Permission, can, require
from webapp.rendering import render
from webapp.repair_orders import bp, queries
from webapp.scoping import current_location_or_404

MAX_SEARCH = 100
START_ENDPOINT = "dms_activity.start_from_dms_ro"


def _read_filters(location: Location) -> tuple[queries.Filters, dict[str, str]]:
    """The list's filters from the query string, and a message per field that was not understood."""
    from webapp.appointments.service import advisors

    errors: dict[str, str] = {}
    filters = queries.Filters()
    status = request.args.get("status", "").strip()
    if status:
        if status in dict(queries.STATUSES):
            filters.status = status
        else:
            errors["status"] = "Choose one of the listed statuses."
    advisor_id = request.args.get("advisor_id", "").strip()
    if advisor_id:
        chosen = next((u for u in advisors(location) if str(u.id) == advisor_id), None)
        if chosen is None:
            errors["advisor_id"] = f"Choose one of the advisors of {location.name}."
        else:
            filters.advisor = chosen
    brand = request.args.get("brand", "").strip()
    if brand:
        known = {b.lower(): b for b in (location.brands or [])}
        if brand.lower() in known:
            filters.brand = known[brand.lower()]
        else:
            errors["brand"] = f"Choose one of the brands of {location.name}."
    q = request.args.get("q", "").strip()
    if len(q) > MAX_SEARCH:
        errors["q"] = f"Type at most {MAX_SEARCH} characters."
    else:
        filters.q = q
    return filters, errors


@bp.route("/all")
@require(Permission.VIEW_RECORDS)
def index():
    """Every repair order of the location, newest first, filterable, paged by key."""
    from webapp.appointments.service import advisors

    location = current_location_or_404()
    filters, errors = _read_filters(location)
    after = queries.PageKey.decode(request.args.get("after"))
    result = queries.page(location, filters, after)
    return render("repair_orders/index.html", block="results", status=422 if errors else 200,
                  location=location, page=result, filters=filters, errors=errors, after=after,
                  statuses=queries.STATUSES, advisor_choices=advisors(location), brands=location.brands or [],
                  may_fix_advisors=can(current_user, Permission.MANAGE_LOCATION_SETTINGS),
                  args={k: v for k, v in request.args.items() if k in ("status", "advisor_id", "brand", "q") and v})


@bp.route("/dms/<dms_id>")
@require(Permission.VIEW_RECORDS)
def dms_detail(dms_id: str):
    """A repair order pulled from the DMS: lines, totals by pay type, customer and vehicle."""
    location = current_location_or_404()
    record = queries.dms_repair_order_or_404(dms_id)
    ro = queries.parse_ro(record)
    row = queries.RepairOrderRow(source=queries.DMS, record_id=record.id, opened_key="",
                                 number=record.ro_number or record.dms_id,
                                 status=str(record.payload.get("status") or "open"), deleted_at=record.deleted_at,
                                 unreadable=ro is None, dms_id=record.dms_id)
    found = None
    if ro is not None:
        found = queries.related(location, [ro.customer_dms_id or ""], [ro.vehicle_dms_id or ""])
        queries.fill_from_dms(row, ro, found, queries.advisor_names(location))
    profile = None
    if location.dms_vendor:
        try:
            profile = connectors.get_profile(location.dms_vendor)
        except KeyError:
            profile = None
    may_start = (row.status == "open" and row.deleted_at is None and ro is not None
                 and can(current_user, Permission.SYNC_RECORDS) and START_ENDPOINT in current_app.view_functions)
    return render("repair_orders/detail.html", location=location, record=record, ro=ro, row=row, found=found,
                  customer=found.mirror_customers.get(ro.customer_dms_id or "") if found else None,
                  vehicle=found.mirror_vehicles.get(ro.vehicle_dms_id or "") if found else None,
                  profile=profile, may_start=may_start,
                  start_url=url_for(START_ENDPOINT, dms_id=record.dms_id) if may_start else None,
                  customer_name=queries.customer_name, vehicle_label=queries.vehicle_label)

