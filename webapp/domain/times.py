"""Moments as staff read them: in the zone of the location a record belongs to.

Pure: the template filters (webapp/template_filters.py) and texts written by background work
(an update request confirmed by a pull) word times the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.records import parse_datetime

#: "Nov 02, 2026 09:30", the format every screen uses unless it asks for a date alone.
DEFAULT_FORMAT = "%b %d, %Y %H:%M"
UTC = ZoneInfo("UTC")


def zone_of(location: Any) -> ZoneInfo:
    """The location's time zone (UTC when none is set or the name is unknown)."""
    name = getattr(location, "timezone", None) if location is not None else None
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def as_moment(value: Any) -> datetime | None:
    """A datetime from a datetime or the ISO text DMS payloads carry (naive values are UTC);
    None when ``value`` is empty or not a time."""
    try:
        return parse_datetime(value)
    except (ValueError, TypeError):
        return None


def format_local(value: Any, location: Any, fmt: str = DEFAULT_FORMAT, *, with_zone: bool = False) -> str:
    """``value`` (datetime or ISO text) in ``location``'s zone; "" when empty, the text itself
    when it is not a time. ``with_zone`` adds the zone's abbreviation ("PST"); a moment of no
    location is in UTC and says so."""
    moment = as_moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if (with_zone or location is None) and "%Z" not in fmt:
        fmt += " %Z"
    return moment.astimezone(zone_of(location)).strftime(fmt)
