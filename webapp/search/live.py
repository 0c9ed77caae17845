"""The live, time-limited lookup in the connected DMS (DMS tab), and fetching one record.

Only ever run because a user asked (or the mirror had nothing): the request waits for
the DMS at most ``DMS_LOOKUP_TIMEOUT`` seconds and turns every failure into a message
with the connector's fix hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

import connectors
from webapp.models import DmsRecord, Location
from webapp.record_kinds import PORTAL_KINDS
from webapp.services import mirror

LIVE_LIMIT = 25
# DMS connections are set by Global Admins (Admin → Locations), not on External Interfaces.
NO_DMS_HINT = "Ask a Global Admin to connect the DMS to this location (Admin → Locations)."


@dataclass
class LiveResult:
    """Records found in the DMS (as ``to_dict()`` payloads) or why the DMS could not answer."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    fix_hint: str | None = None
    records: list[Any] = field(default_factory=list)  # the connector records behind ``payloads``


def _connect(location: Location):
    return location.connect_dms(current_app.config["DMS_LOOKUP_TIMEOUT"])


def _failure(exc: Exception) -> LiveResult:
    if isinstance(exc, connectors.DmsError):
        return LiveResult(error=f"DMS unreachable: {exc.message}", fix_hint=exc.fix_hint)
    return LiveResult(
        error="DMS unreachable: the DMS connection is not set up completely.",
        fix_hint="Ask a Global Admin to check the DMS settings of this location (Admin → Locations).",
    )


def lookup(location: Location, data_type: str, term: str, limit: int = LIVE_LIMIT) -> LiveResult:
    """Search the DMS itself for customers or vehicles matching ``term``."""
    if not location.has_dms:
        return LiveResult(error="No DMS is connected to this location.", fix_hint=NO_DMS_HINT)
    try:
        with _connect(location) as dms:
            found = getattr(dms, PORTAL_KINDS[data_type].dms_search)(term[:100], limit)
    except (connectors.DmsError, ValueError) as exc:
        current_app.logger.warning("live DMS lookup failed for location %s: %s", location.id, exc)
        return _failure(exc)
    return LiveResult(payloads=[record.to_dict() for record in found], records=list(found))


def refresh_mirror(session: Session, location: Location, data_type: str, records: Iterable[Any]) -> list[str]:
    """Store live ``records`` the mirror already holds through the pull's own writer
    (:func:`webapp.services.mirror.store_page`: search columns and index tokens stay right, unchanged
    records cost no write). A mirror row newer than the live record is left alone. Commits;
    returns the DMS ids whose mirror row changed. Never fails the search: a write that loses
    a race with a pull is rolled back and logged."""
    by_id = {str(r.dms_id): r for r in records}
    if not by_id:
        return []
    stored = dict(
        session.execute(
            select(DmsRecord.dms_id, DmsRecord.dms_modified_at).where(
                DmsRecord.location_id == location.id,
                DmsRecord.data_type == data_type,
                DmsRecord.dms_id.in_(list(by_id)),
            )
        ).all()
    )
    fresh = []
    for dms_id, record in by_id.items():
        if dms_id not in stored:
            continue
        ours, theirs = stored[dms_id], getattr(record, "modified_at", None)
        if ours is not None and ours.tzinfo is None:
            ours = ours.replace(tzinfo=UTC)
        if ours is not None and theirs is not None and theirs < ours:
            continue  # the mirror already holds a later version
        fresh.append(record)
    if not fresh:
        return []
    try:
        result = mirror.store_page(session, location, data_type, fresh)
        session.commit()
    except Exception:
        session.rollback()
        current_app.logger.exception("refreshing the DMS mirror from a live lookup failed (location %s)", location.id)
        return []
    return result.changed_ids


def merge_rows(rows: list, live_result: LiveResult, row_type: Any) -> list:
    """The DMS tab's rows with the live answer laid over them: a live record replaces the
    mirror's row of the same DMS id in place (its values are the newer ones); the others are
    added after the mirror's rows."""
    live_by_id = {str(p.get("dms_id")): p for p in live_result.payloads}
    merged = []
    for row in rows:
        payload = live_by_id.pop(row.dms_id, None)
        merged.append(row_type(row.dms_id, payload, source="live") if payload is not None else row)
    return merged + [row_type(dms_id, payload, source="live") for dms_id, payload in live_by_id.items()]


def fetch(location: Location, data_type: str, dms_id: str) -> tuple[dict[str, Any] | None, LiveResult | None]:
    """One record straight from the DMS: (payload or None when it has no such record, failure)."""
    if not location.has_dms:
        return None, LiveResult(error="No DMS is connected to this location.", fix_hint=NO_DMS_HINT)
    try:
        with _connect(location) as dms:
            record = dms.fetch_one(data_type, dms_id)
    except (connectors.DmsError, ValueError) as exc:
        return None, _failure(exc)
    return (record.to_dict() if record else None), None
