"""Change webhooks from push-based ("Auto") DMSs: verify, then pull what changed.

The DMS signs each delivery (see :mod:`connectors.webhooks`): HMAC-SHA256 over the
timestamp and the body with the location's webhook secret. Deliveries older than five
minutes, with a bad signature, or with an event id seen before are refused, so a
captured request cannot be replayed. Replay protection reads only signed data: the
event id is the body's ``event_id`` (the ``X-DMS-Event-Id`` header is not signed, so
it is ignored — a captured notice resent under a new header id is still a duplicate),
and the timestamp is part of the signed message. A valid delivery queues a pull of that
data type from the stored cursor, so the change reaches the console within seconds. When
the pull cannot be queued (Redis unreachable) the delivery is answered 503 and its event id
is forgotten, so the DMS's retry is accepted rather than answered as a duplicate.

Every delivery to a known location (accepted, duplicate, bad signature, refused) is listed
under External Interfaces → Webhook (:mod:`webapp.settings.webhook_setup`).

A body that is signed but unusable (not JSON, nested too deeply for the parser, NUL
characters, no ``event_id``/``data_type``) answers 400 and is logged.
"""

from __future__ import annotations

import json
import logging

from flask import abort, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select

import connectors
from connectors.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from webapp.extensions import csrf, db, limiter
from webapp.input_safety import contains_nul
from webapp.models import Location, RunTrigger
from webapp.permissions import public
from webapp.redis_conn import get_redis
from webapp.services.runs import enqueue_pull, pull_again_after
from webapp.settings.webhook_setup import record_delivery

TOLERANCE_SECONDS = 300
SEEN_KEY = "dms-console:webhook-event:{}:{}"
MAX_EVENT_ID_LENGTH = 200

log = logging.getLogger(__name__)


def _forget(key: str) -> None:
    """Drop a replay key (best effort: Redis may be what just failed; the key then expires)."""
    try:
        get_redis().delete(key)
    except (RedisError, OSError):
        log.warning("webhook replay key %s not removed", key)


def _bad_body(location: Location, reason: str):
    """Answer 400 for a signed body we cannot use, and leave a trace for operators."""
    log.warning("webhook for location %s refused: %s", location.code, reason)
    record_delivery(location.id, "refused", 400, detail=reason)
    return jsonify(error=reason), 400


@public  # authenticated by the HMAC signature, not a session
@csrf.exempt  # called by the DMS, not a browser: the signature is the protection
@limiter.limit("600 per minute")
def webhook(code: str):
    """Receive one signed change notification."""
    location = db.session.scalar(select(Location).where(Location.code == code.upper(), Location.is_active.is_(True)))
    if location is None or not location.webhook_secret or not location.dms_vendor:
        abort(404)
    body = request.get_data(cache=False)
    if not verify_signature(
        location.webhook_secret,
        request.headers.get(TIMESTAMP_HEADER),
        body,
        request.headers.get(SIGNATURE_HEADER),
        tolerance=TOLERANCE_SECONDS,
    ):
        record_delivery(location.id, "bad_signature", 401)  # nothing of an unsigned body is kept
        return jsonify(error="bad or expired signature"), 401
    try:
        event = json.loads(body)
    except RecursionError:
        return _bad_body(location, "body is nested too deeply")
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return _bad_body(location, "body must be JSON with an event_id and a data_type")
    if not isinstance(event, dict) or "data_type" not in event:
        return _bad_body(location, "body must be JSON with an event_id and a data_type")
    if contains_nul(event):
        return _bad_body(location, "body contains a NUL character")
    # Only the signed body names the event: the X-DMS-Event-Id header is not covered by the signature.
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID_LENGTH:
        return _bad_body(location, "body must carry an event_id (a non-empty string)")
    data_type = str(event["data_type"])
    seen = SEEN_KEY.format(location.id, event_id)
    if not get_redis().set(seen, 1, nx=True, ex=2 * 86400):
        record_delivery(location.id, "duplicate", 409, event_id=event_id, data_type=data_type)
        return jsonify(error="event already received"), 409
    if not connectors.get_profile(location.dms_vendor).can_pull(data_type):
        record_delivery(
            location.id,
            "refused",
            422,
            event_id=event_id,
            data_type=data_type,
            detail=f"{data_type} is not pulled for this DMS",
        )
        return jsonify(error=f"data type {data_type} is not pulled for this DMS"), 422
    try:
        run = enqueue_pull(location.id, data_type, RunTrigger.WEBHOOK)
        if run is None:
            pull_again_after(location.id, data_type)  # the running pull may already be past the change
    except Exception as error:
        # Nothing was queued: the DMS's retry of this event must be accepted, not answered "duplicate".
        _forget(seen)
        if not isinstance(error, (RedisError, OSError)):
            raise
        log.warning("webhook for location %s: pull not queued (%s)", location.code, type(error).__name__)
        record_delivery(
            location.id,
            "refused",
            503,
            event_id=event_id,
            data_type=data_type,
            detail="the job queue (Redis) could not be reached; the DMS's next try is accepted",
        )
        return jsonify(error="the pull could not be queued; try again"), 503
    record_delivery(
        location.id,
        "accepted",
        202,
        event_id=event_id,
        data_type=data_type,
        detail="pull queued" if run else "a pull was running; another follows it",
    )
    return jsonify(accepted=True, run_id=run.id if run else None), 202
