"""External Interfaces for the current location."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for

import connectors
from webapp import audit
from webapp.extensions import db
from webapp.models import SyncMode, WriteBackMode
from webapp.permissions import Permission, require
from webapp.rendering import render
from webapp.scoping import current_location_or_404
from webapp.services.related_ros import related_ro_availability
from webapp.settings import webhook_setup as hooks
from webapp.settings.forms import ExternalInterfacesForm

bp = Blueprint("settings", __name__)


def _fill(form: ExternalInterfacesForm, location) -> ExternalInterfacesForm:
    """The form showing the location's current settings."""
    form.write_back_mode.data = location.write_back_mode.value
    form.sync_mode.data = location.sync_mode.value
    form.oem_build_data.data = location.oem_build_data
    form.related_ro_enabled.data = "enabled" if location.related_ro_enabled else "disabled"
    form.case_auto_close_days.data = location.case_auto_close_days
    form.case_auto_close_requires_closed_ro.data = location.case_auto_close_requires_closed_ro
    return form


def _related_ro_field(form: ExternalInterfacesForm, location) -> str | None:
    """Why this location's DMS cannot return related RO numbers (None when it can). Then the
    field is shown disabled with that reason, and a forged POST cannot switch it on either."""
    supported, reason = related_ro_availability(location)
    if not supported:
        form.related_ro_enabled.render_kw = {"disabled": True}
        form.related_ro_enabled.validate_choice = False  # a disabled select is not submitted
    return reason


def _page(location, form, status: int = 200, block: str | None = None, **webhook):
    """The External Interfaces page showing ``form``, or only its Webhook section (``block="webhook"``,
    asked by htmx); ``webhook`` adds to what that section shows (:func:`_webhook`)."""
    return render(
        "settings/external_interfaces.html",
        block=block,
        status=status,
        form=form,
        location=location,
        related_ro_reason=_related_ro_field(form, location),
        webhook=_webhook(location, **webhook),
    )


@bp.route("/external-interfaces", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def external_interfaces():
    """Write-back mode, sync mode, OEM build data and related RO numbers."""
    location = current_location_or_404()
    form = ExternalInterfacesForm()
    if request.method == "GET":
        _fill(form, location)
    related_ro_supported = _related_ro_field(form, location) is None
    if form.validate_on_submit():
        location.write_back_mode = WriteBackMode(form.write_back_mode.data)
        location.sync_mode = SyncMode(form.sync_mode.data)
        location.oem_build_data = form.oem_build_data.data
        location.related_ro_enabled = related_ro_supported and form.related_ro_enabled.data == "enabled"
        location.case_auto_close_days = form.case_auto_close_days.data
        location.case_auto_close_requires_closed_ro = form.case_auto_close_requires_closed_ro.data
        db.session.commit()
        flash("External interfaces saved.", "success")
        return redirect(url_for("settings.external_interfaces"), code=303)
    return _page(location, form, 422 if request.method == "POST" else 200)


def _webhook(location, **extra) -> dict:
    """What the Webhook section shows."""
    receives = hooks.receives_webhooks(location)
    return {
        "receives": receives,
        "url": hooks.webhook_url(location),
        "set_on": hooks.secret_set_on(location) if location.webhook_secret else None,
        "deliveries": hooks.recent_deliveries(location.id) if receives else [],
        "sandbox": receives and hooks.is_sandbox_address(location),
        "how_to_test": hooks.how_to_test(location) if receives else "",
        "keep": hooks.KEEP,
        "new_secret": None,
        "outcome": None,
        **extra,
    }


def _webhook_answer(location, status: int = 200, **extra):
    """The Webhook section (htmx) or the whole External Interfaces page, with the saved settings in the form."""
    form = _fill(ExternalInterfacesForm(formdata=None), location)
    response = _page(location, form, status, block="webhook", **extra)
    response.headers["Cache-Control"] = "no-store"  # may hold a freshly generated secret
    return response


def _webhook_location():
    """The current location and, when its DMS sends no change notices, the 422 answer to give
    instead (the Webhook section offers neither button then: only a forged POST gets here).
    The CSRF token is checked before any route runs (``CSRFProtect``): no form is needed here."""
    location = current_location_or_404()
    if hooks.receives_webhooks(location):
        return location, None
    return location, _webhook_answer(
        location,
        422,
        outcome=hooks.Outcome(
            False,
            connectors.get_profile(location.dms_vendor).refusal_text(
                "does not send change notices, so this location needs no webhook."
            )
            if location.dms_vendor
            else "No DMS is connected, so this location needs no webhook.",
        ),
    )


@bp.route("/external-interfaces/webhook-secret", methods=["POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def webhook_secret():
    """Generate the location's webhook secret, or replace it; shown once, in this answer only."""
    location, refused = _webhook_location()
    if refused is not None:
        return refused
    replaced = bool(location.webhook_secret)
    secret = hooks.new_secret()
    location.webhook_secret = secret
    audit.record(
        hooks.ROTATED_KIND,
        location_id=location.id,
        target=location.code,
        detail="replaced the previous secret" if replaced else "first secret for this location",
    )
    db.session.commit()
    return _webhook_answer(location, new_secret=secret, replaced=replaced)


@bp.route("/external-interfaces/webhook-test", methods=["POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def webhook_test():
    """Ask the location's DMS to send one signed notice now (possible with the sandbox DMS)."""
    location, refused = _webhook_location()
    if refused is not None:
        return refused
    if not location.webhook_secret:
        return _webhook_answer(
            location,
            422,
            outcome=hooks.Outcome(False, "Generate a secret first, then give the DMS the address and the secret."),
        )
    control = hooks.sandbox_control(location)
    if control is None:
        return _webhook_answer(location, 200, outcome=hooks.Outcome(False, hooks.how_to_test(location)))
    return _webhook_answer(location, outcome=hooks.send_test_event(location, control))
