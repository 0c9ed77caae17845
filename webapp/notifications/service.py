"""Writing notifications, and e-mailing them once the decision is committed.

:func:`notify` only adds a :class:`Notification` to the caller's session, so it is committed
with the decision that caused it (a reviewer's approve/reject, or a pull's page confirming a
request) or rolled back with it. When SMTP is configured, the session's ``after_commit``
enqueues one e-mail job per committed notification on the maintenance queue (jobs.notifications):
no mail is sent on the request path or inside a pull's page transaction, and a rolled-back
decision sends nothing.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session

from webapp import after_commit
from webapp.models.base import utcnow
from webapp.models.notification import Notification, NotificationKind
from webapp.models.update_request import UpdateRequest

log = logging.getLogger(__name__)

EMAILS = "notifications.emails"  # after_commit kind: the notifications to e-mail
#: RQ retries a failed e-mail job (SMTP server down, refused) after these many seconds.
RETRY_INTERVALS = [60, 300, 1800]


def notify(session: Session, update_request: UpdateRequest, kind: NotificationKind | str, text: str,
           decided_by_id: int | None = None) -> Notification | None:
    """Tell the request's requester ``text``; None when there is nobody to tell (the requester's
    account is gone, or they decided their own request). Never flushes or commits."""
    requester_id = update_request.requested_by_id
    if requester_id is None or requester_id == decided_by_id:
        return None
    notification = Notification(user_id=requester_id, update_request_id=update_request.id,
                                kind=NotificationKind(kind), text=text, created_at=utcnow())
    session.add(notification)
    after_commit.defer(session, EMAILS, notification)
    return notification


def smtp_configured(config) -> bool:  # noqa: ANN001 - a Flask config
    """E-mail goes out only when an SMTP server and a sender are configured."""
    return bool(config.get("SMTP_HOST") and config.get("SMTP_FROM"))


def enqueue_email(notification_id: int) -> bool:
    """Queue the e-mail job for one notification; False (logged) when Redis could not take it."""
    from rq import Retry

    from jobs.notifications import send_notification_email
    from jobs.queues import MAINTENANCE, get_queue

    try:
        get_queue(MAINTENANCE).enqueue(
            send_notification_email, notification_id, retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            job_timeout=60, result_ttl=3600, failure_ttl=7 * 86400,
            description=f"e-mail notification {notification_id}")
        return True
    except Exception:  # noqa: BLE001 - the decision is committed; the in-app notification still shows it
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


# --------------------------------------------------------------------------- reading
def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are unread (the header's count)."""
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark the user's unread notifications (or only one of them) read; returns how many."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
