"""The canonical DMS records: what every wire protocol is mapped to, and all the console reads.

Each record type is a frozen :mod:`msgspec` ``Struct`` (:class:`Customer`, :class:`Vehicle`,
:class:`Appointment`, :class:`RepairOrder` with :class:`RepairOrderLine`,
:class:`PartsInvoice` with :class:`PartsInvoiceLine`, :class:`SpecialOrder`, :class:`Opcode`,
:class:`Payment`). msgspec rather than pydantic: it validates and encodes several times
faster (a pull builds every record it reads) and its errors name the failing field's path
(``Expected `str`, got `int` - at `$.phones[0]```).

* Every record has ``dms_id``, ``modified_at`` (aware UTC ``datetime``) and an optional
  ``etag``; ``raw`` is the vendor's own record as received (a JSON-able dict, or the XML
  text of the record element), kept for diagnosis only: it takes no part in equality or
  in :meth:`~_Record.to_dict`; the mirror stores it as text, shown only on the admin's run page.
* Adapters build records only through :func:`record_from_dict` with canonical field names;
  a record that does not validate raises :class:`~connectors.errors.MalformedResponseError`
  naming the data type, the record's id and the field.
* :data:`KINDS` is the one registry of record kinds: per data type its record class, the
  nouns and labels staff see, the field naming its owner, and the fields a vendor takes on
  write-back.

This module imports nothing from ``webapp`` or ``jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from .errors import MalformedResponseError

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

#: Every data type that can be pulled with ``DmsConnector.iter_changes``.
DATA_TYPES: tuple[str, ...] = (
    CUSTOMERS,
    VEHICLES,
    APPOINTMENTS,
    REPAIR_ORDERS,
    PARTS_INVOICES,
    SPECIAL_ORDERS,
    OPCODES,
)

PAY_TYPES = ("customer", "warranty", "internal")
_ZERO = Decimal("0.00")


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
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_datetime(moment: datetime | None) -> str | None:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix (the wire format)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_ready(value: Any) -> Any:
    """Field values as JSON takes them: decimals as text, datetimes as :func:`format_datetime`, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (tuple, list)):
        return [json_ready(item) for item in value]
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    return value


def _in_utc(moment: datetime | None) -> bool:
    """True when ``moment`` is None or already an aware UTC datetime."""
    return moment is None or moment.tzinfo is UTC or (moment.tzinfo is not None and not moment.utcoffset())


# --------------------------------------------------------------------------- records


class _Record(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """Fields every DMS record carries; not used directly."""

    dms_id: str
    modified_at: datetime
    etag: str | None = None
    #: The vendor's record as received (diagnosis only; not compared, not in to_dict()).
    raw: Any = None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__struct_fields__ if name != "raw")

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment] - records hold tuples and dicts

    @property
    def data_type(self) -> str:
        """The data type constant of this record's class."""
        return _DATA_TYPE_OF[type(self)]

    def to_dict(self) -> dict[str, Any]:
        """The canonical fields as a JSON-ready dict (datetimes ISO UTC, decimals as text, no ``raw``)."""
        data = msgspec.to_builtins(self)
        del data["raw"]
        return data


class Customer(_Record, frozen=True, kw_only=True, eq=False):
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

    @property
    def display_name(self) -> str:
        """Company name for a business, otherwise "First Last"."""
        if self.kind == "business" and self.company_name:
            return self.company_name
        return f"{self.first_name} {self.last_name}".strip() or self.company_name


class Vehicle(_Record, frozen=True, kw_only=True, eq=False):
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


class Appointment(_Record, frozen=True, kw_only=True, eq=False):
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


class RepairOrderLine(msgspec.Struct, frozen=True, kw_only=True):
    """One job line of a repair order: an opcode, its work, and who pays for it."""

    line_number: int = 0
    opcode: str = ""
    description: str = ""
    pay_type: str = "customer"  # customer, warranty or internal
    labor_hours: Decimal = _ZERO
    labor_amount: Decimal = _ZERO
    parts_amount: Decimal = _ZERO

    @property
    def total(self) -> Decimal:
        """Labor plus parts for this line."""
        return self.labor_amount + self.parts_amount

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the line (amounts as strings, with the line total)."""
        data = msgspec.to_builtins(self)
        data["total"] = str(self.total)
        return data


class RepairOrder(_Record, frozen=True, kw_only=True, eq=False):
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

    @property
    def totals_by_pay_type(self) -> dict[str, Decimal]:
        """Sum of line totals per pay type (customer, warranty, internal)."""
        totals = {pay_type: _ZERO for pay_type in PAY_TYPES}
        for line in self.lines:
            totals[line.pay_type] = totals.get(line.pay_type, _ZERO) + line.total
        return totals

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including each line's ``total`` and ``totals_by_pay_type``."""
        data = _Record.to_dict(self)
        data["lines"] = [line.to_dict() for line in self.lines]
        data["totals_by_pay_type"] = {k: str(v) for k, v in self.totals_by_pay_type.items()}
        return data


class PartsInvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    """One part sold on a parts invoice."""

    part_number: str = ""
    description: str = ""
    quantity: int = 0
    unit_price: Decimal = _ZERO

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the line."""
        return msgspec.to_builtins(self)


class PartsInvoice(_Record, frozen=True, kw_only=True, eq=False):
    """A counter/parts invoice, optionally tied to a customer and an RO."""

    invoice_number: str = ""
    customer_dms_id: str | None = None
    ro_number: str | None = None
    invoiced_at: datetime | None = None
    lines: tuple[PartsInvoiceLine, ...] = ()
    total: Decimal = _ZERO


class SpecialOrder(_Record, frozen=True, kw_only=True, eq=False):
    """A part special-ordered for a customer (often against an RO)."""

    part_number: str = ""
    description: str = ""
    quantity: int = 1
    status: str = "ordered"  # ordered, received, notified, picked_up, cancelled
    customer_dms_id: str | None = None
    ro_number: str | None = None
    ordered_at: datetime | None = None
    expected_at: datetime | None = None


class Opcode(_Record, frozen=True, kw_only=True, eq=False):
    """A labor operation code (``dms_id`` is the code itself)."""

    description: str = ""
    labor_hours: Decimal = Decimal("0.0")
    default_pay_type: str = "customer"
    active: bool = True

    @property
    def opcode(self) -> str:
        """The code staff type on an RO line (same as ``dms_id``)."""
        return self.dms_id


class Payment(_Record, frozen=True, kw_only=True, eq=False):
    """A payment (receipt) exported to the DMS against an RO.

    ``dms_id`` is the DMS's reference id for the posted receipt.
    """

    ro_number: str = ""
    amount: Decimal = _ZERO
    method: str = ""  # cash, check, card, insurance, adjustment
    payer: str = ""  # customer, insurance, adjustment
    received_at: datetime | None = None
    status: str = "posted"


#: Any canonical record.
DmsRecord = _Record


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class RecordKind:
    """What the console knows about one data type, whatever the protocol.

    ``owner_field`` names the canonical field holding the owning record's DMS id (a
    vehicle's customer, an RO's customer...); ``number_field`` the number staff search by;
    ``writable`` gives the fields a vendor takes on write-back (None: not written back).
    """

    data_type: str
    record: type[_Record]
    noun: str
    label: str
    owner_field: str | None = None
    number_field: str | None = None
    writable: Callable[[Any], frozenset[str]] | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The record's own canonical fields, in declaration order: all but ``dms_id``,
        ``modified_at``, ``etag`` and ``raw``, which every record has."""
        return tuple(name for name in self.record.__struct_fields__ if name not in _Record.__struct_fields__)


KINDS: dict[str, RecordKind] = {
    kind.data_type: kind
    for kind in (
        RecordKind(
            CUSTOMERS, Customer, "customer", "Customers", writable=lambda profile: profile.writable_customer_fields
        ),
        RecordKind(
            VEHICLES,
            Vehicle,
            "vehicle",
            "Vehicles",
            owner_field="owner_dms_id",
            writable=lambda profile: profile.writable_vehicle_fields,
        ),
        RecordKind(APPOINTMENTS, Appointment, "appointment", "Appointments", owner_field="customer_dms_id"),
        RecordKind(
            REPAIR_ORDERS,
            RepairOrder,
            "repair order",
            "Repair orders",
            owner_field="customer_dms_id",
            number_field="ro_number",
        ),
        RecordKind(
            PARTS_INVOICES,
            PartsInvoice,
            "parts invoice",
            "Parts invoices",
            owner_field="customer_dms_id",
            number_field="invoice_number",
        ),
        RecordKind(SPECIAL_ORDERS, SpecialOrder, "special order", "Special orders", owner_field="customer_dms_id"),
        RecordKind(OPCODES, Opcode, "opcode", "Opcodes"),
        RecordKind(PAYMENTS, Payment, "payment", "Payments"),
    )
}

#: Record class per data type.
RECORD_TYPES: dict[str, type[_Record]] = {data_type: kind.record for data_type, kind in KINDS.items()}
_DATA_TYPE_OF: dict[type, str] = {kind.record: data_type for data_type, kind in KINDS.items()}
_DATETIME_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(
        name
        for name, hint in zip(cls.__struct_fields__, msgspec.structs.fields(cls))
        if hint.type in (datetime, datetime | None)
    )
    for cls in RECORD_TYPES.values()
}


def kind_of(data_type: str) -> RecordKind:
    """The :class:`RecordKind` of ``data_type`` (ValueError for an unknown one)."""
    try:
        return KINDS[data_type]
    except KeyError:
        raise ValueError(f"unknown data type {data_type!r}") from None


def record_from_dict(
    data_type: str, data: Mapping[str, Any], *, raw: Any = None, position: int | None = None
) -> _Record:
    """Validate canonical fields into the record class of ``data_type``.

    ``None`` and empty-string values count as absent (the field's default). Unknown keys
    are ignored. Timestamps become aware UTC datetimes (naive ones are taken as UTC).
    Raises :class:`MalformedResponseError` naming the data type, the record id, its
    position in the page (when given) and the field that failed.
    """
    record_type = kind_of(data_type).record
    clean = {key: value for key, value in data.items() if value is not None and value != ""}
    if raw is not None:
        clean["raw"] = raw
    if data_type == REPAIR_ORDERS and not clean.get("ro_number") and clean.get("dms_id"):
        clean["ro_number"] = str(clean["dms_id"])
    try:
        record = msgspec.convert(clean, record_type, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError) as error:
        dms_id = data.get("dms_id") if isinstance(data, Mapping) else None
        where = f" at position {position}" if position is not None else ""
        name = f"{data_type} record {dms_id!r}" if dms_id else f"{data_type} record"
        raise MalformedResponseError(
            f"{name}{where}: {error}", data_type=data_type, dms_id=str(dms_id) if dms_id else None, position=position
        ) from None
    fields = _DATETIME_FIELDS[record_type]
    if not all(_in_utc(getattr(record, name)) for name in fields):
        record = msgspec.structs.replace(record, **{name: parse_datetime(getattr(record, name)) for name in fields})
    return record


__all__ = [
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
    "DmsRecord",
    "RecordKind",
    "KINDS",
    "RECORD_TYPES",
    "kind_of",
    "record_from_dict",
    "parse_datetime",
    "format_datetime",
    "json_ready",
]
