"""Notifications to a requester: their customer-info update request was decided (issue 19, item 15).

One row per event, for the user who made the request: approved, rejected, or confirmed by the
DMS (which includes a pending request the DMS closed). Rows are written in the same transaction
as the decision (webapp.services.notifications.notify); the header counts the unread ones.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.update_request import UpdateRequest
    from webapp.models.user import User


class NotificationKind(str, enum.Enum):
    """What happened to the request."""

    APPROVED = "approved"
    REJECTED = "rejected"
    CONFIRMED = "confirmed"  # a DMS pull brought the values (approved -> confirmed, or pending -> closed)

    @property
    def label(self) -> str:
        return {"approved": "Approved", "rejected": "Rejected", "confirmed": "Confirmed by DMS"}[self.value]


class Notification(db.Model):
    """One thing a user should learn about, unread until they mark it read."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "user_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    user: Mapped[User] = relationship()
    update_request_id: Mapped[int] = mapped_column(
        ForeignKey("update_request.id", ondelete="CASCADE"), nullable=False, index=True
    )
    update_request: Mapped[UpdateRequest] = relationship()
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the e-mail about it went out (jobs.notifications); a retried job does not send it twice.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Notification {self.id} user={self.user_id} {self.kind.value}>"
