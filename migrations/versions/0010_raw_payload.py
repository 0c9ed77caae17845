"""dms mirror: the vendor's raw record beside the canonical one

Revision ID: 0010_raw_payload
Revises: 0009_dms_credentials
Create Date: 2026-12-01 12:10:00

The mirror's ``payload`` holds the canonical record every feature reads; ``raw_payload``
keeps the vendor's record as received (JSON or XML text) for diagnosis by admins.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_raw_payload"
down_revision = "0009_dms_credentials"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("dms_record") as batch_op:
        batch_op.add_column(sa.Column("raw_payload", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("dms_record") as batch_op:
        batch_op.drop_column("raw_payload")
