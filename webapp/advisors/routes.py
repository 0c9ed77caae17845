"""Advisors' DMS ids: list with duplicates and missing ids highlighted; editing one re-checks
the appointments whose push failed because of it (and re-queues those that now pass)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from webapp.advisors.forms import AdvisorDmsIdForm, DmsRulesForm
from webapp.appointments import service as appointment_service
from webapp.extensions import db
from webapp.models import Appointment, Location, OutboxMessage, OutboxStatus, User
from webapp.outbox import retry_message
from webapp.permissions import Permission, require
from webapp.rendering import render
from webapp.scoping import current_location_or_404, scoped

bp = Blueprint("advisors", __name__)

ADVISOR_SUFFIXES = ("ADVISOR-INVALID", "ADVISOR-MISSING")


def _advisor_or_404(advisor_id: int) -> User:
    """An advisor (or manager) of the current location; anyone else answers 404."""
    location = current_location_or_404()
    user = db.session.get(User, advisor_id)
    if user is None or user.location_id != location.id or user.role not in appointment_service.ADVISOR_ROLES:
        abort(404)
    return user


def _page(status: int = 200, errors: dict | None = None):
    location = current_location_or_404()
    people = appointment_service.advisors(location)
    shared = appointment_service.shared_advisor_ids(location)
    failed = {}
    for message in db.session.scalars(scoped(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)):
        if (message.error_code or "").split("-", 1)[-1] in ADVISOR_SUFFIXES and message.advisor_id:
            failed[message.advisor_id] = failed.get(message.advisor_id, 0) + 1
    rules = DmsRulesForm(formdata=None, data=dict(location.dms_options or {}))
    return render(
        "advisors/index.html",
        status=status,
        location=location,
        people=people,
        shared=shared,
        failed=failed,
        errors=errors or {},
        rules_form=rules,
        edit_form=AdvisorDmsIdForm(formdata=None),
    )


@bp.route("/")
@require(Permission.MANAGE_LOCATION_SETTINGS)
def index():
    """Advisors and their DMS employee ids."""
    return _page()


def recheck_failed(location: Location, advisor: User) -> tuple[int, int]:
    """Re-run pre-flight on the advisor's appointment pushes refused for an advisor reason.

    Returns (re-queued, still failing). Those that pass now are retried at once.
    """
    requeued = still = 0
    messages = db.session.scalars(
        scoped(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.FAILED,
            OutboxMessage.advisor_id == advisor.id,
            OutboxMessage.target_type == "appointment",
        )
    )
    for message in list(messages):
        if (message.error_code or "").split("-", 1)[-1] not in ADVISOR_SUFFIXES:
            continue
        appointment = db.session.get(Appointment, message.target_id)
        if appointment is None or appointment_service.preflight_appointment(appointment):
            still += 1
            continue
        retry_message(db.session, message, current_user.id)
        requeued += 1
    return requeued, still


@bp.route("/<int:advisor_id>", methods=["POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def edit(advisor_id: int):
    """Save an advisor's DMS id, then re-check the appointments that failed because of it."""
    advisor = _advisor_or_404(advisor_id)
    location = current_location_or_404()
    form = AdvisorDmsIdForm()
    if not form.validate_on_submit():
        return _page(status=422, errors={advisor.id: " ".join(form.advisor_dms_id.errors) or "Invalid."})
    advisor.advisor_dms_id = form.advisor_dms_id.data or None
    db.session.flush()
    requeued, still = recheck_failed(location, advisor)
    db.session.commit()
    message = f"{advisor.name}'s DMS ID is now {advisor.advisor_dms_id or 'empty'}."
    if requeued:
        message += f" {requeued} failed appointment push{'es' if requeued != 1 else ''} queued again."
    if still:
        message += f" {still} still would not pass the checks."
    shared = appointment_service.shared_advisor_ids(location)
    if advisor.advisor_dms_id and advisor.advisor_dms_id.upper() in shared:
        flash(message + " Warning: another user has the same DMS ID.", "warning")
    else:
        flash(message, "success")
    return redirect(url_for("advisors.index"), code=303)


@bp.route("/dms-rules", methods=["POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def dms_rules():
    """Save how the DMS is set up (CDK requires address / e-mail with appointments)."""
    location = current_location_or_404()
    form = DmsRulesForm()
    if form.validate_on_submit():
        location.dms_options = {
            **(location.dms_options or {}),
            "require_address": bool(form.require_address.data),
            "require_email": bool(form.require_email.data),
        }
        db.session.commit()
        flash("DMS appointment rules saved: new appointments are checked against them.", "success")
    return redirect(url_for("advisors.index"), code=303)
