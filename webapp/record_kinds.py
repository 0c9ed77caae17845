"""The portal's record kinds: one entry per DMS data type that has a portal record.

The connector side of a kind (record class, nouns, owner field, writable fields) is
:data:`connectors.records.KINDS`; this registry adds what the console keeps for it: the
portal model, the blueprint and page that show it, its search and duplicate check. Code
that used to branch on ``data_type == "customers"`` looks its kind up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for

from connectors.records import CUSTOMERS, VEHICLES
from webapp.models import Asset, Customer


@dataclass(frozen=True)
class PortalKind:
    """A DMS data type with a portal record: customers (Customer) and vehicles (Asset)."""

    data_type: str
    model: type
    blueprint: str  # the blueprint whose ``detail`` / ``index`` pages show it
    id_arg: str  # the detail page's URL argument
    template: str  # the list page's template
    default_sort: str
    dms_search: str  # the DmsConnector method of the live DMS lookup
    label_attr: str  # the portal record's attribute staff know it by
    portal_search: str  # its search function in webapp.search.engine
    duplicates: str  # its likely-duplicate finder in webapp.search.adding

    def label_of(self, obj: Any) -> str:
        """The portal record's display label."""
        return getattr(obj, self.label_attr)

    def detail_url(self, obj: Any) -> str:
        """The portal record's detail page."""
        return self.detail_url_of(obj.id)

    def detail_url_of(self, record_id: int) -> str:
        """The detail page of the portal record with id ``record_id``."""
        return url_for(f"{self.blueprint}.detail", **{self.id_arg: record_id})


PORTAL_KINDS: dict[str, PortalKind] = {
    CUSTOMERS: PortalKind(
        CUSTOMERS,
        Customer,
        "customers",
        "customer_id",
        "customers/index.html",
        "name",
        "search_customers",
        "display_name",
        "search_customers",
        "duplicate_customers",
    ),
    VEHICLES: PortalKind(
        VEHICLES,
        Asset,
        "assets",
        "asset_id",
        "assets/index.html",
        "vin",
        "search_vehicles",
        "description",
        "search_assets",
        "duplicate_assets",
    ),
}

#: Portal model per data type (the pull applies mirror records to these).
PORTAL_MODELS: dict[str, type] = {data_type: kind.model for data_type, kind in PORTAL_KINDS.items()}
