"""Webhook set-up for "Auto" DMSs (Reynolds, Automate, Tekion): the address, the secret, the
recent deliveries and a test event.

Deliveries are kept in Redis, the last :data:`KEEP` per location (newest first): enough to see
whether the DMS reaches the console and what the console answered, without a table that grows.
Recording never fails a delivery: when Redis is unavailable the delivery is answered as usual
and simply not listed.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, url_for
from redis.exceptions import RedisError
from sqlalchemy import select

import connectors
from connectors.records import KINDS
from webapp.extensions import db
from webapp.models import AuditEvent, DmsRecord, Location
from webapp.redis_conn import get_redis
from webapp.scoping import scoped

log = logging.getLogger(__name__)

KEY = "dms-console:webhook-deliveries:{}"
KEEP = 20
SECRET_BYTES = 32
ROTATED_KIND = "webhook.secret_rotated"

# result -> what the list says
RESULTS = {
    "accepted": "Accepted",
    "duplicate": "Duplicate (already received)",
    "bad_signature": "Bad or expired signature",
    "refused": "Refused",
}


@dataclass(frozen=True)
class Delivery:
    """One notice the DMS sent, and what the console answered."""

    at: datetime
    result: str
    status: int
    event_id: str
    data_type: str
    detail: str

    @property
    def label(self) -> str:
        return RESULTS.get(self.result, self.result)

    @property
    def data_label(self) -> str:
        kind = KINDS.get(self.data_type)
        return kind.label if kind is not None else self.data_type.replace("_", " ").capitalize()


def record_delivery(
    location_id: int, result: str, status: int, *, event_id: str = "", data_type: str = "", detail: str = ""
) -> None:
    """Remember one delivery (newest first, the last :data:`KEEP`). Never raises."""
    entry = json.dumps(
        {
            "at": datetime.now(UTC).isoformat(),
            "result": result,
            "status": status,
            "event_id": (event_id or "")[:200],
            "data_type": (data_type or "")[:32],
            "detail": (detail or "")[:200],
        }
    )
    try:
        pipe = get_redis().pipeline()
        pipe.lpush(KEY.format(location_id), entry)
        pipe.ltrim(KEY.format(location_id), 0, KEEP - 1)
        pipe.execute()
    except RedisError as error:  # pragma: no cover - Redis down: the delivery is still answered
        log.warning("webhook delivery for location %s not recorded: %s", location_id, error)


def recent_deliveries(location_id: int, limit: int = KEEP) -> list[Delivery]:
    """The last deliveries, newest first ([] when Redis is unavailable)."""
    try:
        raw = get_redis().lrange(KEY.format(location_id), 0, limit - 1)
    except RedisError:  # pragma: no cover
        return []
    found = []
    for item in raw:
        try:
            data = json.loads(item)
            found.append(
                Delivery(
                    datetime.fromisoformat(data["at"]),
                    str(data["result"]),
                    int(data["status"]),
                    str(data.get("event_id") or ""),
                    str(data.get("data_type") or ""),
                    str(data.get("detail") or ""),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found


def receives_webhooks(location: Location) -> bool:
    """True when the location's DMS pushes changes ("Auto" data types)."""
    if not location.dms_vendor:
        return False
    try:
        return connectors.get_profile(location.dms_vendor).pushes_changes
    except (KeyError, ValueError):
        return False


def pushed_data_types(location: Location) -> list[str]:
    """The data types this location's DMS sends notices for."""
    profile = connectors.get_profile(location.dms_vendor)
    return [data_type for data_type, mode in profile.pull.items() if mode.kind == "dms_push"]


def webhook_url(location: Location) -> str:
    """The address to give the DMS: under ``WEBHOOK_BASE_URL`` when set (the console's address as the
    DMS reaches it, where that differs from the staff's), else under this request's own address."""
    base = current_app.config.get("WEBHOOK_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("integrations.webhook", code=location.code)
    return url_for("integrations.webhook", code=location.code, _external=True)


def new_secret() -> str:
    """A fresh random secret (URL-safe text, 256 bits)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_set_on(location: Location) -> datetime | None:
    """When the current secret was generated here (None if it was set some other way)."""
    return db.session.scalar(
        select(AuditEvent.created_at)
        .where(AuditEvent.kind == ROTATED_KIND, AuditEvent.location_id == location.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


# --------------------------------------------------------------------------- test event
def sandbox_url() -> str:
    """Where the sandbox DMS of ``make run`` listens (the ``SANDBOX_URL`` setting)."""
    return current_app.config["SANDBOX_URL"].rstrip("/")


def _sandbox_root(location: Location) -> str:
    """The root of the sandbox DMS the location's address would be under (its control API)."""
    from connectors.sandbox.testing import sandbox_root

    return sandbox_root(location.dms_base_url)


def is_sandbox_address(location: Location) -> bool:
    """True when the location's DMS address is the configured sandbox DMS's (no request made)."""
    return bool(location.dms_base_url) and _sandbox_root(location) == sandbox_url()


def how_to_test(location: Location) -> str:
    """How a person gets a real DMS to send a notice (the console cannot ask it to)."""
    vendor = location.dms_vendor_name
    return (
        f"The console cannot ask {vendor} to send a notice. To test, change a customer in {vendor} "
        f"(for example a phone number). If {vendor} has the address and the secret above, the notice is "
        "listed under Recent deliveries when it arrives: reload this page to see it."
    )


def sandbox_control(location: Location):
    """A control client when this location's DMS is the sandbox DMS (else None).

    Only a location whose DMS address is the configured sandbox's is asked; the sandbox must
    also know the location's account."""
    if not location.dms_account or not is_sandbox_address(location):
        return None
    from connectors.sandbox.testing import ControlClient

    control = ControlClient(_sandbox_root(location), timeout=15.0)
    if not control.has_account(location.dms_account):
        control.close()
        return None
    return control


@dataclass(frozen=True)
class Outcome:
    """What a webhook action (a test event, a refused request) says in the section's status line."""

    ok: bool
    message: str


def send_test_event(location: Location, control) -> Outcome:
    """Ask the sandbox DMS to send one signed notice to this console now."""
    data_type = pushed_data_types(location)[0]
    label = KINDS[data_type].label
    some_id = (
        db.session.scalar(
            scoped(DmsRecord)
            .with_only_columns(DmsRecord.dms_id)
            .where(DmsRecord.location_id == location.id, DmsRecord.data_type == data_type)
            .limit(1)
        )
        or "TEST"
    )
    url, secret, account = webhook_url(location), location.webhook_secret, location.dms_account
    # The DMS calls back while this request waits: hold no transaction (SQLite would lock it out).
    db.session.commit()
    try:
        deliveries = control.send_webhooks(account, url=url, secret=secret, data_type=data_type, dms_ids=[some_id])
    except Exception as error:
        return Outcome(
            False,
            f"The sandbox DMS could not send a test event ({type(error).__name__}). "
            "Check that it is running (make run starts it), then try again.",
        )
    finally:
        control.close()
    if not deliveries:
        return Outcome(False, "The sandbox DMS sent nothing. Try again.")
    status = int(deliveries[0].get("status") or 0)
    if status == 202:
        return Outcome(
            True,
            f"The sandbox DMS sent a test notice about {label} and the console accepted it: "
            f"a pull of {label} was queued (see Integration health).",
        )
    if status == 0:
        return Outcome(
            False,
            f"The sandbox DMS could not reach the console at {url}. "
            "The DMS must be able to open this address; check it is reachable from the DMS.",
        )
    if status == 401:
        return Outcome(False, "The console refused the test notice: bad or expired signature.")
    return Outcome(False, f"The console answered the test notice with HTTP {status} (see Recent deliveries).")
