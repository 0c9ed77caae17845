"""The one way to read location-owned data.

Every query for a model with a ``location_id`` (see :class:`webapp.models.LocationOwned`)
starts from :func:`scoped` or goes through :func:`get_or_404`. A record of another
location is indistinguishable from a missing one: both answer 404.

Two scopes exist:
- the *current* location (default): the one the user is working in (Global Admins and
  Field Managers pick it with the location switcher);
- *across* locations (``across=True``): every location the user's role spans — a
  Reviewer's queue, a Field Manager's case list.

Inactive locations (unticked "Active" under Admin → Locations) are in neither scope, for
every role: nobody works in one, its data is kept untouched, and Global Admins still see
it in Admin → Locations, where they can reactivate it. Staff whose only location is
inactive get a page saying so instead of any other page (see
:func:`inactive_locations_of_current_user` and ``webapp/home/routes.py``).
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
    """Ids of the active locations the signed-in user may see (cached per request)."""
    if not current_user.is_authenticated:
        return set()
    if "allowed_location_ids" not in g:
        ids = current_user.allowed_location_ids()
        g.allowed_location_ids = (
            set(db.session.scalars(select(Location.id).where(Location.id.in_(ids), Location.is_active.is_(True))))
            if ids
            else set()
        )
    return g.allowed_location_ids


def inactive_locations_of_current_user() -> list[Location]:
    """The inactive locations a location-bound user (not a Global Admin or Reviewer) works in,
    when they have no active one left; empty otherwise."""
    if not current_user.is_authenticated or current_user.spans_all_locations or allowed_location_ids():
        return []
    ids = current_user.allowed_location_ids()
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Location).where(Location.id.in_(ids), Location.is_active.is_(False)).order_by(Location.name)
        )
    )


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
