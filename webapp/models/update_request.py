"""Customer-info update requests: a dealership user asks the admin team to correct a customer.

The requester has already saved the change in the DMS (seed 004) and attaches a
screenshot of the updated DMS record. A Reviewer approves it (the values are applied to
the customer, with Change History) or rejects it with a reason. A later DMS pull that
brings the same values marks it "confirmed by DMS" (or closes it while still pending).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.domain.update_request_fields import ordered_attrs
from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from webapp.models.customer import Customer
    from webapp.models.user import User


class UpdateRequestStatus(str, enum.Enum):
    """Where a request is. Only ``pending`` requests can be decided."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CONFIRMED = "confirmed"  # approved, and a later DMS pull brought the same values
    CLOSED_BY_DMS = "closed_by_dms"  # still pending when the DMS brought the values

    @property
    def label(self) -> str:
        """The wording staff see."""
        return {
            "pending": "Pending review",
            "approved": "Approved",
            "rejected": "Rejected",
            "confirmed": "Confirmed by DMS",
            "closed_by_dms": "Confirmed by DMS (closed automatically)",
        }[self.value]

    @property
    def tag_class(self) -> str:
        """CSS class of the status tag (the label, not the colour, carries the meaning)."""
        return {
            "pending": "tag-warn",
            "approved": "tag-ok",
            "rejected": "tag-error",
            "confirmed": "tag-ok",
            "closed_by_dms": "tag-ok",
        }[self.value]

    @property
    def is_open(self) -> bool:
        """True while the admin team still has to decide."""
        return self is UpdateRequestStatus.PENDING


class UpdateRequest(LocationOwned, TimestampMixin, db.Model):
    """One request to change some of a customer's fields, with its verification screenshot."""

    __tablename__ = "update_request"
    __table_args__ = (
        Index("ix_update_request_queue", "status", "created_at"),
        Index("ix_update_request_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    customer: Mapped[Customer] = relationship()
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    status: Mapped[UpdateRequestStatus] = mapped_column(
        Enum(UpdateRequestStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=UpdateRequestStatus.PENDING,
    )
    # Customer attribute -> requested value, already in canonical form (E.164, lower-case e-mail).
    requested_values: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # The customer's values of those attributes when the request was made (for the reviewer).
    previous_values: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    note: Mapped[str | None] = mapped_column(Text)

    # The re-encoded screenshot, stored under the instance folder (see webapp.uploads).
    screenshot_name: Mapped[str] = mapped_column(String(64), nullable=False)
    screenshot_mime: Mapped[str] = mapped_column(String(32), nullable=False)
    screenshot_width: Mapped[int] = mapped_column(Integer, nullable=False)
    screenshot_height: Mapped[int] = mapped_column(Integer, nullable=False)
    screenshot_bytes: Mapped[int] = mapped_column(Integer, nullable=False)

    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # Set when a DMS pull brought the requested values (confirmed or closed automatically).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def fields(self) -> list[str]:
        """The customer attributes this request changes, in form order."""
        return ordered_attrs(self.requested_values)

    def __repr__(self) -> str:
        return f"<UpdateRequest {self.id} customer={self.customer_id} {self.status.value}>"
