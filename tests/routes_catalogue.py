"""Which roles may use each route, and what each answers — the expectation the route-wide tests
(authorization, CSRF, input safety, accessibility) hold the app to.

Every endpoint of the app must appear in ``ROUTE_ROLES``, and every route that is not a plain page
in ``ANSWERS``: tests/test_authorization.py fails for a new route without its entries.
``PUBLIC`` = open to anonymous visitors.
"""

from webapp.models import Role

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def app_routes(app):
    """(rule, method) for every route of the app but static files."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def build_url(app, rule, world, location_key="a") -> str:
    """Fill the rule's arguments with records of ``location_key``'s location."""
    from flask import url_for

    values = {}
    for arg in rule.arguments:
        if arg in LOCATION_OWNED_ARGS:
            values[arg] = world["records"][world[location_key].code][LOCATION_OWNED_ARGS[arg]].id
        elif arg == "user_id":
            values[arg] = world["users"][Role.SERVICE_ADVISOR].id
        elif arg in SAMPLE_ARGS:
            values[arg] = SAMPLE_ARGS[arg]
        elif arg == "code":
            values[arg] = world[location_key].code
        elif arg == "location_id":
            values[arg] = world[location_key].id
        else:
            raise AssertionError(f"{rule.endpoint}: add URL argument {arg!r} to tests/routes_catalogue.py")
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


PUBLIC = "public"
# Called by a DMS, authenticated by an HMAC signature instead of a session and CSRF token.
SIGNED = "signed"
ADMIN, MANAGER, ADVISOR, FIELD, REVIEWER = (
    Role.GLOBAL_ADMIN,
    Role.SERVICE_MANAGER,
    Role.SERVICE_ADVISOR,
    Role.FIELD_MANAGER,
    Role.REVIEWER,
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
    **{
        f"rq_dashboard.{name}": frozenset({ADMIN})
        for name in (
            "compact_queue",
            "delete_job_view",
            "empty_queue",
            "favicon",
            "job_info",
            "job_view",
            "jobs_overview",
            "list_jobs",
            "list_queues",
            "list_workers",
            "queues_overview",
            "requeue_all",
            "requeue_job_view",
            "static",
            "workers_overview",
        )
    },
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
    **{
        f"dms_activity.{name}": STAFF
        for name in (
            "index",
            "detail",
            "activity",
            "exporting",
            "summary",
            "summary_csv",
            "save_properties",
            "convert_to_ro",
            "search_customers",
            "search_vehicles",
            "pick_customer",
            "pick_vehicle",
            "new_vehicle",
            "add_payment",
            "export_payments",
            "retry_payment",
            "void_payment",
            "start_from_dms_ro",
            "new_for_customer",
            "new_for_asset",
            "new_for_appointment",
            "link_ro",
            "export_state",
        )
    },
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
SAMPLE_ARGS = {
    "instance_number": 0,
    "job_id": "no-such-job",
    "queue_name": "pulls",
    "registry_name": "queued",
    "per_page": 8,
    "order": "asc",
    "page": 1,
    "filename": "js/jquery-3.5.1.min.js",
    # Notifications belong to a user, not a location: the walk's id names none of the user's
    # (404, see ANSWERS); tests/test_requester_notifications.py checks own vs another user's.
    "notification_id": 0,
}
# State-changing routes that are not protected by a CSRF token, and why.
CSRF_EXEMPT = {"integrations.webhook": "called by the DMS and authenticated by its HMAC signature"}
# What a signed-in, allowed user gets from each route, walked in app.url_map's order with the
# records of tests/factories.py's world, sent no form data: every route but the plain pages
# (GET -> 200) is listed, so the matrix expects one exact status of each. A redirect names the
# endpoint it must land on. A POST sent no data answers 422 with the form's errors, or does its
# action (a form whose fields all keep their stored values, a toggle) and redirects.
ANSWERS: dict[tuple[str, str], int | tuple[int, str]] = {
    ("auth.login", "GET"): (302, "home.index"),  # already signed in: to the home page
    ("auth.login", "POST"): (302, "home.index"),
    ("auth.logout", "POST"): (303, "auth.login"),  # walked last: it ends the session
    ("auth.change_password", "POST"): 422,
    ("home.switch", "POST"): 404,  # no location chosen is treated as a location that is not yours
    ("admin.user_unlock", "POST"): (303, "admin.users"),
    ("admin.user_new", "POST"): 422,
    ("admin.user_edit", "POST"): 422,
    ("admin.location_new", "POST"): 422,
    ("admin.location_edit", "POST"): (303, "admin.locations"),  # no field is required: saved (DMS vendor cleared)
    ("admin.location_dms_fields", "GET"): (
        303,
        "admin.location_edit",
    ),  # an htmx fragment: a plain visit goes to the form
    ("admin.location_test", "POST"): 422,
    ("settings.external_interfaces", "POST"): 422,
    ("settings.webhook_secret", "POST"): 422,
    ("settings.webhook_test", "POST"): 422,
    ("customers.add_from_dms", "POST"): 422,
    ("customers.dms_link", "POST"): 422,
    ("customers.dms_unlink", "POST"): (303, "customers.detail"),
    ("assets.add_from_dms", "POST"): 422,
    ("assets.dms_link", "POST"): 422,
    ("assets.dms_unlink", "POST"): (303, "assets.detail"),
    ("integrations.pull_now", "POST"): 400,  # no data type named
    ("integrations.backfill", "POST"): 400,
    ("integrations.cancel_run", "POST"): (303, "integrations.run_progress"),
    ("update_requests.new", "POST"): 422,
    ("update_requests.approve", "POST"): (303, "update_requests.queue"),
    # approve comes first in the walk: the request is decided, so reject goes back to it
    ("update_requests.reject", "POST"): (303, "update_requests.review"),
    ("notifications.read_all", "POST"): (303, "notifications.index"),
    ("notifications.read_one", "POST"): 404,  # SAMPLE_ARGS' notification 0 is nobody's
    ("appointments.new", "POST"): 422,
    ("appointments.edit", "POST"): 422,
    ("appointments.cancel", "POST"): (303, "appointments.detail"),
    ("failed_pushes.retry", "POST"): (303, "failed_pushes.index"),
    ("failed_pushes.dismiss", "POST"): 422,  # a dismissal needs a reason
    ("advisors.edit", "POST"): (303, "advisors.index"),
    ("advisors.dms_rules", "POST"): (303, "advisors.index"),
    ("cases.columns", "POST"): (303, "cases.index"),
    ("cases.new", "POST"): 422,
    ("cases.update", "POST"): (303, "cases.detail"),
    ("cases.export", "POST"): (303, "cases.detail"),
    ("cases.close", "POST"): (303, "cases.detail"),
    ("cases.retry_related_ros", "POST"): (303, "cases.detail"),
    ("cases.watch", "POST"): (303, "cases.detail"),
    ("cases.unwatch", "POST"): (303, "cases.detail"),
    ("dms_activity.index", "GET"): (302, "repair_orders.index"),  # the old workfile list's address
    ("dms_activity.new_for_customer", "POST"): (303, "dms_activity.activity"),  # a new workfile
    ("dms_activity.new_for_asset", "POST"): (303, "dms_activity.activity"),
    # The walk has cancelled the sample appointment by then (appointments.cancel comes first): the
    # check-in form answers 409 saying a cancelled appointment cannot be checked in.
    ("dms_activity.new_for_appointment", "POST"): 409,
    ("dms_activity.start_from_dms_ro", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.save_properties", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.convert_to_ro", "POST"): 422,
    ("dms_activity.link_ro", "POST"): 422,
    ("dms_activity.pick_customer", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.pick_vehicle", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.new_vehicle", "POST"): 422,
    ("dms_activity.add_payment", "POST"): 422,
    ("dms_activity.export_payments", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.retry_payment", "POST"): (303, "dms_activity.activity"),
    ("dms_activity.void_payment", "POST"): 422,  # a void needs a reason
    # The sample location's DMS does not answer: the wizard says so on its first page.
    ("sync_wizard.customer_start", "POST"): 200,
    ("sync_wizard.customer_step", "POST"): 422,
    ("sync_wizard.asset_start", "POST"): 200,
    ("sync_wizard.asset_step", "POST"): 422,
    # The RQ dashboard's own answers for SAMPLE_ARGS (a job that does not exist, an empty queue).
    ("rq_dashboard.job_view", "GET"): 404,
    ("rq_dashboard.job_info", "GET"): 404,
    ("rq_dashboard.delete_job_view", "POST"): 200,
    ("rq_dashboard.requeue_job_view", "POST"): 404,
    ("rq_dashboard.requeue_all", "GET"): 405,
    ("rq_dashboard.requeue_all", "POST"): 200,
    ("rq_dashboard.empty_queue", "POST"): 200,
    ("rq_dashboard.compact_queue", "POST"): 409,
}
# What an anonymous visitor gets from the public routes (GET -> 200 otherwise).
ANONYMOUS_ANSWERS: dict[tuple[str, str], int] = {("auth.login", "POST"): 422}
# Routes that read across every location the role spans (a Reviewer's queue, which Global Admins
# share): another location's record answers as one's own there, and 404 on every other route.
ACROSS_LOCATIONS = {
    "update_requests.review",
    "update_requests.review_screenshot",
    "update_requests.approve",
    "update_requests.reject",
}
