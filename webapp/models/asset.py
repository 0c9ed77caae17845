"""A vehicle or truck ("asset") serviced at a location."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from webapp.models.customer import Customer


class Asset(LocationOwned, TimestampMixin, db.Model):
    """A vehicle. ``vin_valid`` flags VINs failing the check digit (legacy truck VINs
    are kept, never rejected)."""

    __tablename__ = "asset"
    __table_args__ = (
        UniqueConstraint("location_id", "dms_id"),
        # The list's default order (by VIN): 25 rows without sorting the location's assets.
        Index("ix_asset_vin", "location_id", "vin", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dms_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    vin: Mapped[str | None] = mapped_column(String(32))
    vin_valid: Mapped[bool | None] = mapped_column(Boolean)
    unit_number: Mapped[str | None] = mapped_column(String(32))
    year: Mapped[int | None] = mapped_column(Integer)
    make: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(60))
    engine_type: Mapped[str | None] = mapped_column(String(60))
    license_plate: Mapped[str | None] = mapped_column(String(16))
    mileage: Mapped[int | None] = mapped_column(Integer)
    # OEM build data (when the location has it): the authoritative Year/Make/Model/Engine.
    oem_build_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    customer: Mapped[Customer | None] = relationship(back_populates="assets")

    __mapper_args__ = {"version_id_col": version}

    @property
    def description(self) -> str:
        """'2019 Freightliner Cascadia' style label."""
        parts = [str(self.year) if self.year else None, self.make, self.model]
        return " ".join(p for p in parts if p) or "(unknown vehicle)"

    def __repr__(self) -> str:
        return f"<Asset {self.id} {self.vin!r}>"
