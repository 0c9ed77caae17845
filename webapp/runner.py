"""``make run``: everything the console needs, in one command.

Starts (when not configured to use existing servers) an embedded Redis, applies the
database migrations, loads the demo data into an empty database, then runs the sandbox
DMS, an RQ worker, the ``rq cron`` scheduler and the web server. Ctrl-C stops them all.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp.config import INSTANCE_DIR, ROOT
from webapp.redis_conn import start_embedded_redis

PY = sys.executable
BIN = Path(PY).parent


def _log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def main() -> int:
    """Set up, start every process, wait for Ctrl-C or for one of them to die."""
    env = os.environ.copy()
    env.setdefault("FLASK_APP", "wsgi")
    port = env.get("PORT", "5000")
    sandbox_port = env.get("SANDBOX_PORT", "5001")
    env.setdefault("SANDBOX_URL", f"http://127.0.0.1:{sandbox_port}")
    children: list[tuple[str, subprocess.Popen]] = []

    def stop_all(*_args) -> None:
        # Everything but Redis first (workers deregister through it), then Redis.
        for group in ([c for c in children if c[0] != "redis"], [c for c in children if c[0] == "redis"]):
            for name, proc in reversed(group):
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 10
            for name, proc in reversed(group):
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _log(f"{name} did not stop in time; killing it")
                    proc.kill()

    try:
        if not env.get("REDIS_URL"):
            proc, url = start_embedded_redis(INSTANCE_DIR / "redis")
            children.append(("redis", proc))
            env["REDIS_URL"] = url
            _log(f"embedded Redis started ({url})")
        flask = [PY, "-m", "flask", "--app", "wsgi"]
        subprocess.run(flask + ["db", "upgrade"], env=env, check=True, cwd=ROOT)
        if subprocess.run(flask + ["db-is-empty"], env=env, cwd=ROOT).returncode == 0:
            _log("empty database: loading demo data")
            subprocess.run(flask + ["seed-demo"], env=env, check=True, cwd=ROOT)

        if (ROOT / "connectors" / "sandbox" / "__main__.py").exists():
            children.append(("sandbox DMS", subprocess.Popen(
                [PY, "-m", "connectors.sandbox", "--host", "127.0.0.1", "--port", sandbox_port,
                 "--data-dir", str(INSTANCE_DIR / "sandbox"), "--seed", "42",
                 "--account", "demo-cdk:cdk:300:star", "--account", "demo-karmak:karmak:240:console",
                 "--account", "demo-dealertrack:dealertrack:280:opentrack"],
                env=env, cwd=ROOT)))
        children.append(("worker", subprocess.Popen([PY, "-m", "jobs.worker"], env=env, cwd=ROOT)))
        children.append(("scheduler", subprocess.Popen(
            [str(BIN / "rq"), "cron", "jobs.cron", "--url", env["REDIS_URL"], "--path", str(ROOT)],
            env=env, cwd=ROOT)))
        children.append(("web", subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
             "--access-logfile", "-", "--graceful-timeout", "5", "wsgi:app"],
            env=env, cwd=ROOT)))
        _log(f"console: http://127.0.0.1:{port}   (Ctrl-C stops everything)")
        _log("demo sign-ins, password 'demo-password': admin@demo.test, manager@demo.test, "
             "advisor@demo.test, fieldmanager@demo.test, reviewer@demo.test")

        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        parent = os.getppid()
        while True:
            if os.getppid() != parent:  # make (or the terminal) went away without a Ctrl-C
                _log("parent process gone; stopping everything")
                return 0
            for name, proc in children:
                if proc.poll() is not None:
                    _log(f"{name} exited with code {proc.returncode}; stopping everything")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        _log("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        _log(f"set-up step failed: {' '.join(map(str, exc.cmd))}")
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
