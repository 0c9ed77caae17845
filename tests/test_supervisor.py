"""``make run``'s supervisor (webapp/runner.py): a killed child is restarted with back-off and
logged; a Redis restart restarts its dependants; SIGTERM to the process group stops every
child and every grandchild, including those in process groups of their own (RQ work-horses)
and those that ignore SIGTERM.

The supervisor runs in a subprocess of its own (it becomes a child subreaper and installs
signal handlers), with small fake children — and, in the last test, the real embedded Redis
and the real worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]

SUPERVISOR = r"""
import json, sys
from pathlib import Path
from webapp.runner import Child, Supervisor, become_subreaper, install_stop_signals

spec = json.loads(sys.argv[1])
become_subreaper()
children = [Child(c["name"], argv=c["argv"], after=tuple(c.get("after", ())), stop_last=c.get("stop_last", False),
                  env=c.get("env"))
            for c in spec["children"]]
if spec.get("redis_dir"):
    from webapp.redis_conn import start_embedded_redis
    directory = Path(spec["redis_dir"])
    children.insert(0, Child("redis", start=lambda: start_embedded_redis(directory)[0], stop_last=True))
supervisor = Supervisor(children, backoff_start=0.2, backoff_max=1.6, stable_after=30, stop_timeout=2,
                        redis_url=spec.get("redis_url"), redis_check_every=0.2)
install_stop_signals(supervisor)
supervisor.start_all()
print("[make run] started", flush=True)
try:
    supervisor.run(poll=0.1)
finally:
    supervisor.stop_all()
    print("[make run] all stopped", flush=True)
"""

# Writes its pid to a file, then waits.
SLEEPER = "import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(600)"

# Like an RQ worker: forks a "work-horse" into a process group of its own, which ignores SIGTERM.
HORSE_PARENT = r"""
import os, signal, sys, time
pid = os.fork()
if pid == 0:
    os.setpgrp()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[2], 'a').write(f'{os.getpid()}\n')
    time.sleep(600)
    os._exit(0)
open(sys.argv[1], 'a').write(f'{os.getpid()}\n')
time.sleep(600)
"""


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Running:
    """The supervisor subprocess, its log, and the pid files of its children."""

    def __init__(self, tmp_path: Path, spec: dict):
        self.dir = tmp_path
        self.log_path = tmp_path / "supervisor.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, json.dumps(spec)],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: "[make run] started" in self.log, what="supervisor start")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def file(self, name: str) -> Path:
        return self.dir / name

    def stop(self) -> int:
        """SIGTERM to the whole process group, as a terminal or a service manager does."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._log.close()
        return code

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture()
def supervise(tmp_path):
    started: list[Running] = []

    def start(children: list[dict], **extra) -> Running:
        running = Running(tmp_path, {"children": children, **extra})
        started.append(running)
        return running

    yield start
    for running in started:
        running.cleanup()


def sleeper(tmp_path: Path, name: str, **extra) -> dict:
    return {"name": name, "argv": [sys.executable, "-c", SLEEPER, str(tmp_path / f"{name}.pids")], **extra}


def test_a_killed_child_is_restarted_with_back_off_and_logged(tmp_path, supervise):
    running = supervise([sleeper(tmp_path, "sandbox"), sleeper(tmp_path, "worker")])
    worker_pids = running.file("worker.pids")
    first = wait_for(lambda: pids(worker_pids), what="worker start")[0]
    sandbox = wait_for(lambda: pids(running.file("sandbox.pids")), what="sandbox start")[0]

    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: pids(worker_pids)[1:], what="worker restart")[0]
    assert alive(second) and second != first
    assert "worker exited with code -9; restarting in 0.2 s" in running.log
    assert f"worker restarted (pid {second}, restart 1)" in running.log

    os.kill(second, signal.SIGKILL)  # dies again at once: the wait doubles
    wait_for(lambda: pids(worker_pids)[2:], what="second restart")
    assert "worker exited with code -9; restarting in 0.4 s" in running.log
    assert alive(sandbox) and pids(running.file("sandbox.pids")) == [sandbox]  # the others were left alone
    assert running.proc.poll() is None  # the console itself kept running


def test_sigterm_stops_every_child_and_grandchild(tmp_path, supervise):
    horse = {
        "name": "worker",
        "argv": [sys.executable, "-c", HORSE_PARENT, str(tmp_path / "worker.pids"), str(tmp_path / "horse.pids")],
    }
    running = supervise([sleeper(tmp_path, "redis", stop_last=True), horse, sleeper(tmp_path, "web")])
    wait_for(lambda: pids(running.file("horse.pids")), what="work-horse")
    first_worker = pids(running.file("worker.pids"))[0]
    # Kill the worker: its work-horse is orphaned (re-parented to the supervisor) and a new pair starts.
    os.kill(first_worker, signal.SIGKILL)
    wait_for(lambda: len(pids(running.file("horse.pids"))) == 2, what="second work-horse")
    everything = [
        *pids(running.file("redis.pids")),
        *pids(running.file("worker.pids")),
        *pids(running.file("horse.pids")),
        *pids(running.file("web.pids")),
    ]
    assert sum(alive(pid) for pid in everything) == 5  # redis, worker, 2 horses, web
    horse_groups = {os.getpgid(pid) for pid in pids(running.file("horse.pids"))}
    assert os.getpgid(running.proc.pid) not in horse_groups  # really in groups of their own

    assert running.stop() == 0
    still = [pid for pid in everything if alive(pid)]
    assert not still, f"left running: {still}"
    assert "SIGTERM received: stopping" in running.log
    assert "did not stop in time; killing it" in running.log  # the horses ignore SIGTERM
    assert "[make run] all stopped" in running.log


def test_a_redis_restart_restarts_its_dependants(tmp_path, supervise):
    running = supervise(
        [
            sleeper(tmp_path, "redis", stop_last=True),
            sleeper(tmp_path, "worker", after=["redis"]),
            sleeper(tmp_path, "scheduler", after=["redis"]),
            sleeper(tmp_path, "web"),
        ]
    )
    for name in ("redis", "worker", "scheduler", "web"):
        wait_for(lambda name=name: pids(running.file(f"{name}.pids")), what=name)
    web = pids(running.file("web.pids"))[0]
    os.kill(pids(running.file("redis.pids"))[0], signal.SIGKILL)
    for name in ("redis", "worker", "scheduler"):
        wait_for(lambda name=name: len(pids(running.file(f"{name}.pids"))) == 2, what=f"{name} restarted")
        assert alive(pids(running.file(f"{name}.pids"))[1])
        assert not alive(pids(running.file(f"{name}.pids"))[0])
    assert "redis restarted: restarting worker, scheduler" in running.log
    assert pids(running.file("web.pids")) == [web] and alive(web)  # the web server does not depend on it


def test_a_restarted_separate_redis_server_restarts_its_dependants(tmp_path, supervise):
    """REDIS_URL names a server make run does not run: its restart is noticed by its run id."""
    from webapp.redis_conn import start_embedded_redis

    redis_dir = Path(tempfile.mkdtemp(prefix="sup-ext-"))
    server, url = start_embedded_redis(redis_dir)
    try:
        running = supervise([sleeper(tmp_path, "worker", after=["redis"]), sleeper(tmp_path, "web")], redis_url=url)
        worker = wait_for(lambda: pids(running.file("worker.pids")), what="worker")[0]
        web = wait_for(lambda: pids(running.file("web.pids")), what="web")[0]
        time.sleep(0.5)  # the supervisor has seen the first run id
        server.kill()
        server.wait(timeout=10)
        server, _url = start_embedded_redis(redis_dir)
        wait_for(lambda: pids(running.file("worker.pids"))[1:], what="worker restarted")
        assert not alive(worker) and alive(pids(running.file("worker.pids"))[1])
        assert "Redis was restarted (its run id changed)" in running.log
        assert "redis restarted: restarting worker" in running.log
        assert pids(running.file("web.pids")) == [web]
    finally:
        server.kill()
        server.wait(timeout=10)
        shutil.rmtree(redis_dir, ignore_errors=True)


def test_real_redis_and_worker_come_back(app, tmp_path, supervise):
    """The embedded Redis and the real worker: kill the worker, then Redis; each time a
    worker is registered again in the (restarted) Redis."""
    import redis as redis_lib
    from rq import Worker

    # A short path: Unix socket paths are limited to 107 bytes.
    redis_dir = Path(tempfile.mkdtemp(prefix="sup-redis-"))
    url = f"unix://{redis_dir / 'redis.sock'}"
    env = {k: v for k, v in os.environ.items() if k != "DMS_FAILPOINTS"}
    env.update(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": url,
            "SECRET_KEY": "test-secret-key",
            "INSTANCE_PATH": str(app.config["INSTANCE_DIR"]),
        }
    )
    running = supervise(
        [{"name": "worker", "argv": [sys.executable, "-m", "jobs.worker"], "after": ["redis"], "env": env}],
        redis_dir=str(redis_dir),
    )
    client = redis_lib.Redis.from_url(url, socket_timeout=2)

    def registered_pids() -> set[int]:
        try:
            return {w.pid for w in Worker.all(connection=client)}
        except redis_lib.RedisError:
            return set()

    first = wait_for(registered_pids, timeout=60, what="worker registered")
    (worker_pid,) = first
    os.kill(worker_pid, signal.SIGKILL)
    second = wait_for(lambda: registered_pids() - {worker_pid}, timeout=60, what="worker restarted")
    assert "worker exited with code -9" in running.log

    redis_pid = next(p.pid for p in psutil.Process(running.proc.pid).children() if "redis" in p.name())
    os.kill(redis_pid, signal.SIGKILL)
    third = wait_for(lambda: registered_pids() - second - {worker_pid}, timeout=60, what="worker after Redis restart")
    assert "redis restarted: restarting worker" in running.log
    assert all(alive(pid) for pid in third)

    new_redis = next(p.pid for p in psutil.Process(running.proc.pid).children() if "redis" in p.name())
    assert new_redis != redis_pid

    assert running.stop() == 0
    assert not alive(next(iter(third))) and not alive(new_redis)
    shutil.rmtree(redis_dir, ignore_errors=True)
