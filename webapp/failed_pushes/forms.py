"""Retry and Dismiss on the failed-push queue."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class RetryForm(FlaskForm):
    """Retry a refused push now (CSRF only)."""


class DismissForm(FlaskForm):
    """Give up on a push; the reason is kept in history."""

    reason = StringField(
        "Reason",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired(message="Say why this push will not be sent."), Length(max=500)],
    )
