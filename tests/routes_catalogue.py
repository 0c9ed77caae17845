"""Which roles may use each route — the expectation the authorization tests hold the app to.

Every endpoint of the app must appear here; a new route without an entry fails
``test_authorization_matrix``. ``PUBLIC`` = open to anonymous visitors.
"""
from webapp.models import Role

PUBLIC = "public"
ADMIN, MANAGER, ADVISOR, FIELD, REVIEWER = (
    Role.GLOBAL_ADMIN, Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.FIELD_MANAGER, Role.REVIEWER,
)
EVERYONE = frozenset(Role)
STAFF = frozenset({ADMIN, MANAGER, ADVISOR})
MANAGERS = frozenset({ADMIN, MANAGER})

ROUTE_ROLES: dict[str, frozenset | str] = {
    "auth.login": PUBLIC,
    "home.health": PUBLIC,
    "auth.logout": EVERYONE,
    "auth.change_password": EVERYONE,
    "home.index": EVERYONE,
    "home.switch": frozenset({ADMIN, FIELD}),
    "admin.users": frozenset({ADMIN}),
    "admin.user_new": frozenset({ADMIN}),
    "admin.user_edit": frozenset({ADMIN}),
    "admin.locations": frozenset({ADMIN}),
    "admin.location_new": frozenset({ADMIN}),
    "admin.location_edit": frozenset({ADMIN}),
    "settings.external_interfaces": MANAGERS,
}

# URL arguments that name a record owned by a location: a route taking one must answer
# 404 for another location's record. Maps argument -> (world record key).
LOCATION_OWNED_ARGS: dict[str, str] = {
    "customer_id": "customer",
    "asset_id": "asset",
}
# Arguments that are not location-owned (only Global Admins reach these routes).
GLOBAL_ARGS = {"user_id", "location_id"}
