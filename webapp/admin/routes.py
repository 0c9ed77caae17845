"""Users and locations (Global Admin)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from sqlalchemy import func, select

import connectors
from connectors.protocols import connector_class, protocol_label
from webapp import audit
from webapp.admin.connection_test import run_connection_test
from webapp.admin.forms import LocationForm, UnlockForm, UserForm, location_form_class
from webapp.auth import throttle
from webapp.credentials import CredentialsUnreadable
from webapp.extensions import db
from webapp.models import AuditEvent, Location, Role, User, UserSession
from webapp.models.location import DMS_VENDORS
from webapp.models.user import new_session_token
from webapp.permissions import Permission, require
from webapp.rendering import render, wants_fragment

bp = Blueprint("admin", __name__)


def _location_choices() -> list[tuple[int, str]]:
    return [
        (loc.id, f"{loc.name} ({loc.code})") for loc in db.session.scalars(select(Location).order_by(Location.name))
    ]


def _email_taken(email: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if except_id:
        query = query.where(User.id != except_id)
    return db.session.scalar(query) is not None


# -- Users ------------------------------------------------------------------------
@bp.route("/users")
@require(Permission.MANAGE_USERS)
def users():
    """Every user, by location then name, with the accounts whose sign-ins are slowed down."""
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    slowed = {}
    for user in rows:
        counter = throttle.account_state(user.email)
        if throttle.is_slowed(counter):
            slowed[user.id] = counter
    return render("admin/users.html", users=rows, slowed=slowed, unlock_form=UnlockForm())


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@require(Permission.MANAGE_USERS)
def user_unlock(user_id: int):
    """Clear the account's count of failed sign-ins. Only that count: a wait for failures from one
    network or on one computer has its own count, which runs out by itself."""
    user = db.session.get(User, user_id) or abort(404)
    if not UnlockForm().validate_on_submit():
        abort(400)
    counter = throttle.account_state(user.email)
    everywhere = throttle.unlock_account(user.email)
    audit.record(
        "auth.unlock",
        location_id=user.location_id,
        target=user.email,
        detail=f"cleared {counter.failures} failed sign-ins"
        + ("" if everywhere else " (in one web process only: Redis was unreachable)"),
    )
    db.session.commit()
    longest = throttle.wait_text(int(current_app.config["LOGIN_DELAY_MAX"]))
    message = (
        f"Cleared the {counter.failures} failed sign-ins counted for {user.name}'s account. "
        f"A wait for failures from one network or on one computer is not cleared; "
        f"it ends by itself within {longest}."
    )
    if not everywhere:
        message += (
            " The shared sign-in counts (Redis) cannot be reached right now, so the account was "
            f"unlocked in this web process only; in the others its wait ends by itself within {longest}."
        )
    flash(message, "success" if everywhere else "warning")
    return redirect(url_for("admin.users"), code=303)


def _user_form(user: User | None) -> UserForm:
    form = UserForm(obj=user) if user else UserForm()
    form.existing_email = user.email if user else None
    choices = _location_choices()
    form.location_id.choices = [(0, "— none —")] + choices
    form.covered_location_ids.choices = choices
    if user and request.method == "GET":
        form.role.data = user.role.value
        form.location_id.data = user.location_id or 0
        form.covered_location_ids.data = [loc.id for loc in user.covered_locations]
    return form


def _audit_user_changes(user: User, before: dict | None) -> None:
    """Audit entries for what changed in ``user``'s access (``before`` None: created)."""
    target = user.email
    if before is None:
        audit.record(
            "user.created",
            location_id=user.location_id,
            target=target,
            detail=f"role {user.role.label}; locations: {user.location_summary}",
        )
        return
    if before["role"] != user.role:
        audit.record(
            "user.role_changed",
            location_id=user.location_id,
            target=target,
            detail=f"{before['role'].label} → {user.role.label}",
        )
    if before["locations"] != _location_names(user):
        audit.record(
            "user.locations_changed",
            location_id=user.location_id,
            target=target,
            detail=f"{', '.join(before['locations']) or '—'} → {', '.join(_location_names(user)) or '—'}",
        )
    if before["active"] and not user.active:
        audit.record("user.deactivated", location_id=user.location_id, target=target)
    elif not before["active"] and user.active:
        audit.record("user.reactivated", location_id=user.location_id, target=target)


def _location_names(user: User) -> list[str]:
    """The user's home location first, then the covered ones (what location changes compare)."""
    names = [f"{user.location.name} (home)"] if user.location else []
    return names + [loc.name for loc in user.covered_locations]


def _save_user(form: UserForm, user: User) -> None:
    before = None if user.id is None else {"role": user.role, "locations": _location_names(user), "active": user.active}
    user.name = form.name.data
    user.email = form.email.data.lower()
    user.role = Role(form.role.data)
    user.location_id = form.location_id.data or None
    user.advisor_dms_id = form.advisor_dms_id.data or None
    covered = form.covered_location_ids.data if user.role == Role.FIELD_MANAGER else []
    user.covered_locations = list(db.session.scalars(select(Location).where(Location.id.in_(covered or [0]))))
    if user.active and not form.active.data:
        user.session_token = new_session_token()  # deactivation ends their sessions now
        UserSession.end_all(user.id)
    user.active = form.active.data
    if form.password.data:
        user.set_password(form.password.data)
        user.session_token = new_session_token()
        if user.id is not None:
            UserSession.end_all(user.id)
            audit.record(
                "user.password_set",
                location_id=user.location_id,
                target=user.email,
                detail="their other sessions were signed out",
            )
    db.session.flush()  # ids and relationships for the audit entries
    db.session.expire(user, ["location"])  # reloaded from the new location_id
    _audit_user_changes(user, before)


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
            db.session.add(user)
            _save_user(form, user)
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


# -- Audit log --------------------------------------------------------------------
AUDIT_PAGE_SIZE = 50


@bp.route("/audit")
@require(Permission.MANAGE_USERS)
def audit_log():
    """Security-relevant events, newest first; filter by kind; 50 a page."""
    kind = request.args.get("kind", "")
    page_arg = request.args.get("page", "1")
    error = None
    if kind and kind not in audit.KINDS:
        error, kind = "Choose a kind of event from the list.", ""
    page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
    query = select(AuditEvent)
    count_query = select(func.count()).select_from(AuditEvent)
    if kind:
        query = query.where(AuditEvent.kind == kind)
        count_query = count_query.where(AuditEvent.kind == kind)
    total = db.session.scalar(count_query) or 0
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    page = min(page, pages)
    rows = db.session.scalars(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(AUDIT_PAGE_SIZE)
        .offset((page - 1) * AUDIT_PAGE_SIZE)
    ).all()
    locations = {
        loc.id: loc
        for loc in db.session.scalars(
            select(Location).where(Location.id.in_({r.location_id for r in rows if r.location_id} or {0}))
        )
    }
    return render(
        "admin/audit.html",
        rows=rows,
        kinds=audit.KINDS,
        kind=kind,
        page=page,
        pages=pages,
        total=total,
        locations=locations,
        error=error,
        status=422 if error else 200,
    )


# -- Locations --------------------------------------------------------------------
@bp.route("/locations")
@require(Permission.MANAGE_LOCATIONS)
def locations():
    """Every location with its DMS."""
    rows = db.session.scalars(select(Location).order_by(Location.name)).all()
    return render("admin/locations.html", locations=rows)


@dataclass
class DmsChoice:
    """The vendor and protocol a location form is about, and what that means for its inputs."""

    vendor: str  # "" = no DMS
    protocols: tuple[str, ...]  # the vendor's, default first
    protocol: str | None  # the chosen one (offered by the vendor), None without a vendor
    refused_protocol: str | None  # asked for but not offered by the vendor
    credential_fields: tuple  # connectors' CredentialField tuple of ``protocol``
    stored: dict[str, str] | None  # the location's credentials, when they apply to this choice
    unreadable: bool = False  # stored credentials exist but no key opens them

    @property
    def can_keep_secrets(self) -> bool:
        """True when an empty secret input keeps the stored value."""
        return bool(self.stored)

    def protocol_choices(self) -> list[tuple[str, str]]:
        """(key, label) of the vendor's protocols, the default marked."""
        marked = len(self.protocols) > 1
        return [
            (key, protocol_label(key) + (" (default)" if i == 0 and marked else ""))
            for i, key in enumerate(self.protocols)
        ]


def _credential_fields(protocol: str | None) -> tuple:
    """The CredentialField tuple of ``protocol`` (empty when unknown or not importable yet)."""
    if not protocol:
        return ()

    try:
        return tuple(connector_class(protocol).CREDENTIALS)
    except (ImportError, AttributeError, ValueError):
        current_app.logger.warning("DMS protocol %s is not available", protocol)
        return ()


def _dms_choice(location: Location | None, vendor: str | None, requested: str | None) -> DmsChoice:
    """What the form shows and checks for ``vendor`` and the ``requested`` protocol."""
    vendor = vendor if vendor in DMS_VENDORS else ""
    if not vendor:
        return DmsChoice("", (), None, None, (), None)
    protocols = tuple(connectors.get_profile(vendor).protocols)
    refused = requested if requested and requested not in protocols else None
    protocol = requested if requested in protocols else protocols[0]
    stored, unreadable = None, False
    if (
        location is not None
        and location.dms_vendor == vendor
        and location.effective_protocol == protocol
        and location.has_dms_credentials
    ):
        try:
            stored = location.dms_credentials
        except CredentialsUnreadable:
            unreadable = True
    return DmsChoice(vendor, protocols, protocol, refused, _credential_fields(protocol), stored, unreadable)


def _location_form(location: Location | None, choice: DmsChoice, formdata=None) -> LocationForm:
    """The form with the credential inputs of ``choice``; ``formdata`` None = the request's POST data."""
    form_class = location_form_class(choice.credential_fields)
    kwargs = {} if formdata is None else {"formdata": formdata}
    form = form_class(obj=location, **kwargs) if location else form_class(**kwargs)
    form.dms_protocol.choices = choice.protocol_choices()
    form.dms_protocol.data = choice.protocol or ""
    if request.method == "GET" and formdata is None:
        form.dms_fields_for.data = choice.protocol or ""
        for credential in choice.credential_fields:
            if not credential.secret:  # non-secret values may be shown; secrets never are
                form[f"cred_{credential.name}"].data = (choice.stored or {}).get(credential.name, "")
    return form


def _choice_from_request(location: Location | None, args) -> DmsChoice:
    return _dms_choice(location, args.get("dms_vendor"), args.get("dms_protocol"))


def _credentials_from_form(form: LocationForm, choice: DmsChoice) -> dict[str, str]:
    """The credentials the form asks for: typed values, an empty secret keeping the stored one."""
    values = {}
    for credential in choice.credential_fields:
        value = form[f"cred_{credential.name}"].data or ""
        if not value and credential.secret and choice.stored:
            value = choice.stored.get(credential.name, "")
        values[credential.name] = value
    return values


def _check_dms_choice(form: LocationForm, choice: DmsChoice, *, for_test: bool = False) -> bool:
    """Protocol and credential checks WTForms cannot make; False when it added an error."""

    fine = True
    if not choice.vendor:
        if for_test:
            form.dms_vendor.errors.append("Choose the DMS to test.")
            return False
        return True
    vendor_name = DMS_VENDORS[choice.vendor]
    inputs_shown = True  # the credential inputs on the page were this protocol's
    if choice.refused_protocol:
        offered = ", ".join(protocol_label(p) for p in choice.protocols)
        form.dms_protocol.errors.append(
            connectors.get_profile(choice.vendor).refusal_text(
                f"does not offer {protocol_label(choice.refused_protocol)}; it offers {offered}. "
                f"The inputs below are now those of {protocol_label(choice.protocol)}."
            )
        )
        inputs_shown = False
    elif (form.dms_fields_for.data or "") != (choice.protocol or "") and choice.credential_fields:
        # Without JavaScript the inputs shown were another protocol's: show the right ones first.
        form.dms_protocol.errors.append(
            f"{vendor_name} over {protocol_label(choice.protocol)} needs the credentials below; "
            f"fill them in and {'test' if for_test else 'save'} again."
        )
        inputs_shown = False
    fine = inputs_shown
    if for_test:
        if not form.dms_base_url.data:
            form.dms_base_url.errors.append("Give the DMS API address to test.")
            fine = False
        if not form.dms_account.data:
            form.dms_account.errors.append("Give the dealer account to test.")
            fine = False
    elif not form.dms_base_url.data and not form.dms_extract_dir.data:
        form.dms_base_url.errors.append("Give the DMS API address (or a daily data file folder).")
        fine = False
    # A location that reads daily files only (no API address) needs no credentials.
    if inputs_shown and (form.dms_base_url.data or for_test):
        for credential in choice.credential_fields:
            field = form[f"cred_{credential.name}"]
            if not field.data and not (credential.secret and choice.stored):
                field.errors.append(f"Enter the {credential.label}.")
                fine = False
    return fine


def _save_location(form: LocationForm, location: Location, choice: DmsChoice) -> None:
    location.name = form.name.data
    location.code = form.code.data.upper()
    location.timezone = form.timezone.data
    location.brands = [b.strip() for b in (form.brand_list.data or "").split(",") if b.strip()]
    location.dms_vendor = choice.vendor or None
    location.dms_base_url = form.dms_base_url.data or None
    location.dms_account = form.dms_account.data or None
    location.dms_extract_dir = form.dms_extract_dir.data or None
    # The vendor's default is stored as None, so the location follows the vendor's default.
    location.dms_protocol = choice.protocol if choice.protocol and choice.protocol != choice.protocols[0] else None
    location.dms_credentials = _credentials_from_form(form, choice) if choice.vendor else None
    location.is_active = form.is_active.data


def _dms_settings(location: Location | None) -> dict:
    """A location's DMS connection, to tell what a save changed (secrets compared, never shown)."""
    if location is None:
        return {}
    try:
        credentials = location.dms_credentials if location.has_dms_credentials else None
    except CredentialsUnreadable:
        credentials = "(unreadable)"
    return {
        "DMS": location.dms_vendor,
        "protocol": location.dms_protocol,
        "API address": location.dms_base_url,
        "dealer account": location.dms_account,
        "daily file folder": location.dms_extract_dir,
        "credentials": credentials,
    }


def _code_taken(code: str, except_id: int | None = None) -> bool:
    query = select(Location.id).where(func.upper(Location.code) == code.upper())
    if except_id:
        query = query.where(Location.id != except_id)
    return db.session.scalar(query) is not None


def _form_page(
    form: LocationForm,
    location: Location | None,
    choice: DmsChoice,
    status: int = 200,
    results=None,
    block: str | None = None,
    test_refused: bool = False,
):
    ids = {"location_id": location.id} if location else {}
    return render(
        "admin/location_form.html",
        block=block,
        form=form,
        location=location,
        choice=choice,
        results=results,
        test_refused=test_refused,
        status=status,
        fields_url=url_for("admin.location_dms_fields", **ids),
        test_url=url_for("admin.location_test", **ids),
    )


def _edit_location(location: Location | None):
    """Create (``location`` None) or edit a location."""
    if request.method == "POST":
        choice = _choice_from_request(location, request.form)
    else:
        choice = _dms_choice(
            location, location.dms_vendor if location else None, location.effective_protocol if location else None
        )
    form = _location_form(location, choice)
    if request.method == "GET":
        if location:
            form.brand_list.data = ", ".join(location.brands or [])
            form.dms_vendor.data = location.dms_vendor or ""
        else:
            form.timezone.data = "America/New_York"
    # Both checks run (no short-circuit) so every error shows at once.
    if request.method == "POST" and form.validate_on_submit() & _check_dms_choice(form, choice):
        if _code_taken(form.code.data, except_id=location.id if location else None):
            form.code.errors.append("Another location uses this code.")
        else:
            created = location is None
            if created:
                location = Location(name="", code="")
                db.session.add(location)
            dms_before = _dms_settings(None if created else location)
            _save_location(form, location, choice)
            db.session.flush()
            if changed := [name for name, value in _dms_settings(location).items() if dms_before.get(name) != value]:
                audit.record(
                    "location.dms_credentials_changed",
                    location_id=location.id,
                    target=f"{location.name} ({location.code})",
                    detail="changed: " + ", ".join(changed),
                )
            db.session.commit()
            flash(f"Location {location.name} {'created' if created else 'saved'}.", "success")
            return redirect(url_for("admin.locations"), code=303)
    if request.method == "POST":
        form.dms_fields_for.data = choice.protocol or ""  # the inputs shown now
    return _form_page(form, location, choice, status=422 if request.method == "POST" else 200)


@bp.route("/locations/new", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATIONS)
def location_new():
    """Create a location."""
    return _edit_location(None)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@require(Permission.MANAGE_LOCATIONS)
def location_edit(location_id: int):
    """Edit a location's details and DMS connection."""
    return _edit_location(db.session.get(Location, location_id) or abort(404))


@bp.route("/locations/dms-fields", defaults={"location_id": None})
@bp.route("/locations/<int:location_id>/dms-fields")
@require(Permission.MANAGE_LOCATIONS)
def location_dms_fields(location_id: int | None):
    """The protocol choice and credential inputs for the vendor/protocol in the query (htmx swap
    when either select changes; only those two values are sent, never a typed secret)."""
    location = (db.session.get(Location, location_id) or abort(404)) if location_id else None
    if not wants_fragment():  # only meant for htmx; a plain visit gets the whole form
        return redirect(
            url_for("admin.location_edit", location_id=location.id) if location else url_for("admin.location_new"),
            code=303,
        )
    choice = _choice_from_request(location, request.args)
    form = _location_form(location, choice, formdata=request.args)
    form.dms_fields_for.data = choice.protocol or ""
    form.dms_protocol.errors = []
    for credential in choice.credential_fields:
        if not credential.secret:
            form[f"cred_{credential.name}"].data = (choice.stored or {}).get(credential.name, "")
    block = "dms_credentials" if request.args.get("part") == "credentials" else "dms_protocol_block"
    return _form_page(form, location, choice, block=block)


@bp.route("/locations/test", defaults={"location_id": None}, methods=["POST"])
@bp.route("/locations/<int:location_id>/test", methods=["POST"])
@require(Permission.MANAGE_LOCATIONS)
def location_test(location_id: int | None):
    """Test the DMS connection the form describes (typed values; an empty secret = the stored one):
    sign in and read one record of each data type the vendor offers. Nothing is saved."""
    location = (db.session.get(Location, location_id) or abort(404)) if location_id else None
    choice = _choice_from_request(location, request.form)
    form = _location_form(location, choice)
    form.validate_on_submit()
    dms_fields = (
        "dms_vendor",
        "dms_protocol",
        "dms_base_url",
        "dms_account",
        "dms_extract_dir",
        "csrf_token",
        *(f"cred_{c.name}" for c in choice.credential_fields),
    )
    for name, field in form._fields.items():  # only the DMS section matters for a test
        if name not in dms_fields:
            field.errors = []
    fine = not any(form[name].errors for name in dms_fields if name in form) and _check_dms_choice(
        form, choice, for_test=True
    )
    form.dms_fields_for.data = choice.protocol or ""
    if not fine:
        return _form_page(form, location, choice, status=422, block="connection_test", test_refused=True)
    settings = {
        "protocol": choice.protocol,
        "base_url": form.dms_base_url.data,
        "account": form.dms_account.data,
        "credentials": _credentials_from_form(form, choice),
        "extract_dir": form.dms_extract_dir.data or None,
    }
    results = run_connection_test(
        choice.vendor,
        settings,
        call_timeout=current_app.config["DMS_LOOKUP_TIMEOUT"],
        budget=current_app.config.get("DMS_TEST_TIMEOUT", 20.0),
    )
    return _form_page(form, location, choice, results=results, block="connection_test")
