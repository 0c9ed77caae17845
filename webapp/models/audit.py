"""The security audit trail: who did what, when and from where (append-only).

Written through :func:`webapp.audit.record`; read by Global Admins on Admin → Audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One security-relevant event. ``kind`` is dotted (``auth.login_failed``, ``user.role_changed``)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    # Who did it (None: an anonymous visitor, e.g. a failed sign-in) and their e-mail at the
    # time, kept so the entry still reads right after the user is renamed.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="SET NULL"), index=True)
    target: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class AuditAppendOnlyError(RuntimeError):
    """Raised when code tries to rewrite the audit trail."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    raise AuditAppendOnlyError("audit entries cannot be modified")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditAppendOnlyError("audit entries cannot be deleted")
