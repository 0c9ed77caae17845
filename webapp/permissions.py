"""Who may do what: one permission table, applied to every route.

Each view declares what it needs with ``@require(Permission.X)`` (or ``@public``). A
``before_request`` hook refuses any endpoint that declared nothing, so a new route is
closed until someone decides who may use it; the authorization-matrix test checks the
declarations and the real responses for every role.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable

from flask import Flask, abort, current_app, request
from flask_login import current_user

from webapp.models import Role


class Permission(str, enum.Enum):
    """Things a role may be allowed to do."""

    SIGNED_IN = "signed_in"  # any active user: home, own password, sign out
    SWITCH_LOCATION = "switch_location"
    VIEW_RECORDS = "view_records"  # customers, assets, DMS lookups
    SYNC_RECORDS = "sync_records"  # sync wizards, add from DMS
    BOOK_APPOINTMENTS = "book_appointments"
    REQUEST_UPDATES = "request_updates"  # customer-info update requests
    VIEW_CASES = "view_cases"
    EDIT_CASES = "edit_cases"
    MANAGE_LOCATION_SETTINGS = "manage_location_settings"  # External Interfaces, advisors' DMS ids
    VIEW_INTEGRATIONS = "view_integrations"  # health page, failed pushes
    REVIEW_REQUESTS = "review_requests"
    MANAGE_USERS = "manage_users"
    MANAGE_LOCATIONS = "manage_locations"
    RQ_DASHBOARD = "rq_dashboard"


_STAFF = {
    Permission.SIGNED_IN,
    Permission.VIEW_RECORDS,
    Permission.SYNC_RECORDS,
    Permission.BOOK_APPOINTMENTS,
    Permission.REQUEST_UPDATES,
    Permission.VIEW_CASES,
    Permission.EDIT_CASES,
}

# The one table. DESIGN.md §1 describes each role.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.GLOBAL_ADMIN: frozenset(Permission),
    Role.SERVICE_MANAGER: frozenset(_STAFF | {Permission.MANAGE_LOCATION_SETTINGS, Permission.VIEW_INTEGRATIONS}),
    Role.SERVICE_ADVISOR: frozenset(_STAFF),
    Role.FIELD_MANAGER: frozenset({Permission.SIGNED_IN, Permission.SWITCH_LOCATION, Permission.VIEW_CASES}),
    Role.REVIEWER: frozenset({Permission.SIGNED_IN, Permission.REVIEW_REQUESTS}),
}


def can(user, permission: Permission) -> bool:
    """True when ``user`` is signed in, active and their role grants ``permission``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def require(permission: Permission) -> Callable:
    """Decorator: sign-in required (401 flow), then ``permission`` (403)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as open to anonymous visitors (login page, health check)."""
    view.required_permission = None  # type: ignore[attr-defined]
    return view


def declared_permission(app: Flask, endpoint: str) -> Permission | None | str:
    """The permission a view declared; ``"undeclared"`` when it declared nothing."""
    view = app.view_functions.get(endpoint)
    if view is None:
        return "undeclared"
    if endpoint == "static":
        return None
    return getattr(view, "required_permission", "undeclared")


def init_app(app: Flask) -> None:
    """Fail closed: an endpoint that declared no permission answers 403."""

    @app.before_request
    def _refuse_undeclared():
        if request.endpoint is None:
            return None  # 404/405: let Flask answer
        if declared_permission(app, request.endpoint) == "undeclared":
            app.logger.error("endpoint %s declares no permission; refusing", request.endpoint)
            abort(403)
        return None
