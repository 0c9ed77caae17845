"""Full page or fragment, from one template (jinja2-fragments' ``render_block``), and the htmx
response helpers every view uses (Flask-HTMX's ``make_response``; no hand-made ``HX-*`` header).

htmx also sends its request header for boosted navigation and history restores; those need
the whole page. Only a targeted htmx request (live search, a wizard step, a polling
component) gets the named block alone.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template
from flask_htmx import make_response
from jinja2_fragments.flask import render_block

from webapp.extensions import htmx


def wants_fragment() -> bool:
    """True for an htmx request that is neither boosted nor a history restore."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render ``template``, or only ``block`` of it when :func:`wants_fragment`."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    return make_response(body, status)


def toast_event(message: str, level: str = "info") -> dict[str, Any]:
    """The ``showToast`` event app.js turns into a small notice."""
    return {"showToast": {"message": message, "level": level}}


def toast(response: Response, message: str, level: str = "info") -> Response:
    """Ask the page to show a small notice with ``response``."""
    return make_response(response, trigger=toast_event(message, level))


def hx_redirect(url: str, status: int = 200) -> Response:
    """A client-side redirect for htmx requests (a full page load, not a swap)."""
    return make_response("", status, redirect=url)
