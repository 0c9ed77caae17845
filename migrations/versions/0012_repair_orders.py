"""repair orders and appointments lists: PostgreSQL indexes paging the mirror by time

The Repair orders list shows a location's pulled ROs newest first and the Appointments list
its pulled appointments by time; both page by key (the time to the second, then the id).
The times live in the canonical JSON records, so the indexes are on those expressions,
written exactly as webapp.repair_orders.queries.time_key() writes them (the models declare
them too: webapp.repair_orders.queries.declare_indexes).

PostgreSQL only: SQLAlchemy cannot reflect an expression index on SQLite (it warns, and the
models-vs-migrations check treats the warning as an error), so on SQLite the lists read a
location's rows through the mirror's unique index and sort them.

Revision ID: 0012_repair_orders
Revises: 0011_workfiles
Create Date: 2026-12-01 12:20:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0012_repair_orders"
down_revision = "0011_workfiles"
branch_labels = None
depends_on = None

# index name -> the JSON timestamp it orders by (same table as webapp.repair_orders.queries.INDEXES)
INDEXES = {"ix_dms_record_ro_opened": "opened_at", "ix_dms_record_appt_scheduled": "scheduled_at"}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgresql():
        return
    for name, field in INDEXES.items():
        op.execute(
            f"CREATE INDEX {name} ON dms_record "
            f"(location_id, data_type, (coalesce(substr(payload ->> '{field}', 1, 19), '')), id)"
        )


def downgrade():
    if not _postgresql():
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
