"""sync wizard: server-side state of the customer and asset sync wizards (sync_session)

Revision ID: 0007_sync_wizard
Revises: 0002_dms_mirror
Create Date: 2026-11-22 09:01:00.708829

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_sync_wizard"
down_revision = "0006_cases"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sync_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "status", sa.Enum("open", "applied", name="syncsessionstatus", native_enum=False, length=16), nullable=False
        ),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("dms_id", sa.String(length=64), nullable=False),
        sa.Column("dms_record", sa.JSON(), nullable=False),
        sa.Column("dms_etag", sa.String(length=128), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("owner_choice", sa.String(length=16), nullable=True),
        sa.Column("owner_customer_id", sa.Integer(), nullable=True),
        sa.Column("dms_owner_record", sa.JSON(), nullable=True),
        sa.Column("return_to", sa.String(length=500), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_sync_session_location_id_location"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_sync_session_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_session")),
    )
    with op.batch_alter_table("sync_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_session_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_sync_session_record", ["record_type", "record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sync_session_user_id"), ["user_id"], unique=False)

    # ### end Alembic commands ###


def downgrade():
    with op.batch_alter_table("sync_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_session_user_id"))
        batch_op.drop_index("ix_sync_session_record")
        batch_op.drop_index(batch_op.f("ix_sync_session_location_id"))

    op.drop_table("sync_session")
    # ### end Alembic commands ###
