"""The connector interface, the normalised DMS record types and the error classes.

Everything the rest of the application knows about a Dealer Management System goes
through the shapes defined here:

* **Data types** are plain string constants (:data:`CUSTOMERS`, :data:`VEHICLES`, ...).
* **Records** are frozen dataclasses (:class:`Customer`, :class:`Vehicle`,
  :class:`Appointment`, :class:`RepairOrder` with :class:`RepairOrderLine`,
  :class:`PartsInvoice`, :class:`SpecialOrder`, :class:`Opcode`, :class:`Payment`).
  Each has ``dms_id``, ``modified_at`` (aware UTC ``datetime``), an optional ``etag``,
  the vendor's raw ``payload`` and ``to_dict()`` giving a JSON-ready dict.
* **Pages** (:class:`Page`) are what :meth:`DmsConnector.iter_changes` yields.
* **Errors** derive from :class:`DmsError`; every one carries a plain-language
  ``fix_hint`` that the UI can show as-is.

This module imports nothing from ``webapp`` or ``jobs``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterator, Mapping, Sequence

# --------------------------------------------------------------------------- data types

CUSTOMERS = "customers"
VEHICLES = "vehicles"
APPOINTMENTS = "appointments"
REPAIR_ORDERS = "repair_orders"
PARTS_INVOICES = "parts_invoices"
SPECIAL_ORDERS = "special_orders"
OPCODES = "opcodes"
#: Payments are exported (pushed) only; they are not a pulled data type.
PAYMENTS = "payments"

#: Every data type that can be pulled with :meth:`DmsConnector.iter_changes`.
DATA_TYPES: tuple[str, ...] = (
    CUSTOMERS, VEHICLES, APPOINTMENTS, REPAIR_ORDERS, PARTS_INVOICES, SPECIAL_ORDERS, OPCODES,
)

PAY_TYPES = ("customer", "warranty", "internal")


# --------------------------------------------------------------------------- helpers

def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (``None`` stays ``None``).

    Naive values are taken as UTC because every DMS we talk to reports UTC on the wire.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_datetime(moment: datetime | None) -> str | None:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix (the wire format)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable(value: Any) -> Any:
    """Turn record field values into JSON-ready ones (datetimes, decimals, nested records)."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, _Record) or isinstance(value, RepairOrderLine) or isinstance(value, PartsInvoiceLine):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _money(value: Any) -> Decimal:
    """Parse a money amount sent as a string or number; missing amounts are zero."""
    if value is None or value == "":
        return Decimal("0.00")
    return Decimal(str(value))


# --------------------------------------------------------------------------- records

@dataclass(frozen=True, slots=True)
class _Record:
    """Fields every DMS record carries; not used directly."""

    dms_id: str
    modified_at: datetime
    etag: str | None

    #: The data type constant this record class belongs to (set on subclasses).
    DATA_TYPE = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised fields as a JSON-ready dict (without the raw payload)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.name != "payload"}

    @classmethod
    def _common(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Read the three shared fields; a missing id or timestamp is a malformed record."""
        dms_id = data.get("dms_id")
        if not dms_id:
            raise MalformedResponseError("record has no dms_id", data_type=cls.DATA_TYPE)
        try:
            modified_at = parse_datetime(data["modified_at"])
        except (KeyError, ValueError, TypeError):
            raise MalformedResponseError(
                f"record {dms_id} has no valid modified_at", data_type=cls.DATA_TYPE,
                dms_id=str(dms_id)) from None
        if modified_at is None:
            raise MalformedResponseError(
                f"record {dms_id} has no valid modified_at", data_type=cls.DATA_TYPE, dms_id=str(dms_id))
        return {"dms_id": str(dms_id), "modified_at": modified_at, "etag": data.get("etag")}


@dataclass(frozen=True, slots=True)
class Customer(_Record):
    """A DMS customer: a person or a business.

    ``phones`` and ``emails`` are kept exactly as the DMS holds them (mixed formats
    included); normalising them is the portal's job, so drift can be shown faithfully.
    """

    kind: str = "person"  # "person" or "business"
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = CUSTOMERS

    @property
    def display_name(self) -> str:
        """Company name for a business, otherwise "First Last"."""
        if self.kind == "business" and self.company_name:
            return self.company_name
        return f"{self.first_name} {self.last_name}".strip() or self.company_name

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Customer":
        """Build a customer from the wire/extract dict (unknown keys are ignored)."""
        get = data.get
        return cls(
            **cls._common(data), kind=get("kind") or "person", first_name=get("first_name") or "",
            last_name=get("last_name") or "", company_name=get("company_name") or "",
            phones=tuple(get("phones") or ()), emails=tuple(get("emails") or ()),
            address_line1=get("address_line1") or "", address_line2=get("address_line2") or "",
            city=get("city") or "", state=get("state") or "", postal_code=get("postal_code") or "",
            country=get("country") or "", payload=data)


@dataclass(frozen=True, slots=True)
class Vehicle(_Record):
    """A vehicle or, for truck dealers, an asset (unit).

    ``vin`` may be a legacy (pre-1981 or non-standard) identifier of other than 17
    characters; it is passed through untouched.
    """

    vin: str = ""
    unit_number: str = ""
    year: int | None = None
    make: str = ""
    model: str = ""
    engine: str = ""
    plate: str = ""
    plate_state: str = ""
    mileage: int | None = None
    owner_dms_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = VEHICLES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Vehicle":
        """Build a vehicle from the wire/extract dict."""
        get = data.get
        year, mileage = get("year"), get("mileage")
        return cls(
            **cls._common(data), vin=get("vin") or "", unit_number=get("unit_number") or "",
            year=int(year) if year not in (None, "") else None, make=get("make") or "",
            model=get("model") or "", engine=get("engine") or "", plate=get("plate") or "",
            plate_state=get("plate_state") or "",
            mileage=int(mileage) if mileage not in (None, "") else None,
            owner_dms_id=get("owner_dms_id") or None, payload=data)


@dataclass(frozen=True, slots=True)
class Appointment(_Record):
    """A service appointment booked for a customer's vehicle with an advisor."""

    customer_dms_id: str | None = None
    vehicle_dms_id: str | None = None
    advisor_dms_id: str | None = None
    scheduled_at: datetime | None = None
    opcodes: tuple[str, ...] = ()
    notes: str = ""
    status: str = "scheduled"  # scheduled, arrived, completed, cancelled
    dispatch_code: str = ""
    locked: bool = False
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = APPOINTMENTS

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Appointment":
        """Build an appointment from the wire dict."""
        get = data.get
        return cls(
            **cls._common(data), customer_dms_id=get("customer_dms_id"),
            vehicle_dms_id=get("vehicle_dms_id"), advisor_dms_id=get("advisor_dms_id"),
            scheduled_at=parse_datetime(get("scheduled_at")), opcodes=tuple(get("opcodes") or ()),
            notes=get("notes") or "", status=get("status") or "scheduled",
            dispatch_code=get("dispatch_code") or "", locked=bool(get("locked")), payload=data)


@dataclass(frozen=True, slots=True)
class RepairOrderLine:
    """One job line of a repair order: an opcode, its work, and who pays for it."""

    line_number: int
    opcode: str
    description: str
    pay_type: str  # customer, warranty or internal
    labor_hours: Decimal
    labor_amount: Decimal
    parts_amount: Decimal

    @property
    def total(self) -> Decimal:
        """Labor plus parts for this line."""
        return self.labor_amount + self.parts_amount

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the line (amounts as strings, with the line total)."""
        return {"line_number": self.line_number, "opcode": self.opcode,
                "description": self.description, "pay_type": self.pay_type,
                "labor_hours": str(self.labor_hours), "labor_amount": str(self.labor_amount),
                "parts_amount": str(self.parts_amount), "total": str(self.total)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RepairOrderLine":
        """Build a line from the wire dict."""
        return cls(int(data.get("line_number") or 0), data.get("opcode") or "",
                   data.get("description") or "", data.get("pay_type") or "customer",
                   _money(data.get("labor_hours")), _money(data.get("labor_amount")),
                   _money(data.get("parts_amount")))


@dataclass(frozen=True, slots=True)
class RepairOrder(_Record):
    """A repair order (RO) with its job lines and totals by pay type.

    ``dms_id`` is the DMS's key for the RO; ``ro_number`` is the number staff see and
    search for (in the sandbox they are the same). ``alternate_of`` is set on a Karmak
    alternate-billing RO and names the RO it was split from.
    """

    ro_number: str = ""
    status: str = "open"  # open, closed, invoiced
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    advisor_dms_id: str | None = None
    customer_dms_id: str | None = None
    vehicle_dms_id: str | None = None
    mileage_in: int | None = None
    lines: tuple[RepairOrderLine, ...] = ()
    alternate_of: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = REPAIR_ORDERS

    @property
    def totals_by_pay_type(self) -> dict[str, Decimal]:
        """Sum of line totals per pay type (customer, warranty, internal)."""
        totals = {pay_type: Decimal("0.00") for pay_type in PAY_TYPES}
        for line in self.lines:
            totals[line.pay_type] = totals.get(line.pay_type, Decimal("0.00")) + line.total
        return totals

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including ``totals_by_pay_type``."""
        result = _Record.to_dict(self)
        result["totals_by_pay_type"] = {k: str(v) for k, v in self.totals_by_pay_type.items()}
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RepairOrder":
        """Build a repair order from the wire dict."""
        get = data.get
        mileage = get("mileage_in")
        return cls(
            **cls._common(data), ro_number=str(get("ro_number") or data.get("dms_id")),
            status=get("status") or "open", opened_at=parse_datetime(get("opened_at")),
            closed_at=parse_datetime(get("closed_at")), advisor_dms_id=get("advisor_dms_id"),
            customer_dms_id=get("customer_dms_id"), vehicle_dms_id=get("vehicle_dms_id"),
            mileage_in=int(mileage) if mileage not in (None, "") else None,
            lines=tuple(RepairOrderLine.from_dict(line) for line in get("lines") or ()),
            alternate_of=get("alternate_of") or None, payload=data)


@dataclass(frozen=True, slots=True)
class PartsInvoiceLine:
    """One part sold on a parts invoice."""

    part_number: str
    description: str
    quantity: int
    unit_price: Decimal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the line."""
        return {"part_number": self.part_number, "description": self.description,
                "quantity": self.quantity, "unit_price": str(self.unit_price)}


@dataclass(frozen=True, slots=True)
class PartsInvoice(_Record):
    """A counter/parts invoice, optionally tied to a customer and an RO."""

    invoice_number: str = ""
    customer_dms_id: str | None = None
    ro_number: str | None = None
    invoiced_at: datetime | None = None
    lines: tuple[PartsInvoiceLine, ...] = ()
    total: Decimal = Decimal("0.00")
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = PARTS_INVOICES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PartsInvoice":
        """Build a parts invoice from the wire dict."""
        get = data.get
        lines = tuple(PartsInvoiceLine(line.get("part_number") or "", line.get("description") or "",
                                       int(line.get("quantity") or 0), _money(line.get("unit_price")))
                      for line in get("lines") or ())
        return cls(**cls._common(data), invoice_number=get("invoice_number") or "",
                   customer_dms_id=get("customer_dms_id"), ro_number=get("ro_number"),
                   invoiced_at=parse_datetime(get("invoiced_at")), lines=lines,
                   total=_money(get("total")), payload=data)


@dataclass(frozen=True, slots=True)
class SpecialOrder(_Record):
    """A part special-ordered for a customer (often against an RO)."""

    part_number: str = ""
    description: str = ""
    quantity: int = 1
    status: str = "ordered"  # ordered, received, notified, picked_up, cancelled
    customer_dms_id: str | None = None
    ro_number: str | None = None
    ordered_at: datetime | None = None
    expected_at: datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = SPECIAL_ORDERS

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SpecialOrder":
        """Build a special order from the wire dict."""
        get = data.get
        return cls(**cls._common(data), part_number=get("part_number") or "",
                   description=get("description") or "", quantity=int(get("quantity") or 1),
                   status=get("status") or "ordered", customer_dms_id=get("customer_dms_id"),
                   ro_number=get("ro_number"), ordered_at=parse_datetime(get("ordered_at")),
                   expected_at=parse_datetime(get("expected_at")), payload=data)


@dataclass(frozen=True, slots=True)
class Opcode(_Record):
    """A labor operation code (``dms_id`` is the code itself)."""

    description: str = ""
    labor_hours: Decimal = Decimal("0.0")
    default_pay_type: str = "customer"
    active: bool = True
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = OPCODES

    @property
    def opcode(self) -> str:
        """The code staff type on an RO line (same as ``dms_id``)."""
        return self.dms_id

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Opcode":
        """Build an opcode from the wire dict."""
        get = data.get
        return cls(**cls._common(data), description=get("description") or "",
                   labor_hours=_money(get("labor_hours")),
                   default_pay_type=get("default_pay_type") or "customer",
                   active=bool(get("active", True)), payload=data)


@dataclass(frozen=True, slots=True)
class Payment(_Record):
    """A payment (receipt) exported to the DMS against an RO.

    ``dms_id`` is the DMS's reference id for the posted receipt.
    """

    ro_number: str = ""
    amount: Decimal = Decimal("0.00")
    method: str = ""  # cash, check, card, insurance, adjustment
    payer: str = ""  # customer, insurance, adjustment
    received_at: datetime | None = None
    status: str = "posted"
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    DATA_TYPE = PAYMENTS

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Payment":
        """Build a payment from the wire dict."""
        get = data.get
        return cls(**cls._common(data), ro_number=get("ro_number") or "",
                   amount=_money(get("amount")), method=get("method") or "",
                   payer=get("payer") or "", received_at=parse_datetime(get("received_at")),
                   status=get("status") or "posted", payload=data)


#: Record class per data type, used to parse pulled pages.
RECORD_TYPES: dict[str, type[_Record]] = {
    CUSTOMERS: Customer, VEHICLES: Vehicle, APPOINTMENTS: Appointment,
    REPAIR_ORDERS: RepairOrder, PARTS_INVOICES: PartsInvoice, SPECIAL_ORDERS: SpecialOrder,
    OPCODES: Opcode, PAYMENTS: Payment,
}

#: Any normalised record.
DmsRecord = _Record


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


# --------------------------------------------------------------------------- errors

@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One row of a vendor's error catalogue: the vendor's code, a title and a fix hint."""

    code: str
    title: str
    fix_hint: str
    #: True for the rows taken from the seed 000 appointment-failure list.
    from_seed: bool = False


class DmsError(Exception):
    """Base of every connector error.

    ``fix_hint`` is plain language for dealership staff and can be shown as-is;
    ``vendor_code`` is the DMS's own error code when it sent one.
    """

    default_hint = "Try again later. If it keeps failing, contact support with this message."

    def __init__(self, message: str, *, fix_hint: str | None = None, vendor_code: str | None = None,
                 entry: CatalogueEntry | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.entry = entry
        self.vendor_code = vendor_code or (entry.code if entry else None)
        self.fix_hint = fix_hint or (entry.fix_hint if entry else self.default_hint)
        self.status = status

    @property
    def title(self) -> str:
        """Catalogue title when known, otherwise the message."""
        return self.entry.title if self.entry else self.message


class TransientDmsError(DmsError):
    """Worth retrying later: timeout, connection refused, 5xx, or 429 rate limiting.

    ``retry_after`` is the DMS's Retry-After in seconds (``None`` when it gave none);
    jobs should wait at least that long.
    """

    default_hint = "The DMS is busy or unreachable right now; it will be retried automatically."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthenticationError(DmsError):
    """The DMS rejected the credentials (wrong API key, account, or a token that can't be renewed)."""

    default_hint = ("The DMS rejected our credentials. Check the DMS account code and API key "
                    "under External Interfaces.")


class NotSupportedError(DmsError):
    """The vendor (or this location's DMS setup) does not offer the capability asked for."""

    default_hint = "This DMS does not support this action; do it directly in the DMS."


class DmsValidationError(DmsError):
    """The DMS refused the data; ``entry`` is the vendor catalogue row (title + fix hint)."""

    default_hint = "The DMS refused the data. Correct it and retry."


class ConflictError(DmsError):
    """The record changed in the DMS since we read it (ETag mismatch) or it is locked.

    For a locked appointment ``entry`` carries the vendor catalogue row; ``locked`` tells
    the two cases apart.
    """

    default_hint = "The record was changed in the DMS since it was read. Reload it and apply the change again."

    def __init__(self, message: str, *, locked: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.locked = locked


class MalformedResponseError(DmsError):
    """The DMS answered something we cannot read; names the record or page position."""

    default_hint = "The DMS sent data we could not read. It will be retried; if it persists, contact support."

    def __init__(self, message: str, *, data_type: str | None = None, dms_id: str | None = None,
                 position: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.data_type = data_type
        self.dms_id = dms_id
        self.position = position


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
    def iter_changes(self, data_type: str, cursor: str | None = None, page_size: int = 500,
                     timeout: float | None = None) -> Iterator[Page]:
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
    def create_customer(self, fields: Mapping[str, Any], idempotency_key: str, *,
                        for_appointment: bool = False, timeout: float | None = None) -> Customer:
        """Create a customer; a replay of ``idempotency_key`` returns the first result.

        ``for_appointment`` says the push accompanies an appointment (Reynolds accepts
        customer/vehicle pushes only then).
        """

    @abc.abstractmethod
    def update_customer(self, dms_id: str, fields: Mapping[str, Any], etag: str | None = None, *,
                        for_appointment: bool = False, timeout: float | None = None) -> Customer:
        """Update writable fields of a customer; ``etag`` is sent as If-Match."""

    @abc.abstractmethod
    def create_vehicle(self, fields: Mapping[str, Any], idempotency_key: str, *,
                       for_appointment: bool = False, timeout: float | None = None) -> Vehicle:
        """Create a vehicle/asset (idempotent on ``idempotency_key``)."""

    @abc.abstractmethod
    def update_vehicle(self, dms_id: str, fields: Mapping[str, Any], etag: str | None = None, *,
                       for_appointment: bool = False, timeout: float | None = None) -> Vehicle:
        """Update writable fields of a vehicle; ``etag`` is sent as If-Match."""

    @abc.abstractmethod
    def create_appointment(self, fields: Mapping[str, Any], idempotency_key: str, *,
                           timeout: float | None = None) -> Appointment:
        """Push a new appointment (idempotent on ``idempotency_key``)."""

    @abc.abstractmethod
    def update_appointment(self, dms_id: str, fields: Mapping[str, Any], etag: str | None = None, *,
                           timeout: float | None = None) -> Appointment:
        """Update an appointment; raises :class:`ConflictError` if it is locked in the DMS."""

    @abc.abstractmethod
    def cancel_appointment(self, dms_id: str, etag: str | None = None, *,
                           timeout: float | None = None) -> Appointment:
        """Cancel an appointment in the DMS."""

    # ---- lookups and exports
    @abc.abstractmethod
    def reserve_ro_number(self, idempotency_key: str, *, timeout: float | None = None) -> str:
        """Reserve the next RO number (Convert to RO); replays return the same number."""

    @abc.abstractmethod
    def export_payment(self, payment: Mapping[str, Any], idempotency_key: str, *,
                       timeout: float | None = None) -> Payment:
        """Post a receipt (``ro_number``, ``amount``, ``method``, ``payer``, ``received_at``)."""

    @abc.abstractmethod
    def related_ro_numbers(self, ro_number: str, *, timeout: float | None = None) -> list[str]:
        """RO numbers related to ``ro_number`` (Karmak alternate ROs), open ones included."""

    def close(self) -> None:
        """Release network resources (connection pool)."""

    def __enter__(self) -> "DmsConnector":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def record_from_dict(data_type: str, data: Mapping[str, Any]) -> _Record:
    """Parse a wire dict into the record class of ``data_type``."""
    try:
        record_type = RECORD_TYPES[data_type]
    except KeyError:
        raise ValueError(f"unknown data type {data_type!r}") from None
    return record_type.from_dict(data)


__all__: Sequence[str] = [
    "CUSTOMERS", "VEHICLES", "APPOINTMENTS", "REPAIR_ORDERS", "PARTS_INVOICES", "SPECIAL_ORDERS",
    "OPCODES", "PAYMENTS", "DATA_TYPES", "PAY_TYPES", "Customer", "Vehicle", "Appointment",
    "RepairOrder", "RepairOrderLine", "PartsInvoice", "PartsInvoiceLine", "SpecialOrder", "Opcode",
    "Payment", "Page", "DmsRecord", "CatalogueEntry", "CredentialField", "DmsError", "TransientDmsError",
    "AuthenticationError", "NotSupportedError", "DmsValidationError", "ConflictError",
    "MalformedResponseError", "DmsConnector", "parse_datetime", "format_datetime", "record_from_dict",
]
