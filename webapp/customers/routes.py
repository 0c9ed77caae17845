"""Customer search, customer detail, add-from-DMS and DMS link routes."""

from __future__ import annotations

from flask import Blueprint

from webapp import dms_link as dms_links
from webapp.extensions import db
from webapp.models import Asset, ChangeHistory, Customer, DmsRecord
from webapp.permissions import Permission, require
from webapp.rendering import render
from webapp.scoping import get_or_404, scoped
from webapp.search import pages
from webapp.search.history import HistoryRow, history_rows

bp = Blueprint("customers", __name__)

MIRROR_LIST_LIMIT = 50
HISTORY_LIMIT = 200


@bp.route("")
@require(Permission.VIEW_RECORDS)
def index():
    """Search customers in the portal or, on the DMS tab, in the connected DMS."""
    return pages.search_page("customers")


@bp.route("/add-from-dms", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def add_from_dms():
    """Add a DMS-only customer to the portal (duplicate check first)."""
    return pages.add_from_dms("customers")


def change_history(record_type: str, record_id: int) -> list[HistoryRow]:
    """A record's Change History, newest first, as a person reads it."""
    return history_rows(
        list(
            db.session.scalars(
                scoped(ChangeHistory)
                .where(ChangeHistory.record_type == record_type, ChangeHistory.record_id == record_id)
                .order_by(ChangeHistory.changed_at.desc(), ChangeHistory.id.desc())
                .limit(HISTORY_LIMIT)
            )
        )
    )


def mirror_for_customer(customer_dms_id: str | None, data_type: str) -> list[DmsRecord]:
    """Repair orders or appointments of a DMS customer, from the mirror (newest first)."""
    if not customer_dms_id:
        return []
    return list(
        db.session.scalars(
            scoped(DmsRecord)
            .where(
                DmsRecord.data_type == data_type,
                DmsRecord.owner_dms_id == customer_dms_id,
                DmsRecord.deleted_at.is_(None),
            )
            .order_by(DmsRecord.dms_modified_at.desc(), DmsRecord.id.desc())
            .limit(MIRROR_LIST_LIMIT)
        )
    )


@bp.route("/<int:customer_id>")
@require(Permission.VIEW_RECORDS)
def detail(customer_id: int):
    """Profile, contact details, assets, ROs and appointments from the DMS, Change History."""
    customer = get_or_404(Customer, customer_id)
    assets = list(db.session.scalars(scoped(Asset).where(Asset.customer_id == customer.id).order_by(Asset.id)))
    in_mirror = (
        customer.dms_id is not None
        and db.session.scalar(
            scoped(DmsRecord)
            .with_only_columns(DmsRecord.id)
            .where(DmsRecord.data_type == "customers", DmsRecord.dms_id == customer.dms_id)
        )
        is not None
    )
    return render(
        "customers/detail.html",
        customer=customer,
        assets=assets,
        repair_orders=mirror_for_customer(customer.dms_id, "repair_orders"),
        appointments=mirror_for_customer(customer.dms_id, "appointments"),
        history=change_history("customer", customer.id),
        in_mirror=in_mirror,
    )


@bp.route("/<int:customer_id>/dms-link", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def dms_link(customer_id: int):
    """Link the customer to a DMS record, or change its link: search the DMS, pick the record."""
    return dms_links.link_page("customers", get_or_404(Customer, customer_id))


@bp.route("/<int:customer_id>/dms-unlink", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def dms_unlink(customer_id: int):
    """Clear the customer's DMS link (Change History keeps the old DMS id)."""
    return dms_links.unlink("customers", get_or_404(Customer, customer_id))
