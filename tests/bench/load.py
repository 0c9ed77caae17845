"""Benchmark: fifty service staff for five minutes on the console served as in production.

Run: ``.venv/bin/python tests/bench/load.py`` (on a quiet 2-core machine about 14 minutes of set-up,
then 10-12 of measuring; ``BENCH_SCALE=0.1`` for a tenth of the data and of the duration). Needs
PostgreSQL and Redis on 127.0.0.1 (``BENCH_PG_URL``: the server's ``postgres`` database;
``BENCH_REDIS_URL``); without them it says so and prints the figures as ``nan``. Options:
``BENCH_KEEP=1`` keeps the temporary directory (every process's log) and the database;
``BENCH_REUSE=1`` keeps the generated sandbox DMS data and the seeded database (as the template
``bench_load_template_<scale>``) for the next run: for tuning, the set-up then takes a few minutes;
``BENCH_DURATION`` sets the seconds of load (default 300 x the scale, at least 20);
``BENCH_PG_LOG_MS=<n>`` has PostgreSQL log the bench database's statements slower than n ms, with
their plans (``auto_explain``), in the server's log. The web server's settings come from the
environment as in production (``WEB_CONCURRENCY``, ``THREADS``, ``DB_POOL_SIZE``...), so
``WEB_CONCURRENCY=3 THREADS=8 .venv/bin/python tests/bench/load.py`` measures those. The pull
workers are one (``PULL_WORKERS``, default 1 here), as the README's Sizing says for a 2-core machine
that also holds the web and PostgreSQL: a large location's full pull keeps about 1.4 cores busy
(its worker, its reading process, PostgreSQL, the DMS), so two at once leave the staff's requests
queueing for the CPU (the README has the figures of both);
``PULL_WORKERS=2 .venv/bin/python tests/bench/load.py`` measures two.

The stack runs as in production: gunicorn (``gunicorn wsgi:app`` with the repository's
``gunicorn.conf.py``), PostgreSQL (database ``bench_load``, created here and dropped at the end),
Redis database ``BENCH_REDIS_DB`` (default 13; flushed, and refused while RQ workers are registered
there), the RQ workers and the scheduler as ``make run`` starts them (:mod:`webapp.runner`), and the
sandbox DMS with the demo's three accounts (CDK over STAR, Karmak over the console dialect,
Dealertrack over OpenTrack) at 110,000 customers each (132,000 vehicles, 88,000 repair orders, ...),
plus two accounts of 100,000 customers (CDK, Dealertrack) for the full pulls.

Set-up: the demo data (``seed_demo``: locations, users, workfiles), then each demo location's portal
filled up to its sandbox account with bulk inserts (COPY) of the sandbox's own records, normalised and
indexed as the app does (95 % of the DMS customers and of their vehicles, 15 % of them drifted from
the DMS): about 104,000 customers and 119,000 assets per location; 42 more staff accounts (advisors
and managers) beside the demo's; every data type of the three locations pulled into the mirror by the
workers; a push backlog (10,000 appointments booked at Northside Ford while its DMS was unreachable,
their pushes queued but held back); ``VACUUM ANALYZE``.

1. The full pulls alone: two more locations (onboarding: DMS data, empty portal and mirror) get a
   Pull now of every data type their DMS delivers; the figure is the time from queueing them to the
   last one's end. Their mirror, its search index and their cursors are then emptied again.
2. The load: 50 simulated staff (Locust, ``tests/bench/load_locust/locustfile.py``, in a
   subprocess), signed in as the demo users and the added ones over 25 s (15 s at a tenth), then,
   with think times, doing what service staff do all morning: type-ahead searches of customers,
   assets and the DMS tab (a request per keystroke, as htmx sends them), customer and asset pages,
   sync wizards to the end (mostly on records the pulls found different from the DMS), booking,
   rescheduling and cancelling appointments, repair orders and DMS Activity, receipts added and
   exported. Once everyone is signed in, the same full pulls start again and the push backlog is
   released. The load lasts 5 minutes from there, longer if the pulls are still running (it then
   ends with them).

Figures, over the requests sent once everyone had signed in: p95 of the live-search fragments, of
full pages (boosted or not), and of sync-wizard requests (start, its page, steps, write-back status);
``error_rate`` = failed requests / all requests, sign-ins included (any 5xx, any 4xx the flow did not
expect, a connection error, or an answer without what the flow needs); ``pull_slowdown`` = the full
pulls' time under load / alone. Printed before: each category's p50/p95/p99, every request's, the
failures, the pulls' runs, the backlog, and the CPU each part of the stack used in both phases.
Targets on a 2-core machine: search p95 <= 150 ms, page p95 <= 300 ms, wizard step p95 <= 300 ms,
error rate 0, pulls at most 1.5 x slower. Progress goes to stderr. Last line:
``users=50 search_p95_ms=<n> page_p95_ms=<n> wizard_step_p95_ms=<n> error_rate=<n> pull_slowdown=<n>``.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
REUSE = os.environ.get("BENCH_REUSE") == "1"
USERS = 50
DURATION = float(os.environ.get("BENCH_DURATION") or max(20.0, 300.0 * SCALE))  # seconds of load
RAMP = max(15.0, min(25.0, DURATION / 12))  # seconds to sign everyone in (not part of the figures)
BUSY_CUSTOMERS = max(1000, int(110_000 * SCALE))  # per demo account (busy location)
PULL_CUSTOMERS = max(1000, int(100_000 * SCALE))  # per account pulled in full
BACKLOG = max(100, int(10_000 * SCALE))  # appointment pushes queued before the load
PORTAL_DMS_ONLY = 0.05  # DMS customers and vehicles left out of the portal (the DMS tab's "add")
PORTAL_DRIFT = 0.15  # portal records differing from the DMS (the wizards have work to do)
SEED = 42  # the sandbox's seed (as make run's)
DB_NAME = "bench_load"
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "13")
CACHE = Path(tempfile.gettempdir()) / "bench-load-cache"
PG_LOG_MS = os.environ.get("BENCH_PG_LOG_MS")
PASSWORD = "demo-password"

#: Sandbox accounts: (code, vendor, customers, protocol). The first three are the demo's.
BUSY_ACCOUNTS = (
    ("demo-cdk", "cdk", BUSY_CUSTOMERS, "star"),
    ("demo-karmak", "karmak", BUSY_CUSTOMERS, "console"),
    ("demo-dealertrack", "dealertrack", BUSY_CUSTOMERS, "opentrack"),
)
PULL_ACCOUNTS = (
    ("pull-cdk", "cdk", PULL_CUSTOMERS, "star"),
    ("pull-dealertrack", "dealertrack", PULL_CUSTOMERS, "opentrack"),
)
PULL_LOCATIONS = (
    ("PNW", "Northgate Ford (onboarding)", "pull-cdk"),
    ("PES", "Eastgate Chevrolet (onboarding)", "pull-dealertrack"),
)
BACKLOG_LOCATION = "NSF"
#: Simulated staff per demo location: (location code, role, how many). Demo users come first.
STAFF = (
    ("NSF", "advisor", 15),
    ("NSF", "manager", 3),
    ("ESC", "advisor", 14),
    ("ESC", "manager", 2),
    ("MTC", "advisor", 14),
    ("MTC", "manager", 2),
)
DEMO_STAFF = {
    "advisor@demo.test": ("NSF", "advisor"),
    "manager@demo.test": ("NSF", "manager"),
    "eastside.advisor@demo.test": ("ESC", "advisor"),
    "eastside.manager@demo.test": ("ESC", "manager"),
    "metro.advisor@demo.test": ("MTC", "advisor"),
}
SAMPLES = 1500  # records per location handed to the simulated staff (what they look up)

T0 = time.monotonic()


def log(message: str) -> None:
    """Progress, to stderr."""
    print(f"[bench load {time.monotonic() - T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --------------------------------------------------------------------------- environment
def pg_admin():
    from sqlalchemy import create_engine

    return create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")


def db_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)


def template_name() -> str:
    return f"bench_load_template_{str(SCALE).replace('.', '_')}"


def create_database() -> bool:
    """Create ``bench_load`` (dropped first); from the template when reusing one. True when it
    was made from the template (already seeded)."""
    from sqlalchemy import text

    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template_name()})
        if REUSE and exists:
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{template_name()}"'))
            log(f"database {DB_NAME}: copied from {template_name()} (BENCH_REUSE)")
            seeded = True
        else:
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
            seeded = False
        if PG_LOG_MS:
            # Tuning aid: statements slower than this, with their plans, in the server's log.
            for setting in (
                "session_preload_libraries = 'auto_explain'",
                f"log_min_duration_statement = {int(PG_LOG_MS)}",
                f"auto_explain.log_min_duration = {int(PG_LOG_MS)}",
            ):
                conn.execute(text(f'ALTER DATABASE "{DB_NAME}" SET {setting}'))
    admin.dispose()
    return seeded


def save_template() -> None:
    """BENCH_REUSE: keep the seeded database as the next run's template."""
    from sqlalchemy import text

    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{template_name()}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{template_name()}" TEMPLATE "{DB_NAME}"'))
    admin.dispose()
    log(f"kept the seeded database as {template_name()} (BENCH_REUSE)")


def drop_database() -> None:
    from sqlalchemy import text

    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


def credentials_key(fernet) -> str:
    """The key the DMS credentials are stored under: kept with the template when reusing it."""
    if not REUSE:
        return fernet.generate_key().decode()
    kept = CACHE / "credentials-key"
    if not kept.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        kept.write_text(fernet.generate_key().decode())
    return kept.read_text().strip()


def point_at_sandbox(app) -> None:
    """A database copied from the template names the sandbox of the run that made it: this one's."""
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        db.session.execute(
            text(r"UPDATE location SET dms_base_url = regexp_replace(dms_base_url, '^https?://[^/]+', :url)"),
            {"url": app.config["SANDBOX_URL"]},
        )
        db.session.commit()
        db.session.remove()


def environment(tmp: Path, sandbox_port: int, web_port: int) -> dict[str, str]:
    """The stack's environment; this process's os.environ gets the same (before webapp is imported)."""
    from cryptography.fernet import Fernet

    env = os.environ.copy()
    env.update(
        {
            "DATABASE_URL": db_url(DB_NAME),
            "REDIS_URL": f"{REDIS_SERVER}/{REDIS_DB}",
            "INSTANCE_PATH": str(tmp / "instance"),
            "SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
            "SANDBOX_PORT": str(sandbox_port),
            "PORT": str(web_port),
            "SECRET_KEY": "bench-load-" + os.urandom(8).hex(),
            "CREDENTIALS_KEYS": credentials_key(Fernet),
            "FLASK_APP": "wsgi",
            "PULL_WORKERS": os.environ.get("PULL_WORKERS", "1"),
        }
    )
    os.environ.update(
        {
            k: env[k]
            for k in ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "SANDBOX_URL", "SECRET_KEY", "CREDENTIALS_KEYS")
        }
    )
    import redis

    server = redis.Redis.from_url(env["REDIS_URL"])
    if server.scard("rq:workers"):
        raise RuntimeError(
            f"Redis database {REDIS_DB} is in use (RQ workers are registered there): choose another with BENCH_REDIS_DB"
        )
    server.flushdb()
    return env


def sandbox_store(data_dir: Path) -> None:
    """The sandbox DMS's store with every account generated (copied from the cache when reusing)."""
    from connectors.sandbox import generate
    from connectors.sandbox.store import Store

    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / "sandbox.sqlite3"
    cached = CACHE / f"sandbox-{SCALE}.sqlite3"
    if REUSE and cached.exists():
        shutil.copyfile(cached, target)
        log(f"sandbox data copied from {cached} (BENCH_REUSE)")
        return
    started = time.monotonic()
    store = Store(target)
    try:
        for code, vendor, customers, protocol in BUSY_ACCOUNTS + PULL_ACCOUNTS:
            store.ensure_account(code, vendor, customers, SEED, f"sandbox-key-{code}")
            store.update_settings(code, {"protocol": protocol})
            for data_type in generate.GENERATED_TYPES:
                store.ensure_generated(code, data_type)
    finally:
        store.close()
    log(f"sandbox data generated in {time.monotonic() - started:.0f} s")
    if REUSE:
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, cached)


# --------------------------------------------------------------------------- the stack
class Stack:
    """The processes of a production install, each in its own process group, logs under ``logs``."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.base_url = f"http://127.0.0.1:{env['PORT']}"
        self.sandbox_url = env["SANDBOX_URL"]

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs[name] = proc
        return proc

    def start_sandbox(self, data_dir: Path) -> None:
        argv = [sys.executable, "-m", "connectors.sandbox", "--host", "127.0.0.1", "--port", self.env["SANDBOX_PORT"]]
        argv += ["--data-dir", str(data_dir), "--seed", str(SEED), "--rate-limit", "100000000"]
        for code, vendor, customers, protocol in BUSY_ACCOUNTS + PULL_ACCOUNTS:
            argv += ["--account", f"{code}:{vendor}:{customers}:{protocol}"]
        self.start("sandbox", argv)
        self.wait_http(f"{self.sandbox_url}/_control/accounts", "sandbox DMS", 120)

    def start_background(self) -> None:
        """The RQ workers and the scheduler, as ``make run`` starts them."""
        from webapp.runner import scheduler_command, worker_processes

        for name, queues in worker_processes(self.env):
            self.start(name.replace(" ", "-"), [sys.executable, "-m", "jobs.worker", *queues])
        self.start("scheduler", scheduler_command(self.env["REDIS_URL"]))

    def start_web(self) -> None:
        """``gunicorn wsgi:app`` with the repository's gunicorn.conf.py (read from the working directory)."""
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.start("web", [gunicorn, "--bind", f"127.0.0.1:{self.env['PORT']}", "wsgi:app"])
        self.wait_http(f"{self.base_url}/login", "gunicorn", 120)

    def wait_http(self, url: str, what: str, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.logs / (name + '.log')}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None and name != "locust":
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.logs / (name + '.log')}")

    def stop(self, names: list[str] | None = None) -> None:
        """SIGTERM to each process group, then SIGKILL what is left after 20 s."""
        chosen = [n for n in (names or list(self.procs)) if n in self.procs]
        everything = []
        for name in chosen:
            proc = self.procs[name]
            try:
                everything += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.Error:
                pass
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        _gone, alive = psutil.wait_procs(everything, timeout=20)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        for name in chosen:
            proc = self.procs.pop(name)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def groups(self) -> dict[str, list[int]]:
        """Process ids per part of the stack (for the CPU accounting)."""
        parts: dict[str, list[int]] = defaultdict(list)
        for name, proc in list(self.procs.items()):
            part = (
                "web"
                if name == "web"
                else "pull workers"
                if "pulls" in name
                else "push workers"
                if "pushes" in name
                else name
            )
            parts[part].append(proc.pid)
        return parts


class CpuMeter:
    """CPU used by each part of the stack and by PostgreSQL (the bench database's sessions and the
    server's own processes) from its start to :meth:`report`: every process is sampled each second
    (a process that ended is counted up to its last sample), in a thread of this process."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.used: dict[str, float] = defaultdict(float)
        self.seen: dict[int, float] = {}
        self.started = time.monotonic()
        self.machine = psutil.cpu_times()
        self.sample()
        self.used.clear()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(1.0):
            self.sample()

    def _count(self, part: str, proc: psutil.Process) -> None:
        times = proc.cpu_times()
        total = times.user + times.system
        before = self.seen.get(proc.pid)
        self.seen[proc.pid] = total
        if before is not None and total >= before:
            self.used[part] += total - before
        elif before is None and proc.create_time() > time.time() - 1.5:
            self.used[part] += total  # started since the last sample

    def sample(self) -> None:
        for part, pids in self.stack.groups().items():
            for pid in pids:
                try:
                    top = psutil.Process(pid)
                    for proc in (top, *top.children(recursive=True)):
                        self._count(part, proc)
                except psutil.Error:
                    continue
        for proc in psutil.process_iter(["name", "cmdline"]):
            try:
                if proc.info["name"] != "postgres":
                    continue
                backend = re.match(r"postgres: \S+ (\S+) \S+\(\d+\)", " ".join(proc.info["cmdline"] or []))
                if backend and backend.group(1) != DB_NAME:
                    continue  # a session of another database (other work on this server)
                self._count("postgres", proc)
            except psutil.Error:
                continue

    def report(self, label: str) -> str:
        self.stopping.set()
        self.thread.join()
        self.sample()
        wall = time.monotonic() - self.started
        machine = psutil.cpu_times()
        busy = sum(getattr(machine, f) - getattr(self.machine, f) for f in ("user", "system", "nice", "irq", "softirq"))
        ours = sum(self.used.values())
        parts = sorted(self.used.items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{part} {seconds / wall:.2f}" for part, seconds in parts if seconds / wall >= 0.005)
        return (
            f"{label}: CPU cores used over {wall:.0f} s: {text}; the machine {busy / wall:.2f} of "
            f"{psutil.cpu_count()} (other work {max(0.0, busy - ours) / wall:.2f})"
        )


# --------------------------------------------------------------------------- seeding
def bulk_portal(conn, location, account: tuple, taken: dict[str, set[str]], rng: random.Random) -> tuple[int, int]:
    """Fill a demo location's portal up to its sandbox account: customers and their vehicles, as the
    app stores them (normalised, sort names, search tokens), by COPY. Returns (customers, assets)."""
    from sqlalchemy import text

    from connectors.sandbox.generate import generate
    from webapp.demo import _drift, demo_last_synced
    from webapp.domain.fields import portal_values
    from webapp.domain.search_tokens import ASSET, CUSTOMER
    from webapp.models import Asset, Customer
    from webapp.services.search_index import normalise_asset, normalise_customer, tokens_of_asset, tokens_of_customer

    code, vendor, customers, _protocol = account
    now = datetime.now(UTC)
    raw = conn.connection.dbapi_connection
    next_customer = conn.scalar(text("SELECT coalesce(max(id), 0) FROM customer")) + 1
    next_asset = conn.scalar(text("SELECT coalesce(max(id), 0) FROM asset")) + 1

    def columns(model, values: dict) -> tuple:
        return tuple(values.get(c.name) for c in model.__table__.columns)

    def copy(table: str, names: list[str], rows: list[tuple]) -> None:
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({", ".join(names)}) FROM STDIN') as out:
            for row in rows:
                out.write_row(row)

    customer_names = [c.name for c in Customer.__table__.columns]
    asset_names = [c.name for c in Asset.__table__.columns]
    portal_ids = dict(
        conn.execute(text("SELECT dms_id, id FROM customer WHERE location_id = :l"), {"l": location.id}).all()
    )
    made_customers = made_assets = 0
    batch: list[tuple] = []
    tokens: list[tuple] = []

    def flush(table: str, names: list[str], scope_rows: list[tuple]) -> None:
        copy(table, names, batch)
        copy("search_token", ["scope", "location_id", "token", "record_id"], scope_rows)
        batch.clear()
        scope_rows.clear()

    base = {"location_id": location.id, "version": 1, "created_at": now, "updated_at": now, "country": "US"}
    for dms_id, _ref, _search, fields, _modified in generate(SEED, code, vendor, "customers", customers):
        if dms_id in taken["customers"] or rng.random() < PORTAL_DMS_ONLY:
            continue
        values = portal_values("customers", fields)
        if rng.random() < PORTAL_DRIFT:
            _drift(rng, values)
        record = SimpleNamespace(**{**base, **values, "id": next_customer, "dms_id": dms_id, "sort_name": None})
        record.last_synced_at = demo_last_synced(rng, now)
        record.country = record.country or "US"
        normalise_customer(record)
        batch.append(columns(Customer, vars(record)))
        tokens.extend((CUSTOMER, location.id, token, record.id) for token in tokens_of_customer(record))
        portal_ids[dms_id] = record.id
        next_customer += 1
        made_customers += 1
        if len(batch) >= 5000:
            flush("customer", customer_names, tokens)
    if batch:
        flush("customer", customer_names, tokens)
    for dms_id, _ref, _search, fields, _modified in generate(SEED, code, vendor, "vehicles", customers):
        owner = portal_ids.get(fields.get("owner_dms_id"))
        if dms_id in taken["vehicles"] or owner is None or rng.random() < PORTAL_DMS_ONLY:
            continue
        values = portal_values("vehicles", fields)
        if rng.random() < PORTAL_DRIFT:  # the portal's copy is older: lower mileage, or another plate
            if values.get("mileage") and rng.random() < 0.7:
                values["mileage"] = max(0, values["mileage"] - rng.randint(500, 15000))
            else:
                values["license_plate"] = f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}{rng.randint(1000, 99999)}"
        record = SimpleNamespace(
            **{**base, **values, "id": next_asset, "dms_id": dms_id, "customer_id": owner, "vin_valid": None}
        )
        record.last_synced_at = demo_last_synced(rng, now)
        record.oem_build_data = None
        normalise_asset(record)
        batch.append(columns(Asset, vars(record)))
        tokens.extend((ASSET, location.id, token, record.id) for token in tokens_of_asset(record))
        next_asset += 1
        made_assets += 1
        if len(batch) >= 5000:
            flush("asset", asset_names, tokens)
    if batch:
        flush("asset", asset_names, tokens)
    conn.execute(text("SELECT setval('customer_id_seq', :v)"), {"v": next_customer})
    conn.execute(text("SELECT setval('asset_id_seq', :v)"), {"v": next_asset})
    return made_customers, made_assets


def seed(app) -> None:
    """Demo data, the busy locations' portals at full size, the onboarding locations, more staff."""
    from sqlalchemy import select

    from connectors.sandbox.testing import connection_settings
    from webapp.demo import seed_demo
    from webapp.extensions import db
    from webapp.models import Asset, Customer, Location, Role, SyncMode, User

    with app.app_context():
        created = seed_demo()
        log(f"demo data: {created}")
        rng = random.Random(7)
        for account in BUSY_ACCOUNTS:
            location = db.session.scalar(select(Location).where(Location.dms_account == account[0]))
            taken = {
                "customers": set(
                    db.session.scalars(select(Customer.dms_id).where(Customer.location_id == location.id))
                ),
                "vehicles": set(db.session.scalars(select(Asset.dms_id).where(Asset.location_id == location.id))),
            }
            started = time.monotonic()
            with db.engine.begin() as conn:
                made = bulk_portal(conn, location, account, taken, rng)
            log(
                f"{location.code}: {made[0]:,} customers and {made[1]:,} assets added "
                f"in {time.monotonic() - started:.0f} s"
            )
        sandbox = app.config["SANDBOX_URL"]
        for code, name, account in PULL_LOCATIONS:
            vendor, protocol = next((a[1], a[3]) for a in PULL_ACCOUNTS if a[0] == account)
            dms = connection_settings(sandbox, account, protocol, f"sandbox-key-{account}")
            db.session.add(
                Location(
                    code=code,
                    name=name,
                    timezone="America/Chicago",
                    brands=["Ford"] if vendor == "cdk" else ["Chevrolet"],
                    dms_vendor=vendor,
                    dms_protocol=dms["protocol"],
                    dms_base_url=dms["base_url"],
                    dms_account=account,
                    dms_credentials=dms["credentials"],
                    sync_mode=SyncMode.REVIEW,
                    is_active=False,
                )
            )
        template = db.session.scalar(select(User).where(User.email == "advisor@demo.test"))
        roles = {"advisor": Role.SERVICE_ADVISOR, "manager": Role.SERVICE_MANAGER}
        locations = {loc.code: loc for loc in db.session.scalars(select(Location))}
        demo_count = defaultdict(int)
        for _email, (code, role) in DEMO_STAFF.items():
            demo_count[(code, role)] += 1
        for code, role, count in STAFF:
            for n in range(1, count - demo_count[(code, role)] + 1):
                db.session.add(
                    User(
                        email=f"{role}{n:02d}.{code.lower()}@bench.test",
                        name=f"Bench {role.title()} {code} {n:02d}",
                        role=roles[role],
                        location_id=locations[code].id,
                        password_hash=template.password_hash,  # the demo password
                    )
                )
        db.session.commit()


def settle(engine) -> None:
    """VACUUM ANALYZE (what autovacuum does soon after a bulk load), until the search index's pages
    are marked all-visible (index-only scans then skip the table)."""
    from sqlalchemy import text

    started = time.monotonic()
    visible = "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class WHERE relname = 'search_token'"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        for _ in range(5):
            if conn.scalar(text(visible)) >= 0.99:
                break
            time.sleep(3)
            conn.execute(text("VACUUM search_token"))
    log(f"VACUUM ANALYZE in {time.monotonic() - started:.0f} s")


def samples(app) -> dict:
    """What each location's staff look up: random customers and assets, DMS-only records, and
    records that differ from the DMS (the pulls flagged them: what staff run the sync wizard on)."""
    from sqlalchemy import Text, and_, cast, func, select

    from webapp.extensions import db
    from webapp.models import Asset, Customer, DmsRecord, Location, User

    out: dict = {"locations": {}, "users": []}
    with app.app_context():
        for account in BUSY_ACCOUNTS:
            location = db.session.scalar(select(Location).where(Location.dms_account == account[0]))
            customers = db.session.execute(
                select(
                    Customer.id,
                    Customer.first_name,
                    Customer.last_name,
                    Customer.company_name,
                    Customer.is_business,
                    Customer.phone,
                    Customer.email,
                    Customer.dms_id,
                )
                .where(Customer.location_id == location.id)
                .order_by(func.random())
                .limit(SAMPLES)
            ).all()
            assets = db.session.execute(
                select(Asset.id, Asset.vin, Asset.license_plate, Asset.unit_number, Asset.year, Asset.make, Asset.model)
                .where(Asset.location_id == location.id)
                .order_by(func.random())
                .limit(SAMPLES)
            ).all()
            drift = func.coalesce(cast(DmsRecord.drift_fields, Text), "null").not_in(["null", "[]"])
            drifted = {}
            for model, data_type in ((Customer, "customers"), (Asset, "vehicles")):
                mirror = and_(
                    DmsRecord.location_id == model.location_id,
                    DmsRecord.data_type == data_type,
                    DmsRecord.dms_id == model.dms_id,
                )
                drifted[data_type] = list(
                    db.session.scalars(
                        select(model.id)
                        .join(DmsRecord, mirror)
                        .where(model.location_id == location.id, drift)
                        .order_by(func.random())
                        .limit(SAMPLES // 3)
                    )
                )
            portal = select(Customer.dms_id).where(Customer.location_id == location.id, Customer.dms_id.is_not(None))
            dms_only = db.session.execute(
                select(DmsRecord.dms_id, DmsRecord.name_key)
                .where(
                    DmsRecord.location_id == location.id,
                    DmsRecord.data_type == "customers",
                    DmsRecord.dms_id.not_in(portal),
                )
                .limit(200)
            ).all()
            out["locations"][location.code] = {
                "vendor": location.dms_vendor,
                "customers": [list(r) for r in customers],
                "assets": [list(r) for r in assets],
                "dms_only": [list(r) for r in dms_only],
                "drifted_customers": drifted["customers"],
                "drifted_assets": drifted["vehicles"],
            }
        staff = dict(DEMO_STAFF)
        for email in db.session.scalars(select(User.email).where(User.email.like("%@bench.test")).order_by(User.id)):
            local = email.split("@")[0]  # "advisor03.nsf"
            staff[email] = (local.split(".")[1].upper(), local.split(".")[0].rstrip("0123456789"))
        for email, (code, role) in staff.items():
            out["users"].append({"email": email, "password": PASSWORD, "location": code, "role": role})
    return out


# --------------------------------------------------------------------------- pulls and pushes
def pull_types(location) -> list[str]:
    """Every data type the location's DMS delivers (scheduled or on demand): a full pull's."""
    import connectors

    return [data_type for data_type, mode in connectors.get_profile(location.dms_vendor).pull.items() if mode.available]


def locations_by_code(codes) -> list:
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Location

    return list(db.session.scalars(select(Location).where(Location.code.in_(list(codes))).order_by(Location.id)))


def start_pulls(app, codes) -> list[int]:
    """Pull now of every data type of these locations (a run the scheduler queued a moment before
    stands in for one); returns the runs' ids."""
    from webapp.models import RunTrigger
    from webapp.services.runs import active_run, enqueue_pull

    ids = []
    with app.app_context():
        for location in locations_by_code(codes):
            for data_type in pull_types(location):
                run = enqueue_pull(location.id, data_type, RunTrigger.MANUAL) or active_run(location.id, data_type)
                ids.append(run.id)
    return ids


def runs_state(app, ids: list[int]) -> tuple[bool, float, list]:
    """(all finished, seconds from the first one's queueing to the last one's end so far, rows)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Location, RunStatus, SyncRun

    with app.app_context():
        rows = db.session.execute(
            select(
                Location.code,
                SyncRun.data_type,
                SyncRun.status,
                SyncRun.started_at,
                SyncRun.finished_at,
                SyncRun.fetched,
                SyncRun.error,
            )
            .join(Location, Location.id == SyncRun.location_id)
            .where(SyncRun.id.in_(ids))
        ).all()
        db.session.remove()
    done = all(r.status not in (RunStatus.QUEUED, RunStatus.RUNNING) for r in rows)
    start = min(r.started_at for r in rows)
    end = max((r.finished_at or datetime.now(UTC)) for r in rows)
    return done, (end - start).total_seconds(), rows


def wait_runs(app, ids: list[int], stack: Stack, timeout: float, what: str) -> float:
    """Wait for the runs to end; raise if one did not succeed. Returns their span in seconds."""
    from webapp.models import RunStatus

    deadline = time.monotonic() + timeout
    while True:
        stack.check()
        done, span, rows = runs_state(app, ids)
        if done:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: pulls still running after {timeout:.0f} s")
        time.sleep(1.0)
    failed = [r for r in rows if r.status != RunStatus.SUCCEEDED]
    if failed:
        raise RuntimeError(
            f"{what}: pulls did not succeed: {[(r.code, r.data_type, r.status.value, r.error) for r in failed]}"
        )
    fetched = sum(r.fetched for r in rows)
    log(f"{what}: {len(rows)} pulls, {fetched:,} records in {span:.1f} s ({fetched / span:,.0f}/s)")
    return span


def wait_idle(app, stack: Stack, codes, timeout: float) -> None:
    """After the first pulls: wait for the scheduler's reconciliations of these locations and for
    every run but its regular (incremental) pulls to end."""
    from sqlalchemy import func, select

    from jobs.schedule import RECONCILED_TYPES
    from webapp.extensions import db
    from webapp.models import RunStatus, RunTrigger, SyncRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check()
        with app.app_context():
            ids = [loc.id for loc in locations_by_code(codes)]
            reconciled = db.session.scalar(
                select(func.count(SyncRun.id)).where(
                    SyncRun.location_id.in_(ids),
                    SyncRun.trigger == RunTrigger.RECONCILE,
                    SyncRun.data_type.in_(RECONCILED_TYPES),
                    SyncRun.status == RunStatus.SUCCEEDED,
                )
            )
            active = db.session.scalar(  # the scheduler's own pulls (incremental, minutes apart) go on
                select(func.count(SyncRun.id)).where(
                    SyncRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)), SyncRun.trigger != RunTrigger.SCHEDULE
                )
            )
            db.session.remove()
        if reconciled >= len(ids) * len(RECONCILED_TYPES) and not active:
            return
        time.sleep(2.0)
    log("the reconciliations after the first pulls did not all end in time; going on")


def set_active(app, codes, active: bool) -> None:
    from webapp.extensions import db

    with app.app_context():
        for location in locations_by_code(codes):
            location.is_active = active
        db.session.commit()


def mark_reconciled(app, codes) -> None:
    """Tonight's reconciliation counts as done at the onboarding locations: the scheduler would
    otherwise queue one right after their first pull, in the measured window of one phase only."""
    from jobs.schedule import RECONCILED_TYPES
    from webapp.extensions import db
    from webapp.models import RunStatus, RunTrigger, SyncRun, utcnow

    with app.app_context():
        for location in locations_by_code(codes):
            for data_type in RECONCILED_TYPES:
                now = utcnow()
                db.session.add(
                    SyncRun(
                        location_id=location.id,
                        data_type=data_type,
                        trigger=RunTrigger.RECONCILE,
                        status=RunStatus.SUCCEEDED,
                        started_at=now,
                        finished_at=now,
                    )
                )
        db.session.commit()


def wipe_mirror(app, codes) -> None:
    """Empty the onboarding locations' mirror, its search index and their cursors (the next pull is full again)."""
    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services.search_index import DMS_SCOPES

    with app.app_context():
        ids = [loc.id for loc in locations_by_code(codes)]
        params = {"ids": ids, "scopes": list(DMS_SCOPES.values())}
        db.session.execute(
            text("DELETE FROM search_token WHERE location_id = ANY(:ids) AND scope = ANY(:scopes)"), params
        )
        db.session.execute(text("DELETE FROM dms_record WHERE location_id = ANY(:ids)"), params)
        db.session.execute(text("DELETE FROM sync_cursor WHERE location_id = ANY(:ids)"), params)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("search_token", "dms_record", "sync_cursor"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        db.session.remove()


def make_backlog(app) -> int:
    """BACKLOG appointments booked at the backlog location, their pushes queued but not woken yet
    (released with :func:`release_backlog`). Returns the location's id."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Appointment, Customer, Location, OutboxKind, User
    from webapp.outbox import WAKE_KEY, enqueue_push
    from webapp.redis_conn import get_redis

    started = time.monotonic()
    with app.app_context():
        location = db.session.scalar(select(Location).where(Location.code == BACKLOG_LOCATION))
        advisor = db.session.scalar(select(User).where(User.email == "advisor@demo.test"))
        get_redis().set(WAKE_KEY.format(location.id), 99, ex=3600)  # no delivery until released
        customers = list(
            db.session.scalars(
                select(Customer.id).where(Customer.location_id == location.id).order_by(func.random()).limit(BACKLOG)
            )
        )
        rng = random.Random(11)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for start in range(0, len(customers), 500):
            for customer_id in customers[start : start + 500]:
                at = now + timedelta(days=rng.randint(2, 60), hours=rng.randint(0, 9))
                appointment = Appointment(
                    location_id=location.id,
                    customer_id=customer_id,
                    advisor_id=advisor.id,
                    scheduled_at=at,
                    opcodes=["LOF"],
                    notes="Booked during the DMS outage",
                    created_by_id=advisor.id,
                )
                db.session.add(appointment)
                db.session.flush()
                enqueue_push(
                    db.session,
                    location,
                    OutboxKind.APPOINTMENT_CREATE,
                    appointment,
                    payload={"scheduled_at": at.isoformat(), "opcodes": ["LOF"]},
                    advisor_id=advisor.id,
                    user_id=advisor.id,
                )
            db.session.commit()
        location_id = location.id
        db.session.remove()
    log(
        f"push backlog: {len(customers):,} appointment pushes queued at {BACKLOG_LOCATION} "
        f"in {time.monotonic() - started:.0f} s"
    )
    return location_id


def release_backlog(app, location_id: int) -> None:
    from webapp.outbox import WAKE_KEY, wake
    from webapp.redis_conn import get_redis

    with app.app_context():
        get_redis().delete(WAKE_KEY.format(location_id))
        wake(location_id)


def backlog_left(app, location_id: int) -> int:
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import OutboxMessage, OutboxStatus

    with app.app_context():
        left = db.session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.location_id == location_id,
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            )
        )
        db.session.remove()
    return left


# --------------------------------------------------------------------------- the load
def run_load(app, stack: Stack, tmp: Path, backlog_location: int) -> dict:
    """Locust in a subprocess; the pulls and the backlog start once everyone is signed in."""
    config = samples(app)
    request_log = tmp / "requests.jsonl"
    config.update({"request_log": str(request_log), "seed": SEED, "scale": SCALE})
    config_path = tmp / "locust-config.json"
    config_path.write_text(json.dumps(config, default=str))
    cpu = CpuMeter(stack)
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "tests" / "bench" / "load_locust" / "locustfile.py")]
    argv += ["--headless", "--users", str(USERS), "--spawn-rate", f"{USERS / RAMP:.2f}", "--host", stack.base_url]
    argv += [
        "--run-time",
        f"{int(DURATION * 4 + 900)}s",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
    ]
    locust = stack.start("locust", argv, env={**stack.env, "BENCH_LOAD_CONFIG": str(config_path)})
    signing_in = time.monotonic()
    log(f"load: {USERS} users signing in over {RAMP:.0f} s, then {DURATION:.0f} s of work")
    while time.monotonic() - signing_in < RAMP + 2:
        stack.check()
        if locust.poll() is not None:
            raise RuntimeError(f"locust exited with code {locust.returncode}; see {stack.logs / 'locust.log'}")
        time.sleep(0.5)
    measured_from = time.time()
    set_active(app, [c for c, _n, _a in PULL_LOCATIONS], True)
    ids = start_pulls(app, [c for c, _n, _a in PULL_LOCATIONS])
    release_backlog(app, backlog_location)
    started = time.monotonic()
    log(f"load: {len(ids)} full pulls started and the push backlog released")
    pulls_done_at = None
    backlog_done_at = None
    span = 0.0
    last_note = time.monotonic()
    while True:
        stack.check()
        if locust.poll() is not None:
            raise RuntimeError(f"locust exited with code {locust.returncode}; see {stack.logs / 'locust.log'}")
        elapsed = time.monotonic() - started
        if pulls_done_at is None:
            done, span, rows = runs_state(app, ids)
            if done:
                pulls_done_at = elapsed
                log(f"load: the full pulls ended after {span:.1f} s")
        if backlog_done_at is None and time.monotonic() - last_note >= 10:
            left = backlog_left(app, backlog_location)
            if left == 0:
                backlog_done_at = elapsed
            log(
                f"load: {elapsed:.0f} s, push backlog left {left:,}, "
                f"pulls {'done' if pulls_done_at else f'running ({span:.0f} s)'}"
            )
            last_note = time.monotonic()
        if elapsed >= DURATION and pulls_done_at is not None:
            break
        if elapsed >= DURATION + max(600.0, 2 * DURATION):
            log("load: stopping although the pulls have not ended (their figure is a lower bound)")
            break
        time.sleep(1.0)
    locust.send_signal(signal.SIGTERM)
    try:
        locust.wait(timeout=60)
    except subprocess.TimeoutExpired:
        locust.kill()
    load_seconds = time.monotonic() - started
    log(cpu.report("under load"))
    stack.procs.pop("locust", None)
    _done, span, rows = runs_state(app, ids)
    left = backlog_left(app, backlog_location)
    return {
        "pull_seconds": span,
        "pull_rows": rows,
        "load_seconds": load_seconds,
        "backlog_left": left,
        "backlog_done_at": backlog_done_at,
        "request_log": request_log,
        "measured_from": measured_from,
    }


def summarise(request_log: Path, load_seconds: float, measured_from: float) -> dict:
    """The figures from the per-request log the locustfile wrote: latencies of the requests sent
    once everyone had signed in, the error rate over every request (sign-ins included)."""
    by_cat: dict[str, list[float]] = defaultdict(list)
    by_name: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    examples: dict[str, str] = {}
    total = failed = 0
    for line in request_log.read_text().splitlines():
        cat, name, ms, ok, status, error, at = json.loads(line)
        total += 1
        if at >= measured_from:
            by_cat[cat].append(ms)
            by_name[f"{cat:6} {name}"].append(ms)
        if not ok:
            failed += 1
            key = f"{name} [{status}]"
            failures[key] += 1
            examples.setdefault(key, error or "")
    measured = sum(len(v) for v in by_cat.values())
    log(
        f"{total:,} requests, {failed} failed; {measured:,} once everyone had signed in, in {load_seconds:.0f} s "
        f"({measured / max(load_seconds, 1):.1f}/s):"
    )
    for cat in ("search", "page", "wizard", "other"):
        values = by_cat.get(cat, [])
        log(
            f"  {cat:6}: n={len(values):6,} p50={percentile(values, 0.5):7.1f} ms p95={p95(values):7.1f} ms "
            f"p99={percentile(values, 0.99):7.1f} ms max={max(values, default=float('nan')):7.1f} ms"
        )
    print("per request (ms): count p50 p95 max", file=sys.stderr)
    for name, values in sorted(by_name.items()):
        print(
            f"  {name:70} {len(values):6} {percentile(values, 0.5):7.1f} {p95(values):7.1f} {max(values):7.1f}",
            file=sys.stderr,
        )
    for key, count in sorted(failures.items(), key=lambda kv: -kv[1])[:25]:
        log(f"  failed x{count}: {key}: {examples[key][:300]}")
    return {
        "search": p95(by_cat.get("search", [])),
        "page": p95(by_cat.get("page", [])),
        "wizard": p95(by_cat.get("wizard", [])),
        "error_rate": failed / total if total else float("nan"),
    }


def servers_missing() -> str | None:
    """Why the bench cannot run here (no PostgreSQL or Redis server to use), or None."""
    import redis
    from sqlalchemy.exc import OperationalError

    try:
        with pg_admin().connect():
            pass
    except OperationalError as exc:
        return f"PostgreSQL not reachable at {PG_SERVER} ({type(exc).__name__})"
    try:
        redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_SERVER} ({exc})"
    return None


def main() -> None:
    missing = servers_missing()
    if missing:
        print(f"skipped: {missing}")
        print(
            f"users={USERS} search_p95_ms=nan page_p95_ms=nan wizard_step_p95_ms=nan error_rate=nan pull_slowdown=nan"
        )
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    stack: Stack | None = None
    try:
        env = environment(tmp, free_port(), free_port())
        log(
            f"scale {SCALE}: {BUSY_CUSTOMERS:,} customers per busy location, {PULL_CUSTOMERS:,} per pulled one, "
            f"{USERS} users for {DURATION:.0f} s, {env['PULL_WORKERS']} pull worker(s); "
            f"logs in {tmp / 'logs'}"
        )
        sandbox_store(tmp / "sandbox")
        stack = Stack(env, tmp / "logs")
        stack.start_sandbox(tmp / "sandbox")
        seeded = create_database()
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        from webapp import create_app
        from webapp.extensions import db

        app = create_app()
        if seeded:
            point_at_sandbox(app)
        else:
            seed(app)
            with app.app_context():
                db.engine.dispose()
            if REUSE:
                save_template()
        pulled = [c for c, _n, _a in PULL_LOCATIONS]
        busy = ["NSF", "MTC", "ESC"]
        stack.start_background()
        stack.start_web()
        started = time.monotonic()
        wait_runs(app, start_pulls(app, busy), stack, 7200, "set-up: the busy locations' first pulls")
        wait_idle(app, stack, busy, 600)
        log(f"set-up pulls and reconciliations in {time.monotonic() - started:.0f} s")
        mark_reconciled(app, pulled)
        # The backlog built up while the DMS could not be reached: it is in the tables (and their
        # statistics) before anything is measured, and released when the load starts.
        backlog_location = make_backlog(app)
        with app.app_context():
            settle(db.engine)
            db.session.remove()

        cpu = CpuMeter(stack)
        set_active(app, pulled, True)
        alone = wait_runs(app, start_pulls(app, pulled), stack, 7200, "pulls alone")
        log(cpu.report("pulls alone"))
        set_active(app, pulled, False)
        wipe_mirror(app, pulled)

        result = run_load(app, stack, tmp, backlog_location)
        under = result["pull_seconds"]
        log(f"pulls under load: {under:.1f} s (alone {alone:.1f} s)")
        for row in sorted(result["pull_rows"], key=lambda r: (r.code, r.started_at)):
            took = ((row.finished_at or datetime.now(UTC)) - row.started_at).total_seconds()
            log(
                f"  {row.code} {row.data_type:15} {row.status.value:9} {row.fetched:8,} records, "
                f"{took:6.1f} s from queueing"
            )
        sent = BACKLOG - result["backlog_left"]
        log(
            f"push backlog: {sent:,} of {BACKLOG:,} sent"
            + (f", drained {result['backlog_done_at']:.0f} s into the load" if result["backlog_done_at"] else "")
        )
        figures = summarise(result["request_log"], result["load_seconds"], result["measured_from"])
        for name in ("web",):
            errors = (stack.logs / f"{name}.log").read_text(errors="replace").count("Traceback")
            if errors:
                log(f"{name}.log has {errors} tracebacks")
        met = (
            figures["search"] <= 150
            and figures["page"] <= 300
            and figures["wizard"] <= 300
            and figures["error_rate"] == 0
            and under / alone <= 1.5
        )
        print(
            f"targets {'met' if met else 'NOT met'}: search p95 <= 150 ms, page p95 <= 300 ms, "
            "wizard step p95 <= 300 ms, no errors, pulls <= 1.5x"
        )
        print(
            f"users={USERS} search_p95_ms={figures['search']:.0f} page_p95_ms={figures['page']:.0f} "
            f"wizard_step_p95_ms={figures['wizard']:.0f} error_rate={figures['error_rate']:.4f} "
            f"pull_slowdown={under / alone:.2f}"
        )
    finally:
        if stack is not None:
            stack.stop()
        if KEEP:
            log(f"kept the database {DB_NAME} (BENCH_KEEP; dropped by the next run)")
        else:
            try:
                drop_database()
            except Exception as exc:  # the figures are printed; say what was left behind
                log(f"could not drop {DB_NAME}: {exc}")
        try:
            import redis

            redis.Redis.from_url(f"{REDIS_SERVER}/{REDIS_DB}").flushdb()
        except Exception as exc:
            log(f"could not flush Redis database {REDIS_DB}: {exc}")
        if KEEP:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
