"""The portal's customers, assets and appointments in the DMS's canonical shape: the one mapping.

Whatever the console sends a DMS about a portal record (a push, an "export as new", the
customer a pre-flight check of the vendor's appointment rules looks at) is built here, so
every caller sends the same fields under the same canonical names (those of
:mod:`connectors.records`; each protocol renders them on its wire).

The functions read attributes only, so this package still imports nothing from ``webapp``
or ``jobs``:

=================================================  =========================================
portal attribute                                   canonical field
=================================================  =========================================
``Customer.is_business``                           ``kind`` (``business`` / ``person``)
``Customer.phone``, ``Customer.mobile_phone``      ``phones``, in that order (blanks left out)
``Customer.email``                                 ``emails`` (left empty when blank)
``Asset.engine_type``                              ``engine``
``Asset.license_plate``                            ``plate``
``Appointment.advisor.advisor_dms_id``             ``advisor_dms_id``
any other attribute in the tables below            the field of the same name
=================================================  =========================================
"""

from __future__ import annotations

from typing import Any

#: Portal customer attribute -> canonical customer field (``is_business`` gives ``kind``).
CUSTOMER_FIELD_OF: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "company_name": "company_name",
    "phone": "phones",
    "mobile_phone": "phones",
    "email": "emails",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "country": "country",
}
#: Portal asset attribute -> canonical vehicle field (the owner's DMS id is given separately).
VEHICLE_FIELD_OF: dict[str, str] = {
    "vin": "vin",
    "unit_number": "unit_number",
    "year": "year",
    "make": "make",
    "model": "model",
    "engine_type": "engine",
    "license_plate": "plate",
    "mileage": "mileage",
}
#: Canonical fields holding a list, filled from several portal attributes in table order.
LIST_FIELDS = frozenset({"phones", "emails"})
#: Canonical fields holding a number: a blank one is sent as None, not as "".
NUMBER_FIELDS = frozenset({"year", "mileage"})


def _fields(record: Any, field_of: dict[str, str]) -> dict[str, Any]:
    """The canonical fields of ``record`` by ``field_of``: lists collect their non-blank values,
    numbers stay None when blank, text is "" when blank."""
    fields: dict[str, Any] = {name: [] for name in set(field_of.values()) & LIST_FIELDS}
    for attr, name in field_of.items():
        value = getattr(record, attr)
        if name in LIST_FIELDS:
            if value:
                fields[name].append(value)
        elif name in NUMBER_FIELDS:
            fields[name] = value
        else:
            fields[name] = value or ""
    return fields


def customer_fields(customer: Any) -> dict[str, Any]:
    """A portal customer as the DMS's canonical customer fields (every field the portal has)."""
    return {"kind": "business" if customer.is_business else "person", **_fields(customer, CUSTOMER_FIELD_OF)}


def vehicle_fields(asset: Any, owner_dms_id: str | None) -> dict[str, Any]:
    """A portal asset as the DMS's canonical vehicle fields, owned by DMS customer ``owner_dms_id``."""
    return {**_fields(asset, VEHICLE_FIELD_OF), "owner_dms_id": owner_dms_id}


def appointment_fields(appointment: Any) -> dict[str, Any]:
    """What the DMS gets for a portal appointment as it is now: advisor, time, opcodes, notes,
    dispatch code (its customer's and vehicle's DMS ids are added by the push)."""
    advisor = appointment.advisor
    return {
        "advisor_dms_id": advisor.advisor_dms_id if advisor else None,
        "scheduled_at": appointment.scheduled_at,
        "opcodes": list(appointment.opcodes or []),
        "notes": appointment.notes or "",
        "dispatch_code": appointment.dispatch_code or "",
    }
