"""what the load benchmark (tests/bench/load.py) showed: the listings' default orders had no index

- Assets (the list opens sorted by VIN): with no index on the location's VINs the database joined
  every asset of the location to its owner and sorted them all for 25 rows: 250–360 ms for a page
  at 119,000 assets (0.3 ms with the index), and 0.7–1.3 s under the benchmark's load.
- The DMS tab (mirror customers by name, mirror vehicles by VIN): the same for the DMS mirror, whose
  rows of every data type share one table. Partial indexes hold only the rows the tab lists (not
  deleted in the DMS, of its data type), so a pull of repair orders or appointments adds nothing
  to them.

Revision ID: 0017_listing_indexes
Revises: 0016_load_indexes
Create Date: 2026-12-02 02:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017_listing_indexes"
down_revision = "0016_load_indexes"
branch_labels = None
depends_on = None

LISTED = {
    "ix_dms_record_customer_list": (
        ["location_id", "name_key", "id"],
        sa.text("data_type = 'customers' AND deleted_at IS NULL"),
    ),
    "ix_dms_record_vehicle_list": (
        ["location_id", "vin", "id"],
        sa.text("data_type = 'vehicles' AND deleted_at IS NULL"),
    ),
}


def upgrade():
    op.create_index("ix_asset_vin", "asset", ["location_id", "vin", "id"], unique=False)
    for name, (columns, where) in LISTED.items():
        op.create_index(name, "dms_record", columns, unique=False, postgresql_where=where, sqlite_where=where)


def downgrade():
    for name in LISTED:
        op.drop_index(name, table_name="dms_record")
    op.drop_index("ix_asset_vin", table_name="asset")
