"""Which roles may use each route — the expectation the authorization tests hold the app to.

Every endpoint of the app must appear here; a new route without an entry fails
``test_authorization_matrix``. ``PUBLIC`` = open to anonymous visitors.
"""
from webapp.models import Role

PUBLIC = "public"
# Called by a DMS, authenticated by an HMAC signature instead of a session and CSRF token.
SIGNED = "signed"
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
    "integrations.health": MANAGERS,
    "integrations.pull_now": MANAGERS,
    "integrations.backfill": MANAGERS,
    "integrations.run_progress": MANAGERS,
    "integrations.cancel_run": MANAGERS,
    "integrations.webhook": SIGNED,
    # The RQ dashboard (rq-dashboard), Global Admins only.
    **{f"rq_dashboard.{name}": frozenset({ADMIN}) for name in (
        "compact_queue", "delete_job_view", "empty_queue", "favicon", "job_info", "job_view", "jobs_overview",
        "list_jobs", "list_queues", "list_workers", "queues_overview", "requeue_all", "requeue_job_view",
        "static", "workers_overview")},
}

# URL arguments that name a record owned by a location: a route taking one must answer
# 404 for another location's record. Maps argument -> (world record key).
LOCATION_OWNED_ARGS: dict[str, str] = {
    "run_id": "sync_run",
    "customer_id": "customer",
    "asset_id": "asset",
}
# Arguments that are not location-owned (only Global Admins reach these routes).
GLOBAL_ARGS = {"user_id", "location_id", "code"}
# Values for the RQ dashboard's own URL arguments (not records of ours).
SAMPLE_ARGS = {"instance_number": 0, "job_id": "no-such-job", "queue_name": "pulls", "registry_name": "queued",
               "per_page": 8, "order": "asc", "page": 1, "filename": "js/jquery-3.5.1.min.js"}
# State-changing routes that are not protected by a CSRF token, and why.
CSRF_EXEMPT = {"integrations.webhook": "called by the DMS and authenticated by its HMAC signature"}
