"""Shared by the benchmarks that run the whole ``make run`` stack (freshness.py, fleet.py).

What they share: the environment (a temporary instance directory, free ports, a bench database on
the PostgreSQL server of ``DATABASE_URL`` and a bench database number on the Redis of
``REDIS_URL``, or everything embedded), the sandbox DMS accounts seeded before the stack starts,
the stack itself (``python -m webapp.runner`` in its own process group) and the console's database
read through the app's own models. A benchmark imports it as ``_stack`` (run as a script, a
benchmark's folder is first on ``sys.path``). ``make bench`` runs every ``tests/bench/*.py``, this
module too: as a script it does nothing.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T0 = time.monotonic()
SEED = 42  # the runner starts the sandbox with --seed 42


def log(message: str) -> None:
    """Progress, to stderr, named after the benchmark being run."""
    name = Path(sys.argv[0]).stem
    print(f"[bench {name} {time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def interrupt_on_sigterm() -> None:
    """SIGTERM (a time-out, ``kill``) ends the benchmark as Ctrl-C does, so it stops its stack and
    cleans up (a background job started by a shell ignores SIGINT)."""

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- environment
def _server_url(url: str):
    from sqlalchemy.engine import make_url

    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return make_url(url)


def _admin_execute(url: str, statements: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(_server_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def postgres_database(url: str, name: str) -> str:
    """A fresh database ``name`` on the server of ``url`` (dropped first if it exists); its URL."""
    _admin_execute(url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'])
    return _server_url(url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop the database ``url`` names (its connections are ended)."""
    name = _server_url(url).database
    _admin_execute(url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


def redis_database(url: str, number: str) -> str:
    """``url`` pointed at database ``number`` of the same server, flushed."""
    import redis

    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = number
        url = urlunsplit(parts._replace(query=urlencode(query)))
    else:
        url = urlunsplit(parts._replace(path=f"/{number}"))
    redis.Redis.from_url(url).flushdb()
    return url


def prepare_environment(tmp: Path, database: str, redis_db: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The runner's environment (``extra`` added); this process's is set in os.environ (before
    webapp is imported). With ``DATABASE_URL`` (PostgreSQL) set, the stack uses a fresh database
    ``database`` on that server; with ``REDIS_URL`` set, database ``redis_db`` of that Redis,
    flushed; without them everything is embedded, as in ``make run``."""
    env = os.environ.copy()
    env.pop("SANDBOX_URL", None)  # derived from SANDBOX_PORT by the runner
    env.update(
        {
            "INSTANCE_PATH": str(tmp / "instance"),
            "PORT": str(free_port()),
            "SANDBOX_PORT": str(free_port()),
            "FLASK_APP": "wsgi",
            **(extra or {}),
        }
    )
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = postgres_database(env["DATABASE_URL"], database)
        log(f"database: PostgreSQL, database {database} (dropped and created)")
    else:
        env.pop("DATABASE_URL", None)
        log("database: embedded SQLite")
    if env.get("REDIS_URL"):
        env["REDIS_URL"] = redis_database(env["REDIS_URL"], redis_db)
        redis_url = env["REDIS_URL"]
        log(f"Redis: {redis_url} (flushed)")
    else:
        # The runner starts the embedded Redis with its socket here (webapp.redis_conn).
        redis_url = f"unix://{tmp / 'instance' / 'redis' / 'redis.sock'}"
        log("Redis: embedded")
    for name in ("SANDBOX_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    os.environ.update({k: v for k, v in env.items() if k in ("INSTANCE_PATH", "PORT", "SANDBOX_PORT", "DATABASE_URL")})
    os.environ["REDIS_URL"] = redis_url
    return env


def seed_sandbox(data_dir: Path, accounts: Iterable[tuple[str, str, int, str]]) -> None:
    """Add ``accounts`` (code, vendor, customers, protocol) to the sandbox DMS's store, their
    records generated now (the sandbox would otherwise generate them on first use, holding its
    store meanwhile). The runner's sandbox opens the same file and keeps them."""
    from connectors.sandbox import generate
    from connectors.sandbox.store import Store

    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "sandbox.sqlite3")
    try:
        for code, vendor, customers, protocol in accounts:
            store.ensure_account(code, vendor, customers, SEED, f"sandbox-key-{code}")
            store.update_settings(code, {"protocol": protocol})
            for data_type in generate.GENERATED_TYPES:
                store.ensure_generated(code, data_type)
    finally:
        store.close()


# --------------------------------------------------------------------------- the stack
class Stack:
    """``python -m webapp.runner`` in its own process group, its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.runner"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the runner exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/login", timeout=2).status_code == 200 and self.workers():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the console did not answer within {timeout:.0f} s; see {self.log_path}")

    def _worker_processes(self) -> list[tuple[psutil.Process, bool]]:
        """Every live worker process under the runner: (process, is a worker the runner started).

        Work-horses and pull readers are forks of a worker (same command line) whose parent is one."""
        found = []
        try:
            runner = psutil.Process(self.proc.pid)
            for proc in runner.children(recursive=True):
                try:
                    if proc.status() == psutil.STATUS_ZOMBIE or "jobs.worker" not in " ".join(proc.cmdline()):
                        continue
                    parent = proc.parent()
                    top = parent is None or parent.pid == runner.pid or "jobs.worker" not in " ".join(parent.cmdline())
                    found.append((proc, top))
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        return found

    def workers(self) -> list[psutil.Process]:
        """The worker processes the runner started (however many), not their work-horses."""
        return [proc for proc, top in self._worker_processes() if top]

    def scheduler(self) -> psutil.Process | None:
        """The scheduler process the runner started (``python -m jobs.scheduler``, RQ's cron
        scheduler; None while it is not running)."""
        try:
            for proc in psutil.Process(self.proc.pid).children():
                try:
                    command = proc.cmdline()
                    if proc.status() != psutil.STATUS_ZOMBIE and (
                        "jobs.scheduler" in command or "jobs.cron" in command
                    ):
                        return proc
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        return None

    def kill_workers(self) -> tuple[int, int]:
        """SIGKILL every worker and all its descendants (work-horses, pull readers), again until
        none of them is left (a work-horse forked meanwhile). Returns (workers, processes) killed."""
        moment = time.time()
        workers, killed = set(), set()
        for _ in range(20):
            victims = {}
            for proc, top in self._worker_processes():
                try:
                    if proc.create_time() > moment:
                        continue  # started by the supervisor after the kill
                    if top:
                        workers.add(proc.pid)
                    victims[proc.pid] = proc
                    for child in proc.children(recursive=True):
                        victims[child.pid] = child
                except psutil.Error:
                    continue
            if not victims:
                break
            for proc in victims.values():
                try:
                    proc.kill()
                    killed.add(proc.pid)
                except psutil.Error:
                    pass
            time.sleep(0.05)
        return len(workers), len(killed)

    def workers_started_after(self, moment: float) -> int:
        """How many workers the runner started after ``moment`` (time.time()) are running."""
        count = 0
        for proc in self.workers():
            try:
                count += proc.create_time() > moment
            except psutil.Error:
                pass
        return count

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to the runner's group (it stops its children), then SIGKILL whatever is left."""
        if self.proc is None:
            return
        descendants = []
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        for proc in descendants:
            try:
                if proc.is_running():
                    proc.kill()
            except psutil.Error:
                pass
        self._log.close()


# --------------------------------------------------------------------------- console state
class ConsoleApp:
    """The console's database, read and set through its own models (as ``flask shell`` would)."""

    def __init__(self) -> None:
        from webapp import create_app

        self.app = create_app()
        self.ctx = self.app.app_context()
        self.ctx.push()

    def close(self) -> None:
        from webapp.extensions import db

        db.session.remove()
        self.ctx.pop()

    @staticmethod
    def location(code: str):
        from sqlalchemy import select

        from webapp.extensions import db
        from webapp.models import Location

        return db.session.scalar(select(Location).where(Location.code == code))

    def runs(self, code: str | None = None, since: datetime | None = None, data_type: str | None = None) -> list:
        """Sync runs (detached), oldest first: of one location, started since, of one data type."""
        from sqlalchemy import select

        from webapp.extensions import db
        from webapp.models import SyncRun

        query = select(SyncRun).order_by(SyncRun.id)
        if code is not None:
            query = query.where(SyncRun.location_id == self.location(code).id)
        if since is not None:
            query = query.where(SyncRun.started_at >= since)
        if data_type is not None:
            query = query.where(SyncRun.data_type == data_type)
        runs = list(db.session.scalars(query))
        db.session.expunge_all()
        self.done()
        return runs

    @staticmethod
    def done() -> None:
        """End the read transaction (SQLite: a long one would hold the writers' checkpoints back)."""
        from webapp.extensions import db

        db.session.rollback()


if __name__ == "__main__":
    print("tests/bench/_stack.py: shared by the stack benchmarks (freshness.py, fleet.py); nothing to measure")
