"""A sync wizard in progress: its state lives on the server, keyed by the session's id.

The DMS record the wizard compared against (with its ETag) is stored here when the
wizard starts, so the DMS side of every step and of the write-back comes from the DMS,
never from the browser; the browser only posts the session id and the person's choices.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime


class SyncSessionStatus(str, enum.Enum):
    """Where a wizard is: still being filled in, applied (the summary is kept), or cancelled
    (its Cancel button: nothing was written and it can no longer be applied)."""

    OPEN = "open"
    APPLIED = "applied"
    CANCELLED = "cancelled"


class SyncSession(LocationOwned, TimestampMixin, db.Model):
    """One run of the customer or asset sync wizard by one person.

    ``record_version`` is the portal record's ``version`` when the DMS record was read:
    applying against a record someone changed since then is refused ("changed by someone
    else") instead of overwriting their change.
    """

    __tablename__ = "sync_session"
    __table_args__ = (Index("ix_sync_session_record", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16), nullable=False)  # "customer" or "asset"
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    status: Mapped[SyncSessionStatus] = mapped_column(
        Enum(SyncSessionStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=SyncSessionStatus.OPEN,
    )
    step: Mapped[str] = mapped_column(String(16), nullable=False, default="fields")
    record_version: Mapped[int] = mapped_column(Integer, nullable=False)
    dms_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # The DMS record as fetched live at the start (``to_dict()`` of the connector record).
    dms_record: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    dms_etag: Mapped[str | None] = mapped_column(String(128))
    # {portal attribute: "portal" | "dms"} - the person's choice per differing field.
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Asset wizard, part 1: "portal" | "dms" | "other" (+ the customer picked by search).
    owner_choice: Mapped[str | None] = mapped_column(String(16))
    owner_customer_id: Mapped[int | None] = mapped_column(Integer)
    # The DMS owner's record when it is not in the portal yet (added on apply).
    dms_owner_record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Where Close goes: the page the person started from (a local path).
    return_to: Mapped[str | None] = mapped_column(String(500))
    # What was applied, sent and skipped (shown by the summary step).
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<SyncSession {self.id} {self.record_type}:{self.record_id} {self.status.value}>"
