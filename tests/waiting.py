"""Waiting in tests for something another process does (a worker starting, a page turning green)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 20.0, what: str = "", poll: float = 0.05):
    """Call ``predicate`` every ``poll`` seconds until it answers something true, and return that;
    AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
