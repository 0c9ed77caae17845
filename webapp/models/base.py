"""Mixins shared by models (timestamps, location ownership) and the id-list filter pulls use."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, DateTime, ForeignKey, String, TypeDecorator, any_, bindparam, func, select, true
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


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
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime whatever the database handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TimestampMixin:
    """``created_at`` / ``updated_at`` maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


class LocationOwned:
    """Marks a model whose rows belong to one location.

    Every read of such a model goes through :mod:`webapp.scoping`; tests enumerate the
    subclasses of this mixin to prove it.
    """

    @declared_attr
    def location_id(cls) -> Mapped[int]:
        """The owning location."""
        return mapped_column(ForeignKey("location.id", ondelete="RESTRICT"), index=True, nullable=False)


def keyed(bind: Any, statement: Any, column: Any, values: Iterable[Any]) -> Any:
    """``statement`` (a select from one table) limited to the rows whose ``column`` is one of
    ``values``, each value looked up in the index on its own, for lookups by key.

    On PostgreSQL each value is a separate probe (a LATERAL subquery), so the full key is
    matched in the index even when stale statistics (a pull growing a mirror from nothing)
    would plan ``column = ANY(:array)`` as a read of the location's every row. Other
    databases: ``statement`` with :func:`one_of`. ``bind``: the session or connection the
    statement runs on.
    """
    values = list(values)
    if _dialect_name(bind) != "postgresql":
        return statement.where(one_of(bind, column, values))
    keys = (
        func.unnest(bindparam(None, values, type_=ARRAY(column.type))).table_valued("key").render_derived(name="keys")
    )
    probe = statement.where(column == keys.c.key).offset(0).lateral("probe")
    return select(*probe.c).select_from(keys).join(probe, true())


def _dialect_name(bind: Any) -> str:
    return (bind.dialect if hasattr(bind, "dialect") else bind.get_bind().dialect).name


def one_of(bind: Any, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values`` as one bound parameter, for the long id lists of pulls.

    ``column.in_(ids)`` renders a parameter per value: with a page's thousand DMS ids,
    compiling and parsing the statement cost more than running it. PostgreSQL gets
    ``column = ANY(:array)``, SQLite ``column IN (SELECT value FROM json_each(:json))``;
    both still use the column's index. Other databases get the plain IN list. ``bind``: the
    session or connection the statement will run on.
    """
    values = list(values)
    dialect = _dialect_name(bind)
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if dialect == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    return column.in_(values)
