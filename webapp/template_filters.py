"""Jinja filters shared by every page."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask


def local_time(moment: datetime | None, location=None, fmt: str = "%b %d, %Y %H:%M") -> str:  # noqa: ANN001
    """``moment`` in the location's time zone (UTC when no location is given)."""
    if moment is None:
        return ""
    zone = ZoneInfo(location.timezone) if location is not None and getattr(location, "timezone", None) else None
    return moment.astimezone(zone).strftime(fmt) if zone else moment.strftime(fmt + " UTC")


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.add_template_filter(local_time, "local_time")
