"""Home: what this location looks like today, and where to go next."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_htmx import make_response
from flask_login import current_user
from sqlalchemy import func, select, text

from webapp.auth.redirects import safe_next
from webapp.extensions import db
from webapp.home.forms import SwitchLocationForm
from webapp.models import Asset, Customer, Role, User, utcnow
from webapp.permissions import Permission, public, require
from webapp.rendering import render, wants_fragment
from webapp.scoping import (
    allowed_locations,
    current_location,
    inactive_locations_of_current_user,
    scoped,
    switch_location,
)
from webapp.search.engine import band_counts

bp = Blueprint("home", __name__)

# What staff of an inactive location can still do: sign in and out, change their password.
OPEN_WHEN_INACTIVE_BLUEPRINTS = {"auth"}
OPEN_WHEN_INACTIVE_ENDPOINTS = {"static", "home.health"}


@bp.before_app_request
def refuse_inactive_location():
    """Staff whose only location is inactive see one plain page instead of any other."""
    if (
        not current_user.is_authenticated
        or request.endpoint in OPEN_WHEN_INACTIVE_ENDPOINTS
        or request.blueprint in OPEN_WHEN_INACTIVE_BLUEPRINTS
        or request.endpoint is None
    ):
        return None
    inactive = inactive_locations_of_current_user()
    if not inactive:
        return None
    if wants_fragment():
        # A live search or polling component: reload the whole page, which then shows why.
        return make_response("", 403, refresh=True)
    admins = db.session.scalars(
        select(User).where(User.role == Role.GLOBAL_ADMIN, User.active.is_(True)).order_by(User.name)
    ).all()
    return render_template("home/inactive_location.html", locations=inactive, admins=admins), 403


@bp.route("/")
@require(Permission.SIGNED_IN)
def index():
    """The signed-in user's home page."""
    location = current_location()
    counts = None
    if location is not None:
        # The Customers list's own Last synced counts: the link to its "never" band shows this number.
        bands = band_counts(db.session, scoped(Customer), Customer.last_synced_at, utcnow(), location.timezone)
        counts = {
            "customers": bands["all"],
            "assets": db.session.scalar(select(func.count()).select_from(scoped(Asset).subquery())),
            "never_synced": bands["never"],
        }
    return render("home/index.html", location=location, counts=counts)


@bp.route("/location", methods=["POST"])
@require(Permission.SWITCH_LOCATION)
def switch():
    """Change the location the user works in (Global Admin, Field Manager)."""
    form = SwitchLocationForm()
    form.location_id.choices = [(loc.id, loc.name) for loc in allowed_locations()]
    if not form.validate_on_submit():
        # A location the user may not use is treated like one that does not exist.
        abort(404, description="That location does not exist or is not yours to use.")
    location = switch_location(form.location_id.data)
    flash(f"You are now working in {location.name}.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("home.index")), code=303)


@bp.route("/healthz")
@public
def health():
    """For operators and monitors: the database, Redis, the scheduler, the scheduled jobs and
    the workers (webapp/background.py), each ``ok`` or why not, with ``details`` saying what each
    background check saw (e.g. when the heartbeat job last ran). 503 when any is not ok.
    With the ``HEALTHZ_REQUIRE_BACKGROUND`` setting off (``HEALTHZ_REQUIRE_BACKGROUND=0`` in the
    environment: a web-only deployment; the test suite) the background checks are reported
    without failing on them."""
    from webapp.background import background_health

    status = {"database": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        status["database"] = f"error: {type(exc).__name__}"
    background = background_health()
    status.update(background.as_dict())
    required = ["database", "redis"]
    if current_app.config["HEALTHZ_REQUIRE_BACKGROUND"]:
        required = list(status)
    failing = [name for name in required if status[name] != "ok"]
    status["status"] = "ok" if not failing else "failing: " + ", ".join(failing)
    # What each background check saw, ok or not: when the scheduler last checked in, when the
    # every-minute heartbeat job last ran, how many workers serve the queues.
    status["details"] = {check.name: check.text for check in background.checks}
    return jsonify(status), 503 if failing else 200
