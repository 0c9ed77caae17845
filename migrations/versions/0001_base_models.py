"""base models: location, user, customer, asset, change history

Revision ID: 0001_base
Revises:
Create Date: 2026-11-22 08:20:47.263207

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("brands", sa.JSON(), nullable=False),
        sa.Column("dms_vendor", sa.String(length=32), nullable=True),
        sa.Column("dms_base_url", sa.String(length=255), nullable=True),
        sa.Column("dms_account", sa.String(length=64), nullable=True),
        sa.Column("dms_api_key", sa.String(length=255), nullable=True),
        sa.Column("dms_extract_dir", sa.String(length=255), nullable=True),
        sa.Column("webhook_secret", sa.String(length=128), nullable=True),
        sa.Column("cadence_overrides", sa.JSON(), nullable=False),
        sa.Column(
            "write_back_mode",
            sa.Enum("portal_only", "portal_and_dms", name="writebackmode", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "sync_mode", sa.Enum("review", "automatic", name="syncmode", native_enum=False, length=16), nullable=False
        ),
        sa.Column("oem_build_data", sa.Boolean(), nullable=False),
        sa.Column("related_ro_enabled", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
        sa.UniqueConstraint("code", name=op.f("uq_location_code")),
    )
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dms_id", sa.String(length=64), nullable=True),
        sa.Column("is_business", sa.Boolean(), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=True),
        sa.Column("last_name", sa.String(length=80), nullable=True),
        sa.Column("company_name", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("mobile_phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address_line1", sa.String(length=160), nullable=True),
        sa.Column("address_line2", sa.String(length=160), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_customer_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("location_id", "dms_id", name=op.f("uq_customer_location_id_dms_id")),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_location_id"), ["location_id"], unique=False)

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "global_admin",
                "service_manager",
                "service_advisor",
                "field_manager",
                "reviewer",
                name="role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("advisor_dms_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_user_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_location_id"), ["location_id"], unique=False)

    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dms_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("vin", sa.String(length=32), nullable=True),
        sa.Column("vin_valid", sa.Boolean(), nullable=True),
        sa.Column("unit_number", sa.String(length=32), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("make", sa.String(length=40), nullable=True),
        sa.Column("model", sa.String(length=60), nullable=True),
        sa.Column("engine_type", sa.String(length=60), nullable=True),
        sa.Column("license_plate", sa.String(length=16), nullable=True),
        sa.Column("mileage", sa.Integer(), nullable=True),
        sa.Column("oem_build_data", sa.JSON(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_asset_customer_id_customer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_asset_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset")),
        sa.UniqueConstraint("location_id", "dms_id", name=op.f("uq_asset_location_id_dms_id")),
    )
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_asset_location_id"), ["location_id"], unique=False)

    op.create_table(
        "change_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "portal",
                "dms",
                "sync_wizard",
                "update_request",
                "system",
                name="changesource",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["user.id"], name=op.f("fk_change_history_changed_by_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_change_history_location_id_location"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_history")),
    )
    with op.batch_alter_table("change_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_history_location_id"), ["location_id"], unique=False)
        batch_op.create_index("ix_change_history_record", ["record_type", "record_id", "changed_at"], unique=False)

    op.create_table(
        "user_location",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_user_location_location_id_location"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_user_location_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "location_id", name=op.f("pk_user_location")),
    )


def downgrade():

    op.drop_table("user_location")
    with op.batch_alter_table("change_history", schema=None) as batch_op:
        batch_op.drop_index("ix_change_history_record")
        batch_op.drop_index(batch_op.f("ix_change_history_location_id"))

    op.drop_table("change_history")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_location_id"))
        batch_op.drop_index(batch_op.f("ix_asset_customer_id"))

    op.drop_table("asset")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_location_id"))

    op.drop_table("user")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_location_id"))

    op.drop_table("customer")
    op.drop_table("location")
