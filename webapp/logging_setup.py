"""One log format for every process: one line per record, ``key=value`` pairs.

``time=2026-12-01T18:50:00.123Z level=INFO process=web logger=webapp.access request_id=4f2a…
location_id=3 message="GET /customers 200"``

- :func:`configure_logging` (once per process: the web app's ``create_app``, ``jobs.worker``,
  the scheduler) installs the format on the root logger; the level comes from ``LOG_LEVEL``
  (default INFO).
- A web request logs with its request id (the caller's ``X-Request-ID`` when it sent a usable one,
  else a new one; the response carries it back in ``X-Request-ID``) and the user's current
  location once the request has worked it out, and ends with one ``webapp.access`` line
  (:func:`init_app`).
- It imports nothing of the web side, so jobs may use it (tests/test_layers.py: core).
- Background work adds its own fields with :func:`log_context`:
  ``with log_context(job_id=job.id, location_id=location.id): ...``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import inspect

REQUEST_ID_HEADER = "X-Request-ID"
#: An incoming request id is kept only when it is this short and made of these characters
#: (it is written to every log line and echoed in a header).
_USABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: The fields after ``logger``, in this order, when they have a value.
CONTEXT_FIELDS = ("request_id", "job_id", "location_id")

_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))
_process_name = "web"
_handler: logging.Handler | None = None
access_log = logging.getLogger("webapp.access")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Within the block, every record logged by this thread or task carries ``fields``
    (e.g. ``job_id``, ``location_id``); blocks nest, the inner value winning."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def _quoted(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


def _request_location_id() -> int | None:
    """The signed-in user's current location once this request has worked it out
    (``webapp.scoping.current_location``); no query here: logging must not touch the database."""
    location = g.get("current_location")
    identity = inspect(location).identity if location is not None else None
    return identity[0] if identity else None


class ContextFilter(logging.Filter):
    """Adds ``process`` name and the context fields to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = _process_name
        fields = dict(_context.get())
        if "location_id" not in fields and "request_id" in fields and has_request_context():
            try:
                fields["location_id"] = _request_location_id()
            except Exception:  # a log line never fails the request that writes it
                pass
        record.log_context = fields
        return True


class KeyValueFormatter(logging.Formatter):
    """``time level process logger [request_id|job_id] [location_id] message [exc]`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        pairs = [
            ("time", moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"),
            ("level", record.levelname),
            ("process", getattr(record, "process_name", _process_name)),
            ("logger", record.name),
        ]
        fields = getattr(record, "log_context", {})
        pairs += [(key, fields[key]) for key in CONTEXT_FIELDS if fields.get(key) is not None]
        pairs += [(key, value) for key, value in fields.items() if key not in CONTEXT_FIELDS and value is not None]
        pairs.append(("message", record.getMessage()))
        if record.exc_info:
            pairs.append(("exc", self.formatException(record.exc_info)))
        elif record.stack_info:
            pairs.append(("stack", record.stack_info))
        return " ".join(f"{key}={_quoted(value)}" for key, value in pairs)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test's capture, a redirected stream)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(process_name: str, level: str | None = None) -> None:
    """Log every record of this process as one key=value line on stderr, named ``process_name``
    (web, worker, scheduler, ...), at ``level`` (default: ``LOG_LEVEL``, else INFO). Calling it
    again renames the process and resets the level; it never adds a second handler."""
    global _process_name, _handler
    _process_name = process_name
    root = logging.getLogger()
    if _handler is None:
        _handler = _StderrHandler()
        _handler.setFormatter(KeyValueFormatter())
        _handler.addFilter(ContextFilter())
    if _handler not in root.handlers:
        root.addHandler(_handler)
    name = (level or os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    root.setLevel(logging.getLevelNamesMapping().get(name, logging.INFO))
    # httpx logs every request's full URL at INFO: DMS cursors, and a live DMS search's words in
    # its query string. Customer data stays out of the log; failures are logged by our callers.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


def is_configured() -> bool:
    """True once :func:`configure_logging` has run in this process (and its handler is in place)."""
    return _handler is not None and _handler in logging.getLogger().handlers


def _incoming_request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "").strip()
    return given if _USABLE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Configure logging for the web process (unless this process already did, e.g. a worker
    building the app) and give every request its id and an access line."""
    from flask.logging import default_handler

    if not is_configured():
        configure_logging("web")
    app.logger.removeHandler(default_handler)  # the root handler writes app.logger's records

    @app.before_request
    def _start_request_log() -> None:
        g.request_id = _incoming_request_id()
        g.request_started = time.perf_counter()
        g.log_context_token = _context.set({**_context.get(), "request_id": g.request_id})

    @app.after_request
    def _end_request_log(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
            elapsed_ms = (time.perf_counter() - g.request_started) * 1000
            # The path alone: query strings carry what staff searched for (names, phones).
            access_log.info("%s %s %s %.0fms", request.method, request.path, response.status_code, elapsed_ms)
        return response

    @app.teardown_request
    def _forget_request_log(_error: BaseException | None) -> None:
        token = g.pop("log_context_token", None)
        if token is not None:
            _context.reset(token)
