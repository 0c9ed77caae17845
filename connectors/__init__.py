"""Connectors to Dealer Management Systems, and the sandbox DMS they are tested against.

Entry point::

    from connectors import connect
    with connect("cdk", {"base_url": "http://127.0.0.1:5001", "account": "demo-cdk",
                         "api_key": "sandbox-key-demo-cdk", "timeout": 10}) as dms:
        for page in dms.iter_changes("customers", cursor=stored_cursor):
            ...  # upsert page.records, store page.next_cursor in the same transaction

This package imports nothing from ``webapp`` or ``jobs``.
"""
from __future__ import annotations

from typing import Any, Mapping

from .base import (APPOINTMENTS, CUSTOMERS, DATA_TYPES, OPCODES, PARTS_INVOICES, PAYMENTS, REPAIR_ORDERS,
                   SPECIAL_ORDERS, VEHICLES, Appointment, AuthenticationError, CatalogueEntry, ConflictError,
                   Customer, DmsConnector, DmsError, DmsValidationError, MalformedResponseError, NotSupportedError,
                   Opcode, Page, PartsInvoice, Payment, RepairOrder, RepairOrderLine, SpecialOrder,
                   TransientDmsError, Vehicle)
from .vendors import ALL as ALL_PROFILES
from .vendors import VENDOR_CODES, get_profile


def connect(vendor: str, settings: Mapping[str, Any]) -> DmsConnector:
    """Return a connector for one dealer account.

    ``settings``: ``base_url`` (DMS API root), ``account`` (dealer account code), ``api_key``,
    optional ``extract_dir`` (drop folder of daily files) and ``timeout`` (default seconds
    per call, 10). ``vendor`` is one of ``reynolds, cdk, dealertrack, dealerbuilt, pbs,
    automate, tekion, karmak``. No network call is made until the first operation.
    """
    from .rest import RestDmsConnector  # imported here so `connectors.base` stays dependency-free

    profile = get_profile(vendor)
    missing = [key for key in ("base_url", "account", "api_key") if not settings.get(key)]
    if missing:
        raise ValueError(f"DMS settings lack {', '.join(missing)}")
    return RestDmsConnector(profile, str(settings["base_url"]), str(settings["account"]), str(settings["api_key"]),
                            timeout=float(settings.get("timeout") or 10.0), extract_dir=settings.get("extract_dir"))


__all__ = [
    "connect", "get_profile", "ALL_PROFILES", "VENDOR_CODES", "DmsConnector", "Page", "CatalogueEntry",
    "Customer", "Vehicle", "Appointment", "RepairOrder", "RepairOrderLine", "PartsInvoice", "SpecialOrder",
    "Opcode", "Payment", "DmsError", "TransientDmsError", "AuthenticationError", "NotSupportedError",
    "DmsValidationError", "ConflictError", "MalformedResponseError", "CUSTOMERS", "VEHICLES", "APPOINTMENTS",
    "REPAIR_ORDERS", "PARTS_INVOICES", "SPECIAL_ORDERS", "OPCODES", "PAYMENTS", "DATA_TYPES",
]
