"""notifications to requesters: their update request was approved, rejected or confirmed by the DMS

Revision ID: 0015_notifications
Revises: 0014_active_runs
Create Date: 2026-12-08 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_notifications"
down_revision = "0014_active_runs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("update_request_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("approved", "rejected", "confirmed", name="notificationkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["update_request_id"], ["update_request.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_user", "notification", ["user_id", "read_at", "created_at"], unique=False)
    op.create_index("ix_notification_update_request_id", "notification", ["update_request_id"], unique=False)


def downgrade():
    op.drop_index("ix_notification_update_request_id", table_name="notification")
    op.drop_index("ix_notification_user", table_name="notification")
    op.drop_table("notification")
