"""appointments and the outbox of pushes to the DMS; location DMS options

Revision ID: 0005_appointments_outbox
Revises: 0006_cases
Create Date: 2026-11-22 09:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_appointments_outbox"
down_revision = "0004_update_requests"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dms_options", sa.JSON(), nullable=False, server_default="{}"))

    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dms_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opcodes", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("dispatch_code", sa.String(length=16), nullable=True),
        sa.Column("brand", sa.String(length=40), nullable=True),
        sa.Column(
            "status",
            sa.Enum("scheduled", "cancelled", name="appointmentstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "push_state",
            sa.Enum("pending", "sent", "failed", "not_sent", name="pushstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["advisor_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_schedule", ["location_id", "scheduled_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_advisor_id"), ["advisor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_location_id"), ["location_id"], unique=False)

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "appointment.create",
                "appointment.update",
                "appointment.cancel",
                "customer.push",
                "vehicle.push",
                "wizard.write_back",
                "payment.export",
                name="outboxkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=96), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "sending", "sent", "failed", "dismissed", name="outboxstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_title", sa.String(length=255), nullable=True),
        sa.Column("fix_hint", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("dms_id", sa.String(length=64), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("brand", sa.String(length=40), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("dismissed_reason", sa.Text(), nullable=True),
        sa.Column("dismissed_by_id", sa.Integer(), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["advisor_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["dismissed_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_location_status", ["location_id", "status"], unique=False)
        batch_op.create_index("ix_outbox_target", ["target_type", "target_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_advisor_id"), ["advisor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_location_id"), ["location_id"], unique=False)


def downgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_location_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_advisor_id"))
        batch_op.drop_index("ix_outbox_target")
        batch_op.drop_index("ix_outbox_location_status")
        batch_op.drop_index("ix_outbox_due")
    op.drop_table("outbox_message")
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_location_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_customer_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_asset_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_advisor_id"))
        batch_op.drop_index("ix_appointment_schedule")
    op.drop_table("appointment")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("dms_options")
