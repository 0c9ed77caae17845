"""Forms for users and locations."""
from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import URL, DataRequired, Email, Length, Optional, Regexp, ValidationError

from webapp.auth.forms import MIN_PASSWORD
from webapp.models import Role
from webapp.models.location import DMS_VENDORS

ROLE_CHOICES = [(r.value, r.label) for r in Role]
TIMEZONES = sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith(("Etc/", "SystemV/")))


def _strip(value):
    """Trim surrounding blanks from text input."""
    return value.strip() if isinstance(value, str) else value


class UserForm(FlaskForm):
    """Create or edit a user. The password is required only when creating."""

    name = StringField("Full name", filters=[_strip], validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", filters=[_strip], validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired()])
    location_id = SelectField("Home location", coerce=int, validators=[Optional()])
    covered_location_ids = SelectMultipleField("Locations covered (Field Managers)", coerce=int, validators=[Optional()])
    advisor_dms_id = StringField(
        "Advisor's DMS employee id",
        filters=[_strip],
        validators=[Optional(), Length(max=64), Regexp(r"^[A-Za-z0-9._-]+$", message="Letters, digits, dot, dash and underscore only.")],
    )
    active = BooleanField("Active (may sign in)", default=True)
    password = PasswordField("Password", validators=[Optional(), Length(min=MIN_PASSWORD, max=1024, message=f"Use at least {MIN_PASSWORD} characters.")])

    def validate_location_id(self, field) -> None:  # noqa: ANN001 - WTForms hook
        """Location-bound roles need a home location."""
        role = Role(self.role.data) if self.role.data in Role._value2member_map_ else None
        if role in (Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR) and not field.data:
            raise ValidationError("Service Managers and Advisors need a home location.")

    def validate_covered_location_ids(self, field) -> None:  # noqa: ANN001
        """A Field Manager covers at least one location."""
        if self.role.data == Role.FIELD_MANAGER.value and not field.data and not self.location_id.data:
            raise ValidationError("Choose the locations this Field Manager covers.")


class LocationForm(FlaskForm):
    """A location and its DMS connection."""

    name = StringField("Name", filters=[_strip], validators=[DataRequired(), Length(max=120)])
    code = StringField(
        "Code", filters=[_strip],
        validators=[DataRequired(), Length(max=32), Regexp(r"^[A-Za-z0-9_-]+$", message="Letters, digits, dash and underscore only.")],
    )
    timezone = SelectField("Time zone", choices=[(tz, tz) for tz in TIMEZONES], validators=[DataRequired()])
    brand_list = StringField("Brands (comma-separated)", filters=[_strip], validators=[Optional(), Length(max=500)])
    dms_vendor = SelectField("DMS", choices=[("", "No DMS connected")] + list(DMS_VENDORS.items()), validators=[Optional()])
    dms_base_url = StringField("DMS API address", filters=[_strip], validators=[Optional(), URL(require_tld=False), Length(max=255)])
    dms_account = StringField("Dealer account", filters=[_strip], validators=[Optional(), Length(max=64)])
    dms_api_key = PasswordField("API key (leave empty to keep the current one)", validators=[Optional(), Length(max=255)])
    dms_extract_dir = StringField("Daily data file folder", filters=[_strip], validators=[Optional(), Length(max=255)])
    is_active = BooleanField("Active", default=True)

    def validate_dms_base_url(self, field) -> None:  # noqa: ANN001
        """A connected DMS needs an address or a data-file folder."""
        if self.dms_vendor.data and not field.data and not self.dms_extract_dir.data:
            raise ValidationError("Give the DMS API address (or a daily data file folder).")
