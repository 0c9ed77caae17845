"""Last Synced badge bands (seed 001): boundaries in days and around midnight in the location's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.domain.last_synced import badge, band_for, days_since

NOW = datetime(2024, 6, 15, 17, 0, tzinfo=UTC)  # 12:00 in Chicago (CDT)


def test_never_synced_is_a_tag():
    b = badge(None, NOW, "America/Chicago")
    assert (b.band, b.label, b.title) == ("never", "Not Synced with DMS", "")
    assert "tag" in b.css_class


@pytest.mark.parametrize(
    "days, band",
    [(0, "recent"), (1, "recent"), (30, "recent"), (31, "ageing"), (90, "ageing"), (91, "stale"), (400, "stale")],
)
def test_bands_at_their_boundaries(days, band):
    b = badge(NOW - timedelta(days=days), NOW, "America/Chicago")
    assert b.band == band == band_for(days)
    assert b.days == days


def test_colour_is_never_the_only_signal():
    for days in (0, 45, 120):
        b = badge(NOW - timedelta(days=days), NOW, "America/Chicago")
        assert b.icon and b.label.startswith("Synced")
    assert "tag-warn" in badge(NOW - timedelta(days=45), NOW, "UTC").css_class
    assert "tag-error" in badge(NOW - timedelta(days=120), NOW, "UTC").css_class
    assert "tag" not in badge(NOW - timedelta(days=3), NOW, "UTC").css_class.split()


def test_days_count_midnights_in_the_location_timezone():
    # 23:30 in Chicago on June 14 = 04:30 UTC June 15; "now" is 00:30 Chicago June 15 = 05:30 UTC.
    synced = datetime(2024, 6, 15, 4, 30, tzinfo=UTC)
    now = datetime(2024, 6, 15, 5, 30, tzinfo=UTC)
    assert days_since(synced, now, "America/Chicago") == 1  # a midnight passed in Chicago
    assert days_since(synced, now, "UTC") == 0  # none in UTC
    assert badge(synced, now, "America/Chicago").label == "Synced yesterday"


def test_day_30_to_31_flips_exactly_at_local_midnight():
    tz = "America/Chicago"
    synced = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)  # 10:00 May 1 in Chicago
    last_minute_of_day_30 = datetime(2024, 6, 1, 4, 59, tzinfo=UTC)  # 23:59 May 31 Chicago
    first_minute_of_day_31 = datetime(2024, 6, 1, 5, 0, tzinfo=UTC)  # 00:00 June 1 Chicago
    assert badge(synced, last_minute_of_day_30, tz).band == "recent"
    assert badge(synced, first_minute_of_day_31, tz).band == "ageing"


def test_day_90_to_91_flips_at_local_midnight_across_a_dst_change():
    tz = "America/New_York"
    synced = datetime(2024, 1, 10, 17, 0, tzinfo=UTC)  # noon EST, Jan 10
    day_90_end = datetime(2024, 4, 10, 3, 59, tzinfo=UTC)  # 23:59 EDT April 9
    day_91_start = datetime(2024, 4, 10, 4, 0, tzinfo=UTC)  # 00:00 EDT April 10
    assert days_since(synced, day_90_end, tz) == 90 and badge(synced, day_90_end, tz).band == "ageing"
    assert days_since(synced, day_91_start, tz) == 91 and badge(synced, day_91_start, tz).band == "stale"


def test_exact_time_on_hover_is_in_the_location_timezone():
    synced = datetime(2024, 6, 10, 17, 5, tzinfo=UTC)
    assert badge(synced, NOW, "America/Chicago").title == "Last synced Jun 10, 2024 12:05 PM CDT"
    assert badge(synced, NOW, "Europe/Berlin").title == "Last synced Jun 10, 2024 7:05 PM CEST"


def test_unknown_timezone_falls_back_to_utc_and_future_times_count_as_today():
    assert badge(NOW + timedelta(hours=2), NOW, "Not/AZone").label == "Synced today"
