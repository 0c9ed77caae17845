"""DMS Sync Console: the Flask application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from webapp.config import Config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the console. ``test_config`` overrides settings (tests only)."""
    app = Flask(__name__, instance_path=str(Config().INSTANCE_DIR) if not test_config else None)
    app.config.from_object(Config())
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from webapp import logging_setup

    logging_setup.init_app(app)  # first: every request has its id before any other hook runs
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    from webapp import background, input_safety, security, template_filters

    background.init_app(app)  # readable answers when a request needs Redis and it is down
    security.init_app(app)
    template_filters.init_app(app)
    input_safety.init_app(app)  # NUL never reaches the database
    return app


def register_extensions(app: Flask) -> None:
    """Bind every extension singleton to ``app``."""
    from webapp import models
    from webapp.auth import login as login_setup
    from webapp.extensions import csrf, db, htmx, limiter, migrate
    from webapp.redis_conn import limiter_storage_uri

    models.configure()  # every table mapped before Alembic or a query looks
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    htmx.init_app(app)
    login_setup.init_app(app)
    if app.config.get("REDIS_URL"):
        app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config["REDIS_URL"]))
    else:
        # No Redis configured (e.g. `flask db upgrade` on its own): counts stay per process.
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app)


# Page cache per SQLite connection (KiB): the default 2 MB makes every write to a
# million-row index read its pages back from the OS; measured on a full pull.
SQLITE_CACHE_KIB = 32 * 1024


def _tune_sqlite(app: Flask) -> None:
    """WAL + a busy timeout let the web server and workers share the SQLite file; a page
    cache big enough for the mirror's and search index's upper levels."""
    from sqlalchemy import event

    from webapp.extensions import db

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()


def register_blueprints(app: Flask) -> None:
    """One blueprint per area (each defined in its package's routes.py), at its URL prefix."""
    from webapp import (
        admin,
        advisors,
        appointments,
        assets,
        auth,
        cases,
        customers,
        dms_activity,
        failed_pushes,
        home,
        integrations,
        notifications,
        permissions,
        repair_orders,
        settings,
        sync_wizard,
        update_requests,
    )
    from webapp.admin import rq_dashboard

    for package, url_prefix in (
        (auth, None),
        (home, None),
        (admin, "/admin"),
        (settings, "/settings"),
        (customers, "/customers"),
        (assets, "/assets"),
        (integrations, "/integrations"),
        (update_requests, None),
        (notifications, None),
        (appointments, "/appointments"),
        (failed_pushes, "/integrations/failed"),
        (advisors, "/advisors"),
        (cases, "/cases"),
        (dms_activity, "/repair-orders"),
        (repair_orders, "/repair-orders"),
        (sync_wizard, None),  # /customers/<id>/sync, /assets/<id>/sync
    ):
        app.register_blueprint(package.bp, url_prefix=url_prefix)
    rq_dashboard.init_app(app)  # /admin/rq, when Redis is configured
    permissions.init_app(app)  # every endpoint registered above declares who may use it


def register_errorhandlers(app: Flask) -> None:
    """Errors that read well as a page and as an htmx toast."""
    from webapp import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """``flask --app wsgi seed-demo`` and friends."""
    from webapp import commands

    commands.init_app(app)
