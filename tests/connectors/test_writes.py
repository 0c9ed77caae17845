"""Pushes: idempotent creates, If-Match conflicts, capabilities, lookups."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from connectors import (CUSTOMERS, VEHICLES, ConflictError, DmsValidationError, NotSupportedError)
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT, VENDOR_CODES, get_profile

NEW_CUSTOMER = {"kind": "person", "first_name": "Ada", "last_name": "Lovelace", "phones": ["(555) 010-0199"],
                "emails": ["ada@example.com"], "address_line1": "1 Analytical Way", "city": "Austin",
                "state": "TX", "postal_code": "78701", "country": "US"}


def key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


@pytest.mark.parametrize("vendor", VENDOR_CODES)
def test_idempotency_key_replay_creates_nothing(vendor, sandbox, connector_for):
    code = f"write-{vendor}"
    dms = connector_for(code)
    mode = get_profile(vendor).push_mode(CUSTOMERS)
    if mode == PUSH_NOT_AVAILABLE:
        with pytest.raises(NotSupportedError):
            dms.create_customer(NEW_CUSTOMER, key())
        return
    extra = {"for_appointment": True} if mode == PUSH_WITH_APPOINTMENT else {}
    before = sandbox.control.count_created(code).get(CUSTOMERS, 0)
    same_key = key()
    first = dms.create_customer(NEW_CUSTOMER, same_key, **extra)
    replay = dms.create_customer(NEW_CUSTOMER, same_key, **extra)
    assert replay.dms_id == first.dms_id and replay.etag == first.etag
    assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1
    assert dms.fetch_one(CUSTOMERS, first.dms_id).last_name == "Lovelace"
    # the same key with different content is refused, not silently replayed
    with pytest.raises(DmsValidationError) as caught:
        dms.create_customer({**NEW_CUSTOMER, "last_name": "Byron"}, same_key, **extra)
    assert caught.value.vendor_code.endswith("IDEMPOTENCY-MISMATCH")
    assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1


def test_reynolds_takes_customers_only_with_an_appointment(connector_for):
    dms = connector_for("write-reynolds")
    with pytest.raises(NotSupportedError) as caught:
        dms.create_customer(NEW_CUSTOMER, key())
    assert caught.value.vendor_code == "RR-PUSH-NEEDS-APPOINTMENT"
    assert "appointment" in caught.value.fix_hint


def test_appointment_create_replay_and_cancel(sandbox, connector_for):
    dms = connector_for("write-cdk")
    before = sandbox.control.count_created("write-cdk").get("appointments", 0)
    fields = {"customer_dms_id": "C0000001", "vehicle_dms_id": "V0000001", "advisor_dms_id": "ADV02",
              "scheduled_at": "2026-12-01T15:00:00Z", "opcodes": ["LOF", "ROT"], "notes": "", "dispatch_code": "WAIT"}
    same_key = key()
    created = dms.create_appointment(fields, same_key)
    assert dms.create_appointment(fields, same_key).dms_id == created.dms_id
    assert sandbox.control.count_created("write-cdk")["appointments"] == before + 1
    cancelled = dms.cancel_appointment(created.dms_id, created.etag)
    assert cancelled.status == "cancelled" and cancelled.etag != created.etag


@pytest.mark.parametrize("vendor", ["cdk", "pbs", "karmak", "dealertrack", "tekion"])
def test_if_match_conflict_is_detected(vendor, sandbox, connector_for):
    code = f"write-{vendor}"
    dms = connector_for(code)
    customer = dms.fetch_one(CUSTOMERS, "C0000003")
    sandbox.control.edit_record(code, CUSTOMERS, "C0000003", {"first_name": "Changed-in-DMS"})
    with pytest.raises(ConflictError) as caught:
        dms.update_customer("C0000003", {"city": "Portal City"}, etag=customer.etag)
    assert not caught.value.locked and caught.value.status == 412 and caught.value.fix_hint
    assert sandbox.control.get_record(code, CUSTOMERS, "C0000003")["city"] != "Portal City"
    fresh = dms.fetch_one(CUSTOMERS, "C0000003")
    updated = dms.update_customer("C0000003", {"city": "Portal City"}, etag=fresh.etag)
    assert updated.city == "Portal City" and updated.first_name == "Changed-in-DMS"
    assert updated.etag != fresh.etag


def test_vehicle_update_conflict_and_writable_fields(sandbox, connector_for):
    dms = connector_for("write-pbs")
    vehicle = dms.fetch_one(VEHICLES, "V0000004")
    with pytest.raises(NotSupportedError) as caught:
        dms.update_vehicle("V0000004", {"vin": "1FTFW1E50PFA00000"}, etag=vehicle.etag)
    assert caught.value.vendor_code == "PBS-FIELD-NOT-WRITABLE"
    updated = dms.update_vehicle("V0000004", {"mileage": 123456, "plate": "NEW123"}, etag=vehicle.etag)
    assert updated.mileage == 123456
    with pytest.raises(ConflictError):
        dms.update_vehicle("V0000004", {"plate": "OLD999"}, etag=vehicle.etag)


def test_reserve_ro_number_replay_returns_same_number(sandbox, connector_for):
    dms = connector_for("write-cdk")
    same_key = key()
    number = dms.reserve_ro_number(same_key)
    assert dms.reserve_ro_number(same_key) == number
    assert dms.reserve_ro_number(key()) != number
    assert sandbox.control.count_created("write-cdk")["ro_reservations"] == 2


def test_export_payment_is_idempotent(sandbox, connector_for):
    dms = connector_for("write-reynolds")
    receipt = {"ro_number": "100003", "amount": Decimal("1000.00"), "method": "card", "payer": "insurance"}
    same_key = key()
    posted = dms.export_payment(receipt, same_key)
    assert dms.export_payment(receipt, same_key).dms_id == posted.dms_id
    assert posted.amount == Decimal("1000.00") and posted.status == "posted"
    assert sandbox.control.count_created("write-reynolds")["payments"] == 1
    with pytest.raises(DmsValidationError) as caught:
        dms.export_payment({"ro_number": "100003", "amount": "0"}, key())
    assert caught.value.vendor_code == "RR-PAYMENT-INVALID"


@pytest.mark.parametrize("vendor", VENDOR_CODES)
def test_capabilities_absent_are_not_supported(vendor, connector_for):
    dms = connector_for(f"write-{vendor}")
    profile = get_profile(vendor)
    checks = [(profile.payment_export, lambda: dms.export_payment({"ro_number": "100001", "amount": "5"}, key())),
              (profile.ro_number_reservation, lambda: dms.reserve_ro_number(key())),
              (profile.related_ros, lambda: dms.related_ro_numbers("100005"))]
    for supported, call in checks:
        if supported:
            call()
        else:
            with pytest.raises(NotSupportedError):
                call()


def test_karmak_related_ro_numbers(connector_for):
    dms = connector_for("contract-karmak")
    assert dms.related_ro_numbers("100005") == ["100004"]  # an alternate RO finds its original
    assert dms.related_ro_numbers("100004") == ["100005"]  # and the original finds its open alternate
    assert dms.fetch_one("repair_orders", "100005").status == "open"


def test_dms_tab_search(connector_for, sandbox):
    dms = connector_for("write-karmak")
    customer = dms.fetch_one(CUSTOMERS, "C0000002")
    digits = "".join(ch for ch in customer.phones[0] if ch.isdigit())[-10:]
    other_format = f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"
    assert "C0000002" in {c.dms_id for c in dms.search_customers(other_format)}
    assert "C0000002" in {c.dms_id for c in dms.search_customers(customer.last_name, limit=200)}
    assert [c.dms_id for c in dms.search_customers("c0000002")] == ["C0000002"]
    vehicle = dms.fetch_one(VEHICLES, "V0000005")
    assert "V0000005" in {v.dms_id for v in dms.search_vehicles(vehicle.vin[-6:])}
    assert "V0000005" in {v.dms_id for v in dms.search_vehicles(vehicle.plate)}
    if vehicle.unit_number:
        assert "V0000005" in {v.dms_id for v in dms.search_vehicles(vehicle.unit_number)}
    assert dms.search_customers("   ") == []


def test_search_sees_staff_edits(sandbox, connector_for):
    dms = connector_for("write-dealerbuilt")
    sandbox.control.edit_record("write-dealerbuilt", CUSTOMERS, "C0000020", {"phones": ["+1 (402) 555-0147"]})
    assert [c.dms_id for c in dms.search_customers("402-555-0147")] == ["C0000020"]
