"""Asset search, asset detail, add-from-DMS and DMS link routes."""

from __future__ import annotations

from flask import Blueprint

from webapp import dms_link as dms_links
from webapp.customers.routes import MIRROR_LIST_LIMIT, change_history
from webapp.extensions import db
from webapp.models import Asset, DmsRecord
from webapp.permissions import Permission, require
from webapp.rendering import render
from webapp.scoping import get_or_404, scoped
from webapp.search import pages

bp = Blueprint("assets", __name__)


@bp.route("")
@require(Permission.VIEW_RECORDS)
def index():
    """Search assets in the portal or, on the DMS tab, in the connected DMS."""
    return pages.search_page("vehicles")


@bp.route("/add-from-dms", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def add_from_dms():
    """Add a DMS-only vehicle to the portal (duplicate check first)."""
    return pages.add_from_dms("vehicles")


def repair_orders_for(asset: Asset) -> list[DmsRecord]:
    """The asset's repair orders from the DMS mirror, newest first.

    ROs are indexed by their customer; the vehicle is inside the payload. So read the
    owner's ROs (indexed) and keep this vehicle's; without a known owner, fall back to
    a bounded scan of the location's ROs.
    """
    if not asset.dms_id:
        return []
    owner = asset.customer.dms_id if asset.customer else None
    if owner is None:
        owner = db.session.scalar(
            scoped(DmsRecord)
            .with_only_columns(DmsRecord.owner_dms_id)
            .where(DmsRecord.data_type == "vehicles", DmsRecord.dms_id == asset.dms_id)
        )
    query = scoped(DmsRecord).where(DmsRecord.data_type == "repair_orders", DmsRecord.deleted_at.is_(None))
    if owner:
        query = query.where(DmsRecord.owner_dms_id == owner)
    else:
        query = query.where(DmsRecord.payload["vehicle_dms_id"].as_string() == asset.dms_id)
    rows = db.session.scalars(query.order_by(DmsRecord.dms_modified_at.desc(), DmsRecord.id.desc()).limit(500))
    return [r for r in rows if str((r.payload or {}).get("vehicle_dms_id")) == asset.dms_id][:MIRROR_LIST_LIMIT]


@bp.route("/<int:asset_id>")
@require(Permission.VIEW_RECORDS)
def detail(asset_id: int):
    """Fields, OEM build data, owner, ROs from the DMS and Change History."""
    asset = get_or_404(Asset, asset_id)
    return render(
        "assets/detail.html",
        asset=asset,
        repair_orders=repair_orders_for(asset),
        history=change_history("asset", asset.id),
    )


@bp.route("/<int:asset_id>/dms-link", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def dms_link(asset_id: int):
    """Link the asset to a DMS vehicle, or change its link: search the DMS, pick the record."""
    return dms_links.link_page("vehicles", get_or_404(Asset, asset_id))


@bp.route("/<int:asset_id>/dms-unlink", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def dms_unlink(asset_id: int):
    """Clear the asset's DMS link (Change History keeps the old DMS id)."""
    return dms_links.unlink("vehicles", get_or_404(Asset, asset_id))
