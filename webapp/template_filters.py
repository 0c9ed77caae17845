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


# Loaded by base.html itself (first) or only by their own pages.
_NOT_GLOBAL = {"css/app.css", "js/app.js", "js/rq-dashboard-csrf.js"}


def page_assets(app: Flask) -> dict[str, list[str]]:
    """Every area's stylesheet and script, for base.html to load on every page.

    hx-boost swaps only the <body> on navigation, so a stylesheet linked from one page's
    <head> would be missing when that page is reached by a boosted link. The files are
    small; loading them all once (then from cache) is simpler and always right. Scripts
    act only on elements of their own area (event delegation), so loading them everywhere is safe.
    """
    from pathlib import Path

    static = Path(app.static_folder)
    found = {}
    for kind in ("css", "js"):
        found[kind] = sorted(
            f"{kind}/{path.name}" for path in (static / kind).glob(f"*.{kind}")
            if f"{kind}/{path.name}" not in _NOT_GLOBAL
        ) if (static / kind).is_dir() else []
    return found


def init_app(app: Flask) -> None:
    """Register the filters and the list of page assets."""
    app.add_template_filter(local_time, "local_time")
    app.jinja_env.globals["page_assets"] = page_assets(app)
