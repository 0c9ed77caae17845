"""Reading a user's notifications: the header's count, marking them read (writing them is
:mod:`webapp.services.notifications`)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.notification import Notification


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are unread (the header's count)."""
    return (
        session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark the user's unread notifications (or only one of them) read; returns how many."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
