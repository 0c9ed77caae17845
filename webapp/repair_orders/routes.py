"""Repair-order pages: the list (DMS ROs and console workfiles) and a pulled RO's page.

Everyone with ``VIEW_RECORDS`` reads; the page of an open pulled RO offers DMS Activity
(a POST to ``dms_activity.start_from_dms_ro``) to those with ``SYNC_RECORDS``. Every read
goes through :mod:`webapp.scoping`: another location's RO is a 404.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from webapp.models import Location, User
from webapp.permissions import Permission, can, require
from webapp.rendering import render
from webapp.repair_orders import queries
from webapp.scoping import current_location_or_404
from webapp.search.web import customer_name

bp = Blueprint("repair_orders", __name__)


@bp.record_once
def _declare_indexes(state) -> None:
    """The lists' PostgreSQL indexes belong to the models only where the migration creates them."""
    queries.declare_indexes(state.app.config["SQLALCHEMY_DATABASE_URI"])


MAX_SEARCH = 100


def _read_filters(location: Location, people: list[User]) -> tuple[queries.Filters, dict[str, str]]:
    """The list's filters from the query string, and a message per field that was not understood."""
    advisor, brand, errors = queries.advisor_and_brand(location, request.args, people)
    filters = queries.Filters(advisor=advisor, brand=brand)
    status = request.args.get("status", "").strip()
    if status:
        if status in dict(queries.STATUSES):
            filters.status = status
        else:
            errors["status"] = "Choose one of the listed statuses."
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
    people = advisors(location)
    filters, errors = _read_filters(location, people)
    after = queries.PageKey.decode(request.args.get("after"))
    result = queries.page(location, filters, after, people=people)
    return render(
        "repair_orders/index.html",
        block="results",
        status=422 if errors else 200,
        location=location,
        page=result,
        filters=filters,
        errors=errors,
        after=after,
        statuses=queries.STATUSES,
        advisor_choices=people,
        brands=location.brands or [],
        may_fix_advisors=can(current_user, Permission.MANAGE_LOCATION_SETTINGS),
        args={k: v for k, v in request.args.items() if k in ("status", "advisor_id", "brand", "q") and v},
    )


@bp.route("/dms/<dms_id>")
@require(Permission.VIEW_RECORDS)
def dms_detail(dms_id: str):
    """A repair order pulled from the DMS: lines, totals by pay type, customer and vehicle."""
    from webapp.dms_activity.service import profile_of

    location = current_location_or_404()
    record = queries.dms_repair_order_or_404(dms_id)
    ro = queries.parse_ro(record)
    found = queries.related(location, [ro.customer_dms_id or ""], [ro.vehicle_dms_id or ""]) if ro else None
    row = queries.dms_row(record, ro, found, queries.advisor_names(location))
    may_start = (
        row.status == "open"
        and row.deleted_at is None
        and ro is not None
        and can(current_user, Permission.SYNC_RECORDS)
    )
    return render(
        "repair_orders/detail.html",
        location=location,
        record=record,
        ro=ro,
        row=row,
        customer=found.mirror_customers.get(ro.customer_dms_id or "") if found else None,
        vehicle=found.mirror_vehicles.get(ro.vehicle_dms_id or "") if found else None,
        profile=profile_of(location),
        may_start=may_start,
        start_url=url_for("dms_activity.start_from_dms_ro", dms_id=record.dms_id) if may_start else None,
        customer_name=customer_name,
    )
