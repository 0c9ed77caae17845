"""workfiles staff create: the DMS RO a workfile links to, where it was started (one workfile per DMS RO and per
appointment), receipt reference and void reason

Revision ID: 0011_workfiles
Revises: 0010_raw_payload
Create Date: 2026-12-01 12:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_workfiles"
down_revision = "0010_raw_payload"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workfile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dms_ro_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("appointment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_workfile_appointment_id_appointment"),
            "appointment",
            ["appointment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_workfile_created_by_id_user"), "user", ["created_by_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_workfile_appointment_id"), ["appointment_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_workfile_location_id_dms_ro_id"), ["location_id", "dms_ro_id"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_workfile_location_id_appointment_id"), ["location_id", "appointment_id"]
        )

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("reference")
        batch_op.drop_column("void_reason")

    with op.batch_alter_table("workfile", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_workfile_location_id_appointment_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_workfile_location_id_dms_ro_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_workfile_appointment_id"))
        batch_op.drop_constraint(batch_op.f("fk_workfile_created_by_id_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_workfile_appointment_id_appointment"), type_="foreignkey")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("appointment_id")
        batch_op.drop_column("dms_ro_id")
