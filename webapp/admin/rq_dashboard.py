"""The RQ dashboard (rq-dashboard), mounted at /admin/rq for Global Admins only.

rq-dashboard is a separate Flask blueprint with its own pages. We wrap each of its views
with the console's permission check, refuse its one state-changing GET (``requeue``),
hand its jQuery calls our CSRF token (a template override of its footer loads
static/js/rq-dashboard-csrf.js), and give its pages — and only its pages — a CSP that
allows the inline scripts and templates it is built on.
"""

from __future__ import annotations

import functools

from flask import Flask, abort, request

from webapp.permissions import Permission, require

URL_PREFIX = "/admin/rq"
# rq-dashboard renders client-side templates with underscore.js (needs eval) and inline scripts.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _no_state_changing_get(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.method == "GET":
            abort(405)  # rq-dashboard allows GET on "requeue all": a link must not change state
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    """Mount the dashboard when a Redis URL is configured."""
    if not app.config.get("REDIS_URL"):
        return
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    for key in dir(rq_dashboard.default_settings):
        if key.isupper():
            app.config.setdefault(key, getattr(rq_dashboard.default_settings, key))
    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("rq_dashboard."):
            if endpoint == "rq_dashboard.requeue_all":
                view = _no_state_changing_get(view)
            app.view_functions[endpoint] = require(Permission.RQ_DASHBOARD)(view)

    from rq.exceptions import NoSuchJobError

    @app.errorhandler(NoSuchJobError)
    def _no_such_job(error):
        from webapp.errors import respond

        return respond(404, "Not found", "That job no longer exists: finished jobs are kept for a limited time.")

    from redis.exceptions import ResponseError

    @app.errorhandler(ResponseError)
    def _redis_refused(error):
        from webapp.errors import MESSAGES, respond

        if request.blueprint == "rq_dashboard":  # e.g. compacting a queue that is empty and gone
            return respond(409, "Nothing to do", f"Redis refused the action: {error}")
        app.logger.exception("Redis refused a command")
        return respond(500, *MESSAGES[500])

    @app.after_request
    def _dashboard_csp(response):
        if request.blueprint == "rq_dashboard":
            response.headers["Content-Security-Policy"] = DASHBOARD_CSP
        return response
