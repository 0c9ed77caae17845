"""dms activity: workfiles, receipts (payments) and their DMS history

Revision ID: 0008_dms_activity
Revises: 0002_dms_mirror
Create Date: 2026-11-22 09:02:18.775037

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_dms_activity"
down_revision = "0007_sync_wizard"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "workfile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dms_repair_id", sa.String(length=64), nullable=True),
        sa.Column("dms_customer_id", sa.String(length=64), nullable=True),
        sa.Column("dms_vehicle_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_name", sa.String(length=160), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("insurer", sa.String(length=160), nullable=True),
        sa.Column("vehicle_year", sa.Integer(), nullable=True),
        sa.Column("vehicle_make", sa.String(length=40), nullable=True),
        sa.Column("vehicle_model", sa.String(length=60), nullable=True),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("ro_reservation_key", sa.String(length=96), nullable=True),
        sa.Column("customer_export_message_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_export_message_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_workfile_asset_id_asset"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_workfile_customer_id_customer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_workfile_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workfile")),
    )
    with op.batch_alter_table("workfile", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workfile_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workfile_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workfile_dms_repair_id"), ["dms_repair_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workfile_location_id"), ["location_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workfile_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("customer", "insurance", "adjustment", name="paymentkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("payer", sa.String(length=160), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ready", "exporting", "posted", "void", "failed", name="paymentstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference_id", sa.String(length=64), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("failure_hint", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=96), nullable=False),
        sa.Column("export_batch", sa.String(length=32), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("exported_by_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_payment_created_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["exported_by_id"], ["user.id"], name=op.f("fk_payment_exported_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_payment_location_id_location"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["voided_by_id"], ["user.id"], name=op.f("fk_payment_voided_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workfile_id"], ["workfile.id"], name=op.f("fk_payment_workfile_id_workfile"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_idempotency_key")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_export_batch"), ["export_batch"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_location_id"), ["location_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_workfile_id"), ["workfile_id"], unique=False)

    op.create_table(
        "dms_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workfile_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "repair_id_added",
                "repair_id_changed",
                "ro_reservation_failed",
                "customer_id_added",
                "customer_id_changed",
                "customer_export_requested",
                "customer_export_failed",
                "vehicle_id_added",
                "vehicle_id_changed",
                "vehicle_export_requested",
                "vehicle_export_failed",
                "payment_added",
                "payment_export_requested",
                "payment_posted",
                "payment_failed",
                "payment_retried",
                "payment_voided",
                name="dmseventkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reference_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_dms_event_location_id_location"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_dms_event_payment_id_payment"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_dms_event_user_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["workfile_id"], ["workfile.id"], name=op.f("fk_dms_event_workfile_id_workfile"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dms_event")),
    )
    with op.batch_alter_table("dms_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dms_event_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_dms_event_workfile", ["workfile_id", "occurred_at"], unique=False)

    # ### end Alembic commands ###


def downgrade():
    with op.batch_alter_table("dms_event", schema=None) as batch_op:
        batch_op.drop_index("ix_dms_event_workfile")
        batch_op.drop_index(batch_op.f("ix_dms_event_location_id"))

    op.drop_table("dms_event")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_workfile_id"))
        batch_op.drop_index(batch_op.f("ix_payment_status"))
        batch_op.drop_index(batch_op.f("ix_payment_location_id"))
        batch_op.drop_index(batch_op.f("ix_payment_export_batch"))

    op.drop_table("payment")
    with op.batch_alter_table("workfile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workfile_location_id"))
        batch_op.drop_index(batch_op.f("ix_workfile_dms_repair_id"))
        batch_op.drop_index(batch_op.f("ix_workfile_customer_id"))
        batch_op.drop_index(batch_op.f("ix_workfile_asset_id"))

    op.drop_table("workfile")
    # ### end Alembic commands ###
