"""STAR resources <-> canonical records: the mapping both sides of STAR REST share.

The published STAR documents (``customer``, ``service_vehicle``, ``service_appointment``,
``repair_order``, ``labor_operation``; OpenAPI 3.0) define the resources and their field
names; :func:`to_star` and :func:`from_star` map them to the canonical records of
:mod:`connectors.records` both ways:

=====================  ===========================  =========================
canonical data type    STAR resource                path
=====================  ===========================  =========================
customers              Customer                     ``/customers``
vehicles               ServiceVehicle               ``/service-vehicles``
appointments           ServiceAppointment           ``/service-appointments``
repair_orders          RepairOrder                  ``/repair-orders``
opcodes                LaborOperation               ``/labor-operations``
parts_invoices         (not published)             ``/parts-invoices``
special_orders         (not published)             ``/special-orders``
payments               (not published)             ``/payments``
=====================  ===========================  =========================

Types the documents do not cover keep their canonical snake_case fields under the STAR key
name. Every record carries the extension properties ``last_updated_date_time`` and ``etag``
(the documents have no change time or version per record).

The functions are plain dict work, so the connector (:mod:`connectors.star`) reads pages and
the sandbox's STAR front end (:mod:`connectors.sandbox.star_api`) renders them cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .records import (
    APPOINTMENTS,
    CUSTOMERS,
    OPCODES,
    PARTS_INVOICES,
    PAYMENTS,
    REPAIR_ORDERS,
    SPECIAL_ORDERS,
    VEHICLES,
    format_datetime,
)

RESOURCES: dict[str, tuple[str, str]] = {
    CUSTOMERS: ("customers", "customer_key"),
    VEHICLES: ("service-vehicles", "service_vehicle_key"),
    APPOINTMENTS: ("service-appointments", "service_appointment_key"),
    REPAIR_ORDERS: ("repair-orders", "repair_order_key"),
    OPCODES: ("labor-operations", "labor_operation_key"),
    PARTS_INVOICES: ("parts-invoices", "parts_invoice_key"),
    SPECIAL_ORDERS: ("special-orders", "special_order_key"),
    PAYMENTS: ("payments", "payment_key"),
}
#: STAR resource path -> canonical data type
DATA_TYPE_OF_PATH = {path: data_type for data_type, (path, _) in RESOURCES.items()}
#: The extension properties every record carries (the documents have no change time or ETag per record).
MODIFIED = "last_updated_date_time"
ETAG = "etag"

PAY_TYPE_TO_STAR = {"customer": "CUSTOMER_PAY", "warranty": "WARRANTY", "internal": "INTERNAL"}
PAY_TYPE_FROM_STAR = {v: k for k, v in PAY_TYPE_TO_STAR.items()}
APPOINTMENT_STATUS_TO_STAR = {
    "scheduled": "CONFIRMED",
    "arrived": "ARRIVED",
    "completed": "FULFILLED",
    "cancelled": "CANCELLED",
}
APPOINTMENT_STATUS_FROM_STAR = {
    **{v: k for k, v in APPOINTMENT_STATUS_TO_STAR.items()},
    "CHECKED_IN": "arrived",
    "IN_PROGRESS": "arrived",
    "READY": "arrived",
    "CLOSED": "completed",
    "PARTIALLY_FULFILLED": "completed",
    "NO_SHOW": "cancelled",
    "NO_SHOW_CONFIRMED": "cancelled",
    "DECLINED": "cancelled",
    "REJECTED": "cancelled",
    "EXPIRED": "cancelled",
    "FAILED": "cancelled",
}
RO_STATUS_TO_STAR = {"open": ("OPEN", "OPEN"), "closed": ("CLOSED", "CLOSED"), "invoiced": ("CLOSED", "INVOICE")}


def _s(value: Any) -> str | None:
    """A non-empty string or None (STAR properties are omitted rather than sent empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` when ``value`` is a non-empty string/collection."""
    if isinstance(value, (list, dict)):
        if value:
            target[key] = value
        return
    text = _s(value)
    if text is not None:
        target[key] = text


def _ident(identifiers: Any, kind: str) -> str | None:
    """The value of the ``identifier_type == kind`` entry of an Identifiers list."""
    for item in identifiers or ():
        if isinstance(item, dict) and item.get("identifier_type") == kind:
            return item.get("value")
    return None


def _first(items: Any) -> dict[str, Any]:
    """The first object of a list (an empty dict when there is none)."""
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _int(value: Any) -> int | None:
    """An int from a STAR string, or None."""
    if value is None or value == "":
        return None
    return int(value)


# --------------------------------------------------------------------------- canonical -> STAR


def _customer_to_star(c: Mapping[str, Any]) -> dict[str, Any]:
    # The hot path of every customer page the sandbox serves: plain dict work only.
    get = c.get
    business = get("kind") == "business"
    party: dict[str, Any] = {"party_type": "ORGANIZATION" if business else "PERSON", "org_indicator": business}
    dms_id = get("dms_id")
    if dms_id:
        party["party_key"] = dms_id = str(dms_id)
    first, last = get("first_name"), get("last_name")
    if first or last:
        name = {}
        if first:
            name["given_name"] = first
        if last:
            name["family_name"] = last
        party["individual_name"] = name
    if get("company_name"):
        party["party_name"] = get("company_name")
    address = {star: get(canonical) for canonical, star in _ADDRESS if get(canonical)}
    if address:
        address["address_types"] = ["BUSINESS" if business else "HOME"]
        party["address_references"] = [address]
    phones, emails = get("phones"), get("emails")
    if phones or emails:
        party["communication_channels"] = [
            {"communication_channel_type": "PHONE", "value": p} for p in phones or ()
        ] + [{"communication_channel_type": "EMAIL", "value": e} for e in emails or ()]
    if dms_id:
        return {"customer_key": dms_id, "customer_id": dms_id, "party_references": [party]}
    return {"party_references": [party]}


_ADDRESS = (
    ("address_line1", "address_line1"),
    ("address_line2", "address_line2"),
    ("city", "city"),
    ("state", "state_province"),
    ("postal_code", "postal_code"),
    ("country", "country_code"),
)


def _vehicle_to_star(v: Mapping[str, Any]) -> dict[str, Any]:
    ident: dict[str, Any] = {}
    _put(ident, "vin", v.get("vin"))
    _put(ident, "fleet_vehicle_key", v.get("unit_number"))
    _put(ident, "model_year", v.get("year"))
    _put(ident, "primary_make", v.get("make"))
    _put(ident, "primary_model", v.get("model"))
    license_: dict[str, Any] = {}
    _put(license_, "plate_number", v.get("plate"))
    _put(license_, "jurisdiction_name", v.get("plate_state"))
    _put(ident, "license", license_)
    summary: dict[str, Any] = {}
    _put(summary, "engine", v.get("engine"))
    _put(ident, "vehicle_summary", summary)
    out: dict[str, Any] = {}
    _put(out, "service_vehicle_key", v.get("dms_id"))
    _put(out, "service_vehicle_id", v.get("dms_id"))
    _put(out, "vehicle_identifier", ident)
    if v.get("mileage") not in (None, ""):
        out["odometer"] = {"value": str(v["mileage"]), "codes": [{"code": "MI"}]}
    if v.get("owner_dms_id"):
        out["garage_item_reference"] = {
            "ownership_status_type": "CURRENT_OWNER",
            "parties": [{"party_key": str(v["owner_dms_id"]), "party_type": "CUSTOMER"}],
        }
    return out


def _appointment_to_star(a: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "service_appointment_key", a.get("dms_id"))
    _put(out, "service_appointment_id", a.get("dms_id"))
    out["appointment_status_type"] = APPOINTMENT_STATUS_TO_STAR.get(a.get("status") or "scheduled", "UNKNOWN")
    out["appointment_types"] = ["SERVICE"]
    period: dict[str, Any] = {}
    _put(period, "start_date_time", a.get("scheduled_at"))
    _put(out, "appointment_period", period)
    if a.get("customer_dms_id"):
        out["customers"] = [{"customer_key": str(a["customer_dms_id"])}]
    if a.get("vehicle_dms_id"):
        out["vehicle_asset"] = {"vehicle_asset_key": str(a["vehicle_dms_id"])}
    if a.get("advisor_dms_id"):
        out["assigned_dealer_staff"] = [
            {
                "party_key": str(a["advisor_dms_id"]),
                "party_type": "EMPLOYEE",
                "party_relationship_types": ["SERVICE_ADVISOR"],
            }
        ]
    if a.get("opcodes"):
        out["service_requests"] = [
            {"service_type": "SERVICE", "service_codes": [{"code": str(op)} for op in a["opcodes"]]}
        ]
    if a.get("notes"):
        out["narratives"] = [{"narrative_type": "INFO", "narrative_desc": str(a["notes"])}]
    if a.get("dispatch_code"):
        out["identifiers"] = [{"identifier_type": "DISPATCH_CODE", "value": str(a["dispatch_code"])}]
    if "locked" in a:
        out["locked_indicator"] = bool(a.get("locked"))
    return out


def _amount(value: Any) -> dict[str, Any]:
    return {"amount": str(value if value not in (None, "") else "0.00"), "currency_code": "USD"}


def _repair_order_to_star(r: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "repair_order_key", r.get("dms_id"))
    _put(out, "repair_order_id", r.get("dms_id"))
    identifiers = []
    for kind, name in (
        ("RO_NUMBER", "ro_number"),
        ("CUSTOMER_KEY", "customer_dms_id"),
        ("ALTERNATE_OF", "alternate_of"),
    ):
        if r.get(name):
            identifiers.append({"identifier_type": kind, "value": str(r[name])})
    _put(out, "identifiers", identifiers)
    status, stage = RO_STATUS_TO_STAR.get(r.get("status") or "open", ("OTHER", "OTHER"))
    summary: dict[str, Any] = {"current_repair_status_type": status, "current_repair_stage_type": stage}
    period: dict[str, Any] = {}
    _put(period, "start_date_time", r.get("opened_at"))
    _put(period, "complete_date_time", r.get("closed_at"))
    _put(summary, "repair_order_duration", period)
    out["repair_status_summary"] = summary
    if r.get("advisor_dms_id"):
        out["staff_assignments"] = [{"staff_key": str(r["advisor_dms_id"]), "role_types": ["SERVICE_ADVISOR"]}]
    if r.get("vehicle_dms_id"):
        out["vehicle_reference"] = {"vehicle_reference_key": str(r["vehicle_dms_id"])}
    if r.get("mileage_in") not in (None, ""):
        out["vehicle_snapshots"] = [
            {
                "snapshot_type": "CHECK_IN",
                "vehicle_states": [{"vehicle_state_name": "ODOMETER", "value": str(r["mileage_in"])}],
            }
        ]
    lines = []
    for line in r.get("lines") or ():
        job: dict[str, Any] = {}
        if line.get("opcode"):
            job["operation_codes"] = [{"code": str(line["opcode"])}]
        _put(job, "operation_name", line.get("description"))
        job["job_actual_hours"] = str(line.get("labor_hours") if line.get("labor_hours") not in (None, "") else "0")
        lines.append(
            {
                "sequential_line_number": str(line.get("line_number") or 0),
                "pay_types": [PAY_TYPE_TO_STAR.get(line.get("pay_type") or "customer", "CUSTOMER_PAY")],
                "service_jobs": [job],
                "financial_summary": {
                    "currency_code": "USD",
                    "actual_labor_amount": _amount(line.get("labor_amount")),
                    "actual_parts_amount": _amount(line.get("parts_amount")),
                },
            }
        )
    _put(out, "repair_order_line_items", lines)
    return out


def _opcode_to_star(o: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "labor_operation_key", o.get("dms_id"))
    _put(out, "labor_operation_id", o.get("dms_id"))
    if o.get("dms_id"):
        out["labor_operation_codes"] = [{"code": str(o["dms_id"])}]
    _put(out, "labor_operation_description", o.get("description"))
    if o.get("labor_hours") not in (None, ""):
        out["flat_rate_units"] = str(o["labor_hours"])
    out["pay_type"] = PAY_TYPE_TO_STAR.get(o.get("default_pay_type") or "customer", "CUSTOMER_PAY")
    out["effective_period"] = {"active_indicator": bool(o.get("active", True))}
    return out


def _generic_to_star(data_type: str, d: Mapping[str, Any]) -> dict[str, Any]:
    """Types the published documents do not cover: snake_case canonical fields, STAR key name."""
    out = {k: v for k, v in d.items() if k not in ("dms_id", "modified_at", "etag")}
    out[RESOURCES[data_type][1]] = d.get("dms_id")
    return out


_TO_STAR = {
    CUSTOMERS: _customer_to_star,
    VEHICLES: _vehicle_to_star,
    APPOINTMENTS: _appointment_to_star,
    REPAIR_ORDERS: _repair_order_to_star,
    OPCODES: _opcode_to_star,
}


def to_star(data_type: str, canonical: Mapping[str, Any], *, meta: bool = True) -> dict[str, Any]:
    """Render a canonical record dict as the STAR resource of ``data_type``.

    With ``meta`` the extension properties ``last_updated_date_time`` and ``etag`` are set
    from ``modified_at``/``etag`` (responses); request bodies leave them out.
    """
    render = _TO_STAR.get(data_type)
    out = render(canonical) if render else _generic_to_star(data_type, canonical)
    if meta:
        if canonical.get("modified_at") is not None:
            out[MODIFIED] = _s(canonical["modified_at"])
        if canonical.get("etag"):
            out[ETAG] = canonical["etag"]
    return out


# --------------------------------------------------------------------------- STAR -> canonical


def _customer_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    parties = s.get("party_references")
    party = parties[0] if parties and isinstance(parties[0], dict) else {}
    out: dict[str, Any] = {"dms_id": s.get("customer_key") or s.get("customer_id")}
    out["kind"] = (
        "business" if party.get("org_indicator") is True or party.get("party_type") == "ORGANIZATION" else "person"
    )
    name = party.get("individual_name")
    if name:
        if "given_name" in name:
            out["first_name"] = name["given_name"]
        if "family_name" in name:
            out["last_name"] = name["family_name"]
    if "party_name" in party:
        out["company_name"] = party["party_name"]
    addresses = party.get("address_references")
    if addresses and isinstance(addresses[0], dict):
        address = addresses[0]
        for canonical, star in _ADDRESS:
            if star in address:
                out[canonical] = address[star]
    phones, emails = [], []
    for channel in party.get("communication_channels") or ():
        kind, value = channel.get("communication_channel_type"), channel.get("value")
        if not value:
            continue
        if kind == "EMAIL":
            emails.append(value)
        elif kind in _PHONE_TYPES:
            phones.append(value)
    out["phones"], out["emails"] = phones, emails
    return out


_PHONE_TYPES = frozenset(("PHONE", "CELL", "SMS", "VOICE"))


def _vehicle_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    ident = s.get("vehicle_identifier") or {}
    license_ = ident.get("license") or {}
    out: dict[str, Any] = {
        "dms_id": s.get("service_vehicle_key") or s.get("service_vehicle_id"),
        "vin": ident.get("vin") or "",
        "unit_number": ident.get("fleet_vehicle_key") or "",
        "year": _int(ident.get("model_year")),
        "make": ident.get("primary_make") or "",
        "model": ident.get("primary_model") or "",
        "engine": (ident.get("vehicle_summary") or {}).get("engine") or "",
        "plate": license_.get("plate_number") or "",
        "plate_state": license_.get("jurisdiction_name") or "",
        "mileage": _int((s.get("odometer") or {}).get("value")),
        "owner_dms_id": None,
    }
    for party in (s.get("garage_item_reference") or {}).get("parties") or ():
        if party.get("party_key"):
            out["owner_dms_id"] = party["party_key"]
            break
    return out


def _appointment_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    advisor = _first(s.get("assigned_dealer_staff"))
    opcodes = [
        code.get("code")
        for request in s.get("service_requests") or ()
        for code in request.get("service_codes") or ()
        if code.get("code")
    ]
    narrative = _first(s.get("narratives"))
    return {
        "dms_id": s.get("service_appointment_key") or s.get("service_appointment_id"),
        "customer_dms_id": _first(s.get("customers")).get("customer_key"),
        "vehicle_dms_id": (s.get("vehicle_asset") or {}).get("vehicle_asset_key"),
        "advisor_dms_id": advisor.get("party_key"),
        "scheduled_at": (s.get("appointment_period") or {}).get("start_date_time"),
        "opcodes": opcodes,
        "notes": narrative.get("narrative_desc") or "",
        "status": APPOINTMENT_STATUS_FROM_STAR.get(s.get("appointment_status_type") or "", "scheduled"),
        "dispatch_code": _ident(s.get("identifiers"), "DISPATCH_CODE") or "",
        "locked": bool(s.get("locked_indicator")),
    }


def _repair_order_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    summary = s.get("repair_status_summary") or {}
    period = summary.get("repair_order_duration") or {}
    status_type, stage = summary.get("current_repair_status_type"), summary.get("current_repair_stage_type")
    if stage == "INVOICE":
        status = "invoiced"
    elif status_type in ("CLOSED", "COMPLETED", "VOIDED", "CANCELLED") or stage in ("CLOSED", "VEHICLE_DELIVERED"):
        status = "closed"
    else:
        status = "open"
    mileage = None
    for snapshot in s.get("vehicle_snapshots") or ():
        for state in snapshot.get("vehicle_states") or ():
            if state.get("vehicle_state_name") == "ODOMETER":
                mileage = _int(state.get("value"))
    lines = []
    for item in s.get("repair_order_line_items") or ():
        job = _first(item.get("service_jobs"))
        money = item.get("financial_summary") or {}
        pay_types = item.get("pay_types") or ["CUSTOMER_PAY"]
        lines.append(
            {
                "line_number": _int(item.get("sequential_line_number")) or 0,
                "opcode": _first(job.get("operation_codes")).get("code") or "",
                "description": job.get("operation_name") or "",
                "pay_type": PAY_TYPE_FROM_STAR.get(pay_types[0], "customer"),
                "labor_hours": job.get("job_actual_hours"),
                "labor_amount": (money.get("actual_labor_amount") or {}).get("amount"),
                "parts_amount": (money.get("actual_parts_amount") or {}).get("amount"),
            }
        )
    identifiers = s.get("identifiers")
    return {
        "dms_id": s.get("repair_order_key") or s.get("repair_order_id"),
        "ro_number": _ident(identifiers, "RO_NUMBER") or s.get("repair_order_key"),
        "status": status,
        "opened_at": period.get("start_date_time"),
        "closed_at": period.get("complete_date_time"),
        "advisor_dms_id": _first(s.get("staff_assignments")).get("staff_key"),
        "customer_dms_id": _ident(identifiers, "CUSTOMER_KEY"),
        "vehicle_dms_id": (s.get("vehicle_reference") or {}).get("vehicle_reference_key"),
        "mileage_in": mileage,
        "lines": lines,
        "alternate_of": _ident(identifiers, "ALTERNATE_OF"),
    }


def _opcode_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "dms_id": s.get("labor_operation_key") or s.get("labor_operation_id"),
        "description": s.get("labor_operation_description") or "",
        "labor_hours": s.get("flat_rate_units"),
        "default_pay_type": PAY_TYPE_FROM_STAR.get(s.get("pay_type") or "", "customer"),
        "active": (s.get("effective_period") or {}).get("active_indicator", True) is not False,
    }


_FROM_STAR = {
    CUSTOMERS: _customer_from_star,
    VEHICLES: _vehicle_from_star,
    APPOINTMENTS: _appointment_from_star,
    REPAIR_ORDERS: _repair_order_from_star,
    OPCODES: _opcode_from_star,
}


def from_star(data_type: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """Read a STAR resource of ``data_type`` into a canonical record dict.

    ``modified_at``/``etag`` come from the extension properties; a record without them
    keeps them absent (the record parser then reports it as malformed).
    """
    parse = _FROM_STAR.get(data_type)
    if parse is None:
        out = {k: v for k, v in resource.items() if k not in (MODIFIED, ETAG, RESOURCES[data_type][1])}
        out["dms_id"] = resource.get(RESOURCES[data_type][1])
    else:
        out = parse(resource)
    if MODIFIED in resource:
        out["modified_at"] = resource[MODIFIED]
    if resource.get(ETAG):
        out["etag"] = resource[ETAG]
    return out
