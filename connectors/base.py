"""The connector interface: :class:`DmsConnector`, the :class:`Page` it yields, and re-exports.

Everything the rest of the application knows about a Dealer Management System goes
through the shapes defined in three modules, all importable from here:

* :mod:`connectors.records` - the canonical record types (msgspec Structs), the data type
  constants, the registry of record kinds and :func:`record_from_dict`;
* :mod:`connectors.errors` - :class:`DmsError` and its subclasses, each with a
  plain-language ``fix_hint`` the UI can show as-is;
* this module - :class:`Page`, :class:`CredentialField` and the abstract
  :class:`DmsConnector` every wire protocol implements.

This module imports nothing from ``webapp`` or ``jobs``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import (
    AuthenticationError,
    CatalogueEntry,
    ConflictError,
    DmsError,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    TransientDmsError,
)
from .records import (
    APPOINTMENTS,
    CUSTOMERS,
    DATA_TYPES,
    KINDS,
    OPCODES,
    PARTS_INVOICES,
    PAY_TYPES,
    PAYMENTS,
    RECORD_TYPES,
    REPAIR_ORDERS,
    SPECIAL_ORDERS,
    VEHICLES,
    Appointment,
    Customer,
    DmsRecord,
    Opcode,
    PartsInvoice,
    PartsInvoiceLine,
    Payment,
    RecordKind,
    RepairOrder,
    RepairOrderLine,
    SpecialOrder,
    Vehicle,
    _Record,
    format_datetime,
    json_ready,
    kind_of,
    parse_datetime,
    record_from_dict,
)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of changed records.

    ``next_cursor`` is opaque: store it (in the same transaction as the page) and pass it
    back to :meth:`DmsConnector.iter_changes` to resume after this page. It is set on
    every page, including the last one, so a finished read leaves a cursor to resume from.
    ``has_more`` is ``False`` on the last page of a read.
    """

    data_type: str
    records: tuple[_Record, ...]
    next_cursor: str | None
    has_more: bool = False


# --------------------------------------------------------------------------- interface


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One credential a protocol needs (the Admin -> Locations form renders one input each).

    ``secret`` values are write-only in forms and never logged.
    """

    name: str
    label: str
    secret: bool = False
    help: str = ""


class DmsConnector(abc.ABC):
    """Talks to one dealer account in one DMS and returns normalised records.

    Every operation takes a per-call ``timeout`` in seconds (``None`` = the connector's
    default from settings). Failures raise subclasses of :class:`DmsError`; the connector
    does not retry on its own (jobs own retry and backoff), except that an expired
    bearer token is renewed once transparently.

    ``profile`` is the vendor's :class:`connectors.vendors.VendorProfile`.
    """

    profile: Any
    account: str
    #: The wire protocol's key (``console``, ``star``, ``opentrack``), its label and credentials.
    PROTOCOL: str = ""
    LABEL: str = ""
    CREDENTIALS: tuple[CredentialField, ...] = ()

    # ---- pulls
    @abc.abstractmethod
    def iter_changes(
        self, data_type: str, cursor: str | None = None, page_size: int = 500, timeout: float | None = None
    ) -> Iterator[Page]:
        """Yield pages of records of ``data_type`` changed since ``cursor``.

        ``cursor=None`` reads everything (historical pull). Pages are fetched lazily, one at
        a time, so memory stays flat whatever the size. Changes are ordered by the DMS's
        change sequence, so a record edited during a read moves behind the read position
        and is returned later in the same read or by the next one; nothing is skipped.
        Raises :class:`NotSupportedError` if the vendor cannot deliver ``data_type``.
        """

    @abc.abstractmethod
    def cursor_at(self, moment: datetime) -> str:
        """Opaque cursor meaning "changes modified at or after ``moment``" (inclusive)."""

    @abc.abstractmethod
    def list_ids(self, data_type: str, page_size: int = 5000, timeout: float | None = None) -> Iterator[str]:
        """Yield every DMS id of ``data_type`` currently in the DMS (streamed).

        Used by full reconciliation to find records deleted in the DMS.
        """

    @abc.abstractmethod
    def fetch_one(self, data_type: str, dms_id: str, timeout: float | None = None) -> _Record | None:
        """Fetch one record with its current ETag, or ``None`` if the DMS has no such record."""

    # ---- live lookups (DMS tab)
    @abc.abstractmethod
    def search_customers(self, query: str, limit: int = 25, timeout: float | None = None) -> list[Customer]:
        """Search by name, company, phone (any format), e-mail or DMS id."""

    @abc.abstractmethod
    def search_vehicles(self, query: str, limit: int = 25, timeout: float | None = None) -> list[Vehicle]:
        """Search by VIN (full or partial), unit number, plate or DMS id."""

    # ---- write-back
    @abc.abstractmethod
    def create_customer(
        self,
        fields: Mapping[str, Any],
        idempotency_key: str,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Customer:
        """Create a customer; a replay of ``idempotency_key`` returns the first result.

        ``for_appointment`` says the push accompanies an appointment (Reynolds accepts
        customer/vehicle pushes only then).
        """

    @abc.abstractmethod
    def update_customer(
        self,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None = None,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Customer:
        """Update writable fields of a customer; ``etag`` is sent as If-Match."""

    @abc.abstractmethod
    def create_vehicle(
        self,
        fields: Mapping[str, Any],
        idempotency_key: str,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Vehicle:
        """Create a vehicle/asset (idempotent on ``idempotency_key``)."""

    @abc.abstractmethod
    def update_vehicle(
        self,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None = None,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Vehicle:
        """Update writable fields of a vehicle; ``etag`` is sent as If-Match."""

    @abc.abstractmethod
    def create_appointment(
        self, fields: Mapping[str, Any], idempotency_key: str, *, timeout: float | None = None
    ) -> Appointment:
        """Push a new appointment (idempotent on ``idempotency_key``)."""

    @abc.abstractmethod
    def update_appointment(
        self, dms_id: str, fields: Mapping[str, Any], etag: str | None = None, *, timeout: float | None = None
    ) -> Appointment:
        """Update an appointment; raises :class:`ConflictError` if it is locked in the DMS."""

    @abc.abstractmethod
    def cancel_appointment(self, dms_id: str, etag: str | None = None, *, timeout: float | None = None) -> Appointment:
        """Cancel an appointment in the DMS."""

    # ---- lookups and exports
    @abc.abstractmethod
    def reserve_ro_number(self, idempotency_key: str, *, timeout: float | None = None) -> str:
        """Reserve the next RO number (Convert to RO); replays return the same number."""

    @abc.abstractmethod
    def export_payment(
        self, payment: Mapping[str, Any], idempotency_key: str, *, timeout: float | None = None
    ) -> Payment:
        """Post a receipt (``ro_number``, ``amount``, ``method``, ``payer``, ``received_at``)."""

    @abc.abstractmethod
    def related_ro_numbers(self, ro_number: str, *, timeout: float | None = None) -> list[str]:
        """RO numbers related to ``ro_number`` (Karmak alternate ROs), open ones included."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connector's network resources (its connection pool)."""

    def __enter__(self) -> DmsConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__: Sequence[str] = [
    "CUSTOMERS",
    "VEHICLES",
    "APPOINTMENTS",
    "REPAIR_ORDERS",
    "PARTS_INVOICES",
    "SPECIAL_ORDERS",
    "OPCODES",
    "PAYMENTS",
    "DATA_TYPES",
    "PAY_TYPES",
    "Customer",
    "Vehicle",
    "Appointment",
    "RepairOrder",
    "RepairOrderLine",
    "PartsInvoice",
    "PartsInvoiceLine",
    "SpecialOrder",
    "Opcode",
    "Payment",
    "Page",
    "DmsRecord",
    "CatalogueEntry",
    "CredentialField",
    "DmsError",
    "TransientDmsError",
    "AuthenticationError",
    "NotSupportedError",
    "DmsValidationError",
    "ConflictError",
    "MalformedResponseError",
    "DmsConnector",
    "parse_datetime",
    "format_datetime",
    "record_from_dict",
    "KINDS",
    "RecordKind",
    "kind_of",
    "RECORD_TYPES",
    "json_ready",
]
