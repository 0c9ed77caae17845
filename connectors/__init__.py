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

from collections.abc import Mapping
from typing import Any

from .base import (
    APPOINTMENTS,
    CUSTOMERS,
    DATA_TYPES,
    OPCODES,
    PARTS_INVOICES,
    PAYMENTS,
    REPAIR_ORDERS,
    SPECIAL_ORDERS,
    VEHICLES,
    Appointment,
    AuthenticationError,
    CatalogueEntry,
    ConflictError,
    Customer,
    DmsConnector,
    DmsError,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    Opcode,
    Page,
    PartsInvoice,
    Payment,
    RepairOrder,
    RepairOrderLine,
    SpecialOrder,
    TransientDmsError,
    Vehicle,
)
from .protocols import PROTOCOLS, connector_class, protocol_label
from .vendors import ALL as ALL_PROFILES
from .vendors import VENDOR_CODES, get_profile


def connect(vendor: str, settings: Mapping[str, Any]) -> DmsConnector:
    """Return a connector for one dealer account.

    ``settings``: ``protocol`` (``console``, ``star`` or ``opentrack``; default: the vendor's
    first), ``base_url`` (the DMS endpoint), ``account`` (dealer account / company number),
    ``credentials`` (a dict of the protocol's :attr:`DmsConnector.CREDENTIALS`; a bare
    ``api_key`` setting is taken as the console dialect's), optional ``extract_dir`` (drop
    folder of daily files) and ``timeout`` (default seconds per call, 10). ``vendor`` is one of
    ``reynolds, cdk, dealertrack, dealerbuilt, pbs, automate, tekion, karmak``. No network
    call is made until the first operation.
    """
    profile = get_profile(vendor)
    protocol = settings.get("protocol") or profile.protocols[0]
    if protocol not in profile.protocols:
        raise ValueError(profile.refusal_text(f"does not offer the {protocol_label(protocol)} protocol"))
    cls = connector_class(protocol)
    credentials = dict(settings.get("credentials") or {})
    if not credentials and settings.get("api_key"):
        credentials = {"api_key": settings["api_key"]}
    missing = [key for key in ("base_url", "account") if not settings.get(key)]
    missing += [field.name for field in cls.CREDENTIALS if not credentials.get(field.name)]
    if missing:
        raise ValueError(f"DMS settings lack {', '.join(missing)}")
    return cls(
        profile,
        str(settings["base_url"]),
        str(settings["account"]),
        credentials,
        timeout=float(settings.get("timeout") or 10.0),
        extract_dir=settings.get("extract_dir"),
    )


__all__ = [
    "connect",
    "get_profile",
    "PROTOCOLS",
    "connector_class",
    "protocol_label",
    "ALL_PROFILES",
    "VENDOR_CODES",
    "DmsConnector",
    "Page",
    "CatalogueEntry",
    "Customer",
    "Vehicle",
    "Appointment",
    "RepairOrder",
    "RepairOrderLine",
    "PartsInvoice",
    "SpecialOrder",
    "Opcode",
    "Payment",
    "DmsError",
    "TransientDmsError",
    "AuthenticationError",
    "NotSupportedError",
    "DmsValidationError",
    "ConflictError",
    "MalformedResponseError",
    "CUSTOMERS",
    "VEHICLES",
    "APPOINTMENTS",
    "REPAIR_ORDERS",
    "PARTS_INVOICES",
    "SPECIAL_ORDERS",
    "OPCODES",
    "PAYMENTS",
    "DATA_TYPES",
]
