"""Every Jinja filter, global and context processor, registered in one place (:func:`init_app`).

Times: :func:`local_time` is the one filter that shows a moment. It shows it in the zone of the
location the record belongs to, with the zone's abbreviation when the viewer works across
locations in more than one zone (a Reviewer, a Global Admin).
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask, g, has_request_context, url_for
from flask_login import current_user

from webapp.domain.times import DEFAULT_FORMAT, format_local, zone_of


def _location_of(where: Any):
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
        found[kind] = (
            sorted(
                f"{kind}/{path.name}"
                for path in (static / kind).glob(f"*.{kind}")
                if f"{kind}/{path.name}" not in _NOT_GLOBAL
            )
            if (static / kind).is_dir()
            else []
        )
    return found


def customer_link(customer: Any) -> str | None:
    """Template global: the customer's page (None without a customer)."""
    return url_for("customers.detail", customer_id=customer.id) if customer is not None else None


def _signed_in() -> bool:
    return has_request_context() and bool(getattr(current_user, "is_authenticated", False))


def may(permission: str) -> bool:
    """Template global ``can``: may the signed-in user do ``permission`` (a Permission or its value)?"""
    from webapp.permissions import Permission, can

    return can(current_user, Permission(permission))


def navigation_context() -> dict[str, Any]:
    """The navigation bar's entries and the location switcher, for a signed-in user."""
    from webapp.navigation import visible_items
    from webapp.permissions import Permission, can
    from webapp.scoping import allowed_locations, current_location

    if not _signed_in():
        return {}
    return {
        "nav_main": visible_items("main"),
        "nav_admin": visible_items("admin"),
        "current_location": current_location(),
        "switchable_locations": allowed_locations() if can(current_user, Permission.SWITCH_LOCATION) else [],
    }


def header_counts() -> dict[str, Any]:
    """``failed_push_count()`` (the navigation badge) and ``notification_count()`` (unread; None for
    users without notifications). Functions, counted once when called: only a full page's header
    calls them, not the fragments htmx swaps in."""
    from webapp.extensions import db
    from webapp.failed_pushes.routes import failed_count
    from webapp.notifications.service import unread_count
    from webapp.permissions import Permission, can

    signed_in = _signed_in()
    counts: dict[str, Any] = {"failed_push_count": lambda: 0, "notification_count": lambda: None}
    if signed_in and can(current_user, Permission.VIEW_INTEGRATIONS):
        counts["failed_push_count"] = functools.cache(failed_count)
    if signed_in and can(current_user, Permission.REQUEST_UPDATES):
        user_id = current_user.id
        counts["notification_count"] = functools.cache(lambda: unread_count(db.session, user_id))
    return counts


#: Values that depend on the request's user, computed per render.
CONTEXT_PROCESSORS = (navigation_context, header_counts)


def filters() -> dict[str, Any]:
    """Every filter the templates use, by name."""
    from webapp.domain.normalise import format_phone

    return {
        "local_time": local_time,  # the one time filter
        "phone_display": format_phone,
    }


def template_globals(app: Flask) -> dict[str, Any]:
    """Every global the templates use, by name."""
    from webapp import background, navigation
    from webapp.cases.queries import cases_for_asset, related_links
    from webapp.domain.update_request_fields import label
    from webapp.permissions import Permission
    from webapp.search.web import last_synced_badge  # it reads the current location
    from webapp.update_requests.service import customer_update_requests

    return {
        "page_assets": page_assets(app),
        "can": may,
        "Permission": Permission,
        "nav_is_current": navigation.is_current,
        "last_synced_badge": last_synced_badge,
        "customer_link": customer_link,
        "customer_update_requests": customer_update_requests,
        "ur_field_label": label,
        "related_links": related_links,
        "cases_for_asset": cases_for_asset,
        # A callable: only pages that show the banner (signed in, full page) pay for the check.
        "background_paused": background.background_paused,
        "background_paused_title": background.PAUSED_TITLE,
        "background_paused_message": background.PAUSED_MESSAGE,
    }


def _add(table: dict[str, Any], kind: str, name: str, value: Any) -> None:
    """Put ``value`` in the Jinja ``table`` under ``name``, refusing a name that is already taken."""
    if name in table:
        raise RuntimeError(f"template {kind} {name!r} is registered twice")
    table[name] = value


def init_app(app: Flask) -> None:
    """Register every filter, global and context processor the templates use: the one place
    they are registered (tests/test_template_helpers.py checks it)."""
    for name, value in filters().items():
        _add(app.jinja_env.filters, "filter", name, value)
    for name, value in template_globals(app).items():
        _add(app.jinja_env.globals, "global", name, value)
    for processor in CONTEXT_PROCESSORS:
        app.context_processor(processor)
