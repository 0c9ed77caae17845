"""Failpoints: deterministic crash injection for the kill and crash tests.

``DMS_FAILPOINTS="pull.before_commit=3"`` makes the third pass through the
``pull.before_commit`` point SIGKILL the whole worker (the worker process and its
work-horse), exactly as an operator's ``kill -9`` or an OOM kill would. In-process
tests use :func:`arm` with ``action="raise"``. Unset (production), a failpoint costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}
_armed: dict[str, tuple[int, str]] = {}


class FailpointCrash(RuntimeError):
    """Raised by a failpoint armed with ``action="raise"``."""


def _from_env() -> None:
    spec = os.environ.get("DMS_FAILPOINTS", "")
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("=")
        _armed.setdefault(name, (int(nth or 1), "kill"))


def arm(name: str, nth: int = 1, action: str = "raise") -> None:
    """Fire failpoint ``name`` on its ``nth`` pass from now (tests)."""
    _counts[name] = 0
    _armed[name] = (nth, action)


def disarm_all() -> None:
    """Forget every armed failpoint."""
    _armed.clear()
    _counts.clear()


def hit(name: str) -> None:
    """Pass through failpoint ``name``; fire it if armed for this pass."""
    if not _armed and "DMS_FAILPOINTS" not in os.environ:
        return
    _from_env()
    if name not in _armed:
        return
    _counts[name] = _counts.get(name, 0) + 1
    nth, action = _armed[name]
    if _counts[name] != nth:
        return
    if action == "kill":
        # RQ runs the job in a forked work-horse in its own session: kill the worker
        # (its parent) first, then the horse — the whole worker dies at this point.
        os.kill(os.getppid(), signal.SIGKILL)
        os.killpg(os.getpgid(0), signal.SIGKILL)
    raise FailpointCrash(f"failpoint {name} fired on pass {nth}")
