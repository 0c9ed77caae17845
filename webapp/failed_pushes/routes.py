"""The failed-push queue (``/integrations/failed``) and the count badge in the navigation.

Each refused push shows the vendor's error code, the catalogue's title and fix hint and a
link to the record to fix; Retry re-runs the pre-flight checks first (so an unfixed
appointment is not sent just to be refused again), Dismiss asks for a reason, which is
kept with who dismissed it in Change History. Retry of a customer or vehicle write-back the DMS
refused as stale (ETag conflict) does not resend the old version: it opens a new sync wizard
against the DMS's current record and ends the push as replaced by that comparison.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from webapp.appointments import service as appointment_service
from webapp.extensions import db
from webapp.failed_pushes.forms import DismissForm, RetryForm
from webapp.models import Appointment, Asset, Customer, OutboxKind, OutboxMessage, OutboxStatus, User
from webapp.outbox import dismiss_message, is_conflict, retry_message
from webapp.permissions import Permission, can, require
from webapp.rendering import render
from webapp.scoping import current_location, current_location_or_404, get_or_404, scoped
from webapp.sync_wizard import wizard as sync_steps
from webapp.template_filters import local_time

bp = Blueprint("failed_pushes", __name__)

CUSTOMER_CODES = ("LASTNAME-MISSING", "ADDRESS-EMAIL-REQUIRED", "REQUIRED-FIELD")
ADVISOR_CODES = ("ADVISOR-INVALID", "ADVISOR-MISSING")
NOT_FOUND_CODE = "NOT-FOUND"  # the linked DMS record is gone ("Record not found in the DMS")


def failed_count() -> int:
    """Refused pushes waiting for someone at the current location."""
    location = current_location()
    if location is None:
        return 0
    return (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.location_id == location.id, OutboxMessage.status == OutboxStatus.FAILED
            )
        )
        or 0
    )


def _describe(message: OutboxMessage) -> dict:
    """What the row shows: the record, where to fix it."""
    suffix = (message.error_code or "").split("-", 1)[-1]
    info = {
        "message": message,
        "record_label": f"{message.target_type} {message.target_id}",
        "record_url": None,
        "customer": None,
        "customer_url": None,
        "fix_url": None,
        "fix_label": None,
    }
    if message.target_type == "appointment":
        appointment = db.session.get(Appointment, message.target_id)
        if appointment is not None:
            info["appointment"] = appointment
            info["record_label"] = f"Appointment {local_time(appointment.scheduled_at, appointment)}"
            info["record_url"] = url_for("appointments.detail", appointment_id=appointment.id)
            info["customer"] = appointment.customer
    elif message.target_type == "customer":
        info["customer"] = db.session.get(Customer, message.target_id)
        info["record_label"] = info["customer"].display_name if info["customer"] else info["record_label"]
    elif message.target_type == "asset":
        info["asset"] = db.session.get(Asset, message.target_id)
        info["record_label"] = info["asset"].description if info["asset"] else info["record_label"]
    if info["customer"] is not None and "customers.detail" in current_app.view_functions:
        info["customer_url"] = url_for("customers.detail", customer_id=info["customer"].id)
    if suffix == NOT_FOUND_CODE and message.target_type in ("customer", "asset"):
        # The linked DMS record is gone: its page is where the record is linked to the right one.
        record = info["customer"] if message.target_type == "customer" else info.get("asset")
        if record is not None and record.location_id == message.location_id:
            blueprint, id_arg = (
                ("customers", "customer_id") if message.target_type == "customer" else ("assets", "asset_id")
            )
            info["fix_url"] = url_for(f"{blueprint}.detail", **{id_arg: record.id}) + "#dms-link"
            info["fix_label"] = f"Link the {message.target_type} to the right DMS record"
    elif suffix in ADVISOR_CODES and can(current_user, Permission.MANAGE_LOCATION_SETTINGS):
        info["fix_url"], info["fix_label"] = url_for("advisors.index"), "Fix advisors' DMS IDs"
    elif suffix in CUSTOMER_CODES and info["customer_url"]:
        info["fix_url"], info["fix_label"] = info["customer_url"], "Fix the customer's profile"
    elif info["record_url"]:
        info["fix_url"], info["fix_label"] = (
            url_for("appointments.edit", appointment_id=message.target_id),
            "Change the appointment",
        )
    return info


def _filters() -> dict:
    """The page's filter (show, advisor, brand) from the query string, only the parts that are set:
    Retry and Dismiss post to a URL carrying it and come back to the same filtered list."""
    filters = {
        "show": "dismissed" if request.args.get("show") == "dismissed" else None,
        "advisor_id": request.args.get("advisor_id", type=int) or None,
        "brand": (request.args.get("brand") or "").strip()[:64] or None,
    }
    return {key: value for key, value in filters.items() if value}


def _list_url() -> str:
    """The list, with the filter the person was looking at."""
    return url_for("failed_pushes.index", **_filters())


def _back_to_list():
    return redirect(_list_url(), code=303)


def _page(status: int = 200, dismiss_errors: dict | None = None):
    location = current_location_or_404()
    filters = _filters()
    show = filters.get("show", "failed")
    advisor_id = filters.get("advisor_id")
    brand = filters.get("brand")
    wanted = OutboxStatus.DISMISSED if show == "dismissed" else OutboxStatus.FAILED
    query = scoped(OutboxMessage).where(OutboxMessage.status == wanted)
    if advisor_id:
        query = query.where(OutboxMessage.advisor_id == advisor_id)
    if brand:
        query = query.where(OutboxMessage.brand == brand)
    messages = db.session.scalars(query.order_by(OutboxMessage.id.desc()).limit(200)).all()
    advisor_ids = set(
        db.session.scalars(
            scoped(OutboxMessage)
            .with_only_columns(OutboxMessage.advisor_id)
            .where(OutboxMessage.advisor_id.is_not(None))
            .distinct()
        )
    )
    advisor_choices = (
        list(db.session.scalars(select(User).where(User.id.in_(advisor_ids)).order_by(User.name)))
        if advisor_ids
        else []
    )
    return render(
        "failed_pushes/index.html",
        block="results",
        status=status,
        location=location,
        rows=[_describe(m) for m in messages],
        show=show,
        advisor_id=advisor_id,
        brand=brand,
        advisor_choices=advisor_choices,
        brands=location.brands or [],
        retry_form=RetryForm(),
        filters=filters,
        filtered=bool(advisor_id or brand),
        failed_in_all=failed_count() if (advisor_id or brand) and not messages else None,
        dismiss_form=DismissForm(formdata=None),
        dismiss_errors=dismiss_errors or {},
    )


@bp.route("/")
@require(Permission.VIEW_INTEGRATIONS)
def index():
    """Every refused push of the location (or the dismissed ones), filterable by advisor and brand."""
    return _page()


@bp.route("/<int:push_id>/retry", methods=["POST"])
@require(Permission.VIEW_INTEGRATIONS)
def retry(push_id: int):
    """Send a refused push again, once the pre-flight checks pass."""
    message = get_or_404(OutboxMessage, push_id)
    if RetryForm().validate_on_submit() and message.status == OutboxStatus.FAILED:
        if _compares_again(message):
            return _compare_again(message)
        findings = []
        if message.target_type == "appointment":
            appointment = db.session.get(Appointment, message.target_id)
            if appointment is not None:
                findings = appointment_service.preflight_appointment(appointment)
        if findings:
            flash(
                "Not retried - it would be refused again: " + " ".join(f"{f.title}. {f.fix_hint}" for f in findings),
                "error",
            )
        else:
            retry_message(db.session, message, current_user.id)
            db.session.commit()
            flash(f"{message.kind.label} queued again for the DMS.", "success")
    elif message.status != OutboxStatus.FAILED:
        flash("That push is no longer failed.", "info")
    return _back_to_list()


def _compares_again(message: OutboxMessage) -> bool:
    """A customer or vehicle write-back the DMS refused as stale (ETag conflict): resending the
    same version can only be refused again, so Retry opens a new comparison instead."""
    return (
        is_conflict(message)
        and message.target_type in sync_steps.RECORD_TYPES_BY_TABLE
        and message.kind in (OutboxKind.WIZARD_WRITE_BACK, OutboxKind.CUSTOMER_PUSH, OutboxKind.VEHICLE_PUSH)
    )


def _compare_again(message: OutboxMessage):
    """Retry of a conflict: start a sync wizard against the DMS's current record (the person
    chooses again), end the stale push as replaced, and send the person to the wizard."""
    record_type = sync_steps.RECORD_TYPES_BY_TABLE[message.target_type]
    if not can(current_user, Permission.SYNC_RECORDS):
        flash(
            "Not retried: the record changed in the DMS, so resending would be refused again. "
            "Someone who may sync records compares it again with Sync with DMS.",
            "error",
        )
        return _back_to_list()
    record = db.session.scalar(
        scoped(sync_steps.MODELS[record_type]).where(sync_steps.MODELS[record_type].id == message.target_id)
    )
    if record is None:
        flash("Not retried: the record is no longer in the portal. Dismiss this push.", "error")
        return _back_to_list()
    location = current_location_or_404()
    try:
        started = sync_steps.start(record_type, record, location, current_user.id, _list_url())
    except sync_steps.WizardError as exc:
        db.session.rollback()
        flash(f"Not retried: {exc.message} {exc.fix_hint or ''}".strip(), "error")
        return _back_to_list()
    message = db.session.get(OutboxMessage, message.id)
    if message.status == OutboxStatus.FAILED:  # a wizard write-back is already ended by start()
        dismiss_message(db.session, message, sync_steps.REPLACED_BY_NEW_COMPARISON, current_user.id)
        db.session.commit()
    flash(
        f"The {sync_steps.NOUNS[record_type]} changed in the DMS, so the old version was not resent: "
        "compare it again and choose which values to keep.",
        "info",
    )
    return redirect(
        url_for(f"sync_wizard.{record_type}", **{f"{record_type}_id": record.id}, wizard=started.id), code=303
    )


@bp.route("/<int:push_id>/dismiss", methods=["POST"])
@require(Permission.VIEW_INTEGRATIONS)
def dismiss(push_id: int):
    """Dismiss a refused push with a reason (kept in history with who dismissed it)."""
    message = get_or_404(OutboxMessage, push_id)
    form = DismissForm()
    if not form.validate_on_submit():
        return _page(status=422, dismiss_errors={message.id: " ".join(form.reason.errors) or "Say why."})
    if message.status in (OutboxStatus.FAILED, OutboxStatus.PENDING):
        dismiss_message(db.session, message, form.reason.data, current_user.id)
        db.session.commit()
        flash(f"{message.kind.label} dismissed: it will not be sent.", "success")
    else:
        flash("That push is no longer failed.", "info")
    return _back_to_list()
