"""The one portal -> DMS field mapping (connectors.portal_fields): canonical names only, and what a
DMS gets from it over each wire protocol is what the portal record holds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from connectors.portal_fields import appointment_fields, customer_fields, vehicle_fields
from connectors.records import APPOINTMENTS, CUSTOMERS, KINDS, VEHICLES, record_from_dict
from tests.connectors.conftest import PROTOCOLS


def portal_customer(**values):
    """A portal customer as the mapping reads it (attributes only)."""
    base = {
        "is_business": False,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company_name": None,
        "phone": None,
        "mobile_phone": "2175550142",
        "email": "ada@example.com",
        "address_line1": "1 Analytical Way",
        "address_line2": None,
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
        "country": "US",
    }
    return SimpleNamespace(**{**base, **values})


def portal_asset(**values):
    """A portal asset as the mapping reads it."""
    base = {
        "vin": "1FTFW1E50PFA00001",
        "unit_number": "U77",
        "year": 2021,
        "make": "Ford",
        "model": "F-150",
        "engine_type": "3.5L V6",
        "license_plate": "ADA1",
        "mileage": None,
    }
    return SimpleNamespace(**{**base, **values})


def test_the_mapping_speaks_canonical_field_names_only():
    appointment = SimpleNamespace(
        advisor=None, scheduled_at=datetime(2026, 12, 1, 15, tzinfo=UTC), opcodes=None, notes=None, dispatch_code=None
    )
    for data_type, fields in (
        (CUSTOMERS, customer_fields(portal_customer())),
        (VEHICLES, vehicle_fields(portal_asset(), "C0000001")),
        (APPOINTMENTS, appointment_fields(appointment)),
    ):
        assert set(fields) <= set(KINDS[data_type].fields), data_type
        record_from_dict(data_type, {**fields, "dms_id": "X1", "modified_at": "2026-01-01T00:00:00Z"})
    assert set(customer_fields(portal_customer())) == set(KINDS[CUSTOMERS].fields)


def test_blank_portal_values_and_renamed_attributes():
    fields = customer_fields(portal_customer(is_business=True, company_name="Acme", email=""))
    # a blank phone is left out (the mobile becomes the first phone), a blank e-mail gives no e-mail
    assert fields["kind"] == "business" and fields["phones"] == ["2175550142"] and fields["emails"] == []
    assert fields["address_line2"] == ""
    vehicle = vehicle_fields(portal_asset(year=None), None)
    assert vehicle["engine"] == "3.5L V6" and vehicle["plate"] == "ADA1"
    assert vehicle["year"] is None and vehicle["mileage"] is None and vehicle["owner_dms_id"] is None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_what_the_dms_gets_is_what_the_portal_holds(writer):
    dms = writer.dms
    key = uuid.uuid4().hex
    customer = dms.create_customer(customer_fields(portal_customer()), f"{key}:customer", for_appointment=True)
    assert (customer.first_name, customer.last_name, customer.phones, customer.emails) == (
        "Ada",
        "Lovelace",
        ("2175550142",),
        ("ada@example.com",),
    )
    assert (customer.city, customer.state, customer.postal_code) == ("Austin", "TX", "78701")
    vehicle = dms.create_vehicle(
        vehicle_fields(portal_asset(), customer.dms_id), f"{key}:vehicle", for_appointment=True
    )
    assert (vehicle.vin, vehicle.engine, vehicle.plate, vehicle.year, vehicle.owner_dms_id) == (
        "1FTFW1E50PFA00001",
        "3.5L V6",
        "ADA1",
        2021,
        customer.dms_id,
    )
    booked = SimpleNamespace(
        advisor=SimpleNamespace(advisor_dms_id="ADV02"),
        scheduled_at=datetime(2026, 12, 1, 15, tzinfo=UTC),
        opcodes=["LOF"],
        notes=None,
        dispatch_code=None,
    )
    appointment = dms.create_appointment(
        {"customer_dms_id": customer.dms_id, "vehicle_dms_id": vehicle.dms_id, **appointment_fields(booked)}, key
    )
    assert (appointment.advisor_dms_id, appointment.opcodes, appointment.scheduled_at) == (
        "ADV02",
        ("LOF",),
        booked.scheduled_at,
    )
