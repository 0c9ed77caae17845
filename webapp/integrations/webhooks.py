"""Change webhooks from push-based ("Auto") DMSs: verify, then pull what changed.

The DMS signs each delivery (see :mod:`connectors.webhooks`): HMAC-SHA256 over the
timestamp and the body with the location's webhook secret. Deliveries older than five
minutes, with a bad signature, or with an event id seen before are refused, so a
captured request cannot be replayed. A valid one queues a pull of that data type from
the stored cursor, so the change reaches the console within seconds.
"""
from __future__ import annotations

import json

from flask import abort, jsonify, request
from sqlalchemy import select

import connectors
from connectors.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from jobs.pulls import enqueue_pull, pull_again_after
from webapp.extensions import csrf, db, limiter
from webapp.integrations import bp
from webapp.models import Location, RunTrigger
from webapp.permissions import public
from webapp.redis_conn import get_redis

TOLERANCE_SECONDS = 300
SEEN_KEY = "dms-console:webhook-event:{}:{}"


@bp.route("/webhooks/<code>", methods=["POST"])
@public  # authenticated by the HMAC signature, not a session
@csrf.exempt  # called by the DMS, not a browser: the signature is the protection
@limiter.limit("600 per minute")
def webhook(code: str):
    """Receive one signed change notification."""
    location = db.session.scalar(select(Location).where(Location.code == code.upper(), Location.is_active.is_(True)))
    if location is None or not location.webhook_secret or not location.dms_vendor:
        abort(404)
    body = request.get_data(cache=False)
    if not verify_signature(location.webhook_secret, request.headers.get(TIMESTAMP_HEADER), body,
                            request.headers.get(SIGNATURE_HEADER), tolerance=TOLERANCE_SECONDS):
        return jsonify(error="bad or expired signature"), 401
    try:
        event = json.loads(body)
        data_type = str(event["data_type"])
    except (ValueError, KeyError, TypeError):
        return jsonify(error="body must be JSON with a data_type"), 400
    event_id = request.headers.get(EVENT_ID_HEADER) or str(event.get("event_id") or "")
    if not event_id:
        return jsonify(error="missing event id"), 400
    if not get_redis().set(SEEN_KEY.format(location.id, event_id), 1, nx=True, ex=2 * 86400):
        return jsonify(error="event already received"), 409
    if not connectors.get_profile(location.dms_vendor).can_pull(data_type):
        return jsonify(error=f"data type {data_type} is not pulled for this DMS"), 422
    run = enqueue_pull(location.id, data_type, RunTrigger.WEBHOOK)
    if run is None:
        pull_again_after(location.id, data_type)  # the running pull may already be past the change
    return jsonify(accepted=True, run_id=run.id if run else None), 202
