"""External Interfaces for the current location."""
from __future__ import annotations

from flask import flash, redirect, request, url_for

from jobs.cases import related_ro_availability
from webapp.extensions import db
from webapp.models import SyncMode, WriteBackMode
from webapp.permissions import Permission, require
from webapp.rendering import render
from webapp.scoping import current_location_or_404
from webapp.settings import bp
from webapp.settings.forms import ExternalInterfacesForm


@bp.route("/external-interfaces", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATION_SETTINGS)
def external_interfaces():
    """Write-back mode, sync mode, OEM build data and related RO numbers."""
    location = current_location_or_404()
    form = ExternalInterfacesForm()
    if request.method == "GET":
        form.write_back_mode.data = location.write_back_mode.value
        form.sync_mode.data = location.sync_mode.value
        form.oem_build_data.data = location.oem_build_data
        form.related_ro_enabled.data = "enabled" if location.related_ro_enabled else "disabled"
        form.case_auto_close_days.data = location.case_auto_close_days
        form.case_auto_close_requires_closed_ro.data = location.case_auto_close_requires_closed_ro
    related_ro_supported, related_ro_reason = related_ro_availability(location)
    if not related_ro_supported:
        # Shown disabled with the reason; a forged POST cannot switch it on either.
        form.related_ro_enabled.render_kw = {"disabled": True}
        form.related_ro_enabled.validate_choice = False  # a disabled select is not submitted
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
    status = 422 if request.method == "POST" else 200
    return render("settings/external_interfaces.html", form=form, location=location, status=status,
                  related_ro_reason=related_ro_reason)
