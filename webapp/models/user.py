"""Console users, their role and the locations they may work in."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, Enum, ForeignKey, String, Table, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import TimestampMixin, UTCDateTime, utcnow
from webapp.models.location import Location
from webapp.services.passwords import hash_password, needs_rehash, verify_password


class Role(str, enum.Enum):
    """The five roles of DESIGN.md §1. What each may do is in :mod:`webapp.permissions`."""

    GLOBAL_ADMIN = "global_admin"
    SERVICE_MANAGER = "service_manager"
    SERVICE_ADVISOR = "service_advisor"
    FIELD_MANAGER = "field_manager"
    REVIEWER = "reviewer"

    @property
    def label(self) -> str:
        """The role's name as staff say it."""
        return self.value.replace("_", " ").title()


# Locations a Field Manager covers (other roles use ``User.location_id``).
user_locations = Table(
    "user_location",
    db.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("location.id", ondelete="CASCADE"), primary_key=True),
)


def new_session_token() -> str:
    """A random token embedded in the login session; rotating it logs the user out everywhere."""
    return secrets.token_urlsafe(24)


class User(UserMixin, TimestampMixin, db.Model):
    """Someone who signs in to the console."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
    )
    # Home location. Global Admins and Reviewers span every location and may have none.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="RESTRICT"), index=True)
    location: Mapped[Location | None] = relationship(foreign_keys=[location_id])
    covered_locations: Mapped[list[Location]] = relationship(secondary=user_locations, order_by=Location.name)
    # The advisor's employee id in the DMS: appointments pushed for them carry it.
    advisor_dms_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    session_token: Mapped[str] = mapped_column(String(64), nullable=False, default=new_session_token)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # -- Flask-Login -------------------------------------------------------------
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Deactivated users cannot sign in and their sessions stop working."""
        return self.active

    def get_id(self) -> str:
        """Session identity: id plus a token, so rotating the token ends old sessions."""
        return f"{self.id}:{self.session_token}"

    # -- Passwords ----------------------------------------------------------------
    def set_password(self, password: str) -> None:
        """Hash with argon2id (see :mod:`webapp.services.passwords`)."""
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """Verify, upgrading the stored hash when its parameters are outdated."""
        ok = verify_password(self.password_hash, password)
        if ok and needs_rehash(self.password_hash):
            self.set_password(password)
        return ok

    # -- Locations ----------------------------------------------------------------
    @property
    def spans_all_locations(self) -> bool:
        """Global Admins and Reviewers work across every location."""
        return self.role in (Role.GLOBAL_ADMIN, Role.REVIEWER)

    def allowed_location_ids(self) -> set[int]:
        """The ids of every location this user may see."""
        if self.spans_all_locations:
            return set(db.session.scalars(select(Location.id).where(Location.is_active.is_(True))))
        if self.role == Role.FIELD_MANAGER:
            ids = {loc.id for loc in self.covered_locations}
            if self.location_id:
                ids.add(self.location_id)
            return ids
        return {self.location_id} if self.location_id else set()

    @property
    def location_summary(self) -> str:
        """'All locations', or the names of the locations the user works in."""
        if self.spans_all_locations:
            return "All locations"
        names = [self.location.name] if self.location else []
        names += [loc.name for loc in self.covered_locations if loc.id != self.location_id]
        return ", ".join(names) or "—"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"


def hash_session_id(raw: str) -> str:
    """What is stored of a session id: its SHA-256 (a leaked table opens no session)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class UserSession(db.Model):
    """One signed-in browser session, kept on the server so signing out really ends it.

    The session cookie carries a random id; only its hash is stored. A session counts while
    ``ended_at`` is empty and it is younger than ``PERMANENT_SESSION_LIFETIME``.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")

    @staticmethod
    def end_all(user_id: int, except_id: int | None = None) -> None:
        """End every open session of ``user_id`` (but ``except_id``); the caller commits."""
        query = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        if except_id is not None:
            query = query.where(UserSession.id != except_id)
        db.session.execute(query.values(ended_at=utcnow()))
