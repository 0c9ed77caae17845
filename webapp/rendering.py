"""Full page or fragment, from one template (jinja2-fragments' ``render_block``).

htmx also sends ``HX-Request`` for boosted navigation and history restores; those need
the whole page. Only a targeted htmx request (live search, a wizard step, a polling
component) gets the named block alone.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def wants_fragment() -> bool:
    """True for an htmx request that is neither boosted nor a history restore."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render ``template``, or only ``block`` of it when :func:`wants_fragment`."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def toast(response: Response, message: str, level: str = "info") -> Response:
    """Ask the page to show a small notice (``showToast`` event, handled by app.js)."""
    response.headers["HX-Trigger"] = json.dumps({"showToast": {"message": message, "level": level}})
    return response


def hx_redirect(url: str, status: int = 200) -> Response:
    """A client-side redirect for htmx requests (a full page load, not a swap)."""
    response = make_response("", status)
    response.headers["HX-Redirect"] = url
    return response
