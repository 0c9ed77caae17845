"""Pushes: idempotent creates, If-Match conflicts, locks, capabilities, lookups.

The write contract (replayed keys, ETag conflicts, locked appointments, refused fields,
reservations, payments) runs once per wire protocol (``[console]``, ``[star]``,
``[opentrack]``; see ``conftest.py``). What a vendor takes (push modes, writable fields,
exports) runs per vendor on its default protocol.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from connectors import (
    APPOINTMENTS,
    CUSTOMERS,
    VEHICLES,
    ConflictError,
    DmsValidationError,
    NotSupportedError,
    TransientDmsError,
)
from connectors.protocols import CONSOLE, OPENTRACK, STAR
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT, get_profile
from tests.connectors.conftest import PROTOCOLS, VENDOR_DEFAULTS
from tests.waiting import wait_for

NEW_CUSTOMER = {
    "kind": "person",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phones": ["(555) 010-0199"],
    "emails": ["ada@example.com"],
    "address_line1": "1 Analytical Way",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
    "country": "US",
}
APPOINTMENT = {
    "customer_dms_id": "C0000001",
    "vehicle_dms_id": "V0000001",
    "advisor_dms_id": "ADV02",
    "scheduled_at": "2026-12-01T15:00:00Z",
    "opcodes": ["LOF", "ROT"],
    "notes": "",
    "dispatch_code": "WAIT",
}

per_protocol = pytest.mark.parametrize("protocol", PROTOCOLS)

#: protocol -> (data type, a field the protocol's vendor refuses on write-back). CDK (console and STAR)
#: takes no VIN; Dealertrack takes every vehicle field, so its refused field is a customer's kind.
REFUSED_FIELD = {
    CONSOLE: (VEHICLES, {"vin": "1FTFW1E50PFA00000"}),
    STAR: (VEHICLES, {"vin": "1FTFW1E50PFA00000"}),
    OPENTRACK: (CUSTOMERS, {"kind": "business"}),
}


def key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def vehicle_extra(vendor: str) -> dict:
    """``for_appointment=True`` where the vendor takes vehicle changes only with an appointment (CDK, Dealertrack)."""
    return {"for_appointment": True} if get_profile(vendor).push_mode(VEHICLES) == PUSH_WITH_APPOINTMENT else {}


# --------------------------------------------------------------------------- the write contract, per protocol


@per_protocol
def test_idempotency_key_replay_creates_nothing(writer, sandbox):
    code, dms = writer.code, writer.dms
    before = sandbox.control.count_created(code).get(CUSTOMERS, 0)
    same_key = key()
    first = dms.create_customer(NEW_CUSTOMER, same_key)
    replay = dms.create_customer(NEW_CUSTOMER, same_key)
    assert replay.dms_id == first.dms_id and replay.etag == first.etag
    assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1
    assert dms.fetch_one(CUSTOMERS, first.dms_id).last_name == "Lovelace"
    # the same key with different content is refused, not silently replayed
    with pytest.raises(DmsValidationError) as caught:
        dms.create_customer({**NEW_CUSTOMER, "last_name": "Byron"}, same_key)
    assert caught.value.vendor_code == f"{writer.prefix}-IDEMPOTENCY-MISMATCH"
    assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1


@per_protocol
def test_a_create_retried_after_a_lost_answer_yields_one_record(writer, sandbox):
    code, dms = writer.code, writer.dms
    before = sandbox.control.count_created(code).get(CUSTOMERS, 0)
    same_key = key()
    sandbox.control.inject_fault("hang", account=code, hang_seconds=0.8)  # the DMS works on, the answer is lost
    with pytest.raises(TransientDmsError):
        dms.create_customer(NEW_CUSTOMER, same_key, timeout=0.2)
    wait_for(lambda: sandbox.control.count_created(code).get(CUSTOMERS, 0) == before + 1, what="the held create")
    created = dms.create_customer(NEW_CUSTOMER, same_key)  # the job's retry, with the same key
    assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1
    assert created.last_name == "Lovelace" and created.postal_code == "78701"


@per_protocol
def test_appointment_create_replay_lock_and_cancel(writer, sandbox):
    code, dms = writer.code, writer.dms
    before = sandbox.control.count_created(code).get(APPOINTMENTS, 0)
    same_key = key()
    created = dms.create_appointment(APPOINTMENT, same_key)
    assert dms.create_appointment(APPOINTMENT, same_key).dms_id == created.dms_id
    assert sandbox.control.count_created(code)[APPOINTMENTS] == before + 1
    cancelled = dms.cancel_appointment(created.dms_id, created.etag)
    assert cancelled.status == "cancelled" and cancelled.etag != created.etag
    # an appointment open on a DMS screen is locked: a conflict that says so, and nothing changes
    appointment = dms.fetch_one(APPOINTMENTS, "A0000003")
    sandbox.control.lock_appointment(code, "A0000003")
    try:
        with pytest.raises(ConflictError) as caught:
            dms.update_appointment("A0000003", {"notes": "from the portal"}, etag=appointment.etag)
        assert caught.value.locked and caught.value.status == 409 and caught.value.fix_hint
        assert caught.value.vendor_code == f"{writer.prefix}-LOCKED"
        assert sandbox.control.get_record(code, APPOINTMENTS, "A0000003")["notes"] != "from the portal"
    finally:
        sandbox.control.unlock_appointment(code, "A0000003")


@per_protocol
def test_if_match_conflict_is_detected(writer, sandbox):
    code, dms = writer.code, writer.dms
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


@per_protocol
def test_vehicle_update_conflict_and_writable_fields(protocol, writer, sandbox):
    dms, extra = writer.dms, vehicle_extra(writer.vendor)
    data_type, refused = REFUSED_FIELD[protocol]
    dms_id = "V0000004" if data_type == VEHICLES else "C0000004"
    update = dms.update_vehicle if data_type == VEHICLES else dms.update_customer
    record = dms.fetch_one(data_type, dms_id)
    with pytest.raises(NotSupportedError) as caught:
        update(dms_id, refused, etag=record.etag, **(extra if data_type == VEHICLES else {}))
    assert caught.value.vendor_code == f"{writer.prefix}-FIELD-NOT-WRITABLE" and caught.value.fix_hint
    stored = sandbox.control.get_record(writer.code, data_type, dms_id)
    assert all(stored[name] == getattr(record, name) for name in refused)  # refused before anything was sent
    vehicle = dms.fetch_one(VEHICLES, "V0000004")
    updated = dms.update_vehicle("V0000004", {"mileage": 123456, "plate": "NEW123"}, etag=vehicle.etag, **extra)
    assert updated.mileage == 123456 and updated.plate == "NEW123"
    with pytest.raises(ConflictError):
        dms.update_vehicle("V0000004", {"plate": "OLD999"}, etag=vehicle.etag, **extra)


@per_protocol
def test_reserve_ro_number_replay_returns_same_number(writer, sandbox):
    code, dms = writer.code, writer.dms
    before = sandbox.control.count_created(code).get("ro_reservations", 0)
    same_key = key()
    number = dms.reserve_ro_number(same_key)
    assert dms.reserve_ro_number(same_key) == number
    assert dms.reserve_ro_number(key()) != number
    assert sandbox.control.count_created(code)["ro_reservations"] == before + 2


@per_protocol
def test_export_payment_is_idempotent(writer, sandbox):
    code, dms = writer.code, writer.dms
    before = sandbox.control.count_created(code).get("payments", 0)
    receipt = {"ro_number": "100003", "amount": Decimal("1000.00"), "method": "card", "payer": "insurance"}
    same_key = key()
    posted = dms.export_payment(receipt, same_key)
    assert dms.export_payment(receipt, same_key).dms_id == posted.dms_id
    assert posted.amount == Decimal("1000.00") and posted.status == "posted"
    assert sandbox.control.count_created(code)["payments"] == before + 1
    with pytest.raises(DmsValidationError) as caught:
        dms.export_payment({"ro_number": "100003", "amount": "0"}, key())
    assert caught.value.vendor_code == f"{writer.prefix}-PAYMENT-INVALID"


# --------------------------------------------------------------------------- what each vendor takes


def test_reynolds_takes_customers_only_with_an_appointment(connector_for):
    dms = connector_for("write-reynolds")
    with pytest.raises(NotSupportedError) as caught:
        dms.create_customer(NEW_CUSTOMER, key())
    assert caught.value.vendor_code == "RR-PUSH-NEEDS-APPOINTMENT"
    assert "appointment" in caught.value.fix_hint


@pytest.mark.parametrize("vendor", VENDOR_DEFAULTS)
def test_capabilities_absent_are_not_supported(vendor, sandbox, connector_for):
    """Exports, customer/vehicle push modes and write-back fields: refused exactly where the profile says."""
    code = f"write-{vendor}"
    dms = connector_for(code)
    profile = get_profile(vendor)
    checks = [
        (profile.payment_export, lambda: dms.export_payment({"ro_number": "100001", "amount": "5"}, key())),
        (profile.ro_number_reservation, lambda: dms.reserve_ro_number(key())),
        (profile.related_ros, lambda: dms.related_ro_numbers("100005")),
    ]
    for supported, call in checks:
        if supported:
            call()
        else:
            with pytest.raises(NotSupportedError):
                call()
    # customers: refused, taken only with an appointment, or taken - and then a replayed key creates one record
    mode = profile.push_mode(CUSTOMERS)
    if mode == PUSH_NOT_AVAILABLE:
        with pytest.raises(NotSupportedError):
            dms.create_customer(NEW_CUSTOMER, key())
    else:
        if mode == PUSH_WITH_APPOINTMENT:
            with pytest.raises(NotSupportedError):
                dms.create_customer(NEW_CUSTOMER, key())
        extra = {"for_appointment": True} if mode == PUSH_WITH_APPOINTMENT else {}
        before = sandbox.control.count_created(code).get(CUSTOMERS, 0)
        same_key = key()
        first = dms.create_customer(NEW_CUSTOMER, same_key, **extra)
        assert dms.create_customer(NEW_CUSTOMER, same_key, **extra).dms_id == first.dms_id
        assert sandbox.control.count_created(code)[CUSTOMERS] == before + 1
    # vehicles: refused outright, or without an appointment
    if profile.push_mode(VEHICLES) in (PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT):
        with pytest.raises(NotSupportedError):
            dms.update_vehicle("V0000004", {"mileage": 1})
    # write-back refuses the fields the vendor does not take, before any request
    for data_type, update, fields in (
        (CUSTOMERS, dms.update_customer, {"kind": "business"}),
        (VEHICLES, dms.update_vehicle, {"vin": "1FTFW1E50PFA00000"}),
    ):
        if profile.push_mode(data_type) == PUSH_NOT_AVAILABLE:
            continue
        writable = profile.writable_customer_fields if data_type == CUSTOMERS else profile.writable_vehicle_fields
        extra = {"for_appointment": True} if profile.push_mode(data_type) == PUSH_WITH_APPOINTMENT else {}
        if set(fields) <= writable:
            continue
        with pytest.raises(NotSupportedError) as caught:
            update("X-NOT-SENT", fields, etag="*", **extra)
        assert caught.value.vendor_code == profile.code_for("FIELD-NOT-WRITABLE"), data_type


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
