"""Every appointment error of seed 000 can be provoked in the sandbox and carries its fix hint."""

from __future__ import annotations

import uuid

import pytest

from connectors import APPOINTMENTS, ConflictError, DmsValidationError
from connectors.vendors import ALL, get_profile

GOOD = {
    "customer_dms_id": "C0000001",
    "vehicle_dms_id": "V0000001",
    "advisor_dms_id": "ADV01",
    "scheduled_at": "2026-12-02T14:30:00Z",
    "opcodes": ["LOF"],
    "notes": "",
    "dispatch_code": "",
}

# (vendor, code, appointment changes, account options) - one row per seed 000 error.
SEED_ROWS = [
    ("reynolds", "RR-OPCODE-INVALID", {"opcodes": ["OLDLOF"]}, {}),
    ("reynolds", "RR-ADVISOR-INVALID", {"advisor_dms_id": "ADV09"}, {}),  # shared by two advisors
    ("reynolds", "RR-LASTNAME-MISSING", {"customer_dms_id": "C0000007"}, {}),  # business, no company
    ("reynolds", "RR-NO-OPCODE-NOTES", {"opcodes": [], "notes": "  "}, {}),
    ("reynolds", "RR-LOCKED", None, {}),
    ("cdk", "CDK-NO-OPCODE-NOTES", {"opcodes": [], "notes": ""}, {}),
    ("cdk", "CDK-LOCKED", None, {}),
    (
        "cdk",
        "CDK-ADDRESS-EMAIL-REQUIRED",
        {"customer_dms_id": "C0000013"},
        {"require_address": True, "require_email": True},
    ),
    ("cdk", "CDK-DISPATCH-INVALID", {"dispatch_code": "BOGUS"}, {}),
]


def test_catalogues_hold_every_seed_row():
    seed_codes = {code for _, code, _, _ in SEED_ROWS}
    marked = {entry.code for profile in ALL for entry in profile.catalogue.values() if entry.from_seed}
    assert marked == seed_codes
    for profile in ALL:
        for entry in profile.catalogue.values():
            assert entry.code.startswith(profile.code_prefix + "-") and entry.title and entry.fix_hint


@pytest.mark.parametrize("vendor, code, changes, options", SEED_ROWS, ids=[row[1] for row in SEED_ROWS])
def test_seed_error_is_provoked_with_its_hint(vendor, code, changes, options, sandbox, connector_for):
    account = f"write-{vendor}"
    dms = connector_for(account)
    entry = get_profile(vendor).catalogue[code]
    before = sandbox.control.count_created(account).get(APPOINTMENTS, 0)
    if changes is None:  # locked appointment: staff have it open in the DMS
        sandbox.control.lock_appointment(account, "A0000002")
        try:
            current = dms.fetch_one(APPOINTMENTS, "A0000002")
            assert current.locked
            with pytest.raises(ConflictError) as caught:
                dms.update_appointment("A0000002", {"notes": "moved by portal"}, etag=current.etag)
            assert caught.value.locked
            with pytest.raises(ConflictError):
                dms.cancel_appointment("A0000002")
        finally:
            sandbox.control.unlock_appointment(account, "A0000002")
    else:
        if options:
            sandbox.control.configure(account, **options)
        try:
            with pytest.raises(DmsValidationError) as caught:
                dms.create_appointment({**GOOD, **changes}, str(uuid.uuid4()))
        finally:
            if options:
                sandbox.control.configure(account, **{name: False for name in options})
        assert sandbox.control.count_created(account).get(APPOINTMENTS, 0) == before
    error = caught.value
    assert error.vendor_code == code
    assert error.entry == entry and error.entry.from_seed
    assert error.fix_hint == entry.fix_hint and error.title == entry.title


@pytest.mark.parametrize("vendor", ["reynolds", "cdk"])
def test_a_valid_appointment_is_accepted(vendor, sandbox, connector_for):
    dms = connector_for(f"write-{vendor}")
    created = dms.create_appointment({**GOOD, "dispatch_code": "WAIT" if vendor == "cdk" else ""}, str(uuid.uuid4()))
    assert created.opcodes == ("LOF",) and created.advisor_dms_id == "ADV01"


def test_incorrect_advisor_id_also_provoked_for_unknown_id(connector_for):
    dms = connector_for("write-reynolds")
    with pytest.raises(DmsValidationError) as caught:
        dms.create_appointment({**GOOD, "advisor_dms_id": "NOBODY"}, str(uuid.uuid4()))
    assert caught.value.vendor_code == "RR-ADVISOR-INVALID"


def test_missing_advisor_id_is_its_own_error(connector_for):
    dms = connector_for("write-dealertrack")
    with pytest.raises(DmsValidationError) as caught:
        dms.create_appointment({**GOOD, "advisor_dms_id": ""}, str(uuid.uuid4()))
    assert caught.value.vendor_code == "DT-ADVISOR-MISSING" and "DMS ID" in caught.value.fix_hint
