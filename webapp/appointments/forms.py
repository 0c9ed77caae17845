"""The appointment form (book and reschedule) and the cancel form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


def _strip(value):
    """Trim surrounding blanks from text input."""
    return value.strip() if isinstance(value, str) else value


class AppointmentForm(FlaskForm):
    """When, with whom, for which vehicle, and what work (opcodes and/or notes)."""

    customer_id = HiddenField()
    asset_id = SelectField("Vehicle", coerce=int, validators=[Optional()])
    advisor_id = SelectField("Service advisor", coerce=int, validators=[Optional()])
    scheduled_at = DateTimeLocalField(
        "Date and time", format="%Y-%m-%dT%H:%M", validators=[DataRequired(message="Enter the date and time.")]
    )
    # Chosen from the pulled opcode list; not limited to the choices here so the
    # pre-flight check can explain an unknown opcode in the vendor's words.
    opcodes = SelectMultipleField("Opcodes", validate_choice=False)
    opcode_text = StringField("Opcodes", filters=[_strip], validators=[Optional(), Length(max=200)])
    notes = TextAreaField("Notes", filters=[_strip], validators=[Optional(), Length(max=2000)])
    dispatch_code = StringField("Dispatch code", filters=[_strip], validators=[Optional(), Length(max=16)])
    brand = SelectField("Brand", validators=[Optional()])

    def chosen_opcodes(self) -> list[str]:
        """Opcodes picked from the list, or typed (comma- or space-separated), upper-cased, once each."""
        picked = list(self.opcodes.data or [])
        if self.opcode_text.data:
            picked += self.opcode_text.data.replace(",", " ").split()
        result: list[str] = []
        for code in (c.strip().upper() for c in picked):
            if code and code not in result:
                result.append(code)
        return result


class CancelForm(FlaskForm):
    """Cancel an appointment (CSRF only)."""
