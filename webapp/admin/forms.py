"""Forms for users and locations."""

from __future__ import annotations

from pathlib import PurePath
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp, ValidationError

from connectors.vendors import VENDOR_CODES, get_profile
from webapp.auth.forms import MIN_PASSWORD
from webapp.models import Role
from webapp.models.location import DMS_VENDORS

ROLE_CHOICES = [(r.value, r.label) for r in Role]
TIMEZONES = sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith(("Etc/", "SystemV/")))


# DMS credentials are not the console's sign-in: no password manager may fill them in (with
# the admin's console e-mail and password) or remember them. Secrets stay type=password
# (masked while typed) with autocomplete="new-password": Chrome, Edge, Firefox and Safari
# never fill a saved password into such an input, whereas they ignore autocomplete="off" on
# password inputs. Password-manager extensions ignore inputs carrying their opt-out
# attributes: 1Password data-1p-ignore, LastPass data-lpignore, Bitwarden data-bwignore,
# Dashlane data-form-type="other".
NOT_FOR_PASSWORD_MANAGERS = {
    "data-1p-ignore": "true",
    "data-lpignore": "true",
    "data-bwignore": "true",
    "data-form-type": "other",
}


def _strip(value):
    """Trim surrounding blanks from text input."""
    return value.strip() if isinstance(value, str) else value


def _drop_folder_name(_form, field) -> None:
    """A daily-file folder is a name under the console's storage (``northside``, ``ford/north``)
    or a full path; a name may not climb out of the storage with ``..``."""
    value = field.data or ""
    if value and not PurePath(value).is_absolute() and ".." in PurePath(value).parts:
        raise ValidationError(
            "Give the folder's name in the console's storage (e.g. northside), without “..”, "
            "or a full path starting with /."
        )


class UserForm(FlaskForm):
    """Create or edit a user. The password is required only when creating."""

    name = StringField("Full name", filters=[_strip], validators=[DataRequired(), Length(max=120)])
    # Checked by validate_email below. autocomplete off: never the admin's own sign-in e-mail.
    email = EmailField(
        "E-mail",
        filters=[_strip],
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    location_id = SelectField("Home location", coerce=int, validators=[Optional()])
    covered_location_ids = SelectMultipleField(
        "Locations covered (Field Managers)", coerce=int, validators=[Optional()]
    )
    advisor_dms_id = StringField(
        "Advisor's DMS employee id",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9._-]+$", message="Letters, digits, dot, dash and underscore only."),
        ],
    )
    active = BooleanField("Active (may sign in)", default=True)
    password = PasswordField(
        "Password",
        validators=[Optional(), Length(min=MIN_PASSWORD, max=1024, message=f"Use at least {MIN_PASSWORD} characters.")],
        render_kw={"autocomplete": "new-password"},
    )

    #: The e-mail the edited user has now (None when creating): kept as it is, it is accepted.
    existing_email: str | None = None

    def validate_email(self, field) -> None:
        """A well-formed address (email-validator, no deliverability check). Reserved test
        domains (``.test``, used by the demo accounts) are accepted; other special-use names
        (``.local``, ``.localhost``, ``.invalid``...) and single-label domains are not. An
        unchanged existing address is always accepted, so every existing user can be edited."""
        value = field.data or ""
        if self.existing_email and value.lower() == self.existing_email.lower():
            return
        try:
            result = validate_email(value, check_deliverability=False, test_environment=True)
        except EmailNotValidError as error:
            raise ValidationError(f"Enter a valid e-mail address. {error}") from None
        if "." not in result.ascii_domain:
            raise ValidationError("Enter a valid e-mail address. The part after the @-sign should have a period.")

    def validate_location_id(self, field) -> None:
        """Location-bound roles need a home location."""
        role = Role(self.role.data) if self.role.data in Role._value2member_map_ else None
        if role in (Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR) and not field.data:
            raise ValidationError("Service Managers and Advisors need a home location.")

    def validate_covered_location_ids(self, field) -> None:
        """A Field Manager covers at least one location."""
        if self.role.data == Role.FIELD_MANAGER.value and not field.data and not self.location_id.data:
            raise ValidationError("Choose the locations this Field Manager covers.")


class UnlockForm(FlaskForm):
    """Admin → Users → Unlock: only the CSRF token."""


def _daily_file_help() -> str:
    """The folder field's help, naming the vendors whose profile says they send a daily data file."""
    *others, last = [get_profile(code).display_name for code in VENDOR_CODES if get_profile(code).daily_data_file]
    vendors = f"{', '.join(others)} and {last}" if others else last
    return (
        f"{vendors} send a daily data file. Give the name of the folder it is dropped in, in the console's "
        "storage (e.g. northside: daily_files/northside there, which every server sees), or a full path on "
        "a single-server install."
    )


class LocationForm(FlaskForm):
    """A location and its DMS connection.

    The credential inputs depend on the protocol: :func:`location_form_class` adds one field
    per ``CredentialField`` of the chosen protocol, named ``cred_<name>``.
    """

    name = StringField("Name", filters=[_strip], validators=[DataRequired(), Length(max=120)])
    code = StringField(
        "Code",
        filters=[_strip],
        validators=[
            DataRequired(),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9_-]+$", message="Letters, digits, dash and underscore only."),
        ],
    )
    timezone = SelectField("Time zone", choices=[(tz, tz) for tz in TIMEZONES], validators=[DataRequired()])
    brand_list = StringField("Brands (comma-separated)", filters=[_strip], validators=[Optional(), Length(max=500)])
    dms_vendor = SelectField(
        "DMS", choices=[("", "No DMS connected")] + list(DMS_VENDORS.items()), validators=[Optional()]
    )
    # Choices are the vendor's protocols (set per request); the route checks the value.
    dms_protocol = SelectField("Protocol", choices=[], validate_choice=False, validators=[Optional()])
    # The protocol whose credential inputs the page showed (a changed vendor or protocol
    # without JavaScript re-shows the form with the right inputs instead of saving).
    dms_fields_for = HiddenField()
    dms_base_url = StringField(
        "DMS API address", filters=[_strip], validators=[Optional(), URL(require_tld=False), Length(max=255)]
    )
    dms_account = StringField(
        "Dealer account",
        filters=[_strip],
        validators=[Optional(), Length(max=64)],
        render_kw={"autocomplete": "off", **NOT_FOR_PASSWORD_MANAGERS},
    )
    dms_extract_dir = StringField(
        "Daily data file folder",
        filters=[_strip],
        validators=[Optional(), Length(max=255), _drop_folder_name],
        description=_daily_file_help(),
    )
    is_active = BooleanField("Active", default=True)

    #: The CredentialField tuple of the protocol this form class was built for.
    credential_fields: tuple = ()

    # "A connected DMS needs an address or a data-file folder" and the credential checks
    # depend on the vendor and protocol: webapp.admin.routes._check_dms_choice makes them.

    def credential_inputs(self) -> list:
        """The bound ``cred_<name>`` fields, in the protocol's order."""
        return [self[f"cred_{credential.name}"] for credential in self.credential_fields]


_form_classes: dict[tuple, type[LocationForm]] = {}


def location_form_class(credential_fields: tuple) -> type[LocationForm]:
    """A LocationForm with one input per credential: a write-only password input for a secret,
    a text input otherwise. Cached per tuple of fields."""
    key = tuple(credential_fields)
    if key not in _form_classes:
        attrs: dict = {"credential_fields": key}
        for credential in key:
            if credential.secret:
                attrs[f"cred_{credential.name}"] = PasswordField(
                    credential.label,
                    validators=[Optional(), Length(max=1024)],
                    render_kw={"autocomplete": "new-password", **NOT_FOR_PASSWORD_MANAGERS},
                )
            else:
                attrs[f"cred_{credential.name}"] = StringField(
                    credential.label,
                    filters=[_strip],
                    validators=[Optional(), Length(max=255)],
                    render_kw={"autocomplete": "off", "spellcheck": "false", **NOT_FOR_PASSWORD_MANAGERS},
                )
        _form_classes[key] = type("LocationCredentialsForm", (LocationForm,), attrs)
    return _form_classes[key]
