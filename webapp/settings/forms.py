"""External Interfaces form (Admin Tools > Location Information > External Interfaces)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField

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
    related_ro_enabled = BooleanField("Related RO Numbers")
