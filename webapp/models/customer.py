"""A dealership's customer (person or business), possibly linked to a DMS record."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from webapp.models.asset import Asset


class Customer(LocationOwned, TimestampMixin, db.Model):
    """A customer record in the portal.

    Phones are stored in E.164, e-mails lower-cased; ``dms_id`` links the record to the
    DMS (unique per location). ``version`` guards against two people saving at once.
    """

    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("location_id", "dms_id"),
        # Browsing a location's customers A-Z without a search term.
        Index("ix_customer_sort_name", "location_id", "sort_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dms_id: Mapped[str | None] = mapped_column(String(64))
    is_business: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    company_name: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(32))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    address_line1: Mapped[str | None] = mapped_column(String(160))
    address_line2: Mapped[str | None] = mapped_column(String(160))
    city: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), nullable=False, default="US")
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Folded "last first" (or company) for sorting; kept up to date by webapp.search.
    sort_name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    assets: Mapped[list[Asset]] = relationship(back_populates="customer")

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_name(self) -> str:
        """Company name for businesses, otherwise 'First Last'."""
        person = " ".join(p for p in (self.first_name, self.last_name) if p)
        if self.is_business and self.company_name:
            return self.company_name
        return person or self.company_name or "(no name)"

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.display_name!r}>"
