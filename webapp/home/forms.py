"""The location switcher."""

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired


class SwitchLocationForm(FlaskForm):
    """Choose the location to work in."""

    location_id = SelectField("Location", coerce=int, validators=[DataRequired()])
