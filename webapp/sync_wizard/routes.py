"""Routes of the customer and asset sync wizards.

Per record type: GET shows the wizard's current step (or the start page), POST starts a
wizard (live DMS fetch), POST ``/step`` moves between steps (or cancels the wizard on the
server, so Back or a reload cannot apply it afterwards), GET ``/status`` is polled by
the summary while the write-back is on its way to the DMS. htmx requests get the wizard
block alone; plain form posts are redirected (303) to the GET, so everything also works
without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from webapp.domain import sync
from webapp.extensions import db
from webapp.models import Location, SyncSessionStatus
from webapp.permissions import Permission, require
from webapp.rendering import hx_redirect, render, wants_fragment
from webapp.scoping import get_or_404
from webapp.sync_wizard import forms
from webapp.sync_wizard import wizard as steps

bp = Blueprint("sync_wizard", __name__)

TEMPLATE = "sync_wizard/wizard.html"


# --------------------------------------------------------------------------- customer
@bp.route("/customers/<int:customer_id>/sync")
@require(Permission.SYNC_RECORDS)
def customer(customer_id: int):
    """The customer sync wizard at its current step (or the start page)."""
    return _show("customer", customer_id)


@bp.route("/customers/<int:customer_id>/sync", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def customer_start(customer_id: int):
    """Start (or retry) a customer sync: fetch the DMS record live and compare."""
    return _start("customer", customer_id)


@bp.route("/customers/<int:customer_id>/sync/step", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def customer_step(customer_id: int):
    """Next / Back / Select All / Apply in a customer sync."""
    return _step("customer", customer_id)


@bp.route("/customers/<int:customer_id>/sync/status")
@require(Permission.SYNC_RECORDS)
def customer_status(customer_id: int):
    """Where the customer sync's write-back to the DMS is (polled by the summary)."""
    return _status("customer", customer_id)


# --------------------------------------------------------------------------- asset
@bp.route("/assets/<int:asset_id>/sync")
@require(Permission.SYNC_RECORDS)
def asset(asset_id: int):
    """The asset sync wizard at its current step (or the start page)."""
    return _show("asset", asset_id)


@bp.route("/assets/<int:asset_id>/sync", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def asset_start(asset_id: int):
    """Start (or retry) an asset sync: fetch the DMS vehicle live and compare."""
    return _start("asset", asset_id)


@bp.route("/assets/<int:asset_id>/sync/step", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def asset_step(asset_id: int):
    """Customer assignment, Next / Back / Select All / Apply in an asset sync."""
    return _step("asset", asset_id)


@bp.route("/assets/<int:asset_id>/sync/status")
@require(Permission.SYNC_RECORDS)
def asset_status(asset_id: int):
    """Where the asset sync's write-back to the DMS is (polled by the summary)."""
    return _status("asset", asset_id)


# --------------------------------------------------------------------------- shared
def _record(record_type: str, record_id: int):
    """The portal record (404 for a missing or foreign-location one) and its location."""
    record = get_or_404(steps.MODELS[record_type], record_id)
    return record, db.session.get(Location, record.location_id)


def _url(record_type: str, record_id: int, endpoint: str = "", **values) -> str:
    name = f"sync_wizard.{record_type}{endpoint}"
    return url_for(name, **{f"{record_type}_id": record_id}, **values)


def _page(record_type: str, record, location: Location, status: int = 200, block: str = "wizard", **context):
    """The wizard page, or its block for a targeted htmx request."""
    record_label = record.display_name if record_type == "customer" else record.description
    return render(
        TEMPLATE,
        block=block,
        status=status,
        record_type=record_type,
        record=record,
        record_label=record_label,
        location=location,
        noun=steps.NOUNS[record_type],
        step_url=_url(record_type, record.id, "_step"),
        start_url=_url(record_type, record.id, "_start"),
        status_url=_url(record_type, record.id, "_status"),
        detail_url=steps.detail_url(record_type, record.id),
        **context,
    )


def _show(record_type: str, record_id: int):
    record, location = _record(record_type, record_id)
    found = steps.find(record_type, record, request.args.get("wizard"), current_user.id)
    if found is None:
        return _page(
            record_type,
            record,
            location,
            view=None,
            return_to=steps.safe_return_to(request.args.get("next"), record_type, record.id),
        )
    return _page(record_type, record, location, view=steps.view(found, record, location))


def _start(record_type: str, record_id: int):
    record, location = _record(record_type, record_id)
    return_to = steps.safe_return_to(request.form.get("next"), record_type, record.id)
    try:
        started = steps.start(record_type, record, location, current_user.id, return_to)
    except steps.WizardError as exc:
        # Shown in place of the first step, with Retry when the DMS could not be reached.
        return _page(record_type, record, location, view=None, return_to=return_to, start_error=exc)
    if wants_fragment():
        return _page(record_type, record, location, view=steps.view(started, record, location))
    return redirect(_url(record_type, record.id, wizard=started.id), code=303)


def _after_step(record_type: str, record, location: Location, found, status: int = 200, **extra):
    """Show the step for htmx, or redirect a plain form post to it (errors are shown in place)."""
    if status == 200 and not wants_fragment():
        return redirect(_url(record_type, record.id, wizard=found.id), code=303)
    return _page(record_type, record, location, status=status, view=steps.view(found, record, location, **extra))


def _step(record_type: str, record_id: int):
    record, location = _record(record_type, record_id)
    found = steps.find(record_type, record, request.form.get("wizard"), current_user.id)
    if found is None:
        return _page(
            record_type,
            record,
            location,
            status=422,
            view=None,
            return_to=None,
            start_error=steps.WizardError(
                "This sync is no longer open (it expired or belongs to someone else).",
                "Start the sync again.",
                retry=True,
            ),
        )
    # Enter in a field submits without a button: that means Next (never Apply, which needs its button).
    action = request.form.get("action") or ("next" if found.step in ("owner", "fields") else "")
    if action == "cancel":
        return _cancel(found, record)
    if found.status == SyncSessionStatus.CANCELLED:
        # Back (or a reload) to a step of a cancelled wizard: nothing may be applied from it.
        return _page(
            record_type,
            record,
            location,
            status=422,
            view=steps.view(
                found,
                record,
                location,
                error=f"This sync was cancelled, so nothing was {_done(action)}.",
                fix_hint="Start the sync again to compare with the DMS.",
            ),
        )
    if found.status != SyncSessionStatus.OPEN:
        return _after_step(record_type, record, location, found)
    view = steps.view(found, record, location)
    submitted = forms.submitted_choices(request.form)
    try:
        if found.step == "owner":
            if action == "search":
                query = request.form.get("owner_q", "")[:100]
                found.owner_choice = steps.OWNER_OTHER
                db.session.commit()
                return _page(
                    record_type,
                    record,
                    location,
                    view=steps.view(
                        found, record, location, owner_search=steps.search_owner(location, query), owner_query=query
                    ),
                )
            if action != "next":
                abort(400)
            steps.save_owner(found, record, request.form.get("owner"), request.form.get("owner_customer_id"))
            found.step = "fields"
        elif found.step == "fields":
            if action in ("select_all_portal", "select_all_dms"):
                found.choices = sync.select_all(
                    view.differences, sync.PORTAL if action == "select_all_portal" else sync.DMS
                )
            elif action == "back":
                steps.save_choices(found, view.differences, submitted, require_all=False)
                if not view.has_owner_step:
                    abort(400)
                found.step = "owner"
            elif action == "next":
                steps.save_choices(found, view.differences, submitted, require_all=True)
                found.step = "confirm"
            else:
                abort(400)
        elif found.step == "confirm":
            if action == "back":
                found.step = "fields"
            elif action == "apply":
                db.session.commit()  # the step itself; apply runs in its own transaction
                steps.apply(found, record, location, current_user.id)
            elif action:
                abort(400)
        else:
            abort(400)
    except sync.ChoiceError as exc:
        db.session.rollback()
        return _after_step(record_type, record, location, found, status=422, error=str(exc))
    except steps.WizardError as exc:
        db.session.rollback()
        found = steps.find(record_type, record, found.id, current_user.id)
        record, location = _record(record_type, record_id)
        return _after_step(record_type, record, location, found, status=422, error=exc.message, fix_hint=exc.fix_hint)
    db.session.commit()
    return _after_step(record_type, record, location, found)


def _done(action: str) -> str:
    return "applied or written to the DMS" if action == "apply" else "changed"


def _cancel(found, record):
    """Cancel: end the wizard on the server (nothing written), then go back where it started."""
    if found.status == SyncSessionStatus.OPEN:
        found.status = SyncSessionStatus.CANCELLED
        db.session.commit()
        flash("Sync with DMS cancelled: nothing was changed in the portal or the DMS.", "info")
    elif found.status == SyncSessionStatus.APPLIED:
        flash("This sync had already been applied; Cancel changed nothing.", "info")
    close_url = found.return_to or steps.detail_url(found.record_type, record.id)
    if wants_fragment():
        return hx_redirect(close_url)
    return redirect(close_url, code=303)


def _status(record_type: str, record_id: int):
    record, location = _record(record_type, record_id)
    found = steps.find(record_type, record, request.args.get("wizard"), current_user.id)
    view = steps.view(found, record, location) if found is not None else None
    return _page(record_type, record, location, block="writeback_status", view=view, return_to=None)
