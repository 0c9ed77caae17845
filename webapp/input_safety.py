"""NUL characters never reach the database.

PostgreSQL (psycopg) refuses a NUL (``\\x00``) in text, so a ``%00`` typed into a search
box or smuggled into a form field would be a 500 there (and silently stored on SQLite).
NUL has no meaning in anything staff type, so one request hook, registered app-wide by
:func:`init_app`, handles it before any view runs:

* query strings (``request.args``) and form fields (``request.form``, multipart text
  parts included): every NUL is removed from names and values — the rest of what was
  typed is kept, so nothing is lost and no form needs a NUL rule of its own;
* URL path segments (``<code>``, ``<job_id>``...): a NUL answers 404, as any other
  name that does not exist;
* JSON bodies: the only route that reads one is the DMS webhook, which verifies its
  signature on the raw bytes first and then refuses a body containing NUL with
  :func:`contains_nul` (400).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.datastructures import MultiDict

NUL = "\x00"


def strip_nul(value: str) -> str:
    """``value`` without its NUL characters."""
    return value.replace(NUL, "") if NUL in value else value


def _cleaned(data: MultiDict) -> MultiDict | None:
    """A copy of ``data`` (same class) without NULs, or None when it had none."""
    if not any(NUL in key or (isinstance(value, str) and NUL in value) for key, value in data.items(multi=True)):
        return None
    items = [
        (strip_nul(key), strip_nul(value) if isinstance(value, str) else value) for key, value in data.items(multi=True)
    ]
    return type(data)(items)


def contains_nul(value: Any) -> bool:
    """True when any string (key or value) in a decoded JSON document contains NUL.

    Walks with an explicit stack, so a deeply nested document cannot exhaust recursion.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _strip_request_nuls() -> None:
    """The request hook: clean query string and form, refuse NUL in the URL path."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and NUL in value:
            abort(404)
    args = _cleaned(request.args)
    if args is not None:
        request.args = args  # werkzeug's cached_property accepts the replacement
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = _cleaned(request.form)
        if form is not None:
            request.form = form


def init_app(app: Flask) -> None:
    """Register the hook first, so it runs before CSRF checks and every view."""
    app.before_request_funcs.setdefault(None, []).insert(0, _strip_request_nuls)
