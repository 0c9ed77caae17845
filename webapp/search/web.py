"""View helpers shared by the Customers and Assets pages (no routes here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, request
from flask_htmx import make_response

from webapp.domain.last_synced import BANDS, Badge, badge
from webapp.models import utcnow
from webapp.rendering import toast_event

SORT_CHOICES = {
    "customers": [("name", "Name"), ("last_synced", "Last synced"), ("newest", "Newest")],
    "vehicles": [("vin", "VIN"), ("year", "Year"), ("last_synced", "Last synced"), ("newest", "Newest")],
}


def customer_name(payload: Mapping[str, Any], default: str = "(no name)") -> str:
    """A DMS customer's name as staff know it: the company for businesses, otherwise "First Last"
    (the company when the person has no name); ``default`` when the record names nobody."""
    if payload.get("kind") == "business" and payload.get("company_name"):
        return str(payload["company_name"])
    person = " ".join(
        text for text in (str(payload.get(key) or "").strip() for key in ("first_name", "last_name")) if text
    )
    return person or str(payload.get("company_name") or "") or default


def vehicle_label(payload: Mapping[str, Any], default: str = "(unknown vehicle)") -> str:
    """'2019 Ford F-150' from a DMS vehicle; ``default`` when it names no year, make or model."""
    return (
        " ".join(str(part) for part in (payload.get("year"), payload.get("make"), payload.get("model")) if part)
        or default
    )


@dataclass
class DmsRow:
    """A record of the DMS shown on the DMS tab, and the portal record linked to it (if any)."""

    dms_id: str
    payload: dict[str, Any]
    portal_id: int | None = None
    source: str = "mirror"  # "mirror" or "live"

    @property
    def display_name(self) -> str:
        """Company for businesses, otherwise "First Last"."""
        return customer_name(self.payload)

    @property
    def vehicle_label(self) -> str:
        """'2019 Ford F-150' style label."""
        return vehicle_label(self.payload)


def request_args() -> dict[str, Any]:
    """The search state from the query string, made safe: q, tab, page, sort, live, band
    (a Last synced band of webapp.domain.last_synced, or "" for all). A page past the end
    shows the last one (webapp.search.engine), so the page number is only kept in bounds."""
    q = request.args.get("q", "")[:10_000]
    tab = "dms" if request.args.get("tab") == "dms" else "portal"
    try:
        page = max(1, min(int(request.args.get("page", "1")[:12]), 10_000_000))
    except ValueError:
        page = 1
    band = request.args.get("band", "")
    return {
        "q": q,
        "tab": tab,
        "page": page,
        "sort": request.args.get("sort", ""),
        "live": request.args.get("live") == "1",
        "band": band if band in BANDS else "",
    }


def with_events(response: Response, message: str | None = None, level: str = "info", refresh: bool = False) -> Response:
    """Add htmx events to ``response``: a toast and/or asking the results list to reload."""
    events: dict[str, Any] = toast_event(message, level) if message else {}
    if refresh:
        events["refreshResults"] = True
    return make_response(response, trigger=events) if events else response


def _zone_name() -> str:
    from webapp.scoping import current_location

    location = current_location()
    return location.timezone if location else "UTC"


def last_synced_badge(moment: datetime | None) -> Badge:
    """The Last Synced badge for the current user's location (template global)."""
    return badge(moment, utcnow(), _zone_name())
