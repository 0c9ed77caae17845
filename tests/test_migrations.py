"""Alembic: upgrade from empty, the result matches the models, downgrade to base.

Runs on a database of its own (a temp SQLite file, or ``<db>_migrations`` next to the
PostgreSQL test database) so the suite's database is untouched.
"""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


@pytest.fixture()
def scratch_url(database_url, tmp_path):
    if not os.environ.get("DATABASE_URL"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_matches_models_and_downgrade_empties(app, scratch_url):
    from flask_migrate import downgrade, upgrade

    from webapp import create_app
    from webapp.extensions import db

    scratch = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": scratch_url})
    with scratch.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "location",
            "user",
            "customer",
            "asset",
            "change_history",
            "dms_record",
            "sync_cursor",
            "sync_run",
            "alembic_version",
        } <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()  # and back up again: downgrade left nothing behind that blocks it
        db.engine.dispose()
