"""update requests

Revision ID: 0004_update_requests
Revises: 0003_search
Create Date: 2026-11-22 08:45:03.026687

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_update_requests"
down_revision = "0003_search"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "update_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "confirmed",
                "closed_by_dms",
                name="updaterequeststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_values", sa.JSON(), nullable=False),
        sa.Column("previous_values", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("screenshot_name", sa.String(length=64), nullable=False),
        sa.Column("screenshot_mime", sa.String(length=32), nullable=False),
        sa.Column("screenshot_width", sa.Integer(), nullable=False),
        sa.Column("screenshot_height", sa.Integer(), nullable=False),
        sa.Column("screenshot_bytes", sa.Integer(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_update_request_customer_id_customer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user.id"], name=op.f("fk_update_request_decided_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_update_request_location_id_location"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["user.id"], name=op.f("fk_update_request_requested_by_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_request")),
    )
    with op.batch_alter_table("update_request", schema=None) as batch_op:
        batch_op.create_index("ix_update_request_customer", ["customer_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_update_request_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_update_request_queue", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_update_request_requested_by_id"), ["requested_by_id"], unique=False)

    # ### end Alembic commands ###


def downgrade():
    with op.batch_alter_table("update_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_update_request_requested_by_id"))
        batch_op.drop_index("ix_update_request_queue")
        batch_op.drop_index(batch_op.f("ix_update_request_location_id"))
        batch_op.drop_index("ix_update_request_customer")

    op.drop_table("update_request")
    # ### end Alembic commands ###
