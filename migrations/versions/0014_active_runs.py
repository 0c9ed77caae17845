"""runs and lookups under way: partial indexes for the recovery sweep (webapp.services.runs.recover_dead_runs)

Revision ID: 0014_active_runs
Revises: 0013_auth_security
Create Date: 2026-12-01 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_active_runs"
down_revision = "0013_auth_security"
branch_labels = None
depends_on = None

ACTIVE_RUNS = sa.text("status IN ('queued', 'running')")
PENDING_LOOKUPS = sa.text("related_lookup_status = 'pending'")


def upgrade():
    op.create_index(
        "ix_sync_run_active",
        "sync_run",
        ["status"],
        unique=False,
        postgresql_where=ACTIVE_RUNS,
        sqlite_where=ACTIVE_RUNS,
    )
    op.create_index(
        "ix_case_lookup_pending",
        "case",
        ["related_lookup_status"],
        unique=False,
        postgresql_where=PENDING_LOOKUPS,
        sqlite_where=PENDING_LOOKUPS,
    )


def downgrade():
    op.drop_index("ix_case_lookup_pending", table_name="case")
    op.drop_index("ix_sync_run_active", table_name="sync_run")
