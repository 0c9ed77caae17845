"""The External Interfaces form (Administration menu → External Interfaces)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField
from wtforms.validators import NumberRange, Optional

from webapp.models import SyncMode, WriteBackMode


class ExternalInterfacesForm(FlaskForm):
    """How this location exchanges data with its DMS."""

    write_back_mode = RadioField(
        "When a sync wizard applies changes",
        choices=[(m.value, m.label) for m in WriteBackMode],
    )
    sync_mode = RadioField(
        "When the DMS sends changed customers and vehicles",
        choices=[(m.value, m.label) for m in SyncMode],
    )
    oem_build_data = BooleanField("OEM Build Data enabled (Year, Make, Model and Engine Type are locked in sync)")
    related_ro_enabled = SelectField("Related RO Numbers", choices=[("disabled", "DISABLED"), ("enabled", "ENABLED")])
    case_auto_close_days = IntegerField(
        "Auto-close cases idle for (days)", validators=[Optional(), NumberRange(min=1, max=365)]
    )
    case_auto_close_requires_closed_ro = BooleanField("Only when the case's RO is closed in the DMS")
