"""The integration health page and the actions on it."""

from __future__ import annotations

import redis
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

import connectors
from connectors.records import KINDS
from webapp.background import background_health
from webapp.extensions import db
from webapp.integrations import webhooks
from webapp.integrations.health import DATA_TYPE_LABELS, health_rows, pulled_per_hour, recent_runs, records_as_received
from webapp.models import RunStatus, RunTrigger, SyncRun
from webapp.permissions import Permission, require
from webapp.rendering import render, toast, wants_fragment
from webapp.scoping import current_location_or_404, get_or_404
from webapp.services.runs import enqueue_backfill, enqueue_pull, request_cancel

bp = Blueprint("integrations", __name__)
# Signed change notices from the DMS (webapp/integrations/webhooks.py).
bp.add_url_rule("/webhooks/<code>", view_func=webhooks.webhook, methods=["POST"])


@bp.route("/")
@require(Permission.VIEW_INTEGRATIONS)
def health():
    """Per data type: cadence, last successful pull, lag, last counts and error; recent runs; the
    7-day chart. The ``health`` block refreshes itself every 2 s while a run is under way; the chart
    (a week of runs) is outside it, read once per page load."""
    location = current_location_or_404()
    return render(
        "integrations/health.html",
        block="health",
        location=location,
        rows=health_rows(location) if location.has_dms else [],
        chart=None if wants_fragment() else pulled_per_hour(location),
        runs=recent_runs(),
        labels=DATA_TYPE_LABELS,
        background=background_health(),
    )


def _data_type_or_400(location) -> str:
    data_type = request.form.get("data_type", "")
    if not location.has_dms:
        abort(400, description="This location has no DMS connection.")
    profile = connectors.get_profile(location.dms_vendor)
    if not profile.can_pull(data_type):
        abort(400, description=f"{profile.display_name} does not deliver that data.")
    return data_type


QUEUE_UNREACHABLE = (
    "{what} needs the job queue (Redis), which cannot be reached: nothing was started. "
    "Try again when the Background work panel on this page shows Redis as reachable."
)


def _start(location, data_type: str, start, what: str):
    """``start(location_id, data_type)`` (enqueue_pull, enqueue_backfill), or a readable answer
    when Redis is slow or down (a run saved but not queued was marked cancelled by ``start``)."""
    try:
        return start(location.id, data_type), None
    except (redis.RedisError, OSError) as error:
        current_app.logger.warning("%s of %s: Redis unreachable (%s)", what, data_type, type(error).__name__)
        return None, _after_action(QUEUE_UNREACHABLE.format(what=what), "error")


def _after_action(message: str, level: str = "info"):
    """htmx: re-render the health block with a toast; otherwise redirect back (303)."""
    if wants_fragment():
        return toast(health(), message, level)
    flash(message, level)
    return redirect(url_for("integrations.health"), code=303)


@bp.route("/pull", methods=["POST"])
@require(Permission.VIEW_INTEGRATIONS)
def pull_now():
    """Start a pull of one data type now (skipped if one is already under way)."""
    location = current_location_or_404()
    data_type = _data_type_or_400(location)
    run, unreachable = _start(location, data_type, lambda loc, dt: enqueue_pull(loc, dt, RunTrigger.MANUAL), "Pull now")
    if unreachable is not None:
        return unreachable
    label = DATA_TYPE_LABELS.get(data_type, data_type)
    if run is None:
        return _after_action(f"A pull of {label} is already under way.", "warning")
    return _after_action(f"Pull of {label} started.", "success")


@bp.route("/backfill", methods=["POST"])
@require(Permission.VIEW_INTEGRATIONS)
def backfill():
    """Start a historical backfill (historical ROs/customers where the vendor supports it)."""
    location = current_location_or_404()
    data_type = _data_type_or_400(location)
    profile = connectors.get_profile(location.dms_vendor)
    historical = {"repair_orders": profile.historical_ros, "customers": profile.historical_customers}.get(data_type)
    if not historical or not historical.available:
        abort(400, description=f"{profile.display_name} does not offer a historical pull of that data.")
    run, unreachable = _start(location, data_type, enqueue_backfill, "A historical backfill")
    if unreachable is not None:
        return unreachable
    label = DATA_TYPE_LABELS.get(data_type, data_type)
    if run is None:
        return _after_action(f"A pull of {label} is already under way; start the backfill when it ends.", "warning")
    return _after_action(f"Historical backfill of {label} started.", "success")


@bp.route("/runs/<int:run_id>")
@require(Permission.VIEW_INTEGRATIONS)
def run_progress(run_id: int):
    """A run's live progress (polled by htmx while it is queued or running)."""
    run = get_or_404(SyncRun, run_id)
    return render(
        "integrations/run.html",
        block="progress",
        run=run,
        labels=DATA_TYPE_LABELS,
        location=current_location_or_404(),
        as_received=records_as_received(run),
        noun=KINDS[run.data_type].noun if run.data_type in KINDS else run.data_type,
    )


@bp.route("/runs/<int:run_id>/cancel", methods=["POST"])
@require(Permission.VIEW_INTEGRATIONS)
def cancel_run(run_id: int):
    """Ask a queued or running run to stop after its current page."""
    run = get_or_404(SyncRun, run_id)
    if run.status == RunStatus.QUEUED:
        run.status = RunStatus.CANCELLED
        run.error = "Cancelled before it started."
        db.session.commit()
    elif run.status == RunStatus.RUNNING:
        request_cancel(run)
    if wants_fragment():
        return run_progress(run_id)
    flash("Cancelling the run: it stops after the page it is reading.", "info")
    return redirect(url_for("integrations.run_progress", run_id=run.id), code=303)
