"""Users and locations (Global Admin)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.admin import bp
from webapp.admin.forms import LocationForm, UserForm
from webapp.models import Location, Role, User
from webapp.models.user import new_session_token
from webapp.permissions import Permission, require
from webapp.rendering import render


def _location_choices() -> list[tuple[int, str]]:
    return [(loc.id, f"{loc.name} ({loc.code})") for loc in db.session.scalars(select(Location).order_by(Location.name))]


def _email_taken(email: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if except_id:
        query = query.where(User.id != except_id)
    return db.session.scalar(query) is not None


# -- Users ------------------------------------------------------------------------
@bp.route("/users")
@require(Permission.MANAGE_USERS)
def users():
    """Every user, by location then name."""
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    return render("admin/users.html", users=rows)


def _user_form(user: User | None) -> UserForm:
    form = UserForm(obj=user) if user else UserForm()
    choices = _location_choices()
    form.location_id.choices = [(0, "— none —")] + choices
    form.covered_location_ids.choices = choices
    if user and request.method == "GET":
        form.role.data = user.role.value
        form.location_id.data = user.location_id or 0
        form.covered_location_ids.data = [loc.id for loc in user.covered_locations]
    return form


def _save_user(form: UserForm, user: User) -> None:
    user.name = form.name.data
    user.email = form.email.data.lower()
    user.role = Role(form.role.data)
    user.location_id = form.location_id.data or None
    user.advisor_dms_id = form.advisor_dms_id.data or None
    covered = form.covered_location_ids.data if user.role == Role.FIELD_MANAGER else []
    user.covered_locations = list(db.session.scalars(select(Location).where(Location.id.in_(covered or [0]))))
    if user.active and not form.active.data:
        user.session_token = new_session_token()  # deactivation ends their sessions now
    user.active = form.active.data
    if form.password.data:
        user.set_password(form.password.data)
        user.session_token = new_session_token()


@bp.route("/users/new", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def user_new():
    """Create a user."""
    form = _user_form(None)
    if form.validate_on_submit():
        if _email_taken(form.email.data):
            form.email.errors.append("A user with this e-mail already exists.")
        elif not form.password.data:
            form.password.errors.append("Set an initial password.")
        else:
            user = User(email="", name="", password_hash="", role=Role.SERVICE_ADVISOR)
            _save_user(form, user)
            db.session.add(user)
            db.session.commit()
            flash(f"User {user.name} created.", "success")
            return redirect(url_for("admin.users"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("admin/user_form.html", form=form, user=None, status=status)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def user_edit(user_id: int):
    """Edit a user's details, role, locations, DMS id, status or password."""
    user = db.session.get(User, user_id) or abort(404)
    form = _user_form(user)
    if form.validate_on_submit():
        if _email_taken(form.email.data, except_id=user.id):
            form.email.errors.append("A user with this e-mail already exists.")
        else:
            _save_user(form, user)
            db.session.commit()
            flash(f"User {user.name} saved.", "success")
            return redirect(url_for("admin.users"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("admin/user_form.html", form=form, user=user, status=status)


# -- Locations --------------------------------------------------------------------
@bp.route("/locations")
@require(Permission.MANAGE_LOCATIONS)
def locations():
    """Every location with its DMS."""
    rows = db.session.scalars(select(Location).order_by(Location.name)).all()
    return render("admin/locations.html", locations=rows)


def _save_location(form: LocationForm, location: Location) -> None:
    location.name = form.name.data
    location.code = form.code.data.upper()
    location.timezone = form.timezone.data
    location.brands = [b.strip() for b in (form.brand_list.data or "").split(",") if b.strip()]
    location.dms_vendor = form.dms_vendor.data or None
    location.dms_base_url = form.dms_base_url.data or None
    location.dms_account = form.dms_account.data or None
    if form.dms_api_key.data:
        location.dms_api_key = form.dms_api_key.data
    location.dms_extract_dir = form.dms_extract_dir.data or None
    location.is_active = form.is_active.data


def _code_taken(code: str, except_id: int | None = None) -> bool:
    query = select(Location.id).where(func.upper(Location.code) == code.upper())
    if except_id:
        query = query.where(Location.id != except_id)
    return db.session.scalar(query) is not None


@bp.route("/locations/new", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATIONS)
def location_new():
    """Create a location."""
    form = LocationForm()
    if request.method == "GET":
        form.timezone.data = "America/New_York"
    if form.validate_on_submit():
        if _code_taken(form.code.data):
            form.code.errors.append("Another location uses this code.")
        else:
            location = Location(name="", code="")
            _save_location(form, location)
            db.session.add(location)
            db.session.commit()
            flash(f"Location {location.name} created.", "success")
            return redirect(url_for("admin.locations"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("admin/location_form.html", form=form, location=None, status=status)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATIONS)
def location_edit(location_id: int):
    """Edit a location's details and DMS connection."""
    location = db.session.get(Location, location_id) or abort(404)
    form = LocationForm(obj=location)
    if request.method == "GET":
        form.brand_list.data = ", ".join(location.brands or [])
        form.dms_vendor.data = location.dms_vendor or ""
        form.dms_api_key.data = ""
    if form.validate_on_submit():
        if _code_taken(form.code.data, except_id=location.id):
            form.code.errors.append("Another location uses this code.")
        else:
            _save_location(form, location)
            db.session.commit()
            flash(f"Location {location.name} saved.", "success")
            return redirect(url_for("admin.locations"), code=303)
    status = 422 if request.method == "POST" else 200
    return render("admin/location_form.html", form=form, location=location, status=status)
