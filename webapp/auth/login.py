"""Flask-Login wiring: user loading by id + session token + server-side session, and the 401 flow."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, flash, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.urls import iri_to_uri

from webapp.auth.redirects import safe_next
from webapp.extensions import db, htmx, login_manager
from webapp.models import User, UserSession, utcnow
from webapp.models.user import hash_session_id
from webapp.rendering import hx_redirect

SESSION_ID_KEY = "_sid"


def init_app(app: Flask) -> None:
    """Configure the login manager."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"


def current_session_row(user_id: int) -> UserSession | None:
    """The open server-side session of this browser for ``user_id``, or None."""
    raw = session.get(SESSION_ID_KEY)
    if not isinstance(raw, str) or not raw:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == hash_session_id(raw)))
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    if row.created_at < utcnow() - current_app.config.get("PERMANENT_SESSION_LIFETIME", timedelta(hours=12)):
        return None
    return row


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load ``"<id>:<session token>"`` whose server-side session is still open; a rotated
    token, a deactivated user or an ended session (signed out) ends the session."""
    user_id, _, token = identity.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    if current_session_row(user.id) is None:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Anonymous visitor: a page redirect, or ``HX-Redirect`` with 401 for htmx."""
    target = url_for("auth.login", next=login_next(iri_to_uri(request.full_path)))
    if htmx:
        return hx_redirect(target, status=401)
    flash("Please sign in to continue.", "info")
    return redirect(target)


def login_next(path: str | None) -> str | None:
    """Where to go after sign-in: a same-site path (see :func:`safe_next`), not home or /login."""
    path = safe_next(path)
    if path is None:
        return None
    path = path.rstrip("?")
    return None if path in ("/", "/login") or path.startswith("/login?") else path
