"""Cases: a service event on an asset at a location, tied to a repair order.

A :class:`Case` has watchers (users who follow it), the related RO numbers the DMS
returned for its RO (Karmak's Alternate ROs, seed 002) together with the state of the
last lookup, and each user's choice of columns for the case tables
(:class:`CaseColumnPreference`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Column, Enum, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.asset import Asset
    from webapp.models.customer import Customer
    from webapp.models.location import Location
    from webapp.models.user import User


def _enum(cls, length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class CaseStatus(str, enum.Enum):
    """Open until someone (or the auto-close job) closes it."""

    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Wording for tables and tags."""
        return self.value.title()


class RelatedLookupStatus(str, enum.Enum):
    """Where the related-RO lookup of a case is."""

    NOT_REQUESTED = "not_requested"  # never exported/closed with the feature on
    PENDING = "pending"  # queued or running: the page shows "Checking the DMS…"
    DONE = "done"  # numbers (possibly none) stored
    FAILED = "failed"  # readable error + fix hint; a person may retry


class LookupTrigger(str, enum.Enum):
    """What asked for the lookup (seed 002: export, close, auto-close)."""

    EXPORT = "export"
    CLOSE = "close"
    AUTO_CLOSE = "auto_close"
    RETRY = "retry"


case_watchers = Table(
    "case_watcher",
    db.metadata,
    Column("case_id", ForeignKey("case.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


#: Pending related-RO lookups, as literal SQL (see RUNS_UNDER_WAY in webapp/models/dms_mirror.py).
LOOKUPS_PENDING = text("related_lookup_status = 'pending'")


class Case(LocationOwned, TimestampMixin, db.Model):
    """A service event on an asset, tied to a repair order number."""

    __tablename__ = "case"
    __table_args__ = (
        # The lookups still pending (webapp.services.related_ros.recover_lost_lookups looks at them every 15 s): a few rows.
        Index(
            "ix_case_lookup_pending",
            "related_lookup_status",
            postgresql_where=LOOKUPS_PENDING,
            sqlite_where=LOOKUPS_PENDING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="RESTRICT"), index=True, nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    ro_number: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), nullable=False, default=CaseStatus.OPEN)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    complaint: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # Set by people's actions only (not by lookups), so "idle N days" means nobody touched it.
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # What the last export sent to the DMS side: the case and its RO summary as the DMS mirror had it.
    export_summary: Mapped[dict | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    closed_automatically: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    # The related-RO lookup (seed 002). Numbers live in RelatedRoNumber, as the DMS returned them.
    related_lookup_status: Mapped[RelatedLookupStatus] = mapped_column(
        _enum(RelatedLookupStatus), nullable=False, default=RelatedLookupStatus.NOT_REQUESTED
    )
    related_lookup_trigger: Mapped[LookupTrigger | None] = mapped_column(_enum(LookupTrigger))
    related_lookup_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    related_lookup_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    related_lookup_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    related_lookup_error: Mapped[str | None] = mapped_column(Text)
    related_lookup_fix_hint: Mapped[str | None] = mapped_column(Text)
    related_lookup_job_id: Mapped[str | None] = mapped_column(String(64))

    location: Mapped[Location] = relationship()
    asset: Mapped[Asset] = relationship()
    customer: Mapped[Customer | None] = relationship()
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    exported_by: Mapped[User | None] = relationship(foreign_keys=[exported_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    watchers: Mapped[list[User]] = relationship(secondary=case_watchers)
    related_ros: Mapped[list[RelatedRoNumber]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="RelatedRoNumber.position"
    )

    @property
    def number(self) -> str:
        """The case number staff quote ('CS-000042'); derived from the id so it never collides."""
        return f"CS-{self.id:06d}" if self.id else "CS-(new)"

    @property
    def is_open(self) -> bool:
        """True while the case is open."""
        return self.status == CaseStatus.OPEN

    @property
    def related_ro_numbers(self) -> list[str]:
        """The related RO numbers, in the order the DMS returned them."""
        return [r.ro_number for r in self.related_ros]

    def is_watched_by(self, user) -> bool:
        """True when ``user`` watches this case."""
        return any(w.id == user.id for w in self.watchers)

    def touch(self) -> None:
        """Record that a person acted on the case (resets the auto-close idle clock)."""
        self.last_activity_at = utcnow()

    def __repr__(self) -> str:
        return f"<Case {self.number}>"


class RelatedRoNumber(db.Model):
    """One RO number the DMS said is related to a case's RO (open or closed in the DMS).

    Read only through its case (which is location-scoped).
    """

    __tablename__ = "case_related_ro"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True, nullable=False)
    ro_number: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="related_ros")


# The columns of the case tables. "related_ros" is the optional Related RO Number(s) column.
CASE_COLUMNS: dict[str, str] = {
    "ro_number": "RO Number",
    "related_ros": "Related RO Number(s)",
    "asset": "Asset",
    "customer": "Customer",
    "status": "Status",
    "assigned_to": "Assigned to",
    "updated": "Updated",
    "exported": "Exported",
}
DEFAULT_CASE_COLUMNS: list[str] = ["ro_number", "asset", "customer", "status", "assigned_to", "updated"]


class CaseColumnPreference(db.Model):
    """The columns one user chose for the case tables (remembered between visits)."""

    __tablename__ = "case_column_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    columns: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)
