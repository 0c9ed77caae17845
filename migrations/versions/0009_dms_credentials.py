"""dms credentials: protocol choice and credentials encrypted at rest (replace dms_api_key)

Revision ID: 0009_dms_credentials
Revises: 0008_dms_activity
Create Date: 2026-11-29 10:00:00.000000

Each stored API key becomes the Fernet-encrypted credentials {"api_key": ...} of the console
dialect (the only protocol before this revision), with the key from webapp.credentials
(CREDENTIALS_KEYS or instance/credentials_key). Locations whose vendor now defaults to
another protocol (Reynolds, Tekion: STAR REST) are pinned to "console", so they keep
speaking what they spoke. Downgrade puts console API keys back in clear.

The column is dropped with a plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 and
PostgreSQL), not a batch table copy: copying ``location`` would drop and recreate the
parent table of every foreign key in the schema.
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0009_dms_credentials"
down_revision = "0008_dms_activity"
branch_labels = None
depends_on = None

location = sa.table(
    "location",
    sa.column("id", sa.Integer()),
    sa.column("dms_vendor", sa.String()),
    sa.column("dms_api_key", sa.String()),
    sa.column("dms_protocol", sa.String()),
    sa.column("dms_credentials", sa.Text()),
)

# Vendors whose first (default) protocol is no longer the console dialect but still offer it.
_NOW_DEFAULTING_ELSEWHERE = ("reynolds", "tekion")


def upgrade():
    with op.batch_alter_table("location", schema=None) as batch_op:  # add_column only: no table copy
        batch_op.add_column(sa.Column("dms_protocol", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("dms_credentials", sa.Text(), nullable=True))

    if not context.is_offline_mode():
        from webapp.credentials import encrypt

        conn = op.get_bind()
        rows = conn.execute(
            sa.select(location.c.id, location.c.dms_api_key).where(location.c.dms_api_key.is_not(None))
        ).all()
        for row_id, api_key in rows:
            if api_key:
                conn.execute(
                    location.update()
                    .where(location.c.id == row_id)
                    .values(dms_credentials=encrypt({"api_key": api_key}))
                )
        conn.execute(
            location.update().where(location.c.dms_vendor.in_(_NOW_DEFAULTING_ELSEWHERE)).values(dms_protocol="console")
        )

    op.drop_column("location", "dms_api_key")


def downgrade():
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dms_api_key", sa.String(length=255), nullable=True))

    if not context.is_offline_mode():
        from webapp.credentials import CredentialsUnreadable, decrypt

        conn = op.get_bind()
        rows = conn.execute(
            sa.select(location.c.id, location.c.dms_credentials).where(location.c.dms_credentials.is_not(None))
        ).all()
        for row_id, token in rows:
            try:
                api_key = decrypt(token).get("api_key")
            except CredentialsUnreadable:
                api_key = None
            if api_key:
                conn.execute(location.update().where(location.c.id == row_id).values(dms_api_key=api_key))

    op.drop_column("location", "dms_credentials")
    op.drop_column("location", "dms_protocol")
