"""Writing notifications, and e-mailing them once the decision is committed.

:func:`notify` only adds a :class:`Notification` to the caller's session, so it is committed
with the decision that caused it (a reviewer's approve/reject, or a pull's page confirming a
request) or rolled back with it. When SMTP is configured, the session's ``after_commit``
enqueues one e-mail job per committed notification on the maintenance queue
(``jobs.notifications.send_notification_email``, by name): no mail is sent on the request path
or inside a pull's page transaction, and a rolled-back decision sends nothing.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from rq import Retry
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from webapp import after_commit
from webapp.models.base import utcnow
from webapp.models.notification import Notification, NotificationKind
from webapp.models.update_request import UpdateRequest
from webapp.services.queues import MAINTENANCE, get_queue

log = logging.getLogger(__name__)

EMAILS = "notifications.emails"  # after_commit kind: the notifications to e-mail
EMAIL_JOB = "jobs.notifications.send_notification_email"
#: RQ retries a failed e-mail job (SMTP server down, refused) after these many seconds.
RETRY_INTERVALS = [60, 300, 1800]


def notify(
    session: Session,
    update_request: UpdateRequest,
    kind: NotificationKind | str,
    text: str,
    decided_by_id: int | None = None,
) -> Notification | None:
    """Tell the request's requester ``text``; None when there is nobody to tell (the requester's
    account is gone, or they decided their own request). Never flushes or commits."""
    requester_id = update_request.requested_by_id
    if requester_id is None or requester_id == decided_by_id:
        return None
    notification = Notification(
        user_id=requester_id,
        update_request_id=update_request.id,
        kind=NotificationKind(kind),
        text=text,
        created_at=utcnow(),
    )
    session.add(notification)
    after_commit.defer(session, EMAILS, notification)
    return notification


def smtp_configured(config) -> bool:
    """E-mail goes out only when an SMTP server and a sender are configured."""
    return bool(config.get("SMTP_HOST") and config.get("SMTP_FROM"))


def enqueue_email(notification_id: int) -> bool:
    """Queue the e-mail job for one notification; False (logged) when Redis could not take it."""
    try:
        get_queue(MAINTENANCE).enqueue(
            EMAIL_JOB,
            notification_id,
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            job_timeout=60,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description=f"e-mail notification {notification_id}",
        )
        return True
    except Exception:
        log.exception("could not queue the e-mail of notification %s", notification_id)
        return False


@after_commit.handler(EMAILS)
def _email_after_commit(notifications: list[Notification]) -> None:
    """The notifications are committed: queue their e-mails (when SMTP is configured)."""
    if not has_app_context() or not smtp_configured(current_app.config):
        return
    for notification in notifications:
        identity = inspect(notification).identity  # no SQL: the committed row's key
        if identity:
            enqueue_email(identity[0])
