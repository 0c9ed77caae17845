"""The navigation bar: each area once, shown only to roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_login import current_user

from webapp.permissions import Permission, can


@dataclass(frozen=True)
class NavItem:
    """One entry: label, endpoint, and the permission it needs."""

    label: str
    endpoint: str
    permission: Permission
    section: str = "main"  # "main" or "admin"


# A new area adds its entry here; an entry whose endpoint is not registered (the job queues
# without Redis) is not shown.
NAV_ITEMS: list[NavItem] = [
    NavItem("Home", "home.index", Permission.SIGNED_IN),
    NavItem("Customers", "customers.index", Permission.VIEW_RECORDS),
    NavItem("Assets", "assets.index", Permission.VIEW_RECORDS),
    NavItem("Appointments", "appointments.index", Permission.BOOK_APPOINTMENTS),
    NavItem("Cases", "cases.index", Permission.VIEW_CASES),
    NavItem("Repair orders", "repair_orders.index", Permission.VIEW_RECORDS),
    NavItem("My requests", "update_requests.mine", Permission.REQUEST_UPDATES),
    NavItem("Review queue", "update_requests.queue", Permission.REVIEW_REQUESTS),
    NavItem("Integration health", "integrations.health", Permission.VIEW_INTEGRATIONS, "admin"),
    NavItem("Failed pushes", "failed_pushes.index", Permission.VIEW_INTEGRATIONS, "admin"),
    NavItem("Advisors", "advisors.index", Permission.MANAGE_LOCATION_SETTINGS, "admin"),
    NavItem("External Interfaces", "settings.external_interfaces", Permission.MANAGE_LOCATION_SETTINGS, "admin"),
    NavItem("Users", "admin.users", Permission.MANAGE_USERS, "admin"),
    NavItem("Locations", "admin.locations", Permission.MANAGE_LOCATIONS, "admin"),
    NavItem("Audit log", "admin.audit_log", Permission.MANAGE_USERS, "admin"),
    NavItem("Job queues", "rq_dashboard.queues_overview", Permission.RQ_DASHBOARD, "admin"),
]


def visible_items(section: str) -> list[NavItem]:
    """The entries of ``section`` the signed-in user may open."""
    return [
        item
        for item in NAV_ITEMS
        if item.section == section
        and item.endpoint in current_app.view_functions
        and can(current_user, item.permission)
    ]


def is_current(item: NavItem) -> bool:
    """True when the request is inside the item's area (same blueprint + endpoint prefix)."""
    endpoint = request.endpoint or ""
    return endpoint == item.endpoint or (
        item.endpoint.split(".")[0] == endpoint.split(".")[0] and item.endpoint.split(".")[0] not in ("home", "admin")
    )
