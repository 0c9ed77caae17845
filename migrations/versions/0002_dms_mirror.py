"""dms mirror, sync cursors and runs

Revision ID: 0002_dms_mirror
Revises: 0001_base
Create Date: 2026-11-22 08:32:24.682514

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_dms_mirror"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "dms_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("dms_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.Column("dms_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name_key", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("owner_dms_id", sa.String(length=64), nullable=True),
        sa.Column("ro_number", sa.String(length=64), nullable=True),
        sa.Column("drift_fields", sa.JSON(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_dms_record_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dms_record")),
        sa.UniqueConstraint(
            "location_id", "data_type", "dms_id", name=op.f("uq_dms_record_location_id_data_type_dms_id")
        ),
    )
    with op.batch_alter_table("dms_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dms_record_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_dms_record_owner", ["location_id", "owner_dms_id", "data_type"], unique=False)

    op.create_table(
        "sync_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_sync_cursor_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_cursor")),
        sa.UniqueConstraint("location_id", "data_type", name=op.f("uq_sync_cursor_location_id_data_type")),
    )
    with op.batch_alter_table("sync_cursor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_cursor_location_id"), ["location_id"], unique=False)

    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum(
                "schedule",
                "webhook",
                "file",
                "manual",
                "backfill",
                "reconcile",
                name="runtrigger",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "skipped",
                "cancelled",
                name="runstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("expected_total", sa.Integer(), nullable=True),
        sa.Column("cursor_before", sa.Text(), nullable=True),
        sa.Column("cursor_after", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fix_hint", sa.Text(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_sync_run_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
    )
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_run_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_sync_run_recent", ["location_id", "data_type", "started_at"], unique=False)


def downgrade():

    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_run_recent")
        batch_op.drop_index(batch_op.f("ix_sync_run_location_id"))

    op.drop_table("sync_run")
    with op.batch_alter_table("sync_cursor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_cursor_location_id"))

    op.drop_table("sync_cursor")
    with op.batch_alter_table("dms_record", schema=None) as batch_op:
        batch_op.drop_index("ix_dms_record_owner")
        batch_op.drop_index(batch_op.f("ix_dms_record_location_id"))

    op.drop_table("dms_record")
