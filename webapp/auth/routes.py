"""Sign in / sign out / change own password."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from webapp.auth import bp
from webapp.auth.forms import ChangePasswordForm, LoginForm
from webapp.auth.login import _safe_next
from webapp.auth.passwords import burn_time
from webapp.extensions import db, limiter
from webapp.models import User, utcnow
from webapp.models.user import new_session_token
from webapp.permissions import Permission, public, require
from webapp.rendering import render

FAILED = 422


def _account_key() -> str:
    """Rate-limit key for one account: the normalised e-mail typed in."""
    return "login-account:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed_attempt(response) -> bool:  # noqa: ANN001 - Flask response
    """Only failed sign-ins count against the limits."""
    return response.status_code == FAILED


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_failed_attempt)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_failed_attempt)
def login():
    """The sign-in form. Failures re-render with 422 and a message that reveals nothing."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            burn_time()
            error = "E-mail or password is incorrect."
        elif not user.check_password(form.password.data):
            error = "E-mail or password is incorrect."
        elif not user.active:
            error = "This account is deactivated. Ask a Global Admin to reactivate it."
        else:
            next_url = _safe_next(request.args.get("next"))
            # A fresh session at sign-in: nothing from before it survives (fixation).
            session.clear()
            login_user(user, remember=False)
            session.permanent = True
            user.last_login_at = utcnow()
            db.session.commit()
            flash(f"Signed in as {user.name}.", "success")
            return redirect(next_url or url_for("home.index"))
    elif request.method == "POST":
        error = "Enter your e-mail address and password."
    status = FAILED if request.method == "POST" else 200
    return render("auth/login.html", form=form, error=error, status=status)


@bp.route("/logout", methods=["POST"])
@require(Permission.SIGNED_IN)
def logout():
    """Sign out (POST with CSRF: a link cannot sign anyone out)."""
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
            db.session.commit()
            login_user(user, remember=False)  # keep this session, with the new token
            flash("Your password has been changed. Other sessions were signed out.", "success")
            return redirect(url_for("home.index"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("auth/password.html", form=form, status=status)
