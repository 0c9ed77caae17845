"""cases: cases, watchers, related RO numbers, column preferences, auto-close rule

Revision ID: 0006_cases
Revises: 0004_update_requests
Create Date: 2026-11-22 08:48:32.415410

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_cases"
down_revision = "0005_appointments_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_column_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_case_column_preference_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_case_column_preference")),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("ro_number", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Enum("open", "closed", name="casestatus", native_enum=False, length=16), nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("complaint", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_by_id", sa.Integer(), nullable=True),
        sa.Column("export_summary", sa.JSON(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_automatically", sa.Boolean(), nullable=False),
        sa.Column(
            "related_lookup_status",
            sa.Enum(
                "not_requested", "pending", "done", "failed", name="relatedlookupstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column(
            "related_lookup_trigger",
            sa.Enum("export", "close", "auto_close", "retry", name="lookuptrigger", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("related_lookup_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("related_lookup_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("related_lookup_attempts", sa.Integer(), nullable=False),
        sa.Column("related_lookup_error", sa.Text(), nullable=True),
        sa.Column("related_lookup_fix_hint", sa.Text(), nullable=True),
        sa.Column("related_lookup_job_id", sa.String(length=64), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], name=op.f("fk_case_asset_id_asset"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"], ["user.id"], name=op.f("fk_case_assigned_to_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["user.id"], name=op.f("fk_case_closed_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_case_customer_id_customer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["exported_by_id"], ["user.id"], name=op.f("fk_case_exported_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_case_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_assigned_to_id"), ["assigned_to_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_location_id"), ["location_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_ro_number"), ["ro_number"], unique=False)

    op.create_table(
        "case_related_ro",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("ro_number", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_related_ro_case_id_case"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_related_ro")),
    )
    with op.batch_alter_table("case_related_ro", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_related_ro_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_related_ro_ro_number"), ["ro_number"], unique=False)

    op.create_table(
        "case_watcher",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_watcher_case_id_case"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_case_watcher_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_watcher")),
    )
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_auto_close_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("case_auto_close_requires_closed_ro", sa.Boolean(), nullable=False, server_default=sa.true())
        )  # existing locations: the safe rule


def downgrade():
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("case_auto_close_requires_closed_ro")
        batch_op.drop_column("case_auto_close_days")

    op.drop_table("case_watcher")
    with op.batch_alter_table("case_related_ro", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_related_ro_ro_number"))
        batch_op.drop_index(batch_op.f("ix_case_related_ro_case_id"))

    op.drop_table("case_related_ro")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_ro_number"))
        batch_op.drop_index(batch_op.f("ix_case_location_id"))
        batch_op.drop_index(batch_op.f("ix_case_customer_id"))
        batch_op.drop_index(batch_op.f("ix_case_assigned_to_id"))
        batch_op.drop_index(batch_op.f("ix_case_asset_id"))

    op.drop_table("case")
    op.drop_table("case_column_preference")
