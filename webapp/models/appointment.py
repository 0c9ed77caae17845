"""A service appointment booked in the console and pushed to the DMS through the outbox."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from webapp.models.asset import Asset
    from webapp.models.customer import Customer
    from webapp.models.user import User


class AppointmentStatus(str, enum.Enum):
    """Where the appointment stands in the console."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Human wording."""
        return self.value.title()


class PushState(str, enum.Enum):
    """Where the appointment's latest change stands on its way to the DMS."""

    PENDING = "pending"  # queued or being retried
    SENT = "sent"  # the DMS has every change
    FAILED = "failed"  # the DMS refused a change (see Failed pushes)
    NOT_SENT = "not_sent"  # dismissed, or cancelled before it ever reached the DMS

    @property
    def label(self) -> str:
        """Human wording shown on lists and the appointment page."""
        return {"pending": "Pending", "sent": "Sent to DMS", "failed": "Failed", "not_sent": "Not sent"}[self.value]


def _enum(cls, length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Appointment(LocationOwned, TimestampMixin, db.Model):
    """A customer's vehicle booked in with an advisor at a time, for opcodes and/or notes.

    ``dms_id`` is filled in by the push job once the DMS has accepted the appointment;
    ``push_state`` summarises the outbox rows of this appointment for lists and pages.
    """

    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_schedule", "location_id", "scheduled_at"),
        # The Appointments list leaves out pulled DMS appointments booked here (migration 0016).
        Index("ix_appointment_dms_id", "location_id", "dms_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dms_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="RESTRICT"), index=True, nullable=False)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    opcodes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    dispatch_code: Mapped[str | None] = mapped_column(String(16))  # CDK only
    brand: Mapped[str | None] = mapped_column(String(40))  # shared-DMS stores filter by it
    status: Mapped[AppointmentStatus] = mapped_column(
        _enum(AppointmentStatus), nullable=False, default=AppointmentStatus.SCHEDULED
    )
    push_state: Mapped[PushState] = mapped_column(_enum(PushState), nullable=False, default=PushState.PENDING)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    customer: Mapped[Customer] = relationship()
    asset: Mapped[Asset | None] = relationship()
    advisor: Mapped[User | None] = relationship(foreign_keys=[advisor_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_cancelled(self) -> bool:
        """True once cancelled in the console."""
        return self.status == AppointmentStatus.CANCELLED

    def __repr__(self) -> str:
        return f"<Appointment {self.id} {self.scheduled_at:%Y-%m-%d %H:%M}>"
