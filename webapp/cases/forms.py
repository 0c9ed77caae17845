"""Case forms: new case, case edits (assignment, complaint, notes)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class NewCaseForm(FlaskForm):
    """Open a case for the RO a vehicle came in on."""

    ro_number = StringField("RO Number", validators=[DataRequired(message="Enter the RO number."), Length(max=64)])
    asset_id = HiddenField()
    assigned_to_id = SelectField("Assigned to", coerce=str, validators=[Optional()])
    complaint = TextAreaField("Complaint", validators=[Optional(), Length(max=4000)])


class CaseEditForm(FlaskForm):
    """What staff change on an open case."""

    assigned_to_id = SelectField("Assigned to", coerce=str, validators=[Optional()])
    complaint = TextAreaField("Complaint", validators=[Optional(), Length(max=4000)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=8000)])
