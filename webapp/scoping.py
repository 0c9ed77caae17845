"""The one way to read location-owned data.

Every query for a model with a ``location_id`` (see :class:`webapp.models.LocationOwned`)
starts from :func:`scoped` or goes through :func:`get_or_404`. A record of another
location is indistinguishable from a missing one: both answer 404.

Two scopes exist:
- the *current* location (default): the one the user is working in (Global Admins and
  Field Managers pick it with the location switcher);
- *across* locations (``across=True``): every location the user's role spans — a
  Reviewer's queue, a Field Manager's case list.
"""
from __future__ import annotations

from typing import TypeVar

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.models import Location, LocationOwned

M = TypeVar("M", bound=LocationOwned)

SESSION_KEY = "location_id"


def allowed_location_ids() -> set[int]:
    """Ids of the locations the signed-in user may see (cached per request)."""
    if not current_user.is_authenticated:
        return set()
    if "allowed_location_ids" not in g:
        g.allowed_location_ids = current_user.allowed_location_ids()
    return g.allowed_location_ids


def allowed_locations() -> list[Location]:
    """The user's locations, by name (for the switcher)."""
    ids = allowed_location_ids()
    if not ids:
        return []
    return list(db.session.scalars(select(Location).where(Location.id.in_(ids)).order_by(Location.name)))


def current_location() -> Location | None:
    """The location the user is working in, or None when they have none."""
    if "current_location" in g:
        return g.current_location
    ids = allowed_location_ids()
    chosen = session.get(SESSION_KEY)
    location = None
    if chosen in ids:
        location = db.session.get(Location, chosen)
    elif current_user.is_authenticated and current_user.location_id in ids:
        location = db.session.get(Location, current_user.location_id)
    elif ids:
        location = allowed_locations()[0]
    g.current_location = location
    return location


def current_location_or_404() -> Location:
    """The current location; views that need one answer 404 without it."""
    location = current_location()
    if location is None:
        abort(404, description="You are not assigned to a location yet. Ask a Global Admin.")
    return location


def switch_location(location_id: int) -> Location:
    """Make ``location_id`` current for this session; 404 if the user may not use it."""
    if location_id not in allowed_location_ids():
        abort(404)
    session[SESSION_KEY] = location_id
    g.pop("current_location", None)
    return current_location_or_404()


def scope_ids(across: bool = False) -> set[int]:
    """The location ids a query may read."""
    if across:
        return allowed_location_ids()
    location = current_location()
    return {location.id} if location else set()


def scoped(model: type[M], *, across: bool = False) -> Select[tuple[M]]:
    """``select(model)`` restricted to the user's current location (or all of theirs)."""
    return select(model).where(model.location_id.in_(scope_ids(across)))


def get_or_404(model: type[M], record_id: int, *, across: bool = False) -> M:
    """Load one location-owned record, or 404 if missing or not the user's to see."""
    record = db.session.scalar(scoped(model, across=across).where(model.id == record_id))
    if record is None:
        abort(404)
    return record
