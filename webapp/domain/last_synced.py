"""Last Synced badge bands (seed 001), counted in calendar days of the location's timezone.

| last synced       | band    | display                          |
| never             | never   | "Not Synced with DMS" tag        |
| within 30 days    | recent  | no colour                        |
| 31-90 days ago    | ageing  | yellow (plus text and an icon)   |
| more than 90 days | stale   | red (plus text and an icon)      |

"Days ago" is the number of midnights passed in the location's timezone, so a record
synced at 23:59 was synced "1 day ago" at 00:01 there, whatever UTC says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RECENT_MAX_DAYS = 30
AGEING_MAX_DAYS = 90

#: The bands as the "Last synced" filter of the Customers and Assets lists offers them (value, label).
BAND_FILTERS: tuple[tuple[str, str], ...] = (
    ("never", "Never"),
    ("recent", f"≤ {RECENT_MAX_DAYS} days"),
    ("ageing", f"{RECENT_MAX_DAYS + 1}–{AGEING_MAX_DAYS} days"),
    ("stale", f"> {AGEING_MAX_DAYS} days"),
)
BANDS = tuple(value for value, _label in BAND_FILTERS)


@dataclass(frozen=True)
class Badge:
    """What to show: band, text, the exact time for the tooltip, CSS class and icon."""

    band: str  # never, recent, ageing, stale
    label: str
    title: str  # exact time in the location's timezone ('' when never)
    css_class: str
    icon: str
    days: int | None


def _zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def days_since(last_synced_at: datetime, now: datetime, tz_name: str | None) -> int:
    """Calendar days between the two moments, as seen on a wall clock in ``tz_name``."""
    zone = _zone(tz_name)
    then = last_synced_at if last_synced_at.tzinfo else last_synced_at.replace(tzinfo=UTC)
    return (now.astimezone(zone).date() - then.astimezone(zone).date()).days


def band_for(days: int | None) -> str:
    """The band of a sync ``days`` ago (None = never)."""
    if days is None:
        return "never"
    if days <= RECENT_MAX_DAYS:
        return "recent"
    if days <= AGEING_MAX_DAYS:
        return "ageing"
    return "stale"


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def band_cutoffs(now: datetime, tz_name: str | None) -> tuple[datetime, datetime]:
    """The earliest moments (UTC) still in the ``recent`` and the ``ageing`` band at ``now``.

    :func:`days_since` counts midnights in ``tz_name``, so "at most N days ago" is "at or
    after the local midnight N days before today": a query can compare the stored UTC
    timestamp with these and put every record in the band its badge shows.
    """
    zone = _zone(tz_name)
    today = now.astimezone(zone).date()
    return (
        _local_midnight(today - timedelta(days=RECENT_MAX_DAYS), zone),
        _local_midnight(today - timedelta(days=AGEING_MAX_DAYS), zone),
    )


def badge(last_synced_at: datetime | None, now: datetime, tz_name: str | None) -> Badge:
    """The Last Synced badge of a record for a user of a location in ``tz_name``."""
    if last_synced_at is None:
        return Badge("never", "Not Synced with DMS", "", "tag tag-muted last-synced-never", "○", None)
    days = max(0, days_since(last_synced_at, now, tz_name))
    band = band_for(days)
    when = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    local = last_synced_at.astimezone(_zone(tz_name))
    title = "Last synced " + local.strftime("%b %d, %Y %I:%M %p %Z").replace(" 0", " ")
    if band == "recent":
        return Badge(band, f"Synced {when}", title, "last-synced last-synced-recent", "✓", days)
    if band == "ageing":
        return Badge(band, f"Synced {when}", title, "tag tag-warn last-synced-ageing", "⚠", days)
    return Badge(band, f"Synced {when}", title, "tag tag-error last-synced-stale", "✕", days)
