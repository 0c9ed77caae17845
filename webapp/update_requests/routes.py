"""Customer Info Update Request pages (dealership) and the review queue (admin team).

Dealership users (``REQUEST_UPDATES``) work in their current location: they submit
requests and see their location's requests. Reviewers (``REVIEW_REQUESTS``) span every
location (``across=True``). Each side has its own routes, so each route declares exactly
one permission and a record outside the viewer's scope answers 404.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from webapp import uploads
from webapp.domain.update_request_fields import GROUPS, display, label, ordered_attrs
from webapp.extensions import db, htmx
from webapp.models import Customer, Location, utcnow
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.permissions import Permission, can, require
from webapp.rendering import render
from webapp.scoping import current_location_or_404, get_or_404, scoped
from webapp.services.cadences import cadences
from webapp.update_requests import service
from webapp.update_requests.forms import ApproveForm, RejectForm, UpdateRequestForm

bp = Blueprint("update_requests", __name__)

DAILY_FILE_HOURS = 24


# ----------------------------------------------------------------------------- helpers
def dms_guidance(location: Location) -> dict:
    """How this location's DMS brings customer changes here (seed 004), for the request page.

    ``kind`` is ``"daily_file"`` (PBS, CDK, Reynolds, Tekion: the data reach the console by pull
    and daily data file), ``"next_transaction"`` (every other DMS) or ``"none"`` (no DMS connected).
    For daily-file vendors ``mode`` is the location's sync mode: in review mode a pulled change
    only shows as a difference to sync with the wizard; in automatic mode the next customer pull
    (``cadence``) applies it.
    """
    if not location.dms_vendor:
        return {"kind": "none", "vendor": None}
    import connectors

    try:
        daily = connectors.get_profile(location.dms_vendor).daily_data_file
    except (KeyError, ValueError, LookupError):
        daily = False  # an unknown vendor code: promise nothing faster than the next transaction
    if not daily:
        return {"kind": "next_transaction", "vendor": location.dms_vendor_name, "hours": DAILY_FILE_HOURS}
    return {
        "kind": "daily_file",
        "vendor": location.dms_vendor_name,
        "hours": DAILY_FILE_HOURS,
        "mode": location.sync_mode.value,
        "cadence": _customer_cadence(location),
    }


def _customer_cadence(location: Location) -> str | None:
    """How often the console pulls this location's customers, as staff read it, or None."""
    try:
        cadence = cadences(location).get("customers")
    except (KeyError, ValueError, LookupError):
        return None
    if cadence is None or not cadence.scheduled:
        return None
    if cadence.nightly:
        return "nightly"
    if cadence.label.startswith("Auto"):  # the DMS pushes changes; an hourly pull catches up
        return f"as {location.dms_vendor_name} reports changes, with a catch-up pull every {cadence.minutes} mins"
    return f"every {cadence.minutes} mins"


def age(when: datetime | None, now: datetime | None = None) -> str:
    """'35 min', '5 h', '3 days': how long a request has waited."""
    if when is None:
        return "—"
    seconds = max(0, int(((now or utcnow()) - when).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _comparison(update_request: UpdateRequest) -> list[dict]:
    """Rows of the side-by-side table: field, value when requested, value now, requested."""
    customer = update_request.customer
    rows = []
    for attr in ordered_attrs(update_request.requested_values):
        requested = update_request.requested_values.get(attr)
        now_value = getattr(customer, attr)
        rows.append(
            {
                "attr": attr,
                "label": label(attr),
                "before": display(attr, (update_request.previous_values or {}).get(attr)),
                "now": display(attr, now_value),
                "requested": display(attr, requested),
                "changes": display(attr, now_value) != display(attr, requested),
            }
        )
    return rows


def _screenshot_response(update_request: UpdateRequest):
    """The stored, re-encoded screenshot, served so no browser can take it for anything else."""
    try:
        path = uploads.path_of(update_request.screenshot_name)
        handle = open(path, "rb")
    except OSError:
        current_app.logger.warning("screenshot of update request %s is missing", update_request.id)
        abort(
            404,
            description="The screenshot file of this request is missing. Ask an administrator to "
            "restore the console's storage folder (STORAGE_DIR; instance/uploads by default) from backup.",
        )
    extension = uploads.MIME_TO_EXT.get(update_request.screenshot_mime, "bin")
    download = "attachment" in request.args
    response = send_file(
        handle,
        mimetype=update_request.screenshot_mime,
        as_attachment=download,
        download_name=f"update-request-{update_request.id}-screenshot.{extension}",
        max_age=0,
        conditional=False,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the image gets a document that can run nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# ----------------------------------------------------------------------------- dealership side
def _render_new(
    customer: Customer,
    form: UpdateRequestForm,
    status: int = 200,
    upload_error: str | None = None,
    kept: uploads.PendingScreenshot | None = None,
):
    """The Customer Info Update Request page (``kept``: the screenshot kept from an earlier attempt)."""
    location = db.session.get(Location, customer.location_id)
    pending = db.session.scalars(
        scoped(UpdateRequest)
        .where(UpdateRequest.customer_id == customer.id, UpdateRequest.status == UpdateRequestStatus.PENDING)
        .order_by(UpdateRequest.created_at)
    ).all()
    return render(
        "update_requests/new.html",
        block="request_form",
        status=status,
        form=form,
        customer=customer,
        location=location,
        guidance=dms_guidance(location),
        groups=GROUPS,
        pending=pending,
        upload_error=upload_error,
        kept=kept,
        max_mb=uploads.MAX_BYTES // (1024 * 1024),
    )


@bp.route("/customers/<int:customer_id>/update-request", methods=["GET", "POST"])
@require(Permission.REQUEST_UPDATES)
def new(customer_id: int):
    """Ask the admin team to update a customer's details, with a screenshot of the DMS record."""
    customer = get_or_404(Customer, customer_id)
    form = UpdateRequestForm()
    if request.method == "GET":
        for group in GROUPS:
            for attr in group.attrs:
                form[attr].data = display(attr, getattr(customer, attr)).replace("—", "")
        return _render_new(customer, form)

    upload_error = None
    clean = None
    valid = form.validate_on_submit()
    values = form.check_values(customer, customer.country or "US") if valid else None
    # A screenshot kept from an earlier attempt (this person, this location, not expired).
    token = (form.screenshot_token.data or "").strip()
    kept = uploads.pending(token, current_user.id, customer.location_id)
    upload = request.files.get(form.screenshot.name)
    if upload is not None and upload.filename:  # an empty file input sends no file name
        try:
            clean = uploads.clean_screenshot(upload.stream)
        except uploads.ScreenshotError as exc:
            upload_error = str(exc)
    elif kept is None:
        upload_error = (
            uploads.PENDING_EXPIRED
            if uploads.pending_expired(token)
            else "Attach a screenshot of the updated customer record in your DMS."
        )
    if not valid or values is None or upload_error:
        if clean is not None:  # a good screenshot, refused only because of another field: keep it
            uploads.drop_pending(kept)
            token = uploads.keep_pending(clean, upload.filename, current_user.id, customer.location_id)
            kept = uploads.pending(token, current_user.id, customer.location_id)
        form.screenshot_token.data = token if kept is not None else ""
        if upload_error:
            form.screenshot.errors = [upload_error]
        return _render_new(customer, form, status=422, kept=kept)

    if clean is not None:
        stored = uploads.store(clean)
        uploads.drop_pending(kept)  # replaced by the new one
    else:
        try:
            stored = uploads.claim_pending(kept)
        except FileNotFoundError:  # the same form submitted twice at once: the other one took it
            form.screenshot_token.data = ""
            form.screenshot.errors = ["Attach a screenshot of the updated customer record in your DMS."]
            return _render_new(customer, form, status=422)
    update_request = UpdateRequest(
        location_id=customer.location_id,
        customer_id=customer.id,
        requested_by_id=current_user.id,
        requested_values=values,
        previous_values={attr: getattr(customer, attr) for attr in values},
        note=form.note.data or None,
        screenshot_name=stored.name,
        screenshot_mime=stored.mime,
        screenshot_width=stored.width,
        screenshot_height=stored.height,
        screenshot_bytes=stored.size,
    )
    db.session.add(update_request)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove(stored.name)  # no orphan files for requests that do not exist
        raise
    flash(
        f"Update request for {customer.display_name} submitted. The admin team will review it; "
        "you can follow it under My requests.",
        "success",
    )
    return redirect(url_for("update_requests.show", update_request_id=update_request.id), code=303)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    """A body over MAX_CONTENT_LENGTH: say so on the request form, not on a bare error page.

    The body was not read (that is the point), so nothing typed can be shown again. htmx
    swaps only 422 (see base.html), so a boosted submission gets 422 to show the form.
    """
    message = (
        f"The screenshot is too large (the limit is {uploads.MAX_BYTES // (1024 * 1024)} MB). "
        "Crop it to the customer's details, or save it as JPEG, and submit again."
    )
    customer_id = (request.view_args or {}).get("customer_id")
    if request.endpoint == "update_requests.new" and customer_id and can(current_user, Permission.REQUEST_UPDATES):
        customer = get_or_404(Customer, customer_id)
        form = UpdateRequestForm(formdata=None)
        form.screenshot.errors = [message]
        return _render_new(customer, form, status=422 if htmx else 413)
    return render_template("errors/error.html", status=413, title="Too large", message=message), 413


@bp.route("/update-requests")
@require(Permission.REQUEST_UPDATES)
def mine():
    """My requests (or, with ``?who=location``, every request of the current location)."""
    location = current_location_or_404()
    who = "location" if request.args.get("who") == "location" else "mine"
    query = scoped(UpdateRequest)
    if who == "mine":
        query = query.where(UpdateRequest.requested_by_id == current_user.id)
    rows = db.session.scalars(query.order_by(UpdateRequest.created_at.desc(), UpdateRequest.id.desc()).limit(500)).all()
    return render("update_requests/list.html", block="results", requests=rows, who=who, location=location)


@bp.route("/update-requests/<int:update_request_id>")
@require(Permission.REQUEST_UPDATES)
def show(update_request_id: int):
    """One request as its requester and their location see it."""
    update_request = get_or_404(UpdateRequest, update_request_id)
    return render(
        "update_requests/detail.html",
        update_request=update_request,
        rows=_comparison(update_request),
        reviewing=False,
        age=age,
    )


@bp.route("/update-requests/<int:update_request_id>/screenshot")
@require(Permission.REQUEST_UPDATES)
def screenshot(update_request_id: int):
    """The request's screenshot, for its own location."""
    return _screenshot_response(get_or_404(UpdateRequest, update_request_id))


# ----------------------------------------------------------------------------- admin team side
@bp.route("/review/update-requests")
@require(Permission.REVIEW_REQUESTS)
def queue():
    """The review queue: pending requests of every location, oldest first."""
    show_decided = request.args.get("status") == "decided"
    query = scoped(UpdateRequest, across=True)
    if show_decided:
        query = (
            query.where(UpdateRequest.status != UpdateRequestStatus.PENDING)
            .order_by(UpdateRequest.decided_at.desc(), UpdateRequest.id.desc())
            .limit(200)
        )
    else:
        query = query.where(UpdateRequest.status == UpdateRequestStatus.PENDING).order_by(
            UpdateRequest.created_at, UpdateRequest.id
        )
    rows = db.session.scalars(query).all()
    locations = {loc.id: loc for loc in db.session.scalars(select(Location))}
    return render(
        "update_requests/queue.html",
        block="results",
        requests=rows,
        locations=locations,
        show_decided=show_decided,
        age=age,
        now=utcnow(),
    )


def _render_review(update_request: UpdateRequest, reject_form: RejectForm | None = None, status: int = 200):
    """The reviewer's page: current vs requested, the screenshot, Approve / Reject."""
    return render(
        "update_requests/detail.html",
        status=status,
        update_request=update_request,
        rows=_comparison(update_request),
        reviewing=True,
        approve_form=ApproveForm(),
        reject_form=reject_form or RejectForm(formdata=None),
        age=age,
        location=db.session.get(Location, update_request.location_id),
    )


@bp.route("/review/update-requests/<int:update_request_id>")
@require(Permission.REVIEW_REQUESTS)
def review(update_request_id: int):
    """Open one request for review (any location)."""
    return _render_review(get_or_404(UpdateRequest, update_request_id, across=True))


@bp.route("/review/update-requests/<int:update_request_id>/screenshot")
@require(Permission.REVIEW_REQUESTS)
def review_screenshot(update_request_id: int):
    """The request's screenshot, for the admin team."""
    return _screenshot_response(get_or_404(UpdateRequest, update_request_id, across=True))


@bp.route("/review/update-requests/<int:update_request_id>/approve", methods=["POST"])
@require(Permission.REVIEW_REQUESTS)
def approve(update_request_id: int):
    """Apply the requested values to the customer (one reviewer wins a race)."""
    update_request = get_or_404(UpdateRequest, update_request_id, across=True)
    if not ApproveForm().validate_on_submit():
        abort(400)
    decision = service.approve(update_request, current_user)
    return _after_decision(update_request_id, decision)


@bp.route("/review/update-requests/<int:update_request_id>/reject", methods=["POST"])
@require(Permission.REVIEW_REQUESTS)
def reject(update_request_id: int):
    """Reject with a reason the requester will read."""
    update_request = get_or_404(UpdateRequest, update_request_id, across=True)
    form = RejectForm()
    if not form.validate_on_submit():
        if not update_request.status.is_open:
            return _after_decision(update_request_id, service.already_decided(update_request_id))
        return _render_review(update_request, reject_form=form, status=422)
    decision = service.reject(update_request, current_user, form.reason.data)
    return _after_decision(update_request_id, decision)


def _after_decision(update_request_id: int, decision: service.Decision):
    """Back to the queue after a decision; back to the request when someone else won."""
    if decision.ok:
        flash(decision.message, "success")
        return redirect(url_for("update_requests.queue"), code=303)
    flash(decision.message, "error")
    return redirect(url_for("update_requests.review", update_request_id=update_request_id), code=303)
