"""The outbox: every change that must reach the DMS, written in the same transaction as the change.

One :class:`OutboxMessage` per change (appointment create/update/cancel, customer or
vehicle push, sync-wizard write-back, payment export). The delivery job (``jobs.pushes``)
sends it with its idempotency key, retries transient failures with backoff, keeps the
order of the messages of one record, and records the DMS id or the vendor's refusal.
Write rows through :func:`webapp.outbox.enqueue_push`, never directly.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from webapp.models.user import User


class OutboxStatus(str, enum.Enum):
    """Where a message is on its way to the DMS."""

    PENDING = "pending"  # waiting for delivery (maybe for a retry after a transient failure)
    SENDING = "sending"  # claimed by a delivery job
    SENT = "sent"  # the DMS accepted it
    FAILED = "failed"  # the DMS refused it, or the vendor does not take it: a person must act
    DISMISSED = "dismissed"  # a person decided it will not be sent (reason kept)

    @property
    def label(self) -> str:
        """Human wording."""
        return self.value.title()


class OutboxKind(str, enum.Enum):
    """What a message asks the DMS to do."""

    APPOINTMENT_CREATE = "appointment.create"
    APPOINTMENT_UPDATE = "appointment.update"
    APPOINTMENT_CANCEL = "appointment.cancel"
    CUSTOMER_PUSH = "customer.push"
    VEHICLE_PUSH = "vehicle.push"
    WIZARD_WRITE_BACK = "wizard.write_back"
    PAYMENT_EXPORT = "payment.export"

    @property
    def label(self) -> str:
        """Human wording for lists."""
        return {
            "appointment.create": "New appointment",
            "appointment.update": "Appointment change",
            "appointment.cancel": "Appointment cancellation",
            "customer.push": "Customer",
            "vehicle.push": "Vehicle",
            "wizard.write_back": "Sync wizard write-back",
            "payment.export": "Payment export",
        }[self.value]


def _enum(cls, length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class OutboxMessage(LocationOwned, TimestampMixin, db.Model):
    """One change on its way to the DMS.

    Messages of one record (``target_type`` + ``target_id``) are delivered strictly in
    ``id`` order: a later one waits while an earlier one is not sent or dismissed.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_target", "target_type", "target_id", "id"),
        Index("ix_outbox_location_status", "location_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, 32), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)  # "appointment", "customer", ...
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    # What was (or will be) sent; appointment pushes refresh it from the record at send time.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(96), nullable=False, unique=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), nullable=False, default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The RQ job that holds the message while SENDING (a crashed job's retry re-claims it).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # The vendor's refusal: code, the catalogue's title and plain-language fix hint.
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_title: Mapped[str | None] = mapped_column(String(255))
    fix_hint: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    # "refused" (the DMS said no), "transient" (unreachable), "unsupported" (never sent).
    error_kind: Mapped[str | None] = mapped_column(String(16))
    dms_id: Mapped[str | None] = mapped_column(String(64))
    # For the failed-push filters of shared-DMS stores.
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    brand: Mapped[str | None] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    dismissed_reason: Mapped[str | None] = mapped_column(Text)
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    advisor: Mapped[User | None] = relationship(foreign_keys=[advisor_id])
    dismissed_by: Mapped[User | None] = relationship(foreign_keys=[dismissed_by_id])

    @property
    def is_open(self) -> bool:
        """True while the message still has to reach the DMS (or be dismissed)."""
        return self.status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind.value} {self.status.value}>"
