"""Sign in / sign out / change own password."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, flash, make_response, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, func, or_, select

from webapp import audit
from webapp.auth import throttle
from webapp.auth.forms import ChangePasswordForm, LoginForm
from webapp.auth.login import SESSION_ID_KEY, current_session_row, login_next
from webapp.extensions import db
from webapp.models import User, UserSession, utcnow
from webapp.models.user import hash_session_id, new_session_token
from webapp.permissions import Permission, public, require
from webapp.rendering import render
from webapp.services.passwords import burn_time

bp = Blueprint("auth", __name__)

FAILED = 422
TOO_EARLY = 429
WRONG = "E-mail or password is incorrect."


def _too_early(form: LoginForm, seconds: int, scope: str):
    """The form again, saying how long to wait and what works sooner (the password was not checked).
    ``scope``: whose failures hold the try back: "account", "address" or "device" (this computer)."""
    wait = f"Try again in {throttle.wait_text(seconds)}."
    if scope == "device":
        error = (
            f"Too many failed sign-ins on this computer. {wait} "
            "Another computer where you have signed in before is not held back."
        )
    elif scope == "address":
        # An account unlock does not clear the address's count: only waiting does.
        error = (
            f"Too many failed sign-ins from this network. This wait ends by itself: try again in "
            f"{throttle.wait_text(seconds)}. On a computer where you have signed in before you can sign in now."
        )
    else:
        error = (
            f"Too many failed sign-ins for this account. {wait} "
            "On a computer where you have signed in before you can sign in now, "
            "or ask a Global Admin to unlock your account (Admin → Users)."
        )
    return render("auth/login.html", form=form, error=error, status=TOO_EARLY)


def _start_session(user: User) -> None:
    """A fresh session (nothing from before survives: fixation) with its server-side record."""
    session.clear()
    raw = secrets.token_urlsafe(32)
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    # Housekeeping: this user's ended or expired sessions are no longer needed.
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.ended_at.is_not(None), UserSession.created_at < utcnow() - lifetime),
        )
    )
    db.session.add(UserSession(user_id=user.id, token_hash=hash_session_id(raw), ip=audit.client_ip()))
    login_user(user, remember=False)
    session[SESSION_ID_KEY] = raw
    session.permanent = True


def _failed(email: str, user: User | None, device_nonce: str | None) -> None:
    """Count a failed sign-in and write it (and a new slow-down) to the audit log."""
    ip = audit.client_ip()
    if device_nonce:
        counter = throttle.add_failure(throttle.device_key(device_nonce))
        detail = "wrong password on a known device"
    else:
        counter = throttle.add_failure(throttle.account_key(email))
        detail = "wrong password" if user is not None else "unknown e-mail"
        free = current_app.config["LOGIN_FREE_FAILURES"]
        if counter.failures == free:
            audit.record(
                "auth.lockout",
                location_id=user.location_id if user else None,
                target=email,
                detail=f"{counter.failures} failed sign-ins: unknown devices now wait "
                f"{throttle.wait_text(counter.wait_seconds())}, doubling with each failure",
            )
        by_address = throttle.add_failure(throttle.address_key(ip))
        if by_address.failures == current_app.config["LOGIN_IP_FREE_FAILURES"]:
            audit.record(
                "auth.lockout_address",
                target=ip,
                detail=f"{by_address.failures} failed sign-ins from this address: unknown devices "
                f"there now wait {throttle.wait_text(by_address.wait_seconds())}",
            )
    audit.record("auth.login_failed", location_id=user.location_id if user else None, target=email, detail=detail)
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """The sign-in form. Failures re-render with 422 and a message that reveals nothing;
    a try made while sign-ins are slowed down answers 429 with how long to wait."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        device_nonce = throttle.known_device_nonce(email)
        if device_nonce:
            wait = throttle.state(throttle.device_key(device_nonce)).wait_seconds()
            if wait:
                return _too_early(form, wait, "device")
        else:
            wait = throttle.state(throttle.account_key(email)).wait_seconds()
            if wait:
                return _too_early(form, wait, "account")
            wait = throttle.state(throttle.address_key(audit.client_ip())).wait_seconds()
            if wait:
                return _too_early(form, wait, "address")
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            burn_time()
            _failed(email, None, device_nonce)
            error = WRONG
        elif not user.check_password(form.password.data):
            _failed(email, user, device_nonce)
            error = WRONG
        elif not user.active:
            error = "This account is deactivated. Ask a Global Admin to reactivate it."
        else:
            next_url = login_next(request.args.get("next"))
            if device_nonce:
                throttle.clear(throttle.device_key(device_nonce))
            if not throttle.account_state(email).wait_seconds():
                throttle.clear(throttle.account_key(email))  # a slowed-down account stays slowed for others
            _start_session(user)
            user.last_login_at = utcnow()
            db.session.commit()
            flash(f"Signed in as {user.name}.", "success")
            response = make_response(redirect(next_url or url_for("home.index")))
            throttle.remember_device(response, email)
            return response
    elif request.method == "POST":
        error = "Enter your e-mail address and password."
    status = FAILED if request.method == "POST" else 200
    return render("auth/login.html", form=form, error=error, status=status)


@bp.route("/logout", methods=["POST"])
@require(Permission.SIGNED_IN)
def logout():
    """Sign out (POST with CSRF: a link cannot sign anyone out). The server-side session ends,
    so a copy of the cookie taken before opens nothing afterwards."""
    row = current_session_row(current_user.id)
    if row is not None:
        row.ended_at = utcnow()
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@require(Permission.SIGNED_IN)
def change_password():
    """Change one's own password; every other session of the user ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append("That is not your current password.")
        else:
            user.set_password(form.new_password.data)
            user.session_token = new_session_token()
            this_session = current_session_row(user.id)
            UserSession.end_all(user.id, except_id=this_session.id if this_session else None)
            db.session.commit()
            login_user(user, remember=False)  # keep this session, with the new token
            flash("Your password has been changed. Other sessions were signed out.", "success")
            return redirect(url_for("home.index"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("auth/password.html", form=form, status=status)
