"""Mixins shared by models: timestamps and location ownership."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, TypeDecorator
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite drops the offset of ``DateTime(timezone=True)``; this type puts it back so
    code never compares naive and aware datetimes, on either database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Normalise to UTC before storing; naive values are refused (they are bugs)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime whatever the database handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class TimestampMixin:
    """``created_at`` / ``updated_at`` maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class LocationOwned:
    """Marks a model whose rows belong to one location.

    Every read of such a model goes through :mod:`webapp.scoping`; tests enumerate the
    subclasses of this mixin to prove it.
    """

    @declared_attr
    def location_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr signature
        """The owning location."""
        return mapped_column(ForeignKey("location.id", ondelete="RESTRICT"), index=True, nullable=False)
