"""Case pages: the All / My / Watching tables, case details, and the actions on a case.

Field Managers (``VIEW_CASES`` without ``EDIT_CASES``) read cases across the locations they
cover and cannot change anything; every state-changing route needs ``EDIT_CASES``.
Related RO numbers are fetched by a job (:mod:`jobs.cases`); the page polls a small
fragment until the job is done.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.redirects import safe_next
from webapp.cases.forms import CaseEditForm, NewCaseForm
from webapp.cases.queries import (
    VIEWS,
    case_table,
    chosen_columns,
    load_case,
    reads_across,
    related_links,
    save_columns,
)
from webapp.extensions import db
from webapp.models import (
    Asset,
    Case,
    CaseStatus,
    DmsRecord,
    Location,
    LookupTrigger,
    RelatedLookupStatus,
    Role,
    User,
    utcnow,
)
from webapp.models.case import CASE_COLUMNS
from webapp.permissions import Permission, can, require
from webapp.rendering import render, wants_fragment
from webapp.scoping import current_location_or_404, get_or_404, scoped
from webapp.services.related_ros import related_ro_active, request_related_lookup

bp = Blueprint("cases", __name__)


# ----------------------------------------------------------------------------- helpers
def _int_arg(name: str, default: int = 1) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def _assignee_choices(location: Location) -> list[tuple[str, str]]:
    """Staff of ``location`` who can work cases (plus 'Unassigned')."""
    users = db.session.scalars(
        select(User)
        .where(
            User.location_id == location.id,
            User.active.is_(True),
            User.role.in_((Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR)),
        )
        .order_by(User.name)
    )
    return [("", "Unassigned")] + [(str(u.id), u.name) for u in users]


def _assignee(value: str | None, location: Location) -> int | None:
    """The chosen assignee id, only if it is one of the offered staff."""
    allowed = {key for key, _ in _assignee_choices(location) if key}
    return int(value) if value and value in allowed else None


def ro_summary(case: Case) -> dict | None:
    """What the DMS mirror knows of the case's RO (status, dates, lines): the export summary."""
    if not case.ro_number:
        return None
    record = db.session.scalar(
        scoped(DmsRecord, across=True).where(
            DmsRecord.location_id == case.location_id,
            DmsRecord.data_type == "repair_orders",
            DmsRecord.ro_number == case.ro_number,
        )
    )
    if record is None:
        return None
    payload = record.payload or {}
    return {
        "status": str(payload.get("status") or "—"),
        "opened_at": payload.get("opened_at"),
        "closed_at": payload.get("closed_at"),
        "lines": len(payload.get("lines") or []),
        "alternate_of": payload.get("alternate_of"),
    }


def export_summary(case: Case) -> dict:
    """What exporting sends to the DMS side: the case and its RO summary (kept on the case)."""
    asset = case.asset
    return {
        "case_number": case.number,
        "ro_number": case.ro_number,
        "asset": {
            "description": asset.description,
            "vin": asset.vin,
            "unit_number": asset.unit_number,
            "dms_id": asset.dms_id,
        }
        if asset
        else None,
        "customer": {"name": case.customer.display_name, "dms_id": case.customer.dms_id} if case.customer else None,
        "complaint": case.complaint,
        "ro": ro_summary(case),
        "exported_at": case.exported_at.isoformat() if case.exported_at else None,
    }


def _back_to(case: Case):
    """Where a plain (non-htmx) form post on a case returns."""
    return redirect(safe_next(request.form.get("next"), url_for("cases.detail", case_id=case.id)), code=303)


def _related_context(case: Case) -> dict:
    location = db.session.get(Location, case.location_id)
    return {
        "case": case,
        "links": related_links([case]),
        "feature_on": related_ro_active(location),
        "may_edit": can(current_user, Permission.EDIT_CASES),
    }


# ----------------------------------------------------------------------------- tables
@bp.route("")
@require(Permission.VIEW_CASES)
def index():
    """All / My / Watching Cases with search, sort, paging and the chosen columns."""
    across = reads_across()
    location = None if across else current_location_or_404()
    view = request.args.get("view", "all")
    if view not in VIEWS or (across and view != "all"):
        view = "all"
    text = request.args.get("q", "").strip()
    sort = request.args.get("sort", "number")
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    result = case_table(view, text, sort, direction, _int_arg("page"))
    columns = chosen_columns(current_user)
    if text and "related_ros" not in columns:
        # Search results always show related RO numbers: a case may be found by one of them.
        columns = ["related_ros"] + columns
    return render(
        "cases/index.html",
        block="results",
        view=view,
        views=VIEWS,
        q=text,
        sort=sort,
        direction=direction,
        result=result,
        columns=columns,
        all_columns=CASE_COLUMNS,
        saved_columns=chosen_columns(current_user),
        links=related_links(result.cases),
        across=across,
        location=location,
    )


@bp.route("/columns", methods=["POST"])
@require(Permission.VIEW_CASES)
def columns():
    """Remember which columns the user wants in the case tables (a personal preference,
    so Field Managers may choose theirs too)."""
    save_columns(current_user, request.form.getlist("columns"))
    flash("Columns saved.", "success")
    view = request.form.get("view", "all")
    return redirect(url_for("cases.index", view=view if view in VIEWS else "all"), code=303)


# ----------------------------------------------------------------------------- new case
@bp.route("/new", methods=["GET", "POST"])
@require(Permission.EDIT_CASES)
def new():
    """Open a case for an RO: the asset comes from the page that linked here or from the RO's vehicle."""
    location = current_location_or_404()
    form = NewCaseForm()
    form.assigned_to_id.choices = _assignee_choices(location)
    if request.method == "GET":
        form.asset_id.data = request.args.get("asset_id", "")
        form.assigned_to_id.data = str(current_user.id)
    asset = None
    if form.asset_id.data and str(form.asset_id.data).isdigit():
        asset = get_or_404(Asset, int(form.asset_id.data))
    if form.validate_on_submit():
        ro_number = form.ro_number.data.strip()
        if asset is None:
            asset = _asset_of_ro(ro_number)
        if asset is None:
            form.ro_number.errors.append(
                "No vehicle here matches this RO. Open the asset and start the case from its page, "
                "or add the vehicle from the DMS first."
            )
        else:
            case = Case(
                location_id=location.id,
                asset_id=asset.id,
                customer_id=asset.customer_id,
                ro_number=ro_number,
                complaint=form.complaint.data or None,
                assigned_to_id=_assignee(form.assigned_to_id.data, location),
            )
            case.watchers.append(db.session.get(User, current_user.id))
            db.session.add(case)
            db.session.commit()
            flash(f"Case {case.number} opened.", "success")
            return redirect(url_for("cases.detail", case_id=case.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render("cases/new.html", block="form", form=form, asset=asset, location=location, status=status)


def _asset_of_ro(ro_number: str) -> Asset | None:
    """The portal asset whose DMS id is the RO's vehicle in the mirror, if any."""
    record = db.session.scalar(
        scoped(DmsRecord).where(DmsRecord.data_type == "repair_orders", DmsRecord.ro_number == ro_number)
    )
    vehicle_id = (record.payload or {}).get("vehicle_dms_id") if record else None
    if not vehicle_id:
        return None
    return db.session.scalar(scoped(Asset).where(Asset.dms_id == str(vehicle_id)))


# ----------------------------------------------------------------------------- details
@bp.route("/<int:case_id>")
@require(Permission.VIEW_CASES)
def detail(case_id: int):
    """Case Information and Additional Info (read-only for Field Managers)."""
    case = load_case(case_id)
    may_edit = can(current_user, Permission.EDIT_CASES)
    form = None
    location = db.session.get(Location, case.location_id)
    if may_edit:
        form = CaseEditForm(
            data={"assigned_to_id": str(case.assigned_to_id or ""), "complaint": case.complaint, "notes": case.notes}
        )
        form.assigned_to_id.choices = _assignee_choices(location)
    return render(
        "cases/detail.html",
        case=case,
        form=form,
        location=location,
        summary=ro_summary(case),
        watching=case.is_watched_by(current_user),
        **{k: v for k, v in _related_context(case).items() if k != "case"},
    )


@bp.route("/<int:case_id>/edit", methods=["POST"])
@require(Permission.EDIT_CASES)
def update(case_id: int):
    """Save assignment, complaint and notes."""
    case = load_case(case_id)
    location = db.session.get(Location, case.location_id)
    form = CaseEditForm()
    form.assigned_to_id.choices = _assignee_choices(location)
    if not form.validate_on_submit():
        return render(
            "cases/detail.html",
            status=422,
            case=case,
            form=form,
            location=location,
            summary=ro_summary(case),
            watching=case.is_watched_by(current_user),
            **{k: v for k, v in _related_context(case).items() if k != "case"},
        )
    case.assigned_to_id = _assignee(form.assigned_to_id.data, location)
    case.complaint = form.complaint.data or None
    case.notes = form.notes.data or None
    case.touch()
    db.session.commit()
    flash("Case saved.", "success")
    return redirect(url_for("cases.detail", case_id=case.id), code=303)


@bp.route("/<int:case_id>/export", methods=["POST"])
@require(Permission.EDIT_CASES)
def export(case_id: int):
    """Export the case to the DMS side (its RO summary) and fetch its related RO numbers."""
    case = load_case(case_id)
    case.exported_at = utcnow()
    case.exported_by_id = current_user.id
    case.export_summary = export_summary(case)
    case.touch()
    db.session.commit()
    sent = (
        f"with the RO {case.ro_number} summary"
        if case.export_summary.get("ro")
        else "without an RO summary (the RO is not in the DMS mirror yet)"
    )
    if request_related_lookup(case, LookupTrigger.EXPORT):
        flash(f"Case {case.number} exported {sent}. Checking the DMS for related RO numbers…", "success")
    else:
        flash(f"Case {case.number} exported {sent}.", "success")
    return _back_to(case)


@bp.route("/<int:case_id>/close", methods=["POST"])
@require(Permission.EDIT_CASES)
def close(case_id: int):
    """Close the case by hand; its related RO numbers are fetched again."""
    case = load_case(case_id)
    if case.status == CaseStatus.CLOSED:
        flash(f"Case {case.number} was already closed.", "info")
        return _back_to(case)
    case.status = CaseStatus.CLOSED
    case.closed_at = utcnow()
    case.closed_by_id = current_user.id
    case.closed_automatically = False
    case.touch()
    db.session.commit()
    if request_related_lookup(case, LookupTrigger.CLOSE):
        flash(f"Case {case.number} closed. Checking the DMS for related RO numbers…", "success")
    else:
        flash(f"Case {case.number} closed.", "success")
    return _back_to(case)


# ----------------------------------------------------------------------------- related ROs
@bp.route("/<int:case_id>/related-ros")
@require(Permission.VIEW_CASES)
def related_ros(case_id: int):
    """The related-RO status fragment (polled while the lookup runs)."""
    case = load_case(case_id)
    return render_template("cases/_related_ros.html", **_related_context(case))


@bp.route("/<int:case_id>/related-ros/retry", methods=["POST"])
@require(Permission.EDIT_CASES)
def retry_related_ros(case_id: int):
    """Run the related-RO lookup again (after a failure, or to refresh)."""
    case = load_case(case_id)
    if (
        not request_related_lookup(case, LookupTrigger.RETRY)
        and case.related_lookup_status == RelatedLookupStatus.PENDING
    ):
        case.related_lookup_status = RelatedLookupStatus.NOT_REQUESTED  # the feature was switched off meanwhile
        db.session.commit()
    if wants_fragment():
        return render_template("cases/_related_ros.html", **_related_context(case))
    return _back_to(case)


# ----------------------------------------------------------------------------- watching
def _watch_response(case: Case):
    if wants_fragment():
        return render_template(
            "cases/_watch_button.html",
            case=case,
            watching=case.is_watched_by(current_user),
            compact=request.form.get("compact") == "1",
        )
    return _back_to(case)


@bp.route("/<int:case_id>/watch", methods=["POST"])
@require(Permission.EDIT_CASES)
def watch(case_id: int):
    """Follow the case (it appears under Watching Cases)."""
    case = load_case(case_id)
    if not case.is_watched_by(current_user):
        case.watchers.append(db.session.get(User, current_user.id))
        db.session.commit()
    return _watch_response(case)


@bp.route("/<int:case_id>/unwatch", methods=["POST"])
@require(Permission.EDIT_CASES)
def unwatch(case_id: int):
    """Stop following the case."""
    case = load_case(case_id)
    case.watchers = [w for w in case.watchers if w.id != current_user.id]
    db.session.commit()
    return _watch_response(case)
