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

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    from webapp import background, input_safety, security, template_filters

    background.init_app(app)  # the "Background work is paused" banner; readable answers when Redis is down
    security.init_app(app)
    template_filters.init_app(app)
    input_safety.init_app(app)  # NUL never reaches the database
    return app


def register_extensions(app: Flask) -> None:
    """Bind every extension singleton to ``app``."""
    from webapp import models  # noqa: F401 - registers the mappers before Alembic looks
    from webapp.auth import login as login_setup
    from webapp.extensions import csrf, db, htmx, limiter, migrate
    from webapp.redis_conn import limiter_storage_uri

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True, compare_type=True)
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
        def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()


def register_blueprints(app: Flask) -> None:
    """One blueprint per area."""
    from webapp.admin import bp as admin_bp
    from webapp.assets import bp as assets_bp
    from webapp.auth import bp as auth_bp
    from webapp.customers import bp as customers_bp
    from webapp.home import bp as home_bp
    from webapp.settings import bp as settings_bp
    from webapp.update_requests import bp as update_requests_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(settings_bp, url_prefix="/settings")
    app.register_blueprint(customers_bp, url_prefix="/customers")
    app.register_blueprint(assets_bp, url_prefix="/assets")
    from webapp.integrations import bp as integrations_bp

    app.register_blueprint(integrations_bp, url_prefix="/integrations")
    app.register_blueprint(update_requests_bp)
    from webapp.notifications import bp as notifications_bp

    app.register_blueprint(notifications_bp)
    from webapp.advisors import bp as advisors_bp
    from webapp.appointments import bp as appointments_bp
    from webapp.failed_pushes import bp as failed_pushes_bp

    app.register_blueprint(appointments_bp, url_prefix="/appointments")
    app.register_blueprint(failed_pushes_bp, url_prefix="/integrations/failed")
    app.register_blueprint(advisors_bp, url_prefix="/advisors")
    from webapp.cases import bp as cases_bp

    app.register_blueprint(cases_bp, url_prefix="/cases")
    from webapp.dms_activity import bp as dms_activity_bp

    app.register_blueprint(dms_activity_bp, url_prefix="/repair-orders")
    from webapp.repair_orders import bp as repair_orders_bp

    app.register_blueprint(repair_orders_bp, url_prefix="/repair-orders")
    from webapp.sync_wizard import bp as sync_wizard_bp
    app.register_blueprint(sync_wizard_bp)  # /customers/<id>/sync, /assets/<id>/sync

    from webapp.admin import rq_dashboard

    rq_dashboard.init_app(app)

    from webapp import navigation
    from webapp.permissions import init_app as permissions_init

    permissions_init(app)
    navigation.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """Errors that read well as a page and as an htmx toast."""
    from webapp import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """``flask --app wsgi seed-demo`` and friends."""
    from webapp import commands

    commands.init_app(app)
