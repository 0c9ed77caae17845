"""Record security-relevant events in the audit trail (Admin → Audit log).

``record(kind, user=..., location_id=..., target=..., detail=...)`` adds one
:class:`~webapp.models.AuditEvent` to the current database session: it is committed with the
caller's own change (so an entry exists exactly when the change does). Callers that change
nothing else commit themselves. The time is now; the address is the request's client
address when there is a request. ``user`` is who did it: by default (None) the signed-in user.
"""

from __future__ import annotations

from flask import has_request_context, request

from webapp.extensions import db
from webapp.models import AuditEvent, utcnow

# Kinds written by the console, with the label Admin → Audit log filters by.
KINDS: dict[str, str] = {
    "auth.login_failed": "Sign-in failed",
    "auth.lockout": "Sign-ins slowed down (account)",
    "auth.lockout_address": "Sign-ins slowed down (address)",
    "auth.unlock": "Account unlocked",
    "user.created": "User created",
    "user.role_changed": "Role changed",
    "user.locations_changed": "Locations changed",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    "user.password_set": "Password set by an admin",
    "location.dms_credentials_changed": "DMS connection changed",
    "webhook.secret_rotated": "Webhook secret generated",
    "update_request.approved": "Update request approved",
    "update_request.rejected": "Update request rejected",
    "payment.exported": "Payment exported",
}


def client_ip() -> str:
    """The request's client address ('' outside a request). Behind a reverse proxy set
    ``PROXY_HOPS`` (webapp.security) so this is the visitor's address, not the proxy's."""
    if not has_request_context():
        return ""
    return (request.remote_addr or "")[:64]


def record(kind: str, *, user=None, location_id: int | None = None, target: str = "", detail: str = "") -> AuditEvent:
    """Add an audit entry for ``kind`` to the session (committed with the caller's transaction).

    ``user``: who acted; None = the signed-in user, if any (nobody for an anonymous visitor).
    """
    if user is None and has_request_context():
        from flask_login import current_user

        if current_user.is_authenticated:
            user = current_user._get_current_object()
    event = AuditEvent(
        kind=kind[:64],
        created_at=utcnow(),
        user_id=getattr(user, "id", None),
        actor=(getattr(user, "email", "") or "")[:254],
        location_id=location_id,
        target=(target or "")[:255],
        detail=detail or "",
        ip=client_ip(),
    )
    db.session.add(event)
    return event
