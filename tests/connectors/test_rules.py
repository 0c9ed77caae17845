"""Vendor profiles: cadences as in DESIGN.md §5 and the validation rules as pure functions."""

from __future__ import annotations

import pytest

from connectors.vendors import ALL, VENDOR_CODES, get_profile

CADENCE = {  # DESIGN.md §5 / seed 000, as labels
    "reynolds": ("Auto", "Comes with RO", "Auto", "Auto", "Auto", "Auto", "—"),
    "cdk": (
        "Every 15 mins",
        "Comes with RO",
        "Every 15 mins",
        "Every 3 mins",
        "Every 15 mins",
        "Every 5 mins",
        "Nightly",
    ),
    "dealertrack": ("Every 5 mins", "On demand", "Every 15 mins", "Every 2 mins", "Every 5 mins", "—", "Nightly"),
    "dealerbuilt": ("Every 5 mins", "Comes with RO", "Every 5 mins", "Every 2 mins", "Every 5 mins", "—", "Nightly"),
    "automate": ("Auto", "Comes with RO", "—", "Auto", "—", "—", "—"),
}
TYPES = ("customers", "vehicles", "appointments", "repair_orders", "parts_invoices", "special_orders", "opcodes")


def test_all_eight_vendors():
    assert [p.code for p in ALL] == list(VENDOR_CODES) and len(ALL) == 8
    with pytest.raises(KeyError):
        get_profile("nope")


@pytest.mark.parametrize("vendor", CADENCE)
def test_cadence_table(vendor):
    profile = get_profile(vendor)
    assert tuple(profile.pull_mode(t).label for t in TYPES) == CADENCE[vendor]


def test_push_and_file_facts():
    assert get_profile("reynolds").push_mode("customers") == "with_appointment"
    assert get_profile("cdk").appointment_push_minutes == 15
    assert get_profile("dealerbuilt").push_mode("repair_orders") == "on_demand"
    assert {p.code for p in ALL if p.daily_data_file} == {"pbs", "cdk", "reynolds", "tekion"}
    assert [p.code for p in ALL if p.related_ros] == ["karmak"]
    assert get_profile("dealertrack").historical_customers.kind == "on_demand"
    assert all(
        p.pull_mode(t).kind in {"minutes", "nightly", "dms_push", "on_demand", "with_ro", "not_available"}
        for p in ALL
        for t in TYPES
    )


def codes(entries):
    return [e.code for e in entries]


def test_reynolds_business_customer_needs_company_name():
    reynolds = get_profile("reynolds")
    business = {"kind": "business", "last_name": "Smith", "company_name": ""}
    assert codes(reynolds.validate_customer(business)) == ["RR-LASTNAME-MISSING"]
    assert reynolds.validate_customer({**business, "company_name": "Smith Hauling"}) == []
    # CDK does not have that rule
    assert get_profile("cdk").validate_customer(business) == []


def test_person_needs_last_name_everywhere():
    with_rules = [profile for profile in ALL if profile.customer_rules]
    assert with_rules
    for profile in with_rules:
        assert codes(profile.validate_customer({"kind": "person", "first_name": "Al", "last_name": " "})) == [
            profile.code_for("REQUIRED-FIELD")
        ]


@pytest.mark.parametrize("vendor", ["reynolds", "cdk"])
def test_appointment_needs_opcode_or_notes(vendor):
    profile = get_profile(vendor)
    base = {"advisor_dms_id": "ADV01", "opcodes": [], "notes": ""}
    assert codes(profile.validate_appointment(base)) == [profile.code_for("NO-OPCODE-NOTES")]
    assert profile.validate_appointment({**base, "opcodes": ["LOF"]}) == []
    assert profile.validate_appointment({**base, "notes": "rattle"}) == []
    assert profile.validate_appointment({**base, "opcodes": [" "], "notes": None}) != []


def test_other_vendors_accept_appointment_without_opcode_or_notes():
    assert get_profile("dealertrack").validate_appointment({"advisor_dms_id": "A1", "opcodes": []}) == []


def test_advisor_dms_id_missing():
    with_rules = [profile for profile in ALL if profile.appointment_rules]
    assert with_rules
    for profile in with_rules:
        found = codes(profile.validate_appointment({"advisor_dms_id": None, "notes": "x"}))
        assert profile.code_for("ADVISOR-MISSING") in found


def test_cdk_address_and_email_requirement_is_a_location_option():
    cdk = get_profile("cdk")
    appointment = {"advisor_dms_id": "ADV01", "opcodes": ["LOF"]}
    bare = {"kind": "person", "last_name": "Doe", "address_line1": "", "postal_code": "", "emails": []}
    assert cdk.validate_appointment(appointment, bare) == []  # default: CDK setting off
    assert codes(cdk.validate_appointment(appointment, bare, {"require_address": True})) == [
        "CDK-ADDRESS-EMAIL-REQUIRED"
    ]
    with_address = {**bare, "address_line1": "1 Main St", "postal_code": "78701"}
    assert cdk.validate_appointment(appointment, with_address, {"require_address": True}) == []
    assert codes(cdk.validate_appointment(appointment, with_address, {"require_email": True})) == [
        "CDK-ADDRESS-EMAIL-REQUIRED"
    ]
    assert (
        cdk.validate_appointment(
            appointment, {**with_address, "emails": ["a@b.c"]}, {"require_address": True, "require_email": True}
        )
        == []
    )


def test_unknown_code_gets_a_generic_entry_naming_it():
    entry = get_profile("pbs").entry("PBS-E999")
    assert entry.code == "PBS-E999" and "PBS-E999" in entry.title and entry.fix_hint
