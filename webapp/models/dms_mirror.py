"""The DMS mirror: what the connected DMS holds, copied in by pulls.

One :class:`DmsRecord` per (location, data type, DMS id) with the vendor's record, a few
normalised searchable fields and a content hash (a re-pulled unchanged record costs no
write). :class:`SyncCursor` remembers where each location's pull of each data type got
to; :class:`SyncRun` records every run for the integration health page.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import LocationOwned, UTCDateTime, utcnow


def _enum(cls, length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


#: The mirror rows the DMS tab lists (partial indexes, migration 0017).
LISTED_CUSTOMERS = text("data_type = 'customers' AND deleted_at IS NULL")
LISTED_VEHICLES = text("data_type = 'vehicles' AND deleted_at IS NULL")


class DmsRecord(LocationOwned, db.Model):
    """One record of one data type as the DMS last showed it."""

    __tablename__ = "dms_record"
    __table_args__ = (
        UniqueConstraint("location_id", "data_type", "dms_id"),
        # owner_dms_id second: with data_type second, PostgreSQL's planner (before the first
        # ANALYZE of a new mirror) picks this index for the pull's "which of these ids do we
        # have" lookup and filters every row of the type.
        Index("ix_dms_record_owner", "location_id", "owner_dms_id", "data_type"),
        # The DMS tab's lists (customers by name, vehicles by VIN): only the rows they show.
        Index(
            "ix_dms_record_customer_list",
            "location_id",
            "name_key",
            "id",
            postgresql_where=LISTED_CUSTOMERS,
            sqlite_where=LISTED_CUSTOMERS,
        ),
        Index(
            "ix_dms_record_vehicle_list",
            "location_id",
            "vin",
            "id",
            postgresql_where=LISTED_VEHICLES,
            sqlite_where=LISTED_VEHICLES,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    data_type: Mapped[str] = mapped_column(String(32), nullable=False)
    dms_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # The canonical record (connectors.records, to_dict()): what every feature reads. Untrusted text.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # The vendor's record as received (JSON or XML text): for diagnosis by admins only, never
    # read by features (tests/test_wire_keys.py checks that).
    raw_payload: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(40), nullable=False)
    dms_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_pulled_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # Set by a full reconciliation when the DMS no longer has the record (never deleted here).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Normalised fields for search and linking (see webapp.domain.normalise).
    name_key: Mapped[str | None] = mapped_column(String(255))  # folded names / company
    phone: Mapped[str | None] = mapped_column(String(32))  # first phone, E.164
    email: Mapped[str | None] = mapped_column(String(254))  # first e-mail, lower-case
    vin: Mapped[str | None] = mapped_column(String(32))
    # Owner / parent in the DMS: a vehicle's customer, an RO's customer, ...
    owner_dms_id: Mapped[str | None] = mapped_column(String(64))
    # Repair orders: the RO number staff search by.
    ro_number: Mapped[str | None] = mapped_column(String(64))

    # Review mode: the portal fields that differ from this DMS record (None = in step / unlinked).
    drift_fields: Mapped[list[str] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<DmsRecord {self.data_type} {self.dms_id}>"


class SyncCursor(LocationOwned, db.Model):
    """Where the pull of one data type for one location has got to."""

    __tablename__ = "sync_cursor"
    __table_args__ = (UniqueConstraint("location_id", "data_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    data_type: Mapped[str] = mapped_column(String(32), nullable=False)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunTrigger(str, enum.Enum):
    """What started a run."""

    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    FILE = "file"
    MANUAL = "manual"
    BACKFILL = "backfill"
    RECONCILE = "reconcile"


class RunStatus(str, enum.Enum):
    """Where a run is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # another run of the same location and data type was under way
    CANCELLED = "cancelled"


#: Runs queued or running, as literal SQL: a partial index is used only for a query whose condition
#: is the index's own, values included (SQLite does not look into bound parameters).
RUNS_UNDER_WAY = text("status IN ('queued', 'running')")


class SyncRun(LocationOwned, db.Model):
    """One pull (or import, backfill, reconciliation) of one data type for one location."""

    __tablename__ = "sync_run"
    __table_args__ = (
        Index("ix_sync_run_recent", "location_id", "data_type", "started_at"),
        # The runs under way (webapp.services.runs.recover_dead_runs looks at them every 15 s): a few rows.
        Index("ix_sync_run_active", "status", postgresql_where=RUNS_UNDER_WAY, sqlite_where=RUNS_UNDER_WAY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    data_type: Mapped[str] = mapped_column(String(32), nullable=False)
    trigger: Mapped[RunTrigger] = mapped_column(_enum(RunTrigger), nullable=False)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus), nullable=False, default=RunStatus.QUEUED)
    job_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Backfills count the DMS's records first, so their progress bar can show a percentage.
    expected_total: Mapped[int | None] = mapped_column(Integer)
    cursor_before: Mapped[str | None] = mapped_column(Text)
    cursor_after: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    fix_hint: Mapped[str | None] = mapped_column(Text)
    # Records whose customer is missing in the mirror etc. (reported, never skipped).
    notes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)

    @property
    def percent_done(self) -> int | None:
        """Progress of a run whose total is known (backfills)."""
        if not self.expected_total:
            return None
        return min(100, int(100 * self.fetched / self.expected_total))
