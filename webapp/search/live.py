"""The live, time-limited lookup in the connected DMS (DMS tab), and fetching one record.

Only ever run because a user asked (or the mirror had nothing): the request waits for
the DMS at most ``DMS_LOOKUP_TIMEOUT`` seconds and turns every failure into a message
with the connector's fix hint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import connectors
from flask import current_app

from webapp.models import Location
from webapp.record_kinds import PORTAL_KINDS

LIVE_LIMIT = 25
# DMS connections are set by Global Admins (Admin → Locations), not on External Interfaces.
NO_DMS_HINT = "Ask a Global Admin to connect the DMS to this location (Admin → Locations)."


@dataclass
class LiveResult:
    """Records found in the DMS (as ``to_dict()`` payloads) or why the DMS could not answer."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    fix_hint: str | None = None


def _connect(location: Location):
    return location.connect_dms(current_app.config["DMS_LOOKUP_TIMEOUT"])


def _failure(exc: Exception) -> LiveResult:
    if isinstance(exc, connectors.DmsError):
        return LiveResult(error=f"DMS unreachable: {exc.message}", fix_hint=exc.fix_hint)
    return LiveResult(error="DMS unreachable: the DMS connection is not set up completely.",
                      fix_hint="Ask a Global Admin to check the DMS settings of this location (Admin → Locations).")


def lookup(location: Location, data_type: str, term: str, limit: int = LIVE_LIMIT) -> LiveResult:
    """Search the DMS itself for customers or vehicles matching ``term``."""
    if not location.has_dms:
        return LiveResult(error="No DMS is connected to this location.",
                          fix_hint=NO_DMS_HINT)
    try:
        with _connect(location) as dms:
            found = getattr(dms, PORTAL_KINDS[data_type].dms_search)(term[:100], limit)
    except (connectors.DmsError, ValueError) as exc:
        current_app.logger.warning("live DMS lookup failed for location %s: %s", location.id, exc)
        return _failure(exc)
    return LiveResult(payloads=[record.to_dict() for record in found])


def fetch(location: Location, data_type: str, dms_id: str) -> tuple[dict[str, Any] | None, LiveResult | None]:
    """One record straight from the DMS: (payload or None when it has no such record, failure)."""
    if not location.has_dms:
        return None, LiveResult(error="No DMS is connected to this location.",
                                fix_hint=NO_DMS_HINT)
    try:
        with _connect(location) as dms:
            record = dms.fetch_one(data_type, dms_id)
    except (connectors.DmsError, ValueError) as exc:
        return None, _failure(exc)
    return (record.to_dict() if record else None), None
