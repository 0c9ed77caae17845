"""Receipts saved on a workfile and their export to the DMS (seed 003, Payments tab).

Status (what the Payments tab shows):

* **Ready** - saved, not yet exported;
* **Exporting** - claimed by an export (a conditional ``UPDATE ... WHERE status='ready'``)
  and on its way through the outbox; the exporting screen shows it;
* **Posted** - the DMS took it: ``posted_at`` and ``reference_id`` are filled;
* **Void** - voided later; can never be exported;
* **Failed** - the DMS refused it (``failure_reason``); can be retried.

Each receipt carries one idempotency key, sent with every attempt, so the DMS posts it at
most once whatever happens (double clicks, two users, retries, a killed worker).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.user import User
    from webapp.models.workfile import Workfile


def _enum(cls, length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class PaymentKind(str, enum.Enum):
    """Who the receipt is from."""

    CUSTOMER = "customer"
    INSURANCE = "insurance"
    ADJUSTMENT = "adjustment"

    @property
    def label(self) -> str:
        """Wording for the Payments tab."""
        return {"customer": "Customer receipt", "insurance": "Insurance receipt", "adjustment": "Adjustment"}[
            self.value
        ]


class PaymentStatus(str, enum.Enum):
    """Where a receipt is (see the module docstring)."""

    READY = "ready"
    EXPORTING = "exporting"
    POSTED = "posted"
    VOID = "void"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """Ready / Exporting / Posted / Void / Failed."""
        return self.value.title()


PAYMENT_METHODS = ("cash", "check", "card", "insurance", "adjustment")


class Payment(LocationOwned, TimestampMixin, db.Model):
    """One receipt on a workfile."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    workfile_id: Mapped[int] = mapped_column(ForeignKey("workfile.id", ondelete="CASCADE"), index=True, nullable=False)
    kind: Mapped[PaymentKind] = mapped_column(_enum(PaymentKind), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    payer: Mapped[str] = mapped_column(String(160), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False, default="cash")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    status: Mapped[PaymentStatus] = mapped_column(
        _enum(PaymentStatus), nullable=False, default=PaymentStatus.READY, index=True
    )
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reference_id: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    failure_hint: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(96), nullable=False, unique=True)
    # The export this receipt was last part of (the exporting screen lists one batch).
    export_batch: Mapped[str | None] = mapped_column(String(32), index=True)
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    exported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Why it was voided (required on void; shown in History).
    void_reason: Mapped[str | None] = mapped_column(Text)
    # The shop's own reference for the receipt: check number, card authorisation, claim number.
    reference: Mapped[str | None] = mapped_column(String(64))

    workfile: Mapped[Workfile] = relationship(back_populates="payments")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def can_void(self) -> bool:
        """Only receipts not in the DMS and not on their way there can be voided here."""
        return self.status in (PaymentStatus.READY, PaymentStatus.FAILED)

    def __repr__(self) -> str:
        return f"<Payment {self.id} {self.amount} {self.status.value}>"
