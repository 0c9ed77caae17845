"""OpenTrack (Dealertrack) records <-> canonical records: the mapping both sides share.

Readers turn a record element of an answer (``CustomerSearchResult``, ``Vehicle``,
``OpenRepairOrder`` ...) into a canonical record dict (:func:`read_record`); renderers do the
reverse for the sandbox (:data:`RENDERERS`); the ``*_fields_to_wire`` / ``*_fields_from_wire``
pairs carry the fields of a write request (CustomerAdd, VehicleUpdate, AppointmentAdd ...).
:data:`FEEDS` names, per data type, the operations and elements a read uses.

Quirks of real responses: ``0`` for "no phone"/"no date", 9-digit ZIP codes, ``Y``/``N``
flags, compact dates (``YYYYMMDD``, ``YYYYMMDDHHMM``, ``HHMM``). Elements this project adds
where the published operations are silent (paging, change times, record versions, keys for
idempotent creates) are listed in :data:`EXTENSIONS`. The envelope and the element helpers
are in :mod:`connectors.opentrack_xml`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from .opentrack_xml import children, el, find, local
from .records import parse_datetime

#: Elements that are not in the published request classes or inferred response XSDs.
EXTENSIONS = frozenset(
    {
        "LastModified",
        "RecordVersion",
        "MoreData",
        "MaxRecords",
        "UpdatedDateTimeStart",
        "ExternalCrossReferenceKey",
        "ForAppointment",
        "Address2",
        "CompanyName",
        "Country",
        "LicenseState",
        "UnitNumber",
        "Notes",
        "DispatchCode",
        "Status",
        "Locked",
        "Active",
        "CloseTime",
        "Lines",
        "Line",
        "InvoiceID",
        "Total",
        "RepairOrderNumber",
        "DataToken",
        "Payment",
        "ReceiptNumber",
        "Amount",
        "PaymentMethod",
        "Payer",
        "ReceivedDateTime",
        "Description",
        "UnitPrice",
        "LaborAmount",
        # real OpenTrack element names used in a response whose inferred XSD does not list them
        # (CloseDate of ClosedRepairOrder on an OpenRepairOrder; Vehicle's fields on a VehicleSearchResult)
        "CloseDate",
        "Odometer",
        "CustomerKey",
        "EngineCode",
        "LicenseNumber",
    }
)

# --------------------------------------------------------------------------- values


def none_if_zero(value: str | None) -> str:
    """OpenTrack writes ``0`` for "none" in phones, dates and keys: map it (and blanks) to ''."""
    value = (value or "").strip()
    return "" if value in ("", "0", "0.00") else value


def zip_from_wire(value: str | None) -> str:
    """9-digit ZIP -> ``12345`` (``+0000``) or ``12345-6789``; other values untouched."""
    value = none_if_zero(value)
    if len(value) == 9 and value.isdigit():
        return value[:5] if value[5:] == "0000" else f"{value[:5]}-{value[5:]}"
    return value


def zip_to_wire(value: str | None) -> str:
    """``12345`` -> ``123450000``, ``12345-6789`` -> ``123456789`` (OpenTrack's 9 digits)."""
    value = (value or "").strip()
    digits = value.replace("-", "")
    if len(digits) == 5 and digits.isdigit():
        return digits + "0000"
    if len(digits) == 9 and digits.isdigit():
        return digits
    return value


def phone_to_wire(value: str | None) -> str:
    """A phone as OpenTrack holds it: its digits (a leading US ``1`` of 11 digits dropped); ``0`` = none."""
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return digits or "0"


def flag(value: str | None, default: bool = False) -> bool:
    """``Y``/``N`` -> bool."""
    value = (value or "").strip().upper()
    return default if not value else value in ("Y", "YES", "TRUE", "1")


def yn(value: Any) -> str:
    """bool -> ``Y``/``N``."""
    return "Y" if value else "N"


def compact_date_from_wire(date: str | None, time: str | None = None) -> str | None:
    """``YYYYMMDD`` (+ ``HHMM``) or ``YYYYMMDDHHMM`` -> ISO UTC; ``0``/blank -> None."""
    date = none_if_zero(date)
    if not date:
        return None
    if "-" in date or "T" in date:
        return date  # already ISO (e.g. PartTransaction/Date)
    if not date.isdigit() or len(date) not in (8, 12, 14):
        raise ValueError(f"unreadable OpenTrack date {date!r}")
    if len(date) >= 12:
        clock = date[8:12]
    else:
        clock = (none_if_zero(time) or "0").zfill(4)
        if not clock.isdigit() or len(clock) != 4:
            raise ValueError(f"unreadable OpenTrack time {time!r}")
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}T{clock[:2]}:{clock[2:4]}:00+00:00"


def compact_date_to_wire(iso: Any, with_time: bool = False) -> str:
    """ISO timestamp -> ``YYYYMMDD`` or ``YYYYMMDDHHMM`` (``0`` when absent)."""
    if not iso:
        return "0"
    text = iso.isoformat() if hasattr(iso, "isoformat") else str(iso)
    moment = parse_datetime(text)
    return moment.strftime("%Y%m%d%H%M" if with_time else "%Y%m%d")


def hhmm(iso: Any) -> str:
    """ISO timestamp -> ``HHMM`` (``0`` when absent)."""
    if not iso:
        return "0"
    return parse_datetime(str(iso)).strftime("%H%M")


PAY_TO_WIRE = {"customer": "C", "warranty": "W", "internal": "I"}
PAY_FROM_WIRE = {
    "C": "customer",
    "CP": "customer",
    "W": "warranty",
    "WS": "warranty",
    "I": "internal",
    "IS": "internal",
}

# --------------------------------------------------------------------------- records: wire -> canonical
# Each reader takes the child-text dict of one record element (plus the element for nested lists).


def _phones(fields: Mapping[str, str], names: Iterable[str]) -> list[str]:
    return [value for value in (none_if_zero(fields.get(name)) for name in names) if value]


CUSTOMER_PHONES = ("PhoneNumber", "HomePhone", "CellPhone", "BusinessPhone", "OtherPhone", "PagePhone")


def customer_from_wire(f: Mapping[str, str]) -> dict[str, Any]:
    """A ``Customer`` (lookup) or ``CustomerSearchResult`` element -> canonical customer dict."""
    kind_code = (f.get("TypeCode") or f.get("EntityType") or "I").upper()
    kind = "business" if kind_code in ("B", "C", "BUSINESS", "COMPANY") else "person"
    return {
        "dms_id": f.get("CustomerNumber"),
        "modified_at": f.get("LastModified") or compact_date_from_wire(f.get("LastChangeDate")),
        "etag": f.get("RecordVersion") or None,
        "kind": kind,
        "first_name": f.get("FirstName", ""),
        "last_name": f.get("LastName", ""),
        "company_name": f.get("CompanyName", ""),
        "phones": _phones(f, CUSTOMER_PHONES),
        "emails": [e for e in (f.get("Email1"), f.get("Email2")) if e],
        "address_line1": f.get("Address1", ""),
        "address_line2": f.get("Address2", ""),
        "city": f.get("City", ""),
        "state": f.get("StateCode") or f.get("State", ""),
        "postal_code": zip_from_wire(f.get("ZipCode")),
        "country": f.get("Country", ""),
    }


def vehicle_from_wire(f: Mapping[str, str]) -> dict[str, Any]:
    """A ``Vehicle`` (lookup/inventory) or ``VehicleSearchResult`` element -> canonical vehicle dict."""
    year, mileage = none_if_zero(f.get("ModelYear")), f.get("Odometer", "")
    return {
        "dms_id": f.get("StockNumber"),
        "modified_at": f.get("LastModified") or None,
        "etag": f.get("RecordVersion") or None,
        "vin": f.get("VIN", ""),
        "unit_number": f.get("UnitNumber", ""),
        "year": int(year) if year else None,
        "make": f.get("Make", ""),
        "model": f.get("Model", ""),
        "engine": f.get("EngineCode", ""),
        "plate": f.get("LicenseNumber", ""),
        "plate_state": f.get("LicenseState", ""),
        "mileage": int(mileage) if mileage.strip() else None,
        "owner_dms_id": none_if_zero(f.get("CustomerKey")) or None,
    }


def _vehicle_search_from_wire(f: Mapping[str, str], node: etree._Element) -> dict[str, Any]:
    """A ``VehicleSearchResult``: like a vehicle, the owner from ``Customers/CustomerNumber`` if no key."""
    data = vehicle_from_wire(f)
    customers = find(node, "Customers")
    if not data["owner_dms_id"] and customers is not None:
        numbers = [none_if_zero(c.text) for c in customers if local(c.tag) == "CustomerNumber"]
        data["owner_dms_id"] = next((n for n in numbers if n), None)
    return data


APPOINTMENT_STATUS_FROM_WIRE = {"S": "scheduled", "A": "arrived", "C": "completed", "X": "cancelled"}
APPOINTMENT_STATUS_TO_WIRE = {v: k for k, v in APPOINTMENT_STATUS_FROM_WIRE.items()}


def appointment_from_wire(f: Mapping[str, str], node: etree._Element) -> dict[str, Any]:
    """An ``Appointment`` element -> canonical appointment dict (opcodes from its detail lines)."""
    details = find(node, "Details")
    opcodes = []
    if details is not None:
        for line in details:
            code = find(line, "LaborOpCode") is not None and (find(line, "LaborOpCode").text or "").strip()
            if code:
                opcodes.append(code)
    status = f.get("Status") or ""
    return {
        "dms_id": f.get("AppointmentNumber"),
        "modified_at": f.get("LastModified") or None,
        "etag": f.get("RecordVersion") or None,
        "customer_dms_id": none_if_zero(f.get("CustomerKey")) or None,
        "vehicle_dms_id": none_if_zero(f.get("StockNumber")) or None,
        "advisor_dms_id": f.get("ServiceWriterID") or None,
        "scheduled_at": compact_date_from_wire(f.get("AppointmentDateTime")),
        "opcodes": opcodes,
        "notes": f.get("Notes", ""),
        "status": APPOINTMENT_STATUS_FROM_WIRE.get(status, status.lower() or "scheduled"),
        "dispatch_code": f.get("DispatchCode", ""),
        "locked": flag(f.get("Locked")),
    }


RO_STATUS_FROM_WIRE = {"O": "open", "C": "closed", "I": "invoiced"}
RO_STATUS_TO_WIRE = {v: k for k, v in RO_STATUS_FROM_WIRE.items()}


def repair_order_from_wire(f: Mapping[str, str], node: etree._Element) -> dict[str, Any]:
    """An ``OpenRepairOrder`` or ``ClosedRepairOrder`` element -> canonical RO dict.

    Lines: the sandbox's ``Details/RepairOrderDetail``; a real closed RO's
    ``Details/ClosedRepairOrderDetail/LaborDetails/Labor`` rows are read too.
    """
    lines: list[dict[str, Any]] = []
    by_number: dict[str, dict[str, Any]] = {}
    details = find(node, "Details")
    for detail in details if details is not None else ():
        d = children(detail)
        labors = find(detail, "LaborDetails")
        if labors is not None and len(labors):  # a real ClosedRepairOrderDetail
            rows = [children(row) for row in labors]
            op_rows = [row for row in rows if (row.get("LineType") or "").upper() == "A"] or rows
            first = next((row for row in op_rows if row.get("LaborOpCode")), op_rows[0])
            parts = find(detail, "Parts")
            parts_amount = sum(
                (
                    Decimal(none_if_zero(p.get("NetPrice")) or 0) * Decimal(none_if_zero(p.get("Quantity")) or 1)
                    for p in (children(part) for part in (parts if parts is not None else ()))
                ),
                Decimal(0),
            )
            lines.append(
                {
                    "line_number": int(d.get("LineNumber") or 0),
                    "opcode": first.get("LaborOpCode", ""),
                    "description": first.get("OpCodeDescription") or "",
                    "pay_type": PAY_FROM_WIRE.get(first.get("LinePaymentMethod", ""), "customer"),
                    "labor_hours": sum((Decimal(none_if_zero(r.get("LaborHours")) or 0) for r in op_rows), Decimal(0)),
                    "labor_amount": sum(
                        (Decimal(none_if_zero(r.get("LaborAmount")) or 0) for r in op_rows), Decimal(0)
                    ),
                    "parts_amount": parts_amount,
                }
            )
            continue
        number = d.get("ServiceLineNumber") or d.get("LineNumber") or "0"
        line = by_number.get(number)
        if line is None:
            line = by_number[number] = {
                "line_number": int(number),
                "opcode": "",
                "description": "",
                "pay_type": "customer",
                "labor_hours": Decimal(0),
                "labor_amount": Decimal(0),
                "parts_amount": Decimal(0),
            }
            lines.append(line)
        if (d.get("LineType") or "A").upper() == "P":
            quantity = Decimal(none_if_zero(d.get("Quantity")) or 1)
            line["parts_amount"] += Decimal(none_if_zero(d.get("NetPrice")) or 0) * quantity
            continue
        if d.get("LaborOpCode") and not line["opcode"]:
            line["opcode"] = d["LaborOpCode"]
        if d.get("Comments") and not line["description"]:
            line["description"] = d["Comments"]
        if d.get("LinePaymentMethod"):
            line["pay_type"] = PAY_FROM_WIRE.get(d["LinePaymentMethod"], "customer")
        line["labor_hours"] += Decimal(none_if_zero(d.get("LaborHours")) or 0)
        line["labor_amount"] += Decimal(none_if_zero(d.get("ActualRetailAmount") or d.get("LaborAmount")) or 0)
    status = f.get("ROStatus") or ("closed" if none_if_zero(f.get("CloseDate")) else "open")
    number = f.get("RepairOrderNumber")
    return {
        "dms_id": number,
        "etag": f.get("RecordVersion") or None,
        "modified_at": f.get("LastModified") or compact_date_from_wire(f.get("FinalCloseDate") or f.get("CloseDate")),
        "ro_number": number,
        "status": RO_STATUS_FROM_WIRE.get(status, status.lower()),
        "opened_at": compact_date_from_wire(f.get("OpenTransactionDate") or f.get("OpenDate"), f.get("TimeIn")),
        "closed_at": compact_date_from_wire(f.get("CloseDate"), f.get("CloseTime")),
        "advisor_dms_id": f.get("ServiceWriterID") or None,
        "customer_dms_id": none_if_zero(f.get("CustomerNumber") or f.get("CustomerKey")) or None,
        "vehicle_dms_id": none_if_zero(f.get("StockNumber")) or None,
        "mileage_in": int(f["OdometerIn"]) if none_if_zero(f.get("OdometerIn")) else None,
        "lines": lines,
    }


def parts_invoice_from_wire(f: Mapping[str, str], node: etree._Element) -> dict[str, Any]:
    """A ``PartTransaction`` element (one document with its part lines) -> canonical parts invoice dict."""
    lines = []
    container = find(node, "Lines")
    if container is not None:
        for line in container:
            d = children(line)
            lines.append(
                {
                    "part_number": d.get("PartNumber", ""),
                    "description": d.get("Description", ""),
                    "quantity": int(d.get("Quantity") or 0),
                    "unit_price": d.get("UnitPrice") or "0",
                }
            )
    elif f.get("PartNumber"):
        lines.append(
            {
                "part_number": f["PartNumber"].strip(),
                "description": "",
                "quantity": int(float(f.get("Quantity") or 0)),
                "unit_price": f.get("Cost") or "0",
            }
        )
    return {
        "dms_id": f.get("InvoiceID") or f.get("DocumentNumber", "").strip(),
        "modified_at": f.get("LastModified") or None,
        "etag": f.get("RecordVersion") or None,
        "invoice_number": f.get("DocumentNumber", "").strip(),
        "customer_dms_id": none_if_zero(f.get("CustomerNumber")) or None,
        "ro_number": none_if_zero(f.get("RepairOrderNumber")) or None,
        "invoiced_at": f.get("Date") or None,
        "lines": lines,
        "total": f.get("Total") or None,
    }


def opcode_from_wire(f: Mapping[str, str]) -> dict[str, Any]:
    """A ``ServiceLaborOpcodeRecord`` element -> canonical opcode dict."""
    return {
        "dms_id": f.get("OperationCode"),
        "modified_at": f.get("LastModified") or None,
        "etag": f.get("RecordVersion") or None,
        "description": f.get("Description1", ""),
        "labor_hours": none_if_zero(f.get("EstimatedHours")) or "0",
        "default_pay_type": PAY_FROM_WIRE.get(f.get("DefLinePaymentMethod", ""), "customer"),
        "active": flag(f.get("Active"), default=True),
    }


def payment_from_wire(f: Mapping[str, str]) -> dict[str, Any]:
    """A ``Payment`` element (our PaymentAdd answer) -> canonical payment dict."""
    return {
        "dms_id": f.get("ReceiptNumber"),
        "modified_at": f.get("LastModified") or None,
        "etag": f.get("RecordVersion") or None,
        "ro_number": f.get("RepairOrderNumber", ""),
        "amount": f.get("Amount") or "0",
        "method": f.get("PaymentMethod", ""),
        "payer": f.get("Payer", ""),
        "received_at": f.get("ReceivedDateTime") or None,
        "status": f.get("Status") or "posted",
    }


# --------------------------------------------------------------------------- records: canonical -> wire
# Renderers take the canonical body dict (as the sandbox stores it). Elements follow the
# inferred XSD order; our extension elements come last.


def _tail(body: Mapping[str, Any]) -> str:
    stamp = body.get("modified_at")
    return (el("LastModified", stamp) if stamp else "") + el("RecordVersion", body.get("etag"))


def _slots(values: Iterable[str], count: int) -> list[str]:
    items = [phone_to_wire(v) for v in values][:count]
    return items + ["0"] * (count - len(items))


def customer_search_result(body: Mapping[str, Any], company: str) -> str:
    """``CustomerSearchResult`` (CustomerSearchResponse.xsd order)."""
    home, cell, work = _slots(body.get("phones") or (), 3)
    emails = list(body.get("emails") or ()) + ["", ""]
    return (
        "<CustomerSearchResult>"
        + el("CompanyNumber", company)
        + el("CustomerNumber", body.get("dms_id"))
        + el("EntityType", "B" if body.get("kind") == "business" else "I")
        + el("LastName", body.get("last_name"))
        + el("FirstName", body.get("first_name"))
        + el("Address1", body.get("address_line1"))
        + el("City", body.get("city"))
        + el("State", body.get("state"))
        + el("ZipCode", zip_to_wire(body.get("postal_code")) or "0")
        + el("HomePhone", home)
        + el("CellPhone", cell)
        + el("BusinessPhone", work)
        + el("Email1", emails[0])
        + el("Email2", emails[1])
        + el("Address2", body.get("address_line2"))
        + el("CompanyName", body.get("company_name"))
        + el("Country", body.get("country"))
        + _tail(body)
        + "</CustomerSearchResult>"
    )


def customer_lookup(body: Mapping[str, Any], company: str) -> str:
    """``Customer`` (CustomerLookupResponse.xsd order)."""
    home, cell, work, other = _slots(body.get("phones") or (), 4)
    emails = list(body.get("emails") or ()) + ["", ""]
    changed = compact_date_to_wire(body.get("modified_at")) if body.get("modified_at") else "0"
    return (
        "<Customer>"
        + el("CompanyNumber", company)
        + el("CustomerNumber", body.get("dms_id"))
        + el("TypeCode", "B" if body.get("kind") == "business" else "I")
        + el("LastName", body.get("last_name"))
        + el("FirstName", body.get("first_name"))
        + el("Address1", body.get("address_line1"))
        + el("Address2", body.get("address_line2"))
        + el("City", body.get("city"))
        + el("StateCode", body.get("state"))
        + el("ZipCode", zip_to_wire(body.get("postal_code")) or "0")
        + el("PhoneNumber", home)
        + el("BusinessPhone", work)
        + el("CellPhone", cell)
        + el("OtherPhone", other)
        + el("Email1", emails[0])
        + el("Email2", emails[1])
        + el("LastChangeDate", changed)
        + el("CompanyName", body.get("company_name"))
        + el("Country", body.get("country"))
        + _tail(body)
        + "</Customer>"
    )


def vehicle_element(body: Mapping[str, Any], company: str, name: str = "Vehicle") -> str:
    """``Vehicle`` (VehicleLookupResponse.xsd / VehicleInventoryResponse.xsd order)."""
    mileage = body.get("mileage")
    return (
        f"<{name}>"
        + el("CompanyNumber", company)
        + el("VIN", body.get("vin"))
        + el("StockNumber", body.get("dms_id"))
        + el("ModelYear", body.get("year") or "0")
        + el("Make", body.get("make"))
        + el("Model", body.get("model"))
        + el("EngineCode", body.get("engine"))
        + el("Odometer", "" if mileage is None else mileage)
        + el("LicenseNumber", body.get("plate"))
        + el("CustomerKey", body.get("owner_dms_id") or "0")
        + el("LicenseState", body.get("plate_state"))
        + el("UnitNumber", body.get("unit_number"))
        + _tail(body)
        + f"</{name}>"
    )


def vehicle_search_result(body: Mapping[str, Any], company: str) -> str:
    """``VehicleSearchResult`` (VehicleSearchResponse.xsd order), with the owner under Customers."""
    owner = body.get("owner_dms_id")
    return (
        "<VehicleSearchResult>"
        + el("CompanyNumber", company)
        + el("VIN", body.get("vin"))
        + el("StockNumber", body.get("dms_id"))
        + el("Make", body.get("make"))
        + el("Model", body.get("model"))
        + el("ModelYear", body.get("year") or "0")
        + (f"<Customers>{el('CustomerNumber', owner)}</Customers>" if owner else "")
        + el("LicenseNumber", body.get("plate"))
        + el("EngineCode", body.get("engine"))
        + el("Odometer", "" if body.get("mileage") is None else body.get("mileage"))
        + el("CustomerKey", owner or "0")
        + el("LicenseState", body.get("plate_state"))
        + el("UnitNumber", body.get("unit_number"))
        + _tail(body)
        + "</VehicleSearchResult>"
    )


def appointment_element(body: Mapping[str, Any], company: str) -> str:
    """``Appointment`` (AppointmentLookupResponse.xsd order)."""
    details = "".join(
        f"<AppointmentDetail>{el('ServiceLineNumber', n)}{el('LineType', 'A')}{el('LaborOpCode', code)}"
        f"</AppointmentDetail>"
        for n, code in enumerate(body.get("opcodes") or (), 1)
    )
    return (
        "<Appointment>"
        + el("CompanyNumber", company)
        + el("AppointmentNumber", body.get("dms_id"))
        + el("AppointmentDateTime", compact_date_to_wire(body.get("scheduled_at"), with_time=True))
        + el("ServiceWriterID", body.get("advisor_dms_id"))
        + el("CustomerKey", body.get("customer_dms_id") or "0")
        + el("StockNumber", body.get("vehicle_dms_id"))
        + f"<Details>{details}</Details>"
        + el("Notes", body.get("notes"))
        + el("Status", APPOINTMENT_STATUS_TO_WIRE.get(body.get("status") or "scheduled", body.get("status")))
        + el("DispatchCode", body.get("dispatch_code"))
        + el("Locked", yn(body.get("locked")))
        + _tail(body)
        + "</Appointment>"
    )


def repair_order_element(body: Mapping[str, Any], company: str) -> str:
    """``OpenRepairOrder`` in OpenRepairOrderLookupResponse.xsd order.

    Each canonical line becomes a labor detail (``LineType`` A: opcode, comments, pay
    method, hours, ``ActualRetailAmount``) plus, when it has parts, a parts detail
    (``LineType`` P, ``Quantity`` 1, ``NetPrice``) with the same ``ServiceLineNumber``.
    """
    details = []
    for line in body.get("lines") or ():
        number, pay = line.get("line_number"), PAY_TO_WIRE.get(line.get("pay_type") or "customer", "C")
        details.append(
            "<OpenRepairOrderDetail>"
            + el("ServiceLineNumber", number)
            + el("LineType", "A")
            + el("Comments", line.get("description"))
            + el("LinePaymentMethod", pay)
            + el("LaborOpCode", line.get("opcode"))
            + el("LaborHours", line.get("labor_hours"))
            + el("ActualRetailAmount", line.get("labor_amount"))
            + "</OpenRepairOrderDetail>"
        )
        if none_if_zero(str(line.get("parts_amount") or "")):
            details.append(
                "<OpenRepairOrderDetail>"
                + el("ServiceLineNumber", number)
                + el("LineType", "P")
                + el("Quantity", 1)
                + el("NetPrice", line.get("parts_amount"))
                + el("LinePaymentMethod", pay)
                + "</OpenRepairOrderDetail>"
            )
    status = body.get("status") or "open"
    return (
        "<OpenRepairOrder>"
        + el("CompanyNumber", company)
        + el("OpenTransactionDate", compact_date_to_wire(body.get("opened_at")))
        + el("RepairOrderNumber", body.get("ro_number") or body.get("dms_id"))
        + el("CustomerNumber", body.get("customer_dms_id") or "0")
        + el("ROStatus", RO_STATUS_TO_WIRE.get(status, status))
        + el("ServiceWriterID", body.get("advisor_dms_id"))
        + el("StockNumber", body.get("vehicle_dms_id"))
        + el("OdometerIn", "" if body.get("mileage_in") is None else body.get("mileage_in"))
        + el("TimeIn", hhmm(body.get("opened_at")))
        + (el("LastModified", body.get("modified_at")) if body.get("modified_at") else "")
        + "<Details>"
        + "".join(details)
        + "</Details>"
        + el("CloseDate", compact_date_to_wire(body.get("closed_at")))
        + el("CloseTime", hhmm(body.get("closed_at")))
        + el("RecordVersion", body.get("etag"))
        + "</OpenRepairOrder>"
    )


def parts_invoice_element(body: Mapping[str, Any], company: str) -> str:
    """``PartTransaction`` (PartsTransactionRequestResponse names) for one document with its lines."""
    lines = "".join(
        "<Line>"
        + el("PartNumber", line.get("part_number"))
        + el("Description", line.get("description"))
        + el("Quantity", line.get("quantity"))
        + el("UnitPrice", line.get("unit_price"))
        + "</Line>"
        for line in body.get("lines") or ()
    )
    return (
        "<PartTransaction>"
        + el("DocumentNumber", body.get("invoice_number"))
        + el("Type", "SA")
        + el("TypeName", "Sale")
        + el("Date", body.get("invoiced_at"))
        + el("CustomerNumber", body.get("customer_dms_id") or "0")
        + el("InvoiceID", body.get("dms_id"))
        + el("RepairOrderNumber", body.get("ro_number"))
        + f"<Lines>{lines}</Lines>"
        + el("Total", body.get("total"))
        + _tail(body)
        + "</PartTransaction>"
    )


def opcode_element(body: Mapping[str, Any], company: str) -> str:
    """``ServiceLaborOpcodeRecord`` (ServiceLaborOpcodesTable.xsd order)."""
    pay = {"customer": "CP", "warranty": "WS", "internal": "IS"}.get(body.get("default_pay_type") or "customer", "CP")
    return (
        "<ServiceLaborOpcodeRecord>"
        + el("CompanyNumber", company)
        + el("OperationCode", body.get("dms_id"))
        + el("Description1", body.get("description"))
        + el("DefLinePaymentMethod", pay)
        + el("EstimatedHours", body.get("labor_hours"))
        + el("Active", yn(body.get("active", True)))
        + _tail(body)
        + "</ServiceLaborOpcodeRecord>"
    )


def payment_element(body: Mapping[str, Any]) -> str:
    """``Payment`` (our PaymentAdd answer; not a published operation)."""
    return (
        "<Payment>"
        + el("ReceiptNumber", body.get("dms_id"))
        + el("RepairOrderNumber", body.get("ro_number"))
        + el("Amount", body.get("amount"))
        + el("PaymentMethod", body.get("method"))
        + el("Payer", body.get("payer"))
        + el("ReceivedDateTime", body.get("received_at"))
        + el("Status", body.get("status"))
        + _tail(body)
        + "</Payment>"
    )


# --------------------------------------------------------------------------- operations per data type


class Feed:
    """How one data type is read: request element, its parameter block, the change-time
    parameter, the response element and the record element, plus the single-record lookup."""

    def __init__(
        self,
        request: str,
        parms: str | None,
        since: str,
        response: str,
        record: str,
        lookup: str,
        lookup_key: str,
        lookup_parms: str | None,
        lookup_response: str,
        lookup_record: str,
    ):
        self.request, self.parms, self.since, self.response, self.record = request, parms, since, response, record
        self.lookup, self.lookup_key, self.lookup_parms = lookup, lookup_key, lookup_parms
        self.lookup_response, self.lookup_record = lookup_response, lookup_record


FEEDS: dict[str, Feed] = {
    "customers": Feed(
        "CustomerSearch",
        "SearchParms",
        "UpdatedDateTimeStart",
        "CustomerSearchResponse",
        "CustomerSearchResult",
        "CustomerLookup",
        "CustomerNumber",
        None,
        "CustomerLookupResponse",
        "Customer",
    ),
    "vehicles": Feed(
        "VehicleInventory",
        "SearchParms",
        "UpdatedDateTimeStart",
        "VehicleInventoryResponse",
        "Vehicle",
        "VehicleLookup",
        "StockNumber",
        None,
        "VehicleLookupResponse",
        "Vehicle",
    ),
    "appointments": Feed(
        "AppointmentLookup",
        "LookupParms",
        "UpdatedDateTimeStart",
        "AppointmentLookupResponse",
        "Appointment",
        "AppointmentLookup",
        "AppointmentNumber",
        "LookupParms",
        "AppointmentLookupResponse",
        "Appointment",
    ),
    "repair_orders": Feed(
        "OpenRepairOrderLookup",
        "LookupParms",
        "ModifiedAfter",
        "OpenRepairOrderLookupResponse",
        "OpenRepairOrder",
        "OpenRepairOrderLookup",
        "RepairOrderNumber",
        "LookupParms",
        "OpenRepairOrderLookupResponse",
        "OpenRepairOrder",
    ),
    "parts_invoices": Feed(
        "PartsTransactions",
        "SearchParms",
        "UpdatedDateTimeStart",
        "PartsTransactionsResponse",
        "PartTransaction",
        "PartsTransactions",
        "InvoiceID",
        "SearchParms",
        "PartsTransactionsResponse",
        "PartTransaction",
    ),
    "opcodes": Feed(
        "ServiceLaborOpcodesTableRequest",
        "SearchParms",
        "UpdatedDateTimeStart",
        "ServiceLaborOpcodesTable",
        "ServiceLaborOpcodeRecord",
        "ServiceLaborOpcodesTableRequest",
        "OperationCode",
        "SearchParms",
        "ServiceLaborOpcodesTable",
        "ServiceLaborOpcodeRecord",
    ),
}

#: record element local name -> (data type, reader taking (fields, element))
READERS: dict[str, tuple[str, Any]] = {
    "CustomerSearchResult": ("customers", lambda f, n: customer_from_wire(f)),
    "Customer": ("customers", lambda f, n: customer_from_wire(f)),
    "Vehicle": ("vehicles", lambda f, n: vehicle_from_wire(f)),
    "VehicleSearchResult": ("vehicles", lambda f, n: _vehicle_search_from_wire(f, n)),
    "Appointment": ("appointments", appointment_from_wire),
    "OpenRepairOrder": ("repair_orders", repair_order_from_wire),
    "ClosedRepairOrder": ("repair_orders", repair_order_from_wire),
    "PartTransaction": ("parts_invoices", parts_invoice_from_wire),
    "ServiceLaborOpcodeRecord": ("opcodes", lambda f, n: opcode_from_wire(f)),
}

#: data type -> renderer used by the sandbox for feed and lookup answers
RENDERERS = {
    "customers": customer_search_result,
    "vehicles": vehicle_element,
    "appointments": appointment_element,
    "repair_orders": repair_order_element,
    "parts_invoices": parts_invoice_element,
    "opcodes": opcode_element,
}
LOOKUP_RENDERERS = {**RENDERERS, "customers": customer_lookup}


def read_record(node: etree._Element) -> tuple[str, dict[str, Any]]:
    """``(data type, canonical dict)`` of one record element, by its element name."""
    data_type, reader = READERS[local(node.tag)]
    return data_type, reader(children(node), node)


# --------------------------------------------------------------------------- write requests (canonical <-> wire)


def customer_fields_to_wire(fields: Mapping[str, Any]) -> str:
    """Canonical customer fields -> ``Customer`` children (only the fields given)."""
    out = []
    if "kind" in fields:
        out.append(el("TypeCode", "B" if fields["kind"] == "business" else "I"))
    for name, wire in (
        ("last_name", "LastName"),
        ("first_name", "FirstName"),
        ("address_line1", "Address1"),
        ("address_line2", "Address2"),
        ("city", "City"),
        ("state", "StateCode"),
    ):
        if name in fields:
            out.append(el(wire, fields[name]))
    if "postal_code" in fields:
        out.append(el("ZipCode", zip_to_wire(fields["postal_code"])))
    if "phones" in fields:
        home, cell, work, other = _slots(fields["phones"] or (), 4)
        out += [el("PhoneNumber", home), el("BusinessPhone", work), el("CellPhone", cell), el("OtherPhone", other)]
    if "emails" in fields:
        emails = list(fields["emails"] or ()) + ["", ""]
        out += [el("Email1", emails[0]), el("Email2", emails[1])]
    if "company_name" in fields:
        out.append(el("CompanyName", fields["company_name"]))
    if "country" in fields:
        out.append(el("Country", fields["country"]))
    unknown = set(fields) - {
        "kind",
        "last_name",
        "first_name",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "phones",
        "emails",
        "company_name",
        "country",
    }
    for name in sorted(unknown):  # passed through so the DMS refuses them with its own error
        out.append(el("Unknown_" + name, fields[name]))
    return "".join(out)


def customer_fields_from_wire(node: etree._Element) -> dict[str, Any]:
    """``Customer`` children of a CustomerAdd/Update request -> canonical fields (only those present)."""
    f = {local(c.tag): (c.text or "").strip() for c in node if isinstance(c.tag, str)}
    out: dict[str, Any] = {}
    if "TypeCode" in f:
        out["kind"] = "business" if f["TypeCode"].upper() in ("B", "C") else "person"
    for wire, name in (
        ("LastName", "last_name"),
        ("FirstName", "first_name"),
        ("Address1", "address_line1"),
        ("Address2", "address_line2"),
        ("City", "city"),
        ("StateCode", "state"),
        ("CompanyName", "company_name"),
        ("Country", "country"),
    ):
        if wire in f:
            out[name] = f[wire]
    if "ZipCode" in f:
        out["postal_code"] = zip_from_wire(f["ZipCode"])
    if any(name in f for name in CUSTOMER_PHONES):
        out["phones"] = _phones(f, ("PhoneNumber", "CellPhone", "BusinessPhone", "OtherPhone"))
    if "Email1" in f or "Email2" in f:
        out["emails"] = [e for e in (f.get("Email1"), f.get("Email2")) if e]
    for wire in f:
        if wire.startswith("Unknown_"):
            out[wire[8:]] = f[wire]
    return out


VEHICLE_WIRE = (
    ("vin", "VIN"),
    ("year", "ModelYear"),
    ("make", "Make"),
    ("model", "Model"),
    ("engine", "EngineCode"),
    ("mileage", "Odometer"),
    ("plate", "LicenseNumber"),
    ("owner_dms_id", "CustomerKey"),
    ("plate_state", "LicenseState"),
    ("unit_number", "UnitNumber"),
)


def vehicle_fields_to_wire(fields: Mapping[str, Any]) -> str:
    """Canonical vehicle fields -> ``Vehicle`` children (only the fields given)."""
    known = dict(VEHICLE_WIRE)
    out = [el(known[name], fields[name]) for name in known if name in fields]
    out += [el("Unknown_" + name, fields[name]) for name in sorted(set(fields) - set(known))]
    return "".join(out)


def vehicle_fields_from_wire(node: etree._Element) -> dict[str, Any]:
    """``Vehicle`` children of a VehicleAdd/Update request -> canonical fields."""
    f = {local(c.tag): (c.text or "").strip() for c in node if isinstance(c.tag, str)}
    out: dict[str, Any] = {}
    for name, wire in VEHICLE_WIRE:
        if wire in f:
            value: Any = f[wire]
            if name in ("year", "mileage"):
                value = int(value) if value.strip().lstrip("-").isdigit() else None
            elif name == "owner_dms_id":
                value = none_if_zero(value) or None
            out[name] = value
    for wire in f:
        if wire.startswith("Unknown_"):
            out[wire[8:]] = f[wire]
    return out


def appointment_fields_to_wire(fields: Mapping[str, Any]) -> str:
    """Canonical appointment fields -> ``Appointment`` children (only the fields given)."""
    out = []
    if "customer_dms_id" in fields:
        out.append(el("CustomerKey", fields["customer_dms_id"]))
    if "advisor_dms_id" in fields:
        out.append(el("ServiceWriterID", fields["advisor_dms_id"]))
    if "vehicle_dms_id" in fields:
        out.append(el("StockNumber", fields["vehicle_dms_id"]))
    if "scheduled_at" in fields:
        out.append(el("AppointmentDateTime", compact_date_to_wire(fields["scheduled_at"], with_time=True)))
    if "opcodes" in fields:
        out.append(
            "<Details>"
            + "".join(
                f"<AppointmentDetail>{el('ServiceLineNumber', n)}{el('LineType', 'A')}{el('LaborOpCode', code)}"
                f"</AppointmentDetail>"
                for n, code in enumerate(fields["opcodes"] or (), 1)
            )
            + "</Details>"
        )
    for name, wire in (("notes", "Notes"), ("dispatch_code", "DispatchCode")):
        if name in fields:
            out.append(el(wire, fields[name]))
    if "status" in fields:
        out.append(el("Status", APPOINTMENT_STATUS_TO_WIRE.get(fields["status"], fields["status"])))
    return "".join(out)


def appointment_fields_from_wire(node: etree._Element) -> dict[str, Any]:
    """``Appointment`` children of an AppointmentAdd/Update request -> canonical fields."""
    f = children(node)
    out: dict[str, Any] = {}
    for wire, name in (
        ("CustomerKey", "customer_dms_id"),
        ("ServiceWriterID", "advisor_dms_id"),
        ("StockNumber", "vehicle_dms_id"),
        ("Notes", "notes"),
        ("DispatchCode", "dispatch_code"),
    ):
        if wire in f:
            out[name] = f[wire]
    if "AppointmentDateTime" in f:
        out["scheduled_at"] = compact_date_from_wire(f["AppointmentDateTime"])
    if "Status" in f:
        out["status"] = APPOINTMENT_STATUS_FROM_WIRE.get(f["Status"], f["Status"])
    details = find(node, "Details")
    if details is not None:
        out["opcodes"] = [
            children(line).get("LaborOpCode", "") for line in details if children(line).get("LaborOpCode")
        ]
    return out
