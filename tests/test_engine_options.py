"""The database connection pool follows the web server's threads on PostgreSQL (webapp/config.py)."""

from __future__ import annotations

from webapp.config import engine_options

PG = "postgresql+psycopg://console@db/console"


def test_sqlite_keeps_sqlalchemy_defaults():
    assert engine_options("sqlite:////tmp/console.sqlite", {"THREADS": "8"}) == {"pool_pre_ping": True}


def test_postgresql_keeps_a_connection_per_web_thread():
    assert engine_options(PG, {}) == {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}
    assert engine_options(PG, {"THREADS": "8"})["pool_size"] == 8


def test_pool_settings_win_over_the_thread_count():
    options = engine_options(PG, {"THREADS": "8", "DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0"})
    assert (options["pool_size"], options["max_overflow"]) == (3, 0)
