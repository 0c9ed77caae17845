"""Signing and verifying DMS change webhooks (used by push-based, "Auto", vendors).

Scheme (the sandbox sends exactly this; the web app verifies with :func:`verify_signature`):

* ``X-DMS-Timestamp``: Unix time in whole seconds when the webhook was sent;
* ``X-DMS-Signature``: ``v1=`` + lowercase hex of
  ``HMAC-SHA256(key=secret (UTF-8), msg=timestamp + "." + raw request body bytes)``;
* ``X-DMS-Event-Id``: a UUID, unique per delivery — a convenience copy of the body's
  ``event_id``. It is **not** signed: a receiver drops duplicates by the body's
  ``event_id`` (covered by the signature), never by this header.

A receiver must compare in constant time and reject timestamps older (or newer) than a
tolerance, so a captured request cannot be replayed later; within the tolerance it
refuses an ``event_id`` it has already seen.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-DMS-Signature"
TIMESTAMP_HEADER = "X-DMS-Timestamp"
EVENT_ID_HEADER = "X-DMS-Event-Id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-DMS-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance`` seconds."""
    if not secret or not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip())
