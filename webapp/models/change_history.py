"""Change History: an append-only log of who or what changed which field of which record."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import LocationOwned, UTCDateTime, utcnow

if TYPE_CHECKING:
    from webapp.models.user import User


class ChangeSource(str, enum.Enum):
    """Where a change came from."""

    PORTAL = "portal"  # a user edited the record in the console
    DMS = "dms"  # a DMS pull applied it (automatic mode) or it was added from the DMS
    SYNC_WIZARD = "sync_wizard"  # a user resolved a difference in the sync wizard
    UPDATE_REQUEST = "update_request"  # an approved customer-info update request
    SYSTEM = "system"  # demo data, imports, maintenance

    @property
    def label(self) -> str:
        """Human wording."""
        return {
            "portal": "Portal edit",
            "dms": "DMS",
            "sync_wizard": "Sync with DMS",
            "update_request": "Update request",
            "system": "System",
        }[self.value]


class ChangeHistory(LocationOwned, db.Model):
    """One changed field. Rows are never updated or deleted (enforced below)."""

    __tablename__ = "change_history"
    __table_args__ = (Index("ix_change_history_record", "record_type", "record_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32), nullable=False)  # "customer", "asset", ...
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source: Mapped[ChangeSource] = mapped_column(
        Enum(ChangeSource, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
    )
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    changed_by: Mapped[User | None] = relationship()
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # Free-form references, e.g. {"update_request_id": 12} or {"sync_run_id": 4}.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    @property
    def who(self) -> str:
        """A user's name, or the source for automatic changes."""
        return self.changed_by.name if self.changed_by else self.source.label


class AppendOnlyError(RuntimeError):
    """Raised when code tries to rewrite history."""


@event.listens_for(ChangeHistory, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    """Change History is append-only."""
    raise AppendOnlyError("Change History rows cannot be modified")


@event.listens_for(ChangeHistory, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    """Change History is append-only."""
    raise AppendOnlyError("Change History rows cannot be deleted")


def record_change(
    *,
    record: Any,
    field: str,
    old: Any,
    new: Any,
    source: ChangeSource,
    user_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> ChangeHistory:
    """Add a Change History row for ``record.field`` (old → new) to the session."""
    entry = ChangeHistory(
        location_id=record.location_id,
        record_type=record.__tablename__,
        record_id=record.id,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        source=source,
        changed_by_id=user_id,
        context=context or {},
    )
    db.session.add(entry)
    return entry
