"""Jinja filters and globals shared by every page, registered in one place (:func:`init_app`).

Times: :func:`local_time` is the one filter that shows a moment. It shows it in the zone of the
location the record belongs to, with the zone's abbreviation when the viewer works across
locations in more than one zone (a Reviewer, a Global Admin).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, has_request_context

from connectors.records import parse_datetime

#: "Nov 02, 2026 09:30", the format every screen uses unless it asks for a date alone.
DEFAULT_FORMAT = "%b %d, %Y %H:%M"
UTC = ZoneInfo("UTC")


def zone_of(location: Any) -> ZoneInfo:
    """The location's time zone (UTC when none is set or the name is unknown)."""
    name = getattr(location, "timezone", None) if location is not None else None
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def as_moment(value: Any) -> datetime | None:
    """A datetime from a datetime or the ISO text DMS payloads carry (naive values are UTC);
    None when ``value`` is empty or not a time."""
    try:
        return parse_datetime(value)
    except (ValueError, TypeError):
        return None


def format_local(value: Any, location: Any, fmt: str = DEFAULT_FORMAT, *, with_zone: bool = False) -> str:
    """``value`` (datetime or ISO text) in ``location``'s zone; "" when empty, the text itself
    when it is not a time. ``with_zone`` adds the zone's abbreviation ("PST"); a moment of no
    location is in UTC and says so."""
    moment = as_moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if (with_zone or location is None) and "%Z" not in fmt:
        fmt += " %Z"
    return moment.astimezone(zone_of(location)).strftime(fmt)


def _location_of(where: Any):  # noqa: ANN202 - a Location or None
    """The Location meant by ``where``: a Location, a location id, or a record that has a
    ``location`` or a ``location_id``; the viewer's current location when ``where`` is None."""
    from webapp.extensions import db
    from webapp.models import Location

    if isinstance(where, Location):
        return where
    if where is None:
        if not has_request_context():
            return None
        from webapp.scoping import current_location

        return current_location()
    if isinstance(where, int):
        return db.session.get(Location, where)
    location = getattr(where, "location", None)
    if isinstance(location, Location):
        return location
    location_id = getattr(where, "location_id", None)
    return db.session.get(Location, location_id) if location_id is not None else None


def viewer_sees_several_zones() -> bool:
    """True when the signed-in user works in locations of more than one time zone (cached per request)."""
    if not has_request_context():
        return False
    if "sees_several_zones" not in g:
        from webapp.scoping import allowed_locations

        g.sees_several_zones = len({zone_of(location).key for location in allowed_locations()}) > 1
    return g.sees_several_zones


def local_time(value: Any, where: Any = None, fmt: str = DEFAULT_FORMAT) -> str:
    """Template filter: ``value`` (datetime or ISO text) in the zone of ``where``'s location.

    ``where`` is the record's location, a record with a location, or None for the viewer's
    current location. The zone's abbreviation is added when the viewer sees several zones.
    """
    return format_local(value, _location_of(where), fmt, with_zone=viewer_sees_several_zones())


# Loaded by base.html itself (first) or only by their own pages.
_NOT_GLOBAL = {"css/app.css", "js/app.js", "js/rq-dashboard-csrf.js"}


def page_assets(app: Flask) -> dict[str, list[str]]:
    """Every area's stylesheet and script, for base.html to load on every page.

    hx-boost swaps only the <body> on navigation, so a stylesheet linked from one page's
    <head> would be missing when that page is reached by a boosted link. The files are
    small; loading them all once (then from cache) is simpler and always right. Scripts
    act only on elements of their own area (event delegation), so loading them everywhere is safe.
    """
    from pathlib import Path

    static = Path(app.static_folder)
    found = {}
    for kind in ("css", "js"):
        found[kind] = sorted(
            f"{kind}/{path.name}" for path in (static / kind).glob(f"*.{kind}")
            if f"{kind}/{path.name}" not in _NOT_GLOBAL
        ) if (static / kind).is_dir() else []
    return found


def init_app(app: Flask) -> None:
    """Register the filters and globals every template may use, and the list of page assets."""
    from webapp.domain.normalise import format_phone
    from webapp.search.web import last_synced_badge  # it reads the current location

    app.add_template_filter(local_time, "local_time")  # the one time filter
    app.add_template_filter(format_phone, "phone_display")
    app.add_template_global(last_synced_badge, "last_synced_badge")
    app.jinja_env.globals["page_assets"] = page_assets(app)
