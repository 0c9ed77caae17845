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
    "admin.user_unlock": frozenset({ADMIN}),
    "admin.audit_log": frozenset({ADMIN}),
    "admin.locations": frozenset({ADMIN}),
    "admin.location_new": frozenset({ADMIN}),
    "admin.location_edit": frozenset({ADMIN}),
    "admin.location_dms_fields": frozenset({ADMIN}),
    "admin.location_test": frozenset({ADMIN}),
    "settings.external_interfaces": MANAGERS,
    "settings.webhook_secret": MANAGERS,
    "settings.webhook_test": MANAGERS,
    "customers.index": STAFF,
    "customers.detail": STAFF,
    "customers.add_from_dms": STAFF,
    "customers.dms_link": STAFF,
    "customers.dms_unlink": STAFF,
    "assets.index": STAFF,
    "assets.detail": STAFF,
    "assets.add_from_dms": STAFF,
    "assets.dms_link": STAFF,
    "assets.dms_unlink": STAFF,
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
    "cases.index": frozenset({ADMIN, MANAGER, ADVISOR, FIELD}),
    "cases.columns": frozenset({ADMIN, MANAGER, ADVISOR, FIELD}),
    "cases.detail": frozenset({ADMIN, MANAGER, ADVISOR, FIELD}),
    "cases.related_ros": frozenset({ADMIN, MANAGER, ADVISOR, FIELD}),
    "cases.new": STAFF,
    "cases.update": STAFF,
    "cases.export": STAFF,
    "cases.close": STAFF,
    "cases.retry_related_ros": STAFF,
    "cases.watch": STAFF,
    "cases.unwatch": STAFF,
    "update_requests.new": STAFF,
    "update_requests.mine": STAFF,
    "update_requests.show": STAFF,
    "update_requests.screenshot": STAFF,
    "update_requests.queue": frozenset({ADMIN, REVIEWER}),
    "update_requests.review": frozenset({ADMIN, REVIEWER}),
    "update_requests.review_screenshot": frozenset({ADMIN, REVIEWER}),
    "update_requests.approve": frozenset({ADMIN, REVIEWER}),
    "update_requests.reject": frozenset({ADMIN, REVIEWER}),
    # A requester's notifications (issue 19 item 15): each user sees only their own.
    "notifications.index": STAFF,
    "notifications.read_all": STAFF,
    "notifications.read_one": STAFF,
    "appointments.index": STAFF,
    "appointments.customer_search": STAFF,
    "appointments.opcode_search": STAFF,
    "appointments.new": STAFF,
    "appointments.detail": STAFF,
    "appointments.push_status": STAFF,
    "appointments.edit": STAFF,
    "appointments.cancel": STAFF,
    "failed_pushes.index": MANAGERS,
    "failed_pushes.retry": MANAGERS,
    "failed_pushes.dismiss": MANAGERS,
    "advisors.index": MANAGERS,
    "advisors.edit": MANAGERS,
    "advisors.dms_rules": MANAGERS,
    # DMS Activity on a repair order (issue 9): VIEW_RECORDS reads, SYNC_RECORDS acts.
    **{f"dms_activity.{name}": STAFF for name in (
        "index", "detail", "activity", "exporting", "summary", "summary_csv", "save_properties", "convert_to_ro",
        "search_customers", "search_vehicles", "pick_customer", "pick_vehicle", "new_vehicle", "add_payment",
        "export_payments", "retry_payment", "void_payment", "start_from_dms_ro",
        "new_for_customer", "new_for_asset", "new_for_appointment", "link_ro", "export_state")},
    # Repair orders list and a pulled RO's page (issue 18): VIEW_RECORDS.
    "repair_orders.index": STAFF,
    "repair_orders.dms_detail": STAFF,
    "sync_wizard.customer": STAFF,
    "sync_wizard.customer_start": STAFF,
    "sync_wizard.customer_step": STAFF,
    "sync_wizard.customer_status": STAFF,
    "sync_wizard.asset": STAFF,
    "sync_wizard.asset_start": STAFF,
    "sync_wizard.asset_step": STAFF,
    "sync_wizard.asset_status": STAFF,
}

# URL arguments that name a record owned by a location: a route taking one must answer
# 404 for another location's record. Maps argument -> (world record key).
LOCATION_OWNED_ARGS: dict[str, str] = {
    "run_id": "sync_run",
    "customer_id": "customer",
    "asset_id": "asset",
    "update_request_id": "update_request",
    "appointment_id": "appointment",
    "push_id": "push",
    "advisor_id": "advisor",
    "case_id": "case",
    "workfile_id": "workfile",
    "payment_id": "payment",
    # A pulled repair order, named by its DMS id in the location's mirror.
    "dms_id": "dms_repair_order",
}
# Arguments that are not location-owned (only Global Admins reach these routes).
GLOBAL_ARGS = {"user_id", "location_id", "code"}
# Values for the RQ dashboard's own URL arguments (not records of ours).
SAMPLE_ARGS = {"instance_number": 0, "job_id": "no-such-job", "queue_name": "pulls", "registry_name": "queued",
               "per_page": 8, "order": "asc", "page": 1, "filename": "js/jquery-3.5.1.min.js",
               # Notifications belong to a user, not a location: the walk's id names none of the user's
               # (404, see ANSWERS); tests/test_requester_notifications.py checks own vs another user's.
               "notification_id": 0}
# State-changing routes that are not protected by a CSRF token, and why.
CSRF_EXEMPT = {"integrations.webhook": "called by the DMS and authenticated by its HMAC signature"}
# What a signed-in, allowed user gets where it is not a plain page (200 for GET; for POST, sent no
# form data: 422, 200, or 302/303): the route-wide suites hold each route to exactly this status.
ANSWERS: dict[tuple[str, str], int] = {
    ("auth.login", "GET"): 302,  # already signed in: to the home page
    ("auth.login", "POST"): 302,
    ("admin.location_dms_fields", "GET"): 303,  # an htmx fragment: a plain visit goes to the form
    ("home.switch", "POST"): 404,  # no location chosen is treated as a location that is not yours
    ("integrations.pull_now", "POST"): 400,  # no data type named
    ("integrations.backfill", "POST"): 400,
    # The RQ dashboard's own answers for SAMPLE_ARGS (a job that does not exist, an empty queue).
    ("rq_dashboard.job_info", "GET"): 404,
    ("rq_dashboard.job_view", "GET"): 404,
    ("rq_dashboard.requeue_all", "GET"): 405,
    ("rq_dashboard.requeue_job_view", "POST"): 404,
    ("rq_dashboard.compact_queue", "POST"): 409,
    # The walk has cancelled the sample appointment by then (appointments.cancel comes first): the
    # check-in form answers 409 saying a cancelled appointment cannot be checked in.
    ("dms_activity.new_for_appointment", "POST"): 409,
    ("dms_activity.index", "GET"): 302,
    ("notifications.read_one", "POST"): 404,  # SAMPLE_ARGS' notification 0 is nobody's  # the old workfile list's address: to the one Repair orders list
}
