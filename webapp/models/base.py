"""Mixins shared by models (timestamps, location ownership) and the id-list filter pulls use."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ARRAY, DateTime, ForeignKey, String, TypeDecorator, any_, bindparam, func, select
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


def one_of(bind: Any, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values`` as one bound parameter, for the long id lists of pulls.

    ``column.in_(ids)`` renders a parameter per value: with a page's thousand DMS ids,
    compiling and parsing the statement cost more than running it. PostgreSQL gets
    ``column = ANY(:array)``, SQLite ``column IN (SELECT value FROM json_each(:json))``;
    both still use the column's index. Other databases get the plain IN list. ``bind``: the
    session or connection the statement will run on.
    """
    values = list(values)
    dialect = (bind.dialect if hasattr(bind, "dialect") else bind.get_bind().dialect).name
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if dialect == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    return column.in_(values)
