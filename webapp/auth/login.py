"""Flask-Login wiring: user loading by id + session token, and the 401 flow."""
from __future__ import annotations

from flask import Flask, flash, redirect, request, url_for

from webapp.extensions import db, login_manager
from webapp.models import User
from webapp.rendering import hx_redirect


def init_app(app: Flask) -> None:
    """Configure the login manager."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load ``"<id>:<session token>"``; a rotated token or deactivated user ends the session."""
    user_id, _, token = identity.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Anonymous visitor: a page redirect, or ``HX-Redirect`` with 401 for htmx."""
    target = url_for("auth.login", next=_safe_next(request.full_path))
    if getattr(request, "htmx", False):
        return hx_redirect(target, status=401)
    flash("Please sign in to continue.", "info")
    return redirect(target)


def _safe_next(path: str | None) -> str | None:
    """Only same-site relative paths may be used after login."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return None
    path = path.rstrip("?")
    return None if path in ("/", "/login") else path
