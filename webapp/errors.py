"""Error pages and htmx toasts.

A full-page request gets a page; a targeted htmx request gets a small toast (htmx 2
does not swap 4xx/5xx, so the page stays as it was and nothing typed is lost).
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_htmx import make_response
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.rendering import toast_event, wants_fragment

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not allow this. Ask a Service Manager or Global Admin if you need it."),
    404: (
        "Not found",
        "We could not find that page or record. It may have been removed, or belong to another location.",
    ),
    405: ("Not allowed", "That action is not available here."),
    413: ("Too large", "That upload is too large."),
    429: ("Too many requests", "Too many attempts. Wait a few minutes and try again."),
    500: ("Something went wrong", "An unexpected error occurred. It has been logged; please try again."),
}

CSRF_MESSAGE = "This page has expired. Reload the page and try again — nothing was saved."


def respond(status: int, title: str, message: str):
    """Render the error page, or a toast for a targeted htmx request."""
    if wants_fragment():
        return make_response("", status, reswap="none", trigger=toast_event(message, "error"))
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return respond(400, "Page expired", CSRF_MESSAGE)

    @app.errorhandler(429)
    def _too_many(error: HTTPException):
        title, message = MESSAGES[429]
        return respond(429, title, message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        title, message = MESSAGES.get(status, (error.name, error.description or ""))
        # A specific description (e.g. "not assigned to a location") beats the generic text.
        if error.description and status in (403, 404) and error.description != type(error).description:
            message = error.description
        return respond(status, title, message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        title, message = MESSAGES[500]
        return respond(500, title, message)
