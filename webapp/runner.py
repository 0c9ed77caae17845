"""``make run``: everything the console needs, in one command, kept running.

Starts (when not configured to use existing servers) an embedded Redis, applies the
database migrations, loads the demo data into an empty database, then runs the sandbox
DMS, the RQ workers (see :func:`worker_processes`), the scheduler (:func:`scheduler_command`) and
the web server under a small supervisor:

- a child that exits (crash, kill, out of memory) is started again after a back-off
  (1 s, doubling up to 60 s; back to 1 s once it has run for a minute), and each exit and
  restart is logged (``[make run] worker exited with code -9; restarting in 1 s``);
- when Redis restarts — the embedded one, or a separate server (``REDIS_URL``, noticed by
  its changed run id within ``REDIS_CHECK_EVERY`` seconds) — its dependants (the workers and
  the scheduler, whose registrations and connections lived in the old server) are restarted;
- every child runs in its own process group, and ``make run`` is a child subreaper (Linux),
  so processes a child leaves behind (RQ's work-horses run in groups of their own) stay
  its descendants: Ctrl-C, SIGTERM or SIGHUP stops every one of them — politely first
  (SIGTERM), then SIGKILL after ``STOP_TIMEOUT`` seconds — Redis last. Children also get
  SIGTERM from the kernel if ``make run`` itself is killed outright.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis

from webapp.config import INSTANCE_DIR, ROOT, SANDBOX_PORT, sandbox_url
from webapp.redis_conn import die_with_parent, prctl, start_embedded_redis

PY = sys.executable
BIN = Path(PY).parent
PR_SET_CHILD_SUBREAPER = 36
STOP_TIMEOUT = 10.0
REDIS_CHECK_EVERY = 5.0


def worker_processes(env: dict[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    """The RQ worker processes ``make run`` starts: (name, queues served in order).

    Pulls and the interactive work (pushes, related-RO lookups, exports) have workers of their
    own, ``PULL_WORKERS`` and ``INTERACTIVE_WORKERS`` of each (default 2): a run holds the DMS
    of its location alone (webapp.services.locks.LocationSlot), so a DMS that hangs holds one pull worker
    and the other keeps every other location's pulls moving; a push to a hung DMS holds one
    interactive worker for at most its call time-out. Every worker also serves the scheduler's
    quick maintenance jobs (the due-pull dispatch, the heartbeat), first."""
    from webapp.services.queues import LOOKUPS, MAINTENANCE, PULLS, PUSHES

    pulls = max(1, int(env.get("PULL_WORKERS", "2")))
    interactive = max(1, int(env.get("INTERACTIVE_WORKERS", "2")))
    return [(f"worker pulls-{n}", (MAINTENANCE, PULLS)) for n in range(1, pulls + 1)] + [
        (f"worker pushes-{n}", (MAINTENANCE, PUSHES, LOOKUPS)) for n in range(1, interactive + 1)
    ]


def scheduler_command(redis_url: str) -> list[str]:
    """The scheduler ``make run`` starts (jobs/scheduler.py): RQ's cron scheduler behind the
    scheduler lock, so a second one started on another machine only stands by."""
    return [PY, "-m", "jobs.scheduler", "--url", redis_url]


def _log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process instead of init (Linux)."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1)


@dataclass
class Child:
    """One supervised process: a command, or ``start()`` for one that needs set-up (Redis)."""

    name: str
    argv: list[str] | None = None
    start: Callable[[], subprocess.Popen] | None = None
    env: dict[str, str] | None = None
    cwd: Path | None = None
    #: Restarted whenever one of these children is restarted.
    after: tuple[str, ...] = ()
    #: Stopped in the last round (Redis: the others deregister through it).
    stop_last: bool = False
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 0.0
    restarts: int = 0

    def launch(self) -> subprocess.Popen:
        """Start the process in a new session (its own process group)."""
        if self.start is not None:
            return self.start()
        return subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, start_new_session=True, preexec_fn=die_with_parent
        )

    @property
    def running(self) -> bool:
        """Started and not exited."""
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Start children, restart the ones that die, stop them all (descendants included)."""

    def __init__(
        self,
        children: list[Child],
        log: Callable[[str], None] = _log,
        backoff_start: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 60.0,
        stop_timeout: float = STOP_TIMEOUT,
        redis_url: str | None = None,
        redis_check_every: float = REDIS_CHECK_EVERY,
    ):
        self.children = children
        self.log = log
        self.backoff_start, self.backoff_max, self.stable_after = backoff_start, backoff_max, stable_after
        self.stop_timeout = stop_timeout
        self.stopping = False
        self.supervising = False
        #: A Redis this supervisor does not run itself: watched for restarts.
        self.redis_url = redis_url
        self.redis_check_every = redis_check_every
        self._redis_client: redis.Redis | None = None
        self._redis_run_id: str | None = None
        self._redis_checked = 0.0

    # ------------------------------------------------------------------ starting
    def start_child(self, child: Child) -> bool:
        """Start ``child``; on failure, schedule a retry (logged)."""
        child.started_at = time.monotonic()
        try:
            child.proc = child.launch()
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            child.proc = None
            self._schedule_restart(child, f"{child.name} could not start ({error})")
            return False
        child.started_at = time.monotonic()
        child.restart_at = None
        return True

    def start_all(self) -> None:
        """Start every child, in order."""
        for child in self.children:
            self.start_child(child)

    def _schedule_restart(self, child: Child, why: str) -> None:
        ran = time.monotonic() - child.started_at if child.started_at else 0.0
        if ran >= self.stable_after or not child.backoff:
            child.backoff = self.backoff_start
        else:
            child.backoff = min(self.backoff_max, child.backoff * 2)
        child.restart_at = time.monotonic() + child.backoff
        self.log(f"{why}; restarting in {child.backoff:g} s")

    def _leftovers(self, child: Child) -> None:
        """Kill what is left of a dead child's process group (e.g. gunicorn's workers)."""
        if child.proc is not None:
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def check(self) -> None:
        """One pass: notice exits, restart children whose back-off has elapsed."""
        now = time.monotonic()
        for child in self.children:
            if self.stopping:
                return
            if child.restart_at is None and child.proc is not None and child.proc.poll() is not None:
                self._leftovers(child)
                self._schedule_restart(child, f"{child.name} exited with code {child.proc.returncode}")
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                if self.start_child(child):
                    self.log(f"{child.name} restarted (pid {child.proc.pid}, restart {child.restarts})")
                    self._restart_dependants(child.name)
        self._watch_redis()
        self._reap_orphans()

    def _watch_redis(self) -> None:
        """A separate Redis server that restarted (new run id): restart what depends on it."""
        if not self.redis_url or self.stopping or time.monotonic() < self._redis_checked + self.redis_check_every:
            return
        self._redis_checked = time.monotonic()
        try:
            if self._redis_client is None:
                self._redis_client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            run_id = self._redis_client.info("server")["run_id"]
        except (redis.RedisError, OSError):
            return  # down: its dependants retry or exit (and are restarted) by themselves
        if self._redis_run_id is not None and run_id != self._redis_run_id:
            self.log("Redis was restarted (its run id changed)")
            self._restart_dependants("redis")
        self._redis_run_id = run_id

    def _restart_dependants(self, restarted: str) -> None:
        dependants = [c for c in self.children if restarted in c.after and c.running]
        if not dependants:
            return
        self.log(
            f"{restarted} restarted: restarting {', '.join(c.name for c in dependants)} "
            "(their connections and registrations were in the old one)"
        )
        self._stop_group(dependants)
        for child in dependants:
            child.backoff = 0.0
            if self.start_child(child):
                self.log(f"{child.name} restarted (pid {child.proc.pid})")

    def _reap_orphans(self) -> None:
        """Collect exited orphans re-parented to us (never our Popen children: they reap themselves)."""
        ours = {c.proc.pid for c in self.children if c.proc is not None}
        try:
            for proc in psutil.Process().children():
                if proc.pid not in ours and proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass

    # ------------------------------------------------------------------ stopping
    def _stop_group(self, children: list[Child]) -> None:
        """SIGTERM each child's process group and its other descendants; SIGKILL what is
        left after ``stop_timeout``; wait for the children."""
        procs: dict[int, psutil.Process] = {}
        for child in children:
            if child.proc is None:
                continue
            try:
                parent = psutil.Process(child.proc.pid)
                for proc in [parent, *parent.children(recursive=True)]:
                    procs[proc.pid] = proc
            except psutil.NoSuchProcess:
                pass
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        # Descendants in groups of their own (RQ work-horses) are left to their parent's
        # shutdown (a worker waits for its job) and killed with the rest after the time-out.
        self._kill_late(list(procs.values()), self.stop_timeout)
        for child in children:
            if child.proc is not None:
                self._leftovers(child)
                try:
                    child.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.proc.kill()

    def _kill_late(self, procs: list, timeout: float) -> None:
        """Wait up to ``timeout`` for ``procs`` to end; kill (and log) those still running."""
        _gone, alive = psutil.wait_procs(procs, timeout=timeout)
        for proc in alive:
            self.log(f"pid {proc.pid} ({_name(proc)}) did not stop in time; killing it")
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)

    def stop_all(self) -> None:
        """Stop everything, Redis last, then any orphan still around."""
        self.stopping = True
        self._stop_group([c for c in self.children if not c.stop_last])
        orphans = []
        try:
            orphans = [
                p
                for p in psutil.Process().children(recursive=True)
                if p.pid not in {c.proc.pid for c in self.children if c.proc is not None}
            ]
        except psutil.Error:
            pass
        for proc in orphans:  # left behind by a child that crashed earlier
            try:
                proc.terminate()
            except psutil.Error:
                pass
        self._kill_late(orphans, min(5.0, self.stop_timeout))
        self._stop_group([c for c in self.children if c.stop_last])
        self._reap_orphans()

    def run(self, poll: float = 0.5, parent_pid: int | None = None) -> int:
        """Supervise until asked to stop (``request_stop``) or the parent process goes away."""
        self.supervising = True
        while not self.stopping:
            if parent_pid is not None and os.getppid() != parent_pid:
                self.log("parent process gone; stopping everything")
                break
            self.check()
            time.sleep(poll)
        return 0

    def request_stop(self, *_args) -> None:
        """Signal handler: leave ``run`` at its next pass."""
        self.stopping = True


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"


def install_stop_signals(supervisor: Supervisor) -> None:
    """Ctrl-C, SIGTERM and SIGHUP all stop every child."""

    def handler(signum, _frame) -> None:
        if not supervisor.stopping:
            supervisor.log(f"{signal.Signals(signum).name} received: stopping")
        supervisor.request_stop()
        if not supervisor.supervising:  # still setting up: leave the set-up step now
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def main() -> int:
    """Set up, start every process, supervise until Ctrl-C / SIGTERM."""
    env = os.environ.copy()
    env.setdefault("FLASK_APP", "wsgi")
    port = env.get("PORT", "5000")
    sandbox_port = env.get("SANDBOX_PORT") or SANDBOX_PORT
    env["SANDBOX_URL"] = sandbox_url(env)  # the web app, the workers and seed-demo all read it
    become_subreaper()
    children: list[Child] = []
    supervisor = Supervisor(children)
    install_stop_signals(supervisor)
    try:
        if not env.get("REDIS_URL"):
            redis_dir = INSTANCE_DIR / "redis"
            redis_child = Child("redis", start=lambda: start_embedded_redis(redis_dir)[0], stop_last=True)
            proc, url = start_embedded_redis(redis_dir)
            redis_child.proc, redis_child.started_at = proc, time.monotonic()
            children.append(redis_child)
            env["REDIS_URL"] = url
            _log(f"embedded Redis started ({url})")
        else:
            supervisor.redis_url = env["REDIS_URL"]
        flask = [PY, "-m", "flask", "--app", "wsgi"]
        subprocess.run(flask + ["db", "upgrade"], env=env, check=True, cwd=ROOT)
        if subprocess.run(flask + ["db-is-empty"], env=env, cwd=ROOT).returncode == 0:
            _log("empty database: loading demo data")
            subprocess.run(flask + ["seed-demo"], env=env, check=True, cwd=ROOT)

        def child(name: str, argv: list[str], after: tuple[str, ...] = ()) -> Child:
            return Child(name, argv=argv, env=env, cwd=ROOT, after=after)

        new = []
        if (ROOT / "connectors" / "sandbox" / "__main__.py").exists():
            new.append(
                child(
                    "sandbox DMS",
                    [
                        PY,
                        "-m",
                        "connectors.sandbox",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        sandbox_port,
                        "--data-dir",
                        str(INSTANCE_DIR / "sandbox"),
                        "--seed",
                        "42",
                        "--account",
                        "demo-cdk:cdk:300:star",
                        "--account",
                        "demo-karmak:karmak:240:console",
                        "--account",
                        "demo-dealertrack:dealertrack:280:opentrack",
                    ],
                )
            )
        for name, queues in worker_processes(env):
            new.append(child(name, [PY, "-m", "jobs.worker", *queues], after=("redis",)))
        new.append(child("scheduler", scheduler_command(env["REDIS_URL"]), after=("redis",)))
        new.append(
            child(
                "web",
                [
                    str(BIN / "gunicorn"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    # Processes and threads: gunicorn.conf.py (WEB_CONCURRENCY, THREADS).
                    "--graceful-timeout",
                    "5",
                    "wsgi:app",
                ],
            )
        )
        children.extend(new)
        for item in new:
            supervisor.start_child(item)
        _log(f"console: http://127.0.0.1:{port}   (Ctrl-C stops everything; a process that stops is restarted)")
        _log(
            "demo sign-ins, password 'demo-password': admin@demo.test, manager@demo.test, "
            "advisor@demo.test, fieldmanager@demo.test, reviewer@demo.test"
        )
        supervisor.run(parent_pid=os.getppid())
        return 0
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        _log(f"set-up step failed: {' '.join(map(str, exc.cmd))}")
        return 1
    finally:
        _log("stopping")
        supervisor.stop_all()


if __name__ == "__main__":
    sys.exit(main())
