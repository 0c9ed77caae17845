"""what the load benchmark (tests/bench/load.py) showed: console appointments by DMS id; fresh
statistics for the outbox

- The Appointments list leaves out each pulled DMS appointment the console booked itself (an
  anti-join on the location and the DMS id). Without an index the database read every console
  appointment of the location once per pulled one: 937 ms for one page with 1,000 of each at a
  tenth of the benchmark's size (24 ms with the index), minutes once 10,000 pushed appointments
  come back with the next pull.
- A push backlog (10,000 appointment pushes at one location) stalled: PostgreSQL planned the
  delivery's claim (no earlier open message of the same record) from statistics that did not know
  the pending messages, and one claim took 158 s. Sent messages stay in the table, and autovacuum
  refreshes a table's statistics only after a tenth of its rows changed, so on a table of a
  million messages a backlog of tens of thousands would stay unknown to the planner for days. The
  outbox's statistics are refreshed after every 500 changed rows instead (PostgreSQL only).

Revision ID: 0016_load_indexes
Revises: 0015_notifications
Create Date: 2026-12-01 20:00:00

"""

from alembic import op

revision = "0016_load_indexes"
down_revision = "0015_notifications"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.create_index("ix_appointment_dms_id", "appointment", ["location_id", "dms_id"], unique=False)
    if _postgresql():
        op.execute(
            "ALTER TABLE outbox_message SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500)"
        )


def downgrade():
    if _postgresql():
        op.execute("ALTER TABLE outbox_message RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)")
    op.drop_index("ix_appointment_dms_id", table_name="appointment")
