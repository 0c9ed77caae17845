"""Editing an advisor's DMS id, and the location's DMS appointment rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional, Regexp


class AdvisorDmsIdForm(FlaskForm):
    """One advisor's employee id in the DMS (blank = none)."""

    advisor_dms_id = StringField(
        "DMS employee ID",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9._-]+$", message="Letters, digits, dots, dashes only."),
        ],
    )


class DmsRulesForm(FlaskForm):
    """How this location's DMS is set up (CDK: address and/or e-mail required with appointments)."""

    require_address = BooleanField("The DMS requires the customer's address with appointments")
    require_email = BooleanField("The DMS requires the customer's e-mail with appointments")
