"""A repair-order workfile and its DMS events (seed 003: DMS Activity).

A :class:`Workfile` is one repair order as the console knows it: the header a person
recognises (RO number, customer, total, insurer, vehicle, VIN), links to the portal
customer and asset, and the three DMS ids of the Properties tab. :class:`DmsEvent` is
the History tab: one append-only row per DMS event on the workfile.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.asset import Asset
    from webapp.models.customer import Customer
    from webapp.models.payment import Payment
    from webapp.models.user import User


def _enum(cls, length: int = 32) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Workfile(LocationOwned, TimestampMixin, db.Model):
    """One repair order / workfile of a location."""

    __tablename__ = "workfile"
    # One workfile per DMS repair order (a second "DMS Activity" click on the same RO reuses it)
    # and one per appointment (a second "Check in" reuses it), even when two requests race.
    __table_args__ = (UniqueConstraint("location_id", "dms_ro_id"), UniqueConstraint("location_id", "appointment_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # The DMS Repair ID: the RO number reserved on Convert to RO, or typed by hand.
    dms_repair_id: Mapped[str | None] = mapped_column(String(64), index=True)
    dms_customer_id: Mapped[str | None] = mapped_column(String(64))
    dms_vehicle_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    is_closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Header data, as the estimate/workfile carries it.
    customer_name: Mapped[str] = mapped_column(String(160), nullable=False, default="")
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, default=Decimal("0.00"))
    insurer: Mapped[str | None] = mapped_column(String(160))
    vehicle_year: Mapped[int | None] = mapped_column(Integer)
    vehicle_make: Mapped[str | None] = mapped_column(String(40))
    vehicle_model: Mapped[str | None] = mapped_column(String(60))
    vin: Mapped[str | None] = mapped_column(String(32))
    # Idempotency key of the RO number reservation: a replay returns the same number.
    ro_reservation_key: Mapped[str | None] = mapped_column(String(96))
    # The DMS's own key of the repair order this workfile is linked to (a pulled RO, or one
    # looked up by number). Staff see ``dms_repair_id`` (the RO number); in many DMSs they match.
    dms_ro_id: Mapped[str | None] = mapped_column(String(64))
    # Where the workfile was started from (the appointment checked in), and by whom.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Outbox messages of "not listed - export as new" customer / vehicle records.
    customer_export_message_id: Mapped[int | None] = mapped_column(Integer)
    vehicle_export_message_id: Mapped[int | None] = mapped_column(Integer)

    customer: Mapped[Customer | None] = relationship()
    asset: Mapped[Asset | None] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="workfile", order_by="Payment.id")

    @property
    def number(self) -> str:
        """The RO number when there is one, else the console's workfile number."""
        return self.dms_repair_id or f"WF-{self.id}"

    @property
    def vehicle(self) -> str:
        """'2012 Toyota Corolla' style label from the header."""
        parts = [str(self.vehicle_year) if self.vehicle_year else None, self.vehicle_make, self.vehicle_model]
        return " ".join(p for p in parts if p) or "—"

    def __repr__(self) -> str:
        return f"<Workfile {self.id} {self.dms_repair_id!r}>"


class DmsEventKind(str, enum.Enum):
    """What happened (History tab descriptions)."""

    WORKFILE_CREATED = "workfile_created"
    RO_LINKED = "ro_linked"
    RO_LINK_FAILED = "ro_link_failed"
    REPAIR_ID_ADDED = "repair_id_added"
    REPAIR_ID_CHANGED = "repair_id_changed"
    RO_RESERVATION_FAILED = "ro_reservation_failed"
    CUSTOMER_ID_ADDED = "customer_id_added"
    CUSTOMER_ID_CHANGED = "customer_id_changed"
    CUSTOMER_EXPORT_REQUESTED = "customer_export_requested"
    CUSTOMER_EXPORT_FAILED = "customer_export_failed"
    VEHICLE_ID_ADDED = "vehicle_id_added"
    VEHICLE_ID_CHANGED = "vehicle_id_changed"
    VEHICLE_EXPORT_REQUESTED = "vehicle_export_requested"
    VEHICLE_EXPORT_FAILED = "vehicle_export_failed"
    PAYMENT_ADDED = "payment_added"
    PAYMENT_EXPORT_REQUESTED = "payment_export_requested"
    PAYMENT_POSTED = "payment_posted"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_RETRIED = "payment_retried"
    PAYMENT_VOIDED = "payment_voided"

    @property
    def label(self) -> str:
        """The History tab's Description."""
        return {
            "workfile_created": "Workfile created",
            "ro_linked": "Linked to the DMS repair order",
            "ro_link_failed": "Link to a DMS repair order failed",
            "repair_id_added": "DMS Repair ID added",
            "repair_id_changed": "DMS Repair ID changed",
            "ro_reservation_failed": "RO number reservation failed",
            "customer_id_added": "DMS Customer ID added",
            "customer_id_changed": "DMS Customer ID changed",
            "customer_export_requested": "Customer exported as new customer record",
            "customer_export_failed": "Customer export failed",
            "vehicle_id_added": "DMS Vehicle ID added",
            "vehicle_id_changed": "DMS Vehicle ID changed",
            "vehicle_export_requested": "Vehicle exported as new vehicle record",
            "vehicle_export_failed": "Vehicle export failed",
            "payment_added": "Receipt added",
            "payment_export_requested": "Payment export started",
            "payment_posted": "Payment posted",
            "payment_failed": "Payment export failed",
            "payment_retried": "Payment export retried",
            "payment_voided": "Receipt voided",
        }[self.value]


class DmsEvent(LocationOwned, db.Model):
    """One DMS event on a workfile. Rows are never updated or deleted."""

    __tablename__ = "dms_event"
    __table_args__ = (Index("ix_dms_event_workfile", "workfile_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workfile_id: Mapped[int] = mapped_column(ForeignKey("workfile.id", ondelete="CASCADE"), nullable=False)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="SET NULL"))
    kind: Mapped[DmsEventKind] = mapped_column(_enum(DmsEventKind), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[str | None] = mapped_column(String(16))  # the receipt's status label at the time
    reference_id: Mapped[str | None] = mapped_column(String(64))  # DMS id / reference id
    detail: Mapped[str | None] = mapped_column(Text)  # old -> new value, failure reason...

    user: Mapped[User | None] = relationship()

    @property
    def description(self) -> str:
        """The History tab's Description column."""
        return self.kind.label

    @property
    def completed_by(self) -> str:
        """Who did it: a person, or the console for automatic events."""
        return self.user.name if self.user else "DMS Sync Console"


@event.listens_for(DmsEvent, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    """History is append-only."""
    raise RuntimeError("DMS history rows cannot be modified")


def record_event(
    workfile: Workfile,
    kind: DmsEventKind,
    *,
    user_id: int | None = None,
    payment=None,
    reference_id: str | None = None,
    detail: str | None = None,
    occurred_at: datetime | None = None,
) -> DmsEvent:
    """Add a History row for ``workfile`` to the session (the caller commits), dated now unless
    ``occurred_at`` says when it happened."""
    row = DmsEvent(
        location_id=workfile.location_id,
        workfile_id=workfile.id,
        kind=kind,
        user_id=user_id,
        payment_id=payment.id if payment is not None else None,
        amount=payment.amount if payment is not None else None,
        status=payment.status.label if payment is not None else None,
        reference_id=reference_id,
        detail=detail,
        occurred_at=occurred_at or utcnow(),
    )
    db.session.add(row)
    return row
