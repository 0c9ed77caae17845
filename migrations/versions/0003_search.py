"""search index (tokens) and customer sort names

Revision ID: 0003_search
Revises: 0002_dms_mirror
Create Date: 2026-11-22 08:42:32.677237

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_search"
down_revision = "0002_dms_mirror"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_token",
        sa.Column("scope", sa.String(length=2), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column(
            "token",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_search_token_location_id_location"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scope", "location_id", "token", "record_id", name="pk_search_token"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.create_index("ix_search_token_record", ["scope", "location_id", "record_id", "token"], unique=False)

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort_name", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_customer_sort_name", ["location_id", "sort_name", "id"], unique=False)

    # Records that existed before this revision are indexed by `flask reindex-search`
    # (app code, kept out of migrations so they keep working when the code changes).


def downgrade():
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_sort_name")
        batch_op.drop_column("sort_name")

    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index("ix_search_token_record")

    op.drop_table("search_token")
